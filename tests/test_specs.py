"""qfin.specs: TOML reading and one-line validation errors that name the key and what is accepted there."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, ConfigDict

from qfin.errors import SpecError
from qfin.specs import parse_model, read_toml


class Inner(BaseModel):
    model_config = ConfigDict(extra="forbid")
    rate: float = 0.0
    steps: int = 1


class Outer(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    inner: Inner = Inner()
    items: list[Inner] = []
    either: str | Inner = "x"


@pytest.mark.parametrize("raw, message", [
    ({"name": "a", "colour": 1}, "spec.toml: unknown key 'colour'; accepted: name, inner, items, either"),
    ({"name": "a", "Colour": 1}, "unknown key 'Colour'; accepted: name, inner, items, either"),
    ({"name": "a", "inner": {"Rate": 1}}, "unknown key 'inner.Rate'; accepted: rate, steps"),
    ({"name": "a", "inner": {"rat": 1}}, "unknown key 'inner.rat'; accepted: rate, steps"),
    ({"name": "a", "items": [{}, {"step": 2}]}, "unknown key 'items.1.step'; accepted: rate, steps"),
    ({"name": "a", "either": {"rte": 2}}, "unknown key 'either.rte'; accepted: rate, steps"),
    ({}, "missing key 'name'"),
    ({"name": "a", "inner": {"steps": "many"}}, "inner.steps: Input should be a valid integer"),
])
def test_parse_model_names_the_key_and_what_is_accepted(raw, message):
    with pytest.raises(SpecError) as info:
        parse_model(Outer, raw, "spec.toml")
    assert message in str(info.value) and "\n" not in str(info.value)


def test_read_toml_errors(tmp_path):
    with pytest.raises(SpecError, match="no such preset file"):
        read_toml(tmp_path / "nope.toml", "preset")
    (tmp_path / "bad.toml").write_text("a = [1,\n")
    with pytest.raises(SpecError, match="bad.toml: not valid TOML"):
        read_toml(tmp_path / "bad.toml")
    with pytest.raises(SpecError, match="is a folder"):
        read_toml(tmp_path)
    (tmp_path / "ok.toml").write_text("a = 1\n[b]\nc = 'd'\n")
    assert read_toml(tmp_path / "ok.toml") == {"a": 1, "b": {"c": "d"}}
