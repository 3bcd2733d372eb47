"""Argument checks shared by the environments' constructors (validate once, at the boundary)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from qfin.errors import QfinError, RenderModeError


def finite_number(value: Any, name: str, *, low: float | None = None, low_open: bool = False) -> float:
    """``value`` as a float if it is a finite real number (not a bool) at or above ``low`` (above, if
    ``low_open``); else a QfinError naming the argument and what is accepted."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) \
            or not math.isfinite(value):
        raise QfinError(f"{name} must be a finite number; got {value!r}")
    if low is not None and (value <= low if low_open else value < low):
        raise QfinError(f"{name} must be {'>' if low_open else '>='} {low}; got {value!r}")
    return float(value)


def no_render_mode(render_mode: Any, env_name: str) -> None:
    """Gymnasium passes ``render_mode`` to every environment (``gym.make(id, render_mode=...)``); qfin's draw
    nothing, so only ``None`` is accepted, with an error that says where the pictures are instead (a TypeError
    too, so Stable-Baselines3's ``make_vec_env``, which asks for ``"rgb_array"``, falls back to no mode)."""
    if render_mode is not None:
        raise RenderModeError(f"{env_name} has no render modes (metadata['render_modes'] is empty); got "
                        f"render_mode={render_mode!r}. Accepted: None; plot the values in each step's info instead")
