"""A large pact verified in slices gives the cell, and the verdict, exactly what it gives whole.

Real cells: the real verifier against the real provider, the pact from a real broker. The
slice size is made small here (3) so that a pact of 8 interactions is three slices; what is
proved is the mechanism, which does not depend on the size.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pact import Verifier

from broker.testing import publish_body, start_broker
from matrix import PROVIDER
from verification import slices
from verification.broker_api import BrokerEndpoint
from verification.cell import Cell, run
from verification.results import CellResult, PactRef
from verification.settings import Settings
from verification.verdict import judge

CONSUMER = "SlicedConsumer"
ADD_SOURCE = Verifier.add_source
# With slices of 3, the wrong name is in the second slice and the unknown state in the third.
WRONG_NAME_USER = 5
USER_EXISTS = "a user exists"  # states/vocabulary.py
UNKNOWN_STATE = "a state nobody defined"
UNKNOWN_STATE_USER = 8


def large_pact(interactions: int = 8) -> dict[str, Any]:
    """A V4 pact whose interactions each set a user up and GET it; one expects a name the
    state did not give, and one asks for a state the provider does not know."""
    items = []
    for user_id in range(1, interactions + 1):
        name = f"User {user_id}"
        expected = "Somebody Else" if user_id == WRONG_NAME_USER else name
        state = UNKNOWN_STATE if user_id == UNKNOWN_STATE_USER else USER_EXISTS
        items.append(
            {
                "type": "Synchronous/HTTP",
                "description": f"a request for user {user_id}",
                "providerStates": [{"name": state, "params": {"id": user_id, "name": name}}],
                "request": {"method": "GET", "path": f"/users/{user_id}"},
                "response": {
                    "status": 200,
                    "headers": {"Content-Type": ["application/json"]},
                    "body": {
                        "content": {"id": user_id, "name": expected},
                        "contentType": "application/json",
                        "encoded": False,
                    },
                },
            }
        )
    return {
        "consumer": {"name": CONSUMER},
        "provider": {"name": PROVIDER},
        "interactions": items,
        "metadata": {"pactSpecification": {"version": "4.0"}},
    }


@pytest.fixture
def pact_broker(tmp_path: Path) -> Iterator[BrokerEndpoint]:
    running = start_broker(tmp_path / "broker.sqlite")
    endpoint = BrokerEndpoint(running.url)
    body = publish_body(large_pact(), "1", branch="main")
    httpx.post(f"{endpoint.url}/contracts/publish", json=body).raise_for_status()
    yield endpoint
    assert running.stop() == 0


def settings_for(settings: Settings, *, pending: bool) -> Settings:
    # The `branch` selector, not `mainBranch`: the cell's up-front check of the states would
    # stop the run at the unknown state before anything is verified.
    return dataclasses.replace(
        settings,
        selectors=({"branch": "main"},),
        provider_branch="main",
        include_pending=pending,
        include_wip_since=None,
        description_filter=None,
        state_filter=None,
        no_state_filter=False,
        pact_url=None,
    )


def verify(
    framework: str,
    settings: Settings,
    endpoint: BrokerEndpoint,
    monkeypatch: pytest.MonkeyPatch,
    *,
    slice_size: int,
) -> tuple[CellResult, list[str]]:
    """The cell's result with pacts sliced to `slice_size`, and the sources the verifier got."""
    monkeypatch.setattr(slices, "SLICE_SIZE", slice_size)
    added: list[str] = []

    def recording(verifier: Verifier, source: str | Path, **kwargs: Any) -> Verifier:
        added.append(str(source))
        return ADD_SOURCE(verifier, source, **kwargs)

    monkeypatch.setattr(Verifier, "add_source", recording)
    return run(Cell(framework), settings, endpoint), added


def without_urls(text: str) -> str:
    return re.sub(r"https?://\S+", "<url>", text)


def seen_by_the_verdict(result: CellResult) -> dict[str, Any]:
    """Everything of a cell's result the verdict reads or shows, less the time it took."""
    verdict = judge([result], [result.cell], whole=True)
    return {
        "interactions": [dataclasses.replace(i, duration_ms=None) for i in result.interactions],
        "pacts": result.pacts,
        "success": result.success,
        "error": result.error,
        "verdict": verdict.lines(),
        "verdict success": verdict.success,
        "only pending failed": verdict.only_pending_failed,
        "test results": [pact.test_results for pact in verdict.pacts],
        # The unknown state named, and the rerun commands (the verifier's own report and the
        # provider's log, with timestamps, come before these).
        "report's end": result.report[result.report.index("\n\nProvider states the") :],
    }


@pytest.mark.parametrize("pending", [False, True], ids=["not pending", "pending"])
def test_a_pact_verified_in_slices_gives_the_verdict_what_it_gives_whole(
    framework: str,
    settings: Settings,
    pact_broker: BrokerEndpoint,
    monkeypatch: pytest.MonkeyPatch,
    pending: bool,
) -> None:
    chosen = settings_for(settings, pending=pending)
    whole, whole_sources = verify(framework, chosen, pact_broker, monkeypatch, slice_size=100)
    sliced, sliced_sources = verify(framework, chosen, pact_broker, monkeypatch, slice_size=3)

    assert whole_sources == []  # the verifier fetched the pact from the broker itself
    assert len(sliced_sources) == 3  # 8 interactions in slices of 3, 3 and 2
    assert seen_by_the_verdict(sliced) == seen_by_the_verdict(whole)
    assert [pact.pending for pact in sliced.pacts] == [pending]
    failed = {outcome.description for outcome in sliced.failed}
    assert failed == {
        f"a request for user {WRONG_NAME_USER}",
        f"a request for user {UNKNOWN_STATE_USER}",
    }
    assert all(outcome.pending == pending for outcome in sliced.interactions)
    # A pending pact's failures do not fail the cell, sliced or not.
    assert sliced.success == pending
    # Why the broker selected the pact: the verifier prints it when it fetches the pact, and
    # the cell does when the verifier read slices.
    (pact,) = sliced.pacts
    assert pact.notices
    for notice in pact.notices:
        assert notice in sliced.report
        # The same words, about the URL the verifier's own request went to.
        assert without_urls(notice) in without_urls(whole.report)


def test_a_large_pact_named_by_pact_url_is_verified_in_slices_as_it_is_whole(
    framework: str,
    settings: Settings,
    pact_broker: BrokerEndpoint,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A webhook-triggered build: exactly this pact, no selectors.
    pact_url = f"{pact_broker.url}/pacts/provider/{PROVIDER}/consumer/{CONSUMER}/version/1"
    chosen = dataclasses.replace(settings_for(settings, pending=False), pact_url=pact_url)
    whole, whole_sources = verify(framework, chosen, pact_broker, monkeypatch, slice_size=100)
    sliced, sliced_sources = verify(framework, chosen, pact_broker, monkeypatch, slice_size=3)

    assert [source.rsplit("/", 1)[-1] for source in whole_sources] == ["1"]  # through the relay
    assert len(sliced_sources) == 3
    assert seen_by_the_verdict(sliced) == seen_by_the_verdict(whole)
    assert [pact.url for pact in sliced.pacts] == [pact_url]
    assert {outcome.description for outcome in sliced.failed} == {
        f"a request for user {WRONG_NAME_USER}",
        f"a request for user {UNKNOWN_STATE_USER}",
    }
    assert not sliced.success


def test_a_small_pact_is_verified_whole_from_the_broker(
    framework: str,
    settings: Settings,
    broker_endpoint: BrokerEndpoint,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The project's own pacts, at the slice size the cells use.
    result, sources = verify(
        framework, settings, broker_endpoint, monkeypatch, slice_size=slices.SLICE_SIZE
    )

    assert result.success, result.report
    assert sources == []


def test_only_a_pact_of_more_than_the_slice_size_is_sliced() -> None:
    def pact(interactions: int) -> PactRef:
        return PactRef(
            "C", "http://broker/pact", interaction_ids=tuple(map(str, range(interactions)))
        )

    assert not slices.needed([pact(6), pact(slices.SLICE_SIZE)])
    assert slices.needed([pact(6), pact(slices.SLICE_SIZE + 1)])


def test_a_slice_is_the_pact_with_part_of_its_interactions_in_order() -> None:
    document = large_pact(2 * slices.SLICE_SIZE + 1)
    pieces = slices.slice_document(document, pending=False)

    assert [len(piece["interactions"]) for piece in pieces] == [slices.SLICE_SIZE] * 2 + [1]
    assert [i for piece in pieces for i in piece["interactions"]] == document["interactions"]
    assert all(
        {**piece, "interactions": None} == {**document, "interactions": None} for piece in pieces
    )
    marked = slices.slice_document(document, pending=True)
    assert all(i["pending"] is True for piece in marked for i in piece["interactions"])


def test_only_a_v4_pact_is_sliced_since_only_v4_carries_pending_on_its_interactions() -> None:
    v4 = large_pact(1)
    v3 = {**v4, "metadata": {"pactSpecification": {"version": "3.0.0"}}}

    assert slices.is_v4(v4)
    assert not slices.is_v4(v3)
    assert not slices.is_v4({**v4, "metadata": {}})
