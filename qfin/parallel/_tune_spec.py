"""The `qfin tune` spec: a job, the metric it reports, a search space in TOML, a scheduler; checked before any work.

::

    job = "hedger"              # a name of the job registry (qfin tune --help lists them)
    metric = "entropic"         # a figure the job reports every iteration
    mode = "min"                # or "max"
    num_samples = 8             # draws of the random parameters (each grid point is run num_samples times)
    scheduler = "asha"          # or "fifo" (every trial runs to the end)
    search = "random"           # or "optuna" (Optuna's TPE sampler; needs `pip install optuna`, no grid)
    max_iterations = 8          # the job's iterations per trial (ASHA's max_t)
    grace_period = 2            # ASHA: iterations before a trial may be stopped
    reduction_factor = 2        # ASHA: keep the best 1/reduction_factor at each rung
    max_failures = 2            # a trial whose worker dies restarts from its last checkpoint this many times
    seed = 0                    # the job's seed (the same for every trial) and the sampler's
    [config]                    # fixed settings of the job
    n_train = 2048
    [space]
    lr = { type = "loguniform", low = 1e-4, high = 1e-1 }
    hidden = { type = "choice", values = [8, 16, 32] }
    batch_size = { type = "grid", values = [128, 256] }
    risk_aversion = { type = "uniform", low = 0.5, high = 2.0 }
    layers = { type = "randint", low = 1, high = 4 }        # high excluded, as numpy's
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from qfin.errors import SpecError
from qfin.specs import parse_model, read_toml

__all__ = ["SPACE_TYPES", "SearchDimension", "TuneSpec", "load_tune_spec", "search_space"]

SPACE_TYPES = ("choice", "uniform", "loguniform", "randint", "grid")


class SearchDimension(BaseModel):
    """One parameter's space: ``values`` for choice and grid, ``low``/``high`` for the others."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: str
    values: list[Any] | None = None
    low: float | None = None
    high: float | None = None


class TuneSpec(BaseModel):
    """A parsed tune spec (keys as in the module docstring)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    job: str
    metric: str
    mode: Literal["min", "max"] = "max"
    num_samples: int = Field(1, ge=1)
    scheduler: Literal["asha", "fifo"] = "fifo"
    search: Literal["random", "optuna"] = "random"
    max_iterations: int = Field(1, ge=1)
    grace_period: int = Field(1, ge=1)
    reduction_factor: int = Field(2, ge=2)
    max_failures: int = Field(2, ge=0)
    max_concurrent: int | None = Field(None, ge=1)
    seed: int = 0
    config: dict[str, Any] = {}
    space: dict[str, SearchDimension] = Field(min_length=1)


def load_tune_spec(path: str | Path) -> tuple[TuneSpec, Path]:
    """Read and check a tune spec; returns it and the folder its relative paths are resolved against."""
    path = Path(path)
    spec = parse_model(TuneSpec, read_toml(path, "tune spec"), path)
    for name, dimension in spec.space.items():
        check_dimension(f"space.{name}", dimension)
    grids = [name for name, d in spec.space.items() if d.type == "grid"]
    if spec.search == "optuna" and grids:
        raise SpecError(f"{path}: space.{grids[0]}: a grid needs search = \"random\"; with optuna use a choice")
    clash = sorted(set(spec.space) & set(spec.config))
    if clash:
        raise SpecError(f"{path}: space.{clash[0]} is also set in [config]; give each key in one of them")
    return spec, path.parent


def check_dimension(where: str, d: SearchDimension) -> None:
    """One-line SpecErrors naming the key: an unknown type, an empty choice, low > high, loguniform low <= 0."""
    if d.type not in SPACE_TYPES:
        raise SpecError(f"{where}.type: unknown space type {d.type!r}; accepted: {', '.join(SPACE_TYPES)}")
    if d.type in ("choice", "grid"):
        if d.low is not None or d.high is not None:
            raise SpecError(f"{where}: a {d.type} takes values = [...], not low/high")
        if not d.values:
            raise SpecError(f"{where}.values: a {d.type} needs at least one value; got {d.values!r}")
        return
    if d.values is not None:
        raise SpecError(f"{where}: a {d.type} takes low and high, not values")
    if d.low is None or d.high is None:
        raise SpecError(f"{where}: a {d.type} needs both low and high")
    if d.low > d.high or (d.type == "randint" and d.low == d.high):
        rule = "low < high (high is excluded)" if d.type == "randint" else "low <= high"
        raise SpecError(f"{where}: low {d.low:g} > high {d.high:g}; a {d.type} needs {rule}")
    if d.type == "randint" and (d.low != int(d.low) or d.high != int(d.high)):
        raise SpecError(f"{where}: a randint takes whole numbers; got low {d.low:g}, high {d.high:g}")
    if d.type == "loguniform" and d.low <= 0:
        raise SpecError(f"{where}.low: a loguniform needs 0 < low <= high; got low {d.low:g}")


def search_space(spec: TuneSpec) -> dict[str, Any]:
    """The Ray Tune ``param_space`` of ``spec.space`` (``tune.choice``, ``uniform``, ``loguniform``, ``randint``,
    ``grid_search``)."""
    from ray import tune

    space: dict[str, Any] = {}
    for name, d in spec.space.items():
        if d.type == "choice":
            space[name] = tune.choice(list(d.values))
        elif d.type == "grid":
            space[name] = tune.grid_search(list(d.values))
        elif d.type == "uniform":
            space[name] = tune.uniform(d.low, d.high)
        elif d.type == "loguniform":
            space[name] = tune.loguniform(d.low, d.high)
        else:
            space[name] = tune.randint(int(d.low), int(d.high))
    return space
