"""Item 5: what a failure costs, from the start of a cell to its failed result.

Two faults, each on a small generated pact, with the cell exactly as the matrix runs it, and
the same cell with no fault as the limit:

* `state-raises`: the provider's state setup raises (its store refuses to store a user);
* `provider-hangs`: the provider accepts each request for a user and does not answer it for
  `HANG_SECONDS` (its store blocks).

Reported: how long until `cell.run` returned (or raised), and the first line that says why.
"""

from __future__ import annotations

import tempfile
import threading
import time
import traceback
from pathlib import Path
from typing import Any

from benchmarks.harness import broker_with_pact
from states import InMemoryUserRepository, User
from verification import cell

HANG_SECONDS = 30.0
SCENARIOS = ("state-raises", "provider-hangs")
# The limit: the same cell on the same pact with nothing wrong.
PASSING = "passing"


class RefusingStore(InMemoryUserRepository):
    """A store whose writes fail, as a database that is down would."""

    def put(self, user: User) -> None:
        raise ConnectionError("the user database refused the write")


class HangingStore(InMemoryUserRepository):
    """A store whose reads block, as a database that stopped answering would."""

    def __init__(self, released: threading.Event) -> None:
        super().__init__()
        self.released = released

    def get(self, user_id: int) -> User | None:
        self.released.wait(HANG_SECONDS)
        return super().get(user_id)


def measure(framework: str, scenario: str, interactions: int) -> dict[str, Any]:
    released = threading.Event()
    stores = {
        PASSING: InMemoryUserRepository(),
        "state-raises": RefusingStore(),
        "provider-hangs": HangingStore(released),
    }
    store = stores[scenario]
    with (
        tempfile.TemporaryDirectory() as workdir,
        broker_with_pact(Path(workdir), interactions) as pact_broker,
    ):
        started = time.perf_counter()
        try:
            result = cell.run(
                cell.Cell(framework), pact_broker.settings, pact_broker.endpoint, store=store
            )
        except Exception as error:  # what the harness does today, whatever it is
            elapsed = time.perf_counter() - started
            released.set()
            last = traceback.format_exception_only(error)[-1].strip()
            return {"seconds": elapsed, "outcome": "raised", "message": last}
        elapsed = time.perf_counter() - started
        released.set()
    reasons = [line for outcome in result.failed for line in outcome.mismatches]
    message = result.error or (reasons[0] if reasons else "(no message)")
    outcome = "passed" if result.success else f"failed {len(result.failed)}/{result.verified}"
    return {"seconds": elapsed, "outcome": outcome, "message": message.splitlines()[0]}
