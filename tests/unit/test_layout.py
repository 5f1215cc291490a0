"""The package's folders are its architecture: three layers, each importing only the layers
below it (the core no Prefect at all), and no module importing one that imports it back
(directly or through others, lazily or not)."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

import watchdocker

PACKAGE = Path(watchdocker.__file__).parent
# The first folder under watchdocker/ names the layer; anything else is the core.
SHELL = {"tasks", "flows", "blocks", "deployments"}
DOORS = {"cli", "api", "streams", "compose", "web"}
LAYERS = {"core": 0, "shell": 1, "doors": 2}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def layer_of(module: str) -> str:
    parts = module.split(".")
    folder = parts[1] if len(parts) > 1 else ""
    return "shell" if folder in SHELL else "doors" if folder in DOORS else "core"


def imports_of(path: Path) -> set[str]:
    """Every module named by an import anywhere in the file (functions included)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def graph() -> dict[str, set[str]]:
    """Module → the package's modules it imports; a package's `__init__` is not an edge back
    from its own submodules (Python imports it with them)."""
    modules = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    return {
        name: {
            m
            for m in imports_of(path)
            if m in modules and m != name and not name.startswith(f"{m}.")
        }
        for name, path in modules.items()
    }


def test_the_core_imports_no_prefect():
    for path in PACKAGE.rglob("*.py"):
        if layer_of(module_name(path)) != "core":
            continue
        prefect = {m for m in imports_of(path) if m.split(".")[0] == "prefect"}
        assert not prefect, f"{module_name(path)} imports {sorted(prefect)}"


def test_each_layer_imports_only_those_below_it():
    upward = [
        f"{name} ({layer_of(name)}) imports {target} ({layer_of(target)})"
        for name, targets in graph().items()
        for target in targets
        if LAYERS[layer_of(target)] > LAYERS[layer_of(name)]
    ]
    assert not upward, upward


def test_no_import_cycles():
    edges = graph()
    done: set[str] = set()

    def visit(name: str, path: list[str]) -> None:
        if name in path:
            cycle = [*path[path.index(name) :], name]
            raise AssertionError("import cycle: " + " -> ".join(cycle))
        if name in done:
            return
        for target in sorted(edges[name]):
            visit(target, [*path, name])
        done.add(name)

    for name in sorted(edges):
        visit(name, [])


def test_the_checks_see_a_cycle_and_an_upward_import(tmp_path: Path, monkeypatch):
    # A package whose core module imports a door lazily, which imports it back.
    fake = tmp_path / "fakepkg"
    (fake / "cli").mkdir(parents=True)
    for init in (fake / "__init__.py", fake / "cli" / "__init__.py"):
        init.write_text("")
    (fake / "core.py").write_text("def f():\n    from fakepkg.cli.app import g\n")
    (fake / "cli" / "app.py").write_text("from fakepkg import core\n")
    monkeypatch.setattr(sys.modules[__name__], "PACKAGE", fake)
    with pytest.raises(AssertionError, match=r"import cycle: fakepkg\.cli\.app -> fakepkg\.core"):
        test_no_import_cycles()
    with pytest.raises(AssertionError, match=r"fakepkg\.core \(core\) imports fakepkg\.cli\.app"):
        test_each_layer_imports_only_those_below_it()
