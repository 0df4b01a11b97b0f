"""One matrix cell: serve one framework's provider and verify it against the broker's pacts.

The provider runs in a background thread of this process on a port the OS picks, with its
provider-state endpoint on, guarded by a per-run secret that only the verifier knows. The
real pact-python verifier fetches the pacts from the broker, drives the states over HTTP,
and (from the publishing cell only) publishes the results back.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import platform
import re
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from pact import Verifier

from providers.api import PROVIDER_STATES_PATH, STATE_SECRET_HEADER
from providers.runner import serve
from verification import broker_api
from verification.broker_api import BrokerEndpoint, BrokerError
from verification.project import cell_name
from verification.results import CellResult, InteractionOutcome, PactRef
from verification.settings import PROVIDER, Settings

# The verifier's FFI logs go through Python logging; at INFO it writes several lines per
# interaction, which costs time and buries the report. Its report is kept separately.
logging.getLogger("pact").setLevel(logging.WARNING)


@dataclass(frozen=True)
class Cell:
    framework: str
    python: str = platform.python_version()

    @property
    def name(self) -> str:
        return cell_name(self.python, self.framework)


def create_provider_app(framework: str, *, state_secret: str) -> Any:
    """The framework's app with a fresh store and the provider-state endpoint mounted."""
    module = importlib.import_module(f"providers.{framework}")
    return module.create_app(provider_states=True, state_secret=state_secret)


def run(cell: Cell, settings: Settings, endpoint: BrokerEndpoint) -> CellResult:
    """Verify `cell` against the pacts `endpoint` selects; a failure is reported, not raised."""
    started = time.perf_counter()
    publishing = settings.publish_results and cell.name == settings.publishing_cell
    failure: str | None = None
    pacts: list[PactRef] = []
    results: dict[str, Any] = {}
    report = ""
    published = False
    with capture_logs() as provider_log:
        try:
            pacts = broker_api.pacts_for_verification(
                endpoint,
                PROVIDER,
                selectors=settings.selectors,
                provider_branch=settings.provider_branch,
                include_wip_since=settings.include_wip_since,
            )
            if not pacts:
                failure = (
                    f"the broker at {endpoint.url} selected no pacts for {PROVIDER} with "
                    f"selectors {list(settings.selectors)} and provider branch "
                    f"{settings.provider_branch!r}: nothing was verified"
                )
            else:
                results, report = _verify(cell, settings, endpoint, publishing=publishing)
                if publishing:
                    published = _confirm_published(endpoint, settings, pacts)
        except (BrokerError, PublicationError) as error:
            failure = str(error)
    interactions = tuple(_outcome(item) for item in results.get("interactionResults", []))
    if not failure and pacts and not interactions:
        failure = f"the verifier checked zero interactions in {len(pacts)} pact(s)"
    if (
        not failure
        and not results.get("result", False)
        and not any(not i.success for i in interactions)
    ):
        failure = "the verifier failed without naming an interaction:\n" + _errors_text(results)
    success = failure is None and bool(results.get("result")) and bool(interactions)
    if not success and provider_log:
        report += "\n\nProvider log:\n" + "\n".join(provider_log)
    return CellResult(
        cell=cell.name,
        framework=cell.framework,
        python=cell.python,
        provider=PROVIDER,
        provider_version=settings.provider_version,
        provider_branch=settings.provider_branch,
        broker="embedded" if settings.broker is None else endpoint.url,
        success=success,
        seconds=round(time.perf_counter() - started, 3),
        interactions=interactions,
        pacts=tuple(pacts),
        published=published,
        error=failure,
        report=report,
    )


def _verify(
    cell: Cell, settings: Settings, endpoint: BrokerEndpoint, *, publishing: bool
) -> tuple[dict[str, Any], str]:
    # A secret per run: the state endpoint answers only requests that carry it, and the
    # verifier adds it to every request it sends, the state changes included.
    state_secret = settings.state_secret or secrets.token_urlsafe(32)
    app = create_provider_app(cell.framework, state_secret=state_secret)
    with serve(app) as server:
        verifier = (
            Verifier(PROVIDER, host="127.0.0.1")
            .add_transport(url=server.url)
            .state_handler(f"{server.url}{PROVIDER_STATES_PATH}", body=True, teardown=True)
            .add_custom_header(STATE_SECRET_HEADER, state_secret)
            .set_request_timeout(settings.request_timeout_ms)
            .set_coloured_output(enabled=False)
        )
        if publishing:
            verifier.set_publish_options(
                version=settings.provider_version, branch=settings.provider_branch
            )
        builder = verifier.broker_source(
            endpoint.url,
            username=endpoint.username,
            password=endpoint.password,
            token=endpoint.token,
            selector=True,
            use_env=False,
        )
        for selector in settings.selectors:
            builder.consumer_version(**{_snake(key): value for key, value in selector.items()})
        builder.include_pending()
        if settings.provider_branch:
            builder.provider_branch(settings.provider_branch)
        if settings.include_wip_since:
            builder.include_wip_since(settings.include_wip_since)
        verifier = builder.build()
        # A failure raises a bare RuntimeError; the outcome is read from verifier.results.
        with contextlib.suppress(RuntimeError):
            verifier.verify()
        return verifier.results, verifier.output(strip_ansi=True)


class PublicationError(RuntimeError):
    """The verifier was told to publish results, but the broker does not have them."""


def _confirm_published(endpoint: BrokerEndpoint, settings: Settings, pacts: list[PactRef]) -> bool:
    # pact-python only prints a failed publication; ask the broker instead of trusting it.
    expected = {pact.consumer for pact in pacts}
    missing = expected - broker_api.verified_consumers(
        endpoint, PROVIDER, settings.provider_version
    )
    if missing:
        raise PublicationError(
            f"verification results were not published for {sorted(missing)}: the broker has "
            f"no result from {PROVIDER} {settings.provider_version} (see the verifier's output)"
        )
    return True


def _snake(key: str) -> str:
    return re.sub(r"(?<!^)([A-Z])", r"_\1", key).lower()


def _outcome(item: dict[str, Any]) -> InteractionOutcome:
    duration = re.fullmatch(r"(\d+)ms", str(item.get("duration", "")))
    return InteractionOutcome(
        consumer=str(item.get("consumer", "")),
        description=str(item.get("description", "")),
        states=tuple(str(s) for s in item.get("providerStates", [])),
        success=item.get("result") == "OK",
        pending=bool(item.get("pending", False)),
        mismatches=_mismatches(item.get("mismatch")),
        duration_ms=int(duration.group(1)) if duration else None,
    )


def _mismatches(mismatch: dict[str, Any] | None) -> tuple[str, ...]:
    if not mismatch:
        return ()
    if mismatch.get("type") == "mismatches":
        return tuple(
            f"{m.get('type', 'Mismatch')} {m.get('path') or m.get('key') or ''}: "
            f"{m.get('mismatch', m)}".replace("  ", " ")
            for m in mismatch.get("mismatches", [])
        )
    return (str(mismatch.get("message") or mismatch),)


def _errors_text(results: dict[str, Any]) -> str:
    return "\n".join(str(error) for error in results.get("errors", [])) or "(no detail)"


@contextmanager
def capture_logs() -> Iterator[list[str]]:
    """Collect what the provider and its server log while a cell runs, to show on failure."""
    lines: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if not record.name.startswith("pact"):
                lines.append(self.format(record))

    handler = Collect(level=logging.INFO)
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield lines
    finally:
        root.removeHandler(handler)
