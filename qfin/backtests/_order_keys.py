"""The order spec keys of signal strategies (see :mod:`qfin.backtests._orders` for what they do), checked without
loading the simulator: ``sl_stop``, ``tp_stop``, ``tsl_stop`` (fractions of the entry price), ``limit_entry`` (a
fraction of the signal bar's close), ``limit_window`` (bars), ``fractional`` (shares)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from qfin.errors import SpecError

__all__ = ["EXIT_REASONS", "ORDER_KEYS", "OrderKeys", "Orders", "check_orders"]

ORDER_KEYS = ("sl_stop", "tp_stop", "tsl_stop", "limit_entry", "limit_window", "fractional")
EXIT_REASONS = ("signal", "stop_loss", "take_profit", "trailing_stop", "end")
_STOP_RANGE = "a fraction of the entry price, 0 < value < 1 (0.05 = 5%)"


class Orders(NamedTuple):
    """Checked order settings; NaN for a stop or limit that is not set."""

    sl_stop: float = np.nan
    tp_stop: float = np.nan
    tsl_stop: float = np.nan
    limit_entry: float = np.nan
    limit_window: int = 5
    fractional: bool = True

    @property
    def plain(self) -> bool:
        """No stop and no limit: fills exactly as the no-order engines'."""
        return bool(np.isnan(self.sl_stop) and np.isnan(self.tp_stop) and np.isnan(self.tsl_stop)
                    and np.isnan(self.limit_entry))


def _fraction(key: str, value: Any, where: str, low_closed: bool = False) -> float:  # where: "" or "...: "
    if value is None:
        return np.nan
    accepted = ("a fraction of the signal bar's close, 0 <= value < 1 (0.01 = 1%)" if key == "limit_entry"
                else _STOP_RANGE)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not np.isfinite(value):
        raise SpecError(f"{where}{key} must be a number, {accepted}; got {value!r}")
    if not ((0.0 <= value) if low_closed else (0.0 < value)) or value >= 1.0:
        raise SpecError(f"{where}{key} = {value!r} is out of range: {accepted}")
    return float(value)


def check_orders(values: dict[str, Any], where: str = "") -> Orders:
    """The order keys of ``values`` (missing or None: not set) checked; a problem is one SpecError line (starting
    with ``where``) naming the key and the accepted range."""
    where = f"{where}: " if where else ""
    window = values.get("limit_window")
    if window is None:
        window = 5
    elif isinstance(window, bool) or not isinstance(window, int) or window < 1:
        raise SpecError(f"{where}limit_window must be a whole number of bars >= 1 (how long a limit entry stays "
                        f"valid), got {window!r}")
    fractional = values.get("fractional")
    if fractional is None:
        fractional = True
    elif isinstance(fractional, int) and fractional in (0, 1):  # bool included; 0/1 is the sweep grid's spelling
        fractional = bool(fractional)
    else:
        raise SpecError(f"{where}fractional must be true or false (or 0 / 1), got {fractional!r}")
    stops = [_fraction(key, values.get(key), where) for key in ("sl_stop", "tp_stop", "tsl_stop")]
    return Orders(*stops, _fraction("limit_entry", values.get("limit_entry"), where, low_closed=True), window,
                  fractional)


@dataclass(frozen=True, kw_only=True)
class OrderKeys:
    """The order spec keys as strategy fields (module docstring); :meth:`orders` checks them.

    Typed ``Any`` on purpose: the check (:func:`check_orders`) names the key and its accepted range itself."""

    sl_stop: Any = None
    tp_stop: Any = None
    tsl_stop: Any = None
    limit_entry: Any = None
    limit_window: Any = None
    fractional: Any = None

    def orders(self, where: str = "") -> Orders:
        return check_orders({key: getattr(self, key) for key in ORDER_KEYS}, where)
