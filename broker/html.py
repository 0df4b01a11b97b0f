"""The HTML view at `/` for browsers: the integrations with their latest pacts and
verification status, the recent verification results, and what runs in each environment."""

from __future__ import annotations

from html import escape
from typing import TYPE_CHECKING

from broker import pacts

if TYPE_CHECKING:
    import sqlite3
    from collections.abc import Iterable, Sequence

    from broker.hal import Urls

# How many of the newest verification results the matrix shows.
MATRIX_ROWS = 50

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem; color: #222; max-width: 80rem; }
table { border-collapse: collapse; width: 100%; margin-bottom: 2rem; }
th, td { text-align: left; padding: .4rem .6rem; border-bottom: 1px solid #ddd; }
th { background: #f4f4f4; }
.ok { color: #17702a; font-weight: bold; } .failed { color: #b3261e; font-weight: bold; }
.unknown { color: #8a6d00; font-weight: bold; }
.summary span { margin-right: 1.5rem; }
"""

_LATEST_VERIFICATION = """
    SELECT ve.success, ve.created_at, v.number AS provider_version FROM verifications ve
    JOIN versions v ON v.id = ve.provider_version_id
    WHERE ve.pact_version_id = ? ORDER BY ve.id DESC LIMIT 1
"""

# Each result with the newest consumer version that published the verified content.
_RECENT_VERIFICATIONS = """
    SELECT c.name AS consumer, pr.name AS provider, pv.number AS provider_version,
           ve.success, ve.created_at,
           (SELECT v.number FROM pact_publications pp
            JOIN versions v ON v.id = pp.consumer_version_id
            WHERE pp.pact_version_id = ve.pact_version_id
            ORDER BY pp.consumer_version_id DESC LIMIT 1) AS consumer_version
    FROM verifications ve
    JOIN pacticipants c ON c.id = ve.consumer_id
    JOIN pacticipants pr ON pr.id = ve.provider_id
    JOIN versions pv ON pv.id = ve.provider_version_id
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


def index_page(connection: sqlite3.Connection, urls: Urls) -> str:
    integrations = []
    counts = {"ok": 0, "failed": 0, "unknown": 0}
    for pact in pacts.latest_pacts(connection):
        verification = connection.execute(
            _LATEST_VERIFICATION, (pact["pact_version_id"],)
        ).fetchone()
        if verification is None:
            kind, status = "unknown", '<span class="unknown">not verified</span>'
        else:
            by = escape(verification["provider_version"])
            if verification["success"]:
                kind, status = "ok", f'<span class="ok">verified</span> by {by}'
            else:
                kind, status = "failed", f'<span class="failed">failed</span> with {by}'
        counts[kind] += 1
        href = urls.pact(
            pact["provider_name"], pact["consumer_name"], pact["consumer_version_number"]
        )
        integrations.append(
            (
                escape(pact["consumer_name"]),
                escape(pact["provider_name"]),
                f'<a href="{escape(href)}">{escape(pact["consumer_version_number"])}</a>',
                _when(pact["created_at"]),
                status,
            )
        )
    recent = [
        (
            escape(row["consumer"]),
            escape(row["consumer_version"] or "?"),
            escape(row["provider"]),
            escape(row["provider_version"]),
            '<span class="ok">passed</span>'
            if row["success"]
            else '<span class="failed">failed</span>',
            _when(row["created_at"]),
        )
        for row in connection.execute(_RECENT_VERIFICATIONS, (MATRIX_ROWS,))
    ]
    environments = [
        (
            escape(row["environment"]),
            escape(row["pacticipant"]),
            escape(row["version"]),
            row["how"],
            _when(row["created_at"]),
        )
        for row in connection.execute(_IN_ENVIRONMENTS)
    ]
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        "<title>Pact Broker</title>"
        f"<style>{_STYLE}</style></head><body>"
        "<h1>Pact Broker</h1>"
        '<p class="summary">'
        f"<span>{len(integrations)} integrations</span>"
        f'<span class="ok">{counts["ok"]} verified</span>'
        f'<span class="failed">{counts["failed"]} failing</span>'
        f'<span class="unknown">{counts["unknown"]} not verified</span></p>'
        "<h2>Integrations</h2>"
        "<p>The latest pact of every integration and its latest verification result.</p>"
        + _table(
            ("Consumer", "Provider", "Latest pact", "Published", "Last verified"),
            integrations,
            "No pacts have been published yet.",
        )
        + f"<h2>Verification matrix</h2><p>The {MATRIX_ROWS} newest verification results.</p>"
        + _table(
            ("Consumer", "Consumer version", "Provider", "Provider version", "Result", "When"),
            recent,
            "No verification results have been published yet.",
        )
        + "<h2>Environments</h2><p>What is deployed, or released and supported, where.</p>"
        + _table(
            ("Environment", "Application", "Version", "How", "Since"),
            environments,
            "Nothing has been recorded as deployed or released.",
        )
        + "<p>The API is HAL+JSON: ask for <code>application/hal+json</code>;"
        ' <a href="/docs">API documentation</a>.</p></body></html>'
    )


def _table(headings: Sequence[str], rows: Iterable[Sequence[str]], empty: str) -> str:
    """Cells are HTML already escaped by the caller."""
    head = "".join(f"<th>{heading}</th>" for heading in headings)
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows)
    if not body:
        body = f'<tr><td colspan="{len(headings)}">{empty}</td></tr>'
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _when(timestamp: str) -> str:
    return escape(timestamp[:19].replace("T", " "))
