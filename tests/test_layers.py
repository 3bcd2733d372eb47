"""The layer table of DESIGN.md section 2, enforced on every import statement of qfin (read with ast).

A module imports only from layers below its own; inside layers 1-4 packages do not import each other; a layer-0
module imports only from the rows above its own (everything may import qfin.errors); nothing imports qfin.cli but
the `python -m qfin` entry. Imports inside functions count: a lazy import is still a dependency.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "qfin"
DESIGN = Path(__file__).resolve().parent.parent.parent / "shared" / "DESIGN.md"

# (layer, modules) in the order of DESIGN.md's table; layer-0 rows are ordered, each row imports from those above.
LAYER_TABLE: list[tuple[int, tuple[str, ...]]] = [
    (0, ("qfin.errors", "qfin._lazy", "qfin.progress")),
    (0, ("qfin.specs",)),
    (0, ("qfin.data",)),
    (0, ("qfin.risk",)),
    (0, ("qfin.costs",)),
    (0, ("qfin.strategy",)),
    (0, ("qfin.report",)),
    (0, ("qfin.parallel",)),
    (0, ("qfin.optim",)),
    (1, ("qfin.envs",)),
    (1, ("qfin.backtests",)),
    (1, ("qfin.hedging",)),
    (1, ("qfin.dp",)),
    (1, ("qfin.kline",)),
    (1, ("qfin.scorecards",)),
    (2, ("qfin.agents",)),
    (3, ("qfin.ope",)),
    (4, ("qfin.cli",)),
]
EVERYONE_MAY_IMPORT = {"qfin", "qfin.errors"}  # the root package holds only __version__
ENTRY_POINTS = {"qfin.__main__"}  # `python -m qfin` runs the CLI


def place(component: str) -> tuple[int, int]:
    """(layer, row) of a top-level component such as `qfin.data`."""
    for row, (layer, modules) in enumerate(LAYER_TABLE):
        if component in modules:
            return layer, row
    raise KeyError(component)


def component_of(module: str) -> str:
    """`qfin.data.simulate._heston` -> `qfin.data`; `qfin` -> `qfin`."""
    return ".".join(module.split(".")[:2])


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imported_modules(path: Path) -> list[tuple[int, str]]:
    """(line, absolute module) for every import in the file; `from pkg import name` also yields `pkg.name`, since
    the name may be a submodule."""
    this = module_name(path)
    package = this if path.name == "__init__.py" else this.rpartition(".")[0]
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base_parts = package.split(".")
                base_parts = base_parts[: len(base_parts) - (node.level - 1)]
                base = ".".join(base_parts + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            found.append((node.lineno, base))
            found += [(node.lineno, f"{base}.{alias.name}") for alias in node.names if alias.name != "*"]
    return [(line, name) for line, name in found if name == "qfin" or name.startswith("qfin.")]


def violation(importer: str, imported: str) -> str | None:
    """Why `importer` may not import `imported`, or None when the table allows it."""
    source, target = component_of(importer), component_of(imported)
    if source == target or target in EVERYONE_MAY_IMPORT:
        return None
    try:
        target_layer, target_row = place(target)
    except KeyError:
        return None  # `from qfin.data import name` also yields `qfin.data.name`; only real components are placed
    if importer in ENTRY_POINTS and target == "qfin.cli":
        return None
    if target == "qfin.cli":
        return "nothing imports qfin.cli"
    source_layer, source_row = place(source)
    if source_layer == 0 and target_layer == 0:
        return None if target_row < source_row else f"layer-0 {source} may import only rows above its own"
    if target_layer < source_layer:
        return None
    if target_layer == source_layer:
        return f"{source} and {target} share layer {source_layer}: move what both need down a layer"
    return f"{target} (layer {target_layer}) is above {source} (layer {source_layer})"


def all_modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def test_every_top_level_module_has_a_place_in_the_table():
    tops = {module_name(path).split(".")[1] for path in all_modules() if module_name(path) != "qfin"}
    unplaced = sorted(f"qfin.{top}" for top in tops if f"qfin.{top}" not in {m for _, ms in LAYER_TABLE for m in ms}
                      and f"qfin.{top}" not in ENTRY_POINTS)
    assert not unplaced, f"modules missing from DESIGN.md's layer table: {unplaced}"


def test_no_import_points_up_or_sideways():
    broken = []
    for path in all_modules():
        importer = module_name(path)
        if importer == "qfin":
            continue
        for line, imported in imported_modules(path):
            why = violation(importer, imported)
            if why:
                broken.append(f"{path.relative_to(PACKAGE.parent)}:{line} imports {imported}: {why}")
    assert not broken, "imports against the layer table:\n" + "\n".join(sorted(set(broken)))


def test_the_root_package_imports_nothing_of_its_own():
    assert imported_modules(PACKAGE / "__init__.py") == []


@pytest.mark.parametrize(
    ("importer", "imported", "allowed"),
    [
        ("qfin.kline._strategy", "qfin.backtests._strategies", False),  # sideways in layer 1
        ("qfin.data._io", "qfin.risk", False),  # up inside layer 0
        ("qfin.report", "qfin.data._output", True),  # down inside layer 0
        ("qfin.specs", "qfin.errors", True),
        ("qfin._lazy", "qfin.progress", False),  # same row
        ("qfin.ope._experiment", "qfin.agents", True),
        ("qfin.agents._train", "qfin.ope", False),
        ("qfin.ope", "qfin.cli._tables", False),
        ("qfin.__main__", "qfin.cli", True),
        ("qfin.hedging._deep", "qfin.optim", True),
        ("qfin.optim._kfac", "qfin.data", True),
        ("qfin.data", "qfin.optim", False),
    ],
)
def test_the_rule_itself(importer, imported, allowed):
    assert (violation(importer, imported) is None) is allowed


def test_relative_imports_resolve_to_absolute_names():
    # qfin/data/simulate/_common.py: `from ...errors import DataValidationError`
    names = {name for _, name in imported_modules(PACKAGE / "data" / "simulate" / "_common.py")}
    assert {"qfin.errors", "qfin.errors.DataValidationError"} <= names


@pytest.mark.skipif(not DESIGN.exists(), reason="../shared/DESIGN.md is not beside this checkout")
def test_the_table_here_is_the_table_in_design_md():
    rows = []
    for line in DESIGN.read_text().splitlines():
        match = re.match(r"^\|\s*(\d)\s*\|(.*?)\|", line)
        if match:
            modules = tuple(re.findall(r"`(qfin\.[A-Za-z_]+)`", match.group(2)))
            if modules:
                rows.append((int(match.group(1)), modules))
    assert rows == LAYER_TABLE
