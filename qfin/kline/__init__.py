"""K-line foundation model: hierarchical BSQ tokenizer, autoregressive transformer, forecasts, volatility
forecasts and synthetic K-lines (after Kronos, arXiv 2508.02739, with its known gaps fixed: all sample paths
kept, seeded sampling, OHLC repair, lookback-only normalisation, conformal interval calibration, KV cache).

Typical use::

    from qfin.kline import KlineTrainConfig, train_kline, KlinePredictor
    train_kline(KlineTrainConfig(), "models/artifacts/kline")
    predictor = KlinePredictor.from_checkpoint("models/artifacts/kline")
    forecast = predictor.predict(bars, pred_len=16, samples=64, seed=0)
"""

from ._bsq import bits_to_code, bits_to_index, bsq_entropy_loss, bsq_quantize, index_to_bits, join_code, split_index
from ._config import KlineModelConfig, KlineTokenizerConfig, KlineTrainConfig, cpu_config, gpu_config
from ._corpus import SHIPPED_OHLCV, KlineCorpus, Windows, calendar_features
from ._evaluate import evaluate_kline, stylized_facts
from ._model import KlineModel, sample_logits
from ._normalize import FEATURES, WindowStats, bars_to_features, denormalize, features_to_bars, normalize
from ._predictor import (
                   FREQUENCIES,
                   KlineForecast,
                   KlinePredictor,
                   future_timestamps,
                   infer_frequency,
                   realized_vol_of_paths,
                   repair_ohlc,
)
from ._report import plot_forecast, save_forecast
from ._strategy import KlineForecastStrategy, kelly_weights
from ._tokenizer import KlineTokenizer
from ._train import TrainResult, build_corpus, encode_windows, load_kline, read_config, train_kline

__all__ = [
                   "FEATURES",
                   "FREQUENCIES",
                   "SHIPPED_OHLCV",
                   "KlineCorpus",
                   "KlineForecast",
                   "KlineForecastStrategy",
                   "KlineModel",
                   "KlineModelConfig",
                   "KlinePredictor",
                   "KlineTokenizer",
                   "KlineTokenizerConfig",
                   "KlineTrainConfig",
                   "TrainResult",
                   "WindowStats",
                   "Windows",
                   "bars_to_features",
                   "bits_to_code",
                   "bits_to_index",
                   "bsq_entropy_loss",
                   "bsq_quantize",
                   "build_corpus",
                   "calendar_features",
                   "cpu_config",
                   "denormalize",
                   "encode_windows",
                   "evaluate_kline",
                   "features_to_bars",
                   "future_timestamps",
                   "gpu_config",
                   "index_to_bits",
                   "infer_frequency",
                   "join_code",
                   "kelly_weights",
                   "load_kline",
                   "normalize",
                   "plot_forecast",
                   "read_config",
                   "realized_vol_of_paths",
                   "repair_ohlc",
                   "sample_logits",
                   "save_forecast",
                   "split_index",
                   "stylized_facts",
                   "train_kline",
]
