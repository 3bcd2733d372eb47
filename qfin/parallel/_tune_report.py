"""The HTML report of a search: the metric against each parameter, every trial's curve with the best one drawn
bold, and the trials table (qfin.report: Agg figures, escaped self-contained HTML)."""

from __future__ import annotations

from typing import Any

from qfin.report import figure_text, frame_table, heading, image, new_figure, notes_table, page, paragraph, png_bytes

__all__ = ["tune_report"]


def tune_report(result: Any) -> str:
    """The page of a :class:`qfin.parallel.TuneResult`."""
    spec, trials = result.spec, result.trials
    best = result.best
    notes = {"job": spec.job, "metric": f"{spec.metric} ({spec.mode})", "trials": trials.height,
             "scheduler": spec.scheduler + (f" (grace {spec.grace_period}, reduction {spec.reduction_factor})"
                                            if spec.scheduler == "asha" else ""),
             "iterations per trial": spec.max_iterations, "stopped early": result.stopped_early,
             "seed": spec.seed, "failures retried per trial": spec.max_failures}
    if best is not None:
        notes["best trial"] = f"{best['trial_id']}: {spec.metric} {best[spec.metric]:.6g} with " + ", ".join(
            f"{p}={best[p]}" for p in result.params)
    parts = [notes_table(notes), heading(f"{spec.metric} against each parameter"),
             image(_scatter(result), f"{spec.metric} against the parameters"),
             heading("curves"), image(_curves(result), f"{spec.metric} per iteration"),
             paragraph("Every trial's metric per iteration; the best trial bold. Trials that end early were stopped "
                       "by the scheduler.", css_class="note"),
             heading("trials"), frame_table(trials)]
    return page(f"qfin tune: {spec.job}", *parts)


def _scatter(result: Any) -> bytes:
    spec, trials = result.spec, result.trials
    n = len(result.params)
    figure = new_figure(3.6 * n, 3.2, layout="constrained")
    for k, name in enumerate(result.params):
        axes = figure.add_subplot(1, n, k + 1)
        rows = [r for r in trials.iter_rows(named=True) if r[spec.metric] is not None]
        xs = [r[name] for r in rows]
        ys = [r[spec.metric] for r in rows]
        if all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in xs):
            axes.scatter(xs, ys, s=18, color="#2f6db3")
            d = spec.space[name]
            if d.type == "loguniform":
                axes.set_xscale("log")
        else:  # categorical: positions by value
            labels = sorted({str(x) for x in xs})
            axes.scatter([labels.index(str(x)) for x in xs], ys, s=18, color="#2f6db3")
            axes.set_xticks(range(len(labels)), [figure_text(label) for label in labels])
        axes.set_xlabel(figure_text(name))
        axes.set_ylabel(figure_text(spec.metric))
    return png_bytes(figure)


def _curves(result: Any) -> bytes:
    spec, history = result.spec, result.iterations
    figure = new_figure(7.0, 3.6, layout="constrained")
    axes = figure.add_subplot()
    best_id = None if result.best is None else result.best["trial_id"]
    for trial_id in sorted(set(history["trial_id"].to_list())):
        rows = history.filter(history["trial_id"] == trial_id).sort("iteration")
        bold = trial_id == best_id
        axes.plot(rows["iteration"].to_list(), rows[spec.metric].to_list(), lw=2.2 if bold else 0.9,
                  marker="o", ms=4 if bold else 3,  # a trial stopped after one iteration is one point
                  color="#c0392b" if bold else "#8a9ba8", alpha=1.0 if bold else 0.6,
                  label=figure_text(f"best: {trial_id}") if bold else None, zorder=3 if bold else 1)
    axes.set_xlabel("iteration")
    axes.xaxis.get_major_locator().set_params(integer=True)
    axes.set_ylabel(figure_text(spec.metric))
    if best_id is not None:
        axes.legend(loc="best")
    return png_bytes(figure)
