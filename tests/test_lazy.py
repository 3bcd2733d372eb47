"""qfin._lazy.lazy_names: a package's names load from their modules on first use and are then cached."""

from __future__ import annotations

import pytest


def test_names_load_on_first_use_and_unknown_names_are_attribute_errors(fresh_python):
    fresh_python("import sys, qfin.hedging as h; assert 'qfin.hedging._deep' not in sys.modules; "
                 "cls = h.LSTMHedger; assert 'qfin.hedging._deep' in sys.modules; "
                 "assert vars(h)['LSTMHedger'] is cls; assert 'train_hedger' in dir(h)")
    import qfin.backtests

    with pytest.raises(AttributeError, match="module 'qfin.backtests' has no attribute 'nope'"):
        qfin.backtests.nope  # noqa: B018
