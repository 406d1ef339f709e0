"""constraints.txt locks every dependency that pyproject.toml declares (the extras and the build
backend too) at one exact version inside its declared range, and nothing else than exact
versions: what ``make`` installs on a fresh clone. ``make lock`` writes it."""

from __future__ import annotations

import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def _locked() -> dict[str, Version]:
    locked: dict[str, Version] = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        name, sep, version = line.partition("==")
        assert sep and name.strip() == name, f"not an exact pin: {line!r}"
        assert canonicalize_name(name) not in locked, f"locked twice: {name}"
        locked[canonicalize_name(name)] = Version(version)
    return locked


def _declared() -> list[Requirement]:
    project = PYPROJECT["project"]
    lines = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        lines += extra
    lines += PYPROJECT["build-system"]["requires"]
    return [Requirement(line) for line in lines]


def test_every_declared_dependency_is_locked_within_its_range() -> None:
    locked = _locked()
    for requirement in _declared():
        name = canonicalize_name(requirement.name)
        assert name in locked, f"{requirement} is not in constraints.txt: run make lock"
        assert requirement.specifier.contains(locked[name], prereleases=True), (
            f"constraints.txt has {name}=={locked[name]}, outside {requirement}: run make lock"
        )


def test_the_lock_holds_pip_and_not_the_project_itself() -> None:
    locked = _locked()
    assert "pip" in locked
    assert canonicalize_name(PYPROJECT["project"]["name"]) not in locked


def test_the_license_is_an_spdx_expression() -> None:
    """A table (``{text = …}``) stops building with setuptools after 2027-02-18."""
    assert PYPROJECT["project"]["license"] == "Apache-2.0"
