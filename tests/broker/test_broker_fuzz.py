"""Malformed input of any kind gets a 4xx JSON answer with `errors`, never a 500.

A small in-suite fuzz (hypothesis) over the write endpoints, with arbitrary JSON bodies and
arbitrary path segments, including text that is not valid Unicode (lone surrogates).

It is the same every run (the suite's `repeatable` hypothesis profile, tests/conftest.py): it
fails when the code changes, never by chance. The `reliability` nox session runs more examples
(RELIABILITY_HYPOTHESIS_EXAMPLES), still derandomized; `HYPOTHESIS_PROFILE=explore` runs it
randomized. What it ever found is kept below as explicit examples.
"""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from broker.testing import pact_document, publish_body, start_broker
from tests.conftest import examples

if TYPE_CHECKING:
    from collections.abc import Iterator

    from broker.testing import RunningBroker

TEXT = st.text(
    st.characters(codec=None, categories=["L", "N", "P", "S", "Zs", "Cs", "Cc"]), max_size=6
)
KEYS = st.sampled_from(
    [
        "pacticipantName",
        "pacticipantVersionNumber",
        "branch",
        "tags",
        "contracts",
        "consumerName",
        "providerName",
        "specification",
        "contentType",
        "content",
        "success",
        "providerApplicationVersion",
        "buildUrl",
        "testResults",
        "name",
        "displayName",
        "production",
        "mainBranch",
        "applicationInstance",
        "currentlyDeployed",
        "interactions",
        "consumer",
        "provider",
    ]
)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | TEXT,
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(KEYS | TEXT, children, max_size=4)
    ),
    max_leaves=10,
)
# Pact-shaped bodies, so that the interactions and messages of a pact get any JSON often.
PACTS = st.fixed_dictionaries({}, optional={"interactions": JSON_VALUES, "messages": JSON_VALUES})
PUT_PACT = ("PUT", "/pacts/provider/{a}/consumer/{b}/version/{c}")
ENDPOINTS = [
    ("POST", "/contracts/publish"),
    PUT_PACT,
    ("POST", "/pacts/provider/fz-p/consumer/fz-c/pact-version/{a}/verification-results"),
    ("PUT", "/pacticipants/{a}"),
    ("PATCH", "/pacticipants/{a}"),
    ("PUT", "/pacticipants/{a}/versions/{b}"),
    ("PUT", "/pacticipants/{a}/versions/{b}/tags/{c}"),
    ("PUT", "/pacticipants/{a}/branches/{b}/versions/{c}"),
    ("POST", "/environments"),
    ("POST", "/pacticipants/fz-c/versions/1/deployed-versions/environment/{a}"),
    ("PATCH", "/deployed-versions/{a}"),
    ("GET", "/matrix?q[][pacticipant]={a}&q[][version]={b}&latestby={c}"),
    ("GET", "/pacts/provider/{a}/consumer/{b}/latest/{c}"),
]


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    running: RunningBroker = start_broker(tmp_path_factory.mktemp("broker") / "fuzz.sqlite")
    with httpx.Client(base_url=running.url, timeout=30) as client:
        client.post(
            "/contracts/publish", json=publish_body(pact_document("fz-c", "fz-p", ["/a"]), "1")
        )
        yield client
    assert running.stop() == 0


@settings(
    max_examples=examples(int(os.environ.get("RELIABILITY_HYPOTHESIS_EXAMPLES", "150"))),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    endpoint=st.sampled_from(ENDPOINTS),
    body=JSON_VALUES | PACTS,
    segments=st.lists(TEXT.filter(bool), min_size=3, max_size=3),
)
# Found by this fuzz (issue 15): a pact whose interactions are a number was a 500 (TypeError).
@example(endpoint=PUT_PACT, body={"interactions": 1}, segments=["0", "0", "0"])
# Stored before issue 15, so that no verifier could read the provider's pacts any more.
@example(endpoint=PUT_PACT, body={"interactions": "0"}, segments=["0", "0", "1"])
@example(endpoint=PUT_PACT, body={"messages": [None]}, segments=["0", "0", "2"])
def test_malformed_requests_are_4xx_json(
    client: httpx.Client, endpoint: tuple[str, str], body: Any, segments: list[str]
) -> None:
    method, template = endpoint
    a, b, c = (quote(segment, safe="", errors="surrogatepass") for segment in segments)
    content = None if method == "GET" else json.dumps(body, ensure_ascii=True).encode()
    response = client.request(
        method,
        template.format(a=a, b=b, c=c),
        content=content,
        headers={"content-type": "application/json"},
    )
    assert response.status_code < 500, response.text
    assert response.headers["content-type"].split(";")[0] in (
        "application/json",
        "application/hal+json",
    )
    if response.status_code >= 400:
        assert "errors" in response.json()
    elif endpoint == PUT_PACT:
        # What was stored is a pact a verifier can read: its interactions are JSON objects.
        stored = client.get(template.format(a=a, b=b, c=c)).json()
        for items in (stored.get("interactions", []), stored.get("messages", [])):
            assert isinstance(items, list), stored
            assert all(isinstance(item, dict) for item in items), stored
