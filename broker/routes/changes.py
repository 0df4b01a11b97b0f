"""What changed in a pact (`diff/previous-distinct`) and which provider states pacts use."""

# No `from __future__ import annotations`: FastAPI reads these signatures at runtime.

import sqlite3
from typing import Any

from fastapi import APIRouter
from starlette.responses import PlainTextResponse

from broker import pacts, repository
from broker import representations as rep
from broker.deps import DatabaseDep, UrlsDep
from broker.diff import diff_previous_distinct
from broker.errors import NotFound
from broker.provider_states import provider_states
from broker.representations import HalResponse
from broker.routes.pacts import INTEGRATION
from broker.strict_json import StrictJsonRoute

router = APIRouter(default_response_class=HalResponse, route_class=StrictJsonRoute)


@router.get(INTEGRATION + "/version/{version:seg}/diff/previous-distinct")
def diff_by_version(
    provider: str, consumer: str, version: str, database: DatabaseDep, urls: UrlsDep
) -> PlainTextResponse:
    """The real broker's text diff against the previous distinct version of this pact."""
    with database.read() as connection:
        pact = pacts.find_pact(connection, provider, consumer, version)
        return PlainTextResponse(diff_previous_distinct(connection, urls, pact))


@router.get(INTEGRATION + "/pact-version/{sha:seg}/diff/previous-distinct")
def diff_by_sha(
    provider: str, consumer: str, sha: str, database: DatabaseDep, urls: UrlsDep
) -> PlainTextResponse:
    with database.read() as connection:
        pact = pacts.find_pact_by_sha(connection, provider, consumer, sha)
        return PlainTextResponse(diff_previous_distinct(connection, urls, pact))


@router.get("/pacts/provider/{provider:seg}/provider-states")
def states_of_main_branches(provider: str, database: DatabaseDep) -> dict[str, Any]:
    """The states used by the latest pact of each consumer's main branch (the real default)."""
    with database.read() as connection:
        _require_provider(connection, provider)
        return provider_states(
            pacts.find_pacts(connection, provider, main_branch=True, latest=True)
        )


@router.get("/pacts/provider/{provider:seg}/provider-states/branch/{branch:seg}")
def states_of_branch(provider: str, branch: str, database: DatabaseDep) -> dict[str, Any]:
    with database.read() as connection:
        _require_provider(connection, provider)
        return provider_states(pacts.find_pacts(connection, provider, branch=branch, latest=True))


def _require_provider(connection: sqlite3.Connection, provider: str) -> None:
    # The real resource 404s when the provider pacticipant does not exist.
    if repository.find_pacticipant(connection, provider) is None:
        raise NotFound(f"The provider {provider}")


@router.get(INTEGRATION + "/pact-version/{sha:seg}/verification-results/latest")
def latest_verification(
    provider: str, consumer: str, sha: str, database: DatabaseDep, urls: UrlsDep
) -> dict[str, Any]:
    """`pb:latest-verification-results`: the newest result for this pact content."""
    with database.read() as connection:
        pact = pacts.find_pact_by_sha(connection, provider, consumer, sha)
        newest = connection.execute(
            "SELECT MAX(id) FROM verifications WHERE pact_version_id = ?",
            (pact["pact_version_id"],),
        ).fetchone()[0]
        if newest is None:
            raise NotFound(f"A verification result for pact version {sha}")
        return rep.verification(urls, pacts.require_verification(connection, newest))
