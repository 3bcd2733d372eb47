"""Input/output plumbing shared by the scorecard estimators: numpy, pandas or polars in, the same type out.

Columns are split into numeric (float64, NaN = missing) and categorical (object arrays of strings, None =
missing). Validation happens here, once, at the estimator boundary.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from qfin.errors import DataValidationError


def frame_kind(X: Any) -> str:
    mod = type(X).__module__
    if mod.startswith("polars") and hasattr(X, "columns"):
        return "polars"
    if mod.startswith("pandas") and hasattr(X, "columns"):
        return "pandas"
    return "numpy"


def numeric_matrix(X: Any) -> np.ndarray | None:
    """X as a 2-D float64 array when it is a numeric numpy matrix (X itself if already float64, C or Fortran
    order alike), else None: the binning passes read it in place."""
    if isinstance(X, np.ndarray) and X.ndim == 2 and X.dtype.kind in "iuf":
        return X.astype(np.float64, copy=False)
    return None


def columns_of(X: Any, categorical: Any = None) -> tuple[list[str] | None, list[np.ndarray], list[bool]]:
    """Split X into per-column arrays. Returns (names or None for arrays, columns, is_categorical flags).

    ``categorical``: optional list of column names or indices forced to be categorical; otherwise string,
    boolean, categorical and object columns that are not all numbers are categorical.
    """
    kind = frame_kind(X)
    forced = set(categorical or [])
    if kind in ("polars", "pandas"):
        names = [str(c) for c in X.columns]
        raw = [X[c].to_numpy() for c in X.columns]
    else:
        if hasattr(X, "toarray") or type(X).__module__.startswith("scipy.sparse"):
            raise TypeError("sparse input is not supported; pass a dense array or a pandas/polars DataFrame")
        arr = np.asarray(X)
        if arr.dtype.kind == "c":
            raise ValueError("Complex data not supported; pass real numbers or categories")
        if arr.ndim == 1:
            raise ValueError("Expected 2D array, got 1D array instead. Reshape your data with X.reshape(-1, 1) "
                             "for a single feature or X.reshape(1, -1) for a single sample")
        if arr.ndim != 2:
            raise ValueError(f"X must be 2-D [n_samples, n_features]; got shape {arr.shape}")
        names = None
        mat = numeric_matrix(arr) if arr.size else None
        if mat is not None:
            # fast path for numeric matrices: the columns are views of one float64 matrix (no copy when X is one)
            inf = np.isinf(mat)
            if inf.any() and not set(np.flatnonzero(inf.any(axis=0))) <= set(categorical or []):
                j = int(np.flatnonzero(inf.any(axis=0))[0])
                rows = np.flatnonzero(inf[:, j])[:5].tolist()
                raise DataValidationError(f"Input X contains infinity in column {j} (rows {rows}); use NaN for "
                                          f"missing values or a special value", rule="inf", column=str(j), rows=rows)
            if not forced:
                return None, [mat[:, j] for j in range(mat.shape[1])], [False] * mat.shape[1]
        raw = [arr[:, j] for j in range(arr.shape[1])]
    n_rows = X.shape[0] if hasattr(X, "shape") else (raw[0].shape[0] if raw else 0)
    if len(raw) == 0:
        raise ValueError(f"Found array with 0 feature(s) (shape=({n_rows}, 0)) while a minimum of 1 is required; "
                         "X needs at least one column")
    if n_rows == 0:
        raise ValueError(f"Found array with 0 sample(s) (shape=(0, {len(raw)})) while a minimum of 1 is required")
    cols: list[np.ndarray] = []
    flags: list[bool] = []
    for j, col in enumerate(raw):
        label = names[j] if names else j
        want_cat = label in forced or j in forced
        num = None if want_cat else _as_numeric(col)
        if num is None:
            cols.append(_as_categorical(col))
            flags.append(True)
        else:
            if np.isinf(num).any():
                rows = np.flatnonzero(np.isinf(num))[:5].tolist()
                raise DataValidationError(f"Input X contains infinity in column {label!r} (rows {rows}); use NaN "
                                          f"for missing values or a special value", rule="inf", column=str(label),
                                          rows=rows)
            cols.append(num)
            flags.append(False)
    return names, cols, flags


def _as_numeric(col: np.ndarray) -> np.ndarray | None:
    if col.dtype.kind in "iuf":
        return col.astype(np.float64)
    if col.dtype.kind == "b":
        return None
    if col.dtype.kind == "O":
        try:
            out = np.array([np.nan if v is None else v for v in col], dtype=np.float64)
        except (TypeError, ValueError):
            return None
        return out
    return None


def _as_categorical(col: np.ndarray) -> np.ndarray:
    out = np.empty(col.shape[0], dtype=object)
    for i, v in enumerate(col):
        out[i] = None if v is None or (isinstance(v, float) and np.isnan(v)) else str(v)
    return out


def wrap_like(values: np.ndarray, names: list[str], like: Any) -> Any:
    """Return a [n, k] array as the same container type as ``like`` (numpy, pandas or polars)."""
    kind = frame_kind(like)
    if kind == "polars":
        import polars as pl
        return pl.DataFrame({n: values[:, j] for j, n in enumerate(names)})
    if kind == "pandas":
        import pandas as pd
        return pd.DataFrame(values, columns=names, index=like.index)
    return values


def mixed_input_tags(tags: Any) -> Any:
    """scikit-learn tags of an estimator fitted on mixed columns (NaN, categories, strings) and a binary target:
    what every scorecard estimator declares, set in one place."""
    from sklearn.utils import ClassifierTags

    tags.input_tags.allow_nan = True
    tags.input_tags.categorical = True
    tags.input_tags.string = True
    tags.target_tags.required = True
    if tags.classifier_tags is None:
        tags.classifier_tags = ClassifierTags(multi_class=False)  # supervised by a binary target
    else:
        tags.classifier_tags.multi_class = False
    return tags
