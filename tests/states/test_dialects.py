"""Every verifier's state-change dialect, on every framework, through real sockets.

The request shapes are the ones the real verifiers send (tests/verifiers runs the verifiers
themselves): the Rust verifier's (pact-python 4, pact_verifier_cli, pact-js, pact-go) and
pact-jvm's JSON `{"state", "params", "action"}`, the Ruby `pact-provider-verifier`'s
`{"consumer", "state", "states", "params"}` with no `action` and no teardown ever, and the
query-string form. For each, the reset rule holds: nothing one interaction set up is left for
the next, also when no teardown comes.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from matrix import FRAMEWORKS
from providers import api
from states import VERNA_HAMPTON
from tests.provider_under_test import ProviderUnderTest, running_provider

Setup = Callable[[ProviderUnderTest, str, dict[str, Any]], httpx.Response]


@pytest.fixture(params=FRAMEWORKS)
def provider(request: pytest.FixtureRequest) -> Iterator[ProviderUnderTest]:
    with running_provider(request.param) as running:
        yield running


def post_json(provider: ProviderUnderTest, document: object) -> httpx.Response:
    return provider.request(
        "POST",
        api.STATE_PATH,
        content=json.dumps(document).encode(),
        headers={"Content-Type": "application/json"},
    )


def rust(provider: ProviderUnderTest, state: str, params: dict[str, Any]) -> httpx.Response:
    return post_json(provider, {"action": "setup", "params": params, "state": state})


def jvm(provider: ProviderUnderTest, state: str, params: dict[str, Any]) -> httpx.Response:
    # pact-jvm's key order; the content is the Rust verifier's.
    return post_json(provider, {"state": state, "params": params, "action": "setup"})


def ruby(provider: ProviderUnderTest, state: str, params: dict[str, Any]) -> httpx.Response:
    return post_json(
        provider,
        {"consumer": "UserConsumer", "state": state, "states": [state], "params": params},
    )


def query(provider: ProviderUnderTest, state: str, params: dict[str, Any]) -> httpx.Response:
    # pact-python's `state_handler(url, body=False)`: every value a string, no body.
    values = {"action": "setup", "state": state, **{k: str(v) for k, v in params.items()}}
    return provider.client.post(f"{provider.url}{api.STATE_PATH}", params=values)


def query_without_action(
    provider: ProviderUnderTest, state: str, params: dict[str, Any]
) -> httpx.Response:
    values = {"state": state, **{k: str(v) for k, v in params.items()}}
    return provider.client.post(f"{provider.url}{api.STATE_PATH}", params=values)


DIALECTS: dict[str, Setup] = {
    "rust": rust,
    "jvm": jvm,
    "ruby": ruby,
    "query": query,
    "query-without-action": query_without_action,
}


@pytest.fixture(params=list(DIALECTS))
def setup(request: pytest.FixtureRequest) -> Setup:
    return DIALECTS[request.param]


def test_a_setup_in_each_dialect_puts_the_state_and_its_params_in_place(
    provider: ProviderUnderTest, setup: Setup
) -> None:
    response = setup(provider, "a user exists", {"id": 42, "name": "Ada Lovelace"})
    assert response.status_code == 200, response.text
    assert provider.request("GET", "/users/42").json()["name"] == "Ada Lovelace"


def test_each_dialect_gets_the_values_a_state_returns(
    provider: ProviderUnderTest, setup: Setup
) -> None:
    provider.store.set_next_id(77)  # not where a reset store starts: the id must come back
    response = setup(provider, "a user was created", {})
    assert response.status_code == 200, response.text
    created = response.json()["id"]
    assert isinstance(created, int)
    assert provider.request("DELETE", f"/users/{created}").status_code == 204


def test_with_no_teardown_the_next_interaction_starts_clean_in_each_dialect(
    provider: ProviderUnderTest, setup: Setup
) -> None:
    # Interaction 1: its state, then the request the verifier replays.
    assert setup(provider, "user 123 exists", {}).status_code == 200
    assert provider.request("GET", "/users/123").status_code == 200
    # Interaction 2, with no teardown in between (the Ruby verifier never sends one).
    assert setup(provider, "a user exists", {"id": 42, "name": "Ada"}).status_code == 200
    assert provider.request("GET", "/users/123").status_code == 404
    assert provider.request("GET", "/users/42").status_code == 200


def test_the_rust_verifiers_setups_of_one_interaction_add_up(
    provider: ProviderUnderTest,
) -> None:
    rust(provider, "user 123 exists", {})
    rust(provider, "a user exists", {"id": 42, "name": "Ada"})
    assert provider.request("GET", "/users/123").status_code == 200
    assert provider.request("GET", "/users/42").status_code == 200


def test_a_ruby_setup_always_starts_clean_even_with_no_request_in_between(
    provider: ProviderUnderTest,
) -> None:
    # One call per interaction: two in a row are two interactions (the first replayed nothing,
    # say its request failed to send).
    ruby(provider, "user 123 exists", {})
    ruby(provider, "a user exists", {"id": 42, "name": "Ada"})
    assert provider.request("GET", "/users/123").status_code == 404
    assert provider.request("GET", "/users/42").status_code == 200


def test_the_ruby_verifiers_interaction_without_a_state_empties_the_store(
    provider: ProviderUnderTest,
) -> None:
    ruby(provider, "user 123 exists", {})
    response = post_json(
        provider, {"consumer": "UserConsumer", "state": None, "states": [None], "params": {}}
    )
    assert response.status_code == 200, response.text
    assert response.json() == {}
    assert provider.request("GET", "/users/123").status_code == 404


def test_a_ruby_setup_of_several_states_sets_them_all_up(provider: ProviderUnderTest) -> None:
    response = post_json(
        provider,
        {"consumer": "UserConsumer", "states": ["user 123 exists", "a user was created"]},
    )
    assert response.status_code == 200, response.text
    assert provider.request("GET", "/users/123").status_code == 200
    assert provider.request("GET", f"/users/{response.json()['id']}").status_code == 200


def test_a_teardown_still_empties_the_store(provider: ProviderUnderTest) -> None:
    rust(provider, "user 123 exists", {})
    response = post_json(provider, {"action": "teardown", "params": {}, "state": "user 123 exists"})
    assert response.status_code == 200
    assert provider.request("GET", "/users/123").status_code == 404


@pytest.mark.parametrize(
    ("document", "detail"),
    [
        (
            {"consumer": "UserConsumer", "state": "nope", "states": ["nope"], "params": {}},
            'unknown provider state "nope"; known states: "", "a user exists"',
        ),
        ({"consumer": "UserConsumer", "states": [1]}, '"states" must be a non-empty list'),
        ({"consumer": "UserConsumer", "states": []}, '"states" must be a non-empty list'),
        ({"consumer": "UserConsumer"}, 'state change is missing "state"'),
        (
            {"state": "user 123 exists", "states": ["a user was created"]},
            '"state" "user 123 exists" is not one of "states"',
        ),
        (
            {"state": "a user exists", "states": ["a user exists"], "params": {"id": "x"}},
            'state "a user exists": parameter "id" must be an integer, got "x"',
        ),
        ({"state": "user 123 exists", "action": "start"}, '"action" must be "setup" or'),
    ],
)
def test_a_bad_request_in_any_dialect_is_a_400_saying_what_is_wrong(
    provider: ProviderUnderTest, document: dict[str, Any], detail: str
) -> None:
    provider.store.put(VERNA_HAMPTON)
    response = post_json(provider, document)
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/json"
    assert response.json()["detail"].startswith(detail)
    # A refused change leaves nothing behind for the next interaction either.
    assert VERNA_HAMPTON.id not in provider.store


def test_a_bad_query_without_action_is_a_400_too(provider: ProviderUnderTest) -> None:
    response = query_without_action(provider, "a user exists", {"id": "forty-two"})
    assert response.status_code == 400
    assert response.json()["detail"].startswith('state "a user exists": parameter "id"')
