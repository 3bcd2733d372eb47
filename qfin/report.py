"""The one report writer: figures on the Agg canvas, escaped self-contained HTML, files written atomically.

Figures. :func:`new_figure` returns a matplotlib ``Figure`` bound to its own ``FigureCanvasAgg``: drawing never
imports pyplot, never calls ``matplotlib.use`` and leaves the caller's backend and pyplot's figure registry as they
were. :func:`png_bytes` renders a figure to PNG bytes. matplotlib is imported inside these functions only, so
``import qfin.report`` stays light.

HTML. Every helper returns :class:`Html`, a ``str`` that is already markup; anything else handed to a helper
(titles, table cells, captions, JSON) is escaped, so user text can never inject markup. :func:`page` builds a
complete HTML5 document with the one :data:`STYLESHEET` and no scripts or external links: the file stands alone,
every image embedded as a ``data:`` URI (:func:`image`).

Files. :func:`write_files` writes several files into a folder through :func:`qfin.data.atomic_path`: each to a
temporary name, all renamed only once every one is complete, so a failure leaves no half-written file and keeps
the earlier report whole. A whole result folder is staged with
:func:`qfin.data.staged_output` by the caller.
"""

from __future__ import annotations

import base64
import html
import io
import math
import numbers
from collections.abc import Iterable, Mapping, Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import Any

__all__ = [
    "STYLESHEET",
    "Html",
    "escape",
    "figure_text",
    "format_number",
    "frame_table",
    "heading",
    "image",
    "json_block",
    "new_figure",
    "notes_table",
    "page",
    "paragraph",
    "png_bytes",
    "table",
    "write_files",
    "write_page",
]

STYLESHEET = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 2rem auto; max-width: 1120px;
       padding: 0 1rem; color: #1d2329; background: #fff; line-height: 1.45; }
h1 { font-size: 1.6rem; margin-bottom: 0.2rem; }
h2 { font-size: 1.2rem; margin-top: 2rem; border-bottom: 1px solid #d0d7de; padding-bottom: 0.2rem; }
h3 { font-size: 1.05rem; margin-top: 1.5rem; }
table { border-collapse: collapse; font-size: 0.92rem; margin: 0.8rem 0 1.2rem; display: block; width: max-content;
        max-width: 100%; overflow-x: auto; }
th, td { padding: 0.3rem 0.7rem; border-bottom: 1px solid #e4e8ec; }
thead th { background: #f3f5f7; text-align: right; white-space: nowrap; }
td { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
th:first-child, td:first-child, tbody th { text-align: left; }
tbody tr:hover td { background: #f8fafb; }
table.notes th { text-align: left; vertical-align: top; color: #57606a; font-weight: 600; white-space: nowrap; }
table.notes td { text-align: left; white-space: normal; }
p.note { color: #57606a; font-size: 0.85rem; max-width: 60rem; }
pre { background: #f6f8fa; border: 1px solid #e4e8ec; padding: 0.6rem 0.8rem; font-size: 0.82rem; overflow-x: auto; }
figure { margin: 1.5rem 0; }
figure img { max-width: 100%; height: auto; border: 1px solid #e4e8ec; }
figcaption { color: #57606a; font-size: 0.85rem; }
"""
"""The stylesheet of every qfin report (inlined into each page)."""


class Html(str):
    """Text that is already HTML markup: inserted as it is, where any other text is escaped."""

    __slots__ = ()


def escape(value: object) -> Html:
    """``value`` as HTML: an :class:`Html` unchanged, anything else ``str()``-ed and escaped (quotes included)."""
    return value if isinstance(value, Html) else Html(html.escape(str(value), quote=True))


def format_number(value: object, spec: str = ".4g") -> str:
    """A number as table text: ``spec`` for reals, integers in full, ``n/a`` for NaN and None, ``∞`` for inf."""
    if value is None:
        return "n/a"
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return str(value)
    if isinstance(value, numbers.Integral):
        return str(int(value))
    number = float(value)
    if math.isnan(number):
        return "n/a"
    if math.isinf(number):
        return "∞" if number > 0 else "-∞"
    return format(number, spec)


# ---------------------------------------------------------------------------------------------------- figures


def new_figure(width: float, height: float, *, dpi: float = 100, layout: str | None = None) -> Any:
    """A matplotlib ``Figure`` of ``width`` x ``height`` inches on its own Agg canvas (pyplot untouched)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), dpi=dpi, layout=layout)
    FigureCanvasAgg(figure)
    return figure


def png_bytes(figure: Any, *, dpi: float | None = None, tight: bool = False) -> bytes:
    """Render ``figure`` to PNG bytes (``tight``: crop to the drawn area), then clear it to free its artists.

    The PNG carries no "Software" text chunk, so the same drawing gives the same bytes on every version.
    """
    buffer = io.BytesIO()
    try:
        figure.savefig(buffer, format="png", dpi=dpi or figure.dpi, metadata={"Software": None},
                       bbox_inches="tight" if tight else None)
    finally:
        figure.clear()
    return buffer.getvalue()


def figure_text(text: object) -> str:
    """Text that matplotlib shows literally: ``$`` would start mathtext, a leading ``_`` hides a legend entry."""
    text = str(text).replace("$", r"\$")
    return " " + text if text.startswith("_") else text


# ------------------------------------------------------------------------------------------------ HTML parts


def heading(text: object, level: int = 2) -> Html:
    """``<h2>text</h2>`` (or another ``level``), escaped."""
    return Html(f"<h{level}>{escape(text)}</h{level}>")


def paragraph(text: object, *, css_class: str | None = None) -> Html:
    """``<p>text</p>``, escaped; ``css_class="note"`` for the grey explanatory style."""
    attr = f' class="{escape(css_class)}"' if css_class else ""
    return Html(f"<p{attr}>{escape(text)}</p>")


def _cell(value: object, float_format: str, tag: str) -> str:
    if isinstance(value, Html):
        text = value
    elif value is None:
        text = "n/a"
    elif isinstance(value, (str, bool)):
        text = escape(value)
    else:
        text = escape(format_number(value, float_format))
    return f"<{tag}>{text}</{tag}>"


def table(rows: Iterable[Sequence[object]], header: Sequence[object] | None = None, *, float_format: str = ".4g",
          row_headers: bool = False, css_class: str | None = None) -> Html:
    """``<table>`` of ``rows`` under ``header``; every cell escaped, numbers through :func:`format_number`.

    ``row_headers``: the first cell of each row is a ``<th>`` (a row label). Each row is one line of markup.
    """
    attr = f' class="{escape(css_class)}"' if css_class else ""
    parts = [f"<table{attr}>"]
    if header is not None:
        parts.append("<thead><tr>" + "".join(f"<th>{escape(label)}</th>" for label in header) + "</tr></thead>")
    body = []
    for row in rows:
        cells = [_cell(value, float_format, "th" if row_headers and k == 0 else "td") for k, value in enumerate(row)]
        body.append("<tr>" + "".join(cells) + "</tr>")
    parts += ["<tbody>", *body, "</tbody>", "</table>"]
    return Html("\n".join(parts))


def frame_table(frame: Any, *, float_format: str = ".4g", row_headers: bool = False) -> Html:
    """:func:`table` of a polars DataFrame: its column names as the header, one row per frame row."""
    return table(frame.iter_rows(), frame.columns, float_format=float_format, row_headers=row_headers)


def notes_table(notes: Mapping[object, object]) -> Html:
    """Label/text pairs (run settings, data span, ...) as a two-column table, labels as row headers."""
    return table(((label, str(text)) for label, text in notes.items()), row_headers=True, css_class="notes")


def json_block(value: Any) -> Html:
    """``value`` as indented JSON in a ``<pre>`` block, escaped (NaN and infinities written as null)."""
    from qfin.data import strict_json

    return Html(f'<pre class="json">{escape(strict_json(value))}</pre>')


def image(png: bytes, alt: object, caption: object | None = None) -> Html:
    """A ``<figure>`` with the PNG embedded as a base64 ``data:`` URI, so the page needs no other file."""
    if not png.startswith(b"\x89PNG\r\n\x1a\n"):
        raise ValueError("image() takes PNG bytes (from png_bytes); got bytes that are not a PNG")
    source = "data:image/png;base64," + base64.b64encode(png).decode("ascii")
    caption_html = f"<figcaption>{escape(caption)}</figcaption>" if caption is not None else ""
    return Html(f'<figure><img alt="{escape(alt)}" src="{source}">{caption_html}</figure>')


def page(title: object, *parts: object) -> Html:
    """A complete HTML5 document: ``title`` as ``<title>`` and ``<h1>``, then ``parts`` in order.

    Parts are the helpers' :class:`Html`; any other part is escaped text. The page holds :data:`STYLESHEET`
    inline and no scripts, links or remote resources.
    """
    body = "\n".join(escape(part) for part in parts)
    return Html(f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(title)}</title>
<style>{STYLESHEET}</style>
</head>
<body>
<h1>{escape(title)}</h1>
{body}
</body>
</html>
""")


# ----------------------------------------------------------------------------------------------------- files


def write_files(folder: str | Path, files: Mapping[str, bytes | str]) -> dict[str, Path]:
    """Write ``files`` (name -> bytes, or text written as UTF-8) into ``folder``, all or nothing; return name -> path.

    Every file is first written to its own temporary name (:func:`qfin.data.atomic_path`); only when all are
    complete are they renamed over their targets. A failure on the way removes every temporary file and leaves
    the folder's earlier files as they were.
    """
    from qfin.data import atomic_path

    folder = Path(folder)
    with ExitStack() as pending:  # on leaving: every rename on success, every temporary removed on failure
        for name, payload in files.items():
            temporary = pending.enter_context(atomic_path(folder / name))
            Path(temporary).write_bytes(payload.encode("utf-8") if isinstance(payload, str) else payload)
    return {name: folder / name for name in files}


def write_page(path: str | Path, document: str, figures: Mapping[str, bytes] | None = None) -> Path:
    """Write the HTML ``document`` at ``path`` and each of ``figures`` (file name -> PNG bytes) beside it, all or
    nothing (:func:`write_files`); return ``path``."""
    path = Path(path)
    write_files(path.parent, {**(figures or {}), path.name: document})
    return path
