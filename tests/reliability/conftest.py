"""Fixtures for attacking the project: a broker in its own process, the consumer's pacts, and a
check that a test left no thread, process, listening socket, descriptor or temporary file.

The broker runs as `python -m broker` so that its threads and sockets are not this process's:
whatever the leak check finds here was left by the code under test.
"""

from __future__ import annotations

import contextlib
import gc
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest

from broker.testing import RunningBroker, start_broker
from matrix import FRAMEWORKS, PROJECT_ROOT
from verification import pact_cli
from verification.broker_api import BrokerEndpoint
from verification.cell import Cell, run
from verification.settings import Settings

# Threads end and sockets close a moment after the code that owns them returns; and the
# verifier's Rust runtime (tokio) keeps an idle blocking-pool thread for 10 s before it ends.
SETTLE_SECONDS = 15.0

# What the attacks measured, by section, printed at the end of the run (pytest -s or not).
_NOTES: dict[str, list[str]] = {}


@contextlib.contextmanager
def ctrl_c_reaches_children() -> Iterator[None]:
    """Children started in this block begin with SIGINT at its default, as a terminal's
    foreground job does, whatever this process inherited.

    A shell script's background job (`cmd &`, `nohup ... &`) runs with SIGINT ignored, an
    ignored signal stays ignored across exec, and Python then installs no KeyboardInterrupt:
    a Ctrl-C test would interrupt nothing. A handled signal is reset to the default at exec,
    so handling it here while the child is started is enough.
    """
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def note(section: str, line: str) -> None:
    _NOTES.setdefault(section, []).append(line)


def record_time_to_failure(fault: str, seconds: float, message: str) -> None:
    first_line = next((line for line in message.splitlines() if line.strip()), "")
    note("time to a clear failure", f"{seconds:6.2f} s  {fault}: {first_line}")


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    for section, lines in _NOTES.items():
        terminalreporter.section(section)
        for line in lines:
            terminalreporter.write_line(line)


@pytest.fixture(params=FRAMEWORKS)
def framework(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


@pytest.fixture(scope="session")
def pact_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The consumer's pacts, written by its own contract tests (in a process of their own)."""
    directory = tmp_path_factory.mktemp("pacts")
    subprocess.run(
        [sys.executable, "-m", "pytest", "tests/consumer", "-q", "-p", "no:cacheprovider"],
        cwd=PROJECT_ROOT,
        env={**os.environ, "PACT_DIR": str(directory)},
        check=True,
        capture_output=True,
    )
    return directory


@pytest.fixture(scope="session")
def settings(pact_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    environ = {
        key: value for key, value in os.environ.items() if not key.startswith("PACT_BROKER_")
    }
    environ["PACT_DIR"] = str(pact_dir)
    environ["PACT_RESULTS_DIR"] = str(tmp_path_factory.mktemp("results"))
    return Settings.from_env(environ)


@pytest.fixture(scope="session")
def broker_process(
    settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningBroker]:
    """`python -m broker` holding the consumer's pacts, published with the real `pact` CLI."""
    running = start_broker(tmp_path_factory.mktemp("broker") / "pact_broker.sqlite")
    pact_cli.publish(
        BrokerEndpoint(running.url),
        settings.pact_dir,
        consumer_version=settings.consumer_version,
        branch=settings.consumer_branch,
    )
    yield running
    assert running.stop() == 0


@pytest.fixture(scope="session")
def broker_endpoint(broker_process: RunningBroker) -> BrokerEndpoint:
    return BrokerEndpoint(broker_process.url)


@pytest.fixture(scope="session")
def warm_verifier(settings: Settings, broker_endpoint: BrokerEndpoint) -> None:
    """One verification first: the verifier's Rust runtime starts two threads and opens a few
    descriptors on first use and keeps them for the life of the process. Those are not leaks."""
    assert run(Cell(FRAMEWORKS[0]), settings, broker_endpoint).success


def running_command(process: psutil.Process) -> str | None:
    """The command line of a process that is still running, or None: processes come and go
    while they are looked at, and one that is gone (or a zombie) is not running."""
    try:
        if process.status() == psutil.STATUS_ZOMBIE:
            return None
        return " ".join(process.cmdline())
    except psutil.NoSuchProcess:
        return None


@dataclass(frozen=True)
class Resources:
    """What this process holds that a test could leave behind."""

    threads: frozenset[str]
    native_threads: int
    descriptors: int
    children: frozenset[str]
    listening: frozenset[str]
    temp_files: frozenset[str]

    @classmethod
    def now(cls, temp_dir: Path) -> Resources:
        gc.collect()  # a socket that is garbage closes on collection: that is not a leak
        me = psutil.Process()
        return cls(
            threads=frozenset(f"{t.name} ({t.ident})" for t in threading.enumerate()),
            native_threads=me.num_threads(),
            descriptors=me.num_fds(),
            children=frozenset(
                f"{child.pid} {description}"
                for child in me.children(recursive=True)
                if (description := running_command(child)) is not None
            ),
            listening=frozenset(
                f"{c.laddr.ip}:{c.laddr.port}"
                for c in me.net_connections(kind="tcp")
                if c.status == psutil.CONN_LISTEN
            ),
            temp_files=frozenset(str(path) for path in temp_dir.rglob("*")),
        )

    def leaked_since(self, before: Resources) -> list[str]:
        leaks = [
            *(f"thread {name}" for name in self.threads - before.threads),
            *(f"child process {child}" for child in self.children - before.children),
            *(f"listening socket {address}" for address in self.listening - before.listening),
            *(f"temporary file {path}" for path in self.temp_files - before.temp_files),
        ]
        if self.native_threads > before.native_threads:
            leaks.append(f"{self.native_threads - before.native_threads} native thread(s)")
        if self.descriptors > before.descriptors:
            leaks.append(f"{self.descriptors - before.descriptors} file descriptor(s)")
        return leaks


@pytest.fixture
def no_leaks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, warm_verifier: None
) -> Iterator[None]:
    """Fail the test if it leaves a thread, child process, listening socket, file descriptor or
    temporary file behind. Temporary files go to a directory of the test's own (Python's
    `tempfile` and the Rust code alike read TMPDIR), so other processes' files do not count."""
    temp_dir = tmp_path / "tmp"
    temp_dir.mkdir()
    monkeypatch.setenv("TMPDIR", str(temp_dir))
    monkeypatch.setattr(tempfile, "tempdir", str(temp_dir))
    before = Resources.now(temp_dir)
    yield
    deadline = time.monotonic() + SETTLE_SECONDS
    while leaks := Resources.now(temp_dir).leaked_since(before):
        if time.monotonic() > deadline:
            pytest.fail("left behind:\n" + "\n".join(leaks))
        time.sleep(0.05)
