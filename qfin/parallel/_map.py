"""`map(fn, items)` and `run_jobs(job, tasks)` over local worker processes or a Ray cluster, results in input
order, with a progress bar.

Tasks must be picklable top-level functions (module-level, not lambdas) and their items picklable values. A job is
a function of ``(config, seed)``: all of its randomness comes from the seed, so a task gives the same numbers in
this process, in a worker process or on any Ray node. The Ray backend is the optional extra `qfin[ray]`
(:func:`qfin.parallel.connect`: joins the cluster at ``address``, or starts a local Ray; an already initialised Ray
is reused as it is). A Ray task whose worker process or node dies is run again, up to :data:`RAY_TASK_RETRIES`
times (Ray's ``max_retries``); an exception raised by the task itself is not retried and reaches the caller.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import Any, TypeVar

from qfin.errors import QfinError
from qfin.parallel._ray import connect
from qfin.progress import progress_bar

T = TypeVar("T")
R = TypeVar("R")

BACKENDS = ("local", "ray")
RAY_TASK_RETRIES = 3

__all__ = ["BACKENDS", "RAY_TASK_RETRIES", "map", "run_jobs"]


def map(fn: Callable[[T], R], items: Iterable[T], *, backend: str = "local", n_workers: int | None = None,
        address: str | None = None, progress: bool = True, description: str = "tasks") -> list[R]:
    """Apply ``fn`` to every item and return the results in the items' order.

    Parameters
    ----------
    fn : a picklable function of one argument.
    items : the arguments; materialised into a list first.
    backend : "local" (a process pool; ``n_workers=1`` runs in this process) or "ray".
    n_workers : local processes (default: the machine's cores); with Ray, the CPUs of a local Ray it starts (a
        cluster schedules by its own resources).
    address : Ray cluster address ("auto", "ray://host:10001"); None starts or reuses a local Ray.
    progress : show a rich progress bar on stderr.
    description : the progress bar's label.
    """
    if backend not in BACKENDS:
        raise QfinError(f"unknown parallel backend {backend!r}; accepted: {', '.join(BACKENDS)}")
    if address is not None and backend != "ray":
        raise QfinError(f"--address {address} needs --backend ray (the local backend runs on this machine)")
    tasks = list(items)
    if not tasks:
        return []
    with progress_bar(len(tasks), description, progress) as advance:
        if backend == "ray":
            return _map_ray(fn, tasks, address, n_workers, advance)
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


def run_jobs(job: Callable[[Any, int], R], tasks: Iterable[tuple[Any, int]], **options: Any) -> list[R]:
    """Run ``job(config, seed)`` for every ``(config, seed)`` of ``tasks``; results in the tasks' order.

    ``options`` are :func:`map`'s (backend, n_workers, address, progress, description)."""
    return map(_JobCall(job), tasks, **options)


class _JobCall:
    """``job`` taking one ``(config, seed)`` item: a picklable stand-in for ``lambda t: job(*t)``."""

    def __init__(self, job: Callable[[Any, int], Any]) -> None:
        self.job = job

    def __call__(self, task: tuple[Any, int]) -> Any:
        config, seed = task
        return self.job(config, seed)


def _map_ray(fn: Callable[[T], R], tasks: Sequence[T], address: str | None, n_workers: int | None,
             advance: Callable[[], None]) -> list[R]:
    ray = connect(address, num_cpus=n_workers)
    remote_apply = ray.remote(max_retries=RAY_TASK_RETRIES, retry_exceptions=False)(_apply)
    fn_ref = ray.put(fn)  # shipped once, not once per task
    refs = [remote_apply.remote(fn_ref, item) for item in tasks]
    index = {ref: i for i, ref in enumerate(refs)}
    results: list[Any] = [None] * len(tasks)
    pending = list(refs)
    while pending:
        done, pending = ray.wait(pending, num_returns=1)
        for ref in done:
            results[index[ref]] = ray.get(ref)
            advance()
    return results


def _apply(fn: Callable[[T], R], item: T) -> R:
    """The Ray task: ``fn(item)`` (a function, so that any picklable callable can be the task)."""
    return fn(item)
