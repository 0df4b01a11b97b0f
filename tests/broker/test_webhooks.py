"""Webhooks over HTTP and through the real Rust CLI, delivered to a loopback receiver."""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from broker.testing import pact_document, start_broker, unique_name
from broker.webhooks import GITHUB_DISPATCH_BODY
from tests.broker.clients import PACT
from tests.broker.receiver import Receiver
from tests.broker.test_broker_rust_cli import pact_cli, publish

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from broker.testing import RunningBroker

TOKEN = "ghp_S3cretToken0123456789"  # distinctive, so a search of logs cannot miss it


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningBroker]:
    # Short retry delays so a test observes every attempt within seconds.
    running = start_broker(
        tmp_path_factory.mktemp("broker") / "pact_broker.sqlite",
        env={"PACT_BROKER_WEBHOOK_RETRY_SCHEDULE": "0.2,0.2", "PACT_BROKER_WEBHOOK_TIMEOUT": "3"},
    )
    yield running
    assert running.stop() == 0


def put(broker: RunningBroker, path: str, body: Any) -> httpx.Response:
    return httpx.put(f"{broker.url}{path}", json=body, timeout=10)


def provider_with_main(broker: RunningBroker, provider: str, version: str) -> None:
    """A provider whose main branch head is `version` (the version needing verification)."""
    response = put(broker, f"/pacticipants/{provider}/branches/main/versions/{version}", {})
    assert response.status_code in (200, 201), response.text
    response = httpx.patch(
        f"{broker.url}/pacticipants/{provider}",
        json={"mainBranch": "main"},
        headers={"Content-Type": "application/merge-patch+json"},
    )
    assert response.status_code == 200, response.text


def webhook_body(url: str, provider: str, *events: str, **request: Any) -> dict[str, Any]:
    return {
        "description": "test",
        "provider": {"name": provider},
        "events": [{"name": event} for event in events],
        "request": {"method": "POST", "url": url, **request},
    }


def test_crud_over_http(broker: RunningBroker) -> None:
    provider = unique_name("provider-")
    provider_with_main(broker, provider, "p1")
    body = webhook_body(
        "https://user:pw-S3cret@example.com/hook",
        provider,
        "contract_content_changed",
        headers={"Authorization": f"Bearer {TOKEN}"},
        username="u",
        password="pw-S3cret",
    )
    created = httpx.post(f"{broker.url}/webhooks", json=body)
    assert created.status_code == 201, created.text
    location = created.headers["Location"]
    document = httpx.get(location).json()
    assert document["provider"] == {"name": provider}
    assert document["request"]["headers"]["Authorization"] == "**********"
    assert document["request"]["password"] == "**********"
    assert "S3cret" not in json.dumps(document)
    listed = httpx.get(f"{broker.url}/webhooks/provider/{provider}").json()
    assert [link["href"] for link in listed["_links"]["pb:webhooks"]] == [location]
    everything = httpx.get(f"{broker.url}/webhooks").json()
    assert location in [link["href"] for link in everything["_links"]["pb:webhooks"]]
    body["description"] = "changed"
    assert httpx.put(location, json=body).status_code == 200
    assert httpx.get(location).json()["description"] == "changed"
    assert httpx.delete(location).status_code == 204
    assert httpx.get(location).status_code == 404


@pytest.mark.parametrize(
    "body",
    [
        [],
        {"request": {"method": "POST"}},
        {"request": {"method": "FETCH", "url": "http://x"}},
        {"request": {"method": "POST", "url": "ftp://x"}},
        {"request": {"method": "POST", "url": "http://x", "headers": {"a": 1}}},
        {"request": {"method": "POST", "url": "http://x", "headers": {"a": "b\rX-Evil: 1"}}},
        {"request": {"method": "POST", "url": "http://x", "password": 5}},
        {"description": 3, "request": {"method": "POST", "url": "http://x"}},
        {"events": [{"name": "nope"}], "request": {"method": "POST", "url": "http://x"}},
        {"events": [], "request": {"method": "POST", "url": "http://x"}},
        {
            "provider": {"name": "no-such-provider"},
            "request": {"method": "POST", "url": "http://x"},
        },
        {"provider": "x", "request": {"method": "POST", "url": "http://x"}},
    ],
)
def test_bad_input_is_a_400_with_errors(broker: RunningBroker, body: Any) -> None:
    for response in (
        httpx.post(f"{broker.url}/webhooks", json=body),
        put(broker, "/webhooks/abcdefabcdefabcdef01", body),
    ):
        assert response.status_code == 400, response.text
        assert response.json()["errors"]
    assert put(broker, "/webhooks/short", webhook_body("http://x", "p")).status_code == 400
    raw = httpx.post(
        f"{broker.url}/webhooks", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert raw.status_code == 400


@pytest.mark.skipif(PACT is None, reason="the Rust pact CLI is not installed")
def test_rust_cli_creates_the_github_webhook_and_a_publish_reaches_the_receiver(
    broker: RunningBroker, tmp_path: Path
) -> None:
    consumer, provider = unique_name("consumer-"), unique_name("provider-")
    provider_with_main(broker, provider, "prov-sha-1")
    webhook_uuid = f"webhook-{unique_name()}-{unique_name()}"
    with Receiver() as receiver:
        # The exact options of PactFlow's example provider; the Rust CLI takes all headers
        # after one --header (it refuses a second --header).
        pact_cli(
            broker,
            "create-or-update-webhook",
            f"{receiver.url}/repos/owner/repo/dispatches",
            "--request",
            "POST",
            "--header",
            "Content-Type: application/json",
            "Accept: application/vnd.github.everest-preview+json",
            f"Authorization: Bearer {TOKEN}",
            "--data",
            GITHUB_DISPATCH_BODY,
            "--uuid",
            webhook_uuid,
            "--provider",
            provider,
            "--contract-requiring-verification-published",
        )
        shown = httpx.get(f"{broker.url}/webhooks/{webhook_uuid}").json()
        assert shown["events"] == [{"name": "contract_requiring_verification_published"}]
        assert shown["provider"] == {"name": provider}
        assert shown["request"]["headers"]["Authorization"] == "**********"
        publish(
            broker, tmp_path, pact_document(consumer, provider, ["/a"]), "c1", "--branch", "feat"
        )
        (request,) = receiver.wait_for(1)
        payload = request.json()
        assert request.path == "/repos/owner/repo/dispatches"
        assert request.headers["Authorization"] == f"Bearer {TOKEN}"
        assert payload["event_type"] == "contract_requiring_verification_published"
        assert payload["client_payload"]["sha"] == "prov-sha-1"
        assert payload["client_payload"]["branch"] == "main"
        pact = httpx.get(payload["client_payload"]["pact_url"]).json()
        assert pact["consumer"]["name"] == consumer
        # The log, over the API, has the request and response and no credential.
        triggered = httpx.get(f"{broker.url}/webhooks/{webhook_uuid}/triggered-webhooks").json()
        (entry,) = triggered["_embedded"]["triggeredWebhooks"]
        deadline = time.monotonic() + 10
        while entry["status"] == "not_run" and time.monotonic() < deadline:
            entry = httpx.get(entry["_links"]["self"]["href"]).json()
        assert entry["status"] == "success"
        logs = httpx.get(entry["_links"]["pb:logs"]["href"]).text
        assert "HTTP 200" in logs
        assert "dispatches" in logs
        assert TOKEN not in logs
        assert TOKEN not in json.dumps(entry)


def test_no_trigger_when_the_main_head_already_verified_it(broker: RunningBroker) -> None:
    consumer, provider = unique_name("consumer-"), unique_name("provider-")
    with Receiver() as receiver:
        body = webhook_body(
            receiver.url,
            provider,
            "contract_requiring_verification_published",
            body="${pactbroker.providerVersionNumber}",
        )
        provider_with_main(broker, provider, "p1")
        assert put(broker, f"/webhooks/{unique_name()}{unique_name()}", body).status_code == 201
        document = pact_document(consumer, provider, ["/a"])
        first = put(broker, f"/pacts/provider/{provider}/consumer/{consumer}/version/c1", document)
        assert first.status_code == 201
        assert receiver.wait_for(1)[0].body == b"p1"
        results = first.json()["_links"]["pb:publish-verification-results"]["href"]
        assert (
            httpx.post(
                results, json={"success": True, "providerApplicationVersion": "p1"}
            ).status_code
            == 201
        )
        # Same content from a new consumer version: p1 verified it, so nothing requires it,
        # and no webhook fires; a new main head (p2) makes it required again.
        put(broker, f"/pacts/provider/{provider}/consumer/{consumer}/version/c2", document)
        provider_with_main(broker, provider, "p2")
        put(broker, f"/pacts/provider/{provider}/consumer/{consumer}/version/c3", document)
        requests = receiver.wait_for(2)
        assert [r.body for r in requests] == [b"p1", b"p2"]


def test_verification_events_and_parameters(broker: RunningBroker) -> None:
    consumer, provider = unique_name("consumer-"), unique_name("provider-")
    provider_with_main(broker, provider, "p1")
    with Receiver() as receiver:
        template = (
            '{"event":"${pactbroker.eventName}","status":"${pactbroker.githubVerificationStatus}",'
            '"provider":"${pactbroker.providerName}","consumer":"${pactbroker.consumerName}",'
            '"cv":"${pactbroker.consumerVersionNumber}","pv":"${pactbroker.providerVersionNumber}",'
            '"result":"${pactbroker.verificationResultUrl}"}'
        )
        body = webhook_body(
            receiver.url + "/status/${pactbroker.consumerVersionNumber}",
            provider,
            "provider_verification_published",
            "provider_verification_succeeded",
            "provider_verification_failed",
            body=template,
        )
        assert httpx.post(f"{broker.url}/webhooks", json=body).status_code == 201
        document = pact_document(consumer, provider, ["/a"])
        pact = put(broker, f"/pacts/provider/{provider}/consumer/{consumer}/version/c 1", document)
        results = pact.json()["_links"]["pb:publish-verification-results"]["href"]
        posted = httpx.post(results, json={"success": False, "providerApplicationVersion": "p1"})
        assert posted.status_code == 201
        received = receiver.wait_for(2)
        events = sorted(json.loads(r.body)["event"] for r in received)
        assert events == ["provider_verification_failed", "provider_verification_published"]
        payload = json.loads(received[0].body)
        assert payload["status"] == "failure"
        assert (payload["provider"], payload["consumer"], payload["cv"], payload["pv"]) == (
            provider,
            consumer,
            "c 1",
            "p1",
        )
        assert payload["result"] == posted.json()["_links"]["self"]["href"]
        assert received[0].path == "/status/c%201"


def test_retries_are_bounded_and_logged(broker: RunningBroker) -> None:
    provider = unique_name("provider-")
    consumer = unique_name("consumer-")
    provider_with_main(broker, provider, "p1")
    with Receiver(statuses=(500,)) as receiver:
        body = webhook_body(receiver.url, provider, "contract_published")
        created = httpx.post(f"{broker.url}/webhooks", json=body).json()
        put(
            broker,
            f"/pacts/provider/{provider}/consumer/{consumer}/version/c1",
            pact_document(consumer, provider, ["/a"]),
        )
        receiver.wait_for(3)  # 1 attempt + the 2 retries of the schedule
        listing = created["_links"]["pb:triggered-webhooks"]["href"]
        deadline = time.monotonic() + 10
        entry = httpx.get(listing).json()["_embedded"]["triggeredWebhooks"][0]
        while entry["status"] != "failure" and time.monotonic() < deadline:
            entry = httpx.get(listing).json()["_embedded"]["triggeredWebhooks"][0]
        assert (entry["status"], entry["attemptsMade"], entry["attemptsRemaining"]) == (
            "failure",
            3,
            0,
        )
        with pytest.raises(AssertionError):
            receiver.wait_for(4, timeout=1.0)  # and no fourth attempt


def test_execute_endpoint(broker: RunningBroker) -> None:
    provider = unique_name("provider-")
    provider_with_main(broker, provider, "p1")
    with Receiver(statuses=(202, 500), echo=True) as receiver:
        body = webhook_body(
            receiver.url,
            provider,
            "contract_published",
            headers={"X-Api-Key": TOKEN},
            body={"n": "${pactbroker.providerName}"},
        )
        created = httpx.post(f"{broker.url}/webhooks", json=body).json()
        first = httpx.post(created["_links"]["pb:execute"]["href"]).json()
        assert first["success"] is True
        assert first["response"]["status"] == 202
        assert receiver.wait_for(1)[0].json() == {"n": provider}
        second = httpx.post(created["_links"]["pb:execute"]["href"])
        assert second.status_code == 200
        assert second.json()["success"] is False
        # The receiver got the key and echoed it back; no answer of the broker shows it.
        assert receiver.requests[0].headers["X-Api-Key"] == TOKEN
        assert TOKEN not in second.text
        assert TOKEN not in first["logs"]
        triggered = httpx.get(first["_links"]["pb:triggered-webhook"]["href"]).json()
        assert TOKEN not in json.dumps(triggered)
        assert TOKEN not in httpx.get(triggered["_links"]["pb:logs"]["href"]).text


def test_a_hanging_receiver_does_not_slow_a_publish(broker: RunningBroker) -> None:
    provider, consumer = unique_name("provider-"), unique_name("consumer-")
    provider_with_main(broker, provider, "p1")
    with Receiver(hang_s=2.5) as receiver:
        body = webhook_body(receiver.url, provider, "contract_published")
        assert httpx.post(f"{broker.url}/webhooks", json=body).status_code == 201
        started = time.monotonic()
        response = put(
            broker,
            f"/pacts/provider/{provider}/consumer/{consumer}/version/c1",
            pact_document(consumer, provider, ["/a"]),
        )
        elapsed = time.monotonic() - started
        assert response.status_code == 201
        receiver.wait_for(1)  # the delivery did start (and now hangs)
        assert elapsed < 1.0, elapsed


def test_a_webhook_aimed_at_the_broker_does_not_loop(broker: RunningBroker) -> None:
    """A verification-published webhook that itself posts a verification result, to the broker."""
    provider, consumer = unique_name("provider-"), unique_name("consumer-")
    provider_with_main(broker, provider, "p1")
    document = pact_document(consumer, provider, ["/a"])
    pact = put(
        broker, f"/pacts/provider/{provider}/consumer/{consumer}/version/c1", document
    ).json()
    results = pact["_links"]["pb:publish-verification-results"]["href"]
    body = webhook_body(
        results,
        provider,
        "provider_verification_published",
        headers={"Content-Type": "application/json"},
        body={"success": True, "providerApplicationVersion": "p-loop"},
    )
    created = httpx.post(f"{broker.url}/webhooks", json=body).json()
    assert (
        httpx.post(results, json={"success": True, "providerApplicationVersion": "p1"}).status_code
        == 201
    )
    listing = created["_links"]["pb:triggered-webhooks"]["href"]
    deadline = time.monotonic() + 10
    entries = httpx.get(listing).json()["_embedded"]["triggeredWebhooks"]
    while entries[0]["status"] != "success" and time.monotonic() < deadline:
        entries = httpx.get(listing).json()["_embedded"]["triggeredWebhooks"]
    assert entries[0]["status"] == "success"
    time.sleep(0.5)  # would a loop add more? (nothing to wait on: proving an absence)
    assert len(httpx.get(listing).json()["_embedded"]["triggeredWebhooks"]) == 1


def test_webhooks_logs_and_pending_retries_survive_a_restart(tmp_path: Path) -> None:
    database = tmp_path / "pact_broker.sqlite"
    # A retry an hour away: only the restart can deliver it within the test.
    env = {"PACT_BROKER_WEBHOOK_RETRY_SCHEDULE": "3600"}
    with Receiver(statuses=(500, 200)) as receiver:
        first = start_broker(database, env=env)
        try:
            body = webhook_body(receiver.url, "p", "contract_published")
            body.pop("provider")
            assert put(first, "/webhooks/persisted-webhook-0001", body).status_code == 201
            document = pact_document("c", "p", ["/a"])
            put(first, "/pacts/provider/p/consumer/c/version/1", document)
            receiver.wait_for(1)
        finally:
            assert first.stop() == 0
        second = start_broker(database, env=env)
        try:
            receiver.wait_for(2)
            listing = f"{second.url}/webhooks/persisted-webhook-0001/triggered-webhooks"
            deadline = time.monotonic() + 10
            entry = httpx.get(listing).json()["_embedded"]["triggeredWebhooks"][0]
            while entry["status"] != "success" and time.monotonic() < deadline:
                entry = httpx.get(listing).json()["_embedded"]["triggeredWebhooks"][0]
            assert entry["attemptsMade"] == 2
            assert [e["response"]["status"] for e in entry["executions"]] == [500, 200]
        finally:
            assert second.stop() == 0


def test_one_trigger_per_provider_version_requiring_verification(broker: RunningBroker) -> None:
    """Main head, deployed and released versions; each once, and only those without a result."""
    consumer, provider = unique_name("consumer-"), unique_name("provider-")
    provider_with_main(broker, provider, "main-head")
    test_env = "00000000-0000-4000-8000-000000000001"
    production = "00000000-0000-4000-8000-000000000002"
    for number, kind, environment in (
        ("deployed-1", "deployed", test_env),
        ("released-1", "released", production),
        ("main-head", "deployed", production),  # also the main head: one trigger, not two
    ):
        assert put(broker, f"/pacticipants/{provider}/versions/{number}", {}).status_code in (
            200,
            201,
        )
        recorded = httpx.post(
            f"{broker.url}/pacticipants/{provider}/versions/{number}/{kind}-versions/"
            f"environment/{environment}",
            json={},
        )
        assert recorded.status_code == 201, recorded.text
    with Receiver() as receiver:
        event = "contract_requiring_verification_published"
        body = webhook_body(
            receiver.url, provider, event, body="${pactbroker.providerVersionNumber}"
        )
        assert httpx.post(f"{broker.url}/webhooks", json=body).status_code == 201
        document = pact_document(consumer, provider, ["/a"])
        put(broker, f"/pacts/provider/{provider}/consumer/{consumer}/version/c1", document)
        received = sorted(request.body.decode() for request in receiver.wait_for(3))
        assert received == ["deployed-1", "main-head", "released-1"]
        with pytest.raises(AssertionError):
            receiver.wait_for(4, timeout=1.0)


@pytest.mark.skipif(PACT is None, reason="the Rust pact CLI is not installed")
def test_rust_cli_create_test_and_delete_webhook(broker: RunningBroker) -> None:
    provider = unique_name("provider-")
    provider_with_main(broker, provider, "p1")
    with Receiver() as receiver:
        pact_cli(
            broker,
            "create-webhook",
            f"{receiver.url}/hook",
            "--request",
            "POST",
            "--header",
            "Content-Type: application/json",
            "--data",
            '{"provider":"${pactbroker.providerName}"}',
            "--provider",
            provider,
            "--contract-published",
        )
        (webhook,) = httpx.get(f"{broker.url}/webhooks/provider/{provider}").json()["_embedded"][
            "webhooks"
        ]
        tested = pact_cli(broker, "test-webhook", "--uuid", webhook["uuid"])
        assert "Webhook succeeded" in tested.stdout
        assert receiver.wait_for(1)[0].json() == {"provider": provider}
        deleted = pact_cli(broker, "delete-webhook", "--uuid", webhook["uuid"])
        assert "successfully deleted" in deleted.stdout
        assert httpx.get(webhook["_links"]["self"]["href"]).status_code == 404
        refused = pact_cli(
            broker,
            "create-or-update-webhook",
            receiver.url,
            "--request",
            "POST",
            "--uuid",
            "0123456789abcdef0123",
            "--provider",
            "no-such-provider",
            "--contract-published",
            check=False,
        )
        assert refused.returncode != 0
        assert "No provider with name 'no-such-provider' found" in refused.stdout + refused.stderr


def test_contract_content_changed_fires_only_for_new_content(broker: RunningBroker) -> None:
    consumer, provider = unique_name("consumer-"), unique_name("provider-")
    provider_with_main(broker, provider, "p1")
    with Receiver() as receiver:
        body = webhook_body(
            receiver.url,
            provider,
            "contract_content_changed",
            body="${pactbroker.consumerVersionNumber}",
        )
        assert httpx.post(f"{broker.url}/webhooks", json=body).status_code == 201
        first, changed = (pact_document(consumer, provider, [path]) for path in ("/a", "/b"))
        for version, document in (("c1", first), ("c2", first), ("c2", first), ("c3", changed)):
            published = put(
                broker,
                f"/pacts/provider/{provider}/consumer/{consumer}/version/{version}",
                document,
            )
            assert published.status_code in (200, 201)
        assert sorted(request.body for request in receiver.wait_for(2)) == [b"c1", b"c3"]
        with pytest.raises(AssertionError):
            receiver.wait_for(3, timeout=1.0)
