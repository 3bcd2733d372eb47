"""qfin tune's spec: every bad search space, metric or job is one SpecError line naming the key, before any work;
a job's resume state survives the disk round trip without pickle."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from qfin.errors import SpecError
from qfin.parallel._state import load_state, save_state
from qfin.parallel._tune import check_job
from qfin.parallel._tune_spec import load_tune_spec, search_space

ROOT = Path(__file__).resolve().parents[2]
HEAD = 'job = "hedger"\nmetric = "entropic"\nmode = "min"\n'


def _spec(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "tune.toml"
    path.write_text(text)
    return path


@pytest.mark.parametrize(("space", "expected"), [
    ('lr = { type = "choice", values = [] }', "space.lr.values: a choice needs at least one value; got []"),
    ('lr = { type = "grid", values = [] }', "space.lr.values: a grid needs at least one value"),
    ('lr = { type = "uniform", low = 0.5, high = 0.1 }', "space.lr: low 0.5 > high 0.1; a uniform needs low <= high"),
    ('lr = { type = "loguniform", low = 0.0, high = 0.1 }', "space.lr.low: a loguniform needs 0 < low <= high; "
                                                            "got low 0"),
    ('lr = { type = "loguniform", low = -1.0, high = 0.1 }', "space.lr.low: a loguniform needs 0 < low"),
    ('hidden = { type = "randint", low = 8, high = 8 }', "space.hidden: low 8 > high 8; a randint needs low < high"),
    ('hidden = { type = "randint", low = 1.5, high = 8 }', "space.hidden: a randint takes whole numbers"),
    ('lr = { type = "normal", low = 0.0, high = 1.0 }', "space.lr.type: unknown space type 'normal'; accepted: "
                                                        "choice, uniform, loguniform, randint, grid"),
    ('lr = { type = "uniform", low = 0.1 }', "space.lr: a uniform needs both low and high"),
    ('lr = { type = "choice", values = [1], low = 0.1 }', "space.lr: a choice takes values = [...], not low/high"),
    ('lr = { type = "choice", value = [1] }', "unknown key 'space.lr.value'"),
])
def test_bad_search_spaces_are_one_line_naming_the_key(tmp_path, space, expected):
    with pytest.raises(SpecError) as err:
        load_tune_spec(_spec(tmp_path, HEAD + "[space]\n" + space + "\n"))
    assert expected in str(err.value) and "\n" not in str(err.value)


def _check(tmp_path: Path, text: str) -> None:
    from qfin.cli._jobs import JOBS

    spec, _ = load_tune_spec(_spec(tmp_path, text))
    check_job(JOBS[spec.job], spec, "tune.toml")


def test_a_metric_the_job_never_reports_is_named_with_the_ones_it_does(tmp_path):
    text = 'job = "hedger"\nmetric = "sharpe"\n[space]\nlr = { type = "choice", values = [0.01] }\n'
    with pytest.raises(SpecError, match="metric 'sharpe' is never reported by job 'hedger'; it reports: "
                                        "entropic, mean, std, cvar_95, loss"):
        _check(tmp_path, text)


def test_a_key_the_job_does_not_take_is_named(tmp_path):
    with pytest.raises(SpecError, match="space.learning_rate is not a setting of job 'hedger'; accepted: .*lr"):
        _check(tmp_path, HEAD + '[space]\nlearning_rate = { type = "choice", values = [0.01] }\n')


def test_a_key_in_both_config_and_space_is_refused(tmp_path):
    with pytest.raises(SpecError, match="space.lr is also set in \\[config\\]"):
        load_tune_spec(_spec(tmp_path, HEAD + "[config]\nlr = 0.1\n[space]\n"
                                              'lr = { type = "choice", values = [0.01] }\n'))


def test_the_space_maps_onto_ray_tune_domains(tmp_path):
    pytest.importorskip("ray")
    from ray import tune

    spec, _ = load_tune_spec(_spec(tmp_path, HEAD + "[space]\n"
                                   'lr = { type = "loguniform", low = 1e-4, high = 1e-1 }\n'
                                   'hidden = { type = "randint", low = 2, high = 9 }\n'
                                   'batch_size = { type = "grid", values = [64, 128] }\n'
                                   'model = { type = "choice", values = ["lstm", "mlp"] }\n'
                                   'risk_aversion = { type = "uniform", low = 0.5, high = 2.0 }\n'))
    space = search_space(spec)
    assert isinstance(space["lr"], tune.search.sample.Float) and (space["lr"].lower, space["lr"].upper) == (1e-4, 1e-1)
    assert isinstance(space["hidden"], tune.search.sample.Integer) and (space["hidden"].lower,
                                                                         space["hidden"].upper) == (2, 9)
    assert space["batch_size"] == {"grid_search": [64, 128]}
    assert space["model"].categories == ["lstm", "mlp"]
    draws = [space["hidden"].sample() for _ in range(200)]
    assert min(draws) >= 2 and max(draws) <= 8  # high excluded


def test_state_round_trips_without_pickle(tmp_path):
    state = {"round": 3, "name": "x", "weights": {"lstm.weight": np.arange(6, dtype=np.float32).reshape(2, 3),
                                                    "bias": np.zeros(2)}, "losses": [0.5, 0.25]}
    save_state(state, tmp_path)
    back = load_state(tmp_path)
    assert back["round"] == 3 and back["name"] == "x" and back["losses"] == [0.5, 0.25]
    np.testing.assert_array_equal(back["weights"]["lstm.weight"], state["weights"]["lstm.weight"])
    assert back["weights"]["lstm.weight"].dtype == np.float32
    np.testing.assert_array_equal(back["weights"]["bias"], np.zeros(2))


def _qfin(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, COLUMNS="200")
    return subprocess.run([sys.executable, "-m", "qfin", *args], capture_output=True, text=True, cwd=cwd, env=env,
                          timeout=120)


@pytest.mark.parametrize(("text", "expected"), [
    ('job = "portfolio_magic"\nmetric = "x"\n[space]\na = { type = "choice", values = [1] }\n',
     "job 'portfolio_magic' is unknown; accepted: hedger, sweep"),
    (HEAD + '[space]\nlr = { type = "uniform", low = 2.0, high = 1.0 }\n', "space.lr: low 2 > high 1"),
])
def test_the_command_refuses_bad_specs_in_one_line_writing_nothing(tmp_path, text, expected):
    _spec(tmp_path, text)
    result = _qfin("tune", "tune.toml", "--out", "out", cwd=tmp_path)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert expected in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()


def test_optuna_is_optional_and_named_when_missing(tmp_path, monkeypatch):
    import sys

    from qfin.cli._jobs import JOBS
    from qfin.errors import QfinError
    from qfin.parallel._tune import run_tune

    with pytest.raises(SpecError, match='space.lr: a grid needs search = "random"'):
        load_tune_spec(_spec(tmp_path, HEAD + 'search = "optuna"\n[space]\nlr = { type = "grid", values = [1.0] }\n'))
    spec, _ = load_tune_spec(_spec(tmp_path, HEAD + 'search = "optuna"\n[space]\n'
                                   'lr = { type = "loguniform", low = 1e-3, high = 1e-1 }\n'))
    monkeypatch.setitem(sys.modules, "optuna", None)
    with pytest.raises(QfinError, match="needs Optuna, which is not installed: pip install optuna"):
        run_tune(JOBS["hedger"], spec, tmp_path / "out", progress=False)
    assert not (tmp_path / "out").exists()
