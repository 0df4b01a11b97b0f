"""Everything a verification cell is told by its environment, read and checked in one place.

The names are the standard Pact ones where a standard exists (`PACT_BROKER_*`,
`PACT_PROVIDER_VERSION`, `PACT_PROVIDER_BRANCH`, `PACT_PUBLISH_VERIFICATION_RESULTS`), so the
same CI secrets work here as with any other Pact tooling.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from verification import gitinfo
from verification.broker_api import BrokerEndpoint
from verification.project import PROJECT_ROOT, PUBLISHING_CELL
from verification.results import results_dir

PROVIDER = "UserProvider"

# The selectors the Pact docs recommend for a provider build: what the consumers' main
# branches expect, what is live in any environment, and the consumer branch with the
# provider's branch name (for features built on both sides at once).
DEFAULT_SELECTORS: tuple[dict[str, Any], ...] = (
    {"mainBranch": True},
    {"deployedOrReleased": True},
    {"matchingBranch": True},
)
# Work-in-progress pacts are verified (as pending) if published since this date.
DEFAULT_WIP_SINCE = date(2026, 1, 1)
SELECTOR_KEYS = frozenset(
    {
        "consumer", "tag", "fallbackTag", "latest", "deployedOrReleased", "deployed",
        "released", "environment", "mainBranch", "branch", "matchingBranch", "fallbackBranch",
    }
)  # fmt: skip


class SettingsError(ValueError):
    """An environment variable has a value the verification cannot use."""


@dataclass(frozen=True)
class Settings:
    # The broker named by PACT_BROKER_BASE_URL, or None for the embedded broker.
    broker: BrokerEndpoint | None
    provider_version: str
    provider_branch: str | None
    consumer_version: str
    consumer_branch: str | None
    selectors: tuple[dict[str, Any], ...]
    include_pending: bool
    include_wip_since: date | None
    publish_results: bool
    publishing_cell: str
    request_timeout_ms: int
    state_secret: str | None = field(repr=False)
    results_dir: Path
    pact_dir: Path

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> Settings:
        broker = _broker(environ)
        commit = gitinfo.commit(PROJECT_ROOT)
        branch = gitinfo.branch(PROJECT_ROOT, environ)
        provider_version = environ.get("PACT_PROVIDER_VERSION") or commit
        if not provider_version:
            raise SettingsError("not a git checkout: set PACT_PROVIDER_VERSION")
        return cls(
            broker=broker,
            provider_version=provider_version,
            provider_branch=environ.get("PACT_PROVIDER_BRANCH") or branch,
            consumer_version=environ.get("PACT_CONSUMER_VERSION") or commit or provider_version,
            consumer_branch=environ.get("PACT_CONSUMER_BRANCH") or branch,
            selectors=_selectors(environ.get("PACT_CONSUMER_VERSION_SELECTORS")),
            # Pending and work-in-progress pacts are verified without failing the build. A
            # fresh embedded broker has never recorded a verification, so there every pact
            # would be pending and no failure could fail the cell: both are for real brokers.
            include_pending=_flag(environ, "PACT_INCLUDE_PENDING", default=broker is not None),
            include_wip_since=_wip_since(
                environ.get("PACT_INCLUDE_WIP_PACTS_SINCE"),
                default=None if broker is None else DEFAULT_WIP_SINCE,
            ),
            # The embedded broker lives for one cell, so publishing there loses nothing and
            # lets can-i-deploy be asked; a shared broker gets results only when asked to.
            publish_results=_flag(
                environ, "PACT_PUBLISH_VERIFICATION_RESULTS", default=broker is None
            ),
            publishing_cell=environ.get("PACT_PUBLISHING_CELL") or PUBLISHING_CELL,
            request_timeout_ms=_positive_int(environ, "PACT_REQUEST_TIMEOUT_MS", 5000),
            state_secret=environ.get("PACT_STATE_SECRET") or None,
            results_dir=results_dir(environ),
            pact_dir=Path(environ.get("PACT_DIR") or PROJECT_ROOT / "pacts"),
        )


def _broker(environ: Mapping[str, str]) -> BrokerEndpoint | None:
    url = environ.get("PACT_BROKER_BASE_URL")
    if not url:
        return None
    broker = BrokerEndpoint(
        url=url,
        username=environ.get("PACT_BROKER_USERNAME") or None,
        password=environ.get("PACT_BROKER_PASSWORD") or None,
        token=environ.get("PACT_BROKER_TOKEN") or None,
    )
    if broker.token and (broker.username or broker.password):
        raise SettingsError(
            "set PACT_BROKER_TOKEN or PACT_BROKER_USERNAME/PACT_BROKER_PASSWORD, not both"
        )
    return broker


def _flag(environ: Mapping[str, str], name: str, *, default: bool) -> bool:
    value = environ.get(name, "").strip().lower()
    if not value:
        return default
    if value in {"true", "1", "yes"}:
        return True
    if value in {"false", "0", "no"}:
        return False
    raise SettingsError(f"{name} must be true or false, not {value!r}")


def _positive_int(environ: Mapping[str, str], name: str, default: int) -> int:
    value = environ.get(name)
    if not value:
        return default
    if not value.isdigit() or int(value) == 0:
        raise SettingsError(f"{name} must be a positive whole number, not {value!r}")
    return int(value)


def _wip_since(value: str | None, *, default: date | None) -> date | None:
    if value is None:
        return default
    if value.strip().lower() in {"", "false", "off", "none"}:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise SettingsError(
            f"PACT_INCLUDE_WIP_PACTS_SINCE must be a date like 2026-01-31 or 'false', not {value!r}"
        ) from None


def _selectors(value: str | None) -> tuple[dict[str, Any], ...]:
    """The consumer version selectors, as JSON in the Pact Broker's own vocabulary.

    Only the keys are checked (pact-python accepts no others); the broker, not the client,
    judges what the values mean, as the Pact maintainers ask clients to.
    """
    if not value:
        return DEFAULT_SELECTORS
    try:
        selectors = json.loads(value)
    except json.JSONDecodeError as error:
        raise SettingsError(f"PACT_CONSUMER_VERSION_SELECTORS is not JSON: {error}") from None
    if not isinstance(selectors, list) or not selectors:
        raise SettingsError("PACT_CONSUMER_VERSION_SELECTORS must be a non-empty JSON list")
    for selector in selectors:
        if not isinstance(selector, dict):
            raise SettingsError(f"a consumer version selector must be an object: {selector!r}")
        unknown = set(selector) - SELECTOR_KEYS
        if unknown:
            raise SettingsError(
                f"unknown consumer version selector keys {sorted(unknown)}; "
                f"known: {sorted(SELECTOR_KEYS)}"
            )
    return tuple(selectors)
