"""Lists of pacts: the index's provider-pacts and pact-versions relations."""

# No `from __future__ import annotations`: FastAPI reads these signatures at runtime.

from typing import Any

from fastapi import APIRouter, Request

from broker import pacts, repository
from broker import representations as rep
from broker.deps import DatabaseDep, UrlsDep
from broker.hal import link
from broker.representations import HalResponse
from broker.strict_json import StrictJsonRoute

router = APIRouter(default_response_class=HalResponse, route_class=StrictJsonRoute)

PROVIDER = "/pacts/provider/{provider:seg}"
INTEGRATION = PROVIDER + "/consumer/{consumer:seg}"


def _list(
    request: Request,
    database: DatabaseDep,
    urls: UrlsDep,
    provider: str,
    **criteria: Any,
) -> dict[str, Any]:
    with database.read() as connection:
        repository.require_pacticipant(connection, provider)
        rows = pacts.find_pacts(connection, provider, **criteria)
    entries = [
        link(
            urls.pact(provider, row["consumer_name"], row["consumer_version_number"]),
            title="Pact",
            name=rep.pact_name(row),
        )
        for row in rows
    ]
    return {
        "_links": {
            "self": link(str(request.url)),
            "provider": link(urls.pacticipant(provider), name=provider),
            "pb:provider": link(urls.pacticipant(provider), name=provider),
            "pb:pacts": entries,
            # The un-prefixed relation is deprecated but still what old verifiers iterate.
            "pacts": entries,
        }
    }


# Literal segments (`latest`, `versions`) are registered before the `{branch}` routes they
# would otherwise be taken for.


@router.get(PROVIDER + "/latest")
def latest_provider_pacts(provider: str, request: Request, db: DatabaseDep, urls: UrlsDep) -> Any:
    """The provider's newest pact per consumer (`pb:latest-provider-pacts`, old verifiers)."""
    return _list(request, db, urls, provider, latest=True)


@router.get(PROVIDER + "/latest/{tag:seg}")
def latest_provider_pacts_with_tag(
    provider: str, tag: str, request: Request, db: DatabaseDep, urls: UrlsDep
) -> Any:
    return _list(request, db, urls, provider, tag=tag, latest=True)


@router.get(PROVIDER)
def provider_pacts(provider: str, request: Request, db: DatabaseDep, urls: UrlsDep) -> Any:
    return _list(request, db, urls, provider)


@router.get(PROVIDER + "/tag/{tag:seg}")
def provider_pacts_with_tag(
    provider: str, tag: str, request: Request, db: DatabaseDep, urls: UrlsDep
) -> Any:
    return _list(request, db, urls, provider, tag=tag)


@router.get(PROVIDER + "/branch")
def provider_pacts_with_main_branch(
    provider: str, request: Request, db: DatabaseDep, urls: UrlsDep
) -> Any:
    return _list(request, db, urls, provider, main_branch=True)


@router.get(PROVIDER + "/branch/latest")
def latest_provider_pacts_with_main_branch(
    provider: str, request: Request, db: DatabaseDep, urls: UrlsDep
) -> Any:
    return _list(request, db, urls, provider, main_branch=True, latest=True)


@router.get(PROVIDER + "/branch/{branch:seg}")
def provider_pacts_with_branch(
    provider: str, branch: str, request: Request, db: DatabaseDep, urls: UrlsDep
) -> Any:
    return _list(request, db, urls, provider, branch=branch)


@router.get(PROVIDER + "/branch/{branch:seg}/latest")
def latest_provider_pacts_with_branch(
    provider: str, branch: str, request: Request, db: DatabaseDep, urls: UrlsDep
) -> Any:
    return _list(request, db, urls, provider, branch=branch, latest=True)


@router.get(INTEGRATION + "/tag/{tag:seg}")
def tagged_pact_versions(
    provider: str, consumer: str, tag: str, request: Request, db: DatabaseDep, urls: UrlsDep
) -> Any:
    return _list(request, db, urls, provider, consumer=consumer, tag=tag)


@router.get(INTEGRATION + "/branch/versions")
def main_branch_pact_versions(
    provider: str, consumer: str, request: Request, db: DatabaseDep, urls: UrlsDep
) -> Any:
    return _list(request, db, urls, provider, consumer=consumer, main_branch=True)


@router.get(INTEGRATION + "/branch/latest/versions")
def latest_main_branch_pact_versions(
    provider: str, consumer: str, request: Request, db: DatabaseDep, urls: UrlsDep
) -> Any:
    return _list(request, db, urls, provider, consumer=consumer, main_branch=True, latest=True)


@router.get(INTEGRATION + "/branch/{branch:seg}")
def branch_pact_versions(
    provider: str, consumer: str, branch: str, request: Request, db: DatabaseDep, urls: UrlsDep
) -> Any:
    return _list(request, db, urls, provider, consumer=consumer, branch=branch)


@router.get(INTEGRATION + "/branch/{branch:seg}/latest/versions")
def latest_branch_pact_versions(
    provider: str, consumer: str, branch: str, request: Request, db: DatabaseDep, urls: UrlsDep
) -> Any:
    return _list(request, db, urls, provider, consumer=consumer, branch=branch, latest=True)
