"""The broker's HTTP contract seen with plain httpx: errors, auth, content types, storage."""

from __future__ import annotations

import base64
import json
import signal
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from broker import Auth
from broker.testing import pact_document, publish_body, start_broker, unique_name
from tests.conftest import examples

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from broker.testing import RunningBroker

JSON_TYPES = ("application/json", "application/hal+json")


@pytest.fixture(scope="module")
def client(broker: RunningBroker) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=broker.url, timeout=30) as client:
        yield client


def assert_json(response: httpx.Response) -> Any:
    assert response.headers["content-type"].split(";")[0] in JSON_TYPES, response.text
    assert response.status_code < 500, response.text
    return response.json()


def publish(
    client: httpx.Client, document: dict[str, Any], version: str, **options: Any
) -> httpx.Response:
    return client.post("/contracts/publish", json=publish_body(document, version, **options))


# --- publishing -----------------------------------------------------------------------------


def test_publish_response_has_the_real_shape(client: httpx.Client) -> None:
    consumer, provider = unique_name("c-"), unique_name("p-")
    response = publish(
        client, pact_document(consumer, provider, ["/x"]), "1", branch="main", tags=["t"]
    )
    body = assert_json(response)
    assert response.status_code == 200
    assert {"notices", "logs", "_embedded", "_links"} <= set(body)
    assert all({"type", "text"} <= set(notice) for notice in body["notices"])
    assert all({"level", "message", "deprecationWarning"} <= set(log) for log in body["logs"])
    assert body["_embedded"]["pacticipant"]["name"] == consumer
    assert body["_embedded"]["version"]["number"] == "1"
    links = body["_links"]
    assert links["pb:pacticipant-version-tags"][0]["name"] == "t"
    assert links["pb:contracts"][0]["href"].endswith(
        f"/pacts/provider/{provider}/consumer/{consumer}/version/1"
    )


def test_interactions_get_stable_ids(client: httpx.Client) -> None:
    consumer, provider = unique_name("c-"), unique_name("p-")
    document = pact_document(consumer, provider, ["/a", "/b"])
    publish(client, document, "1")
    changed = pact_document(consumer, provider, ["/a", "/c"])
    publish(client, changed, "2")
    first = assert_json(client.get(f"/pacts/provider/{provider}/consumer/{consumer}/version/1"))
    second = assert_json(client.get(f"/pacts/provider/{provider}/consumer/{consumer}/version/2"))
    first_ids = [interaction["_id"] for interaction in first["interactions"]]
    second_ids = [interaction["_id"] for interaction in second["interactions"]]
    assert len(set(first_ids)) == 2
    assert first_ids[0] == second_ids[0]  # the same interaction keeps its id across versions
    assert first_ids[1] != second_ids[1]


def test_pact_documents_carry_the_links_the_verifier_follows(client: httpx.Client) -> None:
    consumer, provider = unique_name("c-"), unique_name("p-")
    publish(client, pact_document(consumer, provider, ["/a"]), "1")
    pact = assert_json(client.get(f"/pacts/provider/{provider}/consumer/{consumer}/version/1"))
    links = pact["_links"]
    assert links["pb:provider"]["href"].endswith(f"/pacticipants/{provider}")
    assert links["pb:consumer"]["href"].endswith(f"/pacticipants/{consumer}")
    assert "/verification-results" in links["pb:publish-verification-results"]["href"]
    provider_resource = assert_json(client.get(links["pb:provider"]["href"]))
    assert provider_resource["_links"]["pb:branch-version"]["templated"] is True
    assert provider_resource["_links"]["pb:version-tag"]["templated"] is True


def test_different_content_for_a_published_version_is_a_conflict(client: httpx.Client) -> None:
    consumer, provider = unique_name("c-"), unique_name("p-")
    original = pact_document(consumer, provider, ["/a"])
    assert publish(client, original, "1").status_code == 200
    # Metadata is not content (pact_broker `generate_sha.rb`): accepted as a republish.
    assert (
        publish(client, {**original, "metadata": {**original["metadata"], "x": 1}}, "1").status_code
        == 200
    )

    response = publish(client, pact_document(consumer, provider, ["/b"]), "1")
    body = assert_json(response)
    assert response.status_code == 409
    assert "Cannot change the content" in body["errors"]["contracts"][0]
    assert any("/b" in notice["text"] for notice in body["notices"])  # the diff says why

    old_way = client.put(
        f"/pacts/provider/{provider}/consumer/{consumer}/version/1",
        json=pact_document(consumer, provider, ["/c"]),
    )
    assert old_way.status_code == 409
    assert_json(old_way)
    stored = assert_json(client.get(f"/pacts/provider/{provider}/consumer/{consumer}/version/1"))
    assert [i["request"]["path"] for i in stored["interactions"]] == ["/a"]


def test_a_conflict_in_one_contract_publishes_none_of_them(client: httpx.Client) -> None:
    consumer, first, second = unique_name("c-"), unique_name("p-"), unique_name("p-")
    publish(client, pact_document(consumer, first, ["/a"]), "1")
    body = publish_body(
        pact_document(consumer, first, ["/changed"]), "1", branch="feature", tags=["new"]
    )
    body["contracts"] += publish_body(pact_document(consumer, second, ["/b"]), "1")["contracts"]
    assert client.post("/contracts/publish", json=body).status_code == 409
    assert client.get(f"/pacts/provider/{second}/consumer/{consumer}/version/1").status_code == 404
    version = assert_json(client.get(f"/pacticipants/{consumer}/versions/1"))
    assert version["_embedded"]["tags"] == []


def test_the_old_put_publishes_a_pact(client: httpx.Client) -> None:
    consumer, provider = unique_name("c-"), unique_name("p-")
    url = f"/pacts/provider/{provider}/consumer/{consumer}/version/1"
    assert client.put(url, json=pact_document(consumer, provider, ["/a"])).status_code == 201
    assert client.put(url, json=pact_document(consumer, provider, ["/a"])).status_code == 200


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "pacticipantName"),
        (
            {"pacticipantName": "a", "pacticipantVersionNumber": "", "contracts": []},
            "pacticipantVersionNumber",
        ),
        ({"pacticipantName": "a", "pacticipantVersionNumber": "1", "contracts": []}, "contracts"),
        (
            {"pacticipantName": "a", "pacticipantVersionNumber": 1, "contracts": []},
            "pacticipantVersionNumber",
        ),
        (
            {
                "pacticipantName": "a",
                "pacticipantVersionNumber": "1",
                "contracts": [
                    {
                        "consumerName": "a",
                        "providerName": "b",
                        "specification": "pact",
                        "contentType": "application/json",
                        "content": "not base64!",
                    }
                ],
            },
            "contracts[0].content",
        ),
        (
            {
                "pacticipantName": "a",
                "pacticipantVersionNumber": "1",
                "contracts": [
                    {
                        "consumerName": "other",
                        "providerName": "b",
                        "specification": "pact",
                        "contentType": "application/json",
                        "content": "",
                    }
                ],
            },
            "contracts[0].consumerName",
        ),
    ],
)
def test_invalid_publish_requests_are_400_with_errors(
    client: httpx.Client, body: dict[str, Any], field: str
) -> None:
    response = client.post("/contracts/publish", json=body)
    errors = assert_json(response)["errors"]
    assert response.status_code == 400
    assert field in errors, errors


def send_pact(
    client: httpx.Client, route: str, document: dict[str, Any], version: str
) -> httpx.Response:
    """Publish one pact by `route`: the CLIs' publish, or the old PUT."""
    if route == "publish":
        return publish(client, document, version)
    consumer, provider = document["consumer"]["name"], document["provider"]["name"]
    return client.put(
        f"/pacts/provider/{provider}/consumer/{consumer}/version/{version}", json=document
    )


PACT_ROUTES = ["publish", "put"]


@pytest.mark.parametrize(
    ("key", "value", "field"),
    [
        # A 500 before issue 15 (TypeError while computing the content sha).
        ("interactions", 1.5, "interactions"),
        ("interactions", 7, "interactions"),
        ("interactions", True, "interactions"),
        ("messages", 7, "messages"),
        # Stored before issue 15: no verifier could read the provider's pacts any more.
        ("interactions", False, "interactions"),
        ("interactions", None, "interactions"),
        ("interactions", "GET /a", "interactions"),
        ("interactions", {"description": "a request"}, "interactions"),
        ("interactions", [1], "interactions[0]"),
        ("interactions", [{"description": "a request"}, "GET /a"], "interactions[1]"),
        ("messages", [["an event"]], "messages[0]"),
    ],
)
@pytest.mark.parametrize("route", PACT_ROUTES)
def test_a_pact_whose_interactions_are_not_objects_is_400_and_not_stored(
    client: httpx.Client, route: str, key: str, value: Any, field: str
) -> None:
    consumer, provider = unique_name("c-"), unique_name("p-")
    document = {**pact_document(consumer, provider, ["/a"]), key: value}
    response = send_pact(client, route, document, "1")
    errors = assert_json(response)["errors"]
    assert response.status_code == 400
    prefix = "contracts[0].content." if route == "publish" else ""
    assert list(errors) == [prefix + field], errors
    stored = client.get(f"/pacts/provider/{provider}/consumer/{consumer}/version/1")
    assert stored.status_code == 404


@pytest.mark.parametrize(
    "content",
    [
        {"interactions": []},
        {"messages": [{"description": "an event", "contents": {"id": 1}}]},
        {"messages": []},
    ],
    ids=["no interactions", "a message pact", "no messages"],
)
@pytest.mark.parametrize("route", PACT_ROUTES)
def test_empty_lists_and_message_pacts_are_pacts(
    client: httpx.Client, route: str, content: dict[str, Any]
) -> None:
    consumer, provider = unique_name("c-"), unique_name("p-")
    document = {"consumer": {"name": consumer}, "provider": {"name": provider}, **content}
    response = send_pact(client, route, document, "1")
    assert response.status_code in (200, 201), response.text
    stored = assert_json(client.get(f"/pacts/provider/{provider}/consumer/{consumer}/version/1"))
    ((key, items),) = content.items()
    assert [item["description"] for item in stored[key]] == [i["description"] for i in items]
    assert all("_id" in item for item in stored[key])


def test_malformed_json_is_400(client: httpx.Client) -> None:
    response = client.post(
        "/contracts/publish", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert "errors" in assert_json(response)


def test_a_body_over_the_limit_is_413(client: httpx.Client) -> None:
    response = client.post(
        "/contracts/publish",
        content=b"x" * (9 * 1024 * 1024),
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 413
    assert "errors" in assert_json(response)


# --- pacts for verification -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            {"consumerVersionSelectors": [{"consumer": "x"}]},
            "must specify a value for environment or tag or branch",
        ),
        (
            {"consumerVersionSelectors": [{"matchingBranch": True}]},
            "providerVersionBranch must be specified",
        ),
        (
            {"consumerVersionSelectors": [{"mainBranch": True, "tag": "x"}]},
            "cannot specify mainBranch=true with any other criteria",
        ),
        (
            {"consumerVersionSelectors": [{"tag": "x", "branch": "y"}]},
            "cannot specify both a tag and a branch",
        ),
        (
            {"consumerVersionSelectors": [{"branch": "x", "deployed": True}]},
            "cannot specify the field branch with the field deployed",
        ),
        (
            {"consumerVersionSelectors": [{"tag": "x", "fallbackTag": "y"}]},
            "fallbackTag can only be set if latest is true",
        ),
        (
            {"consumerVersionSelectors": [{"environment": "nowhere"}]},
            "environment with name 'nowhere' does not exist",
        ),
        (
            {"consumerVersionSelectors": [{"deployed": True, "released": True}]},
            "cannot specify both deployed=true and released=true",
        ),
        ({"consumerVersionSelectors": [{"mainBranch": "true"}]}, "Input should be a valid boolean"),
        ({"includeWipPactsSince": "yesterday"}, "must be a date"),
        ({"consumerVersionSelectors": "all"}, "Input should be a valid list"),
    ],
)
def test_invalid_selectors_are_400_with_errors(
    client: httpx.Client, body: dict[str, Any], message: str
) -> None:
    provider = unique_name("p-")
    publish(client, pact_document(unique_name("c-"), provider, ["/a"]), "1")
    response = client.post(f"/pacts/provider/{provider}/for-verification", json=body)
    errors = assert_json(response)["errors"]
    assert response.status_code == 400
    assert message in json.dumps(errors), errors


def test_for_verification_get_links_to_itself_and_unknown_providers_are_404(
    client: httpx.Client,
) -> None:
    provider = unique_name("p-")
    publish(client, pact_document(unique_name("c-"), provider, ["/a"]), "1")
    body = assert_json(client.get(f"/pacts/provider/{provider}/for-verification"))
    assert body["_links"]["self"]["href"].endswith(f"/pacts/provider/{provider}/for-verification")
    missing = client.post("/pacts/provider/nobody-at-all/for-verification", json={})
    assert missing.status_code == 404
    assert "errors" in assert_json(missing)


@settings(
    max_examples=examples(60),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    body=st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=8),
        lambda children: (
            st.lists(children, max_size=3)
            | st.dictionaries(
                st.sampled_from(
                    [
                        "consumerVersionSelectors",
                        "providerVersionTags",
                        "providerVersionBranch",
                        "includePendingStatus",
                        "includeWipPactsSince",
                        "mainBranch",
                        "tag",
                        "latest",
                        "environment",
                        "deployed",
                        "branch",
                    ]
                ),
                children,
                max_size=4,
            )
        ),
        max_leaves=12,
    )
)
def test_no_for_verification_body_causes_a_server_error(client: httpx.Client, body: Any) -> None:
    publish(client, pact_document("fuzz-consumer", "fuzz-provider", ["/a"]), "1")
    response = client.post("/pacts/provider/fuzz-provider/for-verification", json=body)
    assert_json(response)
    assert response.status_code in (200, 400)


# --- verification results -------------------------------------------------------------------


def test_verification_results_are_validated_stored_and_in_the_matrix(client: httpx.Client) -> None:
    consumer, provider = unique_name("c-"), unique_name("p-")
    publish(client, pact_document(consumer, provider, ["/a"]), "1", branch="main")
    pact = assert_json(client.get(f"/pacts/provider/{provider}/consumer/{consumer}/version/1"))
    results_url = pact["_links"]["pb:publish-verification-results"]["href"]

    for invalid in (
        {},
        {"success": "yes", "providerApplicationVersion": "1"},
        {"success": True},
        {"success": True, "providerApplicationVersion": "1", "buildUrl": "not a url"},
    ):
        response = client.post(results_url, json=invalid)
        assert response.status_code == 400, invalid
        assert "errors" in assert_json(response)

    client.put(f"/pacticipants/{provider}/branches/main/versions/p1", json={})
    client.put(f"/pacticipants/{provider}/versions/p1/tags/prod", json={})
    response = client.post(
        results_url, json={"success": True, "providerApplicationVersion": "p1", "testResults": []}
    )
    body = assert_json(response)
    assert response.status_code == 201
    assert response.headers["content-type"].startswith("application/hal+json")
    assert body["success"] is True
    assert (
        assert_json(client.get(body["_links"]["self"]["href"]))["providerApplicationVersion"]
        == "p1"
    )

    # Built by hand: httpx groups repeated parameters by name, which would break Rack's
    # `q[][...]` grouping (a repeated key starts the next selector).
    query = (
        f"q[][pacticipant]={consumer}&q[][version]=1"
        f"&q[][pacticipant]={provider}&q[][version]=p1&latestby=cvpv"
    )
    matrix = assert_json(client.get(f"/matrix?{query}"))
    assert matrix["summary"]["deployable"] is True, matrix
    (row,) = matrix["matrix"]
    assert row["provider"]["version"]["branch"] == "main"
    assert [tag["name"] for tag in row["provider"]["version"]["tags"]] == ["prod"]
    assert row["verificationResult"]["success"] is True


def test_matrix_errors_are_400(client: httpx.Client) -> None:
    for query in ("", "q[][version]=1", "q[][pacticipant]=x&latestby=zzz"):
        response = client.get(f"/matrix?{query}")
        assert response.status_code == 400
        assert "errors" in assert_json(response)


def test_an_unknown_pacticipant_in_the_matrix_is_not_deployable(client: httpx.Client) -> None:
    body = assert_json(
        client.get(
            "/matrix",
            params=[("q[][pacticipant]", "ghost"), ("q[][version]", "1"), ("latest", "true")],
        )
    )
    assert body["summary"]["deployable"] is False
    assert "ghost" in body["summary"]["reason"]


# --- every response is JSON -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/"),
        ("GET", "/diagnostic/status/heartbeat"),
        ("GET", "/pacticipants"),
        ("GET", "/pacticipants/nobody"),
        ("GET", "/environments"),
        ("GET", "/pacts/latest"),
        ("GET", "/integrations"),
        ("GET", "/no/such/route"),
        ("DELETE", "/contracts/publish"),
        ("GET", "/pacticipants/nobody/versions/1"),
        ("GET", "/environments/not-a-uuid"),
        ("PATCH", "/deployed-versions/x"),
        ("POST", "/environments"),
        ("GET", "/openapi.json"),
    ],
)
def test_every_response_is_json(client: httpx.Client, method: str, path: str) -> None:
    response = client.request(
        method, path, headers={"accept": "application/hal+json, application/json"}
    )
    body = assert_json(response)
    if response.status_code >= 400:
        assert "errors" in body


def test_the_index_links_and_the_html_view(client: httpx.Client) -> None:
    links = assert_json(client.get("/"))["_links"]
    for relation in (
        "pb:publish-contracts",
        "pb:provider-pacts-for-verification",
        "pb:pacticipant",
        "pb:pacticipant-version",
        "pb:pacticipant-branch-version",
        "pb:pacticipant-version-tag",
        "pb:latest-pact-versions",
        "pb:environments",
    ):
        assert relation in links
    assert links["pb:provider-pacts-for-verification"]["templated"] is True


def test_the_html_view_shows_integrations_the_matrix_and_environments(
    client: httpx.Client,
) -> None:
    consumer, provider = unique_name("html-consumer-"), unique_name("html-provider-")
    publish(client, pact_document(consumer, provider, ["/a"]), "c<1>")
    pact = assert_json(client.get(f"/pacts/provider/{provider}/consumer/{consumer}/version/c<1>"))
    client.post(
        pact["_links"]["pb:publish-verification-results"]["href"],
        json={"success": False, "providerApplicationVersion": "p-9"},
    )
    version = assert_json(client.get(f"/pacticipants/{consumer}/versions/c<1>"))
    (production,) = (
        link for link in version["_links"]["pb:record-deployment"] if link["name"] == "production"
    )
    assert client.post(production["href"], json={}).status_code == 201

    page = client.get("/", headers={"accept": "text/html,application/xhtml+xml"})

    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    text = page.text
    assert consumer in text
    assert "c&lt;1&gt;" in text  # names are escaped
    assert "c<1>" not in text
    # The integration's latest result, by whom (the page's layout: test_broker_pages.py).
    assert '<span class="failed">failed</span>\nby <span class="version" title="p-9">p-9' in text
    assert "Recent verification results" in text
    assert text.count("p-9") >= 2  # and its row in the matrix
    assert "production" in text
    assert "deployed" in text


def test_environments_are_seeded_and_can_be_created(client: httpx.Client) -> None:
    names = {
        e["name"]: e for e in assert_json(client.get("/environments"))["_embedded"]["environments"]
    }
    assert names["production"]["production"] is True
    assert names["test"]["production"] is False
    name = unique_name("env-")
    created = client.post("/environments", json={"name": name, "production": False})
    assert created.status_code == 201
    duplicate = client.post("/environments", json={"name": name})
    assert duplicate.status_code == 409
    assert "errors" in assert_json(duplicate)


# --- restart, signals, auth (load, SIGKILL and conflicts: tests/reliability) ------------------


def test_restart_keeps_everything_and_signals_exit_cleanly(tmp_path: Path) -> None:
    database = tmp_path / "broker.sqlite"
    first = start_broker(database)
    consumer, provider = unique_name("c-"), unique_name("p-")
    with httpx.Client(base_url=first.url) as client:
        assert (
            publish(
                client, pact_document(consumer, provider, ["/a"]), "1", branch="main"
            ).status_code
            == 200
        )
    first.process.send_signal(signal.SIGINT)
    assert first.process.wait(timeout=60) == 0

    second = start_broker(database)
    with httpx.Client(base_url=second.url) as client:
        pact = assert_json(client.get(f"/pacts/provider/{provider}/consumer/{consumer}/version/1"))
        assert pact["interactions"][0]["request"]["path"] == "/a"
    assert second.stop() == 0


def test_a_fixed_port_is_used(tmp_path: Path) -> None:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    running = start_broker(tmp_path / "broker.sqlite", port=port)
    assert running.url == f"http://127.0.0.1:{port}"
    assert running.stop() == 0


WRITE = ("writer", "s3cret-write")
READ = ("reader", "s3cret-read")


def test_basic_auth(tmp_path: Path) -> None:
    log = tmp_path / "broker.log"
    env = {
        "PACT_BROKER_BASIC_AUTH_USERNAME": WRITE[0],
        "PACT_BROKER_BASIC_AUTH_PASSWORD": WRITE[1],
        "PACT_BROKER_BASIC_AUTH_READ_ONLY_USERNAME": READ[0],
        "PACT_BROKER_BASIC_AUTH_READ_ONLY_PASSWORD": READ[1],
    }
    with log.open("w") as log_file:
        running = start_broker(
            tmp_path / "broker.sqlite",
            env=env,
            extra_args=["--log-level", "debug"],
            stderr=log_file,
        )
        try:
            body = publish_body(pact_document("auth-c", "auth-p", ["/a"]), "1")
            with httpx.Client(base_url=running.url) as anonymous:
                unauthenticated = anonymous.get("/")
                assert unauthenticated.status_code == 401
                assert unauthenticated.headers["www-authenticate"].startswith("Basic")
                assert "errors" in assert_json(unauthenticated)
                assert anonymous.get("/", auth=("writer", "wrong")).status_code == 401
                assert anonymous.get("/diagnostic/status/heartbeat").status_code == 200
            with httpx.Client(base_url=running.url, auth=WRITE) as writer:
                assert writer.post("/contracts/publish", json=body).status_code == 200
            with httpx.Client(base_url=running.url, auth=READ) as reader:
                assert reader.get("/pacts/latest").status_code == 200
                assert (
                    reader.post("/pacts/provider/auth-p/for-verification", json={}).status_code
                    == 200
                )
                forbidden = reader.post("/contracts/publish", json=body)
                assert forbidden.status_code == 403
                assert "errors" in assert_json(forbidden)
                assert (
                    reader.put("/pacticipants/auth-c/versions/2/tags/x", json={}).status_code == 403
                )
        finally:
            assert running.stop() == 0
    logged = log.read_text()
    assert "GET /" in logged  # the access log is on at debug level...
    for secret in (WRITE[1], READ[1], base64.b64encode(f"{WRITE[0]}:{WRITE[1]}".encode()).decode()):
        assert secret not in logged  # ...and never shows a credential


def test_auth_from_env() -> None:
    assert Auth.from_env({}) is None
    auth = Auth.from_env(
        {"PACT_BROKER_BASIC_AUTH_USERNAME": "u", "PACT_BROKER_BASIC_AUTH_PASSWORD": "s3cret"}
    )
    assert auth is not None
    assert auth.read_only is None
    assert auth.role("Basic " + base64.b64encode(b"u:s3cret").decode()) == "write"
    assert "s3cret" not in repr(auth)  # a logged or printed config shows no password


def test_every_index_relation_answers(client: httpx.Client) -> None:
    consumer, provider = unique_name("c-"), unique_name("p-")
    publish(client, pact_document(consumer, provider, ["/a"]), "1", branch="main", tags=["prod"])
    environment = assert_json(client.get("/environments"))["_embedded"]["environments"][0]
    values = {
        "provider": provider,
        "consumer": consumer,
        "pacticipant": consumer,
        "consumerApplicationVersion": "1",
        "version": "1",
        "tag": "prod",
        "branch": "main",
        "environment": environment["name"],
        "uuid": environment["uuid"],
    }
    links = assert_json(client.get("/"))["_links"]
    for relation, target in links.items():
        if relation in ("curies", "pb:webhook", "pb:publish-contracts") or not isinstance(
            target, dict
        ):
            continue
        href = target["href"]
        for name, value in values.items():
            href = href.replace(f"{{{name}}}", value)
        response = client.get(href)
        assert response.status_code == 200, (relation, href, response.text)
        assert_json(response)
