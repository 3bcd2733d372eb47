"""Memory estimates before large allocations, refused above one configurable limit (layer 0).

Grids, DP state spaces, OPE ground truth, quantile counts and sweeps estimate what they are about to allocate
and call :func:`check_memory` first, so a size that cannot fit ends in one line naming both numbers instead of a
MemoryError traceback, or the kernel's OOM killer, hours in. The limit is ``QFIN_MEMORY_LIMIT_GB`` (GiB) when
set, else 80% of the machine's physical memory (what is left is the OS's and the rest of the process's).
"""

from __future__ import annotations

import math
import os

from qfin.errors import MemoryLimitError, SpecError

__all__ = ["GIB", "check_memory", "memory_limit_bytes"]

GIB = 2.0 ** 30
_ENV = "QFIN_MEMORY_LIMIT_GB"
_DEFAULT_SHARE = 0.8


def _physical_bytes() -> float:
    try:
        return float(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (AttributeError, ValueError, OSError):  # not POSIX: no default beyond what the user sets
        return math.inf


def memory_limit_bytes() -> float:
    """The limit in bytes: ``QFIN_MEMORY_LIMIT_GB`` GiB when set (a number > 0), else 80% of physical memory."""
    raw = os.environ.get(_ENV)
    if raw is None or raw.strip() == "":
        return _DEFAULT_SHARE * _physical_bytes()
    try:
        gb = float(raw)
    except ValueError:
        gb = math.nan
    if not (math.isfinite(gb) and gb > 0):
        raise SpecError(f"{_ENV} must be a number of GiB > 0 (e.g. 16); got {raw!r}")
    return gb * GIB


def check_memory(n_bytes: float, what: str, reduce: str) -> None:
    """Refuse work whose estimated peak allocation ``n_bytes`` exceeds :func:`memory_limit_bytes`.

    Parameters
    ----------
    n_bytes : the estimate, in bytes (a float: estimates of impossible sizes overflow int64).
    what : what the memory is for, e.g. ``"the on-policy returns of 5 policies x 1e9 episodes"``.
    reduce : the knobs that shrink it, e.g. ``"[truth] n_episodes"``.

    Raises
    ------
    MemoryLimitError (a QfinError and a MemoryError): "needs ~X GiB for <what>, limit Y GiB; set
    QFIN_MEMORY_LIMIT_GB or reduce <reduce>".
    """
    limit = memory_limit_bytes()
    if n_bytes > limit:
        raise MemoryLimitError(f"needs ~{_gib(n_bytes)} GiB for {what}, limit {_gib(limit)} GiB; set {_ENV} or "
                               f"reduce {reduce}")


def _gib(n: float) -> str:
    g = n / GIB
    return f"{g:.3g}" if g < 1e4 else f"{g:.3e}"
