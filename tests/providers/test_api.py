"""The shared rules that the socket tests cannot reach directly."""

from __future__ import annotations

import pytest

from providers import api
from states import InMemoryUserRepository


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
    assert endpoint.refuse(client_host="127.0.0.1", presented_secret="k") is None
    refused = endpoint.refuse(client_host="192.0.2.1", presented_secret="k")
    assert refused is not None
    assert refused.status == 403


@pytest.mark.parametrize(
    ("method", "allowed", "status", "allow"),
    [
        ("PUT", ["GET", "DELETE"], 405, "DELETE, GET, HEAD, OPTIONS"),
        ("OPTIONS", ["POST"], 204, "OPTIONS, POST"),
        ("options", ["get"], 405, "GET, HEAD, OPTIONS"),
        ("PATCH", ["POST", "OPTIONS"], 405, "OPTIONS, POST"),
    ],
)
def test_405_and_options_name_every_method_in_one_order(
    method: str, allowed: list[str], status: int, allow: str
) -> None:
    answer = api.method_not_allowed(method, allowed)
    assert answer.status == status
    assert ("Allow", allow) in answer.headers
    assert (answer.content_type is None) == (status == 204)
    assert (answer.body == b"") == (status == 204)


@pytest.mark.parametrize(
    ("header", "too_large"),
    [
        (None, False),
        ("0", False),
        (str(api.MAX_BODY_BYTES), False),
        (str(api.MAX_BODY_BYTES + 1), True),
        ("junk", False),
        ("-5", False),
    ],
)
def test_declared_length_over_the_limit(header: str | None, too_large: bool) -> None:
    assert api.declared_too_large(header) is too_large


def test_error_bodies_do_not_depend_on_the_python_version() -> None:
    # http.HTTPStatus(413).phrase is "Request Entity Too Large" before 3.13, then not.
    assert api.too_large().body == (
        b'{"detail":"Request body is larger than ' + str(api.MAX_BODY_BYTES).encode() + b' bytes"}'
    )
    assert api.http_error(418).status == 418
    assert api.http_error(418).body == b'{"detail":"Request failed"}'


def test_json_is_compact_utf8() -> None:
    answer = api.json_response(200, {"name": "Zoë", "n": [1, 2]})
    assert answer.body == '{"name":"Zoë","n":[1,2]}'.encode()
    assert answer.content_type == "application/json"
