"""``--out`` is checked before any work, by every writer's library function and command: a file, a path under a
file, a symbolic link, an unwritable place, a folder qfin did not write (the thesis.tex case) and another command's
output are each one QfinError line naming the path, and nothing is touched."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import qfin.data._output as output
from qfin.data import staged_output
from qfin.errors import QfinError
from tests.faults._writers import WRITERS, qfin_env, snapshot

CASES = {
    "file": "is a file, not a folder",
    "under_file": "is a file, so no folder can be made under it",
    "symlink": "is a symbolic link (to ",
    "unwritable": "no permission to write in",
    "foreign": "holds no qfin manifest",
    "other_kind": "holds a qfin {other} output",
}
DP_CASES = {**CASES, "foreign": "exists and was not written by qfin dp"}


def _bad_out(case: str, tmp: Path, kind: str, monkeypatch) -> tuple[Path, str]:
    """Build the bad ``--out`` of ``case`` under ``tmp``; return it and the expected fragment of the error."""
    other = "hedge" if kind != "hedge" else "backtest"
    if case == "file":
        (tmp / "f.txt").write_text("a file")
        return tmp / "f.txt", CASES[case]
    if case == "under_file":
        (tmp / "f.txt").write_text("a file")
        return tmp / "f.txt" / "run", CASES[case]
    if case == "symlink":
        (tmp / "real").mkdir()
        (tmp / "link").symlink_to(tmp / "real", target_is_directory=True)
        return tmp / "link", CASES[case]
    if case == "unwritable":
        locked = tmp / "locked"
        locked.mkdir()
        locked.chmod(0o555)
        if os.geteuid() == 0:  # root writes anywhere: the permission check is asked the question a user's would
            real = os.access
            monkeypatch.setattr(output.os, "access", lambda p, mode: Path(p) != locked and real(p, mode))
        return locked / "run", CASES[case]
    if case == "foreign":
        folder = tmp / "thesis"
        folder.mkdir()
        if kind == "dp":
            (folder / "betting.html").write_text("my own page")
            return folder, DP_CASES[case]
        (folder / "metrics.json").write_text("{}")
        (folder / "thesis.tex").write_text("precious")
        return folder, CASES[case]
    with staged_output(tmp / "earlier", other) as staging:
        (staging / "metrics.json").write_text("{}")
    return tmp / "earlier", CASES[case].format(other=other)


def _sentinel(name: str, monkeypatch) -> None:
    """Make the first piece of real work fail loudly: the check must come before it."""

    def work_started(*args, **kwargs):
        raise AssertionError("the work started before --out was checked")

    if name == "backtest":
        import qfin.backtests._run as run

        monkeypatch.setattr(run, "load_market", work_started)
    elif name == "scorecard":
        import sklearn.model_selection

        monkeypatch.setattr(sklearn.model_selection, "train_test_split", work_started)
    elif name == "hedge":
        import qfin.hedging._experiment as experiment

        monkeypatch.setattr(experiment, "historical_heston", work_started)
        monkeypatch.setattr(experiment, "_market", work_started)
    elif name == "ope":
        import qfin.ope._experiment as experiment

        monkeypatch.setattr(experiment, "policy_returns", work_started)
    elif name == "dp":
        import qfin.dp._report as dp_report

        monkeypatch.setattr(dp_report, "return_distributions_png", work_started)


def _library_call(name: str, config: Path, out: Path, solved):
    if name == "dp":
        from qfin.dp import write_solve_report

        result, neutral, rows, _ = solved
        return write_solve_report(out / "betting.html", result, neutral, rows, title="betting")
    if name == "sweep":
        from qfin.backtests._sweep import SweepResult

        return SweepResult([{"fast": 5, "slow": 20, "sharpe": 1.0}], ["fast", "slow"], "sharpe", True).write(out)
    return WRITERS[name].run(config, out)


@pytest.fixture(scope="module")
def solved(tmp_path_factory):
    from qfin.dp import solve_spec

    return solve_spec(WRITERS["dp"].write_config(tmp_path_factory.mktemp("dp"), "a"))


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("name", ["backtest", "sweep", "scorecard", "hedge", "ope", "dp"])
def test_a_bad_out_is_one_line_before_any_work(name, case, tmp_path, monkeypatch, solved):
    config = WRITERS[name].write_config(tmp_path, "a")
    out, fragment = _bad_out(case, tmp_path, name, monkeypatch)
    before = snapshot(tmp_path)
    _sentinel(name, monkeypatch)
    with pytest.raises(QfinError) as raised:
        _library_call(name, config, out, solved)
    message = str(raised.value)
    assert "\n" not in message and str(out) in message and fragment in message, message
    assert snapshot(tmp_path) == before  # nothing written, nothing deleted
    if case == "symlink":
        assert (tmp_path / "link").is_symlink() and list((tmp_path / "real").iterdir()) == []


@pytest.mark.parametrize("name", ["backtest", "sweep", "scorecard", "hedge", "ope", "dp"])
def test_the_command_refuses_a_file_as_out_before_the_work(name, tmp_path):
    config = WRITERS[name].write_config(tmp_path, "a")
    (tmp_path / "taken").write_text("not a folder")
    done = subprocess.run([sys.executable, "-m", "qfin", *WRITERS[name].cli(config, tmp_path / "taken")],
                          cwd=tmp_path, env=qfin_env(tmp_path / "home"), capture_output=True, text=True, timeout=300)
    assert done.returncode == 1 and done.stdout == "", done.stdout + done.stderr  # no table: no work was done
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "is a file, not a folder" in lines[0] and "Traceback" not in done.stderr, lines
    assert (tmp_path / "taken").read_text() == "not a folder"


def test_the_thesis_folder_of_the_issue_is_refused_by_the_command_and_kept(tmp_path):
    config = WRITERS["backtest"].write_config(tmp_path, "a")
    folder = tmp_path / "d"
    folder.mkdir()
    (folder / "metrics.json").write_text("{}")
    (folder / "thesis.tex").write_text("x")
    done = subprocess.run([sys.executable, "-m", "qfin", *WRITERS["backtest"].cli(config, folder)], cwd=tmp_path,
                          env=qfin_env(tmp_path / "home"), capture_output=True, text=True, timeout=300)
    assert done.returncode == 1 and "holds no qfin manifest" in done.stderr, done.stderr
    assert sorted(p.name for p in folder.iterdir()) == ["metrics.json", "thesis.tex"]
    assert (folder / "thesis.tex").read_text() == "x"
