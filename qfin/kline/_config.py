"""Configs of the K-line tokenizer, model and training run: frozen pydantic models (through ``qfin.specs``) that
round-trip through JSON, and :func:`load_train_config`, the one reader of a config preset or file.

Numbers are strict where a wrong type would fail deep inside training: an ``int`` field refuses 16.5 and
``true``, a ``float`` field takes an integer but not a boolean.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, StrictBool, StrictFloat, StrictInt, StrictStr, model_validator

from ..errors import SpecError
from ..specs import SpecErrorsOnInit, parse_model, read_toml

__all__ = ["KlineModelConfig", "KlineTokenizerConfig", "KlineTrainConfig", "PRESETS", "cpu_config", "gpu_config",
           "load_train_config", "small_config"]

FEATURE_KINDS = ("price", "return")
SYNTHETIC_MODELS = ("garch", "heston", "regime", "jump")


class _Config(SpecErrorsOnInit, BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class KlineTokenizerConfig(_Config):
    """Tokenizer shape: ``coarse_bits + fine_bits`` BSQ bits per bar (the split may be asymmetric), causal
    encoder / decoder of ``enc_layers`` / ``dec_layers`` blocks of width ``d_model``; loss weights."""

    n_features: StrictInt = 5
    d_model: StrictInt = 32
    n_heads: StrictInt = 2
    ffn_hidden: StrictInt = 64
    enc_layers: StrictInt = 2
    dec_layers: StrictInt = 2
    coarse_bits: StrictInt = 5
    fine_bits: StrictInt = 5
    entropy_weight: StrictFloat = 0.05
    entropy_gamma: StrictFloat = 1.0
    entropy_inv_temperature: StrictFloat = 1.0

    @model_validator(mode="after")
    def _bits(self) -> KlineTokenizerConfig:
        if self.coarse_bits < 1 or self.fine_bits < 1 or self.coarse_bits + self.fine_bits > 30:
            raise ValueError(f"coarse_bits ({self.coarse_bits}) and fine_bits ({self.fine_bits}) must be >= 1 "
                             f"with a total of at most 30")
        return self

    @property
    def n_bits(self) -> int:
        return self.coarse_bits + self.fine_bits


class KlineModelConfig(_Config):
    """Autoregressive model shape; its ``coarse_bits``/``fine_bits`` must equal the tokenizer's."""

    coarse_bits: StrictInt = 5
    fine_bits: StrictInt = 5
    d_model: StrictInt = 64
    n_heads: StrictInt = 4
    ffn_hidden: StrictInt = 128
    n_layers: StrictInt = 3


class KlineTrainConfig(_Config):
    """A whole pre-training run: corpus, window shape, both networks and the optimisation budget.

    ``lookback`` bars are normalised and conditioned on; the model learns on windows of
    ``lookback + horizon`` bars. Steps count optimiser updates of each stage (tokenizer, then model).
    ``held_out`` datasets are evaluated but never trained on (zero-shot). ``synthetic_paths`` K-lines of
    ``synthetic_bars`` bars from each of ``synthetic_models`` (:func:`qfin.data.simulate.simulate_klines`) join
    the training part of the corpus. ``features`` is ``"price"`` (Kronos) or ``"return"`` (log returns from the
    previous close, see :data:`qfin.kline.FEATURE_KINDS`).
    """

    datasets: tuple[StrictStr, ...] = ("sp500_index", "nasdaq_index", "msft")
    train_end: StrictStr = "2012-12-31"
    validation_end: StrictStr = "2015-06-30"
    held_out: tuple[StrictStr, ...] = ()
    synthetic_garch_paths: StrictInt = 0
    synthetic_garch_steps: StrictInt = 2000
    synthetic_paths: StrictInt = 0
    synthetic_bars: StrictInt = 2500
    synthetic_models: tuple[StrictStr, ...] = SYNTHETIC_MODELS
    synthetic_substeps: StrictInt = 16
    features: StrictStr = "price"
    lookback: StrictInt = 64
    horizon: StrictInt = 16
    stride: StrictInt = 2
    clip: StrictFloat = 5.0
    log_volume: StrictBool = True
    tokenizer: KlineTokenizerConfig = KlineTokenizerConfig()
    model: KlineModelConfig = KlineModelConfig()
    tokenizer_steps: StrictInt = 500
    model_steps: StrictInt = 900
    batch_size: StrictInt = 32
    lr: StrictFloat = 2e-3
    lr_schedule: StrictStr = "constant"
    warmup_steps: StrictInt = 0
    weight_decay: StrictFloat = 0.01
    checkpoint_every: StrictInt = 100
    seed: StrictInt = 0

    @model_validator(mode="after")
    def _consistent(self) -> KlineTrainConfig:
        if (self.tokenizer.coarse_bits, self.tokenizer.fine_bits) != (self.model.coarse_bits, self.model.fine_bits):
            raise ValueError("model coarse_bits/fine_bits must equal the tokenizer's: "
                             f"{(self.model.coarse_bits, self.model.fine_bits)} vs "
                             f"{(self.tokenizer.coarse_bits, self.tokenizer.fine_bits)}")
        if self.lookback < 8:
            raise ValueError(f"lookback must be at least 8 bars; got {self.lookback}")
        if self.horizon < 1:
            raise ValueError(f"horizon must be at least 1 bar; got {self.horizon}")
        if self.lr_schedule not in ("constant", "cosine") or self.warmup_steps < 0:
            raise ValueError(f"lr_schedule {self.lr_schedule!r} / warmup_steps {self.warmup_steps}: accepted "
                             "'constant' or 'cosine' (to 10% of lr at the stage's last step), warmup >= 0")
        if self.features not in FEATURE_KINDS:
            raise ValueError(f"features {self.features!r}: accepted {list(FEATURE_KINDS)}")
        bad = [m for m in self.synthetic_models if m not in SYNTHETIC_MODELS]
        if bad:
            raise ValueError(f"synthetic_models {bad}: accepted {list(SYNTHETIC_MODELS)}")
        width = self.lookback + self.horizon
        if self.synthetic_paths < 0 or self.synthetic_bars < width or self.synthetic_substeps < 1:
            raise ValueError("synthetic_paths must be >= 0, synthetic_bars >= lookback + horizon and "
                             f"synthetic_substeps >= 1; got {self.synthetic_paths}, {self.synthetic_bars}, "
                             f"{self.synthetic_substeps}")
        both = set(self.held_out) & set(self.datasets)
        if both:
            raise ValueError(f"held_out {sorted(both)} also in datasets: a held-out series is never trained on")
        return self

    def to_dict(self) -> dict:
        """The config as plain JSON types (lists for tuples)."""
        return self.model_dump(mode="json")

    @classmethod
    def from_dict(cls, data: Any, source: str = "kline config") -> KlineTrainConfig:
        """A config from a dict of its fields (nested ``tokenizer`` and ``model`` tables); problems are one
        :class:`SpecError` line naming the key."""
        return parse_model(cls, data, source)

    def replace(self, **changes: Any) -> KlineTrainConfig:
        """A copy with ``changes`` applied and validated again."""
        return type(self).from_dict({**self.model_dump(), **changes}, "kline config")


def cpu_config(**overrides: Any) -> KlineTrainConfig:
    """The config that pre-trains on 2 CPU cores in well under 10 minutes."""
    return KlineTrainConfig().replace(**overrides)


def gpu_config(**overrides: Any) -> KlineTrainConfig:
    """A larger config for one GPU (and synthetic GARCH K-lines added to the corpus)."""
    base = KlineTrainConfig(
        synthetic_garch_paths=64, lookback=128, horizon=32, stride=1,
        tokenizer=KlineTokenizerConfig(d_model=128, n_heads=4, ffn_hidden=256, enc_layers=4, dec_layers=4,
                                       coarse_bits=7, fine_bits=7),
        model=KlineModelConfig(coarse_bits=7, fine_bits=7, d_model=256, n_heads=8, ffn_hidden=768, n_layers=8),
        tokenizer_steps=20_000, model_steps=50_000, batch_size=128, lr=5e-4, checkpoint_every=1000)
    return base.replace(**overrides)


def small_config(**overrides: Any) -> KlineTrainConfig:
    """The shipped pre-trained model (``KlinePredictor.from_pretrained("small")``): about 2M parameters, log-return
    features, the train spans of sp500_index and nasdaq_index (msft held out entirely, for zero-shot) plus 1M
    synthetic K-lines of bars from the four simulators; its step budget is calibrated to about 90 minutes on 2
    unloaded CPU cores."""
    base = KlineTrainConfig(
        datasets=("sp500_index", "nasdaq_index"), held_out=("msft",), features="return",
        synthetic_paths=100, synthetic_bars=2500, lookback=64, horizon=16, stride=1,
        tokenizer=KlineTokenizerConfig(d_model=64, n_heads=4, ffn_hidden=128, enc_layers=2, dec_layers=2,
                                       coarse_bits=7, fine_bits=7, entropy_weight=0.05),
        model=KlineModelConfig(coarse_bits=7, fine_bits=7, d_model=160, n_heads=4, ffn_hidden=448, n_layers=4),
        tokenizer_steps=600, model_steps=SMALL_MODEL_STEPS, batch_size=32, lr=1e-3, lr_schedule="cosine",
        warmup_steps=100, checkpoint_every=100)
    return base.replace(**overrides)


SMALL_MODEL_STEPS = 1500


def gpu_large_config(**overrides: Any) -> KlineTrainConfig:
    """The larger config for one GPU with the small model's corpus recipe (log returns, msft held out, four
    synthetic models), 10x the synthetic bars and about 25M parameters."""
    base = small_config(
        synthetic_paths=1000, lookback=128, horizon=32,
        tokenizer=KlineTokenizerConfig(d_model=128, n_heads=4, ffn_hidden=256, enc_layers=4, dec_layers=4,
                                       coarse_bits=8, fine_bits=8),
        model=KlineModelConfig(coarse_bits=8, fine_bits=8, d_model=512, n_heads=8, ffn_hidden=1408, n_layers=8),
        tokenizer_steps=10_000, model_steps=40_000, batch_size=128, lr=5e-4, checkpoint_every=1000)
    return base.replace(**overrides)


PRESETS = {"cpu": cpu_config, "small": small_config, "gpu": gpu_config, "gpu-large": gpu_large_config}
"""Named configs :func:`load_train_config` accepts."""


def load_train_config(spec: str | Path) -> KlineTrainConfig:
    """A preset name (:data:`PRESETS`: ``"cpu"``, ``"small"``, ``"gpu"``, ``"gpu-large"``), or a TOML or JSON
    file of :class:`KlineTrainConfig` fields (nested ``[tokenizer]``
    and ``[model]`` tables; missing keys take the CPU defaults, unknown keys are errors)."""
    if str(spec) in PRESETS:
        return PRESETS[str(spec)]()
    path = Path(spec)
    if path.suffix not in (".toml", ".json"):
        raise SpecError(f"{spec}: pass 'cpu', 'gpu' or a .toml (or .json) file of KlineTrainConfig fields, or "
                        f"another preset: {sorted(set(PRESETS) - {'cpu', 'gpu'})}")
    if path.suffix == ".toml":
        data = read_toml(path, "config")
    else:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise SpecError(f"{path}: no such config file") from None
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise SpecError(f"{path}: not valid JSON ({err})") from None
    return KlineTrainConfig.from_dict(data, str(path))
