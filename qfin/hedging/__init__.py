"""Option pricing (Black–Scholes, Heston), Heston calibration, hedging baselines and the deep hedger.

- Pricing: :func:`bs_price`, :func:`bs_delta`, :func:`bs_gamma`, :func:`bs_vega`, :func:`implied_vol`,
  :func:`heston_price`, :func:`heston_delta` (Fourier integral at the optimal damping).
- Calibration: :func:`calibrate_heston` (option quotes); :func:`estimate_heston` / :func:`heston_from_history`
  (index + VIX: spot variance backed out of VIX^2, joint MLE with standard errors).
- Hedging: baselines on a :class:`HedgingMarket`, the deep hedger (:func:`train_hedger`; an LSTM or, with
  ``HedgerConfig(model="mlp")``, pfhedge's MLP shape) and the
  Adam vs K-FAC comparison (:func:`run_hedging_experiment`, what a ``qfin hedge`` command would call).
  Every P&L comes from :func:`qfin.data.simulate.hedging_pnl`.
- Instruments (:class:`Underlying`, :class:`VarianceSwap`, :class:`ListedOption`) traded together with their own
  costs (:func:`portfolio_pnl`); :class:`BlackScholesModel` for GBM markets.
- Payoffs of whole paths (:class:`Vanilla`, :class:`Spread`, :class:`Digital`, :class:`AsianOption`,
  :class:`LookbackOption`, :class:`BarrierOption`; defined in :mod:`qfin.data.simulate`) and their Monte Carlo
  prices with control variates (:func:`mc_price`).

The deep hedger and the experiment (torch) load on first use, so pricing alone never imports torch.
"""

from qfin._lazy import lazy_names
from qfin.data.simulate import AsianOption, BarrierOption, Digital, LookbackOption, Spread, Vanilla

from ._baselines import (
                         HedgingMarket,
                         bs_delta_hedge,
                         delta_vega_swap_hedge,
                         heston_delta_hedge,
                         min_variance_hedge,
                         no_hedge,
                         variance_swap_prices,
                         whalley_wilmott_hedge,
)
from ._black_scholes import bs_delta, bs_gamma, bs_price, bs_vega, implied_vol
from ._calibration import HestonCalibration, calibrate_heston, heston_from_history
from ._heston import FellerWarning, heston_delta, heston_price, heston_probabilities
from ._heston_estimate import HestonEstimate, estimate_heston, implied_spot_variance, vix_from_variance
from ._instruments import BlackScholesModel, ListedOption, Underlying, VarianceSwap, portfolio_pnl
from ._mc_price import MCPrice, mc_price

__all__ = [
                         "AsianOption", "BarrierOption", "Digital", "LookbackOption", "MCPrice", "Spread", "Vanilla",
                         "mc_price",
                         "BlackScholesModel", "ListedOption", "Underlying", "VarianceSwap", "portfolio_pnl",
                         "hedged_pnl", "hedger_for",
                         "ExperimentConfig",
                         "FellerWarning",
                         "HedgerConfig",
                         "HedgingMarket",
                         "HestonCalibration",
                         "HestonEstimate",
                         "LSTMHedger",
                         "MLPHedger",
                         "TrainResult",
                         "bs_delta",
                         "bs_delta_hedge",
                         "bs_gamma",
                         "bs_price",
                         "bs_vega",
                         "build_hedger",
                         "calibrate_heston",
                         "delta_vega_swap_hedge",
                         "estimate_heston",
                         "hedge_with",
                         "hedger_loss",
                         "heston_delta",
                         "heston_delta_hedge",
                         "heston_from_history",
                         "heston_price",
                         "heston_probabilities",
                         "historical_heston",
                         "implied_spot_variance",
                         "implied_vol",
                         "indifference_price",
                         "load_experiment_config",
                         "min_variance_hedge",
                         "no_hedge",
                         "pnl_metrics",
                         "run_hedging_experiment",
                         "train_hedger",
                         "variance_swap_prices",
                         "vix_from_variance",
                         "whalley_wilmott_hedge",
]

_LAZY = {name: "_deep" for name in ("LSTMHedger", "MLPHedger", "TrainResult", "build_hedger",
                                     "hedge_with", "hedged_pnl", "hedger_for", "hedger_loss",
                                     "indifference_price", "train_hedger")}
_LAZY.update({name: "_experiment" for name in ("historical_heston", "pnl_metrics", "run_hedging_experiment")})
_LAZY.update({name: "_config" for name in ("ExperimentConfig", "HedgerConfig", "load_experiment_config")})

__getattr__, __dir__ = lazy_names(__name__, _LAZY)
