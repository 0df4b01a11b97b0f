"""The index (HAL or HTML), the heartbeat, the matrix, integrations and metrics."""

# No `from __future__ import annotations`: FastAPI reads these signatures at runtime.

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import HTMLResponse, JSONResponse, Response

from broker import html, matrix, pacts
from broker.deps import DatabaseDep, UrlsDep
from broker.errors import invalid
from broker.hal import index_links, link
from broker.representations import HalResponse
from broker.strict_json import StrictJsonRoute

router = APIRouter(default_response_class=HalResponse, route_class=StrictJsonRoute)


def _wants_html(request: Request) -> bool:
    """Browsers ask for text/html first; clients ask for HAL or JSON (or anything)."""
    accept = request.headers.get("accept", "")
    first = accept.split(",")[0].split(";")[0].strip().lower()
    return first in ("text/html", "application/xhtml+xml")


@router.get("/", response_model=None)
def index(request: Request, database: DatabaseDep, urls: UrlsDep) -> Response | dict[str, Any]:
    if _wants_html(request):
        with database.read() as connection:
            return HTMLResponse(html.index_page(connection, urls))
    return {"_links": index_links(urls)}


@router.get("/diagnostic/status/heartbeat", response_class=JSONResponse)
def heartbeat(urls: UrlsDep) -> dict[str, Any]:
    return {"ok": True, "_links": {"self": link(f"{urls.base}/diagnostic/status/heartbeat")}}


@router.get("/matrix", response_model=None)
def get_matrix(request: Request, database: DatabaseDep, urls: UrlsDep) -> Response | dict[str, Any]:
    """The verification matrix as `pact-broker can-i-deploy` queries it; a page for browsers."""
    pairs = list(request.query_params.multi_items())
    if _wants_html(request):
        with database.read() as connection:
            return html.matrix_response(connection, urls, pairs, request.url.query)
    with database.read() as connection:
        return matrix.can_i_deploy(connection, urls, pairs)


@router.get("/can-i-deploy")
def can_i_deploy(
    database: DatabaseDep,
    urls: UrlsDep,
    pacticipant: str = "",
    version: str = "",
    to: str | None = None,
    environment: str | None = None,
) -> dict[str, Any]:
    """The server-side shortcut: one pacticipant version against a tag or an environment."""
    if not pacticipant or not version:
        raise invalid("pacticipant", "pacticipant and version are required")
    if not to and not environment:
        raise invalid("environment", "either to (a tag) or environment is required")
    pairs = [("q[][pacticipant]", pacticipant), ("q[][version]", version), ("latestby", "cvp")]
    pairs += (
        [("environment", environment)] if environment else [("tag", to or ""), ("latest", "true")]
    )
    with database.read() as connection:
        return matrix.can_i_deploy(connection, urls, pairs)


@router.get("/integrations")
def integrations(database: DatabaseDep, urls: UrlsDep) -> dict[str, Any]:
    with database.read() as connection:
        rows = pacts.latest_pacts(connection)
    return {
        "_embedded": {
            "integrations": [
                {
                    "consumer": {
                        "name": row["consumer_name"],
                        "_links": {"self": link(urls.pacticipant(row["consumer_name"]))},
                    },
                    "provider": {
                        "name": row["provider_name"],
                        "_links": {"self": link(urls.pacticipant(row["provider_name"]))},
                    },
                    "_links": {
                        "pb:latest-pact": link(
                            f"{urls.integration(row['provider_name'], row['consumer_name'])}/latest"
                        )
                    },
                }
                for row in rows
            ]
        },
        "_links": {"self": link(f"{urls.base}/integrations")},
    }


@router.get("/metrics")
def metrics(database: DatabaseDep) -> dict[str, Any]:
    with database.read() as connection:
        count = {
            table: connection.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
            for table in (
                "pacticipants",
                "versions",
                "pact_publications",
                "pact_versions",
                "verifications",
                "environments",
                "deployed_versions",
                "released_versions",
            )
        }
    return {
        "pacticipants": {"count": count["pacticipants"]},
        "pacticipantVersions": {"count": count["versions"]},
        "pactPublications": {"count": count["pact_publications"]},
        "pactVersions": {"count": count["pact_versions"]},
        "verificationResults": {"count": count["verifications"]},
        "environments": {"count": count["environments"]},
        "deployedVersions": {"count": count["deployed_versions"]},
        "releasedVersions": {"count": count["released_versions"]},
    }
