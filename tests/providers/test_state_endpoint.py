"""The provider-state endpoint through real sockets, on every framework: it follows the
verifier's protocol, its errors are 4xx JSON, and it is safe (loopback only, optional secret)."""

from __future__ import annotations

import json
import socket
from typing import TYPE_CHECKING

import httpx
import pytest

import providers
from providers import api
from providers.runner import serve
from states import VERNA_HAMPTON, InMemoryUserRepository
from tests.provider_under_test import running_provider

if TYPE_CHECKING:
    from collections.abc import Iterator

    from tests.provider_under_test import ProviderUnderTest as Provider

SECRET = "s3cr3t-for-tests"


def change(
    provider: Provider, body: object, headers: dict[str, str] | None = None
) -> httpx.Response:
    return provider.request(
        "POST",
        api.STATE_PATH,
        content=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", **(headers or {})},
    )


def setup(state: str, **params: object) -> dict[str, object]:
    return {"action": "setup", "params": params, "state": state}


def teardown(state: str, **params: object) -> dict[str, object]:
    return {"action": "teardown", "params": params, "state": state}


def test_a_verifier_interaction_sets_up_serves_and_tears_down(provider: Provider) -> None:
    response = change(provider, setup("user 123 exists"))
    assert response.status_code == 200
    assert response.json() == {}
    assert provider.request("GET", "/users/123").json()["name"] == VERNA_HAMPTON.name
    assert change(provider, teardown("user 123 exists")).status_code == 200
    assert provider.request("GET", "/users/123").status_code == 404


def test_two_states_add_up_and_the_next_interaction_starts_clean(provider: Provider) -> None:
    change(provider, setup("user 123 exists"))
    change(provider, setup("a user exists", id=42, name="Ada"))
    assert provider.request("GET", "/users/123").status_code == 200
    assert provider.request("GET", "/users/42").json()["name"] == "Ada"
    change(provider, teardown("user 123 exists"))
    change(provider, teardown("a user exists", id=42, name="Ada"))
    change(provider, setup(""))
    assert provider.request("GET", "/users/123").status_code == 404
    assert provider.request("GET", "/users/42").status_code == 404


def test_create_user_124_then_post_creates_124(provider: Provider) -> None:
    change(provider, setup("create user 124"))
    response = provider.request("POST", "/users/", json={"name": "New"})
    assert response.json()["id"] == 124


def test_query_string_state_changes_work_like_json_ones(provider: Provider) -> None:
    response = provider.client.post(
        f"{provider.url}{api.STATE_PATH}",
        params={"action": "setup", "state": "a user exists", "id": "42", "name": "Ann Lee"},
    )
    assert response.status_code == 200, response.text
    assert provider.request("GET", "/users/42").json()["name"] == "Ann Lee"


@pytest.mark.parametrize(
    ("content", "status", "detail_start"),
    [
        (b"not json", 400, "state change body is not valid JSON"),
        (b"[]", 400, "state change body must be a JSON object"),
        (b'{"params": {}}', 400, 'state change is missing "state"'),
        (b'{"action": "setup", "state": 5}', 400, '"state" must be a string'),
        (b'{"action": "setup", "state": "nope"}', 400, 'unknown provider state "nope"; known'),
        (
            b'{"action": "setup", "state": "a user exists", "params": {"id": "x"}}',
            400,
            'state "a user exists": parameter "id" must be an integer',
        ),
        (
            b'{"action": "setup", "state": "a user exists", "params": {"id": -1}}',
            409,
            'setting up state "a user exists" failed: ValueError:',
        ),
    ],
)
def test_a_bad_state_change_is_a_4xx_json_error_naming_the_problem(
    provider: Provider, content: bytes, status: int, detail_start: str
) -> None:
    response = provider.request(
        "POST", api.STATE_PATH, content=content, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == status
    assert response.headers["content-type"] == "application/json"
    detail = response.json()["detail"]
    assert detail.startswith(detail_start)
    assert "Traceback" not in detail


def test_an_unknown_state_lists_the_known_ones(provider: Provider) -> None:
    detail = change(provider, setup("user 999 exists")).json()["detail"]
    assert '"user 123 exists"' in detail
    assert '"a user exists"' in detail


def test_an_oversized_state_change_is_413(provider: Provider) -> None:
    body = setup("a user exists", id=1, name="x" * api.MAX_BODY_BYTES)
    assert change(provider, body).status_code == 413


# -- The secret -------------------------------------------------------------------------------


@pytest.fixture
def guarded(framework: str) -> Iterator[Provider]:
    with running_provider(framework, state_secret=SECRET) as running:
        yield running


@pytest.mark.parametrize(
    "presented", [None, "", "wrong", SECRET + "x", SECRET.upper(), SECRET[:-1]]
)
def test_without_the_right_secret_a_change_is_403_and_changes_nothing(
    guarded: Provider, presented: str | None
) -> None:
    guarded.store.put(VERNA_HAMPTON)
    headers = {} if presented is None else {api.STATE_SECRET_HEADER: presented}
    response = change(guarded, setup(""), headers)
    assert response.status_code == 403
    assert response.json()["detail"] == (
        f"Provider states need the right {api.STATE_SECRET_HEADER} header"
    )
    assert SECRET not in response.text
    assert 123 in guarded.store, "a refused request must not reset the store"


def test_with_the_secret_a_change_is_applied(guarded: Provider) -> None:
    guarded.store.put(VERNA_HAMPTON)
    response = change(guarded, setup(""), {api.STATE_SECRET_HEADER: SECRET})
    assert response.status_code == 200
    assert len(guarded.store) == 0


def test_the_secret_is_never_echoed_even_in_errors(guarded: Provider) -> None:
    response = guarded.request(
        "POST", api.STATE_PATH, content=b"{", headers={api.STATE_SECRET_HEADER: SECRET}
    )
    assert response.status_code == 400
    assert SECRET not in response.text
    assert SECRET not in str(response.headers)


def test_a_secret_needs_the_endpoint_and_cannot_be_empty(framework: str) -> None:
    with pytest.raises(ValueError, match="only used with provider_states=True"):
        providers.create_app(framework, state_secret=SECRET)
    with pytest.raises(ValueError, match="must not be empty"):
        providers.create_app(framework, provider_states=True, state_secret="")


def test_the_endpoint_needs_a_store_that_can_be_reset(framework: str) -> None:
    class ReadOnlyStore:
        def get(self, user_id: int) -> None:
            return None

    with pytest.raises(TypeError, match="StateStore"):
        providers.create_app(framework, ReadOnlyStore(), provider_states=True)  # type: ignore[arg-type]


# -- Loopback only ----------------------------------------------------------------------------


def test_any_loopback_address_may_change_states(provider: Provider) -> None:
    """A real connection from 127.0.0.2 (still loopback) to the server on 127.0.0.1."""
    transport = httpx.HTTPTransport(local_address="127.0.0.2")
    with httpx.Client(transport=transport) as client:
        response = client.post(f"{provider.url}{api.STATE_PATH}", json=setup("user 123 exists"))
    assert response.status_code == 200
    assert 123 in provider.store


def test_a_forwarding_header_does_not_make_a_client_remote(provider: Provider) -> None:
    response = change(provider, setup("user 123 exists"), {"X-Forwarded-For": "203.0.113.9"})
    assert response.status_code == 200


NOT_LOOPBACK = "203.0.113.9"  # TEST-NET-3: a documentation address, nothing is sent to it


def non_loopback_address() -> str:
    """This machine's address towards NOT_LOOPBACK (connecting a UDP socket sends nothing)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect((NOT_LOOPBACK, 9))
        except OSError:
            pytest.skip("this machine has no route off loopback")
        address: str = probe.getsockname()[0]
    if api.is_loopback(address):
        pytest.skip("this machine has no address off loopback")
    return address


def test_a_non_loopback_client_is_refused(framework: str) -> None:
    """A real connection from this machine's own non-loopback address: the server listens
    there, so the client's socket comes from there too."""
    store = InMemoryUserRepository([VERNA_HAMPTON])
    app = providers.create_app(framework, store, provider_states=True)
    with serve(app, host=non_loopback_address()) as server:
        response = httpx.post(f"{server.url}{api.STATE_PATH}", json=setup(""))
    assert response.status_code == 403
    assert response.json() == {
        "detail": "Provider states can only be changed from a loopback address"
    }
    assert 123 in store
