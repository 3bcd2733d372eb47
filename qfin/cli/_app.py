"""One way to make a command group: help printed verbatim (no rich markup, so `[hedger]` in a help text stays
and flags show no `<bool>` metavar), and a bare group prints its help."""

from __future__ import annotations

import typer


def command_group(help: str, **options) -> typer.Typer:
    """A Typer app whose help texts are shown as written."""
    return typer.Typer(help=help, no_args_is_help=True, rich_markup_mode=None, **options)
