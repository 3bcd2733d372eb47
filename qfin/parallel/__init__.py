"""One way to run many jobs (layer 0): local processes by default, Ray when asked (a local Ray or a cluster).

``map(fn, items)`` and ``run_jobs(job, [(config, seed), ...])`` return results in the order asked; ``connect``
joins Ray with one-line errors; ``qfin.parallel.tune`` runs a Ray Tune search over an iterative job.
"""

from qfin.parallel._map import BACKENDS, RAY_TASK_RETRIES, map, run_jobs
from qfin.parallel._ray import CONNECT_TIMEOUT_S, connect

__all__ = ["BACKENDS", "CONNECT_TIMEOUT_S", "RAY_TASK_RETRIES", "connect", "map", "run_jobs"]
