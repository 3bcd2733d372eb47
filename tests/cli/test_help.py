"""Every command's --help, as a user sees it: words in brackets survive (no markup eats `[hedger]`), flags show
no `<bool>` metavar, and every command listed in a group's help has help of its own; printed output keeps
brackets too."""

from __future__ import annotations

import re
from pathlib import Path

from tests.cli.test_cli import run_qfin


def _commands(help_text: str) -> list[str]:
    """The sub-commands a group's help lists under 'Commands:'."""
    if "Commands:" not in help_text:
        return []
    block = help_text.split("Commands:", 1)[1]
    return [m.group(1) for m in re.finditer(r"^  (\S+)", block, flags=re.M)]


def _all_help() -> dict[str, str]:
    pages, todo = {}, [()]
    while todo:
        path = todo.pop()
        result = run_qfin(*path, "--help")
        assert result.returncode == 0, f"qfin {' '.join(path)} --help: {result.stderr}"
        pages[" ".join(("qfin", *path))] = result.stdout
        todo += [(*path, name) for name in _commands(result.stdout)]
    return pages


def test_help_keeps_bracketed_words_and_shows_no_bool_metavar():
    pages = _all_help()
    assert len(pages) > 20 and "qfin kline train" in pages and "qfin hedge train" in pages
    for command, text in pages.items():
        assert "<bool>" not in text, command
        assert "[OPTIONS]" in text and "Usage:" in text, command
    assert "[tokenizer] and [model] tables" in " ".join(pages["qfin kline train"].split())
    assert "[hedger]" in pages["qfin hedge train"]


def test_printed_paths_keep_their_brackets(tmp_path):
    """Output goes through a console without rich markup, so a folder named like a markup tag prints whole."""
    out = tmp_path / "run[bold]"
    problem = Path(__file__).resolve().parents[2] / "models" / "dp" / "liquidation.toml"
    result = run_qfin("dp", "solve", str(problem), "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert f"{out}/liquidation.html" in result.stdout
