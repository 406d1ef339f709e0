"""Routes reach the app's services only through the ``Annotated`` dependencies of
``app.deps`` (and ``app.reads.conditional.ConditionalDep``), so ``dependency_overrides`` reaches
every use: no route function, nor a helper of a route module, reads ``request.app.state``."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
#: The modules that declare routes (app.api) and the helpers of the pages' (app.pages).
ROUTE_MODULES = sorted(
    [*(ROOT / "app" / "api").glob("*.py"), *(ROOT / "app" / "pages").glob("*.py")]
)


def _state_reads(path: Path) -> list[str]:
    """Where a function of ``path`` reads ``<something>.app.state`` (a lifespan, handed the
    app itself, reads ``app.state``: that is not a request's)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if (
            isinstance(node, ast.Attribute)
            and node.attr == "state"
            and isinstance(node.value, ast.Attribute)
            and node.value.attr == "app"
        ):
            found.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    return found


def test_the_route_modules_are_found() -> None:
    names = {path.name for path in ROUTE_MODULES}
    assert {"conflicts.py", "events.py", "webhooks.py", "stream.py", "pages.py"} <= names


def test_no_route_reads_the_app_state_around_its_dependencies() -> None:
    assert [where for path in ROUTE_MODULES for where in _state_reads(path)] == []
