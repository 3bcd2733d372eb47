"""The layer-0 strategy contract: one registry that every package adds its kinds to, refusing silent shadowing;
decisions from the market panel up to and including the decision bar (no look-ahead through any field); each
kind's spec keys checked by a pydantic model built from its fields."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pytest

import qfin.strategy as contract
from qfin.data import MarketPanel
from qfin.errors import SpecError
from qfin.strategy import NOT_IN_SPEC, STRATEGIES, WeightStrategy, params_model, register_strategy, strategy_params


class _Cash(WeightStrategy):
    kind = "test_cash_only"
    uses_history = False

    def target_weights(self, returns: np.ndarray) -> np.ndarray:
        return np.eye(returns.shape[1] + 1)[0]


@pytest.fixture
def clean_registry(monkeypatch):
    monkeypatch.setattr(contract, "STRATEGIES", dict(STRATEGIES))
    return contract.STRATEGIES


def test_the_built_in_kinds_register_on_import():
    import qfin.backtests._strategies  # noqa: F401  (registers the baselines)

    kinds = {"equal_weight", "buy_and_hold", "inverse_volatility", "min_variance", "max_sharpe", "risk_parity", "hrp"}
    assert kinds <= set(STRATEGIES)
    assert all(issubclass(STRATEGIES[kind], WeightStrategy) for kind in kinds)


def test_registering_a_class_makes_its_kind_buildable_and_again_is_a_no_op(clean_registry):
    assert register_strategy(_Cash.kind, _Cash) is _Cash
    assert register_strategy(_Cash.kind, _Cash) is _Cash
    targets = clean_registry["test_cash_only"]().decide(np.full((5, 2), 10.0), np.array([1, 3]))
    np.testing.assert_array_equal(targets, [[1.0, 0.0, 0.0], [1.0, 0.0, 0.0]])


def test_a_taken_kind_is_refused_naming_its_owner(clean_registry):
    register_strategy(_Cash.kind, _Cash)

    class Other(_Cash):
        pass

    with pytest.raises(SpecError, match=r"kind 'test_cash_only' is already taken by .*_Cash; choose another kind"):
        register_strategy(_Cash.kind, Other)


@pytest.mark.parametrize(("kind", "cls", "message"), [
    ("", _Cash, "kind must be a non-empty string"),
    ("x", dict, "expected a WeightStrategy subclass"),
    ("x", _Cash(), "expected a WeightStrategy subclass"),
])
def test_bad_registrations_are_one_line_errors(clean_registry, kind, cls, message):
    with pytest.raises(SpecError, match=message):
        register_strategy(kind, cls)


# --- deciding from the market panel -------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class _Range(WeightStrategy):
    """Reads OHLCV and timestamps: all in the asset whose last bar had the widest high-low range (volume-scaled),
    cash if the bar falls on a Monday. Records what it was shown."""

    kind = "test_range"
    seen: list = field(default_factory=list, compare=False, metadata=NOT_IN_SPEC)

    def target_weights(self, returns):
        raise AssertionError("weights_at is overridden")

    def weights_at(self, panel: MarketPanel) -> np.ndarray:
        self.seen.append((panel.n_bars, panel.timestamps[-1]))
        score = (panel.high[-1] - panel.low[-1]) / panel.close[-1] * np.log(panel.volume[-1])
        weights = np.zeros(panel.n_assets + 1)
        monday = panel.timestamps[-1].astype("M8[D]").astype(object).weekday() == 0
        weights[0 if monday else 1 + int(np.argmax(score))] = 1.0
        return weights


def _bars_panel(seed: int, n: int = 80) -> MarketPanel:
    rng = np.random.default_rng(seed)
    close = 100.0 * np.exp(np.cumsum(rng.normal(0, 0.01, (n, 3)), axis=0))
    open_ = close * (1 + rng.normal(0, 0.003, close.shape))
    high, low = np.maximum(open_, close) * (1 + rng.uniform(0, 0.02, close.shape)), np.minimum(open_, close) * 0.99
    stamps = np.busday_offset(np.datetime64("2021-01-04"), np.arange(n)).astype("datetime64[us]")
    return MarketPanel(stamps, ("A", "B", "C"), close, open_, high, low, rng.uniform(1e5, 1e6, close.shape))


def test_a_strategy_sees_the_panel_up_to_and_including_each_decision_bar():
    panel, bars = _bars_panel(0), np.array([10, 33, 50, 79])
    strategy = _Range()
    targets = strategy.decide(panel, bars)
    assert strategy.seen == [(b + 1, panel.timestamps[b]) for b in bars]
    assert np.all(targets.sum(axis=1) == 1.0)


def test_no_look_ahead_through_any_field():
    panel, bars, t = _bars_panel(1), np.arange(5, 80, 3), 42
    before = _Range().decide(panel, bars)
    rng = np.random.default_rng(2)
    shocked = {name: getattr(panel, name).copy() for name in panel.fields}
    for values in shocked.values():
        values[t + 1:] *= rng.uniform(0.5, 1.5, values[t + 1:].shape)
    shocked["high"] = np.maximum(shocked["high"], np.maximum(shocked["open"], shocked["close"]))
    after = _Range().decide(MarketPanel(panel.timestamps, panel.assets, **shocked), bars)
    np.testing.assert_array_equal(after[bars <= t], before[bars <= t])
    assert not np.array_equal(after[bars > t], before[bars > t])  # the shock reaches later decisions


def test_the_default_builds_the_lookback_returns_from_the_panels_closes():
    panel, seen = _bars_panel(3), []

    @dataclass(frozen=True, kw_only=True)
    class Record(WeightStrategy):
        kind = "test_record"
        lookback: int = 4

        def target_weights(self, returns):
            seen.append(returns.copy())
            return np.eye(returns.shape[1] + 1)[0]

    from_panel = Record().decide(panel, np.array([4, 40]))
    from_closes = Record().decide(panel.close, np.array([4, 40]))
    np.testing.assert_array_equal(from_panel, from_closes)
    np.testing.assert_array_equal(seen[1], panel.close[37:41] / panel.close[36:40] - 1.0)
    with pytest.raises(SpecError, match="timestamps go with an array of closes only"):
        Record().decide(panel, np.array([4]), timestamps=panel.timestamps)


# --- each kind's spec keys as a pydantic model ---------------------------------------------------------------------


def test_the_params_model_is_the_dataclass_fields_less_the_python_only_ones():
    assert list(params_model(_Range).model_fields) == ["kind", "name", "lookback", "fallback"]
    assert strategy_params(_Range, {"kind": "test_range", "name": "r"}, "here") == {"name": "r"}


@pytest.mark.parametrize(("raw", "message"), [
    ({"kind": "test_range", "lookbak": 3}, "here: unknown key 'lookbak'; accepted: kind, name, lookback, fallback$"),
    ({"kind": "test_range", "lookback": 3.0}, "here: lookback: Input should be a valid integer"),
    ({"kind": "test_range", "fallback": "zero"}, "here: fallback: Input should be 'raise' or 'previous'"),
    ({"kind": "test_range", "seen": []}, "here: unknown key 'seen'"),
    ({"kind": "test_range", "old": 1}, "here: key 'old' moved elsewhere$"),
])
def test_spec_tables_are_checked_with_one_line_errors(monkeypatch, raw, message):
    monkeypatch.setattr(_Range, "retired_keys", {"old": "moved elsewhere"})
    with pytest.raises(SpecError, match=message):
        strategy_params(_Range, raw, "here")


def test_a_strategy_must_decide_one_way_or_the_other():
    import dataclasses

    from qfin.strategy import WeightStrategy

    with pytest.raises(TypeError, match="must define target_weights"):
        @dataclasses.dataclass(frozen=True, kw_only=True)
        class Nothing(WeightStrategy):
            kind = "nothing"
    with pytest.raises(TypeError, match="is the base class"):
        WeightStrategy()
