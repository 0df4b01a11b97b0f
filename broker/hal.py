"""HAL link building: every href the broker serves, in one place.

Paths follow pact_broker `lib/pact_broker/api/pact_broker_urls.rb`, so clients that build URLs
from templates or hard-code them (the Rust CLI does both) land on the same routes.
"""

from __future__ import annotations

import base64
import json
from typing import Any
from urllib.parse import quote

from broker import strict_json

HAL_JSON = "application/hal+json"


def segment(value: str) -> str:
    """One URL path segment, with everything that is not unreserved percent-encoded."""
    return quote(value, safe="")


def link(
    href: str, *, title: str | None = None, name: str | None = None, templated: bool = False
) -> dict[str, Any]:
    result: dict[str, Any] = {"href": href}
    if title is not None:
        result["title"] = title
    if name is not None:
        result["name"] = name
    if templated:
        result["templated"] = True
    return result


class Urls:
    """The broker's URLs, absolute against the base URL the client used."""

    def __init__(self, base_url: str) -> None:
        self.base = base_url.rstrip("/")

    def pacticipant(self, name: str) -> str:
        return f"{self.base}/pacticipants/{segment(name)}"

    def version(self, pacticipant: str, number: str) -> str:
        return f"{self.pacticipant(pacticipant)}/versions/{segment(number)}"

    def tag(self, pacticipant: str, number: str, tag: str) -> str:
        return f"{self.version(pacticipant, number)}/tags/{segment(tag)}"

    def branch(self, pacticipant: str, branch: str) -> str:
        return f"{self.pacticipant(pacticipant)}/branches/{segment(branch)}"

    def branch_version(self, pacticipant: str, branch: str, number: str) -> str:
        return f"{self.branch(pacticipant, branch)}/versions/{segment(number)}"

    def environment(self, environment_uuid: str) -> str:
        return f"{self.base}/environments/{segment(environment_uuid)}"

    def deployed_version(self, deployment_uuid: str) -> str:
        return f"{self.base}/deployed-versions/{segment(deployment_uuid)}"

    def released_version(self, release_uuid: str) -> str:
        return f"{self.base}/released-versions/{segment(release_uuid)}"

    def record_deployment(self, pacticipant: str, number: str, environment_uuid: str) -> str:
        return (
            f"{self.version(pacticipant, number)}/deployed-versions/environment/"
            f"{segment(environment_uuid)}"
        )

    def record_release(self, pacticipant: str, number: str, environment_uuid: str) -> str:
        return (
            f"{self.version(pacticipant, number)}/released-versions/environment/"
            f"{segment(environment_uuid)}"
        )

    def integration(self, provider: str, consumer: str) -> str:
        return f"{self.base}/pacts/provider/{segment(provider)}/consumer/{segment(consumer)}"

    def pact(self, provider: str, consumer: str, number: str) -> str:
        return f"{self.integration(provider, consumer)}/version/{segment(number)}"

    def pact_version(
        self, provider: str, consumer: str, sha: str, metadata: dict[str, Any] | None = None
    ) -> str:
        url = f"{self.integration(provider, consumer)}/pact-version/{segment(sha)}"
        if metadata:
            url += f"/metadata/{encode_metadata(metadata)}"
        return url

    def verification_results(
        self, provider: str, consumer: str, sha: str, metadata: dict[str, Any] | None = None
    ) -> str:
        return f"{self.pact_version(provider, consumer, sha, metadata)}/verification-results"

    def verification_result(
        self, provider: str, consumer: str, sha: str, verification_id: int
    ) -> str:
        return f"{self.verification_results(provider, consumer, sha)}/{verification_id}"

    def for_verification(self, provider: str) -> str:
        return f"{self.base}/pacts/provider/{segment(provider)}/for-verification"


def encode_metadata(metadata: dict[str, Any]) -> str:
    """The opaque `/metadata/{...}` path segment that carries WIP and selector context back."""
    raw = json.dumps(metadata, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_metadata(encoded: str) -> dict[str, Any]:
    """The metadata of a pact URL; anything unreadable is treated as no metadata."""
    try:
        raw = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
        value = strict_json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return {}
    return value if isinstance(value, dict) else {}


def index_links(urls: Urls) -> dict[str, Any]:
    """The real broker's index relations (pact_broker `lib/pact_broker/api/resources/index.rb`)."""
    base = urls.base
    pacts = f"{base}/pacts/provider/{{provider}}"
    consumer_pacts = f"{pacts}/consumer/{{consumer}}"
    templated: dict[str, tuple[str, str]] = {
        "pb:publish-pact": (
            f"{consumer_pacts}/version/{{consumerApplicationVersion}}",
            "Publish a pact",
        ),
        "pb:tagged-pact-versions": (
            f"{consumer_pacts}/tag/{{tag}}",
            "All versions of a pact for a given consumer, provider and consumer version tag",
        ),
        "pb:branch-pact-versions": (
            f"{consumer_pacts}/branch/{{branch}}",
            "All versions of a pact for a given consumer, provider and consumer version branch",
        ),
        "pb:latest-branch-pact-versions": (
            f"{consumer_pacts}/branch/{{branch}}/latest/versions",
            "Latest versions of a pact for a given consumer, provider and consumer version branch",
        ),
        "pb:main-branch-pact-versions": (
            f"{consumer_pacts}/branch/versions",
            "All versions of a pact for a given consumer, provider and consumer main branch",
        ),
        "pb:latest-main-branch-pact-versions": (
            f"{consumer_pacts}/branch/latest/versions",
            "Latest versions of a pact for a given consumer, provider and consumer main branch",
        ),
        "pb:provider-pacts-with-main-branch": (
            f"{pacts}/branch",
            "All pact versions for the provider with the consumer's main branch",
        ),
        "pb:provider-pacts-with-branch": (
            f"{pacts}/branch/{{branch}}",
            "All pact versions for the provider with the specified consumer version branch",
        ),
        "pb:latest-provider-pacts-with-main-branch": (
            f"{pacts}/branch/latest",
            "Latest pacts for the provider with the consumer's main branch",
        ),
        "pb:latest-provider-pacts-with-branch": (
            f"{pacts}/branch/{{branch}}/latest",
            "Latest pacts for the provider with the specified consumer version branch",
        ),
        "pb:pacticipant": (f"{base}/pacticipants/{{pacticipant}}", "Fetch pacticipant by name"),
        "pb:latest-provider-pacts": (f"{pacts}/latest", "Latest pacts by provider"),
        "pb:latest-provider-pacts-with-tag": (
            f"{pacts}/latest/{{tag}}",
            "Latest pacts for provider with the specified tag",
        ),
        "pb:provider-pacts-with-tag": (
            f"{pacts}/tag/{{tag}}",
            "All pact versions for the provider with the specified consumer version tag",
        ),
        "pb:provider-pacts": (pacts, "All pact versions for the specified provider"),
        "pb:latest-version": (
            f"{base}/pacticipants/{{pacticipant}}/latest-version",
            "Latest pacticipant version",
        ),
        "pb:latest-tagged-version": (
            f"{base}/pacticipants/{{pacticipant}}/latest-version/{{tag}}",
            "Latest pacticipant version with the specified tag",
        ),
        "pb:webhook": (f"{base}/webhooks/{{uuid}}", "Webhook"),
        "pb:pacticipant-version-tag": (
            f"{base}/pacticipants/{{pacticipant}}/versions/{{version}}/tags/{{tag}}",
            "Get, create or delete a tag for a pacticipant version",
        ),
        "pb:pacticipant-branch": (
            f"{base}/pacticipants/{{pacticipant}}/branches/{{branch}}",
            "Get or delete a pacticipant branch",
        ),
        "pb:pacticipant-branch-version": (
            f"{base}/pacticipants/{{pacticipant}}/branches/{{branch}}/versions/{{version}}",
            "Get or add/create a pacticipant version for a branch",
        ),
        "pb:pacticipant-version": (
            f"{base}/pacticipants/{{pacticipant}}/versions/{{version}}",
            "Get, create or delete a pacticipant version",
        ),
        "pb:can-i-deploy-pacticipant-version-to-tag": (
            f"{base}/can-i-deploy?pacticipant={{pacticipant}}&version={{version}}&to={{tag}}",
            "Determine if an application version can be safely deployed to an environment"
            " identified by the given tag",
        ),
        "pb:can-i-deploy-pacticipant-version-to-environment": (
            f"{base}/can-i-deploy?pacticipant={{pacticipant}}&version={{version}}&environment={{environment}}",
            "Determine if an application version can be safely deployed to an environment",
        ),
        "pb:provider-pacts-for-verification": (
            f"{pacts}/for-verification",
            "Retrieve the pacts for a given provider that should be verified",
        ),
        "beta:provider-pacts-for-verification": (
            f"{pacts}/for-verification",
            "DEPRECATED - please use pb:provider-pacts-for-verification",
        ),
        "pb:environment": (f"{base}/environments/{{uuid}}", "Environment"),
    }
    plain: dict[str, tuple[str, str]] = {
        "self": (base, "Index"),
        "pb:publish-contracts": (f"{base}/contracts/publish", "Publish contracts"),
        "pb:latest-pact-versions": (f"{base}/pacts/latest", "Latest pact versions"),
        "pb:pacticipants": (f"{base}/pacticipants", "Pacticipants"),
        "pb:webhooks": (f"{base}/webhooks", "Webhooks"),
        "pb:integrations": (f"{base}/integrations", "Integrations"),
        "pb:metrics": (f"{base}/metrics", "Get Pact Broker metrics"),
        "pb:environments": (f"{base}/environments", "Environments"),
    }
    links: dict[str, Any] = {
        rel: link(href, title=title, templated=True) for rel, (href, title) in templated.items()
    }
    links.update({rel: link(href, title=title) for rel, (href, title) in plain.items()})
    links["curies"] = [
        {"name": "pb", "href": f"{base}/doc/{{rel}}?context=index", "templated": True},
        {"name": "beta", "href": f"{base}/doc/{{rel}}?context=index", "templated": True},
    ]
    return links
