"""All-or-nothing output folders, the qfin manifest that says who wrote them, and strict JSON.

Every result folder qfin writes (backtests, sweeps, scorecards, hedging experiments, OPE runs) is staged in a
hidden sibling folder and swapped into place only when complete (:func:`staged_output`). The folder then holds
``.qfin-manifest.json``: which writer (its *kind*) wrote it, the qfin version, the UTC time, the hash of the
spec or config that made it and every file written with its size and SHA-256. qfin replaces a folder only when
it is empty or holds a manifest of the same kind and nothing the manifest does not list, so neither a typo in
``--out`` nor one command pointed at another's folder can delete anything. :func:`check_output_dir` applies the
same rules at a writer's start, before any work. Writers that put files into a folder they do not own
(``qfin dp solve``) record them in the folder's manifest and replace only files recorded there
(:func:`recorded_files`).
"""

from __future__ import annotations

import ctypes
import dataclasses
import datetime as dt
import errno
import glob
import hashlib
import json
import math
import os
import re
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from qfin import __version__
from qfin.errors import QfinError

__all__ = ["MANIFEST", "check_output_dir", "config_hash", "read_manifest", "recorded_files", "staged_output",
           "strict_json"]

MANIFEST = ".qfin-manifest.json"
_FORMAT = 1
_STAGING = re.compile(r"\.(?P<name>.+)\.qfin-(?P<pid>\d+)-[^/]+")


def config_hash(config: Any) -> str:
    """``sha256:<hex>`` of a spec or config (pydantic models as their JSON dump, dataclasses, plain JSON values and
    containers of them), over its canonical JSON (sorted keys), so the same settings give the same hash in any key
    order."""
    text = json.dumps(config, sort_keys=True, default=_plain, separators=(",", ":"))
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


def _plain(value: Any) -> Any:
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    return str(value)


def read_manifest(folder: str | Path) -> dict[str, Any] | None:
    """The qfin manifest of ``folder`` (``kind``, ``qfin_version``, ``written_at``, ``spec_hash``, ``files``), or
    None when it has none; a manifest that cannot be read is a :class:`QfinError` naming it."""
    path = Path(folder) / MANIFEST
    if not os.path.lexists(path):
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as err:
        raise QfinError(f"{path}: damaged qfin manifest ({type(err).__name__}: {err}); qfin will not replace or "
                        "add to a folder it cannot identify: move the folder away or choose another --out") from None
    if not (isinstance(data, dict) and isinstance(data.get("kind"), str) and isinstance(data.get("files"), dict)):
        raise QfinError(f"{path}: damaged qfin manifest (expected an object with 'kind' and 'files'); qfin will not "
                        "replace or add to a folder it cannot identify: move the folder away or choose another --out")
    return data


def check_output_dir(path: str | Path, kind: str, *, files: Iterable[str] | None = None) -> Path:
    """Check, before any work, that writer ``kind`` may write its output at ``path``; return ``path``.

    Without ``files`` the writer owns the folder (:func:`staged_output`): ``path`` must be absent, an empty folder,
    or a folder holding a qfin manifest of the same ``kind`` and nothing the manifest does not list. With ``files``
    (names) the writer puts those files into a folder it does not own (:func:`recorded_files`): the folder may hold
    anything, but no manifest of another kind, and each named file must be absent or recorded in its manifest.

    Always: ``path`` is not a symbolic link (a swap would replace the link, not write into its target), not a file,
    not under a file, and qfin may create and delete entries where it writes. Anything else is one
    :class:`QfinError` line naming the path, the reason and what is accepted.
    """
    out = Path(path)
    owns = files is None
    _check_location(out, kind, owns)
    if owns:
        _check_replaceable(out, kind)
    else:
        _check_files(out, kind, list(files))
    return out


def _accepts(kind: str) -> str:
    return f"qfin writes {kind} output to a new or empty folder, or over its own earlier {kind} output"


def _check_location(out: Path, kind: str, owns: bool) -> None:
    if owns and out.name in ("", ".", ".."):  # the swap renames the folder itself: it needs a name in its parent
        raise QfinError(f"{str(out) or '.'!s}: give the {kind} output folder by name (e.g. ./run), not as '.' or "
                        "'..'; " + _accepts(kind))
    if out.is_symlink():
        raise QfinError(f"{out} is a symbolic link (to {os.readlink(out)}); {_accepts(kind)} in a real folder, never "
                        "through a link: give the link's target or another path")
    if out.exists() and not out.is_dir():
        raise QfinError(f"{out} is a file, not a folder; {_accepts(kind)}: choose another path")
    probe = out.parent if owns or not out.exists() else out
    while not os.path.lexists(probe) and probe != probe.parent:
        probe = probe.parent
    if not probe.is_dir():
        raise QfinError(f"{out}: {probe} is a file, so no folder can be made under it; {_accepts(kind)}: choose a "
                        "path whose parents are folders")
    where = [probe] + ([out] if owns and out.is_dir() else [])
    for folder in where:
        if not os.access(folder, os.W_OK | os.X_OK):
            raise QfinError(f"{out}: no permission to write in {folder}; {_accepts(kind)} where you may create and "
                            "delete files: choose another path or change the folder's permissions")


def _entries(folder: Path) -> list[str]:
    """Every file and folder under ``folder`` (relative POSIX paths; links not followed), the manifest left out."""
    found = []
    for dirpath, dirnames, filenames in os.walk(folder):
        rel = Path(dirpath).relative_to(folder)
        found += [(rel / name).as_posix() for name in [*dirnames, *filenames]]
    return sorted(e for e in found if e != MANIFEST)


def _named(entries: list[str]) -> str:
    shown = ", ".join(entries[:3])
    return shown + (f" and {len(entries) - 3} more" if len(entries) > 3 else "")


def _check_replaceable(out: Path, kind: str) -> None:
    if not out.exists():
        return
    entries = _entries(out)
    manifest = read_manifest(out)
    if manifest is None:
        if entries:
            raise QfinError(f"{out} is not empty and holds no qfin manifest ({MANIFEST}): not a qfin output, or one "
                            f"from a qfin that wrote none; {_accepts(kind)}: choose another --out, or move the "
                            "folder away yourself")
        return
    if manifest["kind"] != kind:
        raise QfinError(f"{out} holds a qfin {manifest['kind']} output; {_accepts(kind)}, never over another kind: "
                        "choose another --out")
    foreign = [e for e in entries if e not in manifest["files"]]
    if foreign:
        raise QfinError(f"{out} holds {_named(foreign)}, which qfin did not write (not listed in its {MANIFEST}); "
                        f"{_accepts(kind)} that holds nothing else: move those out or choose another --out")


def _check_files(out: Path, kind: str, names: list[str]) -> None:
    for name in names:
        if not name or "/" in name or name in (".", "..", MANIFEST):
            raise QfinError(f"{kind} output file name {name!r}: a plain file name is accepted (no '/', not {MANIFEST})")
    if not out.exists():
        return
    manifest = read_manifest(out)
    if manifest is not None and manifest["kind"] != kind:
        raise QfinError(f"{out} holds a qfin {manifest['kind']} output; qfin writes {kind} files only into a folder "
                        f"without a manifest or with a {kind} one: choose another --out")
    listed = manifest["files"] if manifest else {}
    for name in names:
        target = out / name
        if os.path.lexists(target) and (name not in listed or target.is_symlink() or not target.is_file()):
            raise QfinError(f"{target} exists and was not written by qfin {kind} (not recorded in {out / MANIFEST}); "
                            "qfin never overwrites a file it did not write: move it away or choose another --out")


@contextmanager
def staged_output(out_dir: str | Path, kind: str, *, spec_hash: str | None = None) -> Iterator[Path]:
    """Yield a temporary sibling folder to write into; it replaces ``out_dir`` only if the block completes.

    ``kind`` names the writer ("backtest", "sweep", "scorecard", "hedge", "ope"), ``spec_hash`` the spec or config
    that made the output (:func:`config_hash`). An existing ``out_dir`` is replaced only under the rules of
    :func:`check_output_dir` (checked on entry and again just before the swap), so a typo in ``--out`` never deletes
    a user's folder. On completion the staging folder gets the manifest (:data:`MANIFEST`, listing every file with
    its size and SHA-256) and is swapped in (:func:`_swap_in`); on any error it is removed. A staging folder left by
    a killed process (``.<name>.qfin-<pid>-stage-*``, its process gone) is removed by the next run into the same
    ``out_dir``.
    """
    out_dir = check_output_dir(out_dir, kind)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale(out_dir)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.qfin-{os.getpid()}-stage-", dir=out_dir.parent))
    try:
        yield staging
        _write_manifest(staging, kind, spec_hash)
        staging.chmod(0o755)  # mkdtemp makes it private; the result is an ordinary folder
        _check_location(out_dir, kind, True)
        _check_replaceable(out_dir, kind)  # again: the folder may have changed while the work ran
        _swap_in(staging, out_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)  # the new results, or after an exchange the old ones
        raise


@contextmanager
def recorded_files(folder: str | Path, kind: str, names: Iterable[str], *,
                   spec_hash: str | None = None) -> Iterator[Path]:
    """Claim the files ``names`` in ``folder`` for writer ``kind``, for a writer that adds files to a folder
    rather than owning it (``qfin dp solve``); yield the folder, in which the caller writes them all or nothing
    (:func:`qfin.report.write_files`).

    Checked first (:func:`check_output_dir` with ``files``): a named file that exists must be recorded in the
    folder's manifest, so a file qfin did not write is never overwritten, and a folder holding another kind's
    manifest is refused. The names are recorded in the manifest (written atomically) before the caller writes,
    so a process killed in between leaves only a record of files qfin may replace; an error in the block restores
    the manifest as it was; after the block each file's size and SHA-256 are added. Other files in the folder are
    left alone. Hidden temporaries that a killed earlier write of these names left behind are removed first.
    """
    names = list(names)
    folder = check_output_dir(folder, kind, files=names)
    folder.mkdir(parents=True, exist_ok=True)
    _remove_temporaries(folder, [*names, MANIFEST])
    before = read_manifest(folder)
    manifest = json.loads(json.dumps(before)) if before else {"qfin_manifest": _FORMAT, "kind": kind, "files": {}}
    stamp = {"qfin_version": __version__, "written_at": _utc_now(), "spec_hash": spec_hash}
    manifest.update(stamp)
    for name in names:
        manifest["files"][name] = dict(stamp)
    _write_json(folder / MANIFEST, manifest)
    try:
        yield folder
    except BaseException:  # the caller's all-or-nothing write left the files as they were: so is the manifest
        if before is None:
            (folder / MANIFEST).unlink(missing_ok=True)
        else:
            _write_json(folder / MANIFEST, before)
        raise
    for name in names:
        if (folder / name).is_file():
            manifest["files"][name].update(_file_record(folder / name))
    _write_json(folder / MANIFEST, manifest)


def _remove_temporaries(folder: Path, names: list[str]) -> None:
    """Delete the hidden temporaries a killed write of ``names`` left in ``folder`` (``.<stem>.tmp-*<suffixes>``
    from :func:`qfin.data.atomic_path`, ``<name>.tmp-*`` from :func:`_write_json`)."""
    for name in names:
        suffixes = "".join(Path(name).suffixes)
        stem = name[: len(name) - len(suffixes)] if suffixes else name
        patterns = [f".{glob.escape(stem)}.tmp-*{glob.escape(suffixes)}", f"{glob.escape(name)}.tmp-*"]
        for stale in {p for pattern in patterns for p in folder.glob(pattern)}:
            if stale.is_file() and not stale.is_symlink():
                stale.unlink(missing_ok=True)


def _utc_now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _file_record(path: Path) -> dict[str, Any]:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return {"bytes": path.stat().st_size, "sha256": digest.hexdigest()}


def _write_manifest(staging: Path, kind: str, spec_hash: str | None) -> None:
    files: dict[str, Any] = {}
    for entry in _entries(staging):
        path = staging / entry
        files[entry] = {"folder": True} if path.is_dir() and not path.is_symlink() else _file_record(path)
    _write_json(staging / MANIFEST, {"qfin_manifest": _FORMAT, "kind": kind, "qfin_version": __version__,
                                     "written_at": _utc_now(), "spec_hash": spec_hash, "files": files})


def _write_json(path: Path, value: Any) -> None:
    """Write JSON to a hidden temporary name beside ``path`` and rename it over ``path`` (readers never see half)."""
    handle, temporary = tempfile.mkstemp(prefix=f"{path.name}.tmp-", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(json.dumps(value, indent=2, allow_nan=False))
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _remove_stale(out_dir: Path) -> None:
    """Clear what a killed run into ``out_dir`` left beside it: its staging folders are removed; a previous output
    it had moved aside (the rename-aside swap) goes back to ``out_dir`` if nothing took its place, else is removed."""
    pattern = re.compile(rf"\.{re.escape(out_dir.name)}\.qfin-(\d+)-(stage|old)-.+")
    for sibling in sorted(out_dir.parent.iterdir()):
        found = pattern.fullmatch(sibling.name)
        if not found or _alive(int(found[1])) or sibling.is_symlink() or not sibling.is_dir():
            continue
        if found[2] == "old" and not os.path.lexists(out_dir):
            os.replace(sibling, out_dir)
        else:
            shutil.rmtree(sibling, ignore_errors=True)


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError as err:  # EPERM: it exists, as another user's process
        return err.errno == errno.EPERM
    return True


def _swap_in(staging: Path, out_dir: Path) -> None:
    """Put the complete ``staging`` folder at ``out_dir``, then delete what was there before.

    A new ``out_dir`` is one rename. An existing one is swapped with a single atomic exchange (Linux
    ``renameat2(RENAME_EXCHANGE)``), so at every instant ``out_dir`` holds either the old results or the new
    ones; where the exchange is not available the old folder is first renamed aside
    (``.<name>.qfin-<pid>-old-*``), leaving a short window in which ``out_dir`` is absent but both versions sit
    beside it (a run killed there has the old one put back by the next run). Only then is the old version deleted.
    """
    if not out_dir.exists():
        os.replace(staging, out_dir)
        return
    if _exchange(staging, out_dir):
        old = staging  # the exchange left the previous results at the staging name
    else:
        old = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.qfin-{os.getpid()}-old-", dir=out_dir.parent))
        os.replace(out_dir, old)
        try:
            os.replace(staging, out_dir)
        except BaseException:
            os.replace(old, out_dir)  # the previous results go back
            raise
    shutil.rmtree(old, ignore_errors=True)


_AT_FDCWD = -100
_RENAME_EXCHANGE = 2


def _exchange(a: Path, b: Path) -> bool:
    """Atomically exchange two existing paths; False where the OS or filesystem cannot (nothing moved then)."""
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        return False
    return renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0


def strict_json(value: Any) -> str:
    """JSON text with NaN and infinities written as null (Python's json would write NaN, which is not JSON)."""
    return json.dumps(_finite(value), indent=2, allow_nan=False)


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(item) for item in value]
    return value


@contextmanager
def staged_checkpoint(path: str | Path) -> Iterator[Path]:
    """Write a checkpoint folder as one unit: yield a fresh staging folder beside ``path``; when the block completes
    it replaces ``path`` by one atomic exchange (:func:`_swap_in`), and on any error it is removed.

    So ``path`` always holds one complete checkpoint, the previous or the new, never files of two steps. Unlike
    :func:`staged_output` nothing is refused and no manifest is written: the training run owns ``path`` and
    rewrites it many times. What a killed write left beside ``path`` is cleared first (:func:`_remove_stale`).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale(path)
    staging = Path(tempfile.mkdtemp(prefix=f".{path.name}.qfin-{os.getpid()}-stage-", dir=path.parent))
    try:
        yield staging
        staging.chmod(0o755)  # mkdtemp makes it private; a checkpoint is an ordinary folder
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    _swap_in(staging, path)


def recover_checkpoint(path: str | Path) -> None:
    """Before a run reads the checkpoint ``path``: put back the previous checkpoint if a kill inside the
    rename-aside swap left ``path`` absent, and remove staging folders of killed writers (:func:`_remove_stale`)."""
    path = Path(path)
    if path.parent.is_dir():
        _remove_stale(path)
