"""The matrix as pyproject.toml declares it, and the names of the pacticipants.

The one place that lists the Pythons, the frameworks and their release series, below every
other package (providers, verification, benchmarks, the noxfile). Standard library only: nox's
own Python imports it.

A cell is one release series of one framework on one Python: `verify-3.12(django-6.1)`. A
series runs on the Pythons its dependency group's `requires-python` allows (uv's
`[tool.uv.dependency-groups]`, the release's own Requires-Python, which uv needs to lock the
group); the other Pythons are left out of the matrix, each with its reason.
"""

from __future__ import annotations

import importlib.metadata
import operator
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parent.parent
# The provider every cell verifies, and the consumer whose contract tests live here.
PROVIDER = "UserProvider"
CONSUMER = "UserConsumer"
_PYPROJECT: dict[str, Any] = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text("utf-8"))


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split("."))


PYTHONS: list[str] = sorted(
    (
        classifier.rsplit(" ", 1)[-1]
        for classifier in _PYPROJECT["project"]["classifiers"]
        if classifier.startswith("Programming Language :: Python :: 3.")
    ),
    key=_version,
)
_SERIES_TABLE: dict[str, list[str]] = _PYPROJECT["tool"]["pact-matrix"]["frameworks"]
# The frameworks, in the table's order: each is `providers/<name>.py` and a distribution of
# that name.
FRAMEWORKS: list[str] = list(_SERIES_TABLE)

_COMPARE = {">=": operator.ge, "<=": operator.le, ">": operator.gt, "<": operator.lt}


def allows(specifier: str, python: str) -> bool:
    """Whether a `requires-python` such as ">=3.12" or ">=3.11,<3.14" allows `python` (X.Y)."""
    for clause in filter(None, (part.strip() for part in specifier.split(","))):
        symbol = next(s for s in (">=", "<=", ">", "<", "==", "!=") if clause.startswith(s))
        bound = _version(clause.removeprefix(symbol).strip().removesuffix(".*"))
        mine = _version(python)[: len(bound)]
        if symbol in _COMPARE:
            if not _COMPARE[symbol](_version(python), bound):
                return False
        elif (mine == bound) != (symbol == "=="):
            return False
    return True


@dataclass(frozen=True)
class Series:
    """One release series of a framework, e.g. Django 6.1: its dependency group `django-6.1`."""

    framework: str
    release: str
    requires_python: str  # the group's, else the project's

    @property
    def name(self) -> str:
        return f"{self.framework}-{self.release}"

    @property
    def pythons(self) -> list[str]:
        return [python for python in PYTHONS if allows(self.requires_python, python)]


_GROUP_SETTINGS: dict[str, dict[str, Any]] = (
    _PYPROJECT.get("tool", {}).get("uv", {}).get("dependency-groups", {})
)
# Every declared series, oldest first within each framework.
SERIES: list[Series] = [
    Series(
        framework,
        release,
        _GROUP_SETTINGS.get(f"{framework}-{release}", {}).get(
            "requires-python", _PYPROJECT["project"]["requires-python"]
        ),
    )
    for framework, releases in _SERIES_TABLE.items()
    for release in sorted(releases, key=_version)
]


def _series_of(framework: str, python: str | None) -> list[Series]:
    """The framework's series, oldest first (those that run on `python`, if given)."""
    return [s for s in SERIES if s.framework == framework and python in (None, *s.pythons)]


def newest(framework: str, python: str | None = None) -> Series:
    return _series_of(framework, python)[-1]


def oldest(framework: str, python: str | None = None) -> Series:
    return _series_of(framework, python)[0]


def installed_series(framework: str) -> str:
    """The series of the framework installed here, by its version: `django-6.1` for 6.1.3. A
    release past the newest series counts as that series (the canary lifts its bounds); any
    other release outside the declared series is named by its own version."""
    version = importlib.metadata.version(framework)
    declared = _series_of(framework, None)
    for series in declared:
        if version == series.release or version.startswith(f"{series.release}."):
            return series.name
    release = re.match(r"\d+(\.\d+)*", version)  # 6.2.0rc1 -> 6.2.0
    if release and _version(release.group(0)) > _version(declared[-1].release):
        return declared[-1].name
    return f"{framework}-{version}"


def cell_name(python: str, series: str) -> str:
    """The nox session of one matrix cell, e.g. `verify-3.12(django-6.1)`."""
    return f"verify-{'.'.join(python.split('.')[:2])}({series})"


# Every cell of the matrix as (Python, series), in matrix order.
MATRIX: tuple[tuple[str, Series], ...] = tuple(
    (python, series) for python in PYTHONS for series in SERIES if python in series.pythons
)
# Their names: the verdict for a provider version needs them all.
ALL_CELLS: tuple[str, ...] = tuple(cell_name(python, series.name) for python, series in MATRIX)
# The combinations the matrix leaves out, and why: a series' Requires-Python.
LEFT_OUT: dict[str, str] = {
    cell_name(python, series.name): (
        f"{series.name} is for Python {series.requires_python}, its Requires-Python"
    )
    for python in PYTHONS
    for series in SERIES
    if python not in series.pythons
}
