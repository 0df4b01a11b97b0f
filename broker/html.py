"""The HTML pages for browsers: `/` (integrations, recent results, environments) and `/matrix`.

Jinja2 with autoescaping renders them (templates under `broker/templates/`). Versions such as
`<40-hex sha>+dirty.<digest>` are shortened on screen with the full value in `title` and the
link, so the pages fit 1,280 px whatever the versions.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote_plus, urlencode

import jinja2
from starlette.responses import HTMLResponse

from broker import matrix, pacts, repository
from broker.diff import previous_distinct
from broker.errors import BrokerError

if TYPE_CHECKING:
    import sqlite3

    from broker.hal import Urls

# How many of the newest verification results the page lists.
MATRIX_ROWS = 50
# Versions longer than this are shown as their head and tail with the full value on hover.
SHORT_VERSION = 14


@cache
def _environment() -> jinja2.Environment:
    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("broker", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )
    environment.filters["short"] = short
    environment.filters["relative"] = relative
    environment.filters["full_time"] = full_time
    return environment


def short(version: str | None) -> str:
    """`0123456789ab…f00d`: the head says which commit, the tail tells dirty builds apart."""
    if version is None:
        return "?"
    if len(version) <= SHORT_VERSION:
        return version
    return f"{version[:8]}…{version[-5:]}"


def _parse(timestamp: str) -> datetime:
    moment = datetime.fromisoformat(timestamp)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def full_time(timestamp: str) -> str:
    return _parse(timestamp).astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def relative(timestamp: str, now: datetime | None = None) -> str:
    seconds = int(((now or datetime.now(UTC)) - _parse(timestamp)).total_seconds())
    if seconds < 60:
        return "just now"
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            count = seconds // size
            return f"{count} {unit}{'s' if count != 1 else ''} ago"
    raise AssertionError("unreachable")  # pragma: no cover


@dataclass
class Verdict:
    """A verification result as a person reads it: passed or why not, by whom, when."""

    success: bool
    provider_version: str
    verified_at: str
    href: str
    failed_cells: list[str] = field(default_factory=list)
    first_mismatch: str | None = None
    # The consumer version the verified content was published for, when it is not the one shown.
    same_content_at: str | None = None


@dataclass
class Integration:
    consumer: str
    provider: str
    version: str
    branches: list[str]
    tags: list[str]
    published_at: str
    pact_href: str
    diff_href: str | None
    matrix_href: str
    verdict: Verdict | None
    # When the content is unverified but an older content was: the provider version of that.
    changed_since: str | None = None


def _reason(test_results: str | None) -> tuple[list[str], str | None]:
    """The cells that failed and the first mismatch, from the result's `testResults`."""
    try:
        results = json.loads(test_results) if test_results else []
    except ValueError:
        return [], None
    cells: list[str] = []
    first: str | None = None
    for result in results if isinstance(results, list) else []:
        if not isinstance(result, dict) or result.get("success") is not False:
            continue
        cell = result.get("cell")
        if isinstance(cell, str) and cell not in cells:
            cells.append(cell)
        for mismatch in result.get("mismatches") or []:
            if first is None and isinstance(mismatch, dict) and mismatch.get("description"):
                where = result.get("interactionDescription")
                first = f"{where}: {mismatch['description']}" if where else mismatch["description"]
        if first is None and result.get("exceptions"):
            exceptions = result["exceptions"]
            if isinstance(exceptions, list) and exceptions and isinstance(exceptions[0], dict):
                first = str(exceptions[0].get("message", ""))
    return cells, first


def _verdict(
    connection: sqlite3.Connection, urls: Urls, pact: sqlite3.Row, row: sqlite3.Row
) -> Verdict:
    cells, first = _reason(row["test_results"])
    # The newest consumer version with this content when it was verified.
    verified_for = connection.execute(
        "SELECT v.number FROM pact_publications pp JOIN versions v ON v.id = pp.consumer_version_id"
        " WHERE pp.pact_version_id = ? AND pp.created_at <= ?"
        " ORDER BY pp.consumer_version_id DESC LIMIT 1",
        (row["pact_version_id"], row["created_at"]),
    ).fetchone()
    same_content_at = (
        verified_for["number"]
        if verified_for is not None and verified_for["number"] != pact["consumer_version_number"]
        else None
    )
    return Verdict(
        success=bool(row["success"]),
        provider_version=row["provider_version"],
        verified_at=row["created_at"],
        href=urls.verification_result(
            pact["provider_name"], pact["consumer_name"], pact["sha"], row["id"]
        ),
        failed_cells=cells,
        first_mismatch=first,
        same_content_at=same_content_at,
    )


_LATEST_VERIFICATION = """
    SELECT ve.id, ve.success, ve.created_at, ve.test_results, ve.pact_version_id,
           v.number AS provider_version
    FROM verifications ve JOIN versions v ON v.id = ve.provider_version_id
    WHERE ve.pact_version_id = ? ORDER BY ve.id DESC LIMIT 1
"""


def matrix_href(urls: Urls, consumer: str, version: str) -> str:
    query = urlencode(
        [("q[][pacticipant]", consumer), ("q[][version]", version), ("latestby", "cvpv")]
    )
    return f"{urls.base}/matrix?{query}"


def integrations(connection: sqlite3.Connection, urls: Urls) -> list[Integration]:
    found = []
    for pact in pacts.latest_pacts(connection):
        consumer, provider = pact["consumer_name"], pact["provider_name"]
        number = pact["consumer_version_number"]
        verification = connection.execute(
            _LATEST_VERIFICATION, (pact["pact_version_id"],)
        ).fetchone()
        changed_since = None
        if verification is None:
            older = connection.execute(
                "SELECT v.number FROM verifications ve JOIN versions v"
                " ON v.id = ve.provider_version_id WHERE ve.consumer_id = ? AND ve.provider_id = ?"
                " ORDER BY ve.id DESC LIMIT 1",
                (pact["consumer_id"], pact["provider_id"]),
            ).fetchone()
            changed_since = older["number"] if older is not None else None
        pact_href = urls.pact(provider, consumer, number)
        found.append(
            Integration(
                consumer=consumer,
                provider=provider,
                version=number,
                branches=repository.version_branch_names(connection, pact["consumer_version_id"]),
                tags=[
                    tag["name"]
                    for tag in repository.version_tags(connection, pact["consumer_version_id"])
                ],
                published_at=pact["created_at"],
                pact_href=pact_href,
                diff_href=(
                    pact_href + "/diff/previous-distinct"
                    if previous_distinct(connection, pact) is not None
                    else None
                ),
                matrix_href=matrix_href(urls, consumer, number),
                verdict=(
                    _verdict(connection, urls, pact, verification)
                    if verification is not None
                    else None
                ),
                changed_since=changed_since,
            )
        )
    return found


_RECENT_VERIFICATIONS = """
    SELECT ve.id, c.name AS consumer, pr.name AS provider, pv.number AS provider_version,
           ve.success, ve.created_at, ve.test_results, pvs.sha,
           (SELECT v.number FROM pact_publications pp
            JOIN versions v ON v.id = pp.consumer_version_id
            WHERE pp.pact_version_id = ve.pact_version_id AND pp.created_at <= ve.created_at
            ORDER BY pp.consumer_version_id DESC LIMIT 1) AS consumer_version
    FROM verifications ve
    JOIN pacticipants c ON c.id = ve.consumer_id
    JOIN pacticipants pr ON pr.id = ve.provider_id
    JOIN versions pv ON pv.id = ve.provider_version_id
    JOIN pact_versions pvs ON pvs.id = ve.pact_version_id
    ORDER BY ve.id DESC LIMIT ?
"""

_IN_ENVIRONMENTS = """
    SELECT e.name AS environment, p.name AS pacticipant, v.number AS version,
           'deployed' AS how, d.created_at AS created_at
    FROM deployed_versions d JOIN environments e ON e.id = d.environment_id
    JOIN pacticipants p ON p.id = d.pacticipant_id JOIN versions v ON v.id = d.version_id
    WHERE d.undeployed_at IS NULL
    UNION ALL
    SELECT e.name, p.name, v.number, 'released', r.created_at
    FROM released_versions r JOIN environments e ON e.id = r.environment_id
    JOIN pacticipants p ON p.id = r.pacticipant_id JOIN versions v ON v.id = r.version_id
    WHERE r.support_ended_at IS NULL
    ORDER BY environment, pacticipant, created_at
"""


def _recent(connection: sqlite3.Connection, urls: Urls) -> list[dict[str, Any]]:
    rows = []
    for row in connection.execute(_RECENT_VERIFICATIONS, (MATRIX_ROWS,)):
        cells, first = _reason(row["test_results"])
        rows.append(
            {
                "consumer": row["consumer"],
                "consumer_version": row["consumer_version"],
                "provider": row["provider"],
                "provider_version": row["provider_version"],
                "success": bool(row["success"]),
                "created_at": row["created_at"],
                "failed_cells": cells,
                "first_mismatch": first,
                "href": urls.verification_result(
                    row["provider"], row["consumer"], row["sha"], row["id"]
                ),
            }
        )
    return rows


def index_page(connection: sqlite3.Connection, urls: Urls) -> str:
    found = integrations(connection, urls)
    counts = {
        "verified": sum(1 for i in found if i.verdict is not None and i.verdict.success),
        "failing": sum(1 for i in found if i.verdict is not None and not i.verdict.success),
        "unverified": sum(1 for i in found if i.verdict is None),
    }
    return (
        _environment()
        .get_template("index.html")
        .render(
            base=urls.base,
            integrations=found,
            counts=counts,
            recent=_recent(connection, urls),
            matrix_rows=MATRIX_ROWS,
            environments=[dict(row) for row in connection.execute(_IN_ENVIRONMENTS)],
        )
    )


def matrix_page(
    connection: sqlite3.Connection,
    urls: Urls,
    answer: dict[str, Any] | None,
    query: str,
    error: str | None = None,
) -> str:
    """`/matrix` for a browser: the rows can-i-deploy gets, or every integration without a query."""
    rows = []
    for row in (answer or {}).get("matrix", []):
        verification = row.get("verificationResult")
        cells: list[str] = []
        first = None
        if verification is not None:
            verification_id = int(verification["_links"]["self"]["href"].rsplit("/", 1)[-1])
            stored = connection.execute(
                "SELECT test_results FROM verifications WHERE id = ?", (verification_id,)
            ).fetchone()
            cells, first = _reason(stored["test_results"] if stored else None)
        provider_version = row["provider"]["version"]
        rows.append(
            {
                "consumer": row["consumer"]["name"],
                "consumer_version": row["consumer"]["version"]["number"],
                "consumer_branch": row["consumer"]["version"].get("branch"),
                "provider": row["provider"]["name"],
                "provider_version": provider_version["number"] if provider_version else None,
                "pact_href": row["pact"]["_links"]["self"]["href"],
                "published_at": row["pact"]["createdAt"],
                "verification": verification,
                "failed_cells": cells,
                "first_mismatch": first,
                "ignored": bool(row.get("ignored")),
            }
        )
    return (
        _environment()
        .get_template("matrix.html")
        .render(
            base=urls.base,
            summary=(answer or {}).get("summary"),
            notices=(answer or {}).get("notices", []),
            rows=rows,
            query=query,
            error=error,
            integrations=integrations(connection, urls) if answer is None else [],
        )
    )


def matrix_response(
    connection: sqlite3.Connection, urls: Urls, pairs: list[tuple[str, str]], query: str
) -> HTMLResponse:
    """The page for `/matrix`: without a query every integration, a bad query a 400 page."""
    if not pairs:
        return HTMLResponse(matrix_page(connection, urls, None, query))
    try:
        answer = matrix.can_i_deploy(connection, urls, pairs)
    except BrokerError as error:
        message = "; ".join(" ".join(texts) for texts in error.errors.values())
        page = matrix_page(connection, urls, None, query, f"The matrix query is invalid: {message}")
        return HTMLResponse(page, status_code=error.status)
    return HTMLResponse(matrix_page(connection, urls, answer, unquote_plus(query)))
