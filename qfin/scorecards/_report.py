"""Build, evaluate and save a credit scorecard with a self-contained HTML report: the one implementation behind
``scorecards/german_credit.py`` and ``qfin scorecard build``.

Pipeline (all seeded): stratified train/test split; :class:`StumpBinner` bins (max 5, min share 5%, monotone
WoE where a trend is found); :class:`Scorecard` with the three encodings (WoE logistic, one-hot logistic,
monotone depth-1 XGBoost); test AUC/Gini/KS with bootstrap intervals (:func:`discrimination`); IV with
delta-method SEs; CSI train vs test (:func:`stability_report`); with protected columns, IV_fair of the score per
protected group (:func:`fairness_iv`) and the exact-MIP performance–fairness frontier (:func:`fairness_frontier`)
of the most informative numeric non-protected feature. Reference: Sudjianto & Burakov, arXiv 2509.09855.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from qfin import report
from qfin.data import check_output_dir, config_hash, staged_output, strict_json
from qfin.errors import DataValidationError
from qfin.scorecards._binning import StumpBinner
from qfin.scorecards._fairness import fairness_frontier, fairness_iv
from qfin.scorecards._monitoring import discrimination, stability_report
from qfin.scorecards._scorecard import Scorecard

__all__ = ["build_scorecard"]

ENCODINGS = ("woe", "onehot", "stumps")
EPSILONS = (np.inf, 0.02, 0.015, 0.01, 0.005, 0.002, 0.001)
MARKER = "report.html"


def build_scorecard(frame: pl.DataFrame, target: str, out_dir: str | Path, protected: Sequence[str] = (),
                    seed: int = 0, test_size: float = 0.3, n_boot: int = 300, title: str | None = None) -> dict:
    """Fit, evaluate and save a scorecard on ``frame``; return the figures written to ``metrics.json``.

    Parameters
    ----------
    frame : polars DataFrame, one row per applicant: ``target`` plus the feature columns (numeric or string;
        every column other than ``target`` is a feature, protected ones included, as in the paper's baseline).
    target : name of the 0/1 column, 1 = bad/event, 0 = good (both classes present, no missing values).
    out_dir : folder to write; built in a hidden sibling folder and renamed into place only when complete. An
        existing folder is replaced only when it is empty or holds an earlier scorecard output and nothing else
        (its ``.qfin-manifest.json``, :func:`qfin.data.staged_output`); checked before any work.
    protected : protected attributes, each ``"COL"`` (numeric: below the median vs the rest; otherwise the modal
        level vs the rest), ``"COL<NUMBER"`` (numeric: value < NUMBER is the group) or ``"COL~TEXT"`` (levels
        containing TEXT are the group). Given, IV_fair of the score per attribute and the fairness frontier (of the
        numeric non-protected feature with the highest IV, against the first attribute's group) are added.
    seed : seeds the split, the binner, the models and the bootstrap.
    test_size : share of rows held out (stratified on the target), in (0, 1).
    n_boot : bootstrap resamples for the AUC/Gini/KS intervals.
    title : heading of the report (default: "Scorecard for <target>").

    Writes metrics.json, iv_table.csv, points_table.csv, scorecard.json (:meth:`Scorecard.to_json`, the card
    that ``qfin scorecard monitor`` reads), reason_codes.csv (every test applicant's adverse-action
    reasons, :meth:`Scorecard.reason_codes`), stability.csv, frontier.csv (with protected columns),
    roc.png, stability.png, frontier.png (with protected columns), woe_<feature>.png per feature and report.html
    (every image inlined, so the file stands alone).

    Returns
    -------
    dict with ``test_metrics`` ({encoding: {auc|gini|ks: {value, ci_low, ci_high}}}), ``top_iv`` (features by IV
    with SEs), ``iv_fair_score`` ({protected column: IV_fair of the WoE score}), ``protected`` (group definitions),
    ``frontier_feature``, ``n_train``, ``n_test``, ``seed``, ``target``.
    """
    protected = [protected] if isinstance(protected, str) else list(protected)
    groups, group_names = _validate(frame, target, protected, test_size, n_boot)
    out_dir = check_output_dir(out_dir, "scorecard")

    from sklearn.model_selection import train_test_split

    y = frame[target].cast(pl.Int8).to_numpy()
    X = frame.drop(target)
    idx_tr, idx_te = train_test_split(np.arange(frame.height), test_size=test_size, stratify=y, random_state=seed)
    Xtr, Xte, ytr, yte = X[idx_tr], X[idx_te], y[idx_tr], y[idx_te]

    binner = StumpBinner(max_bins=5, min_bin_share=0.05, monotonic_trend="auto", random_state=seed)
    models = {enc: Scorecard(binner, encoding=enc, C=0.5, random_state=seed).fit(Xtr, ytr) for enc in ENCODINGS}
    metrics = {}
    for enc, m in models.items():
        d = discrimination(yte, m.decision_function(Xte), n_boot=n_boot, seed=seed)
        metrics[enc] = {r["metric"]: {k: r[k] for k in ("value", "ci_low", "ci_high")} for r in d.iter_rows(named=True)}

    sizes = _sample_sizes(models)
    card = models["woe"]
    encoder = card.encoder_
    iv = encoder.iv_table()
    points = card.points_table()
    stab = stability_report(card.binner_.transform(Xtr), card.binner_.transform(Xte),
                            n_bins=[f.n_bins for f in card.binner_.bins_])

    score = card.decision_function(X)
    fair_score = {col: fairness_iv(score, g).value for col, g in groups.items()}
    frontier, frontier_feature = None, None
    if groups:
        cols = [c for c, _ in protected_columns(protected)]
        numeric = [r["feature"] for r in iv.iter_rows(named=True)
                   if r["feature"] not in cols and frame.schema[r["feature"]].is_numeric()]
        if numeric:
            frontier_feature = max(numeric, key=lambda c: iv.filter(pl.col("feature") == c)["iv"][0])
            first = cols[0]
            others = encoder.transform(X).drop(frontier_feature, *cols)  # the model without the protected columns
            frontier = fairness_frontier(X[frontier_feature], y, groups[first], list(EPSILONS), n_prebins=10,
                                         max_bins=5, min_bin_share=0.05, other_features=others)

    top = iv.sort("iv", descending=True).head(10)
    result = {"target": target, "test_metrics": metrics,
              "top_iv": [{"feature": r["feature"], "iv": r["iv"], "std_error": r["std_error"]}
                         for r in top.iter_rows(named=True)],
              "iv_fair_score": fair_score, "protected": group_names, "frontier_feature": frontier_feature,
              "n_train": len(ytr), "n_test": len(yte), "seed": seed, "sample_size": sizes}

    settings = {"target": target, "protected": protected, "seed": seed, "test_size": test_size, "n_boot": n_boot,
                "title": title, "columns": frame.columns, "rows": frame.height}
    with staged_output(out_dir, "scorecard", spec_hash=config_hash(settings)) as staging:
        _write(staging, result, models, Xte, yte, card, iv, points, stab, frontier, frontier_feature,
               group_names, title or f"Scorecard for {target}")
    return result


def _sample_sizes(models: dict) -> dict:
    """Per logistic encoding, the p-n criterion (``Scorecard.sample_size``) or why it does not apply; a warning
    when a model is too large for its training sample."""
    import warnings

    out = {}
    for enc in ("woe", "onehot"):
        try:
            c = models[enc].sample_size()
        except DataValidationError as e:
            out[enc] = {"error": str(e)}
            continue
        out[enc] = c.as_dict()
        if not c.ok:
            warnings.warn(f"the {enc} scorecard has {c.n_params} parameters for {c.n_rows} training rows: expected "
                          f"KL to its information projection {c.expected_kl:.4f} > {c.tolerance:g} nats per row "
                          f"(needs {c.min_rows} rows, or at most {c.max_params} parameters)", UserWarning,
                          stacklevel=3)
    return out


def protected_columns(protected: Sequence[str]) -> list[tuple[str, str]]:
    """Split each ``"COL"``, ``"COL<NUMBER"``, ``"COL~TEXT"`` into (column, rule) with rule "", "<..." or "~..."."""
    out = []
    for spec in protected:
        cut = min((i for i in (spec.find("<"), spec.find("~")) if i > 0), default=-1)
        out.append((spec, "") if cut < 0 else (spec[:cut].strip(), spec[cut:].strip()))
    return out


def _validate(frame: Any, target: str, protected: Sequence[str], test_size: float,
              n_boot: int) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """Check the inputs once, at entry; return the 0/1 protected-group vectors and their descriptions."""
    if not isinstance(frame, pl.DataFrame):
        raise DataValidationError(f"the data must be a polars DataFrame; got {type(frame).__name__}", rule="type")
    if target not in frame.columns:
        raise DataValidationError(f"target column {target!r} not found{_columns_hint(frame, target)}",
                                  rule="missing_columns", column=target)
    col = frame[target]
    if col.null_count():
        rows = np.flatnonzero(col.is_null().to_numpy())[:5].tolist()
        raise DataValidationError(f"target column {target!r} has missing values at rows {rows}; it must be 0/1 "
                                  f"everywhere (1 = bad, 0 = good)", rule="missing", column=target, rows=rows)
    values = col.unique().to_list() if (col.dtype == pl.Boolean or col.dtype.is_numeric()) else None
    if values is None or not set(values) <= {0, 1}:
        found = col.unique().head(5).to_list()
        raise DataValidationError(f"target column {target!r} must be binary 0/1 (1 = bad, 0 = good); got "
                                  f"{col.dtype} values such as {found}", rule="binary_target", column=target)
    if len(values) < 2:
        raise DataValidationError(f"target column {target!r} has only the value {values[0]}; both 1 = bad and "
                                  f"0 = good are needed", rule="binary_target", column=target)
    if frame.width < 2:
        raise DataValidationError(f"no feature columns besides the target {target!r}", rule="missing_columns")
    if not 0 < test_size < 1:
        raise DataValidationError(f"test_size must be in (0, 1); got {test_size!r}", rule="value")
    if int(n_boot) < 1:
        raise DataValidationError(f"n_boot must be a positive number of bootstrap resamples; got {n_boot!r}",
                                  rule="value")
    groups: dict[str, np.ndarray] = {}
    names: dict[str, str] = {}
    for name, rule in protected_columns(protected):
        if name not in frame.columns:
            raise DataValidationError(f"protected column {name!r} (from COL, COL<NUMBER or COL~TEXT) not "
                                      f"found{_columns_hint(frame, name)}",
                                      rule="missing_columns", column=name)
        if name in groups:
            raise DataValidationError(f"protected column {name!r} is named twice; give one rule per column",
                                      rule="value", column=name)
        if name == target:
            raise DataValidationError(f"protected column {name!r} is the target; name a feature column",
                                      rule="value", column=name)
        s = frame[name]
        if s.null_count():
            raise DataValidationError(f"protected column {name!r} has {s.null_count()} missing values; group "
                                      f"membership must be known for every row", rule="missing", column=name)
        numeric = s.dtype.is_numeric()
        if rule.startswith("<"):
            try:
                cut = float(rule[1:])
            except ValueError:
                cut = None
            if not numeric or cut is None:
                raise DataValidationError(f"protected column {name!r}: {name}{rule} needs a numeric column and a "
                                          f"number (COL<NUMBER); the column's dtype is {s.dtype}",
                                          rule="value", column=name)
            g, desc = s.to_numpy() < cut, f"{name} < {cut:g}"
        elif rule.startswith("~"):
            text = rule[1:]
            g, desc = s.cast(pl.Utf8).str.contains(text, literal=True).to_numpy(), f"{name} contains {text!r}"
        elif numeric:
            med = float(s.median())
            g, desc = s.to_numpy() < med, f"{name} < {med:g} (median)"
        else:
            mode = s.cast(pl.Utf8).mode().sort()[0]
            g, desc = (s.cast(pl.Utf8) != mode).to_numpy(), f"{name} other than {mode!r} (modal level)"
        g = np.asarray(g, dtype=np.int8)
        if g.min() == g.max():
            raise DataValidationError(f"protected column {name!r}: the group {desc} holds {'every' if g[0] else 'no'} "
                                      f"row; a protected attribute must split the rows in two groups",
                                      rule="value", column=name)
        groups[name], names[name] = g, desc
    return groups, names


def _columns_hint(frame: pl.DataFrame, name: str) -> str:
    """'; did you mean ...? the columns are ...' with at most 8 names, so the CLI's message stays one line."""
    import difflib

    close = difflib.get_close_matches(name, frame.columns, n=3)
    shown = ", ".join(frame.columns[:8]) + (f", ... ({frame.width} in all)" if frame.width > 8 else "")
    return (f"; did you mean {' or '.join(map(repr, close))}?" if close else "") + f"; the columns are: {shown}"


def _write(t: Path, result: dict, models: dict, Xte: Any, yte: np.ndarray, card: Scorecard, iv: pl.DataFrame,
           points: pl.DataFrame, stab: pl.DataFrame, frontier: pl.DataFrame | None, frontier_feature: str | None,
           group_names: dict[str, str], title: str) -> None:
    from sklearn.metrics import roc_curve

    metrics = result["test_metrics"]
    (t / "metrics.json").write_text(strict_json(result), encoding="utf-8")
    iv.write_csv(t / "iv_table.csv")
    points.write_csv(t / "points_table.csv")
    (t / "scorecard.json").write_text(card.to_json(), encoding="utf-8")  # what `qfin scorecard monitor` reads
    stab.write_csv(t / "stability.csv")
    codes = card.reason_codes(Xte, n=4)  # every test applicant's adverse-action reasons
    codes.write_csv(t / "reason_codes.csv")
    fr = None
    if frontier is not None:
        fr = frontier.with_columns(pl.col("thresholds").cast(pl.List(pl.Utf8)).list.join(" "))
        fr.write_csv(t / "frontier.csv")
    figures = {f"woe_{f.name}.png": woe_chart(f"{f.name}: IV {r.value:.3f} ± {r.std_error:.3f}", r.table)
               for f, r in zip(card.binner_.bins_, card.encoder_.iv_, strict=True)}

    fig = report.new_figure(4.5, 4.5)
    ax = fig.add_subplot()
    for name, m in models.items():
        fpr, tpr, _ = roc_curve(yte, m.decision_function(Xte))
        ax.plot(fpr, tpr, label=f"{name} (AUC {metrics[name]['auc']['value']:.3f})")
    ax.plot([0, 1], [0, 1], "k:", lw=0.5)
    ax.set_xlabel("false positive rate")
    ax.set_ylabel("true positive rate")
    ax.legend(fontsize=8)
    fig.tight_layout()
    figures["roc.png"] = report.png_bytes(fig, dpi=90)

    if frontier is not None:
        ok = frontier.filter(pl.col("status") == "Optimal")
        fig = report.new_figure(5, 3.5)
        ax = fig.add_subplot()
        ax.plot(ok["iv_fair"], ok["iv"], "o-")
        for r in ok.iter_rows(named=True):
            ax.annotate(f"ε={r['epsilon']:g}", (r["iv_fair"], r["iv"]), fontsize=7)
        group = report.figure_text(next(iter(group_names.values())))
        feature = report.figure_text(frontier_feature)
        ax.set_xlabel(f"IV_fair ({feature} bins, {group} vs rest)", fontsize=8)
        ax.set_ylabel(f"IV of {feature} bins", fontsize=8)
        ax.set_title("performance–fairness frontier (exact MIP)", fontsize=9)
        fig.tight_layout()
        figures["frontier.png"] = report.png_bytes(fig, dpi=90)

    fig = report.new_figure(6, max(3.0, 0.2 * stab.height))
    ax = fig.add_subplot()
    colors = {"stable": "tab:green", "watch": "tab:orange", "shifted": "tab:red"}
    ax.barh([report.figure_text(c) for c in stab["column"].to_list()], stab["psi"].to_numpy(),
            xerr=1.96 * stab["std_error"].to_numpy(), color=[colors[s] for s in stab["status"].to_list()])
    for x in (0.10, 0.25):
        ax.axvline(x, color="k", ls=":", lw=0.7)
    ax.tick_params(axis="y", labelsize=6)
    ax.set_xlabel("CSI train vs test (bars: ±1.96 SE; lines: 0.10 / 0.25)")
    fig.tight_layout()
    figures["stability.png"] = report.png_bytes(fig, dpi=90)

    lowest = np.argsort(card.points(Xte), kind="stable")[:5]
    shown = codes.filter(pl.col("row").is_in(lowest.tolist()))
    page = _html(title, result, iv, points, fr, stab, figures, shown)
    report.write_page(t / MARKER, page, figures)


def woe_chart(name: str, table: pl.DataFrame) -> bytes:
    """PNG of one feature's WoE per bin (green: better than average, red: worse)."""
    # fixed margins instead of tight_layout: the layout search dominated the build's time
    fig = report.new_figure(6, 3)
    fig.subplots_adjust(left=0.12, right=0.98, top=0.9, bottom=0.33)
    ax = fig.add_subplot()
    labels = [report.figure_text(lb if len(lb) < 28 else lb[:25] + "...") for lb in table["bin"].to_list()]
    woe = table["woe"].to_numpy()
    ax.bar(range(len(woe)), woe, color=["tab:green" if w > 0 else "tab:red" for w in woe])
    ax.set_xticks(range(len(woe)), labels, rotation=30, ha="right", fontsize=7)
    ax.axhline(0, color="k", lw=0.5)
    ax.set_ylabel("WoE = ln(good / bad share)", fontsize=8)
    ax.set_title(report.figure_text(name), fontsize=9)
    return report.png_bytes(fig, dpi=90)


def _html(title: str, result: dict, iv: pl.DataFrame, points: pl.DataFrame, frontier: pl.DataFrame | None,
          stab: pl.DataFrame, figures: dict[str, bytes], codes: pl.DataFrame) -> str:
    def img(name: str) -> report.Html:
        return report.image(figures[name], name.removesuffix(".png").replace("_", " "))

    m = [[k, *(f"{v[mm]['value']:.3f} [{v[mm]['ci_low']:.3f}, {v[mm]['ci_high']:.3f}]" for mm in ("auc", "gini", "ks"))]
         for k, v in result["test_metrics"].items()]
    fair: list[str] = []
    if result["protected"]:
        groups = report.table(zip(result["protected"].values(), result["iv_fair_score"].values(), strict=True),
                              ["protected group", "IV_fair of the WoE score"])
        fair = [report.heading("Fairness"), groups]
        if frontier is not None:
            fair += [report.heading(f"Frontier of {result['frontier_feature']} binning", 3), img("frontier.png"),
                     report.frame_table(frontier)]
        else:
            fair.append(report.paragraph("No numeric non-protected feature: no frontier."))
    return report.page(
        f"{title} (qfin.scorecards)",
        report.paragraph(f"target {result['target']} (1 = bad); {result['n_train']} training and {result['n_test']} "
                         f"test rows; seed {result['seed']}."),
        report.heading("Test discrimination (95% bootstrap intervals)"),
        report.table(m, ["encoding", "auc", "gini", "ks"]), img("roc.png"),
        report.heading("Is the sample big enough? (E KL = p / 2n against 0.01 nats per row)"),
        report.table([[enc, *(([c["n_params"], c["n_rows"], f"{c['expected_kl']:.4f}", c["min_rows"],
                                "yes" if c["ok"] else "no: too many parameters"]) if "error" not in c
                              else ["", "", "", "", c["error"]])] for enc, c in result["sample_size"].items()],
                     ["encoding", "parameters", "training rows", "expected KL", "rows needed", "ok"]),
        report.heading("Information value (delta-method SE, smoothing 0.5)"), report.frame_table(iv),
        report.heading("Points table (WoE logistic; PDO 20, 600 points at 50:1)"), report.frame_table(points),
        report.heading("Reason codes of the five lowest-scoring test applicants"),
        report.paragraph("Per applicant (test row), the features that cost the most points against their best "
                         "attribute (points below maximum); every test row's are in reason_codes.csv."),
        report.frame_table(codes),
        *fair,
        report.heading("Stability train vs test (CSI per feature)"), img("stability.png"), report.frame_table(stab),
        report.heading("WoE by feature"), *(img(name) for name in figures if name.startswith("woe_")))
