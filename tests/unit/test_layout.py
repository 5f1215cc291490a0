"""The package's folders are its architecture: the core imports no Prefect, and no module
imports one that imports it back (directly or through others, lazily or not)."""

from __future__ import annotations

import ast
from pathlib import Path

import watchdocker

PACKAGE = Path(watchdocker.__file__).parent
# The Prefect shell and the doors; everything else is the core.
PREFECT_SHELL = ("tasks", "flows", "blocks", "deployments", "cli")


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


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
    modules = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    return {
        name: {m for m in imports_of(path) if m in modules and m != name}
        for name, path in modules.items()
    }


def test_the_core_imports_no_prefect():
    for path in PACKAGE.rglob("*.py"):
        if path.relative_to(PACKAGE).parts[0] in PREFECT_SHELL:
            continue
        prefect = {m for m in imports_of(path) if m.split(".")[0] == "prefect"}
        assert not prefect, f"{module_name(path)} imports {sorted(prefect)}"


def test_no_import_cycles():
    edges = graph()
    # Packages' __init__ modules are imported with their submodules: not an edge back.
    edges = {
        name: {m for m in targets if not name.startswith(f"{m}.")}
        for name, targets in edges.items()
    }
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


def test_the_check_sees_a_cycle(tmp_path: Path, monkeypatch):
    # The walk above finds cycles at all: a package of two modules that import each other.
    fake = tmp_path / "fakepkg"
    fake.mkdir()
    (fake / "__init__.py").write_text("")
    (fake / "a.py").write_text("def f():\n    from fakepkg.b import g\n")
    (fake / "b.py").write_text("from fakepkg import a\n")
    monkeypatch.setattr(__import__(__name__), "PACKAGE", fake)
    try:
        test_no_import_cycles()
    except AssertionError as exc:
        assert "fakepkg.a -> fakepkg.b -> fakepkg.a" in str(exc)
    else:
        raise AssertionError("the cycle was not found")
