"""Optimizers: K-FAC for Linear and LSTM models (Martens & Grosse 2015; Martens, Ba & Johnson 2018)."""

from ._kfac import KFAC

__all__ = ["KFAC"]
