"""LoggedData: construction checks, Parquet round trip, the validating loader, and the support warning."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from qfin.errors import DataValidationError
from qfin.ope import (
    LoggedData,
    OPESupportWarning,
    check_support,
    epsilon_greedy_policy,
    load_logged,
    random_tabular_mdp,
    rollout,
    save_logged,
    softmax_policy,
)


@pytest.fixture(scope="module")
def tabular():
    mdp = random_tabular_mdp(n_states=4, n_actions=3, horizon=6, terminal_prob=0.2, seed=2)
    behavior = softmax_policy(np.random.default_rng(0).normal(size=(5, 3)))
    cands = {"greedy": epsilon_greedy_policy([0, 1, 2, 0, 1], 3, 0.2), "soft": softmax_policy(np.zeros((5, 3)))}
    return rollout(mdp, behavior, cands, 300, seed=4)


def _continuous(n=5, h=3, seed=0):
    rng = np.random.default_rng(seed)
    return {"state": rng.normal(size=(n, h, 2)), "action": rng.normal(size=(n, h, 1)),
            "reward": rng.normal(size=(n, h)), "done": np.zeros((n, h), bool),
            "behavior_pscore": rng.uniform(0.1, 2.0, (n, h)), "candidate_pscores": {"a": rng.uniform(0.0, 3.0, (n, h))},
            "length": np.full(n, h), "gamma": 0.9}


def test_rollout_shapes_and_padding(tabular):
    d = tabular
    assert d.n_episodes == 300 and d.horizon == 6 and d.discrete
    assert (d.length < 6).any() and (d.length == 6).any()  # some episodes terminate early
    assert (d.done.sum(axis=1) <= 1).all() and d.done.any(axis=1)[d.length < 6].all()
    pad = ~d.valid
    assert np.all(d.reward[pad] == 0) and np.all(d.behavior_pscore[pad] == 1) and np.all(d.ratio("soft")[pad] == 1)


def test_parquet_round_trip(tabular, tmp_path):
    path = save_logged(tabular, tmp_path / "logs.parquet")
    back = load_logged(path)
    for name in ("state", "action", "reward", "done", "behavior_pscore", "length", "behavior_action_dist"):
        assert np.array_equal(getattr(back, name)[back.valid], getattr(tabular, name)[tabular.valid]) \
            if name != "length" else np.array_equal(back.length, tabular.length)
    for c in tabular.candidates:
        assert np.array_equal(back.candidate_pscores[c], tabular.candidate_pscores[c])
        dist, ref = back.candidate_action_dist[c], tabular.candidate_action_dist[c]
        assert np.array_equal(dist[back.valid], ref[tabular.valid])
    assert back.gamma == tabular.gamma and back.n_actions == 3
    frame = pl.read_parquet(path)
    assert frame.height == int(tabular.length.sum())
    assert {"episode", "step", "state", "action", "reward", "done", "behavior_pscore", "pscore__greedy",
            "dist__soft__2", "behavior_dist__0"} <= set(frame.columns)


def test_continuous_round_trip(tmp_path):
    d = LoggedData(**_continuous())
    back = load_logged(save_logged(d, tmp_path / "c.parquet"))
    assert back.n_actions is None and back.state.shape == (5, 3, 2) and back.action.shape == (5, 3, 1)
    assert np.array_equal(back.candidate_pscores["a"], d.candidate_pscores["a"])
    assert np.allclose(back.state, d.state) and back.gamma == 0.9


def _rewrite(path, frame):
    meta = pl.read_parquet_metadata(path)
    frame.write_parquet(path, metadata={"qfin.ope": meta["qfin.ope"]})


@pytest.mark.parametrize("column, value, match", [
    ("behavior_pscore", 0.0, r"column 'behavior_pscore': propensity 0.0 at row 7 \(episode \d+, step \d+\).*\(0, 1\]"),
    ("behavior_pscore", 1.5, r"column 'behavior_pscore': propensity 1.5 at row 7"),
    ("behavior_pscore", None, r"column 'behavior_pscore': a null or NaN value at row 7"),
    ("pscore__soft", float("nan"), r"column 'pscore__soft': a null or NaN value at row 7"),
    ("pscore__greedy", -0.1, r"column 'pscore__greedy'.*row 7.*\[0, 1\]"),
    ("reward", float("nan"), r"column 'reward': a null or NaN value at row 7"),
])
def test_loader_names_column_and_row(tabular, tmp_path, column, value, match):
    path = save_logged(tabular, tmp_path / "bad.parquet")
    frame = pl.read_parquet(path)
    col = frame[column].to_list()
    col[7] = value
    _rewrite(path, frame.with_columns(pl.Series(column, col, dtype=frame[column].dtype)))
    with pytest.raises(DataValidationError, match=match) as err:
        load_logged(path)
    assert err.value.column == column and err.value.rows[0] == 7


def test_loader_structure_errors(tabular, tmp_path):
    path = save_logged(tabular, tmp_path / "s.parquet")
    frame = pl.read_parquet(path)
    _rewrite(path, frame.with_columns(pl.when(pl.int_range(pl.len()) == 2).then(5).otherwise(pl.col("step"))
                                      .alias("step")))
    with pytest.raises(DataValidationError, match=r"'step': step 5 where 2 was expected at row 2"):
        load_logged(path)
    first_short = int(np.flatnonzero(tabular.length == 6)[0])
    row = int(tabular.length[:first_short].sum())  # the first row of a full-length (not terminated) episode
    _rewrite(path, frame.with_columns(pl.when(pl.int_range(pl.len()) == row).then(True).otherwise(pl.col("done"))
                                      .alias("done")))
    with pytest.raises(DataValidationError, match=f"'done': done=True before the episode's last step at row {row}"):
        load_logged(path)
    _rewrite(path, frame.drop("dist__soft__1"))
    with pytest.raises(DataValidationError, match=r"dist__soft has 2 of its 3 columns"):
        load_logged(path)
    bad_dist = frame.with_columns(pl.col("dist__soft__0") + 0.5)
    _rewrite(path, bad_dist)
    with pytest.raises(DataValidationError, match=r"file order.*candidate_action_dist\['soft'\].*not a probability"):
        load_logged(path)
    _rewrite(path, frame.drop("pscore__soft"))
    with pytest.raises(DataValidationError, match=r"missing column\(s\) \['pscore__soft'\]"):
        load_logged(path)
    pl.DataFrame({"a": [1]}).write_parquet(tmp_path / "plain.parquet")
    with pytest.raises(DataValidationError, match="no 'qfin.ope' metadata"):
        load_logged(tmp_path / "plain.parquet")
    (tmp_path / "junk.parquet").write_text("not parquet")
    with pytest.raises(DataValidationError, match="not a readable Parquet file"):
        load_logged(tmp_path / "junk.parquet")
    with pytest.raises(DataValidationError, match="no such file"):
        load_logged(tmp_path / "absent.parquet")


def test_constructor_errors():
    base = _continuous()
    with pytest.raises(DataValidationError, match=r"candidate_pscores\['a'\] must have shape \(5, 3\)"):
        LoggedData(**{**base, "candidate_pscores": {"a": np.ones((5, 4))}})
    with pytest.raises(DataValidationError, match=r"state must have shape \(5, 3\) or \(5, 3, d\)"):
        LoggedData(**{**base, "state": np.ones((4, 3, 2))})
    with pytest.raises(DataValidationError, match=r"length must be an integer array of shape \(5,\)"):
        LoggedData(**{**base, "length": np.full(4, 3)})
    bp = base["behavior_pscore"].copy()
    bp[2, 1] = 0.0
    with pytest.raises(DataValidationError, match=r"behavior_pscore: a zero or negative density at episode 2, step 1"):
        LoggedData(**{**base, "behavior_pscore": bp})
    bp[2, 1] = np.nan
    with pytest.raises(DataValidationError, match=r"behavior_pscore: a missing \(NaN\) propensity at "
                       r"episode 2, step 1"):
        LoggedData(**{**base, "behavior_pscore": bp})
    # beyond an episode's length, values are padding and ignored
    short = {**base, "length": np.array([3, 3, 1, 3, 3])}
    padded = LoggedData(**{**short, "behavior_pscore": bp, "reward": np.full((5, 3), 7.0)})
    assert padded.behavior_pscore[2, 1] == 1.0 and padded.reward[2, 1:].tolist() == [0.0, 0.0]
    with pytest.raises(DataValidationError, match=r"action: a non-integer action at episode 1, step 2"):
        LoggedData(**{**base, "action": np.where(np.arange(15).reshape(5, 3) == 5, 0.5, 1.0), "n_actions": 3,
                      "behavior_pscore": np.full((5, 3), 0.5), "candidate_pscores": {"a": np.full((5, 3), 0.5)}})
    with pytest.raises(DataValidationError, match=r"action: an action out of range at episode 0, step 0"):
        LoggedData(**{**base, "action": np.full((5, 3), 3), "n_actions": 3,
                      "behavior_pscore": np.full((5, 3), 0.5), "candidate_pscores": {"a": np.full((5, 3), 0.5)}})
    with pytest.raises(DataValidationError, match="propensity at episode 0, step 0"):
        LoggedData(**{**base, "action": np.zeros((5, 3), int), "n_actions": 3,
                      "behavior_pscore": np.full((5, 3), 1.2), "candidate_pscores": {"a": np.full((5, 3), 0.5)}})


def test_support_warning_with_fraction():
    n, h = 4, 2
    action = np.array([[0, 1], [1, 1], [2, 0], [0, 0]])
    pb_dist = np.tile([0.5, 0.5, 0.0], (n, h, 1))
    pb_dist[2, 0] = [0.25, 0.25, 0.5]  # the behavior takes action 2 only at episode 2, step 0
    pe_dist = np.tile([0.0, 0.5, 0.5], (n, h, 1))  # never action 0; action 2 everywhere

    def take(d):
        return np.take_along_axis(d, action[:, :, None], axis=2)[:, :, 0]

    data = LoggedData(state=np.zeros((n, h), int), action=action, reward=np.ones((n, h)), done=np.zeros((n, h), bool),
                      behavior_pscore=take(pb_dist), candidate_pscores={"e": take(pe_dist)}, length=np.full(n, h),
                      n_actions=3, candidate_action_dist={"e": pe_dist}, behavior_action_dist=pb_dist)
    with pytest.warns(OPESupportWarning) as rec:
        out = check_support(data, "e")
    # logged action 0 (probability 0 under e) appears in episodes 0, 2 and 3
    assert out["zero_weight_episodes"] == 0.75
    # e puts mass on action 2 where the behavior never takes it: 7 of the 8 steps
    assert out["uncovered_steps"] == 7 / 8
    text = " ".join(str(w.message) for w in rec)
    assert "75.0% of the episodes" in text and "87.5% of" in text
