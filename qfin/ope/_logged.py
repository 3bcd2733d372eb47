"""Logged data for off-policy evaluation: episodes of a behavior policy, with every candidate's propensities.

One :class:`LoggedData` holds n episodes padded to a common horizon H (arrays ``[n, H, ...]``); ``length[i]`` says
how many steps of episode i are real. Padding steps carry reward 0 and propensity 1 (their other fields are
ignored), so they leave every estimator unchanged (an ended episode sits in an absorbing state with
reward 0). ``done[i, t]`` is True at the last step of an episode that terminated (not at a time-limit cut).

Propensities: for discrete actions ``behavior_pscore[i, t] = pi_b(a_t | s_t)`` in (0, 1] and each candidate's
``candidate_pscores[name][i, t] = pi_e(a_t | s_t)`` in [0, 1]; for continuous actions they are densities (the
behavior's > 0, a candidate's >= 0, both finite). Discrete data may also carry full action distributions
(``candidate_action_dist[name]``, ``behavior_action_dist``, ``[n, H, n_actions]``): the model-based estimators
(DM, DR) need the candidate's, and the support check needs the behavior's.

On disk (:func:`save_logged`, :func:`load_logged`): Parquet, one row per real step, columns ``episode``, ``step``,
``state`` or ``state_0..``, ``action`` or ``action_0..``, ``reward``, ``done``, ``behavior_pscore``,
``pscore__<name>``, optionally ``behavior_dist__<a>`` and ``dist__<name>__<a>``; gamma, the action type and the
candidate names sit in the file's key-value metadata under ``qfin.ope``.
"""

from __future__ import annotations

import json
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl

from qfin.data import atomic_path
from qfin.errors import DataValidationError

__all__ = ["LoggedData", "OPESupportWarning", "save_logged", "load_logged", "check_support"]

_META_KEY = "qfin.ope"
_FORMAT_VERSION = 1


class OPESupportWarning(UserWarning):
    """A candidate policy is poorly covered by the logged data (importance weights will be biased or degenerate)."""


def _where(bad: np.ndarray) -> tuple[str, list[int]]:
    """'episode i, step t' of the first True cell of a [n, H] mask, and the first few flat indices."""
    flat = np.flatnonzero(bad)
    i, t = np.unravel_index(flat[0], bad.shape)[:2]
    return f"episode {int(i)}, step {int(t)}", flat[:5].tolist()


def _fail(field_name: str, rule: str, what: str, bad: np.ndarray, accepted: str) -> None:
    where, rows = _where(bad)
    raise DataValidationError(f"{field_name}: {what} at {where} ({int(bad.sum())} cell(s) in all); "
                              f"accepted: {accepted}", rule=rule, column=field_name, rows=rows)


@dataclass(frozen=True, eq=False)
class LoggedData:
    """Episodes logged under a behavior policy, validated on construction.

    Attributes
    ----------
    state : array [n, H] int64 (tabular states) or [n, H, d] float64
    action : array [n, H] int64 (discrete, 0..n_actions-1) or [n, H, m] float64 (continuous)
    reward : array [n, H] float64; the reward of every step counts, the final one included
    done : array [n, H] bool
    behavior_pscore : array [n, H] float64, pi_b(a_t | s_t) (probability or density)
    candidate_pscores : dict name -> array [n, H], pi_e(a_t | s_t) of each candidate policy
    length : array [n] int64, real steps per episode (1..H)
    gamma : float in [0, 1], the discount of the policy value J = E[sum_t gamma^t r_t]
    n_actions : int for discrete actions, None for continuous ones
    candidate_action_dist : dict name -> array [n, H, n_actions] (discrete only, optional)
    behavior_action_dist : array [n, H, n_actions] or None (discrete only, optional)
    """

    state: np.ndarray
    action: np.ndarray
    reward: np.ndarray
    done: np.ndarray
    behavior_pscore: np.ndarray
    candidate_pscores: dict[str, np.ndarray]
    length: np.ndarray
    gamma: float = 1.0
    n_actions: int | None = None
    candidate_action_dist: dict[str, np.ndarray] = field(default_factory=dict)
    behavior_action_dist: np.ndarray | None = None

    def __post_init__(self) -> None:
        def set_(name: str, value) -> None:  # frozen dataclass: normalised fields are set once, here
            object.__setattr__(self, name, value)

        reward = np.asarray(self.reward, dtype=np.float64)
        if reward.ndim != 2 or reward.size == 0:
            raise DataValidationError(f"reward must be a non-empty [n_episodes, horizon] array, got shape "
                                      f"{reward.shape}", rule="bad_shape", column="reward")
        n, horizon = reward.shape
        set_("reward", reward)
        length = np.asarray(self.length)
        if length.shape != (n,) or not np.issubdtype(length.dtype, np.integer):
            raise DataValidationError(f"length must be an integer array of shape ({n},) (one per episode), got "
                                      f"{length.dtype} {length.shape}", rule="shape_mismatch", column="length")
        bad = (length < 1) | (length > horizon)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise DataValidationError(f"length: episode {i} has length {int(length[i])}; accepted: 1..{horizon}",
                                      rule="bad_length", column="length", rows=[i])
        set_("length", length.astype(np.int64))
        valid = np.arange(horizon)[None, :] < self.length[:, None]
        object.__setattr__(self, "_valid", valid)

        gamma = float(self.gamma)
        if not 0.0 <= gamma <= 1.0:
            raise DataValidationError(f"gamma must lie in [0, 1], got {self.gamma!r}", rule="bad_gamma",
                                      column="gamma")
        set_("gamma", gamma)

        discrete = self.n_actions is not None
        if discrete:
            if int(self.n_actions) < 1:
                raise DataValidationError(f"n_actions must be >= 1, got {self.n_actions}", rule="bad_n_actions",
                                          column="n_actions")
            set_("n_actions", int(self.n_actions))

        state = np.asarray(self.state)
        if state.shape[:2] != (n, horizon) or state.ndim not in (2, 3):
            raise DataValidationError(f"state must have shape ({n}, {horizon}) or ({n}, {horizon}, d) like reward, "
                                      f"got {state.shape}", rule="shape_mismatch", column="state")
        state = state.astype(np.int64) if state.ndim == 2 and np.issubdtype(state.dtype, np.integer) \
            else state.astype(np.float64)
        self._check_finite("state", state, valid)
        set_("state", np.where(valid if state.ndim == 2 else valid[:, :, None], state, 0))

        action = np.asarray(self.action)
        if discrete:
            if action.shape != (n, horizon):
                raise DataValidationError(f"action must have shape ({n}, {horizon}) for discrete actions, got "
                                          f"{action.shape}", rule="shape_mismatch", column="action")
            if not np.issubdtype(action.dtype, np.integer):
                action = action.astype(np.float64)
                bad = valid & ~(action == np.round(action))  # NaN compares unequal: caught here too
                if bad.any():
                    _fail("action", "bad_action", "a non-integer action", bad, f"integers 0..{self.n_actions - 1}")
                action = np.where(valid, action, 0.0)
            action = action.astype(np.int64)
            bad = valid & ((action < 0) | (action >= self.n_actions))
            if bad.any():
                _fail("action", "bad_action", "an action out of range", bad, f"integers 0..{self.n_actions - 1}")
        else:
            if action.ndim == 2:
                action = action[:, :, None]
            if action.ndim != 3 or action.shape[:2] != (n, horizon):
                raise DataValidationError(f"action must have shape ({n}, {horizon}) or ({n}, {horizon}, m) for "
                                          f"continuous actions, got {np.asarray(self.action).shape}",
                                          rule="shape_mismatch", column="action")
            action = action.astype(np.float64)
            self._check_finite("action", action, valid)
        set_("action", np.where(valid if action.ndim == 2 else valid[:, :, None], action, 0))

        self._check_finite("reward", reward, valid)
        set_("reward", np.where(valid, reward, 0.0))  # padding adds nothing to any estimator
        done = np.asarray(self.done)
        if done.shape != (n, horizon):
            raise DataValidationError(f"done must have shape ({n}, {horizon}) like reward, got {done.shape}",
                                      rule="shape_mismatch", column="done")
        done = done.astype(bool)
        bad = done & (np.arange(horizon)[None, :] != (self.length - 1)[:, None])
        if bad.any():
            _fail("done", "bad_done", "done=True before the episode's last step", bad,
                  "done only on the last real step of an episode")
        set_("done", done)

        kind = "probabilities in (0, 1]" if discrete else "positive finite densities"
        bp = self._pscore("behavior_pscore", self.behavior_pscore, (n, horizon), valid)
        bad = valid & ((bp <= 0.0) | (bp > 1.0 if discrete else False))
        if bad.any():
            _fail("behavior_pscore", "bad_propensity", "a zero, negative or >1 propensity" if discrete
                  else "a zero or negative density", bad, kind)
        set_("behavior_pscore", np.where(valid, bp, 1.0))

        if not isinstance(self.candidate_pscores, dict) or not self.candidate_pscores:
            raise DataValidationError("candidate_pscores must be a non-empty dict {name: array [n, H]}",
                                      rule="no_candidates", column="candidate_pscores")
        cands = {}
        for name, arr in self.candidate_pscores.items():
            col = f"candidate_pscores[{name!r}]"
            p = self._pscore(col, arr, (n, horizon), valid)
            bad = valid & ((p < 0.0) | (p > 1.0 if discrete else False))
            if bad.any():
                _fail(col, "bad_propensity", "a negative or >1 propensity" if discrete else "a negative density",
                      bad, "probabilities in [0, 1]" if discrete else "non-negative finite densities")
            cands[str(name)] = np.where(valid, p, 1.0)
        set_("candidate_pscores", cands)

        if not discrete and (self.candidate_action_dist or self.behavior_action_dist is not None):
            raise DataValidationError("action distributions are only defined for discrete actions (set n_actions)",
                                      rule="bad_action_dist", column="candidate_action_dist")
        dists = {}
        for name, arr in self.candidate_action_dist.items():
            if name not in cands:
                raise DataValidationError(f"candidate_action_dist has {name!r}, which candidate_pscores lacks; "
                                          f"known candidates: {sorted(cands)}", rule="unknown_candidate",
                                          column="candidate_action_dist")
            dists[str(name)] = self._action_dist(f"candidate_action_dist[{name!r}]", arr, valid, cands[name])
        set_("candidate_action_dist", dists)
        if self.behavior_action_dist is not None:
            set_("behavior_action_dist",
                 self._action_dist("behavior_action_dist", self.behavior_action_dist, valid, self.behavior_pscore))

    # --- validation helpers -------------------------------------------------------------------------------------
    @staticmethod
    def _check_finite(name: str, arr: np.ndarray, valid: np.ndarray) -> None:
        cell_bad = ~np.isfinite(arr)
        if cell_bad.ndim == 3:
            cell_bad = cell_bad.any(axis=2)
        bad = valid & cell_bad
        if bad.any():
            _fail(name, "non_finite", "a NaN or infinite value", bad, "finite numbers")

    def _pscore(self, name: str, arr, shape, valid) -> np.ndarray:
        p = np.asarray(arr, dtype=np.float64)
        if p.shape != shape:
            raise DataValidationError(f"{name} must have shape {shape} like reward, got {p.shape}",
                                      rule="shape_mismatch", column=name)
        bad = valid & np.isnan(p)
        if bad.any():
            _fail(name, "missing_propensity", "a missing (NaN) propensity", bad, "a number for every real step")
        self._check_finite(name, p, valid)
        return p

    def _action_dist(self, name: str, arr, valid, pscore) -> np.ndarray:
        n, horizon = valid.shape
        d = np.asarray(arr, dtype=np.float64)
        if d.shape != (n, horizon, self.n_actions):
            raise DataValidationError(f"{name} must have shape ({n}, {horizon}, {self.n_actions}), got {d.shape}",
                                      rule="shape_mismatch", column=name)
        self._check_finite(name, d, valid)
        bad = valid & ((d < 0).any(axis=2) | (np.abs(d.sum(axis=2) - 1.0) > 1e-6))
        if bad.any():
            _fail(name, "bad_action_dist", "a row that is not a probability distribution", bad,
                  "non-negative rows summing to 1")
        logged = np.take_along_axis(d, self.action[:, :, None], axis=2)[:, :, 0]
        bad = valid & (np.abs(logged - pscore) > 1e-6)
        if bad.any():
            _fail(name, "inconsistent_propensity", "the probability of the logged action differs from the pscore",
                  bad, "the pscore equal to the distribution at the logged action")
        return d

    # --- views ---------------------------------------------------------------------------------------------------
    @property
    def n_episodes(self) -> int:
        return self.reward.shape[0]

    @property
    def horizon(self) -> int:
        return self.reward.shape[1]

    @property
    def valid(self) -> np.ndarray:
        """Bool mask [n, H] of the real (not padded) steps."""
        return self._valid  # type: ignore[attr-defined]

    @property
    def discrete(self) -> bool:
        return self.n_actions is not None

    @property
    def candidates(self) -> list[str]:
        return list(self.candidate_pscores)

    def ratio(self, candidate: str) -> np.ndarray:
        """Per-step importance ratios pi_e(a_t|s_t) / pi_b(a_t|s_t), [n, H] (1 on padding)."""
        if candidate not in self.candidate_pscores:
            raise DataValidationError(f"unknown candidate {candidate!r}; known: {self.candidates}",
                                      rule="unknown_candidate", column="candidate")
        return self.candidate_pscores[candidate] / self.behavior_pscore


def check_support(data: LoggedData, candidate: str, *, warn: bool = True) -> dict[str, float]:
    """How well the logged data covers a candidate; warns (:class:`OPESupportWarning`) with the fractions affected.

    Returns ``{"zero_weight_episodes": ..., "uncovered_steps": ...}``:
    - zero_weight_episodes: fraction of episodes in which the candidate gives probability (density) 0 to some
      logged action, so its trajectory weight is 0 and trajectory-wise estimators learn nothing from it;
    - uncovered_steps (discrete data with ``behavior_action_dist`` only; nan otherwise): fraction of real steps at
      which the candidate puts mass on an action the behavior policy never takes there. Importance sampling is
      biased when this is above 0 (pi_b must cover pi_e).
    """
    ratio = data.ratio(candidate)
    zero = float(np.mean((data.valid & (ratio == 0.0)).any(axis=1)))
    uncovered = np.nan
    if data.behavior_action_dist is not None and candidate in data.candidate_action_dist:
        pe = data.candidate_action_dist[candidate]
        hole = ((pe > 0.0) & (data.behavior_action_dist <= 0.0)).any(axis=2)
        uncovered = float(hole[data.valid].mean())
    if warn and zero > 0.0:
        warnings.warn(f"candidate {candidate!r} gives probability 0 to a logged action in {zero:.1%} of the episodes "
                      f"({zero * data.n_episodes:.0f} of {data.n_episodes}); their trajectory weight is 0",
                      OPESupportWarning, stacklevel=2)
    if warn and uncovered > 0.0:
        warnings.warn(f"candidate {candidate!r} takes actions the behavior policy never takes at {uncovered:.1%} of "
                      "the logged steps: importance-sampling estimates of it are biased", OPESupportWarning,
                      stacklevel=2)
    return {"zero_weight_episodes": zero, "uncovered_steps": uncovered}


# --- Parquet ------------------------------------------------------------------------------------------------------
def _to_frame(data: LoggedData) -> pl.DataFrame:
    valid = data.valid
    ep, st = np.nonzero(valid)
    cols: dict[str, np.ndarray] = {"episode": ep.astype(np.int64), "step": st.astype(np.int64)}
    if data.state.ndim == 2:
        cols["state"] = data.state[valid]
    else:
        for j in range(data.state.shape[2]):
            cols[f"state_{j}"] = data.state[:, :, j][valid]
    if data.discrete:
        cols["action"] = data.action[valid]
    else:
        for j in range(data.action.shape[2]):
            cols[f"action_{j}"] = data.action[:, :, j][valid]
    cols["reward"] = data.reward[valid]
    cols["done"] = data.done[valid]
    cols["behavior_pscore"] = data.behavior_pscore[valid]
    for name, p in data.candidate_pscores.items():
        cols[f"pscore__{name}"] = p[valid]
    if data.behavior_action_dist is not None:
        for a in range(data.n_actions):
            cols[f"behavior_dist__{a}"] = data.behavior_action_dist[:, :, a][valid]
    for name, d in data.candidate_action_dist.items():
        for a in range(data.n_actions):
            cols[f"dist__{name}__{a}"] = d[:, :, a][valid]
    return pl.DataFrame(cols)


def save_logged(data: LoggedData, path: str | os.PathLike) -> Path:
    """Write ``data`` as Parquet (layout in the module docstring); written to a temporary name, then renamed."""
    path = Path(path)
    meta = {"version": _FORMAT_VERSION, "gamma": data.gamma, "n_actions": data.n_actions,
            "horizon": data.horizon, "candidates": data.candidates,
            "state_kind": "index" if data.state.ndim == 2 else "vector"}
    frame = _to_frame(data)
    with atomic_path(path) as tmp:
        frame.write_parquet(tmp, metadata={_META_KEY: json.dumps(meta)})
    return path


def _column_error(path, column: str, rule: str, what: str, rows: np.ndarray, frame: pl.DataFrame, accepted: str):
    r = int(rows[0])
    ep, st = frame["episode"][r], frame["step"][r]
    raise DataValidationError(f"{path}: column {column!r}: {what} at row {r} (episode {ep}, step {st}); "
                              f"{int(rows.size)} row(s) in all; accepted: {accepted}", rule=rule, column=column,
                              rows=rows[:5].tolist())


def load_logged(path: str | os.PathLike) -> LoggedData:
    """Read a file written by :func:`save_logged` and validate it.

    Errors (:class:`qfin.errors.DataValidationError`) name the file, the column and the first bad row: missing
    columns or metadata, null/NaN values, propensities outside (0, 1] (densities <= 0), episodes whose steps are not
    0, 1, 2, ... in order, ``done`` before an episode's last step.
    """
    path = Path(path)
    if not path.exists():
        raise DataValidationError(f"{path}: no such file", rule="missing_file")
    try:
        raw_meta = pl.read_parquet_metadata(path)
        frame = pl.read_parquet(path)
    except (OSError, pl.exceptions.PolarsError) as exc:  # a corrupt or non-Parquet file: say so, no traceback
        raise DataValidationError(f"{path}: not a readable Parquet file ({type(exc).__name__}: {exc})",
                                  rule="unreadable") from None
    if _META_KEY not in raw_meta:
        raise DataValidationError(f"{path}: no '{_META_KEY}' metadata; write logged data with "
                                  "qfin.ope.save_logged", rule="missing_metadata")
    meta = json.loads(raw_meta[_META_KEY])
    n_actions, candidates = meta["n_actions"], list(meta["candidates"])
    state_cols = ["state"] if meta["state_kind"] == "index" else sorted(
        (c for c in frame.columns if c.startswith("state_")), key=lambda c: int(c.split("_")[1]))
    action_cols = ["action"] if n_actions is not None else sorted(
        (c for c in frame.columns if c.startswith("action_")), key=lambda c: int(c.split("_")[1]))
    needed = ["episode", "step", *state_cols, *action_cols, "reward", "done", "behavior_pscore",
              *(f"pscore__{c}" for c in candidates)]
    missing = [c for c in needed if c not in frame.columns]
    if missing or not state_cols or not action_cols:
        raise DataValidationError(f"{path}: missing column(s) {missing or ['state_*/action_*']}; expected "
                                  f"{needed}", rule="missing_columns", column=(missing or [None])[0])
    for col in frame.columns:
        nulls = frame[col].is_null().to_numpy()
        if frame[col].dtype.is_float():
            nulls = nulls | np.isnan(frame[col].fill_null(0.0).to_numpy())
        if nulls.any():
            _column_error(path, col, "missing_value", "a null or NaN value", np.flatnonzero(nulls), frame,
                          "a value on every row")

    episode = frame["episode"].to_numpy().astype(np.int64)
    step = frame["step"].to_numpy().astype(np.int64)
    new_ep = np.r_[True, episode[1:] != episode[:-1]]
    expected_step = np.arange(step.size) - np.maximum.accumulate(np.where(new_ep, np.arange(step.size), 0))
    bad = np.flatnonzero(step != expected_step)
    if bad.size:
        _column_error(path, "step", "bad_step_order", f"step {step[bad[0]]} where {expected_step[bad[0]]} was "
                      "expected", bad, frame, "rows of each episode together, steps 0, 1, 2, ... in order")
    starts = np.flatnonzero(new_ep)
    _, first = np.unique(episode[starts], return_index=True)
    if first.size != starts.size:
        again = np.setdiff1d(np.arange(starts.size), first)
        _column_error(path, "episode", "split_episode", "an episode whose rows are not contiguous",
                      starts[again], frame, "all rows of an episode together")
    is_last = np.r_[new_ep[1:], True]
    done_col = frame["done"].to_numpy().astype(bool)
    bad = np.flatnonzero(done_col & ~is_last)
    if bad.size:
        _column_error(path, "done", "bad_done", "done=True before the episode's last step", bad, frame,
                      "done only on the last row of an episode")
    discrete = n_actions is not None
    for col in ["behavior_pscore", *(f"pscore__{c}" for c in candidates)]:
        p = frame[col].to_numpy().astype(np.float64)
        low = (p <= 0.0) if col == "behavior_pscore" else (p < 0.0)
        bad = np.flatnonzero(low | (p > 1.0) if discrete else low | ~np.isfinite(p))
        if bad.size:
            accepted = ("probabilities in (0, 1]" if col == "behavior_pscore" else "probabilities in [0, 1]") \
                if discrete else ("positive finite densities" if col == "behavior_pscore"
                                  else "non-negative finite densities")
            _column_error(path, col, "bad_propensity", f"propensity {float(p[bad[0]])!r}", bad, frame, accepted)
    lengths = np.diff(np.r_[starts, step.size])
    n, horizon = starts.size, int(lengths.max())
    ep_index = np.repeat(np.arange(n), lengths)
    valid = np.zeros((n, horizon), dtype=bool)
    valid[ep_index, step] = True

    def grid(values: np.ndarray, fill) -> np.ndarray:
        out = np.full((n, horizon) + values.shape[1:], fill, dtype=values.dtype)
        out[ep_index, step] = values
        return out

    def stack(cols: list[str]) -> np.ndarray:
        return np.column_stack([frame[c].to_numpy() for c in cols])

    state = grid(frame["state"].to_numpy(), 0) if meta["state_kind"] == "index" else grid(stack(state_cols), 0.0)
    action = grid(frame["action"].to_numpy(), 0) if n_actions is not None else grid(stack(action_cols), 0.0)
    if n_actions is not None:
        groups = [("behavior_dist", "behavior_dist__")] + [(f"dist__{c}", f"dist__{c}__") for c in candidates]
        for label, prefix in groups:
            present = [f"{prefix}{a}" for a in range(n_actions) if f"{prefix}{a}" in frame.columns]
            if present and len(present) != n_actions:
                raise DataValidationError(f"{path}: {label} has {len(present)} of its {n_actions} columns "
                                          f"{prefix}0..{prefix}{n_actions - 1}", rule="missing_columns",
                                          column=label)
    # Errors from here on come from LoggedData (action distributions, action range), which numbers episodes by
    # their order in the file.
    behavior_dist = None
    if n_actions is not None and "behavior_dist__0" in frame.columns:
        behavior_dist = grid(stack([f"behavior_dist__{a}" for a in range(n_actions)]), 1.0 / n_actions)
    cand_dist = {c: grid(stack([f"dist__{c}__{a}" for a in range(n_actions)]), 1.0 / n_actions)
                 for c in candidates if n_actions is not None and f"dist__{c}__0" in frame.columns}
    pscore_fill = 1.0  # padding: ratio 1
    try:
        return LoggedData(
            state=state, action=action, reward=grid(frame["reward"].to_numpy().astype(np.float64), 0.0),
            done=grid(frame["done"].to_numpy().astype(bool), False),
            behavior_pscore=grid(frame["behavior_pscore"].to_numpy().astype(np.float64), pscore_fill),
            candidate_pscores={c: grid(frame[f"pscore__{c}"].to_numpy().astype(np.float64), pscore_fill)
                               for c in candidates},
            length=lengths.astype(np.int64), gamma=meta["gamma"], n_actions=n_actions,
            candidate_action_dist=cand_dist, behavior_action_dist=behavior_dist)
    except DataValidationError as exc:
        raise DataValidationError(f"{path} (episodes numbered in file order): {exc}", rule=exc.rule,
                                  column=exc.column, rows=exc.rows) from None
