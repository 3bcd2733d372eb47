"""PROBLEM.toml specs for ``qfin dp solve``: a shipped finance problem, an objective and solver settings.

Example::

    problem = "liquidation"          # betting | wealth_process | liquidation
    [params]                         # keyword arguments of qfin.dp.problems.<problem>
    inventory = 4
    horizon = 3
    [objective]
    kind = "probability_of_target"   # cvar | mean_cvar | probability_of_target | expected_value |
    target = 39.5                    # homeostatic | satisficing
    [solver]
    method = "exact"                 # or "quantile" (n_quantiles, n_stocks, evaluation)
                                     # or "categorical" (n_atoms, v_min, v_max, n_stocks, evaluation)
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    FiniteFloat,
    model_validator,
)

from qfin.dp import problems
from qfin.dp._exact import DPResult
from qfin.dp._objectives import (
    CVaR,
    ExpectedUtility,
    Homeostatic,
    MeanCVaR,
    Objective,
    ProbabilityOfTarget,
    Satisficing,
)
from qfin.dp._solve import solve
from qfin.errors import SpecError
from qfin.specs import parse_model, read_toml

__all__ = ["DPSpec", "load_spec", "solve_spec"]

_PROBLEMS = {"betting": problems.betting, "wealth_process": problems.wealth_process,
             "liquidation": problems.liquidation}


class ObjectiveSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: Literal["cvar", "mean_cvar", "probability_of_target", "expected_value", "homeostatic", "satisficing"]
    alpha: float | None = None
    weight: float | None = None
    target: float | None = None
    set_point: float | None = None
    power: float = 2.0


class SolverSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    method: Literal["exact", "quantile", "categorical"] = "exact"
    n_quantiles: int = 64
    n_atoms: int = Field(51, ge=2)
    v_min: FiniteFloat | None = None
    v_max: FiniteFloat | None = None
    n_stocks: int = 201
    evaluation: Literal["exact", "monte_carlo"] = "exact"
    seed: int = 0

    @model_validator(mode="after")
    def _grid_bounds(self):
        # Checked here too so that the message names the spec's keys, not solve's arguments.
        if (self.v_min is None) != (self.v_max is None):
            raise ValueError("give both v_min and v_max (the ends of the categorical grid) or neither")
        if self.v_min is not None and not self.v_min < self.v_max:
            raise ValueError(f"v_min must be below v_max; got v_min = {self.v_min}, v_max = {self.v_max}")
        if self.v_min is not None and not self.v_min <= 0.0 <= self.v_max:
            raise ValueError(f"[v_min, v_max] must contain 0 (the return still to come at the horizon); got "
                             f"v_min = {self.v_min}, v_max = {self.v_max}")
        return self


class DPSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    problem: Literal["betting", "wealth_process", "liquidation"]
    params: dict[str, Any] = {}
    objective: ObjectiveSpec
    solver: SolverSpec = SolverSpec()


def load_spec(path: str | Path) -> DPSpec:
    """Parse and validate a PROBLEM.toml; errors name the file and the key."""
    path = Path(path)
    spec = parse_model(DPSpec, read_toml(path), path)
    known = set(inspect.signature(_PROBLEMS[spec.problem]).parameters)
    unknown = sorted(set(spec.params) - known)
    if unknown:
        raise SpecError(f"{path}: params.{unknown[0]} is not a parameter of {spec.problem}; accepted: "
                        f"{', '.join(sorted(known))}")
    return spec


def _objective(spec: ObjectiveSpec, where: str) -> Objective:
    def need(name):
        value = getattr(spec, name)
        if value is None:
            raise SpecError(f"{where}: objective.{name} is required for kind = {spec.kind!r}")
        return value

    if spec.kind == "cvar":
        return CVaR(need("alpha"))
    if spec.kind == "mean_cvar":
        return MeanCVaR(need("alpha"), need("weight"))
    if spec.kind == "probability_of_target":
        return ProbabilityOfTarget(need("target"))
    if spec.kind == "homeostatic":
        return Homeostatic(need("set_point"), spec.power)
    if spec.kind == "satisficing":
        return Satisficing(need("target"))
    return ExpectedUtility(lambda x: x)


def solve_spec(path: str | Path) -> tuple[DPResult, DPResult, list[dict], dict]:
    """Solve a spec: returns (optimal result, risk-neutral result, policy rows on reachable states, problem info).

    Policy rows carry t, state (decoded where the problem names its states), stock, action and probability.
    """
    spec = load_spec(path)
    built = _PROBLEMS[spec.problem](**spec.params)
    mdp, info = built if isinstance(built, tuple) else (built, {})
    objective = _objective(spec.objective, str(path))
    s = spec.solver
    kwargs = {"method": s.method, "n_quantiles": s.n_quantiles, "n_atoms": s.n_atoms, "v_min": s.v_min,
              "v_max": s.v_max, "n_stocks": s.n_stocks, "evaluation": s.evaluation, "seed": s.seed}
    result = solve(mdp, objective, **kwargs)
    neutral = solve(mdp, ExpectedUtility(lambda x: x))
    rows = result.reachable_policy_table()
    if "decode" in info:
        for row in rows:
            row["state"] = str(info["decode"][row["state"]])
    return result, neutral, rows, info
