"""The claim-state features of the deep hedger: :mod:`qfin.data.simulate._path_state` (one definition, shared with
:class:`qfin.envs.HedgingEnv`)."""

from ..data.simulate._path_state import n_state_features, reference_strike, state_features

__all__ = ["n_state_features", "reference_strike", "state_features"]
