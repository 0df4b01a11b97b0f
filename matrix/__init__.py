"""The matrix as pyproject.toml declares it, and the names of the pacticipants.

The one place that lists the Pythons and frameworks, below every other package (providers,
verification, benchmarks, the noxfile). Standard library only: nox's own Python imports it.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parent.parent
# The provider every cell verifies, and the consumer whose contract tests live here.
PROVIDER = "UserProvider"
CONSUMER = "UserConsumer"
_PYPROJECT: dict[str, Any] = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text("utf-8"))

FRAMEWORKS: list[str] = _PYPROJECT["tool"]["pact-matrix"]["frameworks"]
PYTHONS: list[str] = sorted(
    (
        classifier.rsplit(" ", 1)[-1]
        for classifier in _PYPROJECT["project"]["classifiers"]
        if classifier.startswith("Programming Language :: Python :: 3.")
    ),
    key=lambda version: tuple(map(int, version.split("."))),
)


def cell_name(python: str, framework: str) -> str:
    """The nox session of one matrix cell, e.g. `verify-3.12(flask)`."""
    return f"verify-{'.'.join(python.split('.')[:2])}({framework})"


# Every cell of the matrix, in matrix order: the verdict for a provider version needs them all.
ALL_CELLS: tuple[str, ...] = tuple(
    cell_name(python, framework) for python in PYTHONS for framework in FRAMEWORKS
)
