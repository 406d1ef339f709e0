"""The layers, read from the source: imports point one way (app -> projections -> events) and
no module imports itself back through others. Every import counts, late ones inside functions
too: a late import hides a cycle from Python, not from the design."""

from __future__ import annotations

import ast
import functools
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("events", "projections", "app")
#: What each package may not import.
FORBIDDEN = {"events": ("projections", "app"), "projections": ("app",), "app": ()}


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {
        _module_name(path): path
        for package in PACKAGES
        for path in sorted((ROOT / package).rglob("*.py"))
    }


def _imports(name: str, path: Path, known: set[str]) -> Iterator[str]:
    """The modules of ours that ``name`` imports (``from a import b`` counts as ``a.b`` when
    that is a module, else as ``a``)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            targets = [
                f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base
                for alias in node.names
            ]
        else:
            continue
        for target in targets:
            if target.split(".")[0] in PACKAGES:
                yield target


@functools.cache
def _graph() -> dict[str, set[str]]:
    modules = _modules()
    known = set(modules)
    return {
        name: {t for t in _imports(name, path, known) if t in known and t != name}
        for name, path in modules.items()
    }


def test_the_graph_is_read() -> None:
    graph = _graph()
    # The reading itself is checked, so the rules below cannot pass on an empty graph.
    assert "events.log.store" in graph and "app.services.appending" in graph
    assert "events.log.store" in graph["app.services.appending"]
    assert "projections.fold" in graph["app.services.appending"]


def test_imports_point_one_way() -> None:
    wrong = [
        f"{module} imports {target}"
        for module, targets in _graph().items()
        for target in sorted(targets)
        if target.split(".")[0] in FORBIDDEN[module.split(".")[0]]
    ]
    assert wrong == []


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    cycles: list[list[str]] = []
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(module: str) -> None:
        state[module] = 1
        path.append(module)
        for target in sorted(graph[module]):
            if state.get(target) == 1:
                cycles.append([*path[path.index(target) :], target])
            elif target not in state:
                visit(target)
        path.pop()
        state[module] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module)
    return cycles


def test_no_import_cycle() -> None:
    assert _cycles(_graph()) == []


def _app_part(module: str) -> str:
    """The part of ``app`` a module is in: its folder (``app.reads``), or itself at the root."""
    parts = module.split(".")
    return ".".join(parts[:2]) if (ROOT / "app" / parts[1]).is_dir() else module


def test_no_cycle_between_the_folders_of_app() -> None:
    """Drawn folder by folder (each root module on its own), ``app`` has no circle either: the
    routes (``app.api``) stand above the pages, the pages above the reads, and both above the
    representations they share (``app.formats``)."""
    parts: dict[str, set[str]] = {}
    for module, targets in _graph().items():
        if module.startswith("app."):
            part = _app_part(module)
            parts.setdefault(part, set()).update(
                _app_part(t) for t in targets if t.startswith("app.") and _app_part(t) != part
            )
    assert "app.formats" in parts["app.reads"] and "app.pages" in parts["app.api"]
    assert _cycles(parts) == []
