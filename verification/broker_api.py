"""The two questions a verification cell asks a Pact Broker itself, over its public HAL API.

The verifier fetches and verifies pacts on its own; these calls exist so that a cell can
say *which* pacts it was given, interaction by interaction (and fail with a clear message
when there are none), and so that the embedded broker gets this checkout's pacts once.
"""

from __future__ import annotations

import functools
import ssl
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import httpx

from verification.results import PactRef

HAL = "application/hal+json, application/json"
# How long any one request to the broker may take, the cell's and (through the relay) the
# verifier's: a broker that accepts connections but never answers must not hang the cell.
BROKER_TIMEOUT_SECONDS = 10.0


class BrokerError(RuntimeError):
    """The broker could not be asked, or answered something a Pact Broker would not."""


@dataclass(frozen=True)
class BrokerEndpoint:
    url: str
    username: str | None = field(default=None, repr=False)
    password: str | None = field(default=None, repr=False)
    token: str | None = field(default=None, repr=False)

    @contextmanager
    def client(self, timeout: float = BROKER_TIMEOUT_SECONDS) -> Iterator[httpx.Client]:
        auth = (self.username, self.password or "") if self.username else None
        headers = {"Accept": HAL}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        with httpx.Client(
            base_url=self.url.rstrip("/"),
            auth=auth,
            headers=headers,
            timeout=timeout,
            # Loading the CA bundle costs each cell 30-60 ms: only for a broker on https.
            verify=_tls_context() if self.url.startswith("https:") else False,
        ) as client:
            yield client


@functools.cache
def _tls_context() -> ssl.SSLContext:
    """httpx's default TLS set-up, made once: each new client would load the whole CA bundle
    again (30-60 ms), and a cell asks the broker twice."""
    return httpx.create_ssl_context()


def json_of(response: httpx.Response) -> dict[str, Any]:
    if response.status_code in (401, 403):
        raise BrokerError(
            f"the broker refused {response.request.method} {response.request.url.path} "
            f"with {response.status_code}: check PACT_BROKER_USERNAME/PASSWORD or PACT_BROKER_TOKEN"
        )
    if response.is_error:
        raise BrokerError(
            f"{response.request.method} {response.request.url.path} answered "
            f"{response.status_code}: {response.text[:500]}"
        )
    try:
        body = response.json()
    except ValueError:
        raise BrokerError(f"{response.request.url.path} did not answer JSON") from None
    if not isinstance(body, dict):
        raise BrokerError(
            f"{response.request.url.path} answered a {type(body).__name__}, not an object"
        )
    return body


def link(document: dict[str, Any], relation: str) -> str:
    try:
        href = document["_links"][relation]["href"]
    except (KeyError, TypeError):
        raise BrokerError(f"the broker's answer has no {relation!r} link") from None
    return str(href)


def pacts_for_verification(
    endpoint: BrokerEndpoint,
    provider: str,
    *,
    selectors: Sequence[dict[str, Any]],
    provider_branch: str | None,
    include_pending: bool,
    include_wip_since: date | None,
) -> list[PactRef]:
    """The pacts the broker selects for `provider`, as the verifier will ask for them."""
    try:
        with endpoint.client() as client:
            index = json_of(client.get("/"))
            template = link(index, "pb:provider-pacts-for-verification")
            url = template.replace("{provider}", quote(provider, safe=""))
            body: dict[str, Any] = {
                "consumerVersionSelectors": list(selectors),
                "includePendingStatus": include_pending,
            }
            if provider_branch:
                body["providerVersionBranch"] = provider_branch
            if include_wip_since and provider_branch:
                body["includeWipPactsSince"] = include_wip_since.isoformat()
            response = client.post(url, json=body)
            if response.status_code == 404:
                return []  # the broker has never heard of the provider: no pacts for it
            answer = json_of(response)
            pacts = answer.get("_embedded", {}).get("pacts", [])
            return [
                PactRef(
                    consumer=_consumer_of(pact),
                    url=link(pact, "self"),
                    pending=bool(pact.get("verificationProperties", {}).get("pending", False)),
                    wip=bool(pact.get("verificationProperties", {}).get("wip", False)),
                    interaction_ids=_interaction_ids(json_of(client.get(link(pact, "self")))),
                    notices=tuple(
                        str(notice["text"])
                        for notice in pact.get("verificationProperties", {}).get("notices", [])
                        if notice.get("when") == "before_verification" and "text" in notice
                    ),
                )
                for pact in pacts
            ]
    except httpx.HTTPError as error:
        raise BrokerError(f"cannot reach the Pact Broker at {endpoint.url}: {error}") from error


def _interaction_ids(document: dict[str, Any]) -> tuple[str, ...]:
    # The ids the broker gave the interactions (`_id`), which the verifier reports results by.
    items = [*document.get("interactions", []), *document.get("messages", [])]
    return tuple(str(item["_id"]) for item in items if isinstance(item, dict) and "_id" in item)


def _consumer_of(pact: dict[str, Any]) -> str:
    # shortDescription reads "latest pact between UserConsumer and UserProvider";
    # the self link's name is the same text, and the path names the consumer.
    path = httpx.URL(link(pact, "self")).path
    parts = path.split("/")
    try:
        return parts[parts.index("consumer") + 1]
    except (ValueError, IndexError):
        return str(pact.get("shortDescription", "?"))


def pact_document(endpoint: BrokerEndpoint, url: str) -> dict[str, Any]:
    """The pact at `url`, as the broker serves it (each interaction with its `_id`)."""
    try:
        with endpoint.client() as client:
            return json_of(client.get(url))
    except httpx.HTTPError as error:
        raise BrokerError(f"cannot fetch the pact {masked(url)}: {error}") from error


def pact_at(endpoint: BrokerEndpoint, url: str, provider: str) -> PactRef:
    """The pact at `url` (PACT_URL), read with the broker's credentials, checked to be a pact
    for `provider`. Any other answer fails at once, naming the URL (its credentials masked)."""
    shown = masked(url)
    try:
        with endpoint.client() as client:
            document = json_of(client.get(url))
    except httpx.HTTPError as error:
        raise BrokerError(f"cannot fetch PACT_URL {shown}: {error}") from error
    except BrokerError as error:
        raise BrokerError(f"PACT_URL {shown} is not a pact: {error}") from error
    try:
        consumer = str(document["consumer"]["name"])
        for_provider = str(document["provider"]["name"])
    except (KeyError, TypeError):
        raise BrokerError(
            f"PACT_URL {shown} is not a pact: it names no consumer and provider"
        ) from None
    if for_provider != provider:
        raise BrokerError(
            f"PACT_URL {shown} is a pact between {consumer} and {for_provider}, not for {provider}"
        )
    version = document.get("_links", {}).get("pb:consumer-version", {})
    return PactRef(
        consumer=consumer,
        url=url,
        interaction_ids=_interaction_ids(document),
        consumer_version=str(version["name"])
        if isinstance(version, dict) and "name" in version
        else None,
    )


def masked(url: str) -> str:
    """The URL as it may be shown: any user and password in it replaced by ***."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc="***@" + parts.netloc.rsplit("@", 1)[1]))


def providers_with_pacts(endpoint: BrokerEndpoint) -> set[str]:
    """Every provider the broker holds a pact for (`pb:latest-pact-versions`)."""
    try:
        with endpoint.client() as client:
            latest = json_of(client.get("/pacts/latest"))
    except httpx.HTTPError as error:
        raise BrokerError(f"cannot reach the Pact Broker at {endpoint.url}: {error}") from error
    return {
        str(pact["_embedded"]["provider"]["name"])
        for pact in latest.get("pacts", [])
        if isinstance(pact, dict) and "provider" in pact.get("_embedded", {})
    }


def has_pact(endpoint: BrokerEndpoint, provider: str, consumer: str, consumer_version: str) -> bool:
    """Whether the broker holds a pact between the two for this consumer version."""
    path = "/pacts/provider/{}/consumer/{}/version/{}".format(
        *(quote(name, safe="") for name in (provider, consumer, consumer_version))
    )
    try:
        with endpoint.client() as client:
            response = client.get(path)
    except httpx.HTTPError as error:
        raise BrokerError(f"cannot reach the Pact Broker at {endpoint.url}: {error}") from error
    if response.status_code == 404:
        return False
    json_of(response)  # any other answer than a pact is an error
    return True


# The real broker's answer when a pact has no earlier, different content (pacts/diff.rb).
NO_PREVIOUS_DISTINCT = "No previous distinct version was found"


def diff_link(endpoint: BrokerEndpoint, pact_url: str) -> str | None:
    """The pact's `pb:diff-previous-distinct` link, or None when the pact has no previous
    distinct version (or the broker has no such relation) and so nothing changed to show."""
    try:
        with endpoint.client() as client:
            pact = json_of(client.get(pact_url))
            href = pact.get("_links", {}).get("pb:diff-previous-distinct", {}).get("href")
            if not isinstance(href, str):
                return None
            answer = client.get(href, headers={"Accept": "text/plain"})
    except httpx.HTTPError as error:
        raise BrokerError(f"cannot reach the Pact Broker at {endpoint.url}: {error}") from error
    if answer.is_error or answer.text.startswith(NO_PREVIOUS_DISTINCT):
        return None
    return href
