"""A broker of its own for each test module, on a real socket and an on-disk database."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from broker.testing import start_broker

if TYPE_CHECKING:
    from collections.abc import Iterator

    from broker.testing import RunningBroker


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningBroker]:
    running = start_broker(tmp_path_factory.mktemp("broker") / "pact_broker.sqlite")
    yield running
    assert running.stop() == 0
