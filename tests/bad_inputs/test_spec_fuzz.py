"""Hypothesis fuzzing of every config model: any table a TOML file can hold either parses or is refused with one
SpecError line; no other exception (TypeError, ValueError from a dependency, ...) ever escapes."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qfin.errors import SpecError
from qfin.specs import parse_model


def _models():
    from qfin.backtests._spec import BacktestSpec
    from qfin.dp._spec import DPSpec
    from qfin.hedging import ExperimentConfig
    from qfin.kline import KlineTrainConfig
    from qfin.ope._experiment import OPESpec

    return {"backtest": BacktestSpec, "dp": DPSpec, "hedge": ExperimentConfig, "kline": KlineTrainConfig,
            "ope": OPESpec}


def _keys(model) -> list[str]:
    return [*model.model_fields, "kind", "name", "surprise"]


SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-10**12, 10**12), st.floats(allow_nan=True),
                    st.text(max_size=8), st.dates(min_value=dt.date(1990, 1, 1), max_value=dt.date(2030, 1, 1)))


def _tables(keys: list[str]):
    values = st.recursive(SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                             st.dictionaries(st.sampled_from(keys), inner, max_size=3)),
                          max_leaves=8)
    return st.dictionaries(st.sampled_from(keys), values, max_size=6)


@pytest.mark.parametrize("name", ["backtest", "dp", "hedge", "kline", "ope"])
def test_any_table_parses_or_is_one_spec_error_line(name):
    model = _models()[name]
    keys = sorted({*_keys(model), *(k for f in model.model_fields.values()
                                    for k in getattr(f.annotation, "model_fields", {}))})

    @given(raw=_tables(keys))
    @settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    def check(raw):
        try:
            parse_model(model, raw, f"{name}.toml")
        except SpecError as err:
            text = str(err)
            assert text.startswith(f"{name}.toml: ") and "\n" not in text, text

    check()
