"""One `map`-style entry for sweeps: local processes by default, Ray when asked."""

from qfin.parallel._map import BACKENDS, map

__all__ = ["BACKENDS", "map"]
