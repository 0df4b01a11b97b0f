"""SVG badges: a pact's verification status and can-i-deploy, as the real broker serves them.

An unknown pacticipant, pact, branch or environment is not an error here but a grey badge that
says so (the real broker does the same), so a README never shows a broken image.
"""

# No `from __future__ import annotations`: FastAPI reads these signatures at runtime.

import sqlite3

from fastapi import APIRouter
from starlette.responses import Response

from broker import badge, matrix, pacts
from broker.deps import DatabaseDep, UrlsDep
from broker.errors import BrokerError
from broker.hal import Urls
from broker.routes.pacts import INTEGRATION
from broker.strict_json import StrictJsonRoute

router = APIRouter(route_class=StrictJsonRoute)
SVG = "image/svg+xml"


def _svg(text: str, comment: str = "") -> Response:
    # no-cache as the real broker: the status changes with every verification.
    return Response(comment + text, media_type=SVG, headers={"cache-control": "no-cache"})


_LATEST_VERIFICATION = """
    SELECT ve.id, ve.success, ve.pact_version_id, v.number AS provider_version
    FROM verifications ve JOIN versions v ON v.id = ve.provider_version_id
    WHERE ve.consumer_id = ? AND ve.provider_id = ? AND (? IS NULL OR EXISTS (
        SELECT 1 FROM pact_publications pp JOIN tags t ON t.version_id = pp.consumer_version_id
        WHERE pp.pact_version_id = ve.pact_version_id AND t.name = ?))
    ORDER BY ve.id DESC LIMIT 1
"""


def _pact_badge(
    connection: sqlite3.Connection,
    provider: str,
    consumer: str,
    tag: str | None,
    label: str | None,
    initials: bool,
) -> Response:
    try:
        pact = pacts.latest_pact(connection, provider, consumer, tag=tag)
    except BrokerError:
        return _svg(badge.svg("pact not found", "unknown", "lightgrey"))
    verification = connection.execute(
        _LATEST_VERIFICATION, (pact["consumer_id"], pact["provider_id"], tag, tag)
    ).fetchone()
    status: badge.Status
    if verification is None:
        status = "never"
    elif not verification["success"]:
        status = "failed"
    else:
        # pact_broker PseudoBranchStatus: a pass for older content means the pact "changed".
        same = verification["pact_version_id"] == pact["pact_version_id"]
        status = "success" if same else "stale"
    message, colour = badge.pact_status(status)
    # An XML comment cannot hold "--": version numbers are free text.
    facts = [
        consumer,
        pact["consumer_version_number"],
        provider,
        verification["provider_version"] if verification else "?",
        str(verification["id"]) if verification else "?",
    ]
    c_name, c_version, p_name, p_version, number = (fact.replace("--", "- -") for fact in facts)
    comment = (
        f"<!-- {c_name} version {c_version} revision 1 {p_name} version {p_version}"
        f" number {number} -->\n"
    )
    title = badge.pact_title(consumer, provider, label, initials)
    return _svg(badge.svg(title, message, colour), comment)


@router.get(INTEGRATION + "/badge")
@router.get(INTEGRATION + "/latest/badge")
@router.get(INTEGRATION + "/latest/{tag:seg}/badge")
def pact_badge(
    provider: str,
    consumer: str,
    database: DatabaseDep,
    tag: str | None = None,
    label: str | None = None,
    initials: bool = False,
) -> Response:
    """The latest pact's verification status: verified, failed, changed or unknown."""
    with database.read() as connection:
        return _pact_badge(connection, provider, consumer, tag, label, initials)


def _deploy_badge(
    connection: sqlite3.Connection,
    urls: Urls,
    pacticipant: str,
    checks: list[tuple[str, str, str]],
    pairs: list[tuple[str, str]],
    title: str,
    message: str,
) -> Response:
    """`checks` are (what, SQL, value) that must find a row, else "<what> not found"."""
    for what, sql, value in checks:
        if connection.execute(sql, (pacticipant, value)).fetchone() is None:
            return _svg(badge.svg(what, "not found", "lightgrey"))
    summary = matrix.can_i_deploy(connection, urls, pairs)["summary"]
    colour: badge.Colour = "brightgreen" if summary.get("deployable") is True else "red"
    return _svg(badge.svg(title, message, colour))


_PACTICIPANT = ("pacticipant", "SELECT 1 FROM pacticipants WHERE name = ? AND ? IS NOT NULL", "")
_BRANCH = (
    "SELECT 1 FROM branches b JOIN pacticipants p ON p.id = b.pacticipant_id"
    " WHERE p.name = ? AND b.name = ? AND b.head_version_id IS NOT NULL"
)
_TAG = (
    "SELECT 1 FROM tags t JOIN pacticipants p ON p.id = t.pacticipant_id"
    " WHERE p.name = ? AND t.name = ?"
)
_ENVIRONMENT = "SELECT 1 FROM environments WHERE ? IS NOT NULL AND name = ?"


@router.get(
    "/pacticipants/{pacticipant:seg}/branches/{branch:seg}/latest-version/can-i-deploy/"
    "to-environment/{environment:seg}/badge"
)
def can_i_deploy_branch_badge(
    pacticipant: str,
    branch: str,
    environment: str,
    database: DatabaseDep,
    urls: UrlsDep,
    label: str | None = None,
) -> Response:
    """`pb:can-i-deploy-branch-to-environment-badge`: "<branch> to <environment>"."""
    pairs = [
        ("q[][pacticipant]", pacticipant),
        ("q[][branch]", branch),
        ("q[][latest]", "true"),
        ("environment", environment),
        ("latestby", "cvp"),
    ]
    checks = [_PACTICIPANT, ("branch", _BRANCH, branch), ("environment", _ENVIRONMENT, environment)]
    with database.read() as connection:
        return _deploy_badge(
            connection,
            urls,
            pacticipant,
            checks,
            pairs,
            label or "can-i-deploy",
            f"{branch} to {environment}",
        )


@router.get(
    "/pacticipants/{pacticipant:seg}/latest-version/{tag:seg}/can-i-deploy/to/{to:seg}/badge"
)
def can_i_deploy_tag_badge(
    pacticipant: str,
    tag: str,
    to: str,
    database: DatabaseDep,
    urls: UrlsDep,
    label: str | None = None,
) -> Response:
    """`pb:can-i-deploy-badge`: the latest version with `tag`, to the environment tag `to`."""
    pairs = [
        ("q[][pacticipant]", pacticipant),
        ("q[][tag]", tag),
        ("q[][latest]", "true"),
        ("tag", to),
        ("latest", "true"),
        ("latestby", "cvp"),
    ]
    checks = [_PACTICIPANT, ("version", _TAG, tag)]
    with database.read() as connection:
        return _deploy_badge(
            connection, urls, pacticipant, checks, pairs, label or "can-i-deploy", f"{tag} to {to}"
        )
