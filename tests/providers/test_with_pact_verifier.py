"""The real pact-python verifier drives the provider-state endpoint on every framework: JSON
and query-string state handlers, teardown, a multi-state interaction, and the secret header."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import httpx
import pytest
from pact import Pact, Verifier, match

from providers import api
from tests.provider_under_test import running_provider

if TYPE_CHECKING:
    from pathlib import Path

SECRET = "verifier-secret"


@pytest.fixture(scope="module")
def pact_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small pact with the seed's states, a parameterised one and two states at once."""
    pact = Pact("UserConsumer", "UserProvider")
    verna = {"id": 123, "name": "Verna Hampton", "hobbies": ["hiking", "swimming"]}
    (
        pact.upon_receiving("a request for user 123")
        .given("user 123 exists")
        .with_request("GET", "/users/123")
        .will_respond_with(200)
        .with_body({**verna, "created_on": match.str("2016-12-15T20:16:01+00:00")})
    )
    (
        pact.upon_receiving("a request for user 42, while user 123 exists too")
        .given("a user exists", {"id": 42, "name": "Ada"})
        .given("user 123 exists")
        .with_request("GET", "/users/42")
        .will_respond_with(200)
        .with_body({"id": 42, "name": "Ada"})
    )
    (
        pact.upon_receiving("a request for a missing user 123")
        .given("user 123 doesn't exist")
        .with_request("GET", "/users/123")
        .will_respond_with(404)
        .with_body({"detail": "User not found"})
    )
    (
        pact.upon_receiving("a request to create user 124")
        .given("create user 124")
        .with_request("POST", "/users/")
        .with_body({"name": "New"}, content_type="application/json")
        .will_respond_with(200)
        .with_body({"id": 124, "name": "New"})
    )
    (
        pact.upon_receiving("a request to delete user 124")
        .given("delete the user 124")
        .with_request("DELETE", "/users/124")
        .will_respond_with(204)
    )
    (
        pact.upon_receiving("a request without a provider state")
        .with_request("GET", "/users/123")
        .will_respond_with(404)
    )
    with pact.serve() as mock, httpx.Client(base_url=str(mock.url)) as client:
        client.get("/users/123")
        client.get("/users/42")
        client.post("/users/", json={"name": "New"})
        client.delete("/users/124")
    directory = tmp_path_factory.mktemp("pacts")
    pact.write_file(directory, overwrite=True)
    return next(directory.glob("*.json"))


def verifier(url: str, pact_file: Path, *, body: bool, secret: str | None) -> Verifier:
    verifier = (
        Verifier("UserProvider", host="127.0.0.1")
        .add_source(str(pact_file))
        .add_transport(url=url)
        .state_handler(f"{url}{api.STATE_PATH}", body=body, teardown=True)
        .set_request_timeout(5000)
    )
    if secret is not None:
        verifier.add_custom_header(api.STATE_SECRET_HEADER, secret)
    return verifier


@pytest.mark.parametrize("body", [True, False], ids=["json-body", "query-string"])
def test_the_verifier_verifies_every_interaction(
    framework: str, pact_file: Path, body: bool
) -> None:
    with running_provider(framework, state_secret=SECRET) as provider:
        run = verifier(provider.url, pact_file, body=body, secret=SECRET)
        try:
            run.verify()
        except RuntimeError:
            pytest.fail(run.output(strip_ansi=True))
        assert len(run.results["interactionResults"]) == 6
        assert len(provider.store) == 0, "the last teardown leaves nothing behind"


def test_without_the_secret_the_verifier_fails_at_once(framework: str, pact_file: Path) -> None:
    """A 4xx fails a state change at once; a 5xx would be retried for about two minutes."""
    with running_provider(framework, state_secret=SECRET) as provider:
        run = verifier(provider.url, pact_file, body=True, secret=None)
        started = time.monotonic()
        with pytest.raises(RuntimeError):
            run.verify()
        assert time.monotonic() - started < 60
        report = str(run.output(strip_ansi=True))
        assert "setup state change handlers has failed" in report
        assert "There were 6 pact failures" in report
