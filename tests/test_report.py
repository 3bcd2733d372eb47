"""qfin.report: escaping, number formatting, PNG embedding, all-or-nothing writes, and pyplot's backend untouched."""

from __future__ import annotations

import base64
import io
import json
import re
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from qfin import report

ATTACK = '<script>alert("x")</script>&\''
ESCAPED = "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;&#x27;"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _drawn_png() -> bytes:
    figure = report.new_figure(3, 2, dpi=50)
    figure.add_subplot().plot([0, 1, 2], [1, 0, 1])
    return report.png_bytes(figure)


def test_text_everywhere_is_escaped():
    frame = pl.DataFrame({ATTACK: [ATTACK], "x": [1.5]})
    document = report.page(
        ATTACK,
        report.heading(ATTACK), report.paragraph(ATTACK),
        report.table([[ATTACK, 0.5]], [ATTACK, "v"]), report.frame_table(frame),
        report.notes_table({ATTACK: ATTACK}), report.json_block({"name": ATTACK}),
        report.image(_drawn_png(), ATTACK, ATTACK), ATTACK)
    assert "<script" not in document.lower() and ATTACK not in document
    # title and h1, heading, paragraph, 3 table cells + 2 frame cells, 2 notes cells, alt, caption, plain part
    assert document.count(ESCAPED) == 13
    # the JSON block is JSON once unescaped
    block = re.search(r'<pre class="json">(.*?)</pre>', document, re.S).group(1)
    import html

    assert json.loads(html.unescape(block)) == {"name": ATTACK}


def test_markup_passes_once_and_is_never_escaped_twice():
    cell = report.Html("1.0 <small>[0.9, 1.1]</small>")
    assert report.escape(cell) is cell
    assert "<td>1.0 <small>[0.9, 1.1]</small></td>" in report.table([["a", cell]])
    assert report.escape(report.escape("a<b")) == "a&lt;b"


def test_page_is_a_standards_html5_document_with_the_one_stylesheet():
    document = report.page("t", report.paragraph("p"))
    assert document.startswith("<!DOCTYPE html>\n<html lang=\"en\">")
    assert '<meta charset="utf-8">' in document and f"<style>{report.STYLESHEET}</style>" in document
    lowered = document.lower()
    assert "http" not in lowered and "<link" not in lowered and "url(" not in lowered


@pytest.mark.parametrize(("value", "spec", "text"), [
    (0.123456, ".4g", "0.1235"), (0.123456, ".2%", "12.35%"), (np.float32(2.5), ".2f", "2.50"),
    (7, ".4f", "7"), (np.int64(3), ".2f", "3"), (float("nan"), ".4g", "n/a"), (None, ".4g", "n/a"),
    (float("inf"), ".4g", "∞"), (-np.inf, ".4g", "-∞"), (True, ".4g", "True"), ("text", ".4g", "text"),
])
def test_numbers_are_formatted(value, spec, text):
    assert report.format_number(value, spec) == text


def test_table_cells_format_numbers_and_rows_are_one_line_each():
    markup = report.table([["a", 1.23456, 2, None, float("nan")]], ["name", "x", "n", "none", "nan"],
                          float_format=".3f", row_headers=True)
    assert "<tr><th>a</th><td>1.235</td><td>2</td><td>n/a</td><td>n/a</td></tr>" in markup
    assert "<thead><tr><th>name</th><th>x</th>" in markup


def test_image_embeds_the_png_bytes_and_they_decode_to_the_drawing():
    import matplotlib.image

    png = _drawn_png()
    assert png[:8] == PNG_MAGIC
    markup = report.image(png, "alt text", "a caption")
    source = re.search(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', markup).group(1)
    assert base64.b64decode(source) == png
    pixels = matplotlib.image.imread(io.BytesIO(base64.b64decode(source)), format="png")
    assert pixels.shape[:2] == (100, 150)  # 3 x 2 inches at 50 dpi
    assert pixels[..., :3].std() > 0.01  # the line was drawn
    assert "<figcaption>a caption</figcaption>" in markup
    with pytest.raises(ValueError, match="not a PNG"):
        report.image(b"GIF89a....", "x")


def test_figure_text_shows_dollars_and_leading_underscores_literally():
    assert report.figure_text("$x_1$") == r"\$x_1\$" and report.figure_text("_hidden") == " _hidden"


def test_write_page_writes_the_page_and_its_figures(tmp_path):
    png = _drawn_png()
    path = report.write_page(tmp_path / "sub" / "r.html", report.page("t"), {"r.png": png})
    assert path == tmp_path / "sub" / "r.html" and path.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert (tmp_path / "sub" / "r.png").read_bytes() == png
    assert sorted(p.name for p in (tmp_path / "sub").iterdir()) == ["r.html", "r.png"]


def test_a_failed_write_leaves_no_file_and_keeps_the_earlier_ones(tmp_path, monkeypatch):
    report.write_files(tmp_path, {"a.png": b"old a", "report.html": "old page"})
    original = Path.write_bytes
    calls = []

    def flaky(self, data):
        calls.append(self.name)
        if len(calls) == 3:
            original(self, data[: len(data) // 2])  # a half-written temporary file, then the disk fills
            raise OSError("disk full")
        return original(self, data)

    monkeypatch.setattr(Path, "write_bytes", flaky)
    with pytest.raises(OSError, match="disk full"):
        report.write_files(tmp_path, {"a.png": b"new a", "b.png": b"new b", "report.html": "new page"})
    assert len(calls) == 3 and all(name.startswith(".") for name in calls)  # temporaries, never the targets
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.png", "report.html"]  # no temporary, no b.png
    assert (tmp_path / "a.png").read_bytes() == b"old a"  # not replaced: nothing is renamed until all is written
    assert (tmp_path / "report.html").read_text() == "old page"


def test_import_is_light_and_drawing_leaves_the_backend_alone(fresh_python):
    fresh_python("""
import sys
import qfin.report as report
assert "matplotlib" not in sys.modules, "import qfin.report loaded matplotlib"
import matplotlib
before = matplotlib.get_backend(auto_select=False)
figure = report.new_figure(2, 2)
figure.add_subplot().plot([1, 2])
report.png_bytes(figure)
assert matplotlib.get_backend(auto_select=False) == before, "a backend was selected"
assert "matplotlib.pyplot" not in sys.modules, "pyplot was imported"
matplotlib.use("svg")
report.png_bytes(report.new_figure(1, 1))
assert matplotlib.get_backend() == "svg", matplotlib.get_backend()
""")
