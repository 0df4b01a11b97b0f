"""Consumer version selectors: validation, resolution to pacts (one SQL query each), defaults.

Semantics follow pact_broker `lib/pact_broker/pacts/pact_publication_selector_dataset_module.rb`
and `pact_publication_dataset_module.rb` (what each selector returns),
`lib/pact_broker/api/contracts/consumer_version_selector_contract.rb` (validation) and
`lib/pact_broker/api/decorators/pacts_for_verification_query_decorator.rb` (parsing).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Literal

from broker import repository

if TYPE_CHECKING:
    import sqlite3

    from broker.models import ConsumerVersionSelector, PactsForVerificationQuery

Kind = Literal[
    "main_branch",
    "branch",
    "branch_heads",
    "latest_tag",
    "all_for_tag",
    "overall_latest",
    "deployed",
    "released",
    "environment",
]

BRANCH_KEYS = {
    "latest",
    "tag",
    "fallbackTag",
    "branch",
    "fallbackBranch",
    "matchingBranch",
    "mainBranch",
}
ENVIRONMENT_KEYS = {"environment", "deployed", "released", "deployedOrReleased"}
ALL_KEYS = BRANCH_KEYS | ENVIRONMENT_KEYS | {"consumer"}


@dataclass(frozen=True)
class Selector:
    """A resolved selector: which consumer versions' pacts it picks."""

    kind: Kind
    consumer: str | None = None
    value: str | None = None  # the branch, tag or environment name the kind needs
    fallback_tag: str | None = None


@dataclass(frozen=True)
class SelectedPact:
    """One pact publication picked by one selector, with why (branch, tag or environment)."""

    pact_version_id: int
    sha: str
    consumer_name: str
    consumer_version_id: int
    consumer_version_number: str
    created_at: str
    selector: Selector
    label: str | None
    application_instance: str | None
    fallback: bool = False


# --- validation -----------------------------------------------------------------------------


def validate(
    query: PactsForVerificationQuery, connection: sqlite3.Connection
) -> dict[str, list[str]]:
    """The real broker's validation messages for a pacts-for-verification body, by field."""
    errors: dict[str, list[str]] = {}
    for index, selector in enumerate(query.consumer_version_selectors):
        messages = _selector_errors(selector, query, connection)
        if messages:
            errors[f"consumerVersionSelectors[{index}]"] = messages
    if (
        query.include_wip_pacts_since is not None
        and _parse_date(query.include_wip_pacts_since) is None
    ):
        errors["includeWipPactsSince"] = ["must be a date (YYYY-MM-DD) or a date-time"]
    branch = query.provider_version_branch
    pending_or_wip = query.include_pending_status or query.include_wip_pacts_since is not None
    if (
        branch is not None
        and not branch.strip()
        and pending_or_wip
        and not query.provider_version_tags
    ):
        errors["providerVersionBranch"] = [
            "when pending or WIP pacts are enabled and there are no tags provided, the provider"
            " version branch must not be an empty string, as it is used in the calculations for"
            " WIP/pending. A value must be provided (recommended), or it must not be set at all."
        ]
    return errors


def _parse_date(text: str) -> str | None:
    try:
        return datetime.fromisoformat(text).isoformat()
    except ValueError:
        pass
    try:
        return date.fromisoformat(text).isoformat()
    except ValueError:
        return None


def wip_since(query: PactsForVerificationQuery) -> str | None:
    """`includeWipPactsSince` as an ISO string comparable with stored timestamps."""
    if query.include_wip_pacts_since is None:
        return None
    return _parse_date(query.include_wip_pacts_since)


def _selector_errors(
    selector: ConsumerVersionSelector,
    query: PactsForVerificationQuery,
    connection: sqlite3.Connection,
) -> list[str]:
    keys = selector.given_keys() & ALL_KEYS
    errors: list[str] = []
    for name in ("mainBranch", "matchingBranch", "deployed", "released", "deployedOrReleased"):
        if name in keys and getattr(selector, _snake(name)) is not True:
            errors.append(f"{name} must be one of: true")
    for name in ("tag", "fallbackTag", "fallbackBranch", "consumer", "environment", "branch"):
        value = getattr(selector, _snake(name))
        if name in keys and isinstance(value, str) and not value.strip():
            errors.append(f"{name} can't be blank")
    if selector.branch is False:
        errors.append("branch must be a string or true")
    required = keys & {"mainBranch", "tag", "branch", "environment", "matchingBranch"}
    flags = {"deployed", "released", "deployedOrReleased"} & keys
    if not required and not flags and selector.latest is not True:
        errors.append(
            "must specify a value for environment or tag or branch, or specify mainBranch=true,"
            " matchingBranch=true, latest=true, deployed=true, released=true or"
            " deployedOrReleased=true"
        )
    if selector.main_branch and keys - {"consumer", "mainBranch", "latest"}:
        errors.append("cannot specify mainBranch=true with any other criteria apart from consumer")
    if selector.main_branch and selector.latest is False:
        errors.append("cannot specify mainBranch=true with latest=false")
    if selector.matching_branch and keys - {"consumer", "matchingBranch"}:
        errors.append(
            "cannot specify matchingBranch=true with any other criteria apart from consumer"
        )
    if selector.matching_branch and not (query.provider_version_branch or "").strip():
        errors.append(
            "the providerVersionBranch must be specified when the selector matchingBranch=true"
            " is used"
        )
    if selector.tag is not None and selector.branch is not None:
        errors.append("cannot specify both a tag and a branch")
    branch_fields, environment_fields = sorted(keys & BRANCH_KEYS), sorted(keys & ENVIRONMENT_KEYS)
    if branch_fields and environment_fields:
        errors.append(
            f"cannot specify the {_fields(branch_fields)} with the {_fields(environment_fields)}"
        )
    if selector.fallback_tag is not None and selector.latest is not True:
        errors.append("fallbackTag can only be set if latest is true")
    if selector.fallback_tag is not None and selector.tag is None:
        errors.append("a tag must be specified when a fallbackTag is specified")
    if selector.fallback_branch is not None and selector.branch is None:
        errors.append("a branch must be specified when a fallbackBranch is specified")
    if selector.fallback_branch is not None and selector.latest is False:
        errors.append("fallbackBranch can only be set if latest is true")
    if selector.branch is not None and selector.latest is False:
        errors.append("cannot specify a branch with latest=false")
    if selector.deployed and selector.released:
        errors.append("cannot specify both deployed=true and released=true")
    if selector.deployed and selector.deployed_or_released:
        errors.append("cannot specify both deployed=true and deployedOrReleased=true")
    if selector.released and selector.deployed_or_released:
        errors.append("cannot specify both released=true and deployedOrReleased=true")
    environment = selector.environment
    if environment and repository.find_environment_by_name(connection, environment) is None:
        errors.append(f"environment with name '{environment}' does not exist")
    return errors


def _fields(names: list[str]) -> str:
    return ("field " if len(names) == 1 else "fields ") + "/".join(names)


def _snake(camel: str) -> str:
    return "".join(f"_{char.lower()}" if char.isupper() else char for char in camel)


# --- parsing into resolved selectors --------------------------------------------------------


def resolve(
    selectors: list[ConsumerVersionSelector], provider_version_branch: str | None
) -> list[Selector]:
    """Turn validated selectors into `Selector`s (deployedOrReleased becomes two)."""
    resolved: list[Selector] = []
    for given in selectors:
        consumer = given.consumer
        if given.main_branch:
            resolved.append(Selector("main_branch", consumer))
        elif given.matching_branch:
            resolved.append(Selector("branch", consumer, provider_version_branch))
        elif given.branch is True:
            resolved.append(Selector("branch_heads", consumer))
        elif isinstance(given.branch, str):
            resolved.append(Selector("branch", consumer, given.branch))
        elif given.tag is not None and given.latest:
            resolved.append(Selector("latest_tag", consumer, given.tag, given.fallback_tag))
        elif given.tag is not None:
            resolved.append(Selector("all_for_tag", consumer, given.tag))
        elif given.deployed_or_released:
            resolved.append(Selector("deployed", consumer, given.environment))
            resolved.append(Selector("released", consumer, given.environment))
        elif given.deployed:
            resolved.append(Selector("deployed", consumer, given.environment))
        elif given.released:
            resolved.append(Selector("released", consumer, given.environment))
        elif given.environment is not None:
            resolved.append(Selector("environment", consumer, given.environment))
        else:
            resolved.append(Selector("overall_latest", consumer))
    return resolved


def default_selectors(connection: sqlite3.Connection, provider_id: int) -> list[Selector]:
    """The selectors the real broker uses for an empty list.

    pact_broker `lib/pact_broker/pacts/pacts_for_verification_repository.rb` `default_selectors`:
    per consumer its main branch (else the latest version tagged with the main branch's name,
    else the overall latest), plus everything deployed, plus everything released.
    """
    rows = connection.execute(
        """
        SELECT c.name,
               EXISTS (SELECT 1 FROM branches b WHERE b.pacticipant_id = c.id
                       AND b.name = c.main_branch AND b.head_version_id IS NOT NULL) AS has_branch,
               EXISTS (SELECT 1 FROM tags t WHERE t.pacticipant_id = c.id
                       AND t.name = c.main_branch) AS has_tag,
               c.main_branch
        FROM pacticipants c
        WHERE EXISTS (SELECT 1 FROM pact_publications pp
                      WHERE pp.provider_id = ? AND pp.consumer_id = c.id)
        ORDER BY c.name
        """,
        (provider_id,),
    ).fetchall()
    selectors: list[Selector] = []
    for name, has_branch, has_tag, main_branch in rows:
        if main_branch and has_branch:
            selectors.append(Selector("main_branch", name))
        elif main_branch and has_tag:
            selectors.append(Selector("latest_tag", name, main_branch))
        else:
            selectors.append(Selector("overall_latest", name))
    return [*selectors, Selector("deployed"), Selector("released")]


# --- resolving to pacts ---------------------------------------------------------------------

# Each kind is a small query over candidate consumer versions (version_id, label, instance);
# the candidates are then joined to the provider's pact publications through the unique index
# on (consumer_version_id, provider_id), so the cost follows the number of candidates (heads,
# deployments), not the number of versions stored.
_CANDIDATES: dict[Kind, str] = {
    "main_branch": """
        SELECT b.head_version_id AS version_id, b.name AS label, NULL AS instance
        FROM pacticipants c JOIN branches b ON b.pacticipant_id = c.id AND b.name = c.main_branch
        WHERE b.head_version_id IS NOT NULL""",
    "branch": """
        SELECT head_version_id AS version_id, name AS label, NULL AS instance
        FROM branches WHERE name = :value AND head_version_id IS NOT NULL""",
    "branch_heads": """
        SELECT head_version_id AS version_id, name AS label, NULL AS instance
        FROM branches WHERE head_version_id IS NOT NULL""",
    "latest_tag": """
        SELECT MAX(version_id) AS version_id, name AS label, NULL AS instance
        FROM tags WHERE name = :value GROUP BY pacticipant_id""",
    "all_for_tag": """
        SELECT version_id, name AS label, NULL AS instance FROM tags WHERE name = :value""",
    "overall_latest": """
        SELECT (SELECT MAX(pp.consumer_version_id) FROM pact_publications pp
                WHERE pp.provider_id = :provider AND pp.consumer_id = c.id) AS version_id,
               NULL AS label, NULL AS instance
        FROM pacticipants c""",
    "deployed": """
        SELECT d.version_id, e.name AS label, d.application_instance AS instance
        FROM deployed_versions d JOIN environments e ON e.id = d.environment_id
        WHERE d.undeployed_at IS NULL AND (:value IS NULL OR e.name = :value)""",
    "released": """
        SELECT r.version_id, e.name AS label, NULL AS instance
        FROM released_versions r JOIN environments e ON e.id = r.environment_id
        WHERE r.support_ended_at IS NULL AND (:value IS NULL OR e.name = :value)""",
}


def select_pacts(
    connection: sqlite3.Connection, provider_id: int, selector: Selector
) -> list[SelectedPact]:
    """The provider's pacts that one selector picks (fallback tags are applied by the caller)."""
    if selector.kind == "environment":
        # An environment alone means deployed or released there (`for_environment`).
        return [
            *select_pacts(
                connection, provider_id, Selector("deployed", selector.consumer, selector.value)
            ),
            *select_pacts(
                connection, provider_id, Selector("released", selector.consumer, selector.value)
            ),
        ]
    rows = connection.execute(
        f"""
        SELECT pp.pact_version_id, pv.sha, c.name AS consumer_name, cv.id AS version_id,
               cv.number, pp.created_at, candidates.label, candidates.instance
        FROM ({_CANDIDATES[selector.kind]}) AS candidates
        CROSS JOIN pact_publications pp
            ON pp.consumer_version_id = candidates.version_id AND pp.provider_id = :provider
        JOIN pacticipants c ON c.id = pp.consumer_id
        JOIN versions cv ON cv.id = pp.consumer_version_id
        JOIN pact_versions pv ON pv.id = pp.pact_version_id
        WHERE :consumer IS NULL OR c.name = :consumer
        """,
        {"provider": provider_id, "value": selector.value, "consumer": selector.consumer},
    ).fetchall()
    return [
        SelectedPact(
            pact_version_id,
            sha,
            consumer,
            version_id,
            number,
            created_at,
            selector,
            label,
            instance,
        )
        for pact_version_id, sha, consumer, version_id, number, created_at, label, instance in rows
    ]


def select_with_fallbacks(
    connection: sqlite3.Connection, provider_id: int, selectors: list[Selector]
) -> list[SelectedPact]:
    """Every selector's pacts; a latest-tag selector that found nothing uses its fallbackTag.

    pact_broker `pacts_for_verification_repository.rb` `find_pacts_for_fallback_tags`.
    """
    selected: list[SelectedPact] = []
    for selector in selectors:
        found = select_pacts(connection, provider_id, selector)
        if not found and selector.kind == "latest_tag" and selector.fallback_tag:
            fallback = Selector("latest_tag", selector.consumer, selector.fallback_tag)
            found = [
                SelectedPact(**{**pact.__dict__, "selector": selector, "fallback": True})
                for pact in select_pacts(connection, provider_id, fallback)
            ]
        selected.extend(found)
    return selected


def describe(pact: SelectedPact, main_branch: str | None = None) -> str:
    """A short description of why a selector picked a pact, as the real broker words it."""
    selector, label = pact.selector, pact.label
    consumer = f" of {pact.consumer_name}"
    match selector.kind:
        case "main_branch":
            return f"latest version{consumer} from the main branch '{label}'"
        case "branch" | "branch_heads":
            return f"latest version{consumer} from branch '{label}'"
        case "latest_tag" if pact.fallback:
            return (
                f"latest version{consumer} with tag '{selector.fallback_tag}' (fallback tag used"
                f" as no pact was found with tag '{selector.value}')"
            )
        case "latest_tag":
            return f"latest version{consumer} with tag '{label}'"
        case "all_for_tag":
            return f"one of{consumer}'s versions with tag '{label}'"
        case "overall_latest":
            return f"latest version{consumer}"
        case "deployed":
            instance = f" ({pact.application_instance})" if pact.application_instance else ""
            return f"version(s){consumer} currently deployed to {label}{instance}"
        case _:
            return f"version(s){consumer} released and supported in {label}"


def short_description(pact: SelectedPact) -> str:
    selector, label = pact.selector, pact.label
    match selector.kind:
        case "main_branch":
            return "latest from main branch"
        case "branch" | "branch_heads":
            return f"latest from branch {label}"
        case "latest_tag":
            return f"latest with tag {selector.fallback_tag if pact.fallback else label}"
        case "all_for_tag":
            return f"one of {label}"
        case "overall_latest":
            return "latest"
        case "deployed":
            return f"currently deployed to {label}"
        case _:
            return f"currently released in {label}"
