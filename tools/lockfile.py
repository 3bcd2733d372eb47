"""Keep the lock files honest about pyproject.toml (standard library only: runs before any venv exists).

`make lock` resolves pyproject.toml's requirements with pip-tools into requirements.lock (core + dev) and
requirements-bench.lock (core + dev + bench), then runs `stamp`, which writes a digest of the requirements
into each lock's first line. `check` (run by `make run` and `make test` before they install anything) fails
with one line per problem when pyproject.toml's requirements changed since the lock was made, naming the
requirements that are missing from the lock and saying to run `make lock`.

    python3 tools/lockfile.py check     # exit 1 with the reason when a lock is stale
    python3 tools/lockfile.py stamp     # after pip-compile: record the digest

The project root is the folder above this file (``--root DIR`` points elsewhere, e.g. in tests).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# lock file -> the extras it holds (besides the core dependencies)
LOCKS = {
    "requirements.lock": ("dev", "ray", "tensorboard"),
    "requirements-bench.lock": ("dev", "ray", "tensorboard", "bench"),
}
DIGEST_PREFIX = "# pyproject-requirements-sha256: "
_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


def canonical_name(name: str) -> str:
    """PEP 503 normalised project name (`Foo_Bar.baz` -> `foo-bar-baz`)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def requirements(project: dict, extras: tuple[str, ...]) -> list[str]:
    """The core requirements plus those of `extras`, as written in pyproject.toml."""
    optional = project.get("optional-dependencies", {})
    missing = [extra for extra in extras if extra not in optional]
    if missing:
        raise SystemExit(f"pyproject.toml: extra {missing[0]!r} is not defined; accepted: {sorted(optional)}")
    found = list(project.get("dependencies", []))
    for extra in extras:
        found += optional[extra]
    return found


def digest(reqs: list[str], requires_python: str) -> str:
    """Digest of the requirement strings (order and comments in pyproject.toml do not matter)."""
    payload = json.dumps({"requires-python": requires_python, "requirements": sorted(reqs)})
    return hashlib.sha256(payload.encode()).hexdigest()


def pinned_names(lock_text: str) -> set[str]:
    """Names of the packages the lock pins (`name==version` lines)."""
    names = set()
    for line in lock_text.splitlines():
        if "==" in line and not line.lstrip().startswith(("#", "-")):
            match = _NAME.match(line)
            if match:
                names.add(canonical_name(match.group(1)))
    return names


def problems(lock_path: Path, reqs: list[str], expected_digest: str) -> list[str]:
    """What is wrong with one lock file against pyproject.toml; empty when it matches."""
    name = lock_path.name
    if not lock_path.exists():
        return [f"{name} is missing"]
    text = lock_path.read_text()
    first = text.splitlines()[0] if text else ""
    if first.startswith(DIGEST_PREFIX) and first[len(DIGEST_PREFIX):].strip() == expected_digest:
        return []
    pinned = pinned_names(text)
    absent = []
    for req in reqs:
        match = _NAME.match(req)
        if match and canonical_name(match.group(1)) not in pinned:
            absent.append(req)
    if absent:
        return [f"{name} does not pin {', '.join(repr(a) for a in absent)} (in pyproject.toml)"]
    return [f"{name} was made from other requirements than pyproject.toml's (a version range or extra changed)"]


def check(root: Path) -> int:
    project = tomllib.loads((root / "pyproject.toml").read_text())["project"]
    found = []
    for lock_name, extras in LOCKS.items():
        reqs = requirements(project, extras)
        expected = digest(reqs, project.get("requires-python", ""))
        found += problems(root / lock_name, reqs, expected)
    for problem in found:
        print(f"lock out of date: {problem}; run `make lock` and commit the lock files", file=sys.stderr)
    return 1 if found else 0


def stamp(root: Path) -> int:
    project = tomllib.loads((root / "pyproject.toml").read_text())["project"]
    for lock_name, extras in LOCKS.items():
        path = root / lock_name
        lines = [line for line in path.read_text().splitlines() if not line.startswith(DIGEST_PREFIX)]
        value = digest(requirements(project, extras), project.get("requires-python", ""))
        staged = path.with_name(path.name + ".tmp")
        staged.write_text("\n".join([DIGEST_PREFIX + value, *lines]) + "\n")
        staged.replace(path)
    return 0


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description="Check or stamp the lock files against pyproject.toml.")
    parser.add_argument("command", choices=["check", "stamp"])
    parser.add_argument("--root", type=Path, default=ROOT, help="project folder (default: the one above tools/)")
    args = parser.parse_args(argv)
    return {"check": check, "stamp": stamp}[args.command](args.root)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
