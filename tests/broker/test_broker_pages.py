"""Issue 25's broker endpoints over a real socket: what changed, the states pacts use, badges,
the pages a browser gets, and the API documentation served without a CDN."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import httpx
import pytest

from broker.badge import COLOURS
from tests.broker.pages_data import FAILED_CELLS, MISMATCH, Pages, populate

if TYPE_CHECKING:
    from collections.abc import Iterator

    from broker.testing import RunningBroker

BROWSER = {"accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
CLI = {"accept": "application/hal+json, application/json"}


@pytest.fixture(scope="module")
def client(broker: RunningBroker) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=broker.url, timeout=30) as client:
        yield client


@pytest.fixture(scope="module")
def data(client: httpx.Client) -> Pages:
    return populate(client)


def q(value: str) -> str:
    return quote(value, safe="")


def integration(data: Pages, consumer: str | None = None) -> str:
    return f"/pacts/provider/{q(data.provider)}/consumer/{q(consumer or data.consumer)}"


def assert_error(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert "errors" in body
    return body


# --- what changed ---------------------------------------------------------------------------


def test_the_diff_names_both_versions_and_shows_the_new_interaction(
    client: httpx.Client, data: Pages
) -> None:
    response = client.get(f"{integration(data)}/version/{q(data.v3)}/diff/previous-distinct")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    # v2 republished v1's content: the previous *distinct* version is v2 (the newest with it).
    assert text.startswith(
        f"# Diff between versions {data.v2} and {data.v3} of the pact between"
        f" {data.consumer} and {data.provider}\n\nThe following changes were made "
    )
    assert '+      "description": "a request for /users/2",' in text
    assert "-" + '      "description"' not in text  # nothing was removed
    assert '"_id"' not in text  # the broker's interaction ids are not content
    links = text.split("## Links\n", 1)[1]
    assert re.search(r"pact-version:\n  title: Pact\n  name: .*\n  href: http://.*/version/", links)
    assert "comparison-pact-version:" in links
    assert q(data.v2) in links


def test_the_diff_of_a_first_content_says_there_is_none(client: httpx.Client, data: Pages) -> None:
    response = client.get(f"{integration(data)}/version/{q(data.v2)}/diff/previous-distinct")

    assert response.status_code == 200
    assert response.text == (
        "No previous distinct version was found for Pact between"
        f" {data.consumer} ({data.v2}) and {data.provider}"
    )


def test_the_pact_links_to_its_diff_and_the_pact_version_form_answers_alike(
    client: httpx.Client, data: Pages
) -> None:
    pact = client.get(f"{integration(data)}/version/{q(data.v3)}").json()
    by_version = client.get(pact["_links"]["pb:diff-previous-distinct"]["href"])
    by_sha = client.get(pact["_links"]["pb:pact-version"]["href"] + "/diff/previous-distinct")

    assert by_version.status_code == by_sha.status_code == 200
    assert by_version.text == by_sha.text


@pytest.mark.parametrize(
    "path",
    [
        "/pacts/provider/nobody/consumer/none/version/1/diff/previous-distinct",
        "/pacts/provider/nobody/consumer/none/pact-version/abc/diff/previous-distinct",
        "/pacts/provider/nobody/provider-states",
        "/pacts/provider/nobody/provider-states/branch/main",
        "/pacts/provider/nobody/consumer/none/pact-version/abc/verification-results/latest",
        "/docs-static/..%2F..%2Fetc%2Fpasswd",
        "/docs-static/openapi.json",
    ],
)
def test_unknown_things_are_404_with_errors(client: httpx.Client, path: str) -> None:
    assert_error(client.get(path), 404)


# --- provider states ------------------------------------------------------------------------


def test_provider_states_of_the_main_branch_as_the_real_broker_lists_them(
    client: httpx.Client, data: Pages
) -> None:
    response = client.get(f"/pacts/provider/{q(data.provider)}/provider-states")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/hal+json")
    # The failing consumer's pact has no state; web-app's main-branch head is v2 (one state).
    assert response.json() == {
        "providerStates": [
            {"name": "user 1 exists", "params": {"id": 1}, "consumers": [data.consumer]}
        ]
    }


def test_provider_states_of_a_branch_are_sorted_by_name(client: httpx.Client, data: Pages) -> None:
    response = client.get(f"/pacts/provider/{q(data.provider)}/provider-states/branch/feat%2Fmore")

    # As the real broker's spec (list_provider_states_spec.rb): no `params` key when none.
    assert response.json()["providerStates"] == [
        {"name": "a state nobody knows", "consumers": [data.consumer]},
        {"name": "user 1 exists", "params": {"id": 1}, "consumers": [data.consumer]},
    ]


# --- badges ---------------------------------------------------------------------------------


def badge(response: httpx.Response) -> tuple[str, str]:
    """The badge's title text ("label: message") and its right-hand colour."""
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "image/svg+xml"
    assert response.headers["cache-control"] == "no-cache"
    title = re.search(r"<title>(.*?)</title>", response.text)
    fills = re.findall(r'<path fill="(#[0-9a-f]+)"', response.text)
    assert title is not None, response.text
    assert len(fills) == 2, response.text
    return title.group(1), fills[1]


def test_pact_badges_say_verified_failed_changed_and_unknown_in_the_real_colours(
    client: httpx.Client, data: Pages
) -> None:
    consumer, provider = data.consumer.lower(), data.provider.lower()
    # The latest pact (v3) changed since v1's content was verified.
    assert badge(client.get(f"{integration(data)}/latest/badge")) == (
        f"{consumer}/{provider} pact: changed",
        COLOURS["orange"],
    )
    assert badge(client.get(f"{integration(data)}/badge")) == badge(
        client.get(f"{integration(data)}/latest/badge")
    )
    # The latest pact tagged rc (v2) has the content v1 had, verified.
    assert badge(client.get(f"{integration(data)}/latest/rc/badge")) == (
        f"{consumer}/{provider} pact: verified",
        COLOURS["brightgreen"],
    )
    failing = integration(data, data.failing_consumer)
    assert badge(client.get(f"{failing}/latest/badge", params={"label": "consumer"})) == (
        f"{data.failing_consumer.lower()} pact: failed",
        COLOURS["red"],
    )
    assert badge(client.get("/pacts/provider/nobody/consumer/none/latest/badge")) == (
        "pact not found: unknown",
        COLOURS["lightgrey"],
    )


def test_a_pact_badge_is_unknown_before_any_verification(client: httpx.Client) -> None:
    from broker.testing import pact_document, publish_body, unique_name

    consumer, provider = unique_name("Web_App-"), unique_name("user-api-")
    document = pact_document(consumer, provider, ["/x"])
    client.post("/contracts/publish", json=publish_body(document, "1"))
    path = f"/pacts/provider/{provider}/consumer/{consumer}/latest/badge"

    assert badge(client.get(path))[1] == COLOURS["lightgrey"]
    assert badge(client.get(path, params={"initials": "true"}))[0].endswith("pact: unknown")
    assert_error(client.get(path, params={"initials": "perhaps"}), 400)
    assert "\x00" not in client.get(path, params={"label": "consumer\x00"}).text


def test_can_i_deploy_badges_follow_the_matrix(client: httpx.Client, data: Pages) -> None:
    pacticipant = client.get(f"/pacticipants/{q(data.consumer)}").json()
    template = pacticipant["_links"]["pb:can-i-deploy-branch-to-environment-badge"]["href"]
    main = template.replace("{branch}", "main").replace("{environment}", "production")
    # v2 (main's head) has v1's content, verified by a provider version deployed nowhere.
    assert badge(client.get(main)) == ("can-i-deploy: main to production", COLOURS["red"])
    provider = client.get(f"/pacticipants/{q(data.provider)}/versions/{q(data.provider_version)}")
    (production,) = (
        link
        for link in provider.json()["_links"]["pb:record-deployment"]
        if link["name"] == "production"
    )
    assert client.post(production["href"], json={}).status_code == 201
    assert badge(client.get(main, params={"label": "deploy"})) == (
        "deploy: main to production",
        COLOURS["brightgreen"],
    )
    assert badge(client.get(template.replace("{branch}", "nope").replace("{environment}", "x")))[
        0
    ] == ("branch: not found")
    assert badge(client.get(main.replace("production", "mars")))[0] == "environment: not found"

    by_tag = pacticipant["_links"]["pb:can-i-deploy-badge"]["href"]
    assert pacticipant["_links"]["pb:can-i-deploy-badge"]["templated"] is True
    tagged = by_tag.replace("{tag}", "rc").replace("{environmentTag}", "prod")
    assert badge(client.get(tagged))[0] == "can-i-deploy: rc to prod"
    unknown = by_tag.replace("{tag}", "nope").replace("{environmentTag}", "prod")
    assert badge(client.get(unknown))[0] == "version: not found"
    nobody = "/pacticipants/nobody/branches/main/latest-version/can-i-deploy/to-environment/x/badge"
    assert badge(client.get(nobody))[0] == "pacticipant: not found"


def test_latest_verification_results_of_a_pact(client: httpx.Client, data: Pages) -> None:
    pact = client.get(f"{integration(data, data.failing_consumer)}/version/{q(data.v1)}").json()
    latest = client.get(pact["_links"]["pb:latest-verification-results"]["href"])
    assert latest.status_code == 200
    assert latest.json()["success"] is False
    unverified = client.get(f"{integration(data)}/version/{q(data.v3)}").json()
    assert_error(client.get(unverified["_links"]["pb:latest-verification-results"]["href"]), 404)


# --- pages ----------------------------------------------------------------------------------


def test_the_page_shows_each_integration_with_its_verdict_and_links(
    client: httpx.Client, data: Pages
) -> None:
    page = client.get("/", headers=BROWSER)

    assert page.status_code == 200
    text = page.text
    # Long versions are shortened on screen, whole in the title.
    assert f'title="{data.v1}"' in text
    assert f">{data.v1}<" not in text
    assert f">{data.v1[:8]}…{data.v1[-5:]}<" in text
    # The failing verdict's reason: the cells that failed and the first mismatch, escaped.
    assert f"2 cells failed: {', '.join(FAILED_CELLS)}" in text
    assert "Verna Hampton&#39; &lt;b&gt;but&lt;/b&gt;" in text
    assert MISMATCH not in text
    # v3 changed: not verified, with the provider version that verified the old content.
    assert "the pact changed since provider version" in text
    # Times are relative with the full time in UTC.
    assert re.search(
        r"<time datetime=\"[^\"]+\" title=\"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC\">", text
    )
    for link in (
        "/diff/previous-distinct",
        "/matrix?q%5B%5D%5Bpacticipant%5D=",
        "verification-results/",
    ):
        assert link in text
    assert "⎇ main" in text
    assert "⎇ feat/more" in text


def test_an_older_verification_of_the_same_content_says_so(
    client: httpx.Client, data: Pages
) -> None:
    text = client.get("/", headers=BROWSER).text

    row = text.split(f"<td>{data.same_consumer}</td>", 1)[1].split("</tr>", 1)[0]
    assert f'title="{data.v2}"' in row  # the latest pact is v2's
    assert (
        f'verified for the same content at version <span class="version" title="{data.v1}">' in row
    )


def test_the_matrix_answers_a_browser_with_a_page_and_a_cli_with_json(
    client: httpx.Client, data: Pages
) -> None:
    query = {"q[][pacticipant]": data.failing_consumer, "q[][version]": data.v1, "latestby": "cvpv"}

    page = client.get("/matrix", params=query, headers=BROWSER)
    json_answer = client.get("/matrix", params=query, headers=CLI)

    assert page.headers["content-type"].startswith("text/html")
    assert json_answer.headers["content-type"].startswith("application/hal+json")
    assert json_answer.json()["summary"]["deployable"] is False
    assert "Can I deploy?" in page.text
    assert '<span class="failed">no</span>' in page.text
    assert json_answer.json()["summary"]["reason"] in page.text
    assert f"2 cells failed: {', '.join(FAILED_CELLS)}" in page.text
    # Anything but a browser's Accept gets JSON, as before.
    assert (
        client.get("/matrix", params=query)
        .headers["content-type"]
        .startswith("application/hal+json")
    )


def test_the_matrix_without_a_query_is_every_integration_for_a_browser(
    client: httpx.Client, data: Pages
) -> None:
    page = client.get("/matrix", headers=BROWSER)
    assert page.status_code == 200
    assert data.failing_consumer in page.text
    assert data.consumer in page.text
    assert_error(client.get("/matrix", headers=CLI), 400)
    bad = client.get("/matrix", params={"q[][version]": "1"}, headers=BROWSER)
    assert bad.status_code == 400
    assert "The matrix query is invalid" in bad.text


def test_the_api_documentation_is_served_without_a_cdn(client: httpx.Client) -> None:
    for path in ("/docs", "/redoc"):
        page = client.get(path)
        assert page.status_code == 200
        sources = re.findall(r'(?:src|href)="([^"]+)"', page.text)
        assert sources, page.text
        for source in sources:
            assert source.startswith(str(client.base_url).rstrip("/") + "/docs-static/"), source
            asset = client.get(source)
            assert asset.status_code == 200
            assert len(asset.content) > 1000
    assert "swagger-ui" not in client.get("/openapi.json").json()["paths"].get("/docs", "")
