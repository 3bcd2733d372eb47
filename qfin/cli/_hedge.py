"""`qfin hedge train CONFIG --out DIR` and `qfin hedge report DIR`: the Adam vs K-FAC deep-hedging comparison."""

from __future__ import annotations

import dataclasses
import json
import tomllib
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from qfin.cli._app import command_group
from qfin.cli._tables import console
from qfin.errors import SpecError

hedge_app = command_group("Deep hedging under calibrated Heston: LSTM hedger, Adam vs K-FAC, baselines.")

REPORTED = ("mean", "std", "cvar_95", "entropic", "costs")


@hedge_app.command("train")
def train_command(
    config: Path = typer.Argument(...,
                                  help="TOML of ExperimentConfig keys, with a [hedger] table of HedgerConfig keys."),
    out: Path = typer.Option(Path("runs") / "hedging", "--out", "-o", help="Folder for metrics.json and report.html."),
) -> None:
    """Train Adam and K-FAC hedgers from the same initialisation and paths, evaluate every strategy on one test
    bank, write metrics.json and report.html, and print the comparison."""
    from qfin.hedging import ExperimentConfig, HedgerConfig, run_hedging_experiment

    raw = _read_toml(config)
    hedger = _build(HedgerConfig, raw.pop("hedger", {}), f"{config} [hedger]")
    experiment = _build(ExperimentConfig, {**raw, "hedger": hedger}, str(config))
    summary = run_hedging_experiment(experiment, out)
    console().print(_table(summary, f"{config.name}: test bank, {experiment.n_test:,} paths"))
    console().print(f"wrote {out}/metrics.json, {out}/report.html")


@hedge_app.command("report")
def report_command(run: Path = typer.Argument(..., help="A folder written by `qfin hedge train`.")) -> None:
    """Print the comparison table of a finished run."""
    path = run / "metrics.json"
    if not path.exists():
        raise SpecError(f"{run}: no metrics.json; give a folder written by `qfin hedge train`")
    console().print(_table(json.loads(path.read_text()), str(run)))


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise SpecError(f"{path}: no such file") from None
    except tomllib.TOMLDecodeError as err:
        raise SpecError(f"{path}: not valid TOML ({err})") from None


def _build(cls: type, values: dict[str, Any], where: str) -> Any:
    """A config dataclass from TOML values; unknown keys are named together with the accepted ones."""
    if not isinstance(values, dict):
        raise SpecError(f"{where}: expected a table of keys")
    accepted = [f.name for f in dataclasses.fields(cls) if f.name != "hedger"]
    unknown = sorted(set(values) - set(accepted) - {"hedger"})
    if unknown:
        raise SpecError(f"{where}: unknown key(s) {', '.join(unknown)}; accepted: {', '.join(accepted)}")
    if "seeds" in values:
        values = {**values, "seeds": tuple(values["seeds"])}
    try:
        return cls(**values)
    except TypeError as err:
        raise SpecError(f"{where}: {err}") from None


def _table(summary: dict[str, Any], title: str) -> Table:
    table = Table("strategy", *REPORTED, title=title)
    for name, row in summary["strategies"].items():
        table.add_row(name, *(f"{row[key]:.4f}" for key in REPORTED))
    return table
