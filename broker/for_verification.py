"""The pacts-for-verification answer: selected pacts merged by content, pending status, WIP pacts.

Sources in pact_broker: `lib/pact_broker/pacts/pacts_for_verification_repository.rb` (find,
find_wip), `squash_pacts_for_verification.rb` and `pact_version.rb` (pending),
`build_verifiable_pact_notices.rb` and `verifiable_pact_messages.rb` (notices),
`lib/pact_broker/api/decorators/verifiable_pact_decorator.rb` (the JSON).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from broker import selectors as selector_module
from broker.hal import Urls, link
from broker.selectors import SelectedPact, Selector

if TYPE_CHECKING:
    import sqlite3

    from broker.models import PactsForVerificationQuery

READ_MORE_PENDING = "Read more at https://docs.pact.io/go/pending"
READ_MORE_WIP = "Read more at https://docs.pact.io/go/wip"


@dataclass
class VerifiablePact:
    """One pact content to verify, with every selection that led to it."""

    pact_version_id: int
    sha: str
    consumer_name: str
    selections: list[SelectedPact] = field(default_factory=list)
    pending: bool = False
    wip: bool = False
    pending_for: list[str] = field(default_factory=list)  # provider tags still pending

    @property
    def newest(self) -> SelectedPact:
        return max(self.selections, key=lambda selected: selected.consumer_version_id)


def merge_by_content(selected: list[SelectedPact]) -> list[VerifiablePact]:
    """One entry per pact content, as `SelectedPact.merge_by_pact_version_sha` does."""
    merged: dict[int, VerifiablePact] = {}
    for pact in selected:
        entry = merged.setdefault(
            pact.pact_version_id, VerifiablePact(pact.pact_version_id, pact.sha, pact.consumer_name)
        )
        if pact not in entry.selections:
            entry.selections.append(pact)
    return sorted(
        merged.values(),
        key=lambda verifiable: (
            verifiable.consumer_name.lower(),
            verifiable.newest.consumer_version_id,
        ),
    )


# --- pending --------------------------------------------------------------------------------

_VERIFIED_BY_BRANCH = """
    SELECT ve.pact_version_id FROM verifications ve
    JOIN branch_versions bv ON bv.version_id = ve.provider_version_id
    JOIN branches b ON b.id = bv.branch_id
    WHERE ve.success AND ve.pact_version_id IN (SELECT value FROM json_each(:ids))
      AND b.pacticipant_id = :provider
      AND (
        b.name = :name
        OR ve.created_at < COALESCE(
            (SELECT created_at FROM branches WHERE pacticipant_id = :provider AND name = :name),
            '9999')
      )
      AND (:exclude_wip = 0 OR ve.wip = 0)
"""

_VERIFIED_BY_TAG = """
    SELECT ve.pact_version_id FROM verifications ve
    JOIN tags t ON t.version_id = ve.provider_version_id
    WHERE ve.success AND ve.pact_version_id IN (SELECT value FROM json_each(:ids))
      AND t.pacticipant_id = :provider
      AND (
        t.name = :name
        OR ve.created_at < COALESCE(
            (SELECT MIN(created_at) FROM tags WHERE pacticipant_id = :provider AND name = :name),
            '9999')
      )
      AND (:exclude_wip = 0 OR ve.wip = 0)
"""

_VERIFIED_BY_ANYONE = """
    SELECT pact_version_id FROM verifications
    WHERE success AND pact_version_id IN (SELECT value FROM json_each(:ids))
"""


def _verified(
    connection: sqlite3.Connection,
    sql: str,
    pact_version_ids: list[int],
    provider_id: int,
    name: str | None = None,
    *,
    exclude_wip: bool = False,
) -> set[int]:
    """Which of the pact contents were verified successfully (by the branch / tag given).

    A verification counts if it came from that branch (tag), or from another one before that
    branch (tag) existed: a new provider branch inherits what main had verified when it forked.
    """
    parameters = {
        "ids": json.dumps(pact_version_ids),
        "provider": provider_id,
        "name": name,
        "exclude_wip": int(exclude_wip),
    }
    return {row[0] for row in connection.execute(sql, parameters)}


def apply_pending(
    connection: sqlite3.Connection,
    provider_id: int,
    pacts: list[VerifiablePact],
    branch: str | None,
    tags: list[str],
) -> None:
    ids = [pact.pact_version_id for pact in pacts]
    if branch:
        verified = _verified(connection, _VERIFIED_BY_BRANCH, ids, provider_id, branch)
        for pact in pacts:
            pact.pending = pact.pact_version_id not in verified
    elif tags:
        verified_by_tag = {
            tag: _verified(connection, _VERIFIED_BY_TAG, ids, provider_id, tag) for tag in tags
        }
        for pact in pacts:
            pact.pending_for = [
                tag for tag in tags if pact.pact_version_id not in verified_by_tag[tag]
            ]
            pact.pending = bool(pact.pending_for)
    else:
        verified = _verified(connection, _VERIFIED_BY_ANYONE, ids, provider_id)
        for pact in pacts:
            pact.pending = pact.pact_version_id not in verified


# --- work in progress -----------------------------------------------------------------------

_WIP_CANDIDATES = """
    SELECT pp.pact_version_id, pv.sha, c.name, cv.id, cv.number, pp.created_at, heads.label,
           heads.kind
    FROM (
        SELECT head_version_id AS version_id, name AS label, 'branch' AS kind FROM branches
        WHERE head_version_id IS NOT NULL
        UNION ALL
        SELECT MAX(version_id), name, 'tag' FROM tags
        WHERE pacticipant_id IN (SELECT DISTINCT consumer_id FROM pact_publications
                                 WHERE provider_id = :provider)
        GROUP BY pacticipant_id, name
    ) AS heads
    CROSS JOIN pact_publications pp
        ON pp.consumer_version_id = heads.version_id AND pp.provider_id = :provider
    JOIN pacticipants c ON c.id = pp.consumer_id
    JOIN versions cv ON cv.id = pp.consumer_version_id
    JOIN pact_versions pv ON pv.id = pp.pact_version_id
    WHERE pp.created_at >= :since
"""


def find_wip(
    connection: sqlite3.Connection,
    provider_id: int,
    since: str,
    branch: str | None,
    tags: list[str],
    explicit: list[VerifiablePact],
) -> list[VerifiablePact]:
    """Pacts of consumer branch and tag heads published since the date, not yet verified here.

    Only with a provider branch or tags (otherwise nothing is "here"). Verifications made while
    the pact was itself WIP do not count, so a WIP pact stays WIP until a real selector covers it.
    """
    if not branch and not tags:
        return []
    explicit_ids = {pact.pact_version_id for pact in explicit}
    selected: list[SelectedPact] = []
    for (
        pact_version_id,
        sha,
        consumer,
        version_id,
        number,
        created_at,
        label,
        kind,
    ) in connection.execute(_WIP_CANDIDATES, {"provider": provider_id, "since": since}):
        if pact_version_id in explicit_ids:
            continue
        selector = Selector("branch" if kind == "branch" else "latest_tag", value=label)
        selected.append(
            SelectedPact(
                pact_version_id,
                sha,
                consumer,
                version_id,
                number,
                created_at,
                selector,
                label,
                None,
            )
        )
    candidates = merge_by_content(selected)
    ids = [pact.pact_version_id for pact in candidates]
    if branch:
        done = _verified(
            connection, _VERIFIED_BY_BRANCH, ids, provider_id, branch, exclude_wip=True
        )
        wip = [pact for pact in candidates if pact.pact_version_id not in done]
    else:
        wip = []
        done_by_tag = {
            tag: _verified(connection, _VERIFIED_BY_TAG, ids, provider_id, tag, exclude_wip=True)
            for tag in tags
        }
        for pact in candidates:
            pact.pending_for = [tag for tag in tags if pact.pact_version_id not in done_by_tag[tag]]
            if pact.pending_for:
                wip.append(pact)
    for pact in wip:
        pact.wip = pact.pending = True
    return wip


# --- the answer -----------------------------------------------------------------------------


def pacts_for_verification(
    connection: sqlite3.Connection,
    urls: Urls,
    provider: sqlite3.Row,
    query: PactsForVerificationQuery,
    self_href: str,
) -> dict[str, Any]:
    """The HAL document the verifier reads (`_embedded.pacts`), for a validated query."""
    branch = query.provider_version_branch or None
    tags = list(query.provider_version_tags)
    chosen = (
        selector_module.resolve(query.consumer_version_selectors, branch)
        if query.consumer_version_selectors
        else selector_module.default_selectors(connection, provider["id"])
    )
    pacts = merge_by_content(
        selector_module.select_with_fallbacks(connection, provider["id"], chosen)
    )
    if query.include_pending_status:
        apply_pending(connection, provider["id"], pacts, branch, tags)
    since = selector_module.wip_since(query)
    if since is not None:
        pacts += find_wip(connection, provider["id"], since, branch, tags, pacts)
    messages = _Messages(provider["name"], branch, tags, query.include_pending_status)
    return {
        "_embedded": {"pacts": [_render(pact, provider["name"], urls, messages) for pact in pacts]},
        "_links": {"self": link(self_href, title="Pacts to be verified")},
    }


def _render(pact: VerifiablePact, provider: str, urls: Urls, messages: _Messages) -> dict[str, Any]:
    newest = pact.newest
    metadata: dict[str, Any] = {"cv": sorted({s.consumer_version_number for s in pact.selections})}
    if pact.wip:
        metadata["w"] = True
    href = urls.pact_version(provider, pact.consumer_name, pact.sha, metadata)
    properties: dict[str, Any] = {}
    if messages.include_pending:
        properties["pending"] = pact.pending
    if pact.wip:
        properties["wip"] = True
    properties["notices"] = messages.notices(pact, href)
    descriptions = sorted({selector_module.short_description(s) for s in pact.selections})
    return {
        "shortDescription": ", ".join(descriptions),
        "verificationProperties": properties,
        "_links": {
            "self": link(
                href,
                name=(
                    f"Pact between {pact.consumer_name}"
                    f" (v{newest.consumer_version_number}) and {provider}"
                ),
            )
        },
    }


@dataclass(frozen=True)
class _Messages:
    """The notice texts, worded after pact_broker `verifiable_pact_messages.rb`."""

    provider: str
    branch: str | None
    tags: list[str]
    include_pending: bool

    def notices(self, pact: VerifiablePact, href: str) -> list[dict[str, str]]:
        notices = [{"when": "before_verification", "text": self._inclusion(pact, href)}]
        if not self.include_pending:
            return notices
        notices.append({"when": "before_verification", "text": self._pending_reason(pact)})
        if pact.pending:
            where = self._where(pact, "any")
            still = f"This pact is still in pending state for {where}"
            not_yet, has_not_yet = "have not yet been published", "has not yet been published"
            notices += [
                {
                    "when": "after_verification:success_true_published_false",
                    "text": f"{still} as the successful verification results {not_yet}.",
                },
                {
                    "when": "after_verification:success_false_published_false",
                    "text": f"{still} as a successful verification result {has_not_yet}",
                },
                {
                    "when": "after_verification:success_true_published_true",
                    "text": (
                        f"This pact is no longer in pending state for {where}, as a successful"
                        f" verification result has been published. If a verification for a version"
                        f" of {self.provider} fails in the future, it will fail the build."
                        f" {READ_MORE_PENDING}"
                    ),
                },
                {
                    "when": "after_verification:success_false_published_true",
                    "text": f"{still} as a successful verification result {has_not_yet}",
                },
            ]
        return notices

    def _inclusion(self, pact: VerifiablePact, href: str) -> str:
        if pact.wip:
            heads = ", ".join(sorted({selector_module.describe(s) for s in pact.selections}))
            return (
                f"The pact at {href} is being verified because it is a 'work in progress' pact"
                f" (ie. it is the pact for the {heads} and it has not yet been successfully"
                f" verified by {self._where(pact, 'a')} when the pact's application version was"
                f" explicitly specified in the consumer version selectors). {READ_MORE_WIP}"
            )
        reasons = sorted(
            {
                f"{selector_module.describe(s)} ({s.consumer_version_number})"
                for s in pact.selections
            }
        )
        criteria = "criteria" if len(reasons) > 1 else "criterion"
        versions = (
            "versions" if len({s.consumer_version_id for s in pact.selections}) > 1 else "version"
        )
        bullets = "\n".join(f"    * {reason}" for reason in reasons)
        return (
            f"The pact at {href} is being verified because the pact content belongs to the"
            f" consumer {versions} matching the following {criteria}:\n{bullets}"
        )

    def _pending_reason(self, pact: VerifiablePact) -> str:
        if pact.pending and pact.wip:
            return (
                f"This pact is in pending state for this version of {self.provider} because it was"
                " included as a 'work in progress' pact. If this verification fails, it will not"
                f" cause the overall build to fail. {READ_MORE_PENDING}"
            )
        if pact.pending:
            return (
                f"This pact is in pending state for this version of {self.provider} because a"
                f" successful verification result for {self._where(pact, 'a')} has not yet been"
                " published. If this verification fails, it will not cause the overall build to"
                f" fail. {READ_MORE_PENDING}"
            )
        return (
            f"This pact has previously been successfully verified by"
            f" {self._where(pact, 'a', pending=False)}. If this verification fails, it will fail"
            f" the build. {READ_MORE_PENDING}"
        )

    def _where(self, pact: VerifiablePact, article: str, *, pending: bool = True) -> str:
        if self.branch:
            return f"{article} version of {self.provider} from branch '{self.branch}'"
        tags = pact.pending_for if pending else [t for t in self.tags if t not in pact.pending_for]
        if not tags:
            return self.provider
        quoted = " and ".join(f"'{tag}'" for tag in tags)
        return f"{article} version of {self.provider} with tag {quoted}"
