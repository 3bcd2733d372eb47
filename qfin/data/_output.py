"""All-or-nothing output folders and strict JSON: every result folder qfin writes (backtests, sweeps, OPE runs,
hedging experiments) is staged and renamed into place only when complete."""

from __future__ import annotations

import ctypes
import json
import math
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from qfin.errors import QfinError

__all__ = ["staged_output", "strict_json"]


@contextmanager
def staged_output(out_dir: str | Path, marker: str) -> Iterator[Path]:
    """Yield a temporary sibling folder to write into; it replaces ``out_dir`` only if the block completes.

    An existing ``out_dir`` is replaced only when it is empty or holds ``marker`` (an earlier run of the same kind),
    so a typo in ``--out`` never deletes a user's folder. On any error the staging folder is removed.
    """
    out_dir = Path(out_dir)
    if out_dir.exists() and any(out_dir.iterdir()) and not (out_dir / marker).exists():
        raise QfinError(f"{out_dir} exists and is not a qfin output (no {marker}); choose another --out")
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    try:
        yield staging
        staging.chmod(0o755)  # mkdtemp makes it private; the result is an ordinary folder
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    _swap_in(staging, out_dir)


def _swap_in(staging: Path, out_dir: Path) -> None:
    """Put the complete ``staging`` folder at ``out_dir``, then delete what was there before.

    A new ``out_dir`` is one rename. An existing one is swapped with a single atomic exchange (Linux
    ``renameat2(RENAME_EXCHANGE)``), so at every instant ``out_dir`` holds either the old results or the new
    ones; where the exchange is not available the old folder is first renamed aside, leaving a short window in
    which ``out_dir`` is absent but both versions sit beside it. Only then is the old version deleted.
    """
    if not out_dir.exists():
        os.replace(staging, out_dir)
        return
    if _exchange(staging, out_dir):
        old = staging  # the exchange left the previous results at the staging name
    else:
        old = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.old.", dir=out_dir.parent))
        os.replace(out_dir, old)
        os.replace(staging, out_dir)
    shutil.rmtree(old, ignore_errors=True)


_AT_FDCWD = -100
_RENAME_EXCHANGE = 2


def _exchange(a: Path, b: Path) -> bool:
    """Atomically exchange two existing paths; False where the OS or filesystem cannot (nothing moved then)."""
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        return False
    return renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0


def strict_json(value: Any) -> str:
    """JSON text with NaN and infinities written as null (Python's json would write NaN, which is not JSON)."""
    return json.dumps(_finite(value), indent=2, allow_nan=False)


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(item) for item in value]
    return value
