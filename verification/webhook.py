"""The broker's webhook that starts this repository's GitHub workflow for each consumer pact
that needs verifying: `nox -s webhook -- OWNER/REPO`.

The broker sends GitHub a `repository_dispatch` (`contract_requiring_verification_published`)
naming the pact's URL and the provider commit and branch to verify; .github/workflows/
verify.yml runs the whole matrix on that pact alone and publishes its verdict.

Made over the broker's API rather than with `pact broker create-or-update-webhook`: that CLI
takes the webhook's headers, GitHub's token among them, only on its command line, where every
user of the machine can read them. The token comes from GITHUB_TOKEN and is printed nowhere.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any
from urllib.parse import quote

import httpx

from broker.webhooks import CONTRACT_REQUIRING_VERIFICATION_PUBLISHED, GITHUB_DISPATCH_BODY
from verification.broker_api import BrokerEndpoint, BrokerError, json_of

GITHUB_API = "https://api.github.com"
REPOSITORY = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")


def webhook_uuid(provider: str, repository: str) -> str:
    """The same uuid every time for one provider and repository: running the command again
    updates the webhook instead of adding a second one."""
    digest = hashlib.sha256(f"{provider}\n{repository}".encode()).hexdigest()
    return f"pact-matrix-{digest[:20]}"


def github_dispatch_webhook(
    provider: str, repository: str, token: str, api: str = GITHUB_API
) -> dict[str, Any]:
    """The webhook, as the Pact Broker's API takes it."""
    if not REPOSITORY.fullmatch(repository):
        raise ValueError(f"{repository!r} is not a GitHub repository's OWNER/REPO")
    return {
        "description": f"Verify {provider}'s pacts that need it in GitHub {repository}",
        "provider": {"name": provider},
        "events": [{"name": CONTRACT_REQUIRING_VERIFICATION_PUBLISHED}],
        "enabled": True,
        "request": {
            "method": "POST",
            "url": f"{api.rstrip('/')}/repos/{repository}/dispatches",
            "headers": {
                "Accept": "application/vnd.github+json",
                "Content-Type": "application/json",
                "Authorization": f"Bearer {token}",
            },
            "body": json.loads(GITHUB_DISPATCH_BODY),
        },
    }


def create_or_update(
    endpoint: BrokerEndpoint, provider: str, repository: str, token: str, api: str = GITHUB_API
) -> str:
    """Create the webhook, or update the one made before; its URL on the broker."""
    path = f"/webhooks/{quote(webhook_uuid(provider, repository), safe='')}"
    webhook = github_dispatch_webhook(provider, repository, token, api)
    with endpoint.client() as client:
        try:
            answer = json_of(client.put(path, json=webhook))
        except httpx.HTTPError as error:
            raise BrokerError(f"cannot reach the broker at {endpoint.url}: {error}") from None
    link = answer.get("_links", {}).get("self", {}).get("href")
    return str(link or endpoint.url.rstrip("/") + path)
