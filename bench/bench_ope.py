"""Off-policy estimator throughput: qfin.ope PDIS and DR against SCOPE-RL 0.2.1 on identical logged data (issue 10).

Work: a tabular MDP (qfin.ope.random_tabular_mdp, 20 states, 4 actions, fixed horizon 50, no early termination so
SCOPE-RL's fixed ``step_per_trajectory`` layout holds), 20,000 episodes logged by a softmax behavior policy, one
softmax candidate; DR uses the candidate's exact Q (dynamic programming) as its Q model. SCOPE-RL gets the same
arrays flattened to its layout (``action``, ``reward``, ``pscore`` [N*H], ``evaluation_policy_action_dist`` and
``state_action_value_prediction`` [N*H, A]) and is called through its estimator classes
(``scope_rl.ope.discrete.PerDecisionImportanceSampling`` / ``DoublyRobust``), i.e. without OffPolicyEvaluation's
bookkeeping. Both are first checked to give the same estimate (to 1e-9 relative), then timed: best of --repeats
warm calls. Throughput is trajectories x steps per second; the target is qfin at least as fast (ratio >= 1).

SCOPE-RL needs gym 0.26 (unmaintained; it prints a NumPy 2 warning but its estimators run) and d3rlpy; install it
outside the project venv (``pip install torch==2.13.0`` first, then ``scope-rl polars``) and run this file with that
interpreter. ``--record-topk FILE`` writes SCOPE-RL's top-k figures
(``OffPolicySelection.obtain_topk_policy_value_selected_by_standard_ope``) for tests/ope/scope_rl_topk.json and
``--record-estimates FILE`` its estimates on a small dataset for tests/ope/scope_rl_estimates.json.

Return distributions (issue 24): the CDF of the return under the candidate by trajectory-wise IS and its
self-normalised form, qfin's ``return_cdf(..., "tis" / "sntis")`` read at SCOPE-RL's ``reward_scale`` grid against
``CumulativeDistributionTIS`` / ``CumulativeDistributionSNTIS`` on the same 20,000 x 50 data with gamma = 1 (SCOPE-RL
discounts the first reward by gamma, qfin does not: at gamma = 1 both returns are the plain sum), checked equal at
the interior grid points, then timed. qfin's per-decision DR CDF (with a given model) is timed beside SCOPE-RL's
trajectory-wise ``CumulativeDistributionTDR``: different control variates, so that ratio is context, not the same
work. ``--record-cdf FILE`` writes SCOPE-RL's CDFs on small datasets for tests/ope/scope_rl_cdf.json.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from qfin.ope import dr, pdis, random_tabular_mdp, rollout, softmax_policy  # noqa: E402  (after the sys.path line)


def best_of(fn, repeats: int):
    out, best = None, float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def make_data(n_episodes: int, horizon: int, seed: int = 0):
    mdp = random_tabular_mdp(n_states=20, n_actions=4, horizon=horizon, gamma=0.99, terminal_prob=0.0,
                             reward_noise=0.1, seed=seed)
    rng = np.random.default_rng(seed + 1)
    behavior = softmax_policy(rng.normal(size=(21, 4)))
    cand = softmax_policy(rng.normal(size=(21, 4)), 2.0)
    data = rollout(mdp, behavior, {"e": cand}, n_episodes, seed=seed + 2)
    q = mdp.q_values(cand)[np.arange(horizon)[None, :], data.state]
    return data, q


def scope_inputs(data, q) -> dict:
    n, h = data.reward.shape
    return {"step_per_trajectory": h, "action": data.action.ravel(), "reward": data.reward.ravel(),
            "pscore": data.behavior_pscore.ravel(),
            "evaluation_policy_action_dist": data.candidate_action_dist["e"].reshape(n * h, -1),
            "state_action_value_prediction": q.reshape(n * h, -1), "gamma": data.gamma}


def make_cdf_data(n_episodes: int, horizon: int, seed: int = 0):
    """Like make_data but undiscounted (gamma = 1, where SCOPE-RL's and qfin's returns agree), with a reward noise
    that makes every return distinct (no ties at a grid point)."""
    mdp = random_tabular_mdp(n_states=20, n_actions=4, horizon=horizon, gamma=1.0, terminal_prob=0.0,
                             reward_noise=0.3, seed=seed)
    rng = np.random.default_rng(seed + 1)
    behavior = softmax_policy(rng.normal(size=(21, 4)))
    cand = softmax_policy(rng.normal(size=(21, 4)), 2.0)
    data = rollout(mdp, behavior, {"e": cand}, n_episodes, seed=seed + 2)
    q = mdp.q_values(cand)[np.arange(horizon)[None, :], data.state]
    return data, q


def cdf_grid(data, size: int = 40) -> np.ndarray:
    """SCOPE-RL's reward_scale for these data: from just below the smallest return to just above the largest."""
    g = data.reward.sum(axis=1)
    return np.linspace(g.min() - 1e-3, g.max() + 1e-3, size)


class PointModel:
    """A distributional model that puts all of the return-to-go on one point, V(s_0) = E_pi[Q(s_0, .)], with no
    dependence on the action: at horizon 1 qfin's DR CDF with it is SCOPE-RL's CumulativeDistributionTDR."""

    def __init__(self, data, q) -> None:
        self.v0 = np.einsum("nha,nha->nh", data.candidate_action_dist["e"], q)[:, 0]

    def values(self, step, thresholds):
        p = (self.v0[:, None] <= thresholds).astype(np.float64)
        return p, p


def record_cdf(path: Path) -> None:
    """SCOPE-RL's TIS and SNTIS CDFs on make_cdf_data(300, 5) and its TDR CDF on make_cdf_data(300, 1) (exact Q),
    each at cdf_grid(data), for tests/ope/scope_rl_cdf.json."""
    import scope_rl
    from scope_rl.ope.discrete import (
        CumulativeDistributionSNTIS,
        CumulativeDistributionTDR,
        CumulativeDistributionTIS,
    )

    out = {"scope_rl_version": scope_rl.__version__, "source": "bench/bench_ope.py --record-cdf", "cases": {}}
    for name, horizon, cls in (("tis", 5, CumulativeDistributionTIS), ("sntis", 5, CumulativeDistributionSNTIS),
                               ("tdr", 1, CumulativeDistributionTDR)):
        data, q = make_cdf_data(300, horizon)
        inputs = scope_inputs(data, q)
        if name != "tdr":
            inputs.pop("state_action_value_prediction")
        grid = cdf_grid(data)
        cdf = cls().estimate_cumulative_distribution_function(**inputs, reward_scale=grid)
        out["cases"][name] = {"data": f"make_cdf_data(300, {horizon})", "first_rewards": data.reward[0].tolist(),
                              "reward_scale": grid.tolist(), "cdf": np.asarray(cdf, dtype=float).tolist()}
    path.write_text(json.dumps(out, indent=1))
    print(f"wrote {path}")


def bench_cdf(args, results: list) -> None:
    """The return-distribution estimators on args.episodes x args.horizon (module docstring)."""
    import scope_rl
    from scope_rl.ope.discrete import (
        CumulativeDistributionSNTIS,
        CumulativeDistributionTDR,
        CumulativeDistributionTIS,
    )

    from qfin.ope import dr_cdf, return_cdf

    data, q = make_cdf_data(args.episodes, args.horizon)
    grid = cdf_grid(data)
    inputs = scope_inputs(data, q)
    no_q = {k: v for k, v in inputs.items() if k != "state_action_value_prediction"}
    model = PointModel(data, q)
    work = args.episodes * args.horizon
    runs = {
        "cdf_tis": (lambda: return_cdf(data, "e", "tis").value_at(grid),
                    lambda: CumulativeDistributionTIS().estimate_cumulative_distribution_function(
                        **no_q, reward_scale=grid), True),
        "cdf_sntis": (lambda: return_cdf(data, "e", "sntis").value_at(grid),
                      lambda: CumulativeDistributionSNTIS().estimate_cumulative_distribution_function(
                          **no_q, reward_scale=grid), True),
        "cdf_dr": (lambda: dr_cdf(data, "e", model, thresholds=grid).value_at(grid),
                   lambda: CumulativeDistributionTDR().estimate_cumulative_distribution_function(
                       **inputs, reward_scale=grid), False),
    }
    print(f"return CDFs on {args.episodes:,} trajectories x {args.horizon} steps at {grid.size} thresholds, best of "
          f"{args.repeats} (scope-rl {scope_rl.__version__})")
    for name, (ours, peer, same) in runs.items():
        if same:
            a, b = ours(), peer()
            gap = float(np.max(np.abs(a[1:-1] - b[1:-1])))
            if gap > 1e-12:
                sys.exit(f"{name}: qfin and scope-rl CDFs differ by {gap:.3g} at the interior thresholds; no timing")
        qfin_s, _ = best_of(ours, args.repeats)
        peer_s, _ = best_of(peer, args.repeats)
        ratio = peer_s / qfin_s
        label = "equal at the interior thresholds" if same else "per-decision DR vs SCOPE-RL's trajectory-wise DR"
        print(f"  {name:9s} ({label})   qfin {qfin_s * 1e3:8.1f} ms {work / qfin_s / 1e6:7.1f} M steps/s   "
              f"scope-rl {peer_s * 1e3:8.1f} ms {work / peer_s / 1e6:7.1f} M steps/s   ratio {ratio:5.2f}x")
        results.append({"name": f"ope_{name}_{args.episodes}x{args.horizon}", "qfin_s": qfin_s,
                        "peer": f"scope-rl {scope_rl.__version__}", "peer_s": peer_s, "ratio": ratio,
                        "same_work": same})


def record_topk(path: Path) -> None:
    """SCOPE-RL's top-k metrics on 3 random tie-free cases with best@k > J(pi_b) for every k, and one case where
    J(pi_b) exceeds best@k for small k (its clipping). Estimates enter as a DirectMethod with a constant Q."""
    import scope_rl
    from scope_rl.ope import OffPolicyEvaluation, OffPolicySelection
    from scope_rl.ope.discrete import DirectMethod

    def scope_topk(est, true, behavior_value, safety_threshold):
        n_traj, h, a = 4, 3, 2
        reward = np.zeros((n_traj, h))
        reward[:, 0] = behavior_value  # SCOPE-RL's J(pi_b): the mean logged return (+1e-10)
        done = np.zeros((n_traj, h))
        done[:, -1] = 1
        size = n_traj * h
        logged = {"size": size, "n_trajectories": n_traj, "action_type": "discrete", "n_actions": a,
                  "action_dim": None, "action_keys": None, "action_meaning": None, "state_dim": 1,
                  "state_keys": None, "step_per_trajectory": h, "state": np.zeros((size, 1)),
                  "action": np.zeros(size, int), "reward": reward.ravel(), "pscore": np.full(size, 0.5),
                  "done": done.ravel(), "terminal": done.ravel(), "info": {}, "behavior_policy": "pi_b",
                  "dataset_id": 0}
        input_dict = {f"c{i}": {
            "evaluation_policy_action": None, "evaluation_policy_action_dist": np.full((size, a), 1.0 / a),
            "state_action_value_prediction": np.full((size, a), e),
            "initial_state_value_prediction": np.full(n_traj, e),
            "state_action_marginal_importance_weight": None, "state_marginal_importance_weight": None,
            "on_policy_policy_value": np.array([t]), "gamma": 1.0, "behavior_policy": "pi_b",
            "evaluation_policy": f"c{i}", "dataset_id": 0} for i, (e, t) in enumerate(zip(est, true, strict=True))}
        ops = OffPolicySelection(ope=OffPolicyEvaluation(logged_dataset=logged, ope_estimators=[DirectMethod()]))
        out = ops.obtain_topk_policy_value_selected_by_standard_ope(
            input_dict=input_dict, return_safety_violation_rate=True, safety_threshold=safety_threshold)
        return {m: np.asarray(v).ravel().tolist() for m, v in out["dm"].items()}

    rng = np.random.default_rng(2024)
    cases = []
    for _ in range(3):
        true = np.round(rng.normal(10.0, 3.0, 8), 6)
        est = np.round(true + rng.normal(0.0, 3.0, 8), 6)
        jb = float(np.round(min(true[np.argmax(est)], np.median(true)) - 0.5, 6))
        thr = float(np.round(np.median(true), 6))
        cases.append({"estimated": est.tolist(), "true": true.tolist(), "behavior_value": jb,
                      "safety_threshold": thr, "scope_rl": scope_topk(est, true, jb, thr)})
    true, est = np.array([5.0, 9.0, 7.0, 3.0, 8.0]), np.array([4.0, 1.0, 3.0, 5.0, 2.0])
    cases.append({"estimated": est.tolist(), "true": true.tolist(), "behavior_value": 6.0, "safety_threshold": 6.0,
                  "scope_rl": scope_topk(est, true, 6.0, 6.0)})
    path.write_text(json.dumps({"scope_rl_version": scope_rl.__version__, "source": (
        "SCOPE-RL OffPolicySelection.obtain_topk_policy_value_selected_by_standard_ope (DirectMethod with constant "
        "Q = the estimate; on_policy_policy_value = the true value; logged rewards giving J(pi_b) = behavior_value, "
        "to which SCOPE-RL adds 1e-10), generated by bench/bench_ope.py --record-topk"), "cases": cases}, indent=1))
    print(f"wrote {path}")


def record_estimates(path: Path) -> None:
    """SCOPE-RL's TIS/PDIS/DR and self-normalised forms on a small logged dataset (200 x 5, exact Q perturbed, so DR's
    Q model is wrong), for tests/ope/scope_rl_estimates.json. The test rebuilds the data with make_data(200, 5)."""
    import scope_rl
    from scope_rl.ope.discrete import (
        DoublyRobust,
        PerDecisionImportanceSampling,
        SelfNormalizedDR,
        SelfNormalizedPDIS,
        SelfNormalizedTIS,
        TrajectoryWiseImportanceSampling,
    )

    data, q = make_data(200, 5)
    inputs = scope_inputs(data, 0.5 * q + 0.1)
    no_q = {k: v for k, v in inputs.items() if k != "state_action_value_prediction"}
    values = {"tis": TrajectoryWiseImportanceSampling().estimate_policy_value(**no_q),
              "pdis": PerDecisionImportanceSampling().estimate_policy_value(**no_q),
              "sntis": SelfNormalizedTIS().estimate_policy_value(**no_q),
              "snpdis": SelfNormalizedPDIS().estimate_policy_value(**no_q),
              "dr": DoublyRobust().estimate_policy_value(**inputs),
              "sndr": SelfNormalizedDR().estimate_policy_value(**inputs)}
    path.write_text(json.dumps({"scope_rl_version": scope_rl.__version__, "data": "bench_ope.make_data(200, 5)",
                                "q_model": "0.5 * exact Q + 0.1", "first_rewards": data.reward[0].tolist(),
                                "values": {k: float(v) for k, v in values.items()}}, indent=1))
    print(f"wrote {path}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", type=Path, help="write the results as JSON here")
    parser.add_argument("--episodes", type=int, default=20_000)
    parser.add_argument("--horizon", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--record-topk", type=Path, help="write SCOPE-RL's top-k figures here and exit")
    parser.add_argument("--record-estimates", type=Path, help="write SCOPE-RL's estimates here and exit")
    parser.add_argument("--record-cdf", type=Path, help="write SCOPE-RL's return CDFs here and exit")
    args = parser.parse_args()
    warnings.filterwarnings("ignore", message=".*Gym has been unmaintained.*")
    if args.record_topk:
        record_topk(args.record_topk)
        return
    if args.record_estimates:
        record_estimates(args.record_estimates)
        return
    if args.record_cdf:
        record_cdf(args.record_cdf)
        return

    try:
        import scope_rl
        from scope_rl.ope.discrete import DoublyRobust, PerDecisionImportanceSampling
    except ImportError:
        sys.exit("scope-rl is not installed: see this file's docstring")

    data, q = make_data(args.episodes, args.horizon)
    work = args.episodes * args.horizon
    inputs = scope_inputs(data, q)
    runs = {
        "pdis": (lambda: pdis(data, "e").value,
                 lambda: PerDecisionImportanceSampling().estimate_policy_value(**{
                     k: v for k, v in inputs.items() if k != "state_action_value_prediction"})),
        "dr": (lambda: dr(data, "e", q).value, lambda: DoublyRobust().estimate_policy_value(**inputs)),
    }
    results = []
    print(f"OPE estimators on {args.episodes:,} trajectories x {args.horizon} steps, best of {args.repeats} "
          f"(scope-rl {scope_rl.__version__})")
    for name, (ours, peer) in runs.items():
        v_ours, v_peer = ours(), peer()
        if not np.isclose(v_ours, v_peer, rtol=1e-9, atol=0.0):
            sys.exit(f"{name}: qfin {v_ours!r} != scope-rl {v_peer!r}; not the same work, no timing")
        qfin_s, _ = best_of(ours, args.repeats)
        peer_s, _ = best_of(peer, args.repeats)
        ratio = peer_s / qfin_s
        print(f"  {name:5s} estimate {v_ours:+.6f} (equal)   qfin {qfin_s * 1e3:8.1f} ms {work / qfin_s / 1e6:7.1f} "
              f"M steps/s   scope-rl {peer_s * 1e3:8.1f} ms {work / peer_s / 1e6:7.1f} M steps/s   ratio {ratio:5.2f}x")
        results.append({"name": f"ope_{name}_{args.episodes}x{args.horizon}", "qfin_s": qfin_s,
                        "peer": f"scope-rl {scope_rl.__version__}", "peer_s": peer_s, "ratio": ratio})
    bench_cdf(args, results)
    if args.json:
        args.json.write_text(json.dumps(results))


if __name__ == "__main__":
    main()
