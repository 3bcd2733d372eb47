"""Performance and risk measures, and divergences: one definition each, for numpy and (where a loss needs
gradients) torch. Definitions agree with empyrical/quantstats on the same input; sign conventions are in each
docstring. Divergences live in :mod:`qfin.risk.divergence`.
"""

from qfin.risk import divergence
from qfin.risk._benchmark import BENCHMARK_STATISTICS, benchmark_statistics
from qfin.risk._drawdown_periods import DrawdownPeriod, drawdown_periods
from qfin.risk._online import DifferentialSharpe, RunningSharpe
from qfin.risk._overfitting import (
                                    PBOResult,
                                    deflated_sharpe_ratio,
                                    expected_max_sharpe,
                                    probability_of_backtest_overfitting,
)
from qfin.risk._performance import (
                                    annual_volatility,
                                    cagr,
                                    calmar_ratio,
                                    max_drawdown,
                                    probabilistic_sharpe_ratio,
                                    sharpe_ratio,
                                    sortino_ratio,
)
from qfin.risk._returns import (
                                    cumulative_returns,
                                    drawdown_series,
                                    equity_curve,
                                    log_returns,
                                    simple_returns,
                                    total_return,
)
from qfin.risk._tail import (
                                    entropic_risk,
                                    expected_shortfall,
                                    lower_tail_mean,
                                    mixed_var,
                                    range_value_at_risk,
                                    rockafellar_uryasev,
                                    value_at_risk,
)

__all__ = [
    "simple_returns", "log_returns", "cumulative_returns", "equity_curve", "drawdown_series", "total_return",
    "sharpe_ratio", "sortino_ratio", "annual_volatility", "cagr", "max_drawdown", "calmar_ratio",
    "probabilistic_sharpe_ratio", "deflated_sharpe_ratio", "expected_max_sharpe", "probability_of_backtest_overfitting",
    "PBOResult", "RunningSharpe",
    "benchmark_statistics", "BENCHMARK_STATISTICS", "drawdown_periods", "DrawdownPeriod",
    "value_at_risk", "expected_shortfall", "entropic_risk", "rockafellar_uryasev", "lower_tail_mean",
    "range_value_at_risk", "mixed_var",
    "DifferentialSharpe",
    "divergence",
]
