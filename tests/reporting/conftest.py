"""Cell results built by hand: the reports are tested on what a cell would have written."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import pytest

from matrix import cell_name
from verification.results import CellResult, InteractionOutcome, PactRef

CONSUMER = "UserConsumer"
PACT = PactRef(
    consumer=CONSUMER,
    url="http://broker.test/pacts/provider/UserProvider/consumer/UserConsumer/pact-version/1",
)


def interaction(
    description: str,
    *states: str,
    success: bool = True,
    pending: bool = False,
    mismatches: Sequence[str] = (),
    duration_ms: int | None = 7,
) -> InteractionOutcome:
    return InteractionOutcome(
        consumer=CONSUMER,
        description=description,
        states=states,
        success=success,
        pending=pending,
        mismatches=tuple(mismatches),
        duration_ms=duration_ms,
    )


def passing_interactions() -> tuple[InteractionOutcome, ...]:
    return (
        interaction("a request for user 1", "user 1 exists"),
        interaction("a request for a missing user", "user 99 does not exist"),
        interaction("a request to create a user"),
    )


def cell_result(
    python: str = "3.12",
    series: str = "flask-3.1",
    interactions: Sequence[InteractionOutcome] | None = None,
    *,
    pacts: Sequence[PactRef] = (PACT,),
    error: str | None = None,
    seconds: float = 1.5,
    report: str = "verifier output",
) -> CellResult:
    """A cell as `verification.cell.run` would build it; success follows from the rest."""
    outcomes = passing_interactions() if interactions is None else tuple(interactions)
    # As the verifier judges: a pending interaction that fails does not fail the cell.
    success = error is None and bool(outcomes) and all(i.success or i.pending for i in outcomes)
    return CellResult(
        cell=cell_name(python, series),
        framework=series.rsplit("-", 1)[0],
        python=f"{python}.1",
        provider="UserProvider",
        provider_version="0123abc",
        provider_branch="main",
        broker="embedded",
        success=success,
        seconds=seconds,
        interactions=outcomes,
        pacts=tuple(pacts),
        error=error,
        report=report,
    )


@pytest.fixture
def make_interaction() -> Callable[..., InteractionOutcome]:
    return interaction


@pytest.fixture
def make_cell() -> Callable[..., CellResult]:
    return cell_result
