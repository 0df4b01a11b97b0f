"""Generate a large pact for the benchmarks: N interactions, each with a provider state.

Every interaction is what the real consumer's parameterised test records (`a user exists`
with an id and a name, then `GET /users/{id}` answered with that user), for a different id,
so the verifier sends a state setup, the request and a state teardown for each.

The pact is built with one `Pact` object and written with `write_file`, without serving it:
no consumer code exercises these interactions. That is deliberate. Exercising them proves
nothing the consumer tests do not already prove for one such interaction, and pact-python's
mock server slows down as it grows (500 interactions served in one `Pact` took 562 s here);
the verifier reads the file the same way whichever way it was written.
"""

from __future__ import annotations

from pathlib import Path

from pact import Pact, match

from consumer import ISO_8601_WITH_OFFSET
from matrix import PROVIDER

CONSUMER = "BenchConsumer"
STATE = "a user exists"  # states/vocabulary.py


def description(user_id: int) -> str:
    return f"a request for user {user_id}"


def write_pact(directory: Path, interactions: int) -> Path:
    """Write the pact of `interactions` interactions into `directory`; returns its path."""
    pact = Pact(CONSUMER, PROVIDER).with_specification("V4")
    for user_id in range(1, interactions + 1):
        name = f"User {user_id}"
        (
            pact.upon_receiving(description(user_id))
            .given(STATE, {"id": user_id, "name": name})
            .with_request("GET", f"/users/{user_id}")
            .will_respond_with(200)
            .with_body(
                {
                    "id": user_id,
                    "name": name,
                    "created_on": match.regex(
                        "2020-01-01T12:00:00+00:00", regex=ISO_8601_WITH_OFFSET
                    ),
                },
                content_type="application/json",
            )
        )
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{CONSUMER}-{PROVIDER}.json"
    path.unlink(missing_ok=True)  # write_file merges into an existing file
    pact.write_file(directory, overwrite=True)
    return path
