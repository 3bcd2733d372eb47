"""An error qfin did not expect (a bug) prints one line naming it and the log that holds the traceback; bad input
stays a plain one-line error with exit code 1."""

from __future__ import annotations

import os
import subprocess
import sys

CRASH = """
import runpy, sys
import qfin.data
def broken():
    raise RuntimeError("disk on fire\\nsecond line")
qfin.data.list_datasets = broken
sys.argv = ["qfin", "data", "list"]
runpy.run_module("qfin", run_name="__main__")
"""


def test_an_unexpected_error_is_one_line_and_its_traceback_is_logged(tmp_path):
    env = dict(os.environ, QFIN_HOME=str(tmp_path / "home"), COLUMNS="300")
    done = subprocess.run([sys.executable, "-c", CRASH], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    assert "unexpected RuntimeError: disk on fire (a qfin bug" in lines[0] and "second line" not in lines[0]
    logs = list((tmp_path / "home" / "logs").glob("crash-*.log"))
    assert len(logs) == 1 and str(logs[0]) in lines[0]
    text = logs[0].read_text()
    assert "Traceback" in text and "disk on fire" in text and "in broken" in text


def test_bad_input_is_still_exit_code_1_without_a_log(tmp_path):
    env = dict(os.environ, QFIN_HOME=str(tmp_path / "home"))
    done = subprocess.run([sys.executable, "-m", "qfin", "data", "show", "no_such_dataset"], capture_output=True,
                          text=True, env=env, timeout=120)
    assert done.returncode == 1 and done.stderr.startswith("error:") and "Traceback" not in done.stderr
    assert not (tmp_path / "home" / "logs").exists()
