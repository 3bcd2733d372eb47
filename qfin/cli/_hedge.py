"""`qfin hedge train CONFIG --out DIR` and `qfin hedge report DIR`: the Adam vs K-FAC deep-hedging comparison."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from qfin.cli._app import command_group
from qfin.cli._parallel import ADDRESS, BACKEND, WORKERS, parallel_options
from qfin.cli._tables import console
from qfin.errors import SpecError

hedge_app = command_group("Deep hedging under calibrated Heston: LSTM hedger, Adam vs K-FAC, baselines.")

REPORTED = ("mean", "std", "cvar_95", "entropic", "costs")


@hedge_app.command("train")
def train_command(
    config: Path = typer.Argument(...,
                                  help="TOML of ExperimentConfig keys, with a [hedger] table of HedgerConfig keys."),
    out: Path = typer.Option(Path("runs") / "hedging", "--out", "-o", help="Folder for metrics.json and report.html."),
    backend: str = BACKEND, workers: int = WORKERS, address: str = ADDRESS,
    threads: int = typer.Option(1, "--threads", min=1, help="Torch threads for training (torch.set_num_threads)."),
) -> None:
    """Train Adam and K-FAC hedgers from the same initialisation and paths, evaluate every strategy on one test
    bank, write metrics.json and report.html, and print the comparison (``--threads``: torch's intra-op threads of
    every training run)."""
    from qfin.hedging import load_experiment_config, run_hedging_experiment

    experiment = load_experiment_config(config)
    import torch

    torch.set_num_threads(threads)
    summary = run_hedging_experiment(experiment, out, **parallel_options(backend, workers, address))
    console().print(_table(summary, f"{config.name}: test bank, {experiment.n_test:,} paths"))
    console().print(f"wrote {out}/metrics.json, {out}/report.html")


@hedge_app.command("report")
def report_command(run: Path = typer.Argument(..., help="A folder written by `qfin hedge train`.")) -> None:
    """Print the comparison table of a finished run."""
    path = run / "metrics.json"
    if not path.exists():
        raise SpecError(f"{run}: no metrics.json; give a folder written by `qfin hedge train`")
    console().print(_table(json.loads(path.read_text()), str(run)))


def _table(summary: dict[str, Any], title: str) -> Table:
    table = Table("strategy", *REPORTED, title=title)
    for name, row in summary["strategies"].items():
        table.add_row(name, *("n/a" if row[key] is None else f"{row[key]:.4f}" for key in REPORTED))
    return table
