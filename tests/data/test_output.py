"""Output folders are all or nothing, never clobber a user's folder, and metrics JSON is strict."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from qfin.data import MANIFEST, staged_output, strict_json
from qfin.errors import QfinError


def test_strict_json_writes_non_finite_numbers_as_null():
    text = strict_json({"flat": {"sharpe": float("nan"), "calmar": float("inf"), "cagr": 0.0}, "xs": [float("-inf")]})
    assert json.loads(text) == {"flat": {"sharpe": None, "calmar": None, "cagr": 0.0}, "xs": [None]}
    assert "NaN" not in text and "Infinity" not in text


def test_completed_output_replaces_the_folder_and_is_world_readable(tmp_path):
    out = tmp_path / "run"
    with staged_output(out, "backtest") as staging:
        (staging / "metrics.json").write_text("{}")
    assert (out / "metrics.json").exists() and (out / MANIFEST).exists()
    assert stat.S_IMODE(out.stat().st_mode) == 0o755
    assert [p.name for p in tmp_path.iterdir()] == ["run"]


def test_an_error_leaves_neither_output_nor_staging(tmp_path):
    out = tmp_path / "run"
    with pytest.raises(RuntimeError):
        with staged_output(out, "backtest") as staging:
            (staging / "equity.parquet").write_bytes(b"half")
            raise RuntimeError("plot failed")
    assert list(tmp_path.iterdir()) == []


def test_a_foreign_non_empty_folder_is_never_replaced(tmp_path):
    out = tmp_path / "thesis"
    out.mkdir()
    (out / "chapter1.tex").write_text("precious")
    with pytest.raises(QfinError, match="holds no qfin manifest"):
        with staged_output(out, "backtest"):
            pass
    assert (out / "chapter1.tex").read_text() == "precious"


def _previous_run(tmp_path):
    out = tmp_path / "run"
    with staged_output(out, "backtest") as staging:
        (staging / "metrics.json").write_text('{"run": 1}')
    return out


@pytest.mark.parametrize("exchange", [True, False], ids=["atomic_exchange", "rename_aside"])
def test_a_rerun_replaces_the_previous_output_and_leaves_nothing_beside_it(tmp_path, monkeypatch, exchange):
    import qfin.data._output as output

    out = _previous_run(tmp_path)
    if not exchange:
        monkeypatch.setattr(output, "_exchange", lambda a, b: False)
    with staged_output(out, "backtest") as staging:
        (staging / "metrics.json").write_text('{"run": 2}')
    assert json.loads((out / "metrics.json").read_text()) == {"run": 2}
    assert [p.name for p in tmp_path.iterdir()] == ["run"]


def test_the_swap_is_one_atomic_exchange_on_linux(tmp_path):
    import qfin.data._output as output

    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    (a / "x").write_text("a")
    (b / "x").write_text("b")
    if not output._exchange(a, b):
        pytest.skip("this OS or filesystem has no renameat2(RENAME_EXCHANGE); the rename-aside path is used")
    assert (a / "x").read_text() == "b" and (b / "x").read_text() == "a"


@pytest.mark.parametrize("exchange", [True, False], ids=["atomic_exchange", "rename_aside"])
def test_a_kill_while_deleting_the_old_output_never_loses_the_new_one(tmp_path, monkeypatch, exchange):
    import qfin.data._output as output

    out = _previous_run(tmp_path)
    staging = tmp_path / ".run.staging"
    staging.mkdir()
    (staging / "metrics.json").write_text('{"run": 2}')
    if not exchange:
        monkeypatch.setattr(output, "_exchange", lambda a, b: False)

    def rmtree_that_dies(path, ignore_errors=False):
        raise KeyboardInterrupt("killed while deleting the previous results")

    monkeypatch.setattr(output.shutil, "rmtree", rmtree_that_dies)
    with pytest.raises(KeyboardInterrupt):
        output._swap_in(staging, out)
    assert json.loads((out / "metrics.json").read_text()) == {"run": 2}


# ------------------------------------------------------------------------------------------- the qfin manifest


def _dead_pid() -> int:
    import subprocess
    import sys

    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_the_manifest_names_the_writer_version_time_spec_and_every_file(tmp_path):
    import datetime as dt
    import hashlib

    from qfin import __version__
    from qfin.data import config_hash, read_manifest

    out = tmp_path / "run"
    with staged_output(out, "sweep", spec_hash=config_hash({"grid": [1, 2]})) as staging:
        (staging / "sweep.csv").write_text("a,b\n1,2\n")
        (staging / "logged").mkdir()
        (staging / "logged" / "d0.parquet").write_bytes(b"\x00" * 10)
    manifest = read_manifest(out)
    assert manifest["kind"] == "sweep" and manifest["qfin_version"] == __version__
    assert manifest["spec_hash"] == config_hash({"grid": [1, 2]}) != config_hash({"grid": [1, 3]})
    written = dt.datetime.fromisoformat(manifest["written_at"].replace("Z", "+00:00"))
    assert abs((dt.datetime.now(dt.UTC) - written).total_seconds()) < 60
    assert manifest["files"] == {
        "logged": {"folder": True},
        "logged/d0.parquet": {"bytes": 10, "sha256": hashlib.sha256(b"\x00" * 10).hexdigest()},
        "sweep.csv": {"bytes": 8, "sha256": hashlib.sha256(b"a,b\n1,2\n").hexdigest()},
    }


def test_config_hash_ignores_key_order_and_reads_models():
    from qfin.backtests import parse_spec
    from qfin.data import config_hash

    raw = {"name": "x", "data": {"dataset": "sp500_stocks"}, "strategies": [{"kind": "equal_weight"}]}
    spec = parse_spec(raw)
    assert config_hash({"b": 1, "a": [spec]}) == config_hash({"a": [spec.model_dump(mode="json")], "b": 1})
    assert config_hash(spec) != config_hash(parse_spec({**raw, "name": "y"}))


def _earlier(out, kind="backtest"):
    with staged_output(out, kind) as staging:
        (staging / "metrics.json").write_text('{"run": 1}')


@pytest.mark.parametrize("intruder, fragment", [
    ("thesis.tex", "holds thesis.tex, which qfin did not write"),
    ("notes/today.md", "holds notes, notes/today.md, which qfin did not write"),
])
def test_a_qfin_output_holding_a_file_qfin_did_not_write_is_refused(tmp_path, intruder, fragment):
    out = tmp_path / "run"
    _earlier(out)
    (out / intruder).parent.mkdir(exist_ok=True)
    (out / intruder).write_text("mine")
    before = sorted(p.relative_to(out).as_posix() for p in out.rglob("*"))
    with pytest.raises(QfinError, match=fragment):
        with staged_output(out, "backtest"):
            raise AssertionError("never reached: the folder is checked first")
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*")) == before
    assert (out / intruder).read_text() == "mine"


def test_another_writers_output_is_refused_by_kind(tmp_path):
    out = tmp_path / "run"
    _earlier(out, "hedge")
    with pytest.raises(QfinError, match=r"run holds a qfin hedge output; qfin writes backtest output .* never over"):
        with staged_output(out, "backtest"):
            pass
    assert json.loads((out / "metrics.json").read_text()) == {"run": 1}


def test_a_folder_from_before_manifests_is_refused_with_what_to_do(tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    (out / "metrics.json").write_text("{}")
    with pytest.raises(QfinError, match=r"holds no qfin manifest .* or one from a qfin that wrote none; .* move the"):
        with staged_output(out, "backtest"):
            pass
    assert (out / "metrics.json").read_text() == "{}"


def test_a_damaged_manifest_is_refused(tmp_path):
    out = tmp_path / "run"
    _earlier(out)
    (out / MANIFEST).write_text('{"kind": "backtest"')
    with pytest.raises(QfinError, match=r"\.qfin-manifest\.json: damaged qfin manifest"):
        with staged_output(out, "backtest"):
            pass


def test_the_check_happens_again_just_before_the_swap(tmp_path):
    out = tmp_path / "run"
    _earlier(out)
    with pytest.raises(QfinError, match="holds late.txt"):
        with staged_output(out, "backtest") as staging:
            (staging / "metrics.json").write_text('{"run": 2}')
            (out / "late.txt").write_text("written by the user while qfin worked")
    assert json.loads((out / "metrics.json").read_text()) == {"run": 1}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]


def test_what_a_killed_run_left_is_cleared_by_the_next_run_and_a_live_ones_is_not(tmp_path):
    import os

    out = tmp_path / "run"
    _earlier(out)
    dead, live = _dead_pid(), os.getppid()
    (tmp_path / f".run.qfin-{dead}-stage-abc").mkdir()
    (tmp_path / f".run.qfin-{dead}-stage-abc" / "equity.parquet").write_bytes(b"half")
    (tmp_path / f".run.qfin-{live}-stage-xyz").mkdir()
    with staged_output(out, "backtest") as staging:
        (staging / "metrics.json").write_text('{"run": 2}')
    assert sorted(p.name for p in tmp_path.iterdir()) == [f".run.qfin-{live}-stage-xyz", "run"]


def test_a_run_killed_inside_the_rename_aside_swap_gets_the_old_results_back(tmp_path):
    out = tmp_path / "run"
    _earlier(out)
    dead = _dead_pid()
    aside = tmp_path / f".run.qfin-{dead}-old-abc"
    out.rename(aside)  # killed after moving the old folder aside, before moving the new one in
    (tmp_path / f".run.qfin-{dead}-stage-def").mkdir()
    with pytest.raises(RuntimeError):
        with staged_output(out, "backtest"):
            raise RuntimeError("this run fails too")
    assert json.loads((out / "metrics.json").read_text()) == {"run": 1}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]


def test_a_failed_swap_by_rename_aside_puts_the_old_results_back(tmp_path, monkeypatch):
    import os

    import qfin.data._output as output

    out = tmp_path / "run"
    _earlier(out)
    real = os.replace

    def replace(src, dst):
        if "-stage-" in os.fspath(src):
            raise OSError(5, "Input/output error")
        return real(src, dst)

    monkeypatch.setattr(output, "_exchange", lambda a, b: False)
    monkeypatch.setattr(output.os, "replace", replace)
    with pytest.raises(OSError, match="Input/output"):
        with staged_output(out, "backtest") as staging:
            (staging / "metrics.json").write_text('{"run": 2}')
    assert json.loads((out / "metrics.json").read_text()) == {"run": 1}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]


@pytest.mark.parametrize("make, fragment", [
    (lambda p: p.write_text("x"), "is a file, not a folder"),
    (lambda p: p.symlink_to(p.parent), "is a symbolic link"),
])
def test_check_output_dir_refuses_files_and_links(tmp_path, make, fragment):
    from qfin.data import check_output_dir

    make(tmp_path / "out")
    with pytest.raises(QfinError, match=fragment):
        check_output_dir(tmp_path / "out", "backtest")


def test_check_output_dir_refuses_an_unwritable_parent(tmp_path, monkeypatch):
    import os

    from qfin.data import check_output_dir

    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    if os.geteuid() == 0:  # root may write anywhere; ask os.access what it would answer a user
        import qfin.data._output as output

        real = os.access
        monkeypatch.setattr(output.os, "access", lambda p, mode: str(p) != str(locked) and real(p, mode))
    with pytest.raises(QfinError, match=r"locked/a/b: no permission to write in .*locked"):
        check_output_dir(locked / "a" / "b", "backtest")
    assert list(locked.iterdir()) == []


def test_recorded_files_replace_only_what_qfin_wrote_and_leave_the_rest(tmp_path):
    from qfin import report
    from qfin.data import read_manifest, recorded_files

    (tmp_path / "notes.txt").write_text("mine")
    with recorded_files(tmp_path, "dp", ["p.html", "p.png"], spec_hash="sha256:1"):
        report.write_files(tmp_path, {"p.html": "one", "p.png": b"1"})
    with recorded_files(tmp_path, "dp", ["p.html", "p.png"], spec_hash="sha256:2"):
        report.write_files(tmp_path, {"p.html": "two", "p.png": b"2"})
    assert (tmp_path / "p.html").read_text() == "two" and (tmp_path / "notes.txt").read_text() == "mine"
    files = read_manifest(tmp_path)["files"]
    assert set(files) == {"p.html", "p.png"} and files["p.png"]["spec_hash"] == "sha256:2"
    assert files["p.png"]["bytes"] == 1
    (tmp_path / "q.html").write_text("the user's q")
    with pytest.raises(QfinError, match=r"q\.html exists and was not written by qfin dp"):
        with recorded_files(tmp_path, "dp", ["q.html", "q.png"]):
            raise AssertionError("never reached")
    assert (tmp_path / "q.html").read_text() == "the user's q" and not (tmp_path / "q.png").exists()


def test_recorded_files_restore_the_manifest_when_the_write_fails(tmp_path):
    from qfin.data import recorded_files

    with pytest.raises(RuntimeError):
        with recorded_files(tmp_path, "dp", ["p.html"]):
            raise RuntimeError("render failed")
    assert list(tmp_path.iterdir()) == []
    with recorded_files(tmp_path, "dp", ["p.html"]):
        (tmp_path / "p.html").write_text("one")
    before = (tmp_path / MANIFEST).read_bytes()
    with pytest.raises(RuntimeError):
        with recorded_files(tmp_path, "dp", ["p.html", "r.html"]):
            raise RuntimeError("render failed")
    assert (tmp_path / MANIFEST).read_bytes() == before


def test_recorded_files_refuse_another_writers_folder(tmp_path):
    from qfin.data import recorded_files

    _earlier(tmp_path / "run")
    with pytest.raises(QfinError, match="holds a qfin backtest output; qfin writes dp files only"):
        with recorded_files(tmp_path / "run", "dp", ["p.html"]):
            pass


@pytest.mark.parametrize("name", [".", ".."])
def test_an_out_folder_without_a_name_is_refused(tmp_path, monkeypatch, name):
    from qfin.data import check_output_dir

    monkeypatch.chdir(tmp_path)
    with pytest.raises(QfinError, match=r"give the backtest output folder by name \(e\.g\. \./run\)"):
        check_output_dir(Path(name), "backtest")
