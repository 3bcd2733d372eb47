"""`map(fn, items)` over local worker processes or a Ray cluster, results in input order, with a progress bar.

Tasks must be picklable top-level functions (module-level, not lambdas) and their items picklable values.
The Ray backend is the optional extra `qfin[ray]`: `ray.init(address=...)` joins a running cluster, or starts a
local one when no address is given; an already initialised Ray is reused as it is.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import Any, TypeVar

from qfin.errors import QfinError
from qfin.progress import progress_bar

T = TypeVar("T")
R = TypeVar("R")

BACKENDS = ("local", "ray")

__all__ = ["BACKENDS", "map"]


def map(fn: Callable[[T], R], items: Iterable[T], *, backend: str = "local", n_workers: int | None = None,
        address: str | None = None, progress: bool = True, description: str = "tasks") -> list[R]:
    """Apply ``fn`` to every item and return the results in the items' order.

    Parameters
    ----------
    fn : a picklable function of one argument.
    items : the arguments; materialised into a list first.
    backend : "local" (a process pool; ``n_workers=1`` runs in this process) or "ray".
    n_workers : local processes (default: the machine's cores); ignored by Ray, which schedules by its resources.
    address : Ray cluster address ("auto", "ray://host:10001"); None starts or reuses a local Ray.
    progress : show a rich progress bar on stderr.
    description : the progress bar's label.
    """
    if backend not in BACKENDS:
        raise QfinError(f"unknown parallel backend {backend!r}; accepted: {', '.join(BACKENDS)}")
    tasks = list(items)
    if not tasks:
        return []
    with progress_bar(len(tasks), description, progress) as advance:
        if backend == "ray":
            return _map_ray(fn, tasks, address, advance)
        workers = min(n_workers or os.cpu_count() or 1, len(tasks))
        if workers <= 1:
            results = []
            for item in tasks:
                results.append(fn(item))
                advance()
            return results
        return _map_processes(fn, tasks, workers, advance)


def _map_processes(fn: Callable[[T], R], tasks: Sequence[T], workers: int, advance: Callable[[], None]) -> list[R]:
    results: list[Any] = [None] * len(tasks)
    # spawn, not fork: forking a process that holds threads (Ray, torch, polars pools) can deadlock the child.
    with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = {pool.submit(fn, item): index for index, item in enumerate(tasks)}
        for future in as_completed(futures):
            results[futures[future]] = future.result()
            advance()
    return results


def _map_ray(fn: Callable[[T], R], tasks: Sequence[T], address: str | None, advance: Callable[[], None]) -> list[R]:
    try:
        import ray
    except ImportError as err:  # pragma: no cover - depends on the install
        raise QfinError("the ray backend needs Ray: pip install 'qfin[ray]'") from err
    if not ray.is_initialized():
        ray.init(address=address, include_dashboard=False, log_to_driver=False, ignore_reinit_error=True)
    remote_fn = ray.remote(fn)
    refs = [remote_fn.remote(item) for item in tasks]
    index = {ref: i for i, ref in enumerate(refs)}
    results: list[Any] = [None] * len(tasks)
    pending = list(refs)
    while pending:
        done, pending = ray.wait(pending, num_returns=1)
        for ref in done:
            results[index[ref]] = ray.get(ref)
            advance()
    return results


