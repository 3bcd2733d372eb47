"""All-or-nothing output folders and strict JSON: every result folder qfin writes (backtests, sweeps, OPE runs,
hedging experiments) is staged and renamed into place only when complete."""

from __future__ import annotations

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
        if out_dir.exists():
            shutil.rmtree(out_dir)
        os.replace(staging, out_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


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
