"""A broker's worth of ordinary data for the pages' tests: long versions, a failing verdict,
an older verification of content a newer consumer version republished, and a changed pact."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import httpx

from broker.testing import pact_document, publish_body, unique_name

MISMATCH = "body $.name: Expected 'Verna Hampton' <b>but</b> got 'Verna'"
FAILED_CELLS = ("py3.12-django", "py3.13-flask")


def long_version(seed: str) -> str:
    """`<40-hex sha>+dirty.<digest>`: what `verification/gitinfo.py` names a dirty tree."""
    sha = hashlib.sha1(seed.encode()).hexdigest()
    return f"{sha}+dirty.{hashlib.sha256(seed.encode()).hexdigest()[:12]}"


@dataclass(frozen=True)
class Pages:
    consumer: str
    provider: str
    failing_consumer: str
    # Verified at v1, then republished unchanged at v2: the page says the result was for v1.
    same_consumer: str
    v1: str
    v2: str
    v3: str
    provider_version: str


def _ok(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code < 300, response.text
    body: dict[str, Any] = response.json()
    return body


def verify(
    client: httpx.Client, pact_url: str, provider_version: str, *, success: bool
) -> dict[str, Any]:
    pact = _ok(client.get(pact_url))
    results: list[dict[str, Any]] = []
    for cell in ("py3.11-flask", "py3.12-django", "py3.13-flask"):
        failed = not success and cell in FAILED_CELLS
        result: dict[str, Any] = {
            "cell": cell,
            "interactionId": pact["interactions"][0]["_id"],
            "interactionDescription": pact["interactions"][0]["description"],
            "success": not failed,
        }
        if failed:
            result["mismatches"] = [{"attribute": "body", "description": MISMATCH}]
        results.append(result)
    return _ok(
        client.post(
            pact["_links"]["pb:publish-verification-results"]["href"],
            json={
                "success": success,
                "providerApplicationVersion": provider_version,
                "testResults": results,
            },
        )
    )


def populate(client: httpx.Client) -> Pages:
    consumer, provider = unique_name("web-app-"), unique_name("user-service-")
    failing_consumer = unique_name("mobile-app-")
    v1, v2, v3 = (long_version(f"{consumer}{n}") for n in range(3))
    provider_version = long_version(provider)
    first = pact_document(consumer, provider, ["/users/1"], spec="3.0")
    first["interactions"][0]["providerStates"] = [{"name": "user 1 exists", "params": {"id": 1}}]
    changed = pact_document(consumer, provider, ["/users/1", "/users/2"], spec="3.0")
    changed["interactions"][0]["providerStates"] = [{"name": "user 1 exists", "params": {"id": 1}}]
    changed["interactions"][1]["providerStates"] = [{"name": "a state nobody knows"}]
    base = f"/pacts/provider/{provider}/consumer/{consumer}/version/"
    _ok(client.post("/contracts/publish", json=publish_body(first, v1, branch="main")))
    verify(client, base + v1, provider_version, success=True)
    # The same content again at v2: the page must say the result was for v1.
    _ok(client.post("/contracts/publish", json=publish_body(first, v2, branch="main", tags=["rc"])))
    # Changed content at v3: never verified.
    _ok(client.post("/contracts/publish", json=publish_body(changed, v3, branch="feat/more")))
    failing = pact_document(failing_consumer, provider, ["/users/1"], spec="3.0")
    _ok(client.post("/contracts/publish", json=publish_body(failing, v1, branch="main")))
    verify(
        client,
        f"/pacts/provider/{provider}/consumer/{failing_consumer}/version/{v1}",
        provider_version,
        success=False,
    )
    same_consumer = unique_name("admin-ui-")
    same = pact_document(same_consumer, provider, ["/users"], spec="3.0")
    same_base = f"/pacts/provider/{provider}/consumer/{same_consumer}/version/"
    _ok(client.post("/contracts/publish", json=publish_body(same, v1, branch="main")))
    verify(client, same_base + v1, provider_version, success=True)
    _ok(client.post("/contracts/publish", json=publish_body(same, v2, branch="main")))
    return Pages(consumer, provider, failing_consumer, same_consumer, v1, v2, v3, provider_version)
