"""The house keeps its shape: imports go one way, and no module reaches into
another package's private names.

    cli -> stages -> core (tracking, evaluation, drift, kube, images, deploy,
                           forge, source, data, templates) -> ci, spec, process

Imports inside functions count too: a lazy import is still a dependency.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "src" / "modelship"
CORE = ("tracking", "evaluation", "drift", "kube", "images", "deploy", "forge", "source", "data")
FOUNDATION = ("ci", "spec", "process", "templating")


def layer(module: str) -> str:
    """`modelship.kube.jobs` -> `core`; `modelship.ci.log` -> `foundation`."""
    top = module.split(".")[1] if module.count(".") else ""
    if top in ("stages", "cli", "dev", "scaffold", "lineage_cli"):
        return "front"
    if top in CORE:
        return "core"
    if top in FOUNDATION:
        return "foundation"
    return "other"


def modules() -> list[tuple[str, Path]]:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found.append((name, path))
    return found


def imported(path: Path, package: str) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against the importing package
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                module = f"{base}.{node.module}" if node.module else base
            else:
                module = node.module or ""
            names.append((node.lineno, module))
            names += [(node.lineno, f"{module}.{alias.name}") for alias in node.names]
    return names


ALLOWED = {
    "front": {"front", "core", "foundation", "other"},
    "core": {"core", "foundation", "other"},
}
ALLOWED["foundation"] = {"foundation", "other"}
ALLOWED["other"] = {"foundation", "other", "core"}


@pytest.mark.parametrize(("name", "path"), modules(), ids=str)
def test_imports_go_one_way(name: str, path: Path) -> None:
    own = layer(name)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    wrong = [
        f"{path.relative_to(PACKAGE)}:{line} imports {module} ({layer(module)})"
        for line, module in imported(path, package)
        if module.startswith("modelship.") and layer(module) not in ALLOWED[own]
    ]
    assert not wrong, "\n".join(wrong)


def test_every_module_has_a_layer() -> None:
    """A new top-level module or package must say where it belongs."""
    unplaced = [name for name, _ in modules() if layer(name) == "other" and name != "modelship"]
    assert not unplaced, unplaced


def test_no_private_name_of_another_package_is_used() -> None:
    """No `from x import _y`, no `x._y`, no `x._y.z` module, for any library or for
    another modelship package; a module's own `_helpers` are its business."""
    found = []
    for name, path in modules():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.module != "__future__":
                names = [a.name for a in node.names]
                parts = node.module.split(".")
                if any(p.startswith("_") and not p.startswith("__") for p in parts + names):
                    found.append(f"{name}:{node.lineno} from {node.module} import {names}")
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if any(p.startswith("_") for p in alias.name.split(".")):
                        found.append(f"{name}:{node.lineno} import {alias.name}")
            elif (
                isinstance(node, ast.Attribute)
                and node.attr.startswith("_")
                and not node.attr.startswith("__")
                and isinstance(node.value, ast.Name)
                and node.value.id not in ("self", "cls")
                and node.value.id in imported_modules(tree)
            ):
                found.append(f"{name}:{node.lineno} {node.value.id}.{node.attr}")
    assert not found, "\n".join(found)


def imported_modules(tree: ast.Module) -> set[str]:
    """Names bound to imported modules or objects (`import x`, `from a import x`)."""
    bound = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                bound.add((alias.asname or alias.name).split(".")[0])
    return bound


def test_no_function_is_longer_than_60_lines() -> None:
    """Small functions with one job each; a longer one is split where its steps are."""
    long = []
    for name, path in modules():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                if length > 60:
                    long.append(f"{name}.{node.name}: {length} lines")
    assert not long, "\n".join(long)
