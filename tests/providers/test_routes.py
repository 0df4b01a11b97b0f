"""The provider-state endpoint is test-only: proved on both frameworks' route tables, on the
production entry points, and over a real socket."""

from __future__ import annotations

import importlib
import subprocess
import sys
from typing import TYPE_CHECKING

import flask
import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from starlette.routing import BaseRoute, Mount
from uvicorn.importer import import_from_string

import providers
from providers import api
from providers.runner import serve
from verification.project import FRAMEWORKS

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator


def flask_paths(app: flask.Flask) -> set[str]:
    return {rule.rule for rule in app.url_map.iter_rules()}


def fastapi_paths(routes: Iterable[BaseRoute]) -> Iterator[str]:
    for route in routes:
        if isinstance(route, Mount):  # a sub-application: look inside it too
            yield from (route.path + path for path in fastapi_paths(route.routes))
        else:
            yield str(getattr(route, "path", route))


def test_the_flask_route_table_has_the_endpoint_only_when_asked() -> None:
    from providers.flask import app, create_app

    assert flask_paths(app) == {"/users/", "/users/<user_id>"}
    assert not any(path.startswith("/_pact") for path in flask_paths(app))
    assert api.STATE_PATH in flask_paths(create_app(provider_states=True))
    assert api.STATE_PATH not in flask_paths(create_app())


def test_the_fastapi_route_table_has_the_endpoint_only_when_asked() -> None:
    from providers.fastapi import app, create_app

    paths = set(fastapi_paths(app.routes))
    assert paths == {"/users/", "/users/{user_id}"}
    assert all(isinstance(route, APIRoute) for route in app.routes)
    assert api.STATE_PATH in set(fastapi_paths(create_app(provider_states=True).routes))
    assert api.STATE_PATH not in set(fastapi_paths(create_app().routes))


def test_flask_routes_command_shows_no_state_endpoint() -> None:
    """`flask --app providers.flask run` serves this app; `routes` lists what it serves."""
    listing = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "providers.flask", "routes"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "/users/<user_id>" in listing
    assert "/_pact" not in listing


def test_uvicorn_entry_point_app_has_no_state_endpoint() -> None:
    """`uvicorn providers.fastapi:app` imports exactly this."""
    app = import_from_string("providers.fastapi:app")
    assert isinstance(app, FastAPI)
    assert not any(path.startswith("/_pact") for path in fastapi_paths(app.routes))


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_the_production_apps_answer_404_to_a_state_change(framework: str) -> None:
    module = importlib.import_module(f"providers.{framework}")
    with serve(module.app) as server:
        response = httpx.post(
            f"{server.url}{api.STATE_PATH}",
            json={"action": "setup", "params": {}, "state": "user 123 exists"},
        )
        users = httpx.get(f"{server.url}/users/123")
    assert response.status_code == 404
    assert response.json() == {"detail": "Not Found"}
    assert users.status_code == 404, "no state was set up"


def test_the_generic_factory_defaults_to_no_state_endpoint() -> None:
    for framework in FRAMEWORKS:
        app = providers.create_app(framework)
        paths = flask_paths(app) if isinstance(app, flask.Flask) else set(fastapi_paths(app.routes))
        assert api.STATE_PATH not in paths


def test_an_unknown_framework_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match=r"no providers/django\.py"):
        providers.create_app("django")
