"""SIGKILL a real ``python -m qfin ...`` at several points of its run (when its staging folder or temporary file
appears, then at seeded random times near the end of the work) and check what a user would find: the earlier results
byte for byte (or, past the swap, the complete new ones; never a mix, never half a file), nothing half-written
visible, only the documented leftovers, which the next run clears; and a rerun equals an uninterrupted run.

Documented leftovers of a killed run: a staging folder ``.<out>.qfin-<pid>-stage-*`` beside a staged output folder
(removed by the next run into that folder), hidden ``.<name>.tmp-*`` files beside a file written in place (an
imported dataset, dp's page and figure; removed by the next write of that name).
"""

from __future__ import annotations

import json
import os
import random
import re
from pathlib import Path

import pytest

from qfin.data import MANIFEST
from tests.faults._writers import WRITERS, Writer, comparable, kill_qfin, qfin_env, snapshot

STAGING = re.compile(r"\.out\.qfin-\d+-(stage|old)-.+")
TEMPORARY = {"dp": re.compile(r"\.betting\.tmp-.+\.(html|png)|\.qfin-manifest\.json\.tmp-.+"),
             "import": re.compile(r"\.bars\.tmp-.+\.parquet")}
RESULTS = {"dp": ("betting.html", "betting.png"), "import": ("bars.parquet",)}
NOTES = "the user's own notes, not qfin's"


class Layout:
    """Where one writer's output lives under ``tmp``: ``watched`` is the folder in which its staging folder or
    temporary files appear, ``result`` the folder compared."""

    def __init__(self, writer: Writer, tmp: Path):
        self.writer, self.tmp = writer, tmp
        self.outs = tmp / "outs"
        self.out = self.outs / "out"
        self.result = self.out / "data" if writer.name == "import" else self.out
        self.watched = self.outs if writer.owns_folder else self.result
        self.home = self.out if writer.name == "import" else tmp / "home"

    def visible(self) -> dict[str, object]:
        """The result a user sees, made comparable; leftovers (documented temporaries) are not part of it."""
        files = snapshot(self.result)
        if self.writer.owns_folder:
            return comparable(files, self.writer.volatile)
        shown = {name: data for name, data in files.items() if not TEMPORARY[self.writer.name].fullmatch(name)}
        if MANIFEST in shown:
            shown[MANIFEST] = sorted(json.loads(shown[MANIFEST])["files"])  # dp: the names it recorded
        return shown

    def leftovers(self) -> list[str]:
        if self.writer.owns_folder:
            return sorted(n for n in os.listdir(self.outs) if n != "out")
        return sorted(n for n in os.listdir(self.result) if TEMPORARY[self.writer.name].fullmatch(n))

    def appeared(self, before: set[str]):
        """A predicate: a staging folder or temporary file not in ``before`` has appeared in ``watched``."""
        pattern = STAGING if self.writer.owns_folder else TEMPORARY[self.writer.name]

        def check() -> bool:
            try:
                names = os.listdir(self.watched)
            except FileNotFoundError:
                return False
            return any(pattern.fullmatch(n) and n not in before for n in names)

        return check


def _prepare(writer: Writer, tmp: Path):
    (tmp / "a").mkdir()
    (tmp / "b").mkdir()
    layout = Layout(writer, tmp)
    layout.outs.mkdir()
    a, b = writer.write_config(tmp / "a", "a"), writer.write_config(tmp / "b", "b")
    if writer.name == "dp":
        layout.out.mkdir()
        (layout.out / "notes.txt").write_text(NOTES)  # dp adds files to a folder: the user's stay
    writer.run(a, layout.out)  # the earlier results
    earlier = layout.visible()
    reference = Layout(writer, tmp / "ref")
    reference.outs.mkdir(parents=True)
    if writer.name == "dp":
        reference.out.mkdir()
        (reference.out / "notes.txt").write_text(NOTES)
    writer.run(b, reference.out)  # the uninterrupted run of B
    assert reference.visible() != earlier, "the two configurations must give different results"
    return layout, b, earlier, reference.visible()


def _assert_intact_or_complete(layout: Layout, earlier, complete, killed) -> None:
    seen = layout.visible()
    if layout.writer.owns_folder:
        assert seen in (earlier, complete), f"{layout.writer.name}: after the kill the folder is neither the earlier " \
                                            f"results nor the complete new ones ({killed})"
        assert all(STAGING.fullmatch(n) for n in layout.leftovers()), layout.leftovers()
    else:
        for name in RESULTS[layout.writer.name]:
            assert seen.get(name) in (earlier[name], complete[name]), f"{name} is half-written or lost ({killed})"
        if layout.writer.name == "dp":
            assert seen["notes.txt"] == NOTES.encode()
            assert set(RESULTS["dp"]) <= set(seen[MANIFEST])


def _kill_points(writer: Writer, tmp: Path, n_random: int, seed: int, rerun_cli: bool) -> list[str]:
    layout, config, earlier, complete = _prepare(writer, tmp)
    env = qfin_env(layout.home)
    args = writer.cli(config, layout.out)
    first = kill_qfin(args, tmp, env, when=layout.appeared(set(os.listdir(layout.watched))))
    assert first.killed or "Traceback" not in first.stderr, first.stderr
    outcomes = [f"at staging: {'killed' if first.killed else 'finished'} after {first.seconds:.2f} s"]
    _assert_intact_or_complete(layout, earlier, complete, outcomes[-1])
    rng = random.Random(seed)
    delay = rng.uniform(0.0, 0.3)  # into the writing: parquet, CSV, figures, report, manifest, swap
    during = kill_qfin(args, tmp, env, when=layout.appeared(set(os.listdir(layout.watched))), delay=delay)
    outcomes.append(f"{delay:.2f} s after staging: {'killed' if during.killed else 'finished'}")
    _assert_intact_or_complete(layout, earlier, complete, outcomes[-1])
    for _ in range(n_random):
        delay = rng.uniform(0.5, 1.05) * first.seconds
        kill = kill_qfin(args, tmp, env, delay=delay)
        outcomes.append(f"at {delay:.2f} s: {'killed' if kill.killed else 'finished'}")
        assert kill.killed or "Traceback" not in kill.stderr, kill.stderr
        _assert_intact_or_complete(layout, earlier, complete, outcomes[-1])
    if rerun_cli:
        done = kill_qfin(args, tmp, env, delay=1e9)
        assert not done.killed and "error" not in done.stderr.lower(), done.stderr
    else:
        writer.run(config, layout.out)
    assert layout.visible() == complete, f"{writer.name}: the rerun differs from an uninterrupted run ({outcomes})"
    assert layout.leftovers() == [], f"{writer.name}: the rerun left {layout.leftovers()} ({outcomes})"
    if writer.name == "dp":
        assert (layout.out / "notes.txt").read_text() == NOTES
    return outcomes


FAST = ["backtest", "sweep", "dp", "import"]
HEAVY = ["scorecard", "hedge", "ope"]  # each run imports sklearn/xgboost, torch or gymnasium: seconds per process


@pytest.mark.parametrize("name", FAST)
def test_sigkill_at_the_staging_folder_and_near_the_end(name, tmp_path):
    _kill_points(WRITERS[name], tmp_path, n_random=1, seed=17, rerun_cli=False)


@pytest.mark.slow
@pytest.mark.parametrize("name", HEAVY)
def test_sigkill_heavy_writers_at_the_staging_folder_and_near_the_end(name, tmp_path):
    _kill_points(WRITERS[name], tmp_path, n_random=1, seed=17, rerun_cli=False)


@pytest.mark.slow
@pytest.mark.parametrize("name", FAST + HEAVY)
def test_sigkill_at_many_random_points_then_the_command_again(name, tmp_path):
    _kill_points(WRITERS[name], tmp_path, n_random=6, seed=2026, rerun_cli=True)
