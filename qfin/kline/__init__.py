"""K-line foundation model: hierarchical BSQ tokenizer, autoregressive transformer, forecasts, volatility
forecasts and synthetic K-lines (after Kronos, arXiv 2508.02739, with its known gaps fixed: all sample paths
kept, seeded sampling, OHLC repair, lookback-only normalisation, conformal interval calibration, KV cache).

Typical use::

    from qfin.kline import KlinePredictor, finetune_kline
    predictor = KlinePredictor.from_pretrained("small")          # shipped inside the package, no download
    forecast = predictor.predict(bars, pred_len=16, samples=64, seed=0)
    tuned = finetune_kline(bars, base="small", out_dir="models/artifacts/kline-mine").predictor

Names load on first use (torch with them); importing the package itself only registers the backtest strategy
kind ``kline_forecast`` (numpy only), so ``qfin backtest`` pays for torch only when such a strategy is built.
"""

from __future__ import annotations

from qfin._lazy import lazy_names

from ._strategy import KlineForecastStrategy, kelly_weights  # noqa: F401  (registers kind "kline_forecast")

_WHERE = {
    "bits_to_code": "_bsq", "bits_to_index": "_bsq", "bsq_entropy_loss": "_bsq", "bsq_quantize": "_bsq",
    "index_to_bits": "_bsq", "join_code": "_bsq", "split_index": "_bsq",
    "KlineModelConfig": "_config", "KlineTokenizerConfig": "_config", "KlineTrainConfig": "_config",
    "cpu_config": "_config", "gpu_config": "_config", "load_train_config": "_config", "PRESETS": "_config",
    "small_config": "_config", "gpu_large_config": "_config",
    "FinetuneResult": "_finetune", "finetune_kline": "_finetune",
    "PRETRAINED_DIR": "_pretrained", "export_pretrained": "_pretrained", "load_pretrained": "_pretrained",
    "pretrained_names": "_pretrained",
    "garch_vol": "_baselines", "har_rv_vol": "_baselines", "persistence_vol": "_baselines", "range_vol": "_baselines",
    "trailing_vol": "_baselines", "volatility_baselines": "_baselines", "path_vol_median": "_evaluate",
    "FEATURE_KINDS": "_normalize", "lr_at": "_train",
    "SHIPPED_OHLCV": "_corpus", "KlineCorpus": "_corpus", "Windows": "_corpus", "calendar_features": "_corpus",
    "evaluate_kline": "_evaluate", "stylized_facts": "_evaluate",
    "KlineModel": "_model", "sample_logits": "_model",
    "FEATURES": "_normalize", "WindowStats": "_normalize", "bars_to_features": "_normalize",
    "denormalize": "_normalize", "features_to_bars": "_normalize", "normalize": "_normalize",
    "FREQUENCIES": "_predictor", "KlineForecast": "_predictor", "KlinePredictor": "_predictor",
    "future_timestamps": "_predictor", "infer_frequency": "_predictor", "realized_vol_of_paths": "_predictor",
    "repair_ohlc": "_predictor",
    "forecast_png": "_report", "plot_forecast": "_report", "save_forecast": "_report",
    "write_evaluation_report": "_report", "write_forecast_report": "_report",
    "KlineForecastStrategy": "_strategy", "kelly_weights": "_strategy",
    "KlineTokenizer": "_tokenizer",
    "bars_from": "_inputs", "select_bars": "_inputs",
    "compare_generated": "_generated", "save_bars": "_report",
    "evaluation_datasets": "_test_span",
    "EVALUATION_ROWS": "_test_span", "evaluate_checkpoint": "_test_span", "evaluation_cell": "_test_span",
    "save_evaluation": "_test_span",
    "check_sampling": "_predictor", "check_device": "_train",
    "TrainResult": "_train", "build_corpus": "_train", "encode_windows": "_train", "load_kline": "_train",
    "read_config": "_train", "train_kline": "_train",
}

__all__ = sorted(_WHERE)

__getattr__, __dir__ = lazy_names(__name__, _WHERE)
