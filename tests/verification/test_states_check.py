"""The states check against the embedded broker on a real socket."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest

from broker.testing import pact_document, publish_body, start_broker, unique_name
from matrix import CONSUMER, FRAMEWORKS, PROVIDER
from states import PROVIDER_STATES
from verification.broker_api import BrokerEndpoint, BrokerError, diff_link
from verification.cell import Cell, run
from verification.settings import Settings
from verification.states_check import MissingState, describe, missing_states

if TYPE_CHECKING:
    from collections.abc import Iterator

    from broker.testing import RunningBroker


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningBroker]:
    running = start_broker(tmp_path_factory.mktemp("broker") / "pact_broker.sqlite")
    yield running
    assert running.stop() == 0


def publish(url: str, consumer: str, provider: str, version: str, states: list[str]) -> None:
    document = pact_document(consumer, provider, [f"/{n}" for n in range(len(states))], "3.0")
    for interaction, state in zip(document["interactions"], states, strict=True):
        interaction["providerStates"] = [{"name": state}]
    response = httpx.post(
        f"{url}/contracts/publish", json=publish_body(document, version, branch="main")
    )
    assert response.status_code == 200, response.text


def test_a_state_the_vocabulary_lacks_is_named_with_its_consumers(broker: RunningBroker) -> None:
    provider = unique_name("p-")
    web, mobile = unique_name("web-"), unique_name("mobile-")
    publish(broker.url, web, provider, "1", ["user 123 exists", "a unicorn exists"])
    publish(broker.url, mobile, provider, "1", ["a unicorn exists", "user 123 exists"])

    missing = missing_states(BrokerEndpoint(broker.url), provider, PROVIDER_STATES)

    assert missing is not None
    assert [state.name for state in missing] == ["a unicorn exists"]
    assert sorted(missing[0].consumers) == sorted([web, mobile])
    message = describe(provider, missing)
    assert "'a unicorn exists'" in message
    assert web in message
    assert mobile in message
    assert "user 123 exists" not in message


def test_known_states_pass(broker: RunningBroker) -> None:
    provider = unique_name("p-")
    publish(broker.url, unique_name("c-"), provider, "1", ["user 123 exists"])
    assert missing_states(BrokerEndpoint(broker.url), provider, PROVIDER_STATES) == []


def test_a_broker_without_the_endpoint_means_skip(broker: RunningBroker) -> None:
    # An unknown provider is what an older broker's missing route looks like: a 404.
    assert missing_states(BrokerEndpoint(broker.url), "nobody", PROVIDER_STATES) is None


def test_an_unreachable_broker_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(BrokerError, match="cannot reach"):
        missing_states(BrokerEndpoint("http://127.0.0.1:9"), "p", [])


def test_describe_without_consumers() -> None:
    assert "an unnamed consumer" in describe("p", [MissingState("x", ())])


def test_diff_link_only_when_the_content_changed(broker: RunningBroker) -> None:
    provider, consumer = unique_name("p-"), unique_name("c-")
    publish(broker.url, consumer, provider, "1", ["user 123 exists"])
    publish(broker.url, consumer, provider, "2", ["user 123 exists"])
    publish(broker.url, consumer, provider, "3", ["user 123 exists", "a user exists"])
    endpoint = BrokerEndpoint(broker.url)
    pact = f"{broker.url}/pacts/provider/{provider}/consumer/{consumer}/version/"

    assert diff_link(endpoint, pact + "2") is None
    link = diff_link(endpoint, pact + "3")
    assert link is not None
    assert link.endswith("/version/3/diff/previous-distinct")


def test_a_cell_stops_the_run_at_once_naming_a_state_the_vocabulary_lacks(tmp_path: Path) -> None:
    """Before verifying, the cell asks the broker: a missing state fails it (and the run's
    other cells) naming the state and its consumer, instead of failing each interaction."""
    running = start_broker(tmp_path / "pact_broker.sqlite")
    try:
        publish(running.url, CONSUMER, PROVIDER, "1", ["user 123 exists", "a unicorn exists"])
        settings = Settings.from_env(
            {"PACT_BROKER_BASE_URL": running.url, "PACT_PROVIDER_VERSION": "p-1",
             "PACT_PROVIDER_BRANCH": "main", "PACT_DIR": str(tmp_path / "pacts")}
        )  # fmt: skip
        result = run(Cell(FRAMEWORKS[0]), settings, BrokerEndpoint(running.url))
        # Selectors without mainBranch verify pacts the broker's list does not describe.
        other = dataclasses.replace(settings, selectors=({"deployedOrReleased": True},))
        unchecked = run(Cell(FRAMEWORKS[0]), other, BrokerEndpoint(running.url))
    finally:
        assert running.stop() == 0

    assert not result.success
    assert result.stops_run
    assert result.interactions == ()
    assert result.error is not None
    assert f"'a unicorn exists', used by {CONSUMER}" in result.error
    assert "states/vocabulary.py" in result.error
    assert "a unicorn exists" not in (unchecked.error or "")
