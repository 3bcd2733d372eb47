"""One progress bar for long work (layer 0): sweeps, backtest fits, OPE rollouts.

DESIGN.md section 4 asks for rich progress bars on long work; this is the one way qfin draws them, on stderr
(so tables piped from stdout stay clean) and transient (gone when the work is done). rich is imported only when a
bar is shown.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

__all__ = ["progress_bar"]


@contextmanager
def progress_bar(total: int, description: str, enabled: bool = True) -> Iterator[Callable[..., None]]:
    """A bar of ``total`` steps; the context value advances it by one (any arguments are ignored, so it can be
    passed as a callback). Disabled, or with nothing to do, it draws nothing and the callback does nothing."""
    if not enabled or total <= 0:
        yield lambda *_: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task(description, total=total)
        yield lambda *_: bar.advance(task)
