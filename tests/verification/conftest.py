"""Fixtures for verifying the providers against a Pact Broker."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from pathlib import Path

import pytest

from matrix import FRAMEWORKS
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
    return Settings.from_env()


@pytest.fixture(scope="session")
def broker_endpoint(
    settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[BrokerEndpoint]:
    with broker_for(settings, tmp_path_factory.mktemp("broker")) as endpoint:
        yield endpoint


@pytest.fixture(scope="session")
def results_dir(settings: Settings) -> Path:
    return settings.results_dir
