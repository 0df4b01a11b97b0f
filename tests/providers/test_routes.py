"""Every adapter routes exactly the user API, and the provider-state endpoint only when its
factory is asked for it: proved over a socket from what every adapter exposes (`create_app`, and
`app`, the production app that `flask --app providers.flask run` or `uvicorn
providers.fastapi:app` imports), with nothing framework-specific."""

from __future__ import annotations

import importlib

import httpx
import pytest

import providers
from providers import api
from providers.runner import serve
from states import VERNA_HAMPTON
from tests.provider_under_test import running_provider

METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def allowed(url: str, path: str) -> str | None:
    """The methods `OPTIONS` says `path` allows, sorted, or None when the app has no such path."""
    response = httpx.options(url + path)
    if response.status_code == 404:
        return None
    assert response.status_code == 200, response.text
    return ", ".join(sorted(method.strip() for method in response.headers["allow"].split(",")))


def test_the_production_app_routes_the_user_api_and_no_state_endpoint(framework: str) -> None:
    production = importlib.import_module(f"providers.{framework}").app
    with serve(production) as server:
        assert allowed(server.url, "/users/") == "OPTIONS, POST"
        assert allowed(server.url, "/users/1") == "DELETE, GET, HEAD, OPTIONS"
        assert allowed(server.url, api.STATE_PATH) is None
        for method in METHODS:
            response = httpx.request(method, f"{server.url}{api.STATE_PATH}")
            assert response.status_code == 404, method
        change = httpx.post(
            f"{server.url}{api.STATE_PATH}",
            json={"action": "setup", "params": {}, "state": "user 123 exists"},
        )
        users = httpx.get(f"{server.url}/users/123")
    assert change.status_code == 404
    assert change.json() == {"detail": "Not Found"}
    assert users.status_code == 404, "no state was set up"


@pytest.mark.parametrize("provider_states", [False, True])
def test_the_factory_mounts_the_state_endpoint_only_when_asked(
    framework: str, provider_states: bool
) -> None:
    app = providers.create_app(framework, provider_states=provider_states)
    with serve(app) as server:
        assert allowed(server.url, "/users/1") == "DELETE, GET, HEAD, OPTIONS"
        state_endpoint = allowed(server.url, api.STATE_PATH)
    assert state_endpoint == ("OPTIONS, POST" if provider_states else None)


def test_apps_made_in_one_process_are_independent(framework: str) -> None:
    """Two apps at once (framework settings may be process-global, as Django's are): each keeps
    its own store and its own routes."""
    with (
        running_provider(framework) as with_states,
        running_provider(framework, provider_states=False) as without,
    ):
        with_states.store.put(VERNA_HAMPTON)
        assert without.request("GET", "/users/123").status_code == 404
        assert with_states.request("GET", "/users/123").status_code == 200
        assert allowed(without.url, api.STATE_PATH) is None
        assert allowed(with_states.url, api.STATE_PATH) == "OPTIONS, POST"
        assert without.request("POST", "/users/", json={"name": "A"}).json()["id"] == 1
        assert len(with_states.store) == 1


def test_the_generic_factory_defaults_to_no_state_endpoint(framework: str) -> None:
    with serve(providers.create_app(framework)) as server:
        assert allowed(server.url, api.STATE_PATH) is None


def test_an_unknown_framework_is_a_clear_error() -> None:
    # A name no framework module can have, so that adding a framework never touches this test.
    with pytest.raises(ValueError, match=r"no providers/no_such_framework\.py"):
        providers.create_app("no_such_framework")
