"""What the command does with an error it did not expect (a bug, not bad input): one line on stderr naming the
error and the file that holds the full traceback, instead of a screen of frames."""

from __future__ import annotations

import datetime as dt
import os
import tempfile
import traceback
from pathlib import Path


def log_traceback(err: BaseException) -> Path:
    """Write ``err``'s traceback to ``$QFIN_HOME/logs/crash-<UTC time>-<pid>.log`` (the system's temp folder if
    that cannot be written) and return the path."""
    text = "".join(traceback.format_exception(err))
    name = f"crash-{dt.datetime.now(dt.UTC).strftime('%Y%m%dT%H%M%SZ')}-{os.getpid()}.log"
    from qfin.data import qfin_home

    for folder in (qfin_home() / "logs", Path(tempfile.gettempdir())):
        try:
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / name
            path.write_text(text, encoding="utf-8")
            return path
        except OSError:
            continue
    raise err


def one_line(err: BaseException, limit: int = 300) -> str:
    """The first line of ``err``'s message, at most ``limit`` characters."""
    lines = str(err).strip().splitlines()
    first = lines[0] if lines else ""
    return first if len(first) <= limit else first[: limit - 3] + "..."
