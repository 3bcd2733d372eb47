"""Trading rules as text: comparisons and crosses of TA-Lib indicators, compiled once, evaluated on price arrays.

A rule is a Python-like expression over the bar fields ``open``, ``high``, ``low``, ``close``, ``volume``:

    RSI(close, 14) < 30
    crosses_above(SMA(close, 10), SMA(close, 30)) and close > BBANDS(close, 20).lowerband
    ATR(high, low, close, timeperiod=14) / close > 0.02

Functions are TA-Lib's (``talib.get_functions()``: SMA, EMA, RSI, MACD, BBANDS, ATR, ...; the price arrays first,
then its parameters, positionally or by name; a function with several outputs picks one by name, e.g.
``MACD(close).macdsignal``), plus ``crosses_above(a, b)``, ``crosses_below(a, b)`` and ``prev(x, n)`` (x n bars
earlier). Arithmetic ``+ - * /``, comparisons, ``and``, ``or``, ``not`` and numbers complete the language;
anything else (attributes of other objects, subscripts, imports) is refused with one line naming it. Every
indicator reads only bars up to the one it is computed for, so a rule never looks ahead (TA-Lib's functions are
causal; the warm-up bars are NaN and compare false).
"""

from __future__ import annotations

import ast
import functools
from collections.abc import Callable
from typing import Any

import numba
import numpy as np

from qfin.errors import SpecError

__all__ = ["FIELDS", "Rule", "compile_rule", "crosses_above", "crosses_below"]

FIELDS = ("open", "high", "low", "close", "volume")
_COMPARE = {ast.Lt: np.less, ast.LtE: np.less_equal, ast.Gt: np.greater, ast.GtE: np.greater_equal,
            ast.Eq: np.equal, ast.NotEq: np.not_equal}
_ARITHMETIC = {ast.Add: np.add, ast.Sub: np.subtract, ast.Mult: np.multiply, ast.Div: np.divide}


def crosses_above(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """True at bar t when a > b at t but not at t - 1, given that a has been below b at some bar since the
    last NaN; a tie counts as "not above", so leaving a tie upwards crosses again (vectorbt 1.2.0's
    ``crossed_above``, wait = 0)."""
    return _crosses(np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64))


def crosses_below(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """:func:`crosses_above` of ``b`` over ``a``: a falls below b."""
    return _crosses(np.asarray(b, dtype=np.float64), np.asarray(a, dtype=np.float64))


@numba.njit(cache=True, nogil=True)
def _crosses(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    out = np.zeros(a.shape, dtype=np.bool_)
    been_below = above_before = False
    for t in range(a.shape[0]):
        if np.isnan(a[t]) or np.isnan(b[t]):
            been_below = above_before = False
            continue
        above = a[t] > b[t]
        out[t] = above and been_below and not above_before
        been_below = been_below or a[t] < b[t]
        above_before = above
    return out


def _prev(x: np.ndarray, n: Any = 1) -> np.ndarray:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise SpecError(f"prev(x, n): n must be a whole number of bars >= 1 (earlier bars only), got {n!r}")
    x = np.asarray(x, dtype=np.float64)
    out = np.full_like(x, np.nan)
    out[n:] = x[:-n]
    return out


_HELPERS: dict[str, Callable[..., np.ndarray]] = {"crosses_above": crosses_above, "crosses_below": crosses_below,
                                                  "prev": _prev}


class Rule:
    """A compiled rule: ``rule(fields)`` gives a [T] boolean array from a dict of [T] float arrays."""

    def __init__(self, text: str, tree: ast.expr, where: str) -> None:
        self.text, self._tree, self._where = text, tree, where

    def __call__(self, fields: dict[str, np.ndarray], memo: dict[str, np.ndarray] | None = None) -> np.ndarray:
        """Evaluate on ``fields``; ``memo`` (one dict per set of fields) shares indicator values between rules."""
        with np.errstate(invalid="ignore", divide="ignore"):
            value = _Evaluator(fields, self._where, {} if memo is None else memo).visit(self._tree)
        value = np.asarray(value)
        if value.dtype != bool:
            raise SpecError(f"{self._where}: the rule {self.text!r} gives numbers, not true/false; compare them "
                            "(e.g. RSI(close, 14) < 30)")
        return np.broadcast_to(value, fields["close"].shape)

    def __repr__(self) -> str:
        return f"Rule({self.text!r})"


def compile_rule(text: str, where: str) -> Rule:
    """Parse ``text`` and check every name and call in it before any data is read."""
    if not isinstance(text, str) or not text.strip():
        raise SpecError(f"{where}: a rule must be a non-empty expression such as 'RSI(close, 14) < 30'")
    try:
        tree = ast.parse(text.strip(), mode="eval").body
    except SyntaxError as err:
        raise SpecError(f"{where}: {text!r} is not a rule expression ({err.msg} at column {err.offset})") from None
    _check(tree, where, text)
    return Rule(text, tree, where)


@functools.cache
def _talib_functions() -> frozenset[str]:
    import talib

    return frozenset(talib.get_functions())


def _check(node: ast.AST, where: str, text: str) -> None:
    allowed = (ast.BoolOp, ast.And, ast.Or, ast.UnaryOp, ast.Not, ast.USub, ast.Compare, ast.BinOp, ast.Constant,
               ast.Name, ast.Call, ast.Attribute, ast.keyword, ast.Load, *_COMPARE, *_ARITHMETIC)
    called = {id(c.func) for c in ast.walk(node) if isinstance(c, ast.Call)}
    for child in ast.walk(node):
        if id(child) in called:
            continue  # a function's name: checked with its call below
        if not isinstance(child, allowed):
            raise SpecError(f"{where}: {text!r}: {type(child).__name__.lower()} is not part of a rule (use indicators, "
                            "numbers, comparisons, arithmetic, and/or/not)")
        if isinstance(child, ast.Constant) and not (isinstance(child.value, (int, float))
                                                    and not isinstance(child.value, bool)):
            raise SpecError(f"{where}: {text!r}: {child.value!r} is not a number")
        if isinstance(child, ast.Name) and child.id not in FIELDS:
            hint = " (a function needs parentheses)" if child.id.upper() in _talib_functions() else ""
            raise SpecError(f"{where}: {text!r}: unknown name {child.id!r}{hint}; the bar fields are "
                            f"{', '.join(FIELDS)}")
        if isinstance(child, ast.Call):
            if not isinstance(child.func, ast.Name):
                raise SpecError(f"{where}: {text!r}: call an indicator by its name, e.g. SMA(close, 20)")
            name = child.func.id
            if name not in _HELPERS and name not in _talib_functions():
                close = sorted(f for f in _talib_functions() if f.startswith(name.upper()[:2]))[:8]
                raise SpecError(f"{where}: {text!r}: unknown indicator {name!r}; TA-Lib's functions include "
                                f"{', '.join(close) or 'SMA, EMA, RSI, MACD, BBANDS, ATR'} (talib.get_functions())")
        if isinstance(child, ast.Attribute) and not isinstance(child.value, ast.Call):
            raise SpecError(f"{where}: {text!r}: only an indicator's output can be picked by name, e.g. "
                            "BBANDS(close, 20).upperband")


class _Evaluator(ast.NodeVisitor):
    """Evaluates a checked expression on the field arrays."""

    def __init__(self, fields: dict[str, np.ndarray], where: str, memo: dict[str, np.ndarray]) -> None:
        self.fields, self.where, self.memo = fields, where, memo

    def visit_Constant(self, node: ast.Constant) -> Any:
        return node.value

    def visit_Name(self, node: ast.Name) -> np.ndarray:
        values = self.fields.get(node.id)
        if values is None:
            raise SpecError(f"{self.where}: the rule reads {node.id!r}, which this data does not have (closes only?)")
        return values

    def visit_UnaryOp(self, node: ast.UnaryOp) -> Any:
        value = self.visit(node.operand)
        return np.logical_not(value) if isinstance(node.op, ast.Not) else np.negative(value)

    def visit_BinOp(self, node: ast.BinOp) -> Any:
        return _ARITHMETIC[type(node.op)](self.visit(node.left), self.visit(node.right))

    def visit_BoolOp(self, node: ast.BoolOp) -> Any:
        combine = np.logical_and if isinstance(node.op, ast.And) else np.logical_or
        values = [self.visit(v) for v in node.values]
        out = values[0]
        for value in values[1:]:
            out = combine(out, value)
        return out

    def visit_Compare(self, node: ast.Compare) -> Any:
        left, out = self.visit(node.left), True
        for op, right_node in zip(node.ops, node.comparators, strict=True):
            right = self.visit(right_node)
            out = np.logical_and(out, _COMPARE[type(op)](left, right))
            left = right
        return out

    def visit_Attribute(self, node: ast.Attribute) -> np.ndarray:
        outputs = self._call(node.value, pick=node.attr)
        return outputs

    def visit_Call(self, node: ast.Call) -> np.ndarray:
        return self._call(node, pick=None)

    def _call(self, node: ast.Call, pick: str | None) -> np.ndarray:
        key = f"{ast.dump(node)}.{pick}"
        if key not in self.memo:
            self.memo[key] = self._compute(node, pick)
        return self.memo[key]

    def _compute(self, node: ast.Call, pick: str | None) -> np.ndarray:
        name = node.func.id
        args = [self.visit(a) for a in node.args]
        kwargs = {k.arg: self.visit(k.value) for k in node.keywords}
        if name in _HELPERS:
            try:
                return _HELPERS[name](*args, **kwargs)
            except TypeError as err:
                raise SpecError(f"{self.where}: {name}: {err}") from None
        return _talib(name, args, kwargs, pick, self.where)


def _talib(name: str, args: list[Any], kwargs: dict[str, Any], pick: str | None, where: str) -> np.ndarray:
    """TA-Lib's ``name`` on float64 arrays; the output ``pick`` of a multi-output function."""
    import talib
    from talib import abstract

    info = abstract.Function(name).info
    inputs = [v for group in info["input_names"].values() for v in ([group] if isinstance(group, str) else group)]
    outputs = list(info["output_names"])
    signature = f"{name}({', '.join(inputs)}{', ' if info['parameters'] else ''}{', '.join(info['parameters'])})"
    arrays = [np.ascontiguousarray(a, dtype=np.float64) for a in args[: len(inputs)]]
    params = args[len(inputs):]
    if len(arrays) != len(inputs) or any(np.ndim(a) != 1 for a in arrays):
        raise SpecError(f"{where}: {name} takes the price arrays {', '.join(inputs)} first: {signature}")
    try:
        result = getattr(talib, name)(*arrays, *params, **kwargs)
    except Exception as err:  # TA-Lib raises plain Exceptions for bad parameters
        raise SpecError(f"{where}: {signature}: {str(err).strip().splitlines()[0]}") from None
    if len(outputs) == 1:
        if pick is not None:
            raise SpecError(f"{where}: {name} has one output; drop .{pick}")
        return np.asarray(result, dtype=np.float64)
    if pick not in outputs:
        raise SpecError(f"{where}: {name} has outputs {', '.join(outputs)}; pick one, e.g. {name}(...).{outputs[0]}")
    return np.asarray(result[outputs.index(pick)], dtype=np.float64)
