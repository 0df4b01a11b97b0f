"""A cell fails, and says why, whenever the provider breaks the contract or nothing is verified.

These run in the `tests` session, not in the matrix cells: they prove the harness can fail.
The faults of the provider and the broker (hangs, crashes, no pacts, a broker that is down or
answers 500) are in tests/reliability/test_cell_faults.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from broker.testing import pact_document, publish_body, start_broker
from matrix import PROVIDER
from tests.broken_store import WRONG_NAME, MisnamingStore
from verification.broker_api import BrokerEndpoint
from verification.cell import Cell, run
from verification.settings import Settings


def test_a_provider_that_breaks_the_contract_fails_the_cell_and_names_the_interaction(
    framework: str, settings: Settings, broker_endpoint: BrokerEndpoint
) -> None:
    result = run(Cell(framework), settings, broker_endpoint, store=MisnamingStore())

    assert not result.success
    assert result.error is None  # the interactions say what failed
    failed = {outcome.description for outcome in result.failed}
    # The consumer asks for the name the state gave user 42; user 123's name is matched by type.
    assert failed == {"a request for user 42"}
    (outcome,) = result.failed
    assert any(WRONG_NAME in line for line in outcome.mismatches), outcome.mismatches
    assert "a request for user 42" in result.report


@pytest.fixture
def empty_broker(tmp_path: Path) -> Iterator[BrokerEndpoint]:
    running = start_broker(tmp_path / "broker.sqlite")
    yield BrokerEndpoint(running.url)
    assert running.stop() == 0


def publish(endpoint: BrokerEndpoint, document: dict[str, Any]) -> None:
    body = publish_body(document, "1", branch="main")
    httpx.post(f"{endpoint.url}/contracts/publish", json=body).raise_for_status()


def test_a_pact_with_no_interactions_fails_the_cell_as_nothing_verified(
    framework: str, settings: Settings, empty_broker: BrokerEndpoint
) -> None:
    publish(empty_broker, pact_document("EmptyConsumer", PROVIDER, paths=[]))

    result = run(Cell(framework), settings, empty_broker)

    assert not result.success
    assert result.verified == 0
    assert result.error == "the verifier checked zero interactions in 1 pact(s)"


def test_a_pact_the_verifier_cannot_load_fails_the_cell_though_every_interaction_passed(
    framework: str, settings: Settings, empty_broker: BrokerEndpoint
) -> None:
    # One pact verifies (no user 1, and the consumer expects 404); the other is stored but no
    # verifier can read it: the Rust verifier then fails the run without naming an interaction.
    healthy = pact_document("OtherConsumer", PROVIDER, paths=["/users/1"])
    healthy["interactions"][0]["response"]["status"] = 404
    unreadable = pact_document("UnreadableConsumer", PROVIDER, paths=["/users/1"])
    unreadable["interactions"][0]["type"] = "Nonsense/Type"
    publish(empty_broker, healthy)
    publish(empty_broker, unreadable)

    result = run(Cell(framework), settings, empty_broker)

    assert not result.success
    assert [outcome.success for outcome in result.interactions] == [True]
    assert result.error is not None
    assert result.error.startswith("the verifier failed without naming an interaction:")
    assert "Failed to load pact: " in result.error
    assert "incorrect type attribute" in result.error
