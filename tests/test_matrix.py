"""The matrix as pyproject.toml declares it: release series, the Pythons each runs on, the cells
and the combinations left out, with their reason."""

from __future__ import annotations

import importlib.metadata
import tomllib

import pytest

import matrix
from matrix import (
    ALL_CELLS,
    FRAMEWORKS,
    LEFT_OUT,
    MATRIX,
    PROJECT_ROOT,
    PYTHONS,
    SERIES,
    allows,
    cell_name,
)

PYPROJECT = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text("utf-8"))


@pytest.mark.parametrize(
    ("specifier", "python", "allowed"),
    [
        (">=3.11", "3.11", True),
        (">=3.12", "3.11", False),
        (">=3.12", "3.13", True),
        (">=3.11,<3.13", "3.13", False),
        (">=3.11, <3.13", "3.12", True),
        (">3.11", "3.11", False),
        ("<=3.12", "3.12", True),
        ("==3.12.*", "3.12", True),
        ("==3.12.*", "3.13", False),
        ("!=3.12.*", "3.12", False),
    ],
)
def test_a_requires_python_allows_what_pep_440_says(
    specifier: str, python: str, allowed: bool
) -> None:
    assert allows(specifier, python) is allowed


def test_each_series_is_a_dependency_group_and_a_locked_conflict_with_its_siblings() -> None:
    groups = PYPROJECT["dependency-groups"]
    conflicts = [
        {entry["group"] for entry in pair} for pair in PYPROJECT["tool"]["uv"]["conflicts"]
    ]
    for series in SERIES:
        assert series.name in groups, series
        siblings = {s.name for s in SERIES if s.framework == series.framework} - {series.name}
        for sibling in siblings:
            assert {series.name, sibling} in conflicts, (series.name, sibling)
    assert list(PYPROJECT["tool"]["pact-matrix"]["frameworks"]) == FRAMEWORKS


def test_a_series_runs_on_the_pythons_its_requires_python_allows_and_the_rest_are_left_out() -> (
    None
):
    django_61 = next(s for s in SERIES if s.name == "django-6.1")
    assert django_61.requires_python == ">=3.12"  # the release's own Requires-Python
    assert django_61.pythons == [p for p in PYTHONS if p != "3.11"]
    assert LEFT_OUT == {
        "verify-3.11(django-6.1)": "django-6.1 is for Python >=3.12, its Requires-Python"
    }
    # Every combination is either a cell of the matrix or left out, never both.
    every = {cell_name(python, series.name) for python in PYTHONS for series in SERIES}
    assert set(ALL_CELLS) | set(LEFT_OUT) == every
    assert not set(ALL_CELLS) & set(LEFT_OUT)
    assert tuple(cell_name(python, series.name) for python, series in MATRIX) == ALL_CELLS


def test_the_newest_and_oldest_series_are_chosen_per_python() -> None:
    assert matrix.newest("django").name == "django-6.1"
    assert matrix.newest("django", "3.11").name == "django-5.2"
    assert matrix.oldest("django", "3.13").name == "django-5.2"
    assert matrix.newest("flask").name == matrix.oldest("flask").name


def test_a_cell_is_named_by_the_series_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    def version_is(version: str) -> None:
        monkeypatch.setattr(importlib.metadata, "version", lambda name: version)

    version_is("5.2.19")
    assert matrix.installed_series("django") == "django-5.2"
    version_is("6.1.3")
    assert matrix.installed_series("django") == "django-6.1"
    # The canary lifts the newest series' bounds: a newer release counts as that series.
    version_is("6.2.0rc1")
    assert matrix.installed_series("django") == "django-6.1"
    # Anything else is named by its own version, a cell outside the matrix.
    version_is("4.2.1")
    assert matrix.installed_series("django") == "django-4.2.1"
