"""Each fault fails the cell within seconds, says what went wrong, and leaves nothing behind.

The verifier alone would retry a 5xx state change or broker answer for about two minutes, wait
out its request timeout on every interaction of a hung provider, and report a dead provider
as "a state change handler has failed". The faults are real: a broken store behind the real
provider, a server thread that really dies, a port nobody listens on, a broker that answers 500
over a socket. Every test prints the time to the failure; the summary lists them.
"""

from __future__ import annotations

import dataclasses
import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from broker.testing import RunningBroker, publish_body, start_broker
from matrix import PROVIDER
from tests.reliability.conftest import record_time_to_failure
from tests.reliability.faulty import (
    CrashingStore,
    HangingStore,
    RaisingStore,
    broker_answering_500,
    broker_failing_later,
)
from verification.broker_api import BrokerEndpoint
from verification.cell import Cell, run
from verification.results import CellResult
from verification.settings import Settings

pytestmark = pytest.mark.usefixtures("no_leaks")

# Far below the verifier's two minutes of retries, far above any healthy cell (under 1 s).
CEILING_SECONDS = 30.0


def run_timed(
    fault: str, framework: str, settings: Settings, endpoint: BrokerEndpoint, **options: Any
) -> CellResult:
    started = time.perf_counter()
    result = run(Cell(framework), settings, endpoint, **options)
    seconds = time.perf_counter() - started
    # The cell's own error, else the provider's log (which names a failed state), else the
    # verifier's first mismatch.
    provider_log = result.report.partition("Provider log:")[2]
    warnings = [line for line in provider_log.splitlines() if " WARNING " in line]
    mismatches = [line for outcome in result.failed for line in outcome.mismatches]
    message = result.error or next(iter(warnings + mismatches), "")
    record_time_to_failure(f"{fault} ({framework})", seconds, message)
    assert not result.success
    assert seconds < CEILING_SECONDS, f"{fault}: {seconds:.1f} s"
    return result


# -- faults of the provider -------------------------------------------------------------------


def test_a_state_setup_that_raises_fails_its_interactions_at_once_and_is_named(
    framework: str, settings: Settings, broker_endpoint: BrokerEndpoint
) -> None:
    result = run_timed(
        "state setup raises", framework, settings, broker_endpoint, store=RaisingStore()
    )

    failed = {outcome.description for outcome in result.failed}
    # The states that put a user; "a user was created" adds one the way the API does.
    assert failed == {"a request for user 123", "a request for user 42"}
    # The verifier says only "One or more of the setup state change handlers has failed"; the
    # provider's log in the report names the state, the 409 and the error.
    assert (
        'provider state change failed (409): setting up state "user 123 exists" failed: '
        'RuntimeError: "the disk is full"'
    ) in result.report


def test_a_provider_whose_server_dies_mid_run_fails_the_cell_and_says_so(
    framework: str, settings: Settings, broker_endpoint: BrokerEndpoint
) -> None:
    result = run_timed("provider dies", framework, settings, broker_endpoint, store=CrashingStore())

    assert result.error is not None
    assert "the provider stopped during the verification" in result.error
    assert "died: SystemExit()" in result.error


def test_a_provider_that_hangs_is_stopped_and_named(
    framework: str, settings: Settings, broker_endpoint: BrokerEndpoint
) -> None:
    # A short request timeout keeps the test short; the default (5 s) behaves the same.
    quick = dataclasses.replace(settings, request_timeout_ms=2000)
    with HangingStore() as store:
        result = run_timed("provider hangs", framework, quick, broker_endpoint, store=store)

    assert result.error is not None
    assert "the provider did not answer GET /users/123 in" in result.error
    assert "it hangs, so it was stopped" in result.error


# -- faults of the broker ---------------------------------------------------------------------


def test_a_broker_that_is_down_fails_the_cell_with_its_address(
    framework: str, settings: Settings
) -> None:
    with socket.socket() as probe:  # a port that was just free: nothing listens there
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]

    result = run_timed(
        "broker down", framework, settings, BrokerEndpoint(f"http://127.0.0.1:{port}")
    )

    assert result.error is not None
    assert f"cannot reach the Pact Broker at http://127.0.0.1:{port}" in result.error


def test_a_broker_that_answers_500_fails_the_cell_before_the_verifier_retries(
    framework: str, settings: Settings
) -> None:
    with broker_answering_500() as broken:
        result = run_timed("broker answers 500", framework, settings, broken)

    assert result.error is not None
    assert "GET / answered 500" in result.error
    assert "the database is locked" in result.error
    assert result.verified == 0


def test_selectors_that_select_nothing_fail_the_cell(
    framework: str, settings: Settings, broker_endpoint: BrokerEndpoint
) -> None:
    nothing = dataclasses.replace(settings, selectors=({"branch": "no-such-branch"},))

    result = run_timed("zero pacts selected", framework, nothing, broker_endpoint)

    assert result.verified == 0
    assert result.error is not None
    assert "selected no pacts" in result.error
    assert "no-such-branch" in result.error


@pytest.fixture
def fresh_broker(tmp_path: Path) -> Iterator[RunningBroker]:
    running = start_broker(tmp_path / "fresh.sqlite")
    yield running
    assert running.stop() == 0


def test_an_empty_broker_fails_the_cell_and_says_it_holds_no_pacts(
    framework: str, settings: Settings, fresh_broker: RunningBroker
) -> None:
    result = run_timed(
        "broker holds no pacts", framework, settings, BrokerEndpoint(fresh_broker.url)
    )

    assert result.error is not None
    assert "selected no pacts for UserProvider" in result.error
    assert "the broker holds no pacts at all" in result.error


def test_a_pact_for_a_misspelt_provider_fails_the_cell_and_names_it(
    framework: str, settings: Settings, fresh_broker: RunningBroker
) -> None:
    # The consumer's real pact, published as a consumer that named its provider differently.
    document = next(settings.pact_dir.glob("*.json")).read_text("utf-8")
    misnamed = document.replace(f'"name":"{PROVIDER}"', '"name":"User-Provider"')
    misnamed = misnamed.replace(f'"name": "{PROVIDER}"', '"name": "User-Provider"')
    assert misnamed != document
    body = publish_body(json.loads(misnamed), settings.consumer_version, branch="main")
    assert httpx.post(f"{fresh_broker.url}/contracts/publish", json=body).status_code == 200

    result = run_timed(
        "pact names another provider", framework, settings, BrokerEndpoint(fresh_broker.url)
    )

    assert result.error is not None
    assert "selected no pacts for UserProvider" in result.error
    assert "the broker holds pacts only for User-Provider: is the name right?" in result.error


@pytest.mark.parametrize(
    ("failing", "spared"),
    [
        ("POST .*/for-verification", 1),  # the verifier's own query, after the cell's
        ("GET .*/pact-version/", 1),  # the pact itself, after the cell read its interactions
        ("down", 2),  # gone once the cell has looked (GET /, POST for-verification)
    ],
)
def test_a_broker_that_fails_after_the_cells_own_look_fails_the_cell_at_once(
    failing: str, spared: int, settings: Settings, tmp_path: Path
) -> None:
    # The verifier would retry each of these for two minutes (127 s measured).
    framework = "flask"  # the broker's side of the cell does not depend on the framework
    with broker_failing_later(
        tmp_path / "broker.sqlite",
        settings.pact_dir,
        consumer_version=settings.consumer_version,
        failing=failing,
        spared=spared,
    ) as (endpoint, arm):
        arm()
        result = run_timed(f"broker fails later: {failing}", framework, settings, endpoint)

    assert result.error is not None
    if failing == "down":
        assert f"cannot reach the Pact Broker at {endpoint.url}" in result.error
    else:
        assert "the Pact Broker answered 500 to" in result.error
        assert "the database is locked" in result.error
