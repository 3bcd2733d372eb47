"""qfin.progress.progress_bar: one bar for long work, a no-op callback when disabled."""

from __future__ import annotations

from qfin.progress import progress_bar


def test_bar_advances_and_disabled_bar_draws_nothing(capsys):
    with progress_bar(3, "work", enabled=True) as advance:
        for _ in range(3):
            advance("ignored argument")
    with progress_bar(3, "quiet", enabled=False) as advance:
        assert advance() is None
    with progress_bar(0, "nothing to do", enabled=True) as advance:
        advance()
    assert capsys.readouterr().out == ""  # bars go to stderr, never into piped tables
