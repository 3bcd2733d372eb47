"""qfin: quantitative-finance RL and risk-modelling toolkit."""
__version__ = "0.1.0"
