"""Configs of the K-line tokenizer, model and training run: frozen dataclasses that round-trip through JSON."""

from __future__ import annotations

import dataclasses
from dataclasses import asdict, dataclass, field

from ..errors import SpecError


def _from_dict(cls, data: dict, where: str):
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = set(data) - names
    if unknown:
        raise SpecError(f"{where}: unknown keys {sorted(unknown)}; accepted: {sorted(names)}")
    return cls(**data)


@dataclass(frozen=True)
class KlineTokenizerConfig:
    """Tokenizer shape: ``coarse_bits + fine_bits`` BSQ bits per bar (the split may be asymmetric), causal
    encoder / decoder of ``enc_layers`` / ``dec_layers`` blocks of width ``d_model``; loss weights."""

    n_features: int = 5
    d_model: int = 32
    n_heads: int = 2
    ffn_hidden: int = 64
    enc_layers: int = 2
    dec_layers: int = 2
    coarse_bits: int = 5
    fine_bits: int = 5
    entropy_weight: float = 0.05
    entropy_gamma: float = 1.0
    entropy_inv_temperature: float = 1.0

    def __post_init__(self) -> None:
        if self.coarse_bits < 1 or self.fine_bits < 1 or self.coarse_bits + self.fine_bits > 30:
            raise SpecError(f"coarse_bits ({self.coarse_bits}) and fine_bits ({self.fine_bits}) must be >= 1 "
                            f"with a total of at most 30")

    @property
    def n_bits(self) -> int:
        return self.coarse_bits + self.fine_bits


@dataclass(frozen=True)
class KlineModelConfig:
    """Autoregressive model shape; its ``coarse_bits``/``fine_bits`` must equal the tokenizer's."""

    coarse_bits: int = 5
    fine_bits: int = 5
    d_model: int = 64
    n_heads: int = 4
    ffn_hidden: int = 128
    n_layers: int = 3


@dataclass(frozen=True)
class KlineTrainConfig:
    """A whole pre-training run: corpus, window shape, both networks and the optimisation budget.

    ``lookback`` bars are normalised and conditioned on; the model learns on windows of
    ``lookback + horizon`` bars. Steps count optimiser updates of each stage (tokenizer, then model).
    """

    datasets: tuple[str, ...] = ("sp500_index", "nasdaq_index", "msft")
    train_end: str = "2012-12-31"
    validation_end: str = "2015-06-30"
    synthetic_garch_paths: int = 0
    synthetic_garch_steps: int = 2000
    lookback: int = 64
    horizon: int = 16
    stride: int = 2
    clip: float = 5.0
    log_volume: bool = True
    tokenizer: KlineTokenizerConfig = field(default_factory=KlineTokenizerConfig)
    model: KlineModelConfig = field(default_factory=KlineModelConfig)
    tokenizer_steps: int = 500
    model_steps: int = 900
    batch_size: int = 32
    lr: float = 2e-3
    weight_decay: float = 0.01
    checkpoint_every: int = 100
    seed: int = 0

    def __post_init__(self) -> None:
        if (self.tokenizer.coarse_bits, self.tokenizer.fine_bits) != (self.model.coarse_bits, self.model.fine_bits):
            raise SpecError("model coarse_bits/fine_bits must equal the tokenizer's: "
                            f"{(self.model.coarse_bits, self.model.fine_bits)} vs "
                            f"{(self.tokenizer.coarse_bits, self.tokenizer.fine_bits)}")
        if self.lookback < 8:
            raise SpecError(f"lookback must be at least 8 bars; got {self.lookback}")
        if self.horizon < 1:
            raise SpecError(f"horizon must be at least 1 bar; got {self.horizon}")

    def to_dict(self) -> dict:
        d = asdict(self)
        d["datasets"] = list(self.datasets)
        return d

    @classmethod
    def from_dict(cls, data: dict) -> KlineTrainConfig:
        data = dict(data)
        if "tokenizer" in data:
            data["tokenizer"] = _from_dict(KlineTokenizerConfig, data["tokenizer"], "tokenizer")
        if "model" in data:
            data["model"] = _from_dict(KlineModelConfig, data["model"], "model")
        if "datasets" in data:
            data["datasets"] = tuple(data["datasets"])
        return _from_dict(cls, data, "kline config")


def cpu_config(**overrides) -> KlineTrainConfig:
    """The config that pre-trains on 2 CPU cores in well under 10 minutes."""
    return dataclasses.replace(KlineTrainConfig(), **overrides)


def gpu_config(**overrides) -> KlineTrainConfig:
    """A larger config for one GPU (and synthetic GARCH K-lines added to the corpus)."""
    base = KlineTrainConfig(
        synthetic_garch_paths=64, lookback=128, horizon=32, stride=1,
        tokenizer=KlineTokenizerConfig(d_model=128, n_heads=4, ffn_hidden=256, enc_layers=4, dec_layers=4,
                                       coarse_bits=7, fine_bits=7),
        model=KlineModelConfig(coarse_bits=7, fine_bits=7, d_model=256, n_heads=8, ffn_hidden=768, n_layers=8),
        tokenizer_steps=20_000, model_steps=50_000, batch_size=128, lr=5e-4, checkpoint_every=1000)
    return dataclasses.replace(base, **overrides)
