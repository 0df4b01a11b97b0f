"""The production FastAPI app documents exactly the user API: its paths, methods and status
codes, and never the provider-state endpoint (which no app's schema shows)."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from providers import api
from providers import fastapi as fastapi_adapter
from providers.runner import serve

# What README.md's table says the API answers, operation by operation.
USER_API = {
    ("post", "/users/"): {"200", "400", "413", "415"},
    ("get", "/users/{user_id}"): {"200", "400", "404"},
    ("delete", "/users/{user_id}"): {"204", "400", "404"},
}
# Any other 4xx (405, say) has the same `{"detail": ...}` body; FastAPI's 422 is never sent.
ANY_OTHER_4XX = "4XX"


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    with serve(fastapi_adapter.app) as server:
        response = httpx.get(f"{server.url}/openapi.json")
    assert response.status_code == 200
    document: dict[str, Any] = response.json()
    return document


def test_the_schema_has_exactly_the_user_api_operations(schema: dict[str, Any]) -> None:
    operations = {
        (method, path): set(operation["responses"])
        for path, item in schema["paths"].items()
        for method, operation in item.items()
    }
    assert operations == {key: {*codes, ANY_OTHER_4XX} for key, codes in USER_API.items()}


def test_the_schema_describes_the_bodies_and_the_errors(schema: dict[str, Any]) -> None:
    components = schema["components"]["schemas"]
    assert "HTTPValidationError" not in components, "FastAPI's 422 is never answered"
    assert set(components["UserIn"]["properties"]) == set(api.UserIn.model_fields)
    assert components["UserIn"]["required"] == ["name"]
    assert components["UserIn"]["additionalProperties"] is False
    assert set(components["UserOut"]["properties"]) == set(api.UserOut.model_fields)
    get = schema["paths"]["/users/{user_id}"]["get"]
    assert get["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/UserOut"
    }
    assert get["responses"]["404"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ErrorOut"
    }
    [user_id] = get["parameters"]
    assert (user_id["in"], user_id["schema"]["type"]) == ("path", "integer")


def test_no_schema_shows_the_state_endpoint() -> None:
    app = fastapi_adapter.create_app(provider_states=True)
    with serve(app) as server:
        paths = httpx.get(f"{server.url}/openapi.json").json()["paths"]
        served = httpx.options(f"{server.url}{api.STATE_PATH}")
    assert served.status_code == 200, "the endpoint is mounted..."
    assert not any(path.startswith("/_pact") for path in paths), "...and undocumented"


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_the_docs_pages_work_offline(page: str) -> None:
    """Every file a docs page loads is the app's own, and the app serves it (issue 25)."""
    with serve(fastapi_adapter.app) as server:
        html = httpx.get(f"{server.url}{page}")
        urls = re.findall(r"""(?:src|href|url)\s*[=:]\s*['"]([^'"]+)['"]""", html.text)
        assets = [url for url in urls if url.endswith((".js", ".css", ".png"))]
        loaded = {url: httpx.get(f"{server.url}{url}") for url in assets}
        schema = httpx.get(f"{server.url}/openapi.json")
    assert html.status_code == 200
    assert "/openapi.json" in html.text
    assert schema.status_code == 200
    assert assets, "the page loads its script"
    assert not [url for url in urls if "//" in url], "no CDN, no other host"
    for url, response in loaded.items():
        assert url.startswith(fastapi_adapter.ASSETS_PATH + "/")
        assert response.status_code == 200, url
        assert len(response.content) > 1000, url  # the asset itself, not an error page
    routes = {getattr(route, "path", None) for route in fastapi_adapter.app.routes}
    assert routes >= {"/docs", "/openapi.json", fastapi_adapter.ASSETS_PATH}
