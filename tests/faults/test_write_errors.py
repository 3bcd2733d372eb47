"""Make the write path raise between steps (the Parquet or CSV write, a figure, the report, the manifest, the swap,
the rename of a file written in place) and check that the earlier output is intact byte for byte, that nothing
half-written or staged is left beside it, and that the next clean run succeeds."""

from __future__ import annotations

import os
from pathlib import Path

import polars as pl
import pytest

import qfin.data._io as io_module
import qfin.data._output as output
from qfin import report
from tests.faults._writers import WRITERS, snapshot


class Injected(OSError):
    """The fault: what a full disk or a yanked drive would raise."""


def _raise(*args, **kwargs):
    raise Injected(28, "No space left on device (injected)")


def parquet_write(mp):
    mp.setattr(pl.DataFrame, "write_parquet", _raise)


def csv_write(mp):
    mp.setattr(pl.DataFrame, "write_csv", _raise)


def report_write(mp):
    mp.setattr(report, "write_files", _raise)


def figure_render(mp):
    mp.setattr(report, "png_bytes", _raise)


def manifest_write(mp):
    mp.setattr(output, "_write_manifest", _raise)


def swap_rename_aside(mp):
    """No atomic exchange (a non-Linux OS): the old folder is moved aside, then the rename of the new one fails."""
    real = os.replace

    def replace(src, dst, **kwargs):
        if "-stage-" in os.fspath(src):
            raise Injected(5, "Input/output error (injected)")
        return real(src, dst, **kwargs)

    mp.setattr(output, "_exchange", lambda a, b: False)
    mp.setattr(output.os, "replace", replace)


def swap_exchange(mp):
    mp.setattr(output, "_exchange", _raise)


def heatmap(mp):
    import qfin.backtests._sweep as sweep

    mp.setattr(sweep, "_heatmap", _raise)


def woe_chart(mp):
    from qfin.scorecards import _report

    mp.setattr(_report, "woe_chart", _raise)


def hedge_metrics(mp):
    import qfin.hedging._experiment as experiment

    mp.setattr(experiment, "strict_json", _raise)


def second_logged_dataset(mp):
    """OPE: the first logged dataset is written, the second write fails."""
    import qfin.ope._experiment as experiment

    real, calls = experiment.save_logged, []

    def save(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            _raise()
        return real(*args, **kwargs)

    mp.setattr(experiment, "save_logged", save)


def page_bytes(mp):
    """The page's temporary file fails half-way: its PNG sibling is already written to its temporary."""
    real = Path.write_bytes

    def write_bytes(self, data):
        if self.suffix == ".html":
            real(self, data[: len(data) // 2])
            _raise()
        return real(self, data)

    mp.setattr(Path, "write_bytes", write_bytes)


def file_rename(mp):
    """The rename of a file written in place (atomic_path) fails."""
    mp.setattr(io_module.os, "replace", _raise)


FAULTS = {  # the generic faults (manifest, swap) at length on the backtest; each writer its own write steps
    "backtest": [parquet_write, report_write, figure_render, manifest_write, swap_exchange, swap_rename_aside],
    "sweep": [csv_write, heatmap, manifest_write],
    "scorecard": [woe_chart, csv_write],
    "hedge": [hedge_metrics, report_write],
    "ope": [second_logged_dataset, report_write],
    "dp": [figure_render, report_write, page_bytes, file_rename],
    "import": [parquet_write, file_rename],
}


@pytest.mark.parametrize("name", list(FAULTS))
def test_a_failing_write_leaves_the_earlier_output_byte_for_byte(name, tmp_path, monkeypatch):
    writer = WRITERS[name]
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    a, b = writer.write_config(tmp_path / "a", "a"), writer.write_config(tmp_path / "b", "b")
    outs = tmp_path / "outs"
    outs.mkdir()
    out = outs / "out"
    if name == "dp":
        out.mkdir()
        (out / "notes.txt").write_text("mine")
    writer.run(a, out)
    watched = out / "data" if name == "import" else out
    before = snapshot(watched)
    assert before
    for fault in FAULTS[name]:
        with monkeypatch.context() as mp:
            fault(mp)
            with pytest.raises(Injected):
                writer.run(b, out)
        assert snapshot(watched) == before, f"{name}: {fault.__name__} changed the earlier output"
        assert os.listdir(outs) == ["out"], f"{name}: {fault.__name__} left {os.listdir(outs)}"
        hidden = sorted(n for n in os.listdir(watched) if n.startswith(".") and n != ".qfin-manifest.json")
        assert hidden == [], f"{name}: {fault.__name__} left {hidden}"
    writer.run(b, out)
    assert snapshot(watched) != before and os.listdir(outs) == ["out"]
