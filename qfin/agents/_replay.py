"""Replay buffers of off-policy agents (SAC, TD3, QR-DQN) on disk, so a resumed run keeps the transitions it had.

The buffer's arrays go into one ``.npz`` file (numpy's zip of ``.npy`` arrays, read with ``allow_pickle=False``, so
loading never unpickles code): ``observations``, ``next_observations`` (absent when SB3's
``optimize_memory_usage`` keeps only one copy), ``actions``, ``rewards``, ``dones``, ``timeouts``, and the counters
``pos``, ``full``, ``buffer_size``, ``n_envs``. A Dict observation space stores one array per key, named
``observations.<key>``. Only the filled rows are written (``[:pos]`` until the buffer is full), so an early
checkpoint of a large buffer stays small.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from qfin.errors import CheckpointError

__all__ = ["load_replay_buffer", "save_replay_buffer"]

_TRANSITIONS = ("observations", "next_observations", "actions", "rewards", "dones", "timeouts")


def _arrays(buffer: Any) -> dict[str, np.ndarray]:
    """The buffer's transition arrays by file key (a Dict observation contributes one per sub-space)."""
    out: dict[str, np.ndarray] = {}
    for name in _TRANSITIONS:
        value = getattr(buffer, name, None)
        if isinstance(value, dict):
            out.update({f"{name}.{key}": array for key, array in value.items()})
        elif value is not None:
            out[name] = value
    return out


def save_replay_buffer(buffer: Any, path: str | Path) -> Path:
    """Write ``buffer`` (an SB3 ``ReplayBuffer`` or ``DictReplayBuffer``) to ``path`` (an ``.npz`` file)."""
    path = Path(path)
    filled = buffer.buffer_size if buffer.full else buffer.pos
    arrays = {key: array[:filled] for key, array in _arrays(buffer).items()}
    counters = {"pos": buffer.pos, "full": bool(buffer.full), "buffer_size": buffer.buffer_size,
                "n_envs": buffer.n_envs}
    with path.open("wb") as file:  # a file object: np.savez would append ".npz" to a bare name
        np.savez(file, **arrays, **{key: np.asarray(value) for key, value in counters.items()})
    return path


def load_replay_buffer(buffer: Any, path: str | Path) -> None:
    """Fill ``buffer`` in place from a file written by :func:`save_replay_buffer`.

    The buffer must have the saved capacity, number of envs, arrays, shapes and dtypes; otherwise
    :class:`CheckpointError` names what differs. With ``optimize_memory_usage`` the last stored transition is
    marked done, as SB3 does on a fresh ``learn``: its next observation would be overwritten by the resumed run's
    first reset.
    """
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as saved:
            stored = {key: saved[key] for key in saved.files}
    except (OSError, ValueError) as err:
        raise CheckpointError(f"{path}: unreadable replay buffer ({str(err).splitlines()[0]})") from None
    live = _arrays(buffer)
    counters = ("pos", "full", "buffer_size", "n_envs")
    if set(stored) != set(live) | set(counters):
        raise CheckpointError(f"{path}: the saved replay buffer holds {sorted(stored)}, but this model's buffer "
                              f"needs {sorted(set(live) | set(counters))} (a different observation space or "
                              "optimize_memory_usage setting)")
    for key in ("buffer_size", "n_envs"):
        if int(stored[key]) != getattr(buffer, key):
            raise CheckpointError(f"{path}: the saved replay buffer has {key} {int(stored[key])}, this model's "
                                  f"has {getattr(buffer, key)}; resume with the same buffer_size and n_envs")
    pos, full = int(stored["pos"]), bool(stored["full"])
    filled = buffer.buffer_size if full else pos
    for key, array in live.items():
        data = stored[key]
        if data.shape != (filled, *array.shape[1:]) or data.dtype != array.dtype:
            raise CheckpointError(f"{path}: replay buffer array {key!r} is {data.dtype}{list(data.shape)}; "
                                  f"expected {array.dtype}{[filled, *array.shape[1:]]}")
    for key, array in live.items():
        array[:filled] = stored[key]
    buffer.pos, buffer.full = pos, full
    if getattr(buffer, "optimize_memory_usage", False) and filled:
        buffer.dones[(pos - 1) % buffer.buffer_size] = True
