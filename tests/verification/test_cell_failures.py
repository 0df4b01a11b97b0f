"""A cell fails, and says why, whenever the provider breaks the contract or nothing is verified.

These run in the `tests` session, not in the matrix cells: they prove the harness can fail.
The faults of the provider and the broker (hangs, crashes, no pacts, a broker that is down or
answers 500) are in tests/reliability/test_cell_faults.py.
"""

from __future__ import annotations

import dataclasses

from states import InMemoryUserRepository, User
from verification.broker_api import BrokerEndpoint
from verification.cell import Cell, run
from verification.settings import Settings


class MisnamingStore(InMemoryUserRepository):
    """A fake user database with a bug: every user it returns has the wrong name."""

    def get(self, user_id: int) -> User | None:
        user = super().get(user_id)
        return None if user is None else dataclasses.replace(user, name="Somebody Else")


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
    assert any("Somebody Else" in line for line in outcome.mismatches), outcome.mismatches
    assert "a request for user 42" in result.report
