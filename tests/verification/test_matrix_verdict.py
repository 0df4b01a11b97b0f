"""The whole matrix against one real broker, ending in one verdict that can-i-deploy believes.

Every cell of the matrix runs here, in this process (the Python of a cell is only its name:
what differs between Pythons is tested by `nox -s verify`, what is tested here is what the
broker hears). The broker is `python -m broker` on SQLite on disk; the verdict is published
by `python -m verification verdict`'s own code, and can-i-deploy is the real `pact` CLI.
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from pact import Verifier

import broker
import providers
from broker.testing import RunningBroker, start_broker
from matrix import ALL_CELLS, FRAMEWORKS, PROVIDER, SERIES
from providers.api import STATE_PATH
from providers.runner import serve
from states import InMemoryUserRepository, User
from verification import pact_cli
from verification.__main__ import main
from verification.broker_api import BrokerEndpoint
from verification.cell import Cell, run
from verification.embedded import publish_pacts_once
from verification.results import CellResult
from verification.settings import Settings
from verification.verdict import judge, publish

BROKEN = FRAMEWORKS[-1]  # the framework with the fault; the others are healthy


class NoUserIsFound(InMemoryUserRepository):
    """The fault: a provider that answers 404 for every `GET /users/{id}`."""

    def get(self, user_id: int) -> User | None:
        return None


def settings_for(path: str, url: str, pact_dir: Path, results: Path) -> Settings:
    """A cell's settings on the embedded-broker path or the real-broker path: the same broker,
    told apart only by what `nox -s verify` sets (and so pending and WIP off, or on)."""
    environ = {
        "PACT_BROKER_BASE_URL": url,
        "PACT_DIR": str(pact_dir),
        "PACT_RESULTS_DIR": str(results),
        "PACT_CONSUMER_VERSION": "consumer-1",
        "PACT_CONSUMER_BRANCH": "main",
        "PACT_PROVIDER_BRANCH": "main",
        "PACT_PUBLISH_VERIFICATION_RESULTS": "true",
        "PACT_PROVIDER_VERSION": "unused",
    }
    if path == "embedded":
        environ["PACT_MATRIX_EMBEDDED_BROKER"] = "true"
    return Settings.from_env(environ)


@dataclass
class Matrix:
    """Runs the whole matrix for a provider version and publishes its verdict."""

    endpoint: BrokerEndpoint
    settings: Settings
    results: Path
    runs: int = 0
    outputs: list[str] = field(default_factory=list)

    def verify(
        self, version: str, *, broken: str | None, capsys: pytest.CaptureFixture[str]
    ) -> tuple[list[CellResult], int]:
        self.runs += 1
        settings = dataclasses.replace(
            self.settings, provider_version=version, run=f"run-{self.runs}"
        )
        cells = []
        for series in SERIES:  # every cell of the matrix, each series named as declared
            for python in series.pythons:
                framework = series.framework
                store = NoUserIsFound() if framework == broken else None
                cell = Cell(framework, python, series.name)
                result = run(cell, settings, self.endpoint, store=store)
                result.write(self.results)
                cells.append(result)
        capsys.readouterr()
        with pytest.MonkeyPatch.context() as patch:
            for name, value in _environment(settings).items():
                patch.setenv(name, value)
            exit_code = main(["verdict", str(self.results)])
        self.outputs.append(capsys.readouterr().out)
        return cells, exit_code

    def can_i_deploy(self, version: str) -> bool:
        return pact_cli.can_i_deploy(self.endpoint, PROVIDER, version)[0]


def _environment(settings: Settings) -> dict[str, str]:
    environ = {
        "PACT_BROKER_BASE_URL": settings.broker.url if settings.broker else "",
        "PACT_PROVIDER_VERSION": settings.provider_version,
        "PACT_PROVIDER_BRANCH": settings.provider_branch or "",
        "PACT_MATRIX_RUN": settings.run or "",
        "PACT_PUBLISH_VERIFICATION_RESULTS": "true",
        "PACT_DIR": str(settings.pact_dir),
    }
    if settings.embedded:
        environ["PACT_MATRIX_EMBEDDED_BROKER"] = "true"
    return environ


@pytest.fixture
def fresh_broker(tmp_path: Path) -> Iterator[RunningBroker]:
    running = start_broker(tmp_path / "pact_broker.sqlite")
    yield running
    assert running.stop() == 0


@pytest.mark.parametrize("path", ["embedded", "real broker"])
def test_a_fault_in_one_framework_fails_all_its_cells_alike_and_can_i_deploy_says_no(
    path: str,
    fresh_broker: RunningBroker,
    settings: Settings,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    cell_settings = settings_for(path, fresh_broker.url, settings.pact_dir, tmp_path / "results")
    endpoint = BrokerEndpoint(fresh_broker.url)
    publish_pacts_once(endpoint, cell_settings)
    matrix = Matrix(endpoint, cell_settings, tmp_path / "results")
    pending_on_a_fresh_broker = path == "real broker"

    # 1. A fresh broker: the pact has never been verified (pending, where pending is on).
    cells, exit_code = matrix.verify("broken-1", broken=BROKEN, capsys=capsys)
    _assert_broken_framework_alike(cells, pending=pending_on_a_fresh_broker)
    assert "is NOT verified" in matrix.outputs[-1]
    assert "says no" in matrix.outputs[-1]
    assert not matrix.can_i_deploy("broken-1")
    # Pending decides whether the failure fails the build, never what the verdict says.
    assert exit_code == (0 if pending_on_a_fresh_broker else 1), matrix.outputs[-1]

    # 2. A healthy version on the main branch: every cell passes, can-i-deploy says yes.
    cells, exit_code = matrix.verify("healthy-1", broken=None, capsys=capsys)
    assert all(cell.success for cell in cells)
    assert exit_code == 0, matrix.outputs[-1]
    assert f"{len(ALL_CELLS)} of {len(ALL_CELLS)} cells passed" in matrix.outputs[-1]
    assert matrix.can_i_deploy("healthy-1")

    # 3. The pact was verified on main, so it is no longer pending: the fault fails the build.
    cells, exit_code = matrix.verify("broken-2", broken=BROKEN, capsys=capsys)
    _assert_broken_framework_alike(cells, pending=False)
    assert exit_code == 1, matrix.outputs[-1]
    assert not matrix.can_i_deploy("broken-2")
    assert matrix.can_i_deploy("healthy-1")  # an older verdict is not overwritten


def _assert_broken_framework_alike(cells: list[CellResult], *, pending: bool) -> None:
    # Nothing was published while the cells ran, so every cell saw the same pending status.
    assert {pact.pending for cell in cells for pact in cell.pacts} == {pending}
    broken = [cell for cell in cells if cell.framework == BROKEN]
    healthy = [cell for cell in cells if cell.framework != BROKEN]
    assert len(broken) == sum(len(s.pythons) for s in SERIES if s.framework == BROKEN)
    outcomes = {tuple((i.description, i.success) for i in cell.interactions) for cell in broken}
    assert len(outcomes) == 1, outcomes  # the same result in every cell of that framework
    assert any(not success for _, success in next(iter(outcomes)))
    assert all(all(i.success for i in cell.interactions) for cell in healthy)


@dataclass(frozen=True)
class Recorded:
    method: str
    path: str
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> list[str]:
        """The header's values, each of a comma-separated list on its own (RFC 9110, 5.3)."""
        values = [value for key, value in self.headers if key == name]
        return [item.strip() for value in values for item in value.split(",")]

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class RecordingBroker:
    """ASGI middleware around the broker: every request it gets, as it got it."""

    app: Any
    requests: list[Recorded] = field(default_factory=list)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        body, more = b"", True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        headers = [(k.decode().lower(), v.decode()) for k, v in scope["headers"]]
        self.requests.append(Recorded(scope["method"], scope["path"], headers, body))

        async def replay() -> dict[str, Any]:
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)

    def writes(self, since: int = 0) -> list[Recorded]:
        """What a verifier changes when it publishes (the pacts-for-verification query aside)."""
        return [
            request
            for request in self.requests[since:]
            if request.method in {"PUT", "POST", "PATCH"}
            and not request.path.endswith("/for-verification")
        ]


def test_the_verdict_is_published_as_pact_pythons_own_verifier_publishes(
    settings: Settings, tmp_path: Path
) -> None:
    recording = RecordingBroker(broker.create_app(tmp_path / "pact_broker.sqlite"))
    build_url = "https://ci.example/build/1"
    with serve(recording) as broker_server:
        endpoint = BrokerEndpoint(broker_server.url)
        cell_settings = settings_for("embedded", endpoint.url, settings.pact_dir, tmp_path)
        publish_pacts_once(endpoint, cell_settings)

        # What pact-python's verifier sends when it publishes its results.
        before = len(recording.requests)
        with serve(providers.create_app(FRAMEWORKS[0], provider_states=True)) as provider:
            verifier = (
                Verifier(PROVIDER, host="127.0.0.1")
                .add_transport(url=provider.url)
                .state_handler(f"{provider.url}{STATE_PATH}", body=True, teardown=True)
                .set_publish_options(version="theirs-1", branch="feature-x", url=build_url)
            )
            verifier.broker_source(endpoint.url, selector=True, use_env=False).consumer_version(
                main_branch=True
            ).build()
            verifier.verify()
        theirs = recording.writes(before)

        # What the verdict sends for the same pact.
        results = [
            run(Cell(series.framework, python, series.name), cell_settings, endpoint)
            for series in SERIES
            for python in series.pythons
        ]
        verdict = judge(results, ALL_CELLS, whole=True)
        verdict = dataclasses.replace(
            verdict, provider_version="ours-1", provider_branch="feature-x"
        )
        before = len(recording.requests)
        publish(endpoint, verdict, build_url=build_url)
        ours = recording.writes(before)

    assert [(r.method, r.path.replace("theirs-1", "V")) for r in theirs] == [
        (r.method, r.path.replace("ours-1", "V")) for r in ours
    ]
    (their_branch, their_result), (our_branch, our_result) = theirs, ours
    assert their_branch.path == f"/pacticipants/{PROVIDER}/branches/feature-x/versions/theirs-1"
    assert their_branch.json() == our_branch.json() == {}
    for their, our in zip(theirs, ours, strict=True):
        for name in ("content-type", "accept", "accept-charset"):
            assert their.header(name) == our.header(name), name
    their_body, our_body = their_result.json(), our_result.json()
    assert set(their_body) == set(our_body) == {
        "buildUrl", "providerApplicationVersion", "success", "testResults", "verifiedBy",
    }  # fmt: skip
    for name in their_body:
        assert type(their_body[name]) is type(our_body[name]), name
    assert our_body["providerApplicationVersion"] == "ours-1"
    assert our_body["buildUrl"] == build_url
    assert our_body["success"] is their_body["success"] is True
    # One test result per interaction from pact-python; one per interaction and cell here,
    # each with the fields pact-python sends and the cell that verified it.
    their_ids = sorted(entry["interactionId"] for entry in their_body["testResults"])
    our_ids = sorted({entry["interactionId"] for entry in our_body["testResults"]})
    assert their_ids == our_ids
    assert len(our_body["testResults"]) == len(their_ids) * len(ALL_CELLS)
    for entry in our_body["testResults"]:
        assert set(next(iter(their_body["testResults"]))) <= set(entry)
        assert entry["cell"] in ALL_CELLS


@dataclass
class ChildProcesses:
    """Every command line this process starts, as `ps` would show it to any user."""

    argv: list[list[str]] = field(default_factory=list)


@pytest.fixture
def children(monkeypatch: pytest.MonkeyPatch) -> ChildProcesses:
    seen = ChildProcesses()
    original = subprocess.Popen

    class Recording(original):  # type: ignore[misc, valid-type]
        def __init__(self, args: Any, *rest: Any, **options: Any) -> None:
            seen.argv.append([str(arg) for arg in args])
            super().__init__(args, *rest, **options)

    monkeypatch.setattr(subprocess, "Popen", Recording)
    return seen


def test_no_credential_is_ever_on_a_command_line(
    children: ChildProcesses, settings: Settings, tmp_path: Path
) -> None:
    username, password = "matrix-writer", "s3cret-password-7f1b"
    auth = {
        "PACT_BROKER_BASIC_AUTH_USERNAME": username,
        "PACT_BROKER_BASIC_AUTH_PASSWORD": password,
    }
    running = start_broker(tmp_path / "pact_broker.sqlite", env=auth)
    try:
        endpoint = BrokerEndpoint(running.url, username=username, password=password)
        cell_settings = dataclasses.replace(
            settings_for("embedded", running.url, settings.pact_dir, tmp_path),
            broker=endpoint,
        )
        publish_pacts_once(endpoint, cell_settings)
        deployable, answer = pact_cli.can_i_deploy(endpoint, PROVIDER, "never-verified")
        # The CLI reached the broker with the credentials: an answer, not a 401.
        assert not deployable
        assert "401" not in answer
        token = "t0ken-9d2c"
        pact_cli.broker(BrokerEndpoint(running.url, token=token), "list-latest-pact-versions",
                        allowed_exits=(0, 1))  # fmt: skip
    finally:
        assert running.stop() == 0

    commands = [argv for argv in children.argv if Path(argv[0]).name == "pact"]
    assert len(commands) == 3, children.argv  # publish, can-i-deploy, list-latest-pact-versions
    for argv in children.argv:
        assert not any(secret in arg for arg in argv for secret in (password, token)), argv
