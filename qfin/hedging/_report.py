"""The deep-hedging experiment's ``report.html``: P&L histograms, hedge ratios against moneyness, training curves
and the tables of :func:`qfin.hedging.run_hedging_experiment`'s summary, through :mod:`qfin.report`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from qfin import report

from ._baselines import HedgingMarket

__all__ = ["write_claim_report", "write_report"]

HISTOGRAM_STRATEGIES = ("Heston delta", "Whalley-Wilmott", "LSTM (adam)", "LSTM (kfac)")
"""Strategies whose test-bank P&L histograms are drawn (all of them would hide each other)."""


def write_report(out: Path, summary: dict, pnls: dict[str, np.ndarray], hedges: dict[str, np.ndarray],
                 test: HedgingMarket, runs: dict[str, list[dict[str, Any]]]) -> Path:
    """Write ``out/report.html`` (figures embedded) for one experiment; return its path.

    Parameters
    ----------
    out : the (staged) experiment folder.
    summary : the experiment summary (what ``metrics.json`` holds: params, premium, config, strategies, speed,
        paired_entropic).
    pnls : strategy name -> [n_test] P&L on the test bank.
    hedges : strategy name -> [n_test, n_steps] hedge ratios on the test bank.
    test : the test market (spot paths and strike, for the moneyness axis).
    runs : optimizer -> one dict per seed with its ``losses`` and ``seconds`` per iteration.
    """
    figures = [
        ("P&L on the test bank (clipped to [-5, 5])", _pnl_histogram(pnls)),
        (f"Hedge ratio against log-moneyness at step {test.n_steps // 2}", _hedge_ratios(hedges, test)),
        ("Training loss of every seed against iteration and wall-clock seconds", _training_curves(runs)),
    ]
    if "Heston delta" in hedges:
        figures.insert(2, ("Hedge ratios against the Heston delta, at three dates",
                           _positions_vs_delta({("delta" if k == "Heston delta" else k): v for k, v in hedges.items()
                                                if k != "BS delta"}, test)))
    paired = summary["paired_entropic"]
    paired_rows = [[seed, a, k, k - a] for seed, a, k in zip(summary["config"]["seeds"], paired["entropic_adam"],
                                                              paired["entropic_kfac"], strict=True)]
    config_rows = [[key, str(value)] for key, value in summary["config"].items()]
    strategies = summary["strategies"]
    columns = list(next(iter(strategies.values())))
    speed = summary["speed"]
    page = report.page(
        "Deep hedging: Adam vs K-FAC",
        report.paragraph(f"Premium {summary['premium']:.4f} (Heston price of the option), ATM implied volatility "
                         f"{summary['atm_vol']:.4f}."),
        report.heading("Heston parameters"),
        report.table([list(summary["params"].values())], list(summary["params"]), float_format=".6g"),
        report.heading("Strategies on the test bank"),
        report.table(([name, *(metrics[key] for key in columns)] for name, metrics in strategies.items()),
                     ["strategy", *columns], float_format=".4f"),
        report.paragraph("P&L in money per option; cvar_95 and cvar_99 are positive losses; pnl_sharpe is the P&L's "
                         "mean over its standard deviation (not annualised); LSTM rows are means over seeds.",
                         css_class="note"),
        report.heading("Speed: K-FAC iterations to reach Adam's final loss"),
        report.table(([row[key] for key in row] for row in speed), list(speed[0]) if speed else None),
        report.heading("Entropic risk per seed (paired t-test)"),
        report.table(paired_rows, ["seed", "LSTM (adam)", "LSTM (kfac)", "kfac - adam"], float_format=".4f"),
        report.paragraph("paired t-test p-value: " + ("n/a (one seed)" if paired["p_value"] is None
                                                       else f"{paired['p_value']:.3g}"), css_class="note"),
        report.heading("Configuration"), report.table(config_rows, ["key", "value"]),
        report.heading("Figures"), *(report.image(png, caption, caption) for caption, png in figures))
    return report.write_page(out / "report.html", page)


def _pnl_histogram(pnls: dict[str, np.ndarray]) -> bytes:
    fig = report.new_figure(8, 4)
    ax = fig.add_subplot()
    for name in HISTOGRAM_STRATEGIES:
        ax.hist(np.clip(pnls[name], -5, 5), bins=100, histtype="step", label=name, density=True)
    ax.set_xlabel("P&L")
    ax.legend()
    ax.set_title("P&L on the test bank")
    return report.png_bytes(fig, dpi=90, tight=True)


def _hedge_ratios(hedges: dict[str, np.ndarray], test: HedgingMarket) -> bytes:
    step = test.n_steps // 2
    fig = report.new_figure(8, 4)
    ax = fig.add_subplot()
    x = np.log(test.spot[:2000, step] / test.strike)
    for name, h in hedges.items():
        ax.scatter(x, h[:2000, step], s=2, label=name)
    ax.set_xlabel(f"log-moneyness at step {step}")
    ax.set_ylabel("hedge ratio")
    ax.legend(markerscale=5)
    return report.png_bytes(fig, dpi=90, tight=True)


def _training_curves(runs: dict[str, list[dict[str, Any]]]) -> bytes:
    fig = report.new_figure(11, 4)
    axes = fig.subplots(1, 2)
    for opt, color in (("adam", "C0"), ("kfac", "C1")):
        for r in runs[opt]:
            axes[0].plot(r["losses"], color=color, alpha=0.6, label=opt if r is runs[opt][0] else None)
            axes[1].plot(r["seconds"], r["losses"], color=color, alpha=0.6, label=opt if r is runs[opt][0] else None)
    for a, lab in zip(axes, ("iteration", "wall-clock seconds"), strict=True):
        a.set_xlabel(lab)
        a.set_ylabel("training loss")
        a.set_yscale("log")
        a.legend()
    return report.png_bytes(fig, dpi=90, tight=True)


def write_claim_report(out: Path, summary: dict, pnls: dict[str, np.ndarray], hedges: dict[str, np.ndarray],
                       test: HedgingMarket, runs: dict[str, list[dict[str, Any]]]) -> Path:
    """``out/report.html`` of a claim comparison (:mod:`qfin.hedging._claims`): P&L histograms of every strategy,
    positions in the underlying against the claim's delta, training curves, and the tables."""
    figures = [("P&L on the test bank of every strategy", _pnl_histograms(pnls)),
               ("Position in the underlying against the claim's Black–Scholes delta, at three dates",
                _positions_vs_delta(hedges, test)),
               ("Training loss of every seed against iteration and wall-clock seconds", _training_curves(runs))]
    strategies = summary["strategies"]
    columns = list(next(iter(strategies.values())))
    speed = summary["speed"]
    paired = summary["paired"]
    config_rows = [[key, str(value)] for key, value in summary["config"].items() if key != "hedger"]
    config_rows += [[f"hedger.{key}", str(value)] for key, value in summary["config"]["hedger"].items()]
    page = report.page(
        f"Deep hedging: {summary['claim']}",
        report.paragraph(f"Instruments: {', '.join(summary['instruments'])}. Premium {summary['premium']:.4f} "
                         f"(Monte Carlo price, standard error {summary['premium_std_error']:.4f}); baselines at the "
                         f"ATM implied volatility {summary['atm_vol']:.4f}."),
        report.heading("Heston parameters"),
        report.table([list(summary["params"].values())], list(summary["params"]), float_format=".6g"),
        report.heading("Strategies on the test bank"),
        report.table(([name, *(metrics[key] for key in columns)] for name, metrics in strategies.items()),
                     ["strategy", *columns], float_format=".4f"),
        report.paragraph("P&L in money per claim; cvar_95 and cvar_99 are positive losses; LSTM rows are means "
                         "over seeds.", css_class="note"),
        report.heading("Paired differences over seeds (mean and standard error)"),
        report.table(([r["difference"], r["metric"], r["mean"], r["std_error"]] for r in paired),
                     ["difference", "metric", "mean", "std error"], float_format=".4f"),
        report.heading("Speed: K-FAC iterations to reach Adam's final loss"),
        report.table(([row[key] for key in row] for row in speed), list(speed[0]) if speed else None),
        report.heading("Configuration"), report.table(config_rows, ["key", "value"]),
        report.heading("Figures"), *(report.image(png, caption, caption) for caption, png in figures))
    return report.write_page(out / "report.html", page)


def _pnl_histograms(pnls: dict[str, np.ndarray]) -> bytes:
    names = list(pnls)
    cols = 3
    rows = (len(names) + cols - 1) // cols
    fig = report.new_figure(11, 2.6 * rows)
    axes = np.atleast_1d(fig.subplots(rows, cols)).ravel()
    everything = np.concatenate([pnls[n] for n in names])
    lo, hi = np.quantile(everything, [0.005, 0.995])
    for ax, name in zip(axes, names, strict=False):
        ax.hist(np.clip(pnls[name], lo, hi), bins=80, range=(lo, hi), color="C0")
        ax.set_title(name, fontsize=9)
        ax.set_xlabel("P&L")
    for ax in axes[len(names):]:
        ax.set_visible(False)
    return report.png_bytes(fig, dpi=80, tight=True)


def _positions_vs_delta(hedges: dict[str, np.ndarray], test: HedgingMarket) -> bytes:
    fig = report.new_figure(11, 3.6)
    axes = fig.subplots(1, 3)
    reference = hedges.get("delta")
    steps = (0, test.n_steps // 2, test.n_steps - 1)
    for ax, step in zip(axes, steps, strict=True):
        for name, h in hedges.items():
            if name == "delta" or reference is None:
                continue
            ax.scatter(reference[:1500, step], h[:1500, step], s=2, label=name)
        if reference is not None:
            lim = [float(reference[:, step].min()), float(reference[:, step].max())]
            ax.plot(lim, lim, color="k", lw=0.8, label="= delta")
        ax.set_xlabel(f"claim delta at step {step}")
        ax.set_ylabel("position in the underlying")
    axes[0].legend(markerscale=4, fontsize=7)
    return report.png_bytes(fig, dpi=80, tight=True)
