"""A job's resume state on disk: JSON for the plain values, one ``.npz`` for the arrays (no pickle either way).

A trial's checkpoint is written by the search that the user started and read back only by it; still nothing is
unpickled (``np.load(allow_pickle=False)``), so a checkpoint folder can be shared without trusting its origin.
Nested dicts are kept (their keys joined by "/"); arrays may sit at any depth."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["load_state", "save_state"]

_VALUES, _ARRAYS = "state.json", "arrays.npz"


def save_state(state: dict[str, Any], folder: str | Path) -> None:
    """Write ``state`` (str keys without "/"; JSON values, numpy arrays, nested dicts of those) into ``folder``."""
    arrays: dict[str, np.ndarray] = {}

    def split(tree: dict[str, Any], prefix: str) -> dict[str, Any]:
        plain = {}
        for key, value in tree.items():
            if "/" in key:
                raise ValueError(f"state key {key!r}: '/' is reserved")
            if isinstance(value, np.ndarray):
                arrays[prefix + key] = value
            elif isinstance(value, dict):
                plain[key] = split(value, f"{prefix}{key}/")
            else:
                plain[key] = value
        return plain

    folder = Path(folder)
    (folder / _VALUES).write_text(json.dumps(split(state, "")))
    np.savez(folder / _ARRAYS, **arrays)


def load_state(folder: str | Path) -> dict[str, Any]:
    """The state :func:`save_state` wrote into ``folder``."""
    folder = Path(folder)
    state = json.loads((folder / _VALUES).read_text())
    with np.load(folder / _ARRAYS, allow_pickle=False) as arrays:
        for path in arrays.files:
            *parents, leaf = path.split("/")
            node = state
            for key in parents:
                node = node.setdefault(key, {})
            node[leaf] = arrays[path]
    return state
