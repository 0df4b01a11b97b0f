"""Verification runs side by side on one machine: no port, file or result is shared by accident.

What is run at once is what two CI jobs on one runner, or two checkouts on a laptop, run: the
cells' own command (`python -m verification cell FRAMEWORK`), each with its
embedded broker and providers on ports the OS picks, its results and pacts directories of its
own. In the `reliability` nox session (RELIABILITY_FULL=1) two whole `nox -s verify` matrices
run at once from two clones of this repository, and `nox -s verify` is interrupted with Ctrl-C.
"""

from __future__ import annotations

import codecs
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil
import pytest

from matrix import ALL_CELLS, FRAMEWORKS, PROJECT_ROOT, PYTHONS, cell_name, newest
from providers import api
from tests.reliability.conftest import ctrl_c_reaches_children, note, running_command
from verification.settings import Settings

FULL = os.environ.get("RELIABILITY_FULL") == "1"
full_only = pytest.mark.skipif(not FULL, reason="heavy: runs in the nox `reliability` session")
# One run: the cells' command for each framework in turn, each with an embedded broker.
EVERY_FRAMEWORK_IN_TURN = """
import sys
from matrix import FRAMEWORKS
from verification.__main__ import main
sys.exit(max(main(["cell", framework]) for framework in FRAMEWORKS))
"""


def test_verification_runs_at_once_do_not_collide(settings: Settings, tmp_path: Path) -> None:
    runs = 2
    started = time.perf_counter()
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", EVERY_FRAMEWORK_IN_TURN],
            cwd=PROJECT_ROOT,
            env={
                **os.environ,
                "PACT_DIR": str(settings.pact_dir),
                "PACT_RESULTS_DIR": str(tmp_path / f"results-{n}"),
            },
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for n in range(runs)
    ]  # fmt: skip
    outputs = [process.communicate(timeout=300)[0] for process in processes]
    note(
        "concurrency", f"{runs} verification runs at once in {time.perf_counter() - started:.1f} s"
    )
    for process, output in zip(processes, outputs, strict=True):
        assert process.returncode == 0, output
    for n in range(runs):
        results = sorted((tmp_path / f"results-{n}").glob("*.json"))
        assert len(results) == len(FRAMEWORKS), results
        for result in results:
            assert json.loads(result.read_text())["success"] is True


def clone_of_this_checkout(destination: Path) -> Path:
    subprocess.run(["git", "clone", "-q", str(PROJECT_ROOT), str(destination)], check=True)
    return destination


def run_nox(checkout: Path, *arguments: str) -> subprocess.Popen[str]:
    with ctrl_c_reaches_children():
        return subprocess.Popen(
            [shutil.which("nox") or "nox", *arguments],
            cwd=checkout,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,  # its own process group, as a terminal's foreground job
        )


@full_only
def test_two_whole_matrices_at_once_in_one_checkout(tmp_path: Path) -> None:
    """Two `nox -s verify` started a few seconds apart in one checkout: each runs apart from
    the other (its own run folder, pacts, broker and virtualenvs), and each publishes its own
    verdict."""
    checkout = clone_of_this_checkout(tmp_path / "checkout")
    started = time.perf_counter()
    first = run_nox(checkout, "-s", "verify")
    time.sleep(3)
    second = run_nox(checkout, "-s", "verify")
    outputs = [process.communicate(timeout=1800)[0] for process in (first, second)]
    note("concurrency", f"two `nox -s verify` at once in {time.perf_counter() - started:.0f} s")
    for process, output in zip((first, second), outputs, strict=True):
        assert process.returncode == 0, output[-5000:]
        assert "Verdict: verified, and published." in output, output[-3000:]
    # The second says whose virtualenvs it found in use, and its own are gone when it ends.
    in_use = f"another nox (pid {first.pid}) is using {checkout.resolve() / '.nox'} in this"
    assert in_use in outputs[1], outputs[1][:3000]
    assert not any((checkout / ".nox" / "alongside").glob("*"))
    runs = sorted((checkout / "results" / "runs").iterdir())
    assert len(runs) == 2, runs
    for folder in runs:
        results = sorted(folder.glob("verify-*.json"))
        assert len(results) == len(ALL_CELLS), results
        assert all(json.loads(path.read_text())["success"] for path in results)
        assert len({json.loads(path.read_text())["run"] for path in results}) == 1


CELL = cell_name(PYTHONS[-1], newest(FRAMEWORKS[0]).name)


@pytest.fixture(scope="module")
def installed_cell(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A clone whose cell has its virtualenv, so that `nox -R` runs it at once."""
    checkout = clone_of_this_checkout(tmp_path_factory.mktemp("clone") / "checkout")
    installing = run_nox(checkout, "-s", CELL)  # creates the virtualenv
    output = installing.communicate(timeout=600)[0]
    assert f"Session {CELL} was successful" in output, output[-5000:]
    # One cell is part of the matrix: no verdict, nothing published, and nox says so by its
    # exit status, which a script or a CI step reads.
    assert installing.returncode == 1, output[-5000:]
    assert "is part of the matrix (1 of" in output, output[-5000:]
    assert "Verdict:" not in output, output[-5000:]
    return checkout


class NoxRun:
    """`nox -R -s CELL` running, and what it has printed so far (a line need not be finished:
    pytest prints a test file's name before its tests run)."""

    def __init__(self, checkout: Path) -> None:
        self.process = run_nox(checkout, "-R", "-s", CELL)
        self._printed: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self.not_the_provider: set[int] = set()

    def _read(self) -> None:
        assert self.process.stdout is not None
        descriptor = self.process.stdout.fileno()
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        while chunk := os.read(descriptor, 65536):
            self._printed.append(decoder.decode(chunk))

    def output(self) -> str:
        return "".join(self._printed)

    def tree(self) -> list[psutil.Process]:
        nox = psutil.Process(self.process.pid)
        with contextlib.suppress(psutil.NoSuchProcess):
            return [nox, *nox.children(recursive=True)]
        return [nox]

    def running(self, command: str) -> psutil.Process | None:
        """The cell's process whose command line has `command`, while it runs."""
        for process in self.tree():
            line = running_command(process)
            if line is not None and command in line:
                return process
        return None

    def wait(self) -> str:
        self.process.wait(timeout=120)
        self._reader.join(timeout=60)
        return self.output()


# Each moment of a cell at which Ctrl-C is tried: a look at the running cell that says whether
# the cell is at that moment now and, if so, how to tell that it still is while it is held.
Moment = Callable[[NoxRun], Callable[[], bool] | None]


def the_consumer_tests_run(run: NoxRun) -> Callable[[], bool] | None:
    consumer_tests = run.running("/bin/pytest tests/consumer")
    if consumer_tests is None:
        return None
    return lambda: running_command(consumer_tests) is not None


def the_cell_starts(run: NoxRun) -> Callable[[], bool] | None:
    cell = run.running("-m verification cell")
    if cell is None:
        return None
    return lambda: running_command(cell) is not None


def the_provider_answers(run: NoxRun) -> Callable[[], bool] | None:
    """The provider listens in the cell's process and answers as the user API does."""
    cell = run.running("-m verification cell")
    if cell is None:
        return None
    for port in _listening_ports([cell]) - run.not_the_provider:
        try:
            answer = httpx.get(f"http://127.0.0.1:{port}/users/{'9' * 30}", timeout=30)
        except httpx.HTTPError:
            continue  # not answering yet, or no longer: ask again
        if answer.status_code == 404 and _json_or_none(answer) == NO_SUCH_USER:
            return lambda: port in _listening_ports([cell])
        run.not_the_provider.add(port)  # the relay to the broker
    return None


# Compared as a consumer compares it, by value: each framework serialises JSON its own way.
NO_SUCH_USER = {"detail": api.USER_NOT_FOUND}


def _json_or_none(answer: httpx.Response) -> object:
    try:
        return answer.json()
    except ValueError:
        return None


MOMENTS: dict[str, Moment] = {
    "the consumer tests run": the_consumer_tests_run,
    "the cell starts": the_cell_starts,
    "the provider answers": the_provider_answers,
}


@dataclass(frozen=True)
class Interrupted:
    """The cell's processes and listening ports when SIGINT reached them."""

    tree: list[psutil.Process]
    ports: set[int]


def ctrl_c_at(
    moment: Moment, run: NoxRun, interrupt: Callable[[int], None] | None = None
) -> Interrupted | None:
    """Wait for `moment`, hold the cell there (SIGSTOP), make sure that it still is there, and
    send SIGINT to nox's process group as Ctrl-C in a terminal does (or `interrupt` it, given
    nox's pid); then let the cell go on.

    None if the cell went past the moment (or ended) before it could be held.
    """
    while (still_there := moment(run)) is None:
        if run.process.poll() is not None:
            return None
        time.sleep(0.002)
    group = run.process.pid
    os.killpg(group, signal.SIGSTOP)
    try:
        tree = run.tree()
        # Stopping takes a moment. The embedded broker runs in a session of its own (so that
        # Ctrl-C reaches nox first): SIGSTOP does not reach it, and it is not waited for.
        while any(_is_running(process) for process in tree if _group_of(process) == group):
            time.sleep(0.001)
        if not still_there():
            return None
        interrupted = Interrupted(tree, _listening_ports(tree))
        # Taken as soon as the group goes on.
        (interrupt or (lambda pid: os.killpg(pid, signal.SIGINT)))(group)
        return interrupted
    finally:
        os.killpg(group, signal.SIGCONT)


def interrupted_at(
    moment: str, checkout: Path, interrupt: Callable[[int], None] | None = None
) -> tuple[NoxRun, Interrupted, set[Path]]:
    """`nox -R -s CELL` interrupted at `moment` (tried 3 times: a cell can pass a moment
    between the look and the hold), with the run folders there were before it started."""
    for attempt in range(1, 4):
        before = set(_run_folders(checkout))
        # The consumer tests run in every attempt: no pacts are kept from an earlier one.
        shutil.rmtree(checkout / ".nox" / ".cache" / "pacts", ignore_errors=True)
        run = NoxRun(checkout)
        try:
            interrupted = ctrl_c_at(MOMENTS[moment], run, interrupt)
        except BaseException:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(run.process.pid, signal.SIGKILL)
            raise
        if interrupted is not None:
            return run, interrupted, before
        run.wait()
        note("concurrency", f"when {moment}: the cell went past it (attempt {attempt})")
    pytest.fail(f"the cell went past the moment '{moment}' before it was held, 3 times")


def assert_it_left_nothing(
    interrupted: Interrupted, before: set[Path], checkout: Path, output: str
) -> None:
    """No run folder, and every process and port of the cell gone with nox or soon after (an
    orphan that took the signal)."""
    assert set(_run_folders(checkout)) <= before, output
    _, alive = psutil.wait_procs(interrupted.tree, timeout=10)
    still_running = [p for p in alive if running_command(p) is not None]
    assert not still_running, output
    for port in interrupted.ports:
        with socket.socket() as probe:
            assert probe.connect_ex(("127.0.0.1", port)) != 0, (port, output)


@full_only
@pytest.mark.parametrize("moment", MOMENTS)
def test_ctrl_c_during_nox_verify_leaves_nothing_running(moment: str, installed_cell: Path) -> None:
    """Ctrl-C during `nox -s verify-...` at each moment of a cell, each one seen before the
    interrupt is sent: the consumer tests running, the cell starting, the provider answering."""
    run, interrupted, before = interrupted_at(moment, installed_cell)
    started = time.perf_counter()
    output = run.wait()
    seconds = time.perf_counter() - started
    note(
        "concurrency",
        f"Ctrl-C when {moment} (`nox -s {CELL}`): exit {run.process.returncode} after "
        f"{seconds:.2f} s, listening then: {sorted(interrupted.ports)}",
    )
    assert run.process.returncode == 130, output  # nox's exit code for an interrupted session
    # Not nox terminating a cell that ignored the interrupt for its interrupt_timeout (15 s).
    assert seconds < 15, output
    assert_it_left_nothing(interrupted, before, installed_cell, output)


@full_only
@pytest.mark.parametrize("signal_name", ["SIGTERM", "SIGINT"])
def test_a_signal_to_nox_alone_stops_the_run_and_leaves_nothing(
    signal_name: str, installed_cell: Path
) -> None:
    """A CI cancellation (SIGTERM) or a kill -INT reaches nox's process only, not its group:
    sent while the provider answers (held there, as the Ctrl-C test holds it)."""
    signalled = getattr(signal, signal_name)
    run, interrupted, before = interrupted_at(
        "the provider answers", installed_cell, lambda pid: os.kill(pid, signalled)
    )
    started = time.perf_counter()
    output = run.wait()
    seconds = time.perf_counter() - started
    note(
        "concurrency",
        f"{signal_name} to nox alone: exit {run.process.returncode} in {seconds:.1f} s",
    )
    assert run.process.returncode != 0, output
    assert "Verdict:" not in output  # an interrupted run publishes nothing
    assert_it_left_nothing(interrupted, before, installed_cell, output)


def _run_folders(checkout: Path) -> list[Path]:
    runs = checkout / "results" / "runs"
    return sorted(runs.iterdir()) if runs.is_dir() else []


def _group_of(process: psutil.Process) -> int | None:
    try:
        return os.getpgid(process.pid)
    except ProcessLookupError:
        return None


def _is_running(process: psutil.Process) -> bool:
    try:
        return process.status() not in (psutil.STATUS_STOPPED, psutil.STATUS_ZOMBIE)
    except psutil.NoSuchProcess:
        return False


# The tree changes while it is looked at (uv, git and pytest start and end): a process that
# is gone by the time it is asked has no port and is not running.
def _listening_ports(tree: list[psutil.Process]) -> set[int]:
    ports: set[int] = set()
    for process in tree:
        with contextlib.suppress(psutil.NoSuchProcess):
            ports |= {
                c.laddr.port
                for c in process.net_connections("tcp")
                if c.status == psutil.CONN_LISTEN
            }
    return ports
