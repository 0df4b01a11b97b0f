"""The shared rules that the socket tests cannot reach directly."""

from __future__ import annotations

import json

import pytest

from providers import api
from states import (
    InMemoryUserRepository,
    StateFunctionFailed,
    StateHandler,
    StateRegistry,
    StateStore,
)


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.255.0.9", True),
        ("::1", True),
        ("::ffff:127.0.0.1", True),
        ("10.0.0.1", False),
        ("192.0.2.1", False),
        ("::ffff:192.0.2.1", False),
        ("0.0.0.0", False),
        ("localhost", False),  # a name, not an address: never trusted
        ("testclient", False),
        ("", False),
        (None, False),
    ],
)
def test_only_loopback_addresses_count_as_loopback(host: str | None, loopback: bool) -> None:
    assert api.is_loopback(host) is loopback


def test_a_refusal_happens_before_anything_else() -> None:
    endpoint = api.ProviderStateEndpoint.create(InMemoryUserRepository(), enabled=True, secret="k")
    assert endpoint is not None
    endpoint.check_client(client_host="127.0.0.1", presented_secret="k")
    with pytest.raises(api.StateChangeRefused, match="loopback"):
        endpoint.check_client(client_host="192.0.2.1", presented_secret="k")
    with pytest.raises(api.StateChangeRefused, match=api.STATE_SECRET_HEADER):
        endpoint.check_client(client_host="127.0.0.1", presented_secret="K")


@pytest.mark.parametrize(
    ("methods", "allow"),
    [
        (["GET", "HEAD", "DELETE"], "DELETE, GET, HEAD, OPTIONS"),
        (["POST"], "OPTIONS, POST"),
        (["POST", "OPTIONS"], "OPTIONS, POST"),
    ],
)
def test_allow_names_every_method_and_options_in_one_order(methods: list[str], allow: str) -> None:
    assert api.allow_header(methods) == allow


def test_error_details_do_not_depend_on_the_python_version() -> None:
    # http.HTTPStatus(413).phrase is "Request Entity Too Large" before 3.13, then not.
    assert api.STATUS_DETAILS[413] == f"Request body is larger than {api.MAX_BODY_BYTES} bytes"


@pytest.mark.parametrize(
    ("document", "detail"),
    [
        # An unknown field is reported first, whatever else is wrong.
        ({"admin": 1, "zz": 1, "aa": 2}, 'Unknown field "aa"; allowed fields: '),
        # Then the first field in the model's order.
        ({"hobbies": "x", "name": 5}, 'Field "name" must be a non-empty string'),
        ({"name": "A", "admin": None, "email": 5}, 'Field "email" must be a string or null'),
    ],
)
def test_one_detail_for_a_body_with_several_problems(document: object, detail: str) -> None:
    with pytest.raises(api.InvalidInput) as invalid:
        api.new_user(json.dumps(document).encode(), api.JSON_CONTENT_TYPE)
    assert str(invalid.value).startswith(detail)


def test_a_setup_that_returns_values_that_are_not_json_is_a_conflict() -> None:
    endpoint = api.ProviderStateEndpoint.create(InMemoryUserRepository(), enabled=True, secret=None)
    assert endpoint is not None
    registry = StateRegistry()

    @registry.state("odd")
    def odd(store: StateStore) -> dict[str, object]:
        return {"value": float("nan")}

    endpoint.handler = StateHandler(endpoint.handler.store, registry)
    with pytest.raises(StateFunctionFailed, match="not JSON"):
        endpoint.change(body=b'{"action": "setup", "state": "odd"}', query=())
