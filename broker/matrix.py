"""The verification matrix and the can-i-deploy decision.

The query string is the one `pact-broker can-i-deploy` sends (both CLIs): selectors as
`q[][pacticipant]=A&q[][version]=1&q[][latest]=true...`, a target (`latest`, `tag`, `branch`,
`mainBranch`, `environment`), `latestby=cvp|cvpv` and `ignore[][pacticipant]`. Decision rules
follow pact_broker `lib/pact_broker/matrix/deployment_status_summary.rb`: a missing selected
version is false, a failed verification is false, an unverified pact or a provider missing from
the target is unknown (null), otherwise true.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from broker import repository
from broker.errors import invalid

if TYPE_CHECKING:
    import sqlite3
    from collections.abc import Iterable

    from broker.hal import Urls

SELECTOR_KEYS = ("pacticipant", "version", "latest", "tag", "branch", "mainBranch", "environment")


def parse_nested(pairs: Iterable[tuple[str, str]], prefix: str) -> list[dict[str, str]]:
    """Rack's `a[][k]=v` array-of-hashes: a repeated key starts the next hash."""
    items: list[dict[str, str]] = []
    opening = f"{prefix}[]["
    for key, value in pairs:
        if not (key.startswith(opening) and key.endswith("]")):
            continue
        name = key[len(opening) : -1]
        if not items or name in items[-1]:
            items.append({})
        items[-1][name] = value
    return items


def _true(value: str | None) -> bool:
    return value == "true"


@dataclass(frozen=True)
class Target:
    """The versions of the other pacticipants to check against (`--to...` of can-i-deploy)."""

    latest: bool = False
    tag: str | None = None
    branch: str | None = None
    main_branch: bool = False
    environment: str | None = None

    @property
    def given(self) -> bool:
        return bool(self.latest or self.tag or self.branch or self.main_branch or self.environment)

    def describe(self, pacticipant: str) -> str:
        if self.environment:
            return f"the version of {pacticipant} currently in {self.environment}"
        if self.tag:
            return f"the latest version of {pacticipant} with tag {self.tag}"
        if self.branch:
            return f"the latest version of {pacticipant} from branch {self.branch}"
        if self.main_branch:
            return f"the latest version of {pacticipant} from the main branch"
        return f"the latest version of {pacticipant}"


@dataclass
class Version:
    pacticipant_id: int
    pacticipant: str
    id: int
    number: str


@dataclass
class Row:
    consumer: Version
    provider_name: str
    provider_id: int
    provider: Version | None
    pact: sqlite3.Row
    verification: sqlite3.Row | None
    ignored: bool = False


@dataclass
class Query:
    selectors: list[dict[str, str]]
    target: Target
    latest_by: str | None
    ignore: list[dict[str, str]] = field(default_factory=list)


def parse_query(pairs: list[tuple[str, str]]) -> Query:
    selectors = parse_nested(pairs, "q")
    if not selectors:
        raise invalid("q", "Please provide 1 or more version selectors.")
    for index, selector in enumerate(selectors):
        if not selector.get("pacticipant", "").strip():
            raise invalid(f"q[{index}][pacticipant]", "Please specify the pacticipant name")
        unknown = set(selector) - set(SELECTOR_KEYS)
        if unknown:
            raise invalid(f"q[{index}]", f"unknown selector keys: {', '.join(sorted(unknown))}")
    top = dict(pairs)
    latest_by = top.get("latestby") or None
    if latest_by not in (None, "cvp", "cvpv"):
        raise invalid("latestby", "must be cvp or cvpv")
    target = Target(
        latest=_true(top.get("latest")),
        tag=top.get("tag") or None,
        branch=top.get("branch") or None,
        main_branch=_true(top.get("mainBranch")),
        environment=top.get("environment") or None,
    )
    return Query(selectors, target, latest_by, parse_nested(pairs, "ignore"))


def _versions(rows: Iterable[sqlite3.Row]) -> list[Version]:
    return [Version(r["pacticipant_id"], r["pacticipant"], r["id"], r["number"]) for r in rows]


_VERSION_COLUMNS = (
    "SELECT v.id, v.number, v.pacticipant_id, p.name AS pacticipant"
    " FROM versions v JOIN pacticipants p ON p.id = v.pacticipant_id"
)


def resolve_selector(connection: sqlite3.Connection, selector: dict[str, str]) -> list[Version]:
    """The versions one `q[]` selector names."""
    name = selector["pacticipant"]
    pacticipant = repository.find_pacticipant(connection, name)
    if pacticipant is None:
        return []
    return resolve_for(connection, pacticipant, selector)


def resolve_for(
    connection: sqlite3.Connection, pacticipant: sqlite3.Row, selector: dict[str, str]
) -> list[Version]:
    pid = pacticipant["id"]
    params: tuple[object, ...]
    latest = _true(selector.get("latest"))
    branch = selector.get("branch") or (
        pacticipant["main_branch"] if _true(selector.get("mainBranch")) else None
    )
    if _true(selector.get("mainBranch")) and not branch:
        return []
    if "version" in selector:
        sql, params = (
            f"{_VERSION_COLUMNS} WHERE v.pacticipant_id = ? AND v.number = ?",
            (pid, selector["version"]),
        )
    elif selector.get("environment"):
        return versions_in_environment(connection, pid, selector["environment"])
    elif selector.get("tag") and latest:
        sql = (
            f"{_VERSION_COLUMNS} WHERE v.id = (SELECT MAX(version_id) FROM tags"
            " WHERE pacticipant_id = ? AND name = ?)"
        )
        params = (pid, selector["tag"])
    elif selector.get("tag"):
        sql = (
            f"{_VERSION_COLUMNS} JOIN tags t ON t.version_id = v.id"
            " WHERE t.pacticipant_id = ? AND t.name = ?"
        )
        params = (pid, selector["tag"])
    elif branch and (latest or _true(selector.get("mainBranch"))):
        sql = (
            f"{_VERSION_COLUMNS} JOIN branches b ON b.head_version_id = v.id"
            " WHERE b.pacticipant_id = ? AND b.name = ?"
        )
        params = (pid, branch)
    elif branch:
        sql = (
            f"{_VERSION_COLUMNS} JOIN branch_versions bv ON bv.version_id = v.id"
            " JOIN branches b ON b.id = bv.branch_id WHERE b.pacticipant_id = ? AND b.name = ?"
        )
        params = (pid, branch)
    elif latest:
        sql, params = (
            f"{_VERSION_COLUMNS} WHERE v.pacticipant_id = ? ORDER BY v.id DESC LIMIT 1",
            (pid,),
        )
    else:
        sql, params = f"{_VERSION_COLUMNS} WHERE v.pacticipant_id = ? ORDER BY v.id DESC", (pid,)
    return _versions(connection.execute(sql, params))


def versions_in_environment(
    connection: sqlite3.Connection, pacticipant_id: int, environment: str
) -> list[Version]:
    return _versions(
        connection.execute(
            f"""{_VERSION_COLUMNS} WHERE v.pacticipant_id = :p AND v.id IN (
                SELECT d.version_id FROM deployed_versions d
                JOIN environments e ON e.id = d.environment_id
                WHERE e.name = :env AND d.undeployed_at IS NULL AND d.pacticipant_id = :p
                UNION
                SELECT r.version_id FROM released_versions r
                JOIN environments e ON e.id = r.environment_id
                WHERE e.name = :env AND r.support_ended_at IS NULL AND r.pacticipant_id = :p)
            ORDER BY v.id""",
            {"p": pacticipant_id, "env": environment},
        )
    )


def target_versions(
    connection: sqlite3.Connection, pacticipant_id: int, target: Target
) -> list[Version]:
    pacticipant = connection.execute(
        "SELECT * FROM pacticipants WHERE id = ?", (pacticipant_id,)
    ).fetchone()
    if target.environment:
        return versions_in_environment(connection, pacticipant_id, target.environment)
    if target.main_branch:
        return resolve_for(connection, pacticipant, {"mainBranch": "true", "latest": "true"})
    if target.branch:
        return resolve_for(connection, pacticipant, {"branch": target.branch, "latest": "true"})
    if target.tag:
        return resolve_for(connection, pacticipant, {"tag": target.tag, "latest": "true"})
    return resolve_for(connection, pacticipant, {"latest": "true"})


_PACTS_OF_CONSUMER_VERSION = """
    SELECT pp.*, pv.sha, pr.name AS provider_name FROM pact_publications pp
    JOIN pact_versions pv ON pv.id = pp.pact_version_id
    JOIN pacticipants pr ON pr.id = pp.provider_id
    WHERE pp.consumer_version_id = ? ORDER BY pr.name
"""

_LATEST_VERIFICATION = """
    SELECT ve.*, v.number AS provider_version_number FROM verifications ve
    JOIN versions v ON v.id = ve.provider_version_id
    WHERE ve.pact_version_id = ? AND (? IS NULL OR ve.provider_version_id = ?)
    ORDER BY ve.id DESC LIMIT 1
"""


def _latest_verification(
    connection: sqlite3.Connection, pact_version_id: int, provider_version_id: int | None
) -> sqlite3.Row | None:
    row: sqlite3.Row | None = connection.execute(
        _LATEST_VERIFICATION, (pact_version_id, provider_version_id, provider_version_id)
    ).fetchone()
    return row


def _version_by_id(connection: sqlite3.Connection, version_id: int) -> Version:
    return _versions(connection.execute(f"{_VERSION_COLUMNS} WHERE v.id = ?", (version_id,)))[0]


def build_rows(
    connection: sqlite3.Connection, query: Query, selected: list[list[Version]]
) -> list[Row]:
    """The matrix rows: each selected version against its counterparts."""
    selected_by_pacticipant: dict[int, list[Version]] = {}
    for versions in selected:
        for version in versions:
            selected_by_pacticipant.setdefault(version.pacticipant_id, []).append(version)
    only_between_selected = len(query.selectors) > 1 and not query.target.given
    rows: list[Row] = []
    seen: set[tuple[int, int]] = set()

    def counterparts(pacticipant_id: int) -> list[Version] | None:
        """The other side's versions, or None for "whatever verified it"."""
        if only_between_selected:
            return selected_by_pacticipant.get(pacticipant_id, [])
        if query.target.given:
            return target_versions(connection, pacticipant_id, query.target)
        return None

    for version in (v for versions in selected for v in versions):
        # The selected version as a consumer: every provider it has a pact with.
        for pact in connection.execute(_PACTS_OF_CONSUMER_VERSION, (version.id,)).fetchall():
            if only_between_selected and pact["provider_id"] not in selected_by_pacticipant:
                continue
            providers = counterparts(pact["provider_id"])
            if providers is None:
                verification = _latest_verification(connection, pact["pact_version_id"], None)
                providers_or_none: list[Version | None] = (
                    [_version_by_id(connection, verification["provider_version_id"])]
                    if verification
                    else [None]
                )
            else:
                providers_or_none = list(providers) or [None]
            if query.latest_by == "cvp" and len(providers_or_none) > 1:
                providers_or_none = [max(providers_or_none, key=lambda v: v.id if v else 0)]
            for provider_version in providers_or_none:
                key = (
                    version.id,
                    provider_version.id if provider_version else -pact["provider_id"],
                )
                if key in seen:
                    continue
                seen.add(key)
                verification = (
                    _latest_verification(connection, pact["pact_version_id"], provider_version.id)
                    if provider_version
                    else None
                )
                rows.append(
                    Row(
                        version,
                        pact["provider_name"],
                        pact["provider_id"],
                        provider_version,
                        pact,
                        verification,
                    )
                )
        # The selected version as a provider: the target's consumer versions with a pact for it.
        consumer_ids = [
            r[0]
            for r in connection.execute(
                "SELECT DISTINCT consumer_id FROM pact_publications WHERE provider_id = ?",
                (version.pacticipant_id,),
            )
        ]
        for consumer_id in consumer_ids:
            if only_between_selected and consumer_id not in selected_by_pacticipant:
                continue
            consumers = counterparts(consumer_id)
            if consumers is None:
                consumers = _versions(
                    connection.execute(
                        f"""{_VERSION_COLUMNS} WHERE v.id = (
                            SELECT MAX(pp.consumer_version_id) FROM verifications ve
                            JOIN pact_publications pp ON pp.pact_version_id = ve.pact_version_id
                            WHERE ve.provider_version_id = ? AND pp.consumer_id = ?)""",
                        (version.id, consumer_id),
                    )
                )
            for consumer_version in consumers:
                key = (consumer_version.id, version.id)
                if key in seen:
                    continue
                pact = connection.execute(
                    "SELECT pp.*, pv.sha FROM pact_publications pp"
                    " JOIN pact_versions pv ON pv.id = pp.pact_version_id"
                    " WHERE pp.consumer_version_id = ? AND pp.provider_id = ?",
                    (consumer_version.id, version.pacticipant_id),
                ).fetchone()
                if pact is None:
                    continue
                seen.add(key)
                verification = _latest_verification(connection, pact["pact_version_id"], version.id)
                rows.append(
                    Row(
                        consumer_version,
                        version.pacticipant,
                        version.pacticipant_id,
                        version,
                        pact,
                        verification,
                    )
                )
    for row in rows:
        row.ignored = _ignored(row, query.ignore, selected_by_pacticipant)
    return rows


def _ignored(row: Row, ignore: list[dict[str, str]], selected: dict[int, list[Version]]) -> bool:
    for rule in ignore:
        for side in (row.consumer, row.provider):
            if side is None:
                if rule.get("pacticipant") == row.provider_name and "version" not in rule:
                    return True
                continue
            if side.pacticipant_id in selected and side.pacticipant != rule.get("pacticipant"):
                continue
            if (
                side.pacticipant == rule.get("pacticipant")
                and rule.get("version", side.number) == side.number
            ):
                return True
    return False


@dataclass
class Summary:
    deployable: bool | None
    reason: str
    success: int
    failed: int
    unknown: int
    ignored: int
    notices: list[dict[str, str]]


def summarise(query: Query, selected: list[list[Version]], rows: list[Row]) -> Summary:
    notices: list[dict[str, str]] = []
    failures: list[str] = []
    unknowns: list[str] = []
    for selector, versions in zip(query.selectors, selected, strict=True):
        if not versions:
            failures.append(
                f"No version of {selector['pacticipant']} matches {_describe_selector(selector)}"
            )
    success = failed = unknown = ignored = 0
    for row in rows:
        if row.ignored:
            ignored += 1
            continue
        other = (
            _describe(row.provider) if row.provider else query.target.describe(row.provider_name)
        )
        between = f"{_describe(row.consumer)} and {other}"
        if row.verification is None:
            unknown += 1
            missing = "" if row.provider else " (no such version exists)"
            unknowns.append(f"There is no verified pact between {between}{missing}")
        elif row.verification["success"]:
            success += 1
        else:
            failed += 1
            failures.append(f"The verification for the pact between {between} failed")
    if failures:
        deployable: bool | None = False
        reasons = failures + unknowns
    elif unknowns:
        deployable, reasons = None, unknowns
    else:
        deployable = True
        reasons = (
            ["All required verification results are published and successful"]
            if success
            else ["There are no missing dependencies"]
        )
    for text in reasons:
        notices.append(
            {
                "type": "success" if deployable else ("warning" if deployable is None else "error"),
                "text": text,
            }
        )
    for row in rows:
        if row.ignored:
            notices.append(
                {
                    "type": "info",
                    "text": (
                        f"Ignoring the pact between {_describe(row.consumer)}"
                        f" and {row.provider_name}"
                    ),
                }
            )
    return Summary(deployable, "; ".join(reasons), success, failed, unknown, ignored, notices)


def _describe(version: Version) -> str:
    return f"{version.pacticipant} ({version.number})"


def _describe_selector(selector: dict[str, str]) -> str:
    parts = [f"{key}={value}" for key, value in selector.items() if key != "pacticipant"]
    return ", ".join(parts) or "any version"


# --- rendering ------------------------------------------------------------------------------


def render(
    connection: sqlite3.Connection, urls: Urls, summary: Summary, rows: list[Row]
) -> dict[str, Any]:
    body_summary: dict[str, Any] = {
        "deployable": summary.deployable,
        "reason": summary.reason,
        "success": summary.success,
        "failed": summary.failed,
        "unknown": summary.unknown,
    }
    if summary.ignored:
        body_summary["ignored"] = summary.ignored
    return {
        "summary": body_summary,
        "notices": summary.notices,
        "matrix": [_render_row(connection, urls, row) for row in rows],
    }


def render_version(connection: sqlite3.Connection, urls: Urls, version: Version) -> dict[str, Any]:
    branches = repository.version_branch_names(connection, version.id)
    rendered: dict[str, Any] = {
        "number": version.number,
        "branches": [{"name": name} for name in branches],
        "tags": [{"name": tag["name"]} for tag in repository.version_tags(connection, version.id)],
        "_links": {"self": {"href": urls.version(version.pacticipant, version.number)}},
    }
    if branches:
        rendered["branch"] = branches[-1]
    return rendered


def _render_row(connection: sqlite3.Connection, urls: Urls, row: Row) -> dict[str, Any]:
    consumer = row.consumer.pacticipant
    rendered: dict[str, Any] = {
        "consumer": {
            "name": consumer,
            "_links": {"self": {"href": urls.pacticipant(consumer)}},
            "version": render_version(connection, urls, row.consumer),
        },
        "provider": {
            "name": row.provider_name,
            "_links": {"self": {"href": urls.pacticipant(row.provider_name)}},
            "version": render_version(connection, urls, row.provider) if row.provider else None,
        },
        "pact": {
            "createdAt": row.pact["created_at"],
            "_links": {
                "self": {"href": urls.pact(row.provider_name, consumer, row.consumer.number)}
            },
        },
        "verificationResult": None,
    }
    if row.verification is not None:
        rendered["verificationResult"] = {
            "success": bool(row.verification["success"]),
            "verifiedAt": row.verification["created_at"],
            "_links": {
                "self": {
                    "href": urls.verification_result(
                        row.provider_name, consumer, row.pact["sha"], row.verification["id"]
                    )
                }
            },
        }
    if row.ignored:
        rendered["ignored"] = True
    return rendered


def can_i_deploy(
    connection: sqlite3.Connection, urls: Urls, pairs: list[tuple[str, str]]
) -> dict[str, Any]:
    query = parse_query(pairs)
    selected = [resolve_selector(connection, selector) for selector in query.selectors]
    rows = build_rows(connection, query, selected)
    return render(connection, urls, summarise(query, selected, rows), rows)
