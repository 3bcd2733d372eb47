"""Configs of the deep hedger and of the Adam vs K-FAC comparison: frozen pydantic models through
``qfin.specs`` (one-line errors naming the key), and :func:`load_experiment_config`, the one reader of the TOML
that ``qfin hedge train`` takes, for Python users too."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictFloat, StrictInt, field_validator, model_validator

from ..specs import SpecErrorsOnInit, parse_model, read_toml

__all__ = ["LOSSES", "MODELS", "ExperimentConfig", "HedgerConfig", "InstrumentConfig", "PayoffConfig",
           "load_experiment_config"]

LOSSES = ("entropic", "cvar", "mean_variance")
MODELS = ("lstm", "mlp")


class _Config(SpecErrorsOnInit, BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    def replace(self, **changes: Any):
        """A copy with ``changes`` applied and validated again (keys left at their defaults stay unset, so a
        copy is refused or accepted exactly as the original was)."""
        return parse_model(type(self), {**self.model_dump(exclude_unset=True), **changes}, type(self).__name__)


class HedgerConfig(_Config):
    """Training settings (defaults are small: a CPU smoke budget).

    loss : "entropic" | "cvar" | "mean_variance"; risk_aversion : lambda of the entropic risk or the variance
    weight of mean–variance; cvar_level : level of the CVaR loss; cost : proportional cost rate (0.001 = 10 bp);
    liquidate : charge the final sale; optimizer : "adam" | "kfac"; lr, damping (K-FAC), iterations, batch_size;
    model : "lstm" (:class:`LSTMHedger`) | "mlp" (:class:`MLPHedger`); hidden : LSTM or MLP layer width;
    layers : hidden layers of the MLP; seed : initialisation and batch order; checkpoint : optional path of the
    last good state dict (written only after finite losses).
    """

    loss: Literal["entropic", "cvar", "mean_variance"] = "entropic"
    risk_aversion: StrictFloat = Field(1.0, gt=0.0)
    cvar_level: StrictFloat = Field(0.95, gt=0.0, lt=1.0)
    cost: StrictFloat = Field(0.001, ge=0.0)
    liquidate: StrictBool = True
    optimizer: Literal["adam", "kfac"] = "adam"
    lr: StrictFloat = Field(0.005, gt=0.0)
    damping: StrictFloat = Field(0.01, gt=0.0)
    kl_clip: StrictFloat = Field(0.01, gt=0.0)
    iterations: StrictInt = Field(200, ge=1)
    batch_size: StrictInt = Field(1024, ge=2)
    model: Literal["lstm", "mlp"] = "lstm"
    hidden: StrictInt = Field(32, ge=1)
    layers: StrictInt = Field(4, ge=1)
    seed: StrictInt = 0
    checkpoint: str | None = None


class _PayoffBase(_Config):
    def build(self, s0: float = 100.0) -> Any:
        """The payoff object of :mod:`qfin.data.simulate` (a barrier is checked against today's spot ``s0``)."""
        raise NotImplementedError  # every kind below defines it  # pragma: no cover


class VanillaConfig(_PayoffBase):
    """``kind = "call" | "put"``, ``strike``."""

    kind: Literal["call", "put"]
    strike: StrictFloat = Field(100.0, gt=0.0)

    def build(self, s0: float = 100.0) -> Any:
        from ..data.simulate import Vanilla
        return Vanilla(self.strike, self.kind)


class SpreadConfig(_PayoffBase):
    """``kind = "call_spread" | "put_spread"``, strikes ``low`` < ``high``."""

    kind: Literal["call_spread", "put_spread"]
    low: StrictFloat = Field(gt=0.0)
    high: StrictFloat = Field(gt=0.0)

    def build(self, s0: float = 100.0) -> Any:
        from ..data.simulate import Spread
        return Spread(self.low, self.high, "call" if self.kind == "call_spread" else "put")


class DigitalConfig(_PayoffBase):
    """``kind = "digital"``, ``strike``, ``option`` call | put, ``cash``."""

    kind: Literal["digital"]
    strike: StrictFloat = Field(100.0, gt=0.0)
    option: Literal["call", "put"] = "call"
    cash: StrictFloat = Field(1.0, gt=0.0)

    def build(self, s0: float = 100.0) -> Any:
        from ..data.simulate import Digital
        return Digital(self.strike, self.option, self.cash)


class AsianConfig(_PayoffBase):
    """``kind = "asian"``, ``strike``, ``option`` call | put, ``average`` arithmetic | geometric."""

    kind: Literal["asian"]
    strike: StrictFloat = Field(100.0, gt=0.0)
    option: Literal["call", "put"] = "call"
    average: Literal["arithmetic", "geometric"] = "arithmetic"

    def build(self, s0: float = 100.0) -> Any:
        from ..data.simulate import AsianOption
        return AsianOption(self.strike, self.option, self.average)


class LookbackConfig(_PayoffBase):
    """``kind = "lookback"``, ``strike`` (omitted: floating strike), ``option`` call | put."""

    kind: Literal["lookback"]
    strike: StrictFloat | None = Field(None, gt=0.0)
    option: Literal["call", "put"] = "call"

    def build(self, s0: float = 100.0) -> Any:
        from ..data.simulate import LookbackOption
        return LookbackOption(self.strike, self.option)


class BarrierConfig(_PayoffBase):
    """``kind = "barrier"``, ``strike``, ``barrier``, ``direction`` up | down, ``knock`` in | out, ``option``,
    ``rebate``."""

    kind: Literal["barrier"]
    strike: StrictFloat = Field(100.0, gt=0.0)
    barrier: StrictFloat = Field(gt=0.0)
    direction: Literal["up", "down"]
    knock: Literal["in", "out"] = "out"
    option: Literal["call", "put"] = "call"
    rebate: StrictFloat = Field(0.0, ge=0.0)

    @model_validator(mode="after")
    def _barrier_on_the_right_side(self) -> BarrierConfig:
        if (self.barrier <= 100.0) if self.direction == "up" else (self.barrier >= 100.0):
            side = "above" if self.direction == "up" else "below"
            raise ValueError(f"{'an up' if self.direction == 'up' else 'a down'} barrier must lie {side} today's "
                             f"spot 100; got barrier {self.barrier:g}")
        return self

    def build(self, s0: float = 100.0) -> Any:
        from ..data.simulate import BarrierOption
        payoff = BarrierOption(self.strike, self.barrier, self.direction, self.knock, self.option, self.rebate)
        payoff.check_spot(s0)
        return payoff


PayoffConfig = Annotated[VanillaConfig | SpreadConfig | DigitalConfig | AsianConfig | LookbackConfig | BarrierConfig,
                         Field(discriminator="kind")]
"""The ``[payoff]`` table: ``kind`` picks the claim, the other keys are its terms (see each model)."""


class InstrumentConfig(_Config):
    """One ``[[instruments]]`` entry: ``kind`` underlying | variance_swap | listed_option; ``cost`` (None: the
    hedger's); a listed option's ``strike`` (None: at the money), ``maturity_days`` (None: the claim's) and
    ``option`` call | put."""

    kind: Literal["underlying", "variance_swap", "listed_option"]
    cost: StrictFloat | None = Field(None, ge=0.0, lt=1.0)
    strike: StrictFloat | None = Field(None, gt=0.0)
    maturity_days: StrictInt | None = Field(None, ge=1)
    option: Literal["call", "put"] = "call"

    @model_validator(mode="after")
    def _option_terms_only_for_options(self) -> InstrumentConfig:
        if self.kind != "listed_option":
            extra = sorted({"strike", "maturity_days", "option"} & self.model_fields_set)
            if extra:
                raise ValueError(f"{', '.join(extra)} only apply to kind = 'listed_option'; got kind = '{self.kind}'")
        return self

    def build(self) -> Any:
        from ._instruments import ListedOption, Underlying, VarianceSwap
        if self.kind == "underlying":
            return Underlying(self.cost)
        if self.kind == "variance_swap":
            return VarianceSwap(self.cost)
        maturity = None if self.maturity_days is None else self.maturity_days / 365.0
        return ListedOption(self.strike, maturity, self.option, self.cost)


# Keys of [hedger] that the comparison sets itself for every run, and where to set them instead.
_SET_PER_RUN = {"lr": "adam_lr and kfac_lr (one learning rate per optimiser)",
                "optimizer": "nothing: the experiment trains both 'adam' and 'kfac'",
                "seed": "seeds (one run per seed and optimiser)"}
# The fewest test paths for the reported statistics: cvar_99 averages the worst 1% of the test P&L, which needs
# at least 100 paths to hold one whole path (with fewer it is the single worst path, the same number as cvar_95).
MIN_TEST_PATHS = 100


class ExperimentConfig(_Config):
    """Market and budget of the comparison (defaults: a few CPU minutes).

    maturity 30 days, daily rebalancing, ATM call on S0 = 100, 10 bp costs, entropic risk lambda = 1; the
    ``hedger`` table holds the :class:`HedgerConfig` both optimisers start from. The experiment sets the
    learning rate (``adam_lr``, ``kfac_lr``), the optimiser (both) and the seed (``seeds``) of every run, so
    ``hedger.lr``, ``hedger.optimizer`` and ``hedger.seed`` are refused rather than silently ignored.
    ``n_test`` >= 100 (the report's CVaR 99 needs a whole path in the worst 1%); ``n_train`` >= the hedger's
    ``batch_size`` (a batch is drawn from the training paths). ``payoff`` (a ``[payoff]`` table, :data:`PayoffConfig`)
    replaces the ATM call by any claim and ``instruments`` (``[[instruments]]`` tables) the underlying by several
    instruments; ``strike`` is then only the call's (refused with a payoff, which carries its own terms).
    """

    maturity_days: StrictInt = Field(30, ge=1)
    n_train: StrictInt = Field(20_000, ge=2)
    n_test: StrictInt = 10_000
    strike: StrictFloat = Field(100.0, gt=0.0)
    seeds: tuple[StrictInt, ...] = Field((0, 1, 2), min_length=1)
    hedger: HedgerConfig = HedgerConfig()
    kfac_lr: StrictFloat = Field(0.05, gt=0.0)
    adam_lr: StrictFloat = Field(0.005, gt=0.0)
    ww_risk_aversion: StrictFloat = Field(100.0, gt=0.0)  # relative: gamma = 100 / S, 1 per unit of money at 100
    payoff: PayoffConfig | None = None
    instruments: tuple[InstrumentConfig, ...] = ()

    @field_validator("n_test")
    @classmethod
    def _enough_test_paths(cls, n: int) -> int:
        if n < MIN_TEST_PATHS:
            raise ValueError(f"must be >= {MIN_TEST_PATHS} (the report's cvar_99 averages the worst 1% of the test "
                             f"paths); got {n}")
        return n

    @model_validator(mode="after")
    def _runs_set_their_own(self) -> ExperimentConfig:
        if self.payoff is not None and "strike" in self.model_fields_set:
            raise ValueError("strike is the default call's; with a [payoff] table give the claim's terms there")
        for key, instead in _SET_PER_RUN.items():
            if key in self.hedger.model_fields_set:
                raise ValueError(f"hedger.{key} is set per run by the experiment and would be ignored; set "
                                 f"{instead}")
        unused = [key for key, applies in (("layers", self.hedger.model == "mlp"),
                                           ("cvar_level", self.hedger.loss == "cvar")) if key in
                  self.hedger.model_fields_set and not applies]
        if unused:
            raise ValueError(f"hedger.{unused[0]} has no effect with model = '{self.hedger.model}', loss = "
                             f"'{self.hedger.loss}' (layers: model 'mlp' only; cvar_level: loss 'cvar' only)")
        if self.n_train < self.hedger.batch_size:
            raise ValueError(f"n_train must be >= hedger.batch_size ({self.hedger.batch_size}): each batch is "
                             f"drawn from the training paths; got n_train = {self.n_train}")
        return self


def load_experiment_config(path: str | Path) -> ExperimentConfig:
    """An :class:`ExperimentConfig` from a TOML file of its keys, with a ``[hedger]`` table of
    :class:`HedgerConfig` keys (missing keys take the defaults; unknown keys are errors)."""
    return parse_model(ExperimentConfig, read_toml(path, "config"), str(path))
