"""The layer-0 strategy contract: one registry that every package adds its kinds to, refusing silent shadowing."""

from __future__ import annotations

import numpy as np
import pytest

import qfin.strategy as contract
from qfin.errors import SpecError
from qfin.strategy import STRATEGIES, WeightStrategy, register_strategy


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
