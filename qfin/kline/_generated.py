"""Synthetic K-lines viewed as a :class:`KlineForecast` (for the plot) and their stylized facts beside the real
bars'."""

from __future__ import annotations

import numpy as np
import polars as pl

from ._evaluate import stylized_facts
from ._normalize import FEATURES
from ._predictor import KlineForecast

__all__ = ["compare_generated"]


def compare_generated(generated: pl.DataFrame, context: pl.DataFrame, n_paths: int, n_steps: int
                      ) -> tuple[KlineForecast, dict[str, dict[str, float]]]:
    """(the generated paths as a forecast from the context's last close, ``{"real": facts, "generated":
    facts}``) for ``generated`` as :meth:`KlinePredictor.generate` returns it: path after path, each
    ``n_steps`` bars long, in time order."""
    values = generated.select(FEATURES).to_numpy().reshape(n_paths, n_steps, len(FEATURES))
    last_close = float(context["close"][-1])
    forecast = KlineForecast(paths=values, timestamps=generated["timestamp"].to_numpy()[:n_steps],
                             symbol=str(context["symbol"][0]), last_close=last_close)
    closes = np.concatenate([np.full((n_paths, 1), last_close), values[..., 3]], axis=1)
    real = np.diff(np.log(context["close"].to_numpy()))[None]
    return forecast, {"real": stylized_facts(real), "generated": stylized_facts(np.diff(np.log(closes), axis=1))}
