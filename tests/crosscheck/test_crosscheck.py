"""Differential checks: the providers of every framework must be indistinguishable.

Every framework that pyproject.toml lists runs side by side on real sockets, over stores that
start out the same, and gets the same generated requests: odd ids and paths, wrong methods, bad
bodies and content types, bodies over the size limit, state changes, and sequences of create /
read / delete. Each answer must agree with the first framework's on what a consumer can observe
(`answer`): status, media type, JSON value (timestamps by format, not value) and `Allow`.

`CROSSCHECK_EXAMPLES` sets how many examples each test runs (default 200; the `crosscheck`
nox session runs many more).
"""

from __future__ import annotations

import contextlib
import difflib
import json
import os
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    invariant,
    rule,
    run_state_machine_as_test,
)
from starlette.routing import Mount, Route

from matrix import FRAMEWORKS
from providers import api
from providers import fastapi as fastapi_adapter
from states import PROVIDER_STATES, VERNA_HAMPTON, User
from tests.provider_under_test import running_provider

if TYPE_CHECKING:
    from collections.abc import Iterator

    from tests.provider_under_test import ProviderUnderTest

EXAMPLES = int(os.environ.get("CROSSCHECK_EXAMPLES", "200"))
SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,  # two real servers answer each example: timing varies
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
STATEFUL_SETTINGS = settings(SETTINGS, max_examples=max(10, EXAMPLES // 5), stateful_step_count=30)

# The one intended difference: the routes FastAPI adds for its API documentation (its OpenAPI
# document, /docs, /redoc and their files), the production app's own routes (the user API's are
# in its included router); a path ending in "/" stands for all under it. A request for one of
# them is not compared with FastAPI's answer.
DOCUMENTATION_PATHS: dict[str, tuple[str, ...]] = {
    "fastapi": tuple(
        f"{route.path}/" if isinstance(route, Mount) else route.path
        for route in fastapi_adapter.app.routes
        if isinstance(route, Route | Mount)
    )
}

ISO_8601_WITH_OFFSET = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d")


# -- Requests ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    body: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        body = (
            ""
            if self.body is None
            else f"\n{self.body[:300]!r}"
            + (f"... ({len(self.body)} bytes)" if len(self.body) > 300 else "")
        )
        headers = "".join(f"\n{name}: {value}" for name, value in self.headers.items())
        return f"{self.method} {self.path}{headers}{body}"


json_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text()
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=8,
)
# Repeated text: names of every length, some of them over the body size limit.
long_texts = st.builds(
    lambda unit, times: unit * times, st.text(min_size=1, max_size=3), st.integers(100, 40_000)
)
user_bodies = st.builds(
    lambda fields, extra: {**extra, **fields},
    st.fixed_dictionaries(
        {},
        optional={
            "name": st.text(max_size=30) | long_texts | json_values,
            "email": st.none() | st.emails() | json_values,
            "ip_address": st.none() | st.ip_addresses().map(str) | json_values,
            "hobbies": st.lists(st.text(max_size=15), max_size=4) | json_values,
            "admin": st.booleans() | json_values,
        },
    ),
    st.just({}) | st.dictionaries(st.text(max_size=10), json_values, max_size=2),
)
state_changes = st.fixed_dictionaries(
    {
        "action": st.sampled_from(["setup", "teardown", "reset"]),
        "state": st.sampled_from([*PROVIDER_STATES, "user 999 exists"]),
    },
    optional={
        "params": st.just({})
        | st.fixed_dictionaries(
            {"id": st.integers(-3, 2**64) | st.text(max_size=4)},
            optional={"name": st.text(max_size=20)},
        )
        | json_values
    },
)


def encode(value: object, ascii_only: bool) -> bytes:
    return json.dumps(value, ensure_ascii=ascii_only).encode("utf-8", "surrogatepass")


bodies = st.one_of(
    st.none(),
    st.just(b""),
    st.builds(encode, user_bodies, st.booleans()),
    st.builds(encode, json_values, st.booleans()),
    st.builds(encode, state_changes, st.booleans()),
    st.binary(max_size=64),
    st.text(max_size=64).map(str.encode),
    st.sampled_from([b'{"name": "\\ud800"}', b'{"name": NaN}', b"[" * 3000, b"{}" * 2]),
    # Deep nesting: within the limit it must not crash the JSON parser.
    st.integers(1, 40_000).map(lambda depth: b"[" * depth + b"]" * depth),
    # Just over the size limit, and well over it.
    st.integers(api.MAX_BODY_BYTES - 20, 3 * api.MAX_BODY_BYTES).map(
        lambda size: b'{"name": "' + b"x" * size + b'"}'
    ),
)
content_types = st.sampled_from(
    [
        None,
        "application/json",
        "application/json; charset=utf-8",
        "APPLICATION/JSON",
        "application/json;charset=latin-1",
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "application/jsonx",
        "",
        "json",
    ]
)
id_texts = st.one_of(
    st.integers().map(str),
    st.integers(0, 10**30).map(str),
    st.from_regex(r"0{0,3}[0-9]{1,22}", fullmatch=True),
    st.sampled_from(["0", "-0", "+1", "1.0", "1e3", "0x1f", ".", "..", "%", "١٢٣", "123 "]),
    st.text(max_size=10),
)
# A path as an HTTP client sends one: no empty segment (`//`), which clients do not write and
# servers read differently (Werkzeug's reads `//users/1` as a host), so no consumer sees it.
segments = st.text(min_size=1, max_size=10).map(lambda text: quote(text, safe=""))
paths = st.one_of(
    id_texts.map(lambda text: "/users/" + quote(text, safe="")),
    st.builds(
        lambda text, layout: layout.format(quote(text, safe="")),
        id_texts,
        st.sampled_from(["/users/{}/", "/users/{}/x", "/USERS/{}"]),
    ),
    st.sampled_from(
        [
            "/",
            "/users",
            "/users/",
            api.STATE_PATH,
            api.STATE_PATH + "/",
            "/_pact",
            "/_pact/",
            "/docs",
            "/docs/",
            "/docs/assets/swagger-ui.css",
            "/docs/assets/",
            "/openapi.json",
            "/redoc",
            "/static/app.js",
            # Escapes that do not decode to UTF-8 text, or decode to a separator.
            "/users/%FF",
            "/users/%00",
            "/users/%2F1",
            "/users/1%2F",
            "/users/1%3F",
            "/users/%31%32%33",
        ]
    ),
    st.lists(segments, max_size=4).map(lambda parts: "/" + "/".join(parts)),
)
queries = st.sampled_from(["", "?", "?a=1", "?action=setup&state=", "?x=%FF&x=2"])
methods = st.sampled_from(
    ["GET", "POST", "DELETE", "PUT", "PATCH", "HEAD", "OPTIONS", "TRACE", "PROPFIND", "BREW"]
)


@st.composite
def requests(draw: st.DrawFn) -> Request:
    content_type = draw(content_types)
    return Request(
        method=draw(methods),
        path=draw(paths) + draw(queries),
        body=draw(bodies),
        headers={} if content_type is None else {"Content-Type": content_type},
    )


# -- Comparing answers ------------------------------------------------------------------------


def answer(response: httpx.Response) -> dict[str, Any]:
    """What a consumer can observe of a response, the one definition of "the same": the
    status, the media type of a body (Content-Type's type/subtype; the API documents no
    charset; an answer without a body has none to describe), the JSON value (parsed,
    timestamps reduced to their format) or else the body's text, and the documented headers'
    values (`Allow` as a set of methods). Header names' case, header order, Content-Length,
    chunking, serialisation bytes and server headers are not compared: no JSON client sees
    them."""
    media_type = response.headers.get("content-type", "").partition(";")[0].strip().lower()
    if not response.content:
        media_type = ""
    body: object = response.content.decode("utf-8", "replace")
    if media_type == api.JSON_CONTENT_TYPE and response.content:
        body = _timestamps_as_format(json.loads(response.content))
    allow = response.headers.get("allow")
    return {
        "status": response.status_code,
        "media type": media_type or None,
        "allow": None if allow is None else sorted({m.strip() for m in allow.split(",")}),
        "body": body,
    }


def _timestamps_as_format(value: object) -> object:
    if isinstance(value, dict):
        return {
            key: (
                "<ISO 8601 with offset>"
                if key == "created_on"
                and isinstance(item, str)
                and ISO_8601_WITH_OFFSET.fullmatch(item)
                else _timestamps_as_format(item)
            )
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_timestamps_as_format(item) for item in value]
    return value


@dataclass
class Providers:
    """Every framework's provider, each answer compared with the first framework's."""

    sides: list[ProviderUnderTest]
    compared: int = 0

    def reset(self) -> None:
        for side in self.sides:
            side.store.reset()

    def put(self, user: User) -> None:
        for side in self.sides:
            side.store.put(user)

    def send(self, request: Request) -> dict[str, Any]:
        """Send `request` to every provider; fail with the answers unless they all agree."""
        path = request.path.partition("?")[0]
        sides = [
            side
            for side in self.sides
            if not any(
                path == docs or (docs.endswith("/") and path.startswith(docs))
                for docs in DOCUMENTATION_PATHS.get(side.framework, ())
            )
        ]
        answers = [
            answer(
                side.request(
                    request.method, request.path, content=request.body, headers=request.headers
                )
            )
            for side in sides
        ]
        self.compared += 1
        reference, *others = zip(sides, answers, strict=True)
        for side, other in others:
            if other != reference[1]:
                expected, got = (
                    json.dumps(one, indent=2, ensure_ascii=False, default=str).splitlines()
                    for one in (reference[1], other)
                )
                diff = "\n".join(
                    difflib.unified_diff(
                        expected, got, reference[0].framework, side.framework, lineterm=""
                    )
                )
                pytest.fail(f"The frameworks answer differently.\n\nRequest:\n{request}\n\n{diff}")
        return reference[1]

    def stores(self) -> set[str]:
        # The repr lists the stored ids and the next id.
        return {repr(side.store) for side in self.sides}


@pytest.fixture(scope="module")
def providers(request: pytest.FixtureRequest) -> Iterator[Providers]:
    with contextlib.ExitStack() as stack:
        every = Providers([stack.enter_context(running_provider(name)) for name in FRAMEWORKS])
        yield every
    # The count goes in the close-out note: show it even when output is captured.
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    if reporter is not None and capture is not None:
        with capture.global_and_fixture_disabled():
            reporter.write_line(
                f"crosscheck: {every.compared} requests sent to {', '.join(FRAMEWORKS)}, "
                "answered alike"
            )


# -- The checks -------------------------------------------------------------------------------


@SETTINGS
@given(request=requests(), with_verna=st.booleans())
def test_any_request_gets_the_same_answer(
    providers: Providers, request: Request, with_verna: bool
) -> None:
    providers.reset()
    if with_verna:
        providers.put(VERNA_HAMPTON)
    providers.send(request)


class CreateReadDelete(RuleBasedStateMachine):
    """Sequences: create, read, delete, read again; state changes and stray requests between."""

    created = Bundle("created")

    def __init__(self, providers: Providers) -> None:
        super().__init__()
        self.providers = providers
        providers.reset()

    @rule(target=created, body=user_bodies)
    def create(self, body: dict[str, object]) -> int:
        answered = self.providers.send(
            Request("POST", "/users/", encode(body, False), {"Content-Type": "application/json"})
        )
        user_id: int = answered["body"]["id"] if answered["status"] == 200 else -1
        return user_id

    @rule(user_id=created)
    def read(self, user_id: int) -> None:
        self.providers.send(Request("GET", f"/users/{user_id}"))

    @rule(user_id=consumes(created))
    def delete_then_read(self, user_id: int) -> None:
        self.providers.send(Request("DELETE", f"/users/{user_id}"))
        self.providers.send(Request("GET", f"/users/{user_id}"))
        self.providers.send(Request("DELETE", f"/users/{user_id}"))

    @rule(user_id=st.integers(-2, 200))
    def read_any(self, user_id: int) -> None:
        self.providers.send(Request("HEAD" if user_id % 3 == 0 else "GET", f"/users/{user_id}"))

    @rule(change=state_changes)
    def change_state(self, change: dict[str, object]) -> None:
        self.providers.send(
            Request(
                "POST", api.STATE_PATH, encode(change, True), {"Content-Type": "application/json"}
            )
        )

    @rule(request=requests())
    def stray_request(self, request: Request) -> None:
        self.providers.send(request)

    @invariant()
    def stores_agree(self) -> None:
        assert len(self.providers.stores()) == 1, self.providers.stores()


def test_sequences_get_the_same_answers(providers: Providers) -> None:
    run_state_machine_as_test(
        lambda: CreateReadDelete(providers),  # type: ignore[arg-type]
        settings=STATEFUL_SETTINGS,
    )


# -- The harness itself can fail --------------------------------------------------------------


def test_a_difference_fails_showing_the_request_and_both_answers() -> None:
    """Two providers that do differ (one wants a state secret) are told apart."""
    with (
        running_provider("flask") as open_provider,
        running_provider("flask", state_secret="k") as guarded_provider,
    ):
        request = Request(
            "POST",
            api.STATE_PATH,
            b'{"action": "setup", "params": {}, "state": ""}',
            {"Content-Type": "application/json"},
        )
        with pytest.raises(pytest.fail.Exception) as failed:
            Providers([open_provider, guarded_provider]).send(request)
    message = str(failed.value)
    assert "POST /_pact/provider_states" in message
    assert '-  "status": 200' in message
    assert '+  "status": 403' in message


def test_timestamps_compare_by_format_not_value() -> None:
    def user(created_on: str) -> httpx.Response:
        body = json.dumps({"id": 1, "created_on": created_on}).encode()
        return httpx.Response(200, content=body, headers={"Content-Type": "application/json"})

    assert answer(user("2024-01-01T00:00:00+00:00")) == answer(user("2031-12-31T23:59:59+00:00"))
    assert answer(user("2024-01-01T00:00:00+00:00")) != answer(user("2024-01-01T00:00:00Z"))
    assert answer(user("2024-01-01T00:00:00+00:00")) != answer(user("2024-01-01 00:00:00+00:00"))


def test_only_what_a_consumer_observes_is_compared() -> None:
    def response(content: bytes, **headers: str) -> httpx.Response:
        return httpx.Response(200, content=content, headers=headers)

    json_type = {"Content-Type": "application/json"}
    compact = response(b'{"a":"\xc3\xa9"}', **json_type)
    assert answer(compact) == answer(response(b'{"a": "\\u00e9"}\n', **json_type))
    assert answer(compact) == answer(
        response(b'{"a":"\xc3\xa9"}', **{"content-type": "application/json; charset=utf-8"})
    )
    assert answer(compact) != answer(response(b'{"a":"e"}', **json_type))
    assert answer(compact) != answer(response(b'{"a":"\xc3\xa9"}', **{"Content-Type": "text/html"}))
    assert answer(response(b"", Allow="GET, HEAD")) == answer(response(b"", Allow="HEAD,GET"))
    # No body, no media type to compare: a 204 with or without a Content-Type.
    assert answer(response(b"", **{"Content-Type": "text/html"})) == answer(response(b""))
    assert answer(response(b"", Allow="GET, HEAD")) != answer(response(b"", Allow="GET"))
