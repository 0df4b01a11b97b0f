"""The user API through real sockets, on every framework (each test runs once per framework)."""

from __future__ import annotations

import http.client
import re
import socket
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import pytest

from providers import api
from states import MAX_USER_ID, VERNA_HAMPTON

if TYPE_CHECKING:
    from collections.abc import Iterator

    from tests.provider_under_test import ProviderUnderTest as Provider

JSON_HEADERS = {"Content-Type": "application/json"}
ISO_WITH_OFFSET = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d")


def create(provider: Provider, body: object) -> dict[str, object]:
    response = provider.request("POST", "/users/", json=body)
    assert response.status_code == 200, response.text
    created: dict[str, object] = response.json()
    return created


# -- The happy paths --------------------------------------------------------------------------


def test_get_user_123_gives_every_field(provider: Provider) -> None:
    provider.store.put(VERNA_HAMPTON)
    response = provider.request("GET", "/users/123")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {
        "id": 123,
        "name": "Verna Hampton",
        "created_on": "2016-12-15T20:16:01+00:00",
        "email": "verna.hampton@example.com",
        "ip_address": "192.0.2.123",
        "hobbies": ["hiking", "swimming"],
        "admin": False,
    }


def test_post_creates_a_user_with_the_next_id_and_a_utc_timestamp(provider: Provider) -> None:
    provider.store.set_next_id(124)
    before = datetime.now(UTC).replace(microsecond=0)
    created = create(
        provider,
        {"name": "Ada", "email": "ada@example.com", "hobbies": ["maths"], "admin": True},
    )
    assert created["id"] == 124
    assert created["name"] == "Ada"
    assert created["email"] == "ada@example.com"
    assert created["ip_address"] is None
    assert created["hobbies"] == ["maths"]
    assert created["admin"] is True
    created_on = str(created["created_on"])
    assert ISO_WITH_OFFSET.fullmatch(created_on)
    assert before <= datetime.fromisoformat(created_on) <= datetime.now(UTC)
    assert provider.request("GET", "/users/124").json() == created


def test_post_with_only_a_name_uses_the_defaults(provider: Provider) -> None:
    created = create(provider, {"name": "Zoë 🐍"})
    assert (created["name"], created["hobbies"], created["admin"]) == ("Zoë 🐍", [], False)
    assert provider.request("GET", f"/users/{created['id']}").json()["name"] == "Zoë 🐍"


def test_delete_gives_204_with_no_body_then_the_user_is_gone(provider: Provider) -> None:
    created = create(provider, {"name": "Temp"})
    response = provider.request("DELETE", f"/users/{created['id']}")
    assert response.status_code == 204
    assert response.content == b""
    assert provider.request("GET", f"/users/{created['id']}").status_code == 404
    assert provider.request("DELETE", f"/users/{created['id']}").status_code == 404


def test_leading_zeros_name_the_same_user(provider: Provider) -> None:
    provider.store.put(VERNA_HAMPTON)
    assert provider.request("GET", "/users/000123").json()["id"] == 123


# -- Ids --------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/users/1", "/users/9223372036854775807", "/users/1" + "0" * 40])
def test_a_missing_user_is_404_user_not_found(provider: Provider, path: str) -> None:
    response = provider.request("GET", path)
    assert response.status_code == 404
    assert response.json() == {"detail": "User not found"}
    assert response.headers["content-type"] == "application/json"


def test_the_largest_id_names_its_user_for_get_and_delete(provider: Provider) -> None:
    # Set up through the state endpoint, as a verifier would: "a user exists" with that id.
    state = {"state": "a user exists", "params": {"id": MAX_USER_ID}, "action": "setup"}
    assert provider.request("POST", api.STATE_PATH, json=state).status_code == 200
    path = f"/users/{MAX_USER_ID}"

    got = provider.request("GET", path)
    assert got.status_code == 200
    assert got.json()["id"] == MAX_USER_ID
    assert provider.request("DELETE", path).status_code == 204
    assert provider.request("GET", path).status_code == 404


@pytest.mark.parametrize(
    "raw_id", ["abc", "-1", "0", "000", "+5", "1.0", "1e3", "%20", "%D9%A3", "12a", "0x10"]
)
@pytest.mark.parametrize("method", ["GET", "DELETE"])
def test_an_id_that_is_not_a_positive_integer_is_400(
    provider: Provider, raw_id: str, method: str
) -> None:
    response = provider.request(method, f"/users/{raw_id}")
    assert response.status_code == 400
    assert response.json() == {"detail": "User id must be a positive integer"}


# -- Bodies -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "detail"),
    [
        (b"", "Request body is not valid JSON"),
        (b"{", "Request body is not valid JSON"),
        # Python's parsers read NaN (not JSON): no field of a user can hold it.
        (b'{"name": NaN}', 'Field "name" must be a non-empty string'),
        (b'{"name": "A", "admin": NaN}', 'Field "admin" must be true or false'),
        (b"\xff", "Request body is not valid JSON"),
        (b"[" * 50_000 + b"]" * 5_000, "Request body is not valid JSON"),
        (b'["name"]', "Request body must be a JSON object"),
        (b"null", "Request body must be a JSON object"),
        (b"{}", 'Field "name" is required'),
        (b'{"email": "a@b.c"}', 'Field "name" is required'),
        (b'{"name": null}', 'Field "name" must be a non-empty string'),
        (b'{"name": 5}', 'Field "name" must be a non-empty string'),
        (b'{"name": "  "}', 'Field "name" must be a non-empty string'),
        (b'{"name": "A", "email": 1}', 'Field "email" must be a string or null'),
        (b'{"name": "A", "ip_address": []}', 'Field "ip_address" must be a string or null'),
        (b'{"name": "A", "hobbies": "x"}', 'Field "hobbies" must be a list of strings'),
        (b'{"name": "A", "hobbies": [1]}', 'Field "hobbies" must be a list of strings'),
        (b'{"name": "A", "hobbies": null}', 'Field "hobbies" must be a list of strings'),
        (b'{"name": "A", "admin": "yes"}', 'Field "admin" must be true or false'),
        (b'{"name": "A", "admin": 1}', 'Field "admin" must be true or false'),
        (b'{"name": "\\ud800"}', 'Field "name" must be valid Unicode text'),
        (
            b'{"name": "A", "id": 7}',
            'Unknown field "id"; allowed fields: admin, email, hobbies, ip_address, name',
        ),
    ],
)
def test_a_bad_body_is_400_saying_what_is_wrong(
    provider: Provider, content: bytes, detail: str
) -> None:
    response = provider.request("POST", "/users/", content=content, headers=JSON_HEADERS)
    assert response.status_code == 400, response.text
    assert response.json() == {"detail": detail}
    assert len(provider.store) == 0


@pytest.mark.parametrize(
    "content_type", [None, "text/plain", "application/x-www-form-urlencoded", "application/jsonx"]
)
def test_a_body_that_is_not_declared_json_is_415(
    provider: Provider, content_type: str | None
) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    response = provider.request("POST", "/users/", content=b'{"name": "A"}', headers=headers)
    assert response.status_code == 415
    assert response.json() == {"detail": "Content-Type must be application/json"}


@pytest.mark.parametrize("size", [api.MAX_BODY_BYTES + 1, 3 * api.MAX_BODY_BYTES])
@pytest.mark.parametrize("content_type", [None, "text/plain"])
def test_the_size_limit_comes_before_the_content_type(
    provider: Provider, size: int, content_type: str | None
) -> None:
    """Found by the crosscheck: Flask judged the content type before the size, FastAPI after."""
    headers = {"Content-Type": content_type} if content_type else {}
    response = provider.request("POST", "/users/", content=b"x" * size, headers=headers)
    assert response.status_code == 413


def test_json_content_type_parameters_and_case_are_accepted(provider: Provider) -> None:
    headers = {"Content-Type": "Application/JSON; charset=utf-8"}
    response = provider.request("POST", "/users/", content=b'{"name": "A"}', headers=headers)
    assert response.status_code == 200


def test_a_body_at_the_limit_is_read_and_one_byte_more_is_413(provider: Provider) -> None:
    padding = api.MAX_BODY_BYTES - len(b'{"name":""}')
    at_limit = b'{"name":"' + b"x" * padding + b'"}'
    assert len(at_limit) == api.MAX_BODY_BYTES
    assert provider.request("POST", "/users/", content=at_limit, headers=JSON_HEADERS).is_success
    over = b'{"name":"' + b"x" * (padding + 1) + b'"}'
    response = provider.request("POST", "/users/", content=over, headers=JSON_HEADERS)
    assert response.status_code == 413
    assert response.json() == {"detail": f"Request body is larger than {api.MAX_BODY_BYTES} bytes"}
    assert len(provider.store) == 1


@pytest.mark.parametrize(("extra", "status"), [(0, 200), (1, 413), (5000, 413)])
def test_a_chunked_body_has_the_same_limit(provider: Provider, extra: int, status: int) -> None:
    """No Content-Length: the limit is judged by what arrives."""
    padding = api.MAX_BODY_BYTES - len(b'{"name":""}') + extra

    def chunks() -> Iterator[bytes]:
        yield b'{"name":"'
        yield from (b"x" * min(1000, padding - sent) for sent in range(0, padding, 1000))
        yield b'"}'

    response = provider.client.post(
        f"{provider.url}/users/", content=chunks(), headers=JSON_HEADERS
    )
    assert response.status_code == status, response.text
    assert len(provider.store) == (1 if status == 200 else 0)


# -- Paths and methods ------------------------------------------------------------------------


@pytest.mark.parametrize(
    # No empty segment (`//users/1`): HTTP clients do not send one, and servers read it
    # differently (Werkzeug's as a host), so no consumer meets it.
    "path",
    ["/", "/users", "/user/1", "/users/1/", "/users/1/x", "/doc"],
)
@pytest.mark.parametrize("method", ["GET", "POST", "DELETE", "OPTIONS"])
def test_an_unknown_path_is_a_json_404_never_a_redirect(
    provider: Provider, path: str, method: str
) -> None:
    response = provider.request(method, path, content=b"{}", headers=JSON_HEADERS)
    assert response.status_code == 404
    assert response.json() == {"detail": "Not Found"}
    assert "location" not in response.headers


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("PUT", "/users/1", "DELETE, GET, HEAD, OPTIONS"),
        ("PATCH", "/users/1", "DELETE, GET, HEAD, OPTIONS"),
        ("POST", "/users/1", "DELETE, GET, HEAD, OPTIONS"),
        ("PROPFIND", "/users/1", "DELETE, GET, HEAD, OPTIONS"),
        ("GET", "/users/", "OPTIONS, POST"),
        ("DELETE", "/users/", "OPTIONS, POST"),
        ("GET", api.STATE_PATH, "OPTIONS, POST"),
    ],
)
def test_a_wrong_method_is_a_json_405_with_allow(
    provider: Provider, method: str, path: str, allow: str
) -> None:
    response = provider.request(method, path)
    assert response.status_code == 405
    assert response.json() == {"detail": "Method Not Allowed"}
    assert response.headers["allow"] == allow


@pytest.mark.parametrize(
    ("path", "allow"),
    [
        ("/users/1", "DELETE, GET, HEAD, OPTIONS"),
        ("/users/abc", "DELETE, GET, HEAD, OPTIONS"),
        ("/users/", "OPTIONS, POST"),
        (api.STATE_PATH, "OPTIONS, POST"),
    ],
)
def test_options_is_200_with_allow_and_no_body(provider: Provider, path: str, allow: str) -> None:
    response = provider.request("OPTIONS", path)
    assert response.status_code == 200
    assert methods(response.headers["allow"]) == methods(allow)
    assert response.content == b""


def methods(allow: str) -> set[str]:
    return {method.strip() for method in allow.split(",")}


@pytest.mark.parametrize("path", ["/users/123", "/users/5", "/users/x", "/nowhere"])
def test_head_answers_like_get_without_the_body(provider: Provider, path: str) -> None:
    provider.store.put(VERNA_HAMPTON)
    get = provider.request("GET", path)
    head = provider.request("HEAD", path)
    assert head.status_code == get.status_code
    assert head.content == b""
    assert head.headers["content-type"] == get.headers["content-type"]


# -- Raw requests that an HTTP client library would tidy up ------------------------------------


def raw_status(provider: Provider, method: str, path: str) -> int:
    """The status of a request whose method is sent as written (httpx upper-cases methods;
    http.client does not). Only the status line is read: Hypercorn answers `head` as HEAD, with
    no body, while its h11 waits for the body that the headers announce, and drops the
    connection."""
    host, port = provider.url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        connection.request(method, path)
        return connection.getresponse().status
    finally:
        connection.close()


@pytest.mark.parametrize("method", ["get", "Get", "delete", "options", "head"])
def test_a_method_in_lower_case_is_never_a_server_error(provider: Provider, method: str) -> None:
    """Clients send method tokens as written, and Pact's verifiers write them in upper case.
    Servers differ on `get` (Werkzeug and Hypercorn upper-case it); whatever the answer, it is
    no 5xx."""
    provider.store.put(VERNA_HAMPTON)
    assert raw_status(provider, method, "/users/123") < 500
    assert raw_status(provider, method, "/nowhere") < 500


def test_a_malformed_content_length_is_a_4xx(provider: Provider) -> None:
    host, port = provider.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as connection:
        connection.sendall(
            b"POST /users/ HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: abc\r\nConnection: close\r\n\r\n{}"
        )
        status_line = connection.recv(100).split(b"\r\n")[0]
    assert status_line.split()[1].startswith(b"4"), status_line
