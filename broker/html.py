"""The HTML view at `/` for browsers: integrations, their latest pacts and verification status."""

from __future__ import annotations

from html import escape
from typing import TYPE_CHECKING

from broker import pacts

if TYPE_CHECKING:
    import sqlite3

    from broker.hal import Urls

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem; color: #222; }
table { border-collapse: collapse; width: 100%; margin-bottom: 2rem; }
th, td { text-align: left; padding: .4rem .6rem; border-bottom: 1px solid #ddd; }
th { background: #f4f4f4; }
.ok { color: #17702a; font-weight: bold; } .failed { color: #b3261e; font-weight: bold; }
.unknown { color: #8a6d00; }
"""

_LATEST_VERIFICATION = """
    SELECT ve.success, ve.created_at, v.number AS provider_version FROM verifications ve
    JOIN versions v ON v.id = ve.provider_version_id
    WHERE ve.pact_version_id = ? ORDER BY ve.id DESC LIMIT 1
"""


def index_page(connection: sqlite3.Connection, urls: Urls) -> str:
    rows = []
    for pact in pacts.latest_pacts(connection):
        verification = connection.execute(
            _LATEST_VERIFICATION, (pact["pact_version_id"],)
        ).fetchone()
        if verification is None:
            status = '<span class="unknown">not verified</span>'
        elif verification["success"]:
            status = (
                f'<span class="ok">verified</span> by {escape(verification["provider_version"])}'
            )
        else:
            provider_version = escape(verification["provider_version"])
            status = f'<span class="failed">failed</span> with {provider_version}'
        href = urls.pact(
            pact["provider_name"], pact["consumer_name"], pact["consumer_version_number"]
        )
        rows.append(
            "<tr>"
            f"<td>{escape(pact['consumer_name'])}</td>"
            f"<td>{escape(pact['provider_name'])}</td>"
            f'<td><a href="{escape(href)}">{escape(pact["consumer_version_number"])}</a></td>'
            f"<td>{escape(pact['created_at'][:19].replace('T', ' '))}</td>"
            f"<td>{status}</td>"
            "</tr>"
        )
    body = "".join(rows) or '<tr><td colspan="5">No pacts have been published yet.</td></tr>'
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        "<title>Pact Broker</title>"
        f"<style>{_STYLE}</style></head><body>"
        "<h1>Pacts</h1>"
        "<p>The latest pact of every integration and its latest verification result."
        " The API is HAL+JSON: ask for <code>application/hal+json</code>;"
        ' <a href="/docs">API documentation</a>.</p>'
        "<table><thead><tr><th>Consumer</th><th>Provider</th><th>Latest pact</th>"
        "<th>Published</th><th>Last verified</th></tr></thead>"
        f"<tbody>{body}</tbody></table></body></html>"
    )
