"""User strategies from a spec: ``kind = "python"``, ``entry = "file.py:function"`` (or ``"module:function"``).

The function is called at every decision bar with the market up to and including that bar and the strategy's
other spec keys as keyword arguments::

    def my_strategy(window, lookback=20):       # window: qfin.data.MarketPanel, bars 0 .. decision bar
        momentum = window.close[-1] / window.close[-lookback - 1] - 1.0
        ...
        return weights                          # [N] summing to 1 (cash 0), or [N + 1] with cash first

``window`` is a :class:`qfin.data.MarketPanel` of read-only numpy arrays [bars, assets] (``close``, and for bars
``open``, ``high``, ``low``, ``volume``), ``timestamps`` and ``assets``; ``window.to_bars(asset)`` gives one
asset's polars Bars frame. With ``signal = true`` the function returns one of -1, 0, 1 per asset (short, flat,
long) instead, held in equal parts: weight ``s_i / N`` per asset, the rest in cash. Whatever the function
reads, it is only handed the past; ``qfin backtest --check-lookahead`` proves it also uses only that
(:func:`qfin.backtests.check_lookahead`). An exception in the function names its file, line and the decision.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from qfin.data import MarketPanel
from qfin.errors import SpecError
from qfin.strategy import NOT_IN_SPEC, StrategyOutputError, WeightStrategy, register_strategy

from ._order_keys import ORDER_KEYS, OrderKeys
from ._strategies import _with_cash

__all__ = ["PythonStrategy", "load_entry"]

_LOADED: dict[str, Callable[..., Any]] = {}  # entry -> function, once per process


def load_entry(entry: str, base: str | Path | None = None) -> Callable[..., Any]:
    """The function ``entry`` names: ``"path/to/file.py:function"`` (a relative path is taken from ``base``, else
    the working folder) or ``"package.module:function"``. Problems are one :class:`SpecError` line."""
    where = f"entry {entry!r}"
    target, sep, name = str(entry).rpartition(":")
    if not sep or not target or not name.isidentifier():
        raise SpecError(f"{where}: expected 'file.py:function' or 'module:function'")
    if target.endswith(".py"):
        path = Path(target)
        path = (Path(base) / path if base is not None and not path.is_absolute() else path).resolve()
        key = f"{path}:{name}"
        if key in _LOADED:
            return _LOADED[key]
        if not path.is_file():
            raise SpecError(f"{where}: no such file {path}")
        module = _load_file(path, where)
    else:
        key = entry
        if key in _LOADED:
            return _LOADED[key]
        try:
            module = importlib.import_module(target)
        except ImportError as err:
            raise SpecError(f"{where}: cannot import module {target!r} ({err})") from None
    function = getattr(module, name, None)
    if not callable(function):
        found = sorted(n for n, v in vars(module).items() if inspect.isfunction(v) and not n.startswith("_"))
        raise SpecError(f"{where}: {target} has no function {name!r}; it defines {', '.join(found) or 'none'}")
    _LOADED[key] = function
    return function


def _load_file(path: Path, where: str) -> Any:
    module_name = f"qfin_user_strategy_{abs(hash(str(path)))}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module  # so pickling and dataclasses in the user's file work
    try:
        spec.loader.exec_module(module)
    except SyntaxError as err:
        del sys.modules[module_name]
        raise SpecError(f"{where}: {path}:{err.lineno}: syntax error: {err.msg}") from None
    except Exception as err:
        del sys.modules[module_name]
        raise SpecError(f"{where}: {_user_frame(err, path)} while importing the file") from None
    return module


def _user_frame(err: BaseException, path: Path | None) -> str:
    """``file:line: Type: message`` at the deepest frame of the user's file (the deepest frame at all if none)."""
    frames = traceback.extract_tb(err.__traceback__)
    mine = [f for f in frames if path is not None and Path(f.filename).resolve() == path] or frames[-1:]
    place = f"{mine[-1].filename}:{mine[-1].lineno}: " if mine else ""
    message = str(err).strip().splitlines()[0] if str(err).strip() else ""
    return f"{place}{type(err).__name__}{': ' + message if message else ''}"


@dataclass(frozen=True, kw_only=True)
class PythonStrategy(OrderKeys, WeightStrategy):
    """A user's function as a weight strategy (module docstring). ``entry`` names it (a relative file is taken from
    the working folder; :func:`qfin.backtests.load_spec` makes it relative to the spec's folder); ``signal`` says it
    returns -1/0/1 per asset; ``params`` are the spec's other keys, passed as keyword arguments (sweepable).
    ``lookback`` (bars of history the first decision needs) is passed too when the function takes it. With
    ``signal = true`` the order keys (``sl_stop``, ``tp_stop``, ``tsl_stop``, ``limit_entry``, ``fractional``:
    qfin.backtests._orders) trade each position as orders."""

    kind: ClassVar[str] = "python"
    extra_keys: ClassVar[str | None] = "params"  # spec keys beyond the fields are the function's arguments

    entry: str
    name: str = "python"
    signal: bool = False
    params: dict[str, Any] = field(default_factory=dict, metadata=NOT_IN_SPEC)

    def _check_params(self, where: str) -> None:
        given = [key for key in ORDER_KEYS if getattr(self, key) is not None]
        if given and not self.signal:
            raise SpecError(f"{where}: {given[0]} applies to signal functions (signal = true): a weights function "
                            "has no entries to stop")
        self.orders(where)
        function = self.function
        try:
            inspect.signature(function).bind(None, **self._arguments)
        except TypeError as err:
            accepted = [p for p in list(inspect.signature(function).parameters)[1:]]
            raise SpecError(f"{where}: {self.entry} cannot be called as f(window, {', '.join(self._arguments)}) "
                            f"({err}); its keyword arguments: {', '.join(accepted) or 'none'}") from None
        except ValueError:  # a builtin without a signature: found out at the first call
            pass

    @property
    def function(self) -> Callable[..., Any]:
        return load_entry(self.entry)

    @property
    def _arguments(self) -> dict[str, Any]:
        """The keyword arguments of each call: the spec's parameters, and ``lookback`` if the function takes it."""
        try:
            takes_lookback = "lookback" in inspect.signature(self.function).parameters
        except ValueError:
            takes_lookback = False
        return {**self.params, "lookback": self.lookback} if takes_lookback else dict(self.params)

    def weights_at(self, panel: MarketPanel) -> np.ndarray:
        window = _read_only(panel)
        try:
            out = self.function(window, **self._arguments)
        except Exception as err:
            target = self.entry.rpartition(":")[0]
            raise StrategyOutputError(_user_frame(err, Path(target).resolve() if target.endswith(".py") else None)
                                      ) from None
        if self.signal:
            return _signal_weights(out, panel.n_assets)
        return _with_cash(out, panel.n_assets)


def _read_only(panel: MarketPanel) -> MarketPanel:
    """The panel with read-only views of its arrays, so a user function cannot change the data it is given."""
    views = {}
    for name in panel.fields:
        view = getattr(panel, name).view()
        view.flags.writeable = False
        views[name] = view
    return replace(panel, **views)


def _signal_weights(signal: Any, n_assets: int) -> np.ndarray:
    try:
        s = np.asarray(signal, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        raise StrategyOutputError(f"a signal must be -1, 0 or 1 per asset, got {type(signal).__name__}") from None
    if s.shape != (n_assets,) or not np.all(np.isin(s, (-1.0, 0.0, 1.0))):
        raise StrategyOutputError(f"a signal must be -1, 0 or 1 for each of the {n_assets} assets, got "
                                  f"{np.round(s, 6).tolist()[:10]}")
    risky = s / n_assets
    return np.concatenate(([1.0 - risky.sum()], risky))


register_strategy(PythonStrategy.kind, PythonStrategy)
