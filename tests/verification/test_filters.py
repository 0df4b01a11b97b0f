"""Rerunning some interactions: the standard Pact filters, the rerun command a failure prints,
and the unknown provider state named in the cell's report.

Real cells: the real verifier against the real provider, the pacts from the embedded broker.
"""

from __future__ import annotations

import dataclasses
import shlex

import httpx
import pytest

from matrix import CONSUMER
from states import PROVIDER_STATES
from tests.broken_store import MisnamingStore
from verification.broker_api import BrokerEndpoint
from verification.cell import Cell, exactly, run
from verification.settings import Settings, SettingsError


def test_a_description_filter_verifies_only_that_interaction_and_marks_the_cell(
    framework: str, settings: Settings, broker_endpoint: BrokerEndpoint
) -> None:
    chosen = dataclasses.replace(settings, description_filter="^a request for user 42$")
    result = run(Cell(framework), chosen, broker_endpoint)

    assert result.success, result.report
    assert [i.description for i in result.interactions] == ["a request for user 42"]
    assert result.filtered


def test_a_state_filter_verifies_every_interaction_in_that_state(
    framework: str, settings: Settings, broker_endpoint: BrokerEndpoint
) -> None:
    chosen = dataclasses.replace(settings, state_filter="^user 123 doesn't exist$")
    result = run(Cell(framework), chosen, broker_endpoint)

    assert result.success, result.report
    assert sorted(i.description for i in result.interactions) == [
        "a request for a user that does not exist",
        "a request to delete a user that does not exist",
    ]


def test_the_no_state_filter_verifies_only_the_interactions_without_a_state(
    framework: str, settings: Settings, broker_endpoint: BrokerEndpoint
) -> None:
    result = run(
        Cell(framework), dataclasses.replace(settings, no_state_filter=True), broker_endpoint
    )

    assert result.success, result.report
    assert [i.description for i in result.interactions] == ["a request to create a new user"]
    assert all(not i.states for i in result.interactions)


def test_an_unfiltered_cell_is_not_marked_filtered(
    framework: str, settings: Settings, broker_endpoint: BrokerEndpoint
) -> None:
    result = run(Cell(framework), settings, broker_endpoint)
    assert result.success, result.report
    assert result.verified == 6
    assert not result.filtered


def test_a_filter_that_selects_nothing_fails_and_names_the_filter(
    framework: str, settings: Settings, broker_endpoint: BrokerEndpoint
) -> None:
    chosen = dataclasses.replace(settings, description_filter="^no such interaction$")
    result = run(Cell(framework), chosen, broker_endpoint)

    assert not result.success
    assert result.error is not None
    assert "PACT_DESCRIPTION='^no such interaction$'" in result.error
    assert "selected none of the 6 interaction(s)" in result.error


def test_a_failed_interactions_report_ends_with_the_command_that_reruns_just_it(
    framework: str, settings: Settings, broker_endpoint: BrokerEndpoint
) -> None:
    cell = Cell(framework)
    result = run(cell, settings, broker_endpoint, store=MisnamingStore())
    assert [i.description for i in result.failed] == ["a request for user 42"]

    command = result.report.rstrip().splitlines()[-1]
    assert command == (
        "  PACT_DESCRIPTION='^a request for user 42$' PACT_PROVIDER_STATE='^a user exists$'"
        f" nox -s '{cell.name}'"
    )
    # The command's filters, applied, rerun exactly that interaction (and it fails again).
    *assignments, _nox, _s, name = shlex.split(command)
    assert name == cell.name
    filters = dict(assignment.split("=", 1) for assignment in assignments)
    rerun = dataclasses.replace(
        settings,
        description_filter=filters["PACT_DESCRIPTION"],
        state_filter=filters["PACT_PROVIDER_STATE"],
    )
    again = run(cell, rerun, broker_endpoint, store=MisnamingStore())
    assert [(i.description, i.success) for i in again.interactions] == [
        ("a request for user 42", False)
    ]


def test_a_state_the_provider_does_not_know_is_named_in_the_report_with_the_known_ones(
    framework: str,
    settings: Settings,
    broker_endpoint: BrokerEndpoint,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The pact names "user 123 exists"; a provider whose vocabulary lost it does not know it.
    monkeypatch.delitem(PROVIDER_STATES._states, "user 123 exists")
    # With the main branch selected, the cell asks the broker first and stops the run at once.
    # The broker takes only develop, main or master for a main branch by itself: on any other
    # checkout (a feature branch, as in CI for a pull request) it is told which one it is.
    consumer = f"{broker_endpoint.url}/pacticipants/{CONSUMER}"
    httpx.patch(consumer, json={"mainBranch": settings.consumer_branch}).raise_for_status()
    checked = run(Cell(framework), settings, broker_endpoint)
    assert checked.stops_run
    assert checked.error is not None
    assert "'user 123 exists', used by UserConsumer" in checked.error
    # With selectors the broker's list of states does not describe, the verifier meets it.
    branch = dataclasses.replace(settings, selectors=({"branch": settings.consumer_branch},))
    result = run(Cell(framework), branch, broker_endpoint)

    assert not result.success
    (failed,) = result.failed
    assert failed.description == "a request for user 123"
    assert failed.mismatches[0].startswith(
        'unknown provider state "user 123 exists"; the provider knows: "", "a user exists"'
    )
    assert 'Provider states the provider does not know: "user 123 exists"' in result.report
    assert '"a user was created"' in result.report.split("does not know:")[1]


@pytest.mark.parametrize(
    "text", ["a request for user 42", "user 123 doesn't exist", "odd (1+1) [x] {y} a.b $^|*?\\"]
)
def test_the_rerun_pattern_matches_its_text_and_nothing_longer(text: str) -> None:
    import re

    assert re.fullmatch(exactly(text), text)
    assert not re.search(exactly(text), f"{text} and more")


@pytest.mark.parametrize(
    ("environ", "filtered", "filters"),
    [
        ({}, False, ""),
        ({"PACT_DESCRIPTION": ""}, False, ""),
        ({"PACT_DESCRIPTION": "user 42"}, True, "PACT_DESCRIPTION='user 42'"),
        ({"PACT_PROVIDER_STATE": "exists"}, True, "PACT_PROVIDER_STATE=exists"),
        ({"PACT_PROVIDER_NO_STATE": "true"}, True, "PACT_PROVIDER_NO_STATE=true"),
        ({"PACT_PROVIDER_NO_STATE": "false"}, False, ""),
    ],
)
def test_the_filters_are_read_from_the_standard_variables(
    environ: dict[str, str], filtered: bool, filters: str
) -> None:
    settings = Settings.from_env({"PACT_PROVIDER_VERSION": "1", **environ})
    assert settings.filtered is filtered
    assert settings.filters == filters


def test_a_filter_that_is_no_regular_expression_is_refused_by_name() -> None:
    with pytest.raises(SettingsError, match="PACT_DESCRIPTION is not a valid regular expression"):
        Settings.from_env({"PACT_PROVIDER_VERSION": "1", "PACT_DESCRIPTION": "user (42"})
