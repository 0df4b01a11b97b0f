"""One matrix cell: serve one framework's provider and verify it against the broker's pacts.

The provider runs in a background thread of this process on a port the OS picks, with its
provider-state endpoint on, guarded by a per-run secret that only the verifier knows. The
real pact-python verifier fetches the pacts from the broker and drives the states over HTTP;
a pact too large to verify quickly in one piece is fetched by the cell and given to the
verifier in slices (verification/slices.py), which still make one result.
No cell publishes its results: the matrix publishes one verdict when every cell has run.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import platform
import re
import secrets
import shlex
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import certifi
from pact import Verifier

import providers
from matrix import PROVIDER, cell_name, installed_series
from providers.api import STATE_PATH, STATE_SECRET_HEADER
from states import PROVIDER_STATES, StateStore
from states.registry import shown
from verification import broker_api, broker_relay, slices, states_check, watchdog
from verification.broker_api import BrokerEndpoint, BrokerError
from verification.results import CellResult, InteractionOutcome, PactRef
from verification.settings import Settings

# The verifier's FFI logs go through Python logging; at INFO it writes several lines per
# interaction, which costs time and buries the report. Its report is kept separately.
logging.getLogger("pact").setLevel(logging.WARNING)
# pact-python reads the level to forward FFI events at from the `pact.ffi` logger's own level
# (INFO when unset), not the effective one: without this, six INFO events per interaction
# still cross from Rust into Python, each taking the GIL, only to be dropped.
logging.getLogger("pact.ffi").setLevel(logging.WARNING)


class CellFailure(RuntimeError):
    """The cell failed as a whole: nothing to verify, nothing verified, a fault while verifying."""


class RunStopper(CellFailure):
    """A failure every cell of the run would meet alike (an unreadable PACT_URL, states the
    vocabulary lacks): the run's other cells are not started."""


@dataclass(frozen=True)
class Cell:
    framework: str
    python: str = platform.python_version()
    # The release series it verifies; by default the one installed (`django-6.1` for 6.1.3).
    series: str | None = None

    @property
    def name(self) -> str:
        return cell_name(self.python, self.series or installed_series(self.framework))


def run(
    cell: Cell, settings: Settings, endpoint: BrokerEndpoint, *, store: StateStore | None = None
) -> CellResult:
    """Verify `cell` against the pacts `endpoint` selects; a failure is reported, not raised.

    The provider serves `store`, a fresh in-memory store unless one is given. Nothing is
    published: the matrix's one verdict is (`verification.verdict`), after every cell ran.
    """
    started = time.perf_counter()
    pacts: list[PactRef] = []
    results: dict[str, Any] = {}
    report = ""
    error: str | None = None
    stops_run = False
    with capture_logs() as provider_log:
        try:
            pacts = _select_pacts(endpoint, settings)
            _check_states(endpoint, settings)
            # A large pact is verified from slices of it (verification/slices.py).
            with slices.sources(endpoint, pacts) as slice_files:
                results, report, problem = _verify(cell, settings, endpoint, store, slice_files)
            if slice_files is not None:  # the verifier read files: it saw no broker's notices
                report = _selection_notices(pacts) + report
            if problem is not None:
                raise CellFailure(problem)
            _check_something_was_verified(results, pacts, settings)
        except (BrokerError, CellFailure) as failure:
            error = str(failure)
            stops_run = isinstance(failure, RunStopper)
    interactions = tuple(
        _name_unknown_states(_outcome(item)) for item in results.get("interactionResults", [])
    )
    success = error is None and results.get("result") is True
    if not success and provider_log:
        report += "\n\nProvider log:\n" + "\n".join(provider_log)
    report += _unknown_states_report(interactions) + _rerun_commands(cell, interactions)
    return CellResult(
        cell=cell.name,
        framework=cell.framework,
        python=cell.python,
        provider=PROVIDER,
        provider_version=settings.provider_version,
        provider_branch=settings.provider_branch,
        broker="embedded" if settings.embedded else endpoint.url,
        success=success,
        seconds=round(time.perf_counter() - started, 3),
        interactions=interactions,
        pacts=tuple(pacts),
        run=settings.run,
        filtered=settings.filtered,
        error=error,
        pact_url=broker_api.masked(settings.pact_url) if settings.pact_url else None,
        stops_run=stops_run,
        report=report,
    )


def _selection_notices(pacts: Sequence[PactRef]) -> str:
    """The broker's notices on why it selected each pact, as the verifier prints them when it
    fetches the pacts itself."""
    notices = [notice for pact in pacts for notice in pact.notices]
    return "".join(f"{notice}\n" for notice in notices) + "\n" if notices else ""


def _check_states(endpoint: BrokerEndpoint, settings: Settings) -> None:
    """Stop the run at once, naming them, when the consumers' pacts use states the vocabulary
    lacks, rather than fail their interactions in every cell.

    The broker lists the states of each consumer's main-branch pact, which is what the
    `mainBranch` selector verifies: with selectors without it (or with PACT_URL) the list
    would not be the selected pacts', and no check is made. A broker without the endpoint is
    not checked either.
    """
    if settings.pact_url or {"mainBranch": True} not in settings.selectors:
        return
    missing = states_check.missing_states(endpoint, PROVIDER, PROVIDER_STATES)
    if missing:
        raise RunStopper(states_check.describe(PROVIDER, missing))


def _select_pacts(endpoint: BrokerEndpoint, settings: Settings) -> list[PactRef]:
    # Asked before the verifier runs, so that "no pacts" fails at once with the selectors in
    # the message, and so that the result names the exact pact contents that were verified.
    if settings.pact_url:
        try:
            return [broker_api.pact_at(endpoint, settings.pact_url, PROVIDER)]
        except BrokerError as error:
            raise RunStopper(str(error)) from error
    pacts = broker_api.pacts_for_verification(
        endpoint,
        PROVIDER,
        selectors=settings.selectors,
        provider_branch=settings.provider_branch,
        include_pending=settings.include_pending,
        include_wip_since=settings.include_wip_since,
    )
    if not pacts:
        raise CellFailure(
            f"the broker at {endpoint.url} selected no pacts for {PROVIDER} with selectors "
            f"{list(settings.selectors)} and provider branch {settings.provider_branch!r}: "
            f"nothing was verified{_other_providers(endpoint)}"
        )
    return pacts


def _other_providers(endpoint: BrokerEndpoint) -> str:
    # A consumer that spelled the provider's name differently is a common cause of "no
    # pacts": say which providers the broker does hold pacts for.
    try:
        names = broker_api.providers_with_pacts(endpoint)
    except BrokerError:
        return ""
    if PROVIDER in names:
        return ""  # the selectors picked none of them: the message names the selectors
    if not names:
        return " (the broker holds no pacts at all)"
    return f" (the broker holds pacts only for {', '.join(sorted(names))}: is the name right?)"


def _verify(
    cell: Cell,
    settings: Settings,
    endpoint: BrokerEndpoint,
    store: StateStore | None,
    slice_files: Sequence[Path] | None,
) -> tuple[dict[str, Any], str, str | None]:
    """The verifier's results and report, and what went wrong with the provider or the broker
    while it ran (or None). The verifier reaches the broker through a relay that makes a
    failing broker fail it at once; given `slice_files`, it verifies those instead."""
    # A secret per run: the state endpoint answers only requests that carry it, and the
    # verifier adds it to every request it sends, the state changes included.
    state_secret = settings.state_secret or secrets.token_urlsafe(32)
    app = providers.create_app(
        cell.framework, store, provider_states=True, state_secret=state_secret
    )
    # A provider that takes as long as the verifier's request timeout is stopped as hung.
    with (
        watchdog.watched(app, request_timeout=settings.request_timeout_ms / 1000) as server,
        broker_relay.relay(
            _origin(settings.pact_url) if settings.pact_url else endpoint.url
        ) as broker,
    ):
        verifier = (
            Verifier(PROVIDER, host="127.0.0.1")
            .add_transport(url=server.url)
            .state_handler(f"{server.url}{STATE_PATH}", body=True, teardown=True)
            .add_custom_header(STATE_SECRET_HEADER, state_secret)
            .set_request_timeout(settings.request_timeout_ms)
            .set_coloured_output(enabled=False)
        )
        if slice_files is not None:
            # The selected pacts, sliced: as the broker would have given them, in its order.
            for path in slice_files:
                verifier.add_source(str(path))
        elif settings.pact_url:
            # Exactly this pact (a webhook-triggered build), read through the relay: no
            # selectors, pending or WIP.
            source = broker.url + _path_and_query(settings.pact_url)
            if endpoint.token:
                verifier.add_source(source, token=endpoint.token)
            else:
                verifier.add_source(source, username=endpoint.username, password=endpoint.password)
        else:
            _broker_source(verifier, settings, endpoint, broker.url)
        if settings.filtered:
            verifier.filter(
                settings.description_filter,
                state=settings.state_filter,
                no_state=settings.no_state_filter,
            )
        with _one_ca_certificate(endpoint.url, server.url):
            server.verify(verifier)
    # output() is a string backed by FFI memory: copy it into a plain str.
    return verifier.results, str(verifier.output(strip_ansi=True)), server.problem or broker.failure


def _broker_source(
    verifier: Verifier, settings: Settings, endpoint: BrokerEndpoint, relay_url: str
) -> None:
    """The pacts the broker selects for the provider, as the settings ask for them."""
    if endpoint.token:
        builder = verifier.broker_source(
            relay_url, token=endpoint.token, selector=True, use_env=False
        )
    else:
        builder = verifier.broker_source(
            relay_url,
            username=endpoint.username,
            password=endpoint.password,
            selector=True,
            use_env=False,
        )
    for selector in settings.selectors:
        builder.consumer_version(**{_snake_case(key): value for key, value in selector.items()})
    if settings.include_pending:
        builder.include_pending()
    if settings.provider_branch:
        builder.provider_branch(settings.provider_branch)
    if settings.include_wip_since:
        builder.include_wip_since(settings.include_wip_since)
    builder.build()


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.rsplit('@', 1)[-1]}"


def _path_and_query(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


@contextlib.contextmanager
def _one_ca_certificate(*urls: str) -> Iterator[None]:
    """Spare the verifier from re-reading the system's CA certificates on every request.

    The verifier builds a new HTTP client for each request it sends, and each client parses
    every certificate in the system's CA bundle (about 290 here): half the verifier's time
    per interaction. When every URL is plain http no certificate is ever checked, so the
    verifier is pointed at a bundle of one certificate for as long as it runs.
    """
    if any(urlsplit(url).scheme != "http" for url in urls):
        yield
        return
    first_certificate = certifi.contents().split("-----END CERTIFICATE-----")[0]
    saved = {name: os.environ.get(name) for name in ("SSL_CERT_FILE", "SSL_CERT_DIR")}
    with tempfile.TemporaryDirectory(prefix="pact-matrix-ca-") as directory:
        bundle = Path(directory, "ca.pem")
        bundle.write_text(f"{first_certificate}-----END CERTIFICATE-----\n", encoding="ascii")
        os.environ["SSL_CERT_FILE"] = str(bundle)
        os.environ["SSL_CERT_DIR"] = directory
        try:
            yield
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value


def _check_something_was_verified(
    results: dict[str, Any], pacts: list[PactRef], settings: Settings
) -> None:
    interactions = results.get("interactionResults", [])
    if not interactions and settings.filtered:
        total = sum(len(pact.interaction_ids) for pact in pacts)
        raise CellFailure(
            f"the filter {settings.filters} selected none of the {total} interaction(s) in "
            f"{len(pacts)} pact(s): nothing was verified"
        )
    if not interactions:
        raise CellFailure(f"the verifier checked zero interactions in {len(pacts)} pact(s)")
    if results.get("result") is not True and all(i.get("result") == "OK" for i in interactions):
        errors = "\n".join(_error_line(e) for e in results.get("errors", [])) or "(no detail)"
        raise CellFailure(f"the verifier failed without naming an interaction:\n{errors}")


def _error_line(error: dict[str, Any]) -> str:
    # {"interaction": "Failed to load pact", "mismatch": {"message": ...}}: say both halves.
    mismatch = error.get("mismatch")
    message = mismatch.get("message") if isinstance(mismatch, dict) else mismatch
    return f"{error.get('interaction', 'error')}: {message}"


def _known_states() -> str:
    return ", ".join(shown(name) for name in PROVIDER_STATES)


def _name_unknown_states(outcome: InteractionOutcome) -> InteractionOutcome:
    """A failed interaction whose state the provider does not know says so itself: the verifier
    reports only that a state change failed, and the provider's log is easy to miss."""
    unknown = [state for state in outcome.states if state not in PROVIDER_STATES]
    if outcome.success or not unknown:
        return outcome
    lines = tuple(
        f"unknown provider state {shown(state)}; the provider knows: {_known_states()}"
        for state in unknown
    )
    return dataclasses.replace(outcome, mismatches=(*lines, *outcome.mismatches))


def _unknown_states_report(interactions: tuple[InteractionOutcome, ...]) -> str:
    unknown = sorted(
        {state for i in interactions if not i.success for state in i.states} - set(PROVIDER_STATES)
    )
    if not unknown:
        return ""
    return (
        f"\n\nProvider states the provider does not know: {', '.join(map(shown, unknown))}"
        f"\nThe states it knows (states/vocabulary.py): {_known_states()}"
    )


def _rerun_commands(cell: Cell, interactions: tuple[InteractionOutcome, ...]) -> str:
    """The command that reruns each failed interaction alone, in this cell only."""
    failed = [interaction for interaction in interactions if not interaction.success]
    if not failed:
        return ""
    lines = ["", "", "To rerun just one failed interaction in this cell:"]
    for interaction in failed:
        filters = f"PACT_DESCRIPTION={shlex.quote(exactly(interaction.description))}"
        if interaction.states:
            filters += f" PACT_PROVIDER_STATE={shlex.quote(exactly(interaction.states[0]))}"
        lines.append(f"  {filters} nox -s {shlex.quote(cell.name)}")
    return "\n".join(lines)


def exactly(text: str) -> str:
    """A regular expression that matches `text` and nothing else, in Python's and in the
    verifier's (Rust `regex`) syntax alike: only the characters both treat as special are
    escaped (Rust refuses some of the escapes `re.escape` makes, such as `\\ `)."""
    return "^" + re.sub(r"([\\.^$|?*+()\[\]{}])", r"\\\1", text) + "$"


def _snake_case(key: str) -> str:
    return re.sub(r"(?<!^)([A-Z])", r"_\1", key).lower()


def _outcome(item: dict[str, Any]) -> InteractionOutcome:
    duration = re.fullmatch(r"(\d+)ms", str(item.get("duration", "")))
    return InteractionOutcome(
        consumer=str(item.get("consumer", "")),
        description=str(item.get("description", "")),
        states=tuple(str(state) for state in item.get("providerStates", [])),
        success=item.get("result") == "OK",
        pending=bool(item.get("pending", False)),
        mismatches=_mismatches(item.get("mismatch")),
        duration_ms=int(duration.group(1)) if duration else None,
        interaction_id=str(item["interactionId"]) if item.get("interactionId") else None,
    )


def _mismatches(mismatch: dict[str, Any] | None) -> tuple[str, ...]:
    """One line per problem, e.g. `BodyMismatch $.id: Expected 'three' to be equal to 3`."""
    if not mismatch:
        return ()
    if mismatch.get("type") != "mismatches":
        return (str(mismatch.get("message") or mismatch),)
    lines = []
    for item in mismatch.get("mismatches", []):
        where = item.get("path") or item.get("key")
        kind = item.get("type", "Mismatch")
        lines.append(
            f"{kind} {where}: {item.get('mismatch')}"
            if where
            else f"{kind}: {item.get('mismatch')}"
        )
    return tuple(lines)


@contextlib.contextmanager
def capture_logs() -> Iterator[list[str]]:
    """Collect what the provider and its server log while a cell runs, to show on failure."""
    lines: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            # Not the verifier's logs, nor those of the harness's own HTTP client.
            if not record.name.startswith(("pact", "httpx", "httpcore")):
                lines.append(self.format(record))

    handler = Collect(level=logging.INFO)
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(min(level, logging.INFO))
    try:
        yield lines
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
