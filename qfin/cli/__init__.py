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
from qfin.cli._tune import tune_command
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
app.command("tune")(tune_command)


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
    """Console-script entry: run the app. A qfin error (bad input) is its one line and exit code 1; any other
    error is a bug: one line naming it and the log file with its traceback, and exit code 2."""
    from qfin.cli._crash import log_traceback, one_line

    stderr = Console(stderr=True, soft_wrap=True)
    try:
        app()
    except QfinError as err:
        stderr.print(f"[bold red]error:[/] {escape(str(err))}")
        sys.exit(1)
    except Exception as err:  # every unexpected error ends here, as one line
        path = log_traceback(err)
        stderr.print(f"[bold red]error:[/] unexpected {escape(type(err).__name__)}: {escape(one_line(err))} "
                     f"(a qfin bug: the full traceback is in {escape(str(path))}; please report it)")
        sys.exit(2)
