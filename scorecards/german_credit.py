"""Build, evaluate and save a credit scorecard on the UCI German credit data, as plain library use.

    python scorecards/german_credit.py [OUT_DIR]        # default runs/scorecards

Writes to OUT_DIR: metrics.json (test AUC/Gini/KS with bootstrap intervals for the three encodings),
iv_table.csv (IV with delta-method SEs), points_table.csv, frontier.csv, stability.csv, PNG charts (WoE per
feature, ROC, fairness frontier) and report.html gathering them (self-contained). Everything is seeded.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import polars as pl  # noqa: E402
from sklearn.metrics import roc_curve  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402

from qfin.data import load_dataset  # noqa: E402
from qfin.scorecards import (Scorecard, StumpBinner, discrimination, fairness_frontier, fairness_iv,  # noqa: E402
                             stability_report)

SEED = 0
PROTECTED = ["personal_status_and_sex", "age_in_years"]


def woe_chart(name: str, table: pl.DataFrame, path: Path) -> None:
    fig, ax = plt.subplots(figsize=(6, 3))
    labels = [lb if len(lb) < 28 else lb[:25] + "..." for lb in table["bin"].to_list()]
    woe = table["woe"].to_numpy()
    ax.bar(range(len(woe)), woe, color=["tab:green" if w > 0 else "tab:red" for w in woe])
    ax.set_xticks(range(len(woe)), labels, rotation=30, ha="right", fontsize=7)
    ax.axhline(0, color="k", lw=0.5)
    ax.set_ylabel("WoE = ln(good / bad share)")
    ax.set_title(name, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def main(out: Path) -> dict:
    df = load_dataset("german_credit")
    y = df["target"].to_numpy()
    X = df.drop("target")
    idx_tr, idx_te = train_test_split(np.arange(df.height), test_size=0.3, stratify=y, random_state=SEED)
    Xtr, Xte, ytr, yte = X[idx_tr], X[idx_te], y[idx_tr], y[idx_te]

    binner = StumpBinner(max_bins=5, min_bin_share=0.05, monotonic_trend="auto", random_state=SEED)
    models = {enc: Scorecard(binner, encoding=enc, C=0.5, random_state=SEED).fit(Xtr, ytr)
              for enc in ("woe", "onehot", "stumps")}
    metrics = {}
    for enc, m in models.items():
        d = discrimination(yte, m.decision_function(Xte), n_boot=300, seed=SEED)
        metrics[enc] = {r["metric"]: {k: r[k] for k in ("value", "ci_low", "ci_high")} for r in d.iter_rows(named=True)}

    card = models["woe"]
    enc = card.encoder_
    iv = enc.iv_table()
    points = card.points_table()

    # stability of the bins (CSI) and of the score between train and test
    stab = stability_report(card.binner_.transform(Xtr), card.binner_.transform(Xte),
                            n_bins=[f.n_bins for f in card.binner_.bins_])

    # fairness: IV between protected groups on the score, and the frontier of one feature's binning
    young = (X["age_in_years"].to_numpy() < 25).astype(int)
    female = np.array(["female" in s for s in X["personal_status_and_sex"].to_list()], dtype=int)
    fair_score = {"young": fairness_iv(card.decision_function(X), young).value,
                  "female": fairness_iv(card.decision_function(X), female).value}
    eps = [np.inf, 0.02, 0.015, 0.01, 0.005, 0.002, 0.001]
    woe_all = enc.transform(X)
    others = woe_all.drop("duration_in_month", *PROTECTED)  # the model without the protected attributes
    frontier = fairness_frontier(X["duration_in_month"], y, young, eps, n_prebins=10, max_bins=5,
                                 min_bin_share=0.05, other_features=others)

    with tempfile.TemporaryDirectory(dir=out.parent) as tmp:
        t = Path(tmp)
        json.dump({"test_metrics": metrics, "iv_fair_score": fair_score, "n_train": int(len(ytr)),
                   "n_test": int(len(yte)), "seed": SEED}, open(t / "metrics.json", "w"), indent=2)
        iv.write_csv(t / "iv_table.csv")
        points.write_csv(t / "points_table.csv")
        frontier.with_columns(pl.col("thresholds").cast(pl.List(pl.Utf8)).list.join(" ")).write_csv(t / "frontier.csv")
        stab.write_csv(t / "stability.csv")
        charts = []
        for f, r in zip(card.binner_.bins_, enc.iv_):
            p = t / f"woe_{f.name}.png"
            woe_chart(f"{f.name}: IV {r.value:.3f} ± {r.std_error:.3f}", r.table, p)
            charts.append(p.name)
        fig, ax = plt.subplots(figsize=(4.5, 4.5))
        for name, m in models.items():
            fpr, tpr, _ = roc_curve(yte, m.decision_function(Xte))
            ax.plot(fpr, tpr, label=f"{name} (AUC {metrics[name]['auc']['value']:.3f})")
        ax.plot([0, 1], [0, 1], "k:", lw=0.5)
        ax.set_xlabel("false positive rate")
        ax.set_ylabel("true positive rate")
        ax.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(t / "roc.png", dpi=90)
        plt.close(fig)
        ok = frontier.filter(pl.col("status") == "Optimal")
        fig, ax = plt.subplots(figsize=(5, 3.5))
        ax.plot(ok["iv_fair"], ok["iv"], "o-")
        for r in ok.iter_rows(named=True):
            ax.annotate(f"ε={r['epsilon']:g}", (r["iv_fair"], r["iv"]), fontsize=7)
        ax.set_xlabel("IV_fair (duration bins, age < 25 vs rest)")
        ax.set_ylabel("IV of duration bins")
        ax.set_title("performance–fairness frontier (exact MIP)", fontsize=9)
        fig.tight_layout()
        fig.savefig(t / "frontier.png", dpi=90)
        plt.close(fig)
        fig, ax = plt.subplots(figsize=(6, 4))
        colors = {"stable": "tab:green", "watch": "tab:orange", "shifted": "tab:red"}
        ax.barh(stab["column"].to_list(), stab["psi"].to_numpy(), xerr=1.96 * stab["std_error"].to_numpy(),
                color=[colors[s] for s in stab["status"].to_list()])
        for x in (0.10, 0.25):
            ax.axvline(x, color="k", ls=":", lw=0.7)
        ax.tick_params(axis="y", labelsize=6)
        ax.set_xlabel("CSI train vs test (bars: ±1.96 SE; lines: 0.10 / 0.25)")
        fig.tight_layout()
        fig.savefig(t / "stability.png", dpi=90)
        plt.close(fig)
        (t / "report.html").write_text(_html(t, metrics, iv, points, frontier, stab, charts), encoding="utf-8")
        if out.exists():
            shutil.rmtree(out)
        os.replace(t, out)
        t.mkdir()  # TemporaryDirectory cleans up the (now empty) name it created
    return metrics


def _img(path: Path) -> str:
    return f'<img src="data:image/png;base64,{base64.b64encode(path.read_bytes()).decode()}">'


def _html(t: Path, metrics: dict, iv: pl.DataFrame, points: pl.DataFrame, frontier: pl.DataFrame,
          stab: pl.DataFrame, charts: list[str]) -> str:
    def table(df: pl.DataFrame) -> str:
        head = "".join(f"<th>{c}</th>" for c in df.columns)
        body = "".join("<tr>" + "".join(f"<td>{v:.4g}</td>" if isinstance(v, float) else f"<td>{v}</td>"
                                        for v in row) + "</tr>" for row in df.iter_rows())
        return f"<table border=1 cellspacing=0 cellpadding=3><tr>{head}</tr>{body}</table>"

    m = pl.DataFrame([{"encoding": k, **{f"{mm}": f"{v[mm]['value']:.3f} [{v[mm]['ci_low']:.3f}, "
                                             f"{v[mm]['ci_high']:.3f}]" for mm in ("auc", "gini", "ks")}}
                      for k, v in metrics.items()])
    fr = frontier.with_columns(pl.col("thresholds").cast(pl.List(pl.Utf8)).list.join(" "))
    return (
        "<html><head><meta charset='utf-8'><title>German credit scorecard</title></head><body>"
        "<h1>German credit scorecard (qfin.scorecards)</h1>"
        "<h2>Test discrimination (95% bootstrap intervals)</h2>" + table(m) + _img(t / "roc.png")
        + "<h2>Information value (delta-method SE, smoothing 0.5)</h2>" + table(iv)
        + "<h2>Points table (WoE logistic; PDO 20, 600 points at 50:1)</h2>" + table(points)
        + "<h2>Fairness frontier</h2>" + _img(t / "frontier.png") + table(fr)
        + "<h2>Stability train vs test (CSI per feature)</h2>" + _img(t / "stability.png") + table(stab)
        + "<h2>WoE by feature</h2>" + "".join(_img(t / c) for c in charts) + "</body></html>")


if __name__ == "__main__":
    out_dir = Path(sys.argv[1] if len(sys.argv) > 1 else "runs/scorecards").resolve()
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    result = main(out_dir)
    for enc, v in result.items():
        print(f"{enc:7s} test AUC {v['auc']['value']:.3f} [{v['auc']['ci_low']:.3f}, {v['auc']['ci_high']:.3f}]"
              f"  KS {v['ks']['value']:.3f}")
    print(f"report: {out_dir / 'report.html'}")
