"""Publishing pacts, finding them again, and recording their verification results."""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from broker import repository
from broker.content import content_sha, with_interaction_ids
from broker.db import now
from broker.errors import Conflict, NotFound

if TYPE_CHECKING:
    import sqlite3

# The columns every pact query returns (see `_PACT_SELECT`).
_PACT_SELECT = """
    SELECT pp.id AS publication_id, pp.created_at, pv.id AS pact_version_id, pv.sha, pv.content,
           c.name AS consumer_name, pr.name AS provider_name, c.id AS consumer_id,
           pr.id AS provider_id, cv.id AS consumer_version_id, cv.number AS consumer_version_number
    FROM pact_publications pp
    JOIN pact_versions pv ON pv.id = pp.pact_version_id
    JOIN pacticipants c ON c.id = pp.consumer_id
    JOIN pacticipants pr ON pr.id = pp.provider_id
    JOIN versions cv ON cv.id = pp.consumer_version_id
"""

# Public for the pages that read pacts by other criteria (diff, provider states).
PACT_SELECT = _PACT_SELECT
MAX_DIFF_LINES = 80


@dataclass(frozen=True)
class Contract:
    """One pact to publish: its parties and its decoded JSON document."""

    consumer_name: str
    provider_name: str
    document: dict[str, Any]


@dataclass(frozen=True)
class PublishedPact:
    consumer_name: str
    provider_name: str
    consumer_version_number: str
    sha: str
    outcome: Literal["created", "unchanged"]


@dataclass
class PublishResult:
    pacticipant: sqlite3.Row
    version: sqlite3.Row
    tags: list[str]
    branch: str | None
    pacts: list[PublishedPact] = field(default_factory=list)
    notices: list[dict[str, str]] = field(default_factory=list)


class ContentConflict(Exception):
    """A consumer version's pact was published again with different content."""

    def __init__(self, consumer: str, version: str, provider: str, diff: str) -> None:
        super().__init__(
            f"Cannot change the content of the pact for {consumer} version {version} and"
            f" provider {provider}, as race conditions will cause unreliable results for"
            " can-i-deploy. Each pact must be published with a unique consumer version number."
            " Nothing was changed. Use a new consumer version number (for example the git"
            " commit sha) for the changed pact."
        )
        self.diff = diff


def publish_contracts(
    connection: sqlite3.Connection,
    *,
    pacticipant_name: str,
    version_number: str,
    branch: str | None,
    tags: list[str],
    build_url: str | None,
    contracts: list[Contract],
) -> PublishResult:
    """Publish a consumer version's pacts with its branch and tags, all or nothing.

    Mirrors pact_broker `lib/pact_broker/contracts/service.rb`: conflicts are checked for every
    contract before anything is written, and reported together as a 409.
    """
    consumer = repository.ensure_pacticipant(connection, pacticipant_name)
    version, _ = repository.ensure_version(connection, consumer["id"], version_number, build_url)
    conflicts = [
        conflict
        for contract in contracts
        if (conflict := _conflict(connection, version, contract)) is not None
    ]
    if conflicts:
        notices = [{"type": "error", "text": str(conflict)} for conflict in conflicts]
        notices += [{"type": "info", "text": conflict.diff} for conflict in conflicts]
        raise Conflict({"contracts": [str(conflict) for conflict in conflicts]}, notices=notices)
    if branch:
        repository.add_branch(connection, version, branch)
    for tag in tags:
        repository.add_tag(connection, version, tag)
    result = PublishResult(consumer, version, tags, branch)
    for contract in contracts:
        published = publish_pact(connection, version, contract)
        result.pacts.append(published)
        result.notices.append({"type": published_notice_type(published), "text": _text(published)})
    version = repository.find_version(connection, consumer["id"], version_number) or version
    result.version = version
    return result


def published_notice_type(published: PublishedPact) -> str:
    return "success" if published.outcome == "created" else "warning"


def _text(published: PublishedPact) -> str:
    what = (
        "published successfully"
        if published.outcome == "created"
        else "republished with no content changes"
    )
    return (
        f"Pact between {published.consumer_name} (v{published.consumer_version_number}) and"
        f" {published.provider_name} {what}"
    )


def _conflict(
    connection: sqlite3.Connection, version: sqlite3.Row, contract: Contract
) -> ContentConflict | None:
    provider = repository.find_pacticipant(connection, contract.provider_name)
    if provider is None:
        return None
    existing = connection.execute(
        "SELECT pv.sha, pv.content FROM pact_publications pp JOIN pact_versions pv"
        " ON pv.id = pp.pact_version_id WHERE pp.consumer_version_id = ? AND pp.provider_id = ?",
        (version["id"], provider["id"]),
    ).fetchone()
    if existing is None or existing["sha"] == content_sha(contract.document):
        return None
    return ContentConflict(
        contract.consumer_name,
        version["number"],
        contract.provider_name,
        _diff(json.loads(existing["content"]), contract.document),
    )


def _diff(old: dict[str, Any], new: dict[str, Any]) -> str:
    def lines(document: dict[str, Any]) -> list[str]:
        stripped = with_interaction_ids(document)
        for key in ("interactions", "messages"):
            if isinstance(stripped.get(key), list):
                stripped[key] = [
                    {k: v for k, v in item.items() if k != "_id"}
                    if isinstance(item, dict)
                    else item
                    for item in stripped[key]
                ]
        stripped.pop("metadata", None)
        return json.dumps(stripped, indent=2, sort_keys=True).splitlines()

    diff = list(difflib.unified_diff(lines(old), lines(new), "published", "new", lineterm="", n=2))
    if len(diff) > MAX_DIFF_LINES:
        diff = [*diff[:MAX_DIFF_LINES], f"... ({len(diff) - MAX_DIFF_LINES} more lines)"]
    return "\n".join(["Differences from the content already published:", *diff])


def publish_pact(
    connection: sqlite3.Connection, version: sqlite3.Row, contract: Contract
) -> PublishedPact:
    """Store one pact for a consumer version; `Conflict` if it differs from the stored one."""
    consumer = repository.ensure_pacticipant(connection, contract.consumer_name)
    provider = repository.ensure_pacticipant(connection, contract.provider_name)
    if (conflict := _conflict(connection, version, contract)) is not None:
        raise Conflict(
            {"contracts": [str(conflict)]},
            notices=[
                {"type": "error", "text": str(conflict)},
                {"type": "info", "text": conflict.diff},
            ],
        )
    sha = content_sha(contract.document)
    connection.execute(
        "INSERT INTO pact_versions (consumer_id, provider_id, sha, content, created_at)"
        " VALUES (?, ?, ?, ?, ?) ON CONFLICT (consumer_id, provider_id, sha) DO NOTHING",
        (
            consumer["id"],
            provider["id"],
            sha,
            json.dumps(with_interaction_ids(contract.document), ensure_ascii=False),
            now(),
        ),
    )
    cursor = connection.execute(
        "INSERT INTO pact_publications (consumer_id, provider_id, consumer_version_id,"
        " pact_version_id, created_at) SELECT ?, ?, ?, id, ? FROM pact_versions"
        " WHERE consumer_id = ? AND provider_id = ? AND sha = ?"
        " ON CONFLICT (consumer_version_id, provider_id) DO NOTHING",
        (consumer["id"], provider["id"], version["id"], now(), consumer["id"], provider["id"], sha),
    )
    return PublishedPact(
        contract.consumer_name,
        contract.provider_name,
        version["number"],
        sha,
        "created" if cursor.rowcount == 1 else "unchanged",
    )


# --- finding pacts --------------------------------------------------------------------------


def find_pact(
    connection: sqlite3.Connection, provider: str, consumer: str, version_number: str
) -> sqlite3.Row:
    row: sqlite3.Row | None = connection.execute(
        _PACT_SELECT + " WHERE pr.name = ? AND c.name = ? AND cv.number = ?",
        (provider, consumer, version_number),
    ).fetchone()
    if row is None:
        raise NotFound(f"The pact between {consumer} version {version_number} and {provider}")
    return row


def find_pact_by_sha(
    connection: sqlite3.Connection, provider: str, consumer: str, sha: str
) -> sqlite3.Row:
    """A pact content, with the newest consumer version that published it."""
    row: sqlite3.Row | None = connection.execute(
        _PACT_SELECT + " WHERE pr.name = ? AND c.name = ? AND pv.sha = ? ORDER BY cv.id DESC",
        (provider, consumer, sha),
    ).fetchone()
    if row is None:
        raise NotFound(f"The pact version {sha} between {consumer} and {provider}")
    return row


def latest_pact(
    connection: sqlite3.Connection,
    provider: str,
    consumer: str,
    *,
    tag: str | None = None,
    branch: str | None = None,
) -> sqlite3.Row:
    """The pact of the newest consumer version (with a tag / on a branch) that has one."""
    where = " WHERE pr.name = ? AND c.name = ?"
    parameters: list[object] = [provider, consumer]
    if tag is not None:
        where += " AND EXISTS (SELECT 1 FROM tags t WHERE t.version_id = cv.id AND t.name = ?)"
        parameters.append(tag)
    if branch is not None:
        where += (
            " AND EXISTS (SELECT 1 FROM branch_versions bv JOIN branches b ON b.id = bv.branch_id"
            " WHERE bv.version_id = cv.id AND b.name = ?)"
        )
        parameters.append(branch)
    row: sqlite3.Row | None = connection.execute(
        _PACT_SELECT + where + " ORDER BY cv.id DESC LIMIT 1", parameters
    ).fetchone()
    if row is None:
        raise NotFound(f"The latest pact between {consumer} and {provider}")
    return row


def latest_pacts(
    connection: sqlite3.Connection, provider: str | None = None, tag: str | None = None
) -> list[sqlite3.Row]:
    """The newest pact of every integration (optionally of one provider, with one tag)."""
    tag_filter = (
        " AND EXISTS (SELECT 1 FROM tags t WHERE t.version_id = pp.consumer_version_id"
        " AND t.name = :tag)"
    )
    latest = (
        "SELECT consumer_id, provider_id, MAX(consumer_version_id) AS version_id"
        " FROM pact_publications pp WHERE (:provider IS NULL OR provider_id ="
        " (SELECT id FROM pacticipants WHERE name = :provider))"
        + (tag_filter if tag is not None else "")
        + " GROUP BY consumer_id, provider_id"
    )
    return connection.execute(
        _PACT_SELECT + f" JOIN ({latest}) latest ON latest.consumer_id = pp.consumer_id"
        " AND latest.provider_id = pp.provider_id AND latest.version_id = pp.consumer_version_id"
        " ORDER BY c.name, pr.name",
        {"provider": provider, "tag": tag},
    ).fetchall()


def find_pacts(
    connection: sqlite3.Connection,
    provider: str,
    *,
    consumer: str | None = None,
    tag: str | None = None,
    branch: str | None = None,
    main_branch: bool = False,
    latest: bool = False,
) -> list[sqlite3.Row]:
    """A provider's pacts (of one consumer, with a tag, on a branch), newest first.

    `latest` keeps the newest per consumer. These lists back the index's pact-list relations.
    """
    where = " WHERE pr.name = :provider AND (:consumer IS NULL OR c.name = :consumer)"
    if tag is not None:
        where += " AND EXISTS (SELECT 1 FROM tags t WHERE t.version_id = cv.id AND t.name = :tag)"
    if branch is not None or main_branch:
        branch_name = "c.main_branch" if main_branch else ":branch"
        where += (
            " AND EXISTS (SELECT 1 FROM branch_versions bv JOIN branches b ON b.id = bv.branch_id"
            f" WHERE bv.version_id = cv.id AND b.name = {branch_name})"
        )
    parameters = {"provider": provider, "consumer": consumer, "tag": tag, "branch": branch}
    rows = connection.execute(_PACT_SELECT + where + " ORDER BY cv.id DESC", parameters).fetchall()
    if not latest:
        return rows
    newest: dict[str, sqlite3.Row] = {}
    for row in rows:
        newest.setdefault(row["consumer_name"], row)
    return list(newest.values())


# --- verification results -------------------------------------------------------------------


@dataclass(frozen=True)
class VerificationInput:
    success: bool
    provider_version_number: str
    build_url: str | None
    verified_by: dict[str, Any] | None
    test_results: list[Any] | dict[str, Any] | None
    wip: bool


def record_verification(
    connection: sqlite3.Connection, pact: sqlite3.Row, result: VerificationInput
) -> sqlite3.Row:
    provider_version, _ = repository.ensure_version(
        connection, pact["provider_id"], result.provider_version_number
    )
    cursor = connection.execute(
        "INSERT INTO verifications (pact_version_id, consumer_id, provider_id,"
        " provider_version_id, success, wip, build_url, verified_by, test_results, created_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            pact["pact_version_id"],
            pact["consumer_id"],
            pact["provider_id"],
            provider_version["id"],
            result.success,
            result.wip,
            result.build_url,
            json.dumps(result.verified_by) if result.verified_by is not None else None,
            json.dumps(result.test_results) if result.test_results is not None else None,
            now(),
        ),
    )
    return require_verification(connection, cursor.lastrowid or 0)


def require_verification(connection: sqlite3.Connection, verification_id: int) -> sqlite3.Row:
    row: sqlite3.Row | None = connection.execute(
        "SELECT ve.*, pv.sha, c.name AS consumer_name, p.name AS provider_name,"
        " v.number AS provider_version_number FROM verifications ve"
        " JOIN pact_versions pv ON pv.id = ve.pact_version_id"
        " JOIN pacticipants c ON c.id = ve.consumer_id JOIN pacticipants p ON p.id = ve.provider_id"
        " JOIN versions v ON v.id = ve.provider_version_id WHERE ve.id = ?",
        (verification_id,),
    ).fetchone()
    if row is None:
        raise NotFound(f"Verification result {verification_id}")
    return row
