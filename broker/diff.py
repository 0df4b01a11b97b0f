"""What changed in a pact: the previous distinct version and the text diff against it.

Follows pact_broker `lib/pact_broker/pacts/diff.rb`: a markdown-ish header, the differences of
the sorted content (interaction ids left out), then the two pacts' links as YAML. The diff
itself is a unified diff of pretty-printed JSON, not the Ruby `Pact::Matchers` format.
"""

from __future__ import annotations

import difflib
import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from broker import pacts
from broker.representations import pact_name

if TYPE_CHECKING:
    import sqlite3

    from broker.hal import Urls

NO_PREVIOUS = "No previous distinct version was found for {name}"


def previous_distinct(connection: sqlite3.Connection, pact: sqlite3.Row) -> sqlite3.Row | None:
    """The newest pact of the integration, before this one, whose content differs."""
    row: sqlite3.Row | None = connection.execute(
        pacts.PACT_SELECT + " WHERE pp.consumer_id = ? AND pp.provider_id = ?"
        " AND pp.consumer_version_id < ? AND pp.pact_version_id != ?"
        " ORDER BY cv.id DESC LIMIT 1",
        (
            pact["consumer_id"],
            pact["provider_id"],
            pact["consumer_version_id"],
            pact["pact_version_id"],
        ),
    ).fetchone()
    return row


def _next_pact(connection: sqlite3.Connection, pact: sqlite3.Row) -> sqlite3.Row | None:
    """The first pact after `pact`: when the newer content was first published."""
    row: sqlite3.Row | None = connection.execute(
        pacts.PACT_SELECT + " WHERE pp.consumer_id = ? AND pp.provider_id = ?"
        " AND pp.consumer_version_id > ? ORDER BY cv.id LIMIT 1",
        (pact["consumer_id"], pact["provider_id"], pact["consumer_version_id"]),
    ).fetchone()
    return row


def _sorted_lines(content: str) -> list[str]:
    document: dict[str, Any] = json.loads(content)
    for key in ("interactions", "messages"):
        if isinstance(document.get(key), list):
            document[key] = [
                {k: v for k, v in item.items() if k != "_id"} if isinstance(item, dict) else item
                for item in document[key]
            ]
    return json.dumps(document, indent=2, sort_keys=True).splitlines()


def words_ago(then: datetime, now: datetime) -> str:
    """Rails' `distance_of_time_in_words`, coarsely: "less than a minute", "3 hours"..."""
    seconds = max(0, int((now - then).total_seconds()))
    if seconds < 60:
        return "less than a minute"
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            count = seconds // size
            return f"{count} {unit}{'s' if count != 1 else ''}"
    raise AssertionError("unreachable")  # pragma: no cover


def diff_previous_distinct(
    connection: sqlite3.Connection, urls: Urls, pact: sqlite3.Row, now: datetime | None = None
) -> str:
    previous = previous_distinct(connection, pact)
    if previous is None:
        return NO_PREVIOUS.format(name=pact_name(pact))
    changed = _next_pact(connection, previous) or pact
    changed_at = datetime.fromisoformat(changed["created_at"])
    if changed_at.tzinfo is None:
        changed_at = changed_at.replace(tzinfo=UTC)
    header = (
        f"# Diff between versions {previous['consumer_version_number']} and"
        f" {pact['consumer_version_number']} of the pact between {pact['consumer_name']} and"
        f" {pact['provider_name']}\n\nThe following changes were made"
        f" {words_ago(changed_at, now or datetime.now(UTC))} ago"
        f" ({changed_at.strftime('%Y-%m-%d %H:%M:%S %Z')})"
    )
    body = "\n".join(
        difflib.unified_diff(
            _sorted_lines(previous["content"]),
            _sorted_lines(pact["content"]),
            previous["consumer_version_number"],
            pact["consumer_version_number"],
            lineterm="",
        )
    )
    links = "## Links\n"
    for key, row in (("pact-version", pact), ("comparison-pact-version", previous)):
        href = urls.pact(row["provider_name"], row["consumer_name"], row["consumer_version_number"])
        links += f"\n{key}:\n  title: Pact\n  name: {json.dumps(pact_name(row))}\n  href: {href}"
    return f"{header}\n\n{body}\n\n{links}\n"
