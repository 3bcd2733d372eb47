"""The `qfin dp solve` report: the value, the policy rows and the return-law figure, written both or neither."""

from __future__ import annotations

import base64
import re
from pathlib import Path

import pytest

from qfin.dp import plot_return_distributions, solve_spec, write_solve_report

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def solved():
    return solve_spec(ROOT / "models" / "dp" / "liquidation.toml")


def test_report_shows_value_policy_and_figure(solved, tmp_path):
    result, neutral, rows, _ = solved
    page_path = write_solve_report(tmp_path / "liquidation.html", result, neutral, rows, title="<liquidation>")
    assert page_path == tmp_path / "liquidation.html"
    assert sorted(p.name for p in tmp_path.iterdir()) == [".qfin-manifest.json", "liquidation.html", "liquidation.png"]
    page = page_path.read_text(encoding="utf-8")
    assert "&lt;liquidation&gt;: ProbabilityOfTarget" in page and "<liquidation>" not in page
    assert "<tr><th>optimal value</th><td>0.5</td></tr>" in page  # the brute-force optimum (test_spec.py)
    assert "<tr><th>risk-neutral policy&#x27;s mean</th><td>38.5</td></tr>" in page
    body = page.split("<th>probability</th></tr></thead>", 1)[1].split("</tbody>", 1)[0]
    assert body.count("<tr>") == len(rows)
    first = rows[0]
    assert f"<tr><td>{first['t']}</td><td>{first['state']}</td><td>{first['stock']:.4g}</td>" in body
    embedded = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    assert [base64.b64decode(e) for e in embedded] == [(tmp_path / "liquidation.png").read_bytes()]


def test_a_failed_write_leaves_neither_file(solved, tmp_path, monkeypatch):
    result, neutral, rows, _ = solved
    original = Path.write_bytes

    def failing_page(self, data):
        if self.suffix == ".html":
            raise OSError("disk full")
        return original(self, data)

    monkeypatch.setattr(Path, "write_bytes", failing_page)
    with pytest.raises(OSError, match="disk full"):
        write_solve_report(tmp_path / "liquidation.html", result, neutral, rows, title="liquidation")
    assert list(tmp_path.iterdir()) == []


def test_plot_return_distributions_writes_only_the_png(solved, tmp_path):
    result, neutral, _, _ = solved
    assert plot_return_distributions(result, neutral, tmp_path / "d.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [p.name for p in tmp_path.iterdir()] == ["d.png"]
