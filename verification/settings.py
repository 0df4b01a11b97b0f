"""Everything a verification cell is told by its environment, read and checked in one place.

The names are the standard Pact ones where a standard exists (`PACT_BROKER_*`,
`PACT_PROVIDER_VERSION`, `PACT_PROVIDER_BRANCH`, `PACT_PUBLISH_VERIFICATION_RESULTS`), so the
same CI secrets work here as with any other Pact tooling.
"""

from __future__ import annotations

import json
import os
import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from matrix import PROJECT_ROOT
from verification import gitinfo
from verification.broker_api import BrokerEndpoint, masked
from verification.results import results_dir

# Set by `nox -s verify` for the broker it started (noxfile.py): the broker is named by
# PACT_BROKER_BASE_URL like any other, and this says it is the project's embedded one.
EMBEDDED_VARIABLE = "PACT_MATRIX_EMBEDDED_BROKER"
# The run the cells belong to: set by the nox process for its cells, by CI for its jobs.
RUN_VARIABLE = "PACT_MATRIX_RUN"

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
    # The broker named by PACT_BROKER_BASE_URL, or None when there is none: the verification
    # test then starts an embedded broker of its own.
    broker: BrokerEndpoint | None
    # The broker is the project's own embedded one (`nox -s verify` started it, or there is
    # none): this checkout's pacts are published to it, and pending and WIP are off.
    embedded: bool
    provider_version: str
    provider_branch: str | None
    consumer_version: str
    consumer_branch: str | None
    selectors: tuple[dict[str, Any], ...]
    include_pending: bool
    include_wip_since: date | None
    publish_results: bool
    # CI's page for this build, sent with the verdict (`buildUrl`).
    build_url: str | None
    # The nox or CI run the cells belong to (PACT_MATRIX_RUN): one verdict per run.
    run: str | None
    request_timeout_ms: int
    state_secret: str | None = field(repr=False)
    results_dir: Path
    pact_dir: Path
    # PACT_URL: verify exactly this pact (a webhook-triggered build), with the broker's
    # credentials, and no selectors, pending or WIP.
    pact_url: str | None = None
    # The standard Pact filters (PACT_DESCRIPTION, PACT_PROVIDER_STATE: regular expressions;
    # PACT_PROVIDER_NO_STATE: only interactions without a state), to rerun some interactions.
    description_filter: str | None = None
    state_filter: str | None = None
    no_state_filter: bool = False

    @property
    def filtered(self) -> bool:
        """Whether the verifier checks only the interactions a filter chooses: such a cell
        verified part of the pacts, and the verdict refuses it."""
        return bool(self.description_filter or self.state_filter or self.no_state_filter)

    @property
    def filters(self) -> str:
        """The filters as they were set, for messages: `PACT_DESCRIPTION='a request for user 1'`."""
        chosen = [
            f"{name}={shlex.quote(value)}"
            for name, value in (
                ("PACT_DESCRIPTION", self.description_filter),
                ("PACT_PROVIDER_STATE", self.state_filter),
                ("PACT_PROVIDER_NO_STATE", "true" if self.no_state_filter else None),
            )
            if value
        ]
        return " ".join(chosen)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> Settings:
        pact_url = _pact_url(environ.get("PACT_URL"))
        broker = _broker(environ, pact_url)
        # A pact named by URL is verified where it is: never on a broker started for the run.
        embedded = pact_url is None and (
            broker is None or _flag(environ, EMBEDDED_VARIABLE, default=False)
        )
        commit = gitinfo.commit(PROJECT_ROOT)
        branch = gitinfo.branch(PROJECT_ROOT, environ)
        provider_version = environ.get("PACT_PROVIDER_VERSION") or commit
        if not provider_version:
            raise SettingsError("not a git checkout: set PACT_PROVIDER_VERSION")
        selectors = _selectors(environ.get("PACT_CONSUMER_VERSION_SELECTORS"))
        provider_branch = environ.get("PACT_PROVIDER_BRANCH") or branch
        if pact_url is None and provider_branch is None and {"matchingBranch": True} in selectors:
            # The broker refuses the selector without the branch (a 400 in every cell).
            raise SettingsError(
                "no provider branch (a detached HEAD?), which the matchingBranch selector "
                "needs: check out a branch, or set PACT_PROVIDER_BRANCH"
            )
        return cls(
            broker=broker,
            embedded=embedded,
            provider_version=provider_version,
            provider_branch=provider_branch,
            consumer_version=environ.get("PACT_CONSUMER_VERSION") or commit or provider_version,
            consumer_branch=environ.get("PACT_CONSUMER_BRANCH") or branch,
            selectors=selectors,
            # Pending and work-in-progress pacts are verified without failing the build: they
            # protect a provider's build from expectations a consumer published on its own.
            # The embedded broker holds this checkout's own pacts, published by this checkout,
            # so a provider that breaks them must fail at once (README: "Pending and WIP").
            include_pending=_flag(environ, "PACT_INCLUDE_PENDING", default=not embedded),
            include_wip_since=_wip_since(
                environ.get("PACT_INCLUDE_WIP_PACTS_SINCE"),
                default=None if embedded else DEFAULT_WIP_SINCE,
            ),
            # The embedded broker is this checkout's own: the verdict goes there by default;
            # a shared broker hears a verdict only when asked to.
            publish_results=_flag(environ, "PACT_PUBLISH_VERIFICATION_RESULTS", default=embedded),
            build_url=_build_url(environ),
            run=environ.get(RUN_VARIABLE) or None,
            request_timeout_ms=_positive_int(environ, "PACT_REQUEST_TIMEOUT_MS", 5000),
            state_secret=environ.get("PACT_STATE_SECRET") or None,
            results_dir=results_dir(environ),
            pact_dir=Path(environ.get("PACT_DIR") or PROJECT_ROOT / "pacts"),
            pact_url=pact_url,
            description_filter=_regex(environ, "PACT_DESCRIPTION"),
            state_filter=_regex(environ, "PACT_PROVIDER_STATE"),
            no_state_filter=_flag(environ, "PACT_PROVIDER_NO_STATE", default=False),
        )


def _regex(environ: Mapping[str, str], name: str) -> str | None:
    """A filter's regular expression, checked here so that a typo fails with its name.

    Python's syntax is close enough to the verifier's (Rust `regex`) for the patterns a person
    types; an empty value means no filter, as with every other Pact tool.
    """
    value = environ.get(name) or None
    if value is not None:
        try:
            re.compile(value)
        except re.error as error:
            raise SettingsError(f"{name} is not a valid regular expression: {error}") from None
    return value


def _build_url(environ: Mapping[str, str]) -> str | None:
    """PACT_BUILD_URL, else the GitHub Actions run's page when running there."""
    if environ.get("PACT_BUILD_URL"):
        return environ["PACT_BUILD_URL"]
    github = [environ.get(name) for name in ("GITHUB_SERVER_URL", "GITHUB_REPOSITORY")]
    run_id = environ.get("GITHUB_RUN_ID")
    if all(github) and run_id:
        return f"{github[0]}/{github[1]}/actions/runs/{run_id}"
    return None


def _pact_url(value: str | None) -> str | None:
    if not value:
        return None
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise SettingsError(f"PACT_URL must be an http(s) URL of a pact, not {masked(value)!r}")
    return value


def _broker(environ: Mapping[str, str], pact_url: str | None) -> BrokerEndpoint | None:
    url = environ.get("PACT_BROKER_BASE_URL")
    if not url and pact_url:
        # The broker the pact came from: where its verification result is published.
        parts = urlsplit(pact_url)
        url = urlunsplit((parts.scheme, parts.netloc.rsplit("@", 1)[-1], "", "", ""))
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
