"""Picklable jobs for the qfin.parallel tests (module-level, so worker processes and Ray nodes import them)."""

from __future__ import annotations

import os
import time

import numpy as np


def seeded_draws(config: dict, seed: int) -> dict:
    """A job of (config, seed): every number from the seed, so any backend must give the same bytes."""
    rng = np.random.default_rng(seed)
    x = rng.normal(config["mu"], config["sigma"], size=config["n"])
    time.sleep(config.get("sleep", 0.0))
    return {"seed": seed, "mean": float(x.mean()), "std": float(x.std(ddof=1)), "sum": float(x.sum()),
            "pid": os.getpid()}


def draws_reference(config: dict, seed: int) -> dict:
    """The same numbers computed independently of any backend (in this process)."""
    x = np.random.default_rng(seed).normal(config["mu"], config["sigma"], size=config["n"])
    return {"seed": seed, "mean": float(x.mean()), "std": float(x.std(ddof=1)), "sum": float(x.sum())}


def counted_steps(config: dict, seed: int, state: dict | None):
    """An iterative job (qfin.parallel IterativeJob.run) whose worker process kills itself, once, on reaching
    iteration ``die_at``; every iteration it computes is logged to ``config["log"]``. Its metric at iteration i
    is the closed form ``seed + 0.5 * i`` (``value``), so what a restarted trial reports can be checked."""
    import signal
    from pathlib import Path

    done = 0 if state is None else int(state["done"])
    while True:
        step = done + 1
        marker = Path(config["log"] + ".died")
        if step == config["die_at"] and not marker.exists():
            marker.write_text("x")
            os.kill(os.getpid(), signal.SIGKILL)
        with open(config["log"], "a") as log:
            log.write(f"{step}\n")
        done = step
        yield {"value": seed + 0.5 * step}, {"done": done}


def logged_draws(config: dict, seed: int) -> dict:
    """:func:`seeded_draws`, each start of the task logged to ``config["log"]`` (retries show as extra lines)."""
    with open(config["log"], "a") as log:
        log.write(f"{seed}\n")
    return seeded_draws({k: v for k, v in config.items() if k != "log"}, seed)
