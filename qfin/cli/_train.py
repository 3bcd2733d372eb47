"""`qfin train portfolio|hedging CONFIG.toml`: train Stable-Baselines3 agents on qfin environments, one per seed."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from qfin.cli._app import command_group
from qfin.cli._parallel import ADDRESS, BACKEND, WORKERS, parallel_options
from qfin.cli._tables import console

train_app = command_group("Train agents on qfin environments (Stable-Baselines3).")


def _train(kind: str, config: Path, progress: bool, backend: str, workers: int | None, address: str | None) -> None:
    from qfin.agents import train_from_config

    options = {**parallel_options(backend, workers, address), "progress": progress}
    results = train_from_config(config, kind=kind, **options)
    table = Table("seed run", "timesteps", "best validation reward", title=f"{kind}: {config}")
    for result in results:
        best = result.best_eval_reward
        table.add_row(str(result.out_dir), str(result.agent.num_timesteps), "-" if best is None else f"{best:.4f}")
    console().print(table)


@train_app.command("portfolio")
def portfolio_command(
    config: Path = typer.Argument(..., help="Training config (TOML); keys in qfin/agents/_config.py."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show a progress bar."),
    backend: str = BACKEND, workers: int = WORKERS, address: str = ADDRESS,
) -> None:
    """Train on PortfolioEnv; the saved agent runs in backtests as kind = "agent"."""
    _train("portfolio", config, progress, backend, workers, address)


@train_app.command("hedging")
def hedging_command(
    config: Path = typer.Argument(..., help="Training config (TOML); keys in qfin/agents/_config.py."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show a progress bar."),
    backend: str = BACKEND, workers: int = WORKERS, address: str = ADDRESS,
) -> None:
    """Train on HedgingEnv."""
    _train("hedging", config, progress, backend, workers, address)
