"""Public APIs only, read from the source: every module under app/, events/, projections/ and
migrations/ uses other distributions (and the standard library) only through what they
document. A speed or a shortcut bought with a private name is paid for at every upgrade, and
the version ranges in pyproject.toml promise nothing about private names.

Three rules, checked with ``ast`` (late imports inside functions count too):

- **No private names of others**: no ``from x import _name``, no import of a private module
  (``fastapi._compat``, ``uvicorn.protocols.http.httptools_impl`` is not private by name, so
  the second rule catches what it offers), and no ``x._name`` where ``x`` was imported from
  another distribution. Dunder names (``__version__``, ``__pydantic_validator__``) are the
  documented kind and pass.
- **No writes past a class's own ``__setattr__``**: ``object.__setattr__`` is how a frozen
  pydantic model's private slots were written.
- **No subclassing of library internals**: a class of ours may subclass a class of another
  distribution only when that class is an exception, a response class (FastAPI's "Custom
  response class"), or is listed in ``SUBCLASSABLE``: classes whose documentation offers them
  for subclassing. Such a subclass uses only its own private attributes: a ``self._name`` that
  the library's class uses too is its private state, written or read from outside.

Anything else that must stay is listed in ``EXCEPTIONS``, the one place, with its reason and the
versions it was checked on.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from starlette.responses import Response

ROOT = Path(__file__).resolve().parents[2]
#: The packages whose sources are checked.
CHECKED = ("app", "events", "projections", "migrations")
#: Our own top-level packages: their private names are ours to use.
OURS = frozenset({*CHECKED, "tests", "bench"})

#: Classes of other distributions whose documentation offers them for subclassing, by the
#: module path we import them from.
SUBCLASSABLE = frozenset(
    {
        "pydantic.BaseModel",  # docs.pydantic.dev: models are subclasses of BaseModel
        "pydantic.RootModel",  # docs.pydantic.dev: "RootModel"
        "pydantic_settings.BaseSettings",  # docs.pydantic.dev: settings management
        "sqlalchemy.orm.DeclarativeBase",  # docs.sqlalchemy.org: declarative mapping
        "sqlalchemy.types.TypeDecorator",  # docs.sqlalchemy.org: "Augmenting Existing Types"
        "typing.Protocol",
        "typing.NamedTuple",
        "typing.TypedDict",
        "typing.Generic",
        "enum.Enum",
        "enum.StrEnum",
        "enum.IntEnum",
        "abc.ABC",
        "logging.Formatter",  # docs.python.org: "Formatter objects" are meant to be subclassed
        "logging.Filter",
        "logging.Handler",
        "asyncio.Protocol",  # docs.python.org: "Protocols" are subclassed by the user
        "html.parser.HTMLParser",  # docs.python.org: "HTMLParser ... subclass"
        "httpx.AsyncBaseTransport",  # python-httpx.org: "Custom transports"
        "httpcore.AsyncNetworkBackend",  # encode.io/httpcore: "Network backends", custom ones
    }
)

#: Every use of a private name or an internal class that has to stay, with its reason and the
#: versions it was checked on: ``(path, what) -> why``. Keep it short.
EXCEPTIONS: dict[tuple[str, str], str] = {
    (
        "app/webhooks/sender.py",
        "_GuardedTransport subclasses httpx.AsyncHTTPTransport, not offered for subclassing",
    ): "httpx has no public way to give its transport a network backend, and the SSRF guard "
    "(app.webhooks.ssrf) is one. The way out is an httpx.AsyncBaseTransport of our own over an "
    "httpcore pool, mapping httpcore's errors to httpx's as httpx does privately. Checked on "
    "httpx 0.27.0 and 0.29.0 (tests/webhooks/test_ssrf.py).",
    (
        "app/webhooks/sender.py",
        "_GuardedTransport uses httpx.AsyncHTTPTransport's private self._pool",
    ): "the same: the pool is replaced by one on the guarded backend. httpx 0.27.0 and 0.29.0 "
    "both keep the pool in _pool and use it in handle_async_request.",
}


@dataclass(frozen=True)
class Finding:
    path: str
    line: int
    what: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.what}"


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _absolute(node: ast.ImportFrom, module: str) -> str:
    """The module an ``ImportFrom`` names, relative imports made absolute against ``module``."""
    if not node.level:
        return node.module or ""
    anchor = module.split(".")[: len(module.split(".")) - node.level]
    return ".".join([*anchor, node.module] if node.module else anchor)


def _is_ours(module: str) -> bool:
    return module.split(".")[0] in OURS


def findings(source: str, path: str = "<snippet>", module: str = "app.snippet") -> list[Finding]:
    """What the two rules find in ``source`` (a module named ``module``)."""
    tree = ast.parse(source, path)
    #: Local names bound to something of another distribution -> its dotted path.
    foreign: dict[str, str] = {}
    found: list[Finding] = []

    def flag(node: ast.AST, what: str) -> None:
        if (path, what) not in EXCEPTIONS:
            found.append(Finding(path, getattr(node, "lineno", 0), what))

    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if _is_ours(alias.name):
                    continue
                if any(_private(part) for part in alias.name.split(".")):
                    flag(node, f"import of a private module: {alias.name}")
                local = alias.asname or alias.name.split(".")[0]
                foreign[local] = alias.name if alias.asname else local
        elif isinstance(node, ast.ImportFrom):
            base = _absolute(node, module)
            if _is_ours(base) or base == "__future__":
                continue
            if any(_private(part) for part in base.split(".")):
                flag(node, f"import from a private module: {base}")
            for alias in node.names:
                if _private(alias.name):
                    flag(node, f"import of a private name: from {base} import {alias.name}")
                foreign[alias.asname or alias.name] = f"{base}.{alias.name}"

    def dotted(node: ast.expr) -> str | None:
        """``a.b.c`` as the foreign path it names, when ``a`` is a foreign name."""
        if isinstance(node, ast.Name):
            return foreign.get(node.id)
        if isinstance(node, ast.Attribute):
            base = dotted(node.value)
            return None if base is None else f"{base}.{node.attr}"
        return None

    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and node.attr == "__setattr__"
            and isinstance(node.value, ast.Name)
            and node.value.id == "object"
        ):
            # How a library object's instance slots get written behind its back (a frozen
            # pydantic model's ``__dict__`` and ``__pydantic_fields_set__`` were).
            flag(node, "object.__setattr__: writes an instance's slots past its own __setattr__")
        elif isinstance(node, ast.Attribute) and _private(node.attr):
            base = dotted(node.value)
            if base is not None:
                flag(node, f"private attribute of another distribution: {base}.{node.attr}")
        elif isinstance(node, ast.ClassDef):
            for base_node in node.bases:
                base = dotted(base_node)
                if base is None:
                    continue
                if not _subclassable(base):
                    flag(node, f"{node.name} subclasses {base}, not offered for subclassing")
                for name in sorted(_own_private_names(node) & _private_names_of(base)):
                    flag(node, f"{node.name} uses {base}'s private self.{name}")
    return found


def _own_private_names(cls: ast.ClassDef) -> set[str]:
    """The private ``self.<name>`` a class's methods read or write."""
    return {
        node.attr
        for node in ast.walk(cls)
        if isinstance(node, ast.Attribute)
        and _private(node.attr)
        and isinstance(node.value, ast.Name)
        and node.value.id == "self"
    }


def _private_names_of(dotted_path: str) -> set[str]:
    """The private attribute names a library class and its bases use: class attributes, and
    ``self.<name>`` in their source."""
    value = _resolve(dotted_path)
    if not isinstance(value, type):
        return set()
    names: set[str] = set()
    for cls in value.__mro__[:-1]:  # not object
        names.update(name for name in vars(cls) if _private(name))
        # Method by method: a library may re-home its classes' ``__module__`` (httpx does),
        # which sends ``inspect.getsource(cls)`` to the wrong file; a function's code knows.
        for member in vars(cls).values():
            if not inspect.isfunction(member):
                continue
            try:
                source = textwrap.dedent(inspect.getsource(member))
            except (OSError, TypeError):
                continue
            names.update(
                node.attr
                for node in ast.walk(ast.parse(source))
                if isinstance(node, ast.Attribute) and _private(node.attr)
            )
    return names


def _resolve(dotted_path: str) -> object | None:
    """The object at ``a.b.C``: the longest importable module prefix, then attributes."""
    parts = dotted_path.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            value: object = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for attribute in parts[cut:]:
            value = getattr(value, attribute, None)
            if value is None:
                return None
        return value
    return None


def _subclassable(dotted_path: str) -> bool:
    if dotted_path in SUBCLASSABLE:
        return True
    value = _resolve(dotted_path)
    if isinstance(value, type) and issubclass(value, BaseException | Response):
        return True  # exceptions everywhere; responses: FastAPI's "Custom response class"
    # The same class under another documented import path (``typing_extensions.Protocol``).
    return any(value is not None and value is _resolve(allowed) for allowed in SUBCLASSABLE)


def _sources() -> Iterator[tuple[str, str, str]]:
    for package in CHECKED:
        for file in sorted((ROOT / package).rglob("*.py")):
            relative = file.relative_to(ROOT)
            parts = relative.with_suffix("").parts
            module = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            yield str(relative), module, file.read_text()


def test_our_sources_use_other_distributions_through_public_apis_only() -> None:
    found = [f for path, module, text in _sources() for f in findings(text, path, module)]
    assert not found, "private APIs of other distributions:\n" + "\n".join(map(str, found))


def test_every_exception_is_still_needed() -> None:
    """An exception whose use is gone is taken out of the list, so the list stays true."""
    used = {
        (path, f.what)
        for path, module, text in _sources()
        for f in _unexcepted_findings(text, path, module)
    }
    assert set(EXCEPTIONS) <= used, set(EXCEPTIONS) - used


def _unexcepted_findings(text: str, path: str, module: str) -> list[Finding]:
    saved = dict(EXCEPTIONS)
    EXCEPTIONS.clear()
    try:
        return findings(text, path, module)
    finally:
        EXCEPTIONS.update(saved)


@pytest.mark.parametrize(
    ("snippet", "expected"),
    [
        (
            "from fastapi.dependencies.utils import _get_param_aliases\n",
            "import of a private name: from fastapi.dependencies.utils import _get_param_aliases",
        ),
        (
            "from fastapi._compat import ModelField\n",
            "import from a private module: fastapi._compat",
        ),
        ("import fastapi._compat\n", "import of a private module: fastapi._compat"),
        (
            "import fastapi\n"
            "def f() -> object:\n"
            "    return fastapi.dependencies.utils._is_json_field\n",
            "private attribute of another distribution: fastapi.dependencies.utils._is_json_field",
        ),
        (
            "import pydantic as p\nx = p._internal\n",
            "private attribute of another distribution: pydantic._internal",
        ),
        (
            "from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol\n"
            "class Guarded(HttpToolsProtocol):\n    pass\n",
            "Guarded subclasses uvicorn.protocols.http.httptools_impl.HttpToolsProtocol, "
            "not offered for subclassing",
        ),
        (
            "def construct(model: object) -> None:\n"
            "    object.__setattr__(model, '__pydantic_fields_set__', set())\n",
            "object.__setattr__: writes an instance's slots past its own __setattr__",
        ),
        (
            "import starlette.routing\nclass R(starlette.routing.Route):\n    pass\n",
            "R subclasses starlette.routing.Route, not offered for subclassing",
        ),
    ],
)
def test_an_injected_private_use_is_found(snippet: str, expected: str) -> None:
    assert [f.what for f in findings(snippet)] == [expected]


def test_a_subclass_touching_its_base_private_state_is_found() -> None:
    snippet = (
        "import httpx\n"
        "class T(httpx.AsyncHTTPTransport):\n"
        "    def __init__(self) -> None:\n"
        "        super().__init__()\n"
        "        self._pool = None\n"
        "        self._mine = 1\n"
    )
    assert [f.what for f in findings(snippet)] == [
        "T subclasses httpx.AsyncHTTPTransport, not offered for subclassing",
        "T uses httpx.AsyncHTTPTransport's private self._pool",
    ]


@pytest.mark.parametrize(
    "snippet",
    [
        "from pydantic import BaseModel\nclass M(BaseModel):\n    x: int\n",
        "from typing import Protocol\nclass P(Protocol):\n    pass\n",
        "import sqlalchemy.exc\nclass E(sqlalchemy.exc.SQLAlchemyError):\n    pass\n",
        "from app.http.limits import _nul_places\nfrom . import _private\n",  # ours
        "import pydantic\nv = pydantic.BaseModel.__pydantic_validator__\n",  # documented dunder
        "class Mine:\n    _x = 1\nMine._x\n",
        # a documented base, with private attributes of the subclass's own
        "import httpx\nclass T(httpx.AsyncBaseTransport):\n"
        "    def __init__(self) -> None:\n        self._guard = None\n",
    ],
)
def test_public_uses_pass(snippet: str) -> None:
    assert findings(snippet) == []
