"""The `qfin` command: parses arguments, calls the library, prints. Nothing imports this module.

Sub-command groups live in their own modules (`_data.py`, ...). Library imports happen inside the
commands so that `qfin --help` stays fast.
"""

from __future__ import annotations

import sys

import typer
from rich.console import Console
from rich.markup import escape

from qfin import __version__
from qfin.cli._app import command_group
from qfin.cli._backtest import backtest_command
from qfin.cli._data import data_app
from qfin.cli._dp import dp_app
from qfin.cli._hedge import hedge_app
from qfin.cli._kline import kline_app
from qfin.cli._ope import ope_app
from qfin.cli._scorecard import scorecard_app
from qfin.cli._sweep import sweep_command
from qfin.cli._train import train_app
from qfin.errors import QfinError

app = command_group(
    "qfin: quantitative-finance RL and risk-modelling toolkit.",
    name="qfin",
    add_completion=False,
    pretty_exceptions_show_locals=False,
)
app.add_typer(data_app, name="data")
app.add_typer(dp_app, name="dp")
app.add_typer(hedge_app, name="hedge")
app.add_typer(kline_app, name="kline")
app.add_typer(ope_app, name="ope")
app.add_typer(scorecard_app, name="scorecard")
app.add_typer(train_app, name="train")
app.command("backtest")(backtest_command)
app.command("sweep")(sweep_command)


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"qfin {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", help="Print the version and exit.",
                                 callback=_print_version, is_eager=True),
) -> None:
    """qfin: quantitative-finance RL and risk-modelling toolkit."""


def main() -> None:
    """Console-script entry: run the app, turning qfin errors into a message and exit code 1."""
    try:
        app()
    except QfinError as err:
        Console(stderr=True, soft_wrap=True).print(f"[bold red]error:[/] {escape(str(err))}")
        sys.exit(1)
