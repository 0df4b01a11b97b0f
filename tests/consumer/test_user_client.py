"""UserConsumer's contract with UserProvider, written by running its client against Pact's mock.

Each test records one interaction of the seed example and checks that the client copes with
the answer. The responses use matchers for what the consumer needs (an integer id, an
ISO 8601 timestamp with an offset) rather than literal values, so the provider may return
any user that fits. The pact is written to the pacts directory (`PACT_DIR`, default
`pacts/`) for publishing.

The pact is V4, pact-python's default and what the cells verify. `PACT_SPECIFICATION=V3`
writes the same interactions as a V3 pact instead, for the Ruby pact-provider-verifier, which
reads nothing newer (`nox -s verifiers` writes both, each to a `PACT_DIR` of its own).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from pact import Pact, generate, match
from pact.match import AbstractMatcher

from consumer import ISO_8601_WITH_OFFSET, UserClient, UserNotFoundError
from matrix import CONSUMER, PROVIDER

CREATED_ON = match.regex("2024-05-01T12:30:00+00:00", regex=ISO_8601_WITH_OFFSET)
JSON = "application/json"
SPECIFICATIONS = ("V4", "V3")
SPECIFICATION = os.environ.get("PACT_SPECIFICATION") or SPECIFICATIONS[0]
if SPECIFICATION not in SPECIFICATIONS:
    raise ValueError(f"PACT_SPECIFICATION={SPECIFICATION!r}: expected one of {SPECIFICATIONS}")


def an_integer(example: int) -> AbstractMatcher[int]:
    """A matcher for any integer, shown as `example`.

    The Ruby verifier ignores the `integer` matcher and compares the value itself, so in the V3
    pact (written for it alone) any value of the example's type matches instead.
    """
    return match.int(example) if SPECIFICATION == "V4" else match.type(example)


@pytest.fixture(scope="session")
def pact_dir() -> Path:
    """The directory the pact is written to, emptied of this pair's old pact first.

    Pact merges interactions into an existing file, so a renamed interaction would
    otherwise linger in the contract and be verified forever.
    """
    directory = Path(os.environ.get("PACT_DIR", "pacts"))
    directory.mkdir(parents=True, exist_ok=True)
    (directory / f"{CONSUMER}-{PROVIDER}.json").unlink(missing_ok=True)
    return directory


@pytest.fixture
def pact(pact_dir: Path) -> Iterator[Pact]:
    pact = Pact(CONSUMER, PROVIDER).with_specification(SPECIFICATION)
    yield pact
    pact.write_file(pact_dir)


def test_get_existing_user(pact: Pact) -> None:
    (
        pact.upon_receiving("a request for user 123")
        .given("user 123 exists")
        .with_request("GET", "/users/123")
        .will_respond_with(200)
        .with_body(
            {"id": match.int(123), "name": match.str("Verna Hampton"), "created_on": CREATED_ON},
            content_type=JSON,
        )
    )

    with pact.serve() as server, UserClient(str(server.url)) as client:
        user = client.get_user(123)

    assert user is not None
    assert user.id == 123
    assert user.name == "Verna Hampton"
    assert user.created_on.utcoffset() is not None


def test_get_user_from_a_parameterised_state(pact: Pact) -> None:
    """A V3/V4 state with parameters: the provider creates exactly the user the consumer names."""
    (
        pact.upon_receiving("a request for user 42")
        .given("a user exists", {"id": 42, "name": "Ada Lovelace"})
        .with_request("GET", "/users/42")
        .will_respond_with(200)
        .with_body({"id": 42, "name": "Ada Lovelace", "created_on": CREATED_ON}, content_type=JSON)
    )

    with pact.serve() as server, UserClient(str(server.url)) as client:
        user = client.get_user(42)

    assert user is not None
    assert user.name == "Ada Lovelace"


def test_get_unknown_user(pact: Pact) -> None:
    (
        pact.upon_receiving("a request for a user that does not exist")
        .given("user 123 doesn't exist")
        .with_request("GET", "/users/123")
        .will_respond_with(404)
        .with_body({"detail": "User not found"}, content_type=JSON)
    )

    with pact.serve() as server, UserClient(str(server.url)) as client:
        assert client.get_user(123) is None


def test_create_user(pact: Pact) -> None:
    """Any id will do: the consumer reads the one the provider gives, so no state fixes it."""
    (
        pact.upon_receiving("a request to create a new user")
        .with_request("POST", "/users/")
        .with_body({"name": "Verna Hampton"}, content_type=JSON)
        .will_respond_with(200)
        .with_body(
            {"id": an_integer(124), "name": "Verna Hampton", "created_on": CREATED_ON},
            content_type=JSON,
        )
    )

    with pact.serve() as server, UserClient(str(server.url)) as client:
        user = client.create_user(name="Verna Hampton")

    assert user.id == 124
    assert user.name == "Verna Hampton"


def test_delete_a_user_the_state_created(pact: Pact) -> None:
    """The id comes from the provider state: the verifier puts the id the state returned in the
    path. 124 is only the example the mock serves here; the provider never sees it."""
    (
        pact.upon_receiving("a request to delete a user")
        .given("a user was created")
        .with_request(
            "DELETE",
            match.type("/users/124", generator=generate.provider_state("/users/${id}")),
        )
        .will_respond_with(204)
    )

    with pact.serve() as server, UserClient(str(server.url)) as client:
        client.delete_user(124)


def test_delete_unknown_user_is_an_error(pact: Pact) -> None:
    (
        pact.upon_receiving("a request to delete a user that does not exist")
        .given("user 123 doesn't exist")
        .with_request("DELETE", "/users/123")
        .will_respond_with(404)
        .with_body({"detail": "User not found"}, content_type=JSON)
    )

    with (
        pact.serve() as server,
        UserClient(str(server.url)) as client,
        pytest.raises(UserNotFoundError),
    ):
        client.delete_user(123)
