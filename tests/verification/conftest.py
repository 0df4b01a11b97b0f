"""Fixtures for verifying the providers against a Pact Broker."""

from __future__ import annotations

import gc
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from matrix import FRAMEWORKS, PROJECT_ROOT
from verification.broker_api import BrokerEndpoint
from verification.embedded import broker_for
from verification.settings import Settings


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--framework",
        action="append",
        choices=FRAMEWORKS,
        help="verify only this framework (repeatable; default: every framework)",
    )


def pytest_collection_finish(session: pytest.Session) -> None:
    """Move everything imported so far (pytest, FastAPI, pydantic, pact...) out of the cyclic
    garbage collector's sight: those objects live until the process ends anyway.

    Otherwise every collection walks them, and so do pytest's gc.collect() calls after the
    last test and the interpreter's own at exit, with nothing to collect. (It was written for
    the matrix's cells when they were pytest runs, 0.25 s of each; they are not any more.)
    """
    gc.freeze()


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "framework" in metafunc.fixturenames:
        metafunc.parametrize("framework", metafunc.config.getoption("framework") or FRAMEWORKS)


@pytest.fixture(scope="session")
def settings() -> Settings:
    """The settings of the environment, with the consumer's pacts in their folder: written by
    the consumer tests now if an earlier part of the suite has not (these tests run alone)."""
    settings = Settings.from_env()
    if not any(settings.pact_dir.glob("*.json")):
        subprocess.run(
            [sys.executable, "-m", "pytest", "tests/consumer", "-q", "-p", "no:cacheprovider"],
            cwd=PROJECT_ROOT,
            env={**os.environ, "PACT_DIR": str(settings.pact_dir)},
            check=True,
        )
    return settings


@pytest.fixture(scope="session")
def broker_endpoint(
    settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[BrokerEndpoint]:
    with broker_for(settings, tmp_path_factory.mktemp("broker")) as endpoint:
        yield endpoint


@pytest.fixture(scope="session")
def results_dir(settings: Settings) -> Path:
    return settings.results_dir
