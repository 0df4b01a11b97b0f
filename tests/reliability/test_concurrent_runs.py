"""Verification runs side by side on one machine: no port, file or result is shared by accident.

What is run at once is what two CI jobs on one runner, or two checkouts on a laptop, run: the
cells' own command (`pytest tests/verification/test_verify_providers.py`), each with its
embedded broker and providers on ports the OS picks, its results and pacts directories of its
own. In the `reliability` nox session (RELIABILITY_FULL=1) two whole `nox -s verify` matrices
run at once from two clones of this repository, and `nox -s verify` is interrupted with Ctrl-C.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from tests.reliability.conftest import note, running_command
from verification.project import FRAMEWORKS, PROJECT_ROOT, PYTHONS
from verification.settings import Settings

FULL = os.environ.get("RELIABILITY_FULL") == "1"
full_only = pytest.mark.skipif(not FULL, reason="heavy: runs in the nox `reliability` session")


def test_verification_runs_at_once_do_not_collide(settings: Settings, tmp_path: Path) -> None:
    runs = 2
    started = time.perf_counter()
    processes = [
        subprocess.Popen(
            [
                sys.executable, "-m", "pytest", "tests/verification/test_verify_providers.py",
                "-p", "no:cacheprovider", "-q", f"--basetemp={tmp_path / f'basetemp-{n}'}",
            ],
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
    return subprocess.Popen(
        [shutil.which("nox") or "nox", *arguments],
        cwd=checkout,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its own process group, as a terminal's foreground job
    )


@full_only
def test_two_whole_matrices_at_once_from_two_checkouts(tmp_path: Path) -> None:
    checkouts = [clone_of_this_checkout(tmp_path / name) for name in ("first", "second")]
    started = time.perf_counter()
    processes = [run_nox(checkout, "-s", "verify") for checkout in checkouts]
    outputs = [process.communicate(timeout=1800)[0] for process in processes]
    note("concurrency", f"two `nox -s verify` at once in {time.perf_counter() - started:.0f} s")
    for process, output in zip(processes, outputs, strict=True):
        assert process.returncode == 0, output[-5000:]
    for checkout in checkouts:
        results = sorted((checkout / "results").glob("verify-*.json"))
        assert len(results) == len(PYTHONS) * len(FRAMEWORKS), results
        assert all(json.loads(path.read_text())["success"] for path in results)


CELL = f"verify-{PYTHONS[-1]}({FRAMEWORKS[0]})"


@pytest.fixture(scope="module")
def installed_cell(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, float]:
    """A clone whose cell has its virtualenv, and how long the cell then takes end to end."""
    checkout = clone_of_this_checkout(tmp_path_factory.mktemp("clone") / "checkout")
    assert run_nox(checkout, "-s", CELL).wait(timeout=600) == 0  # creates the virtualenv
    started = time.perf_counter()
    assert run_nox(checkout, "-R", "-s", CELL).wait(timeout=600) == 0
    return checkout, time.perf_counter() - started


@full_only
@pytest.mark.parametrize("moment", [0.1, 0.3, 0.5, 0.7])
def test_ctrl_c_during_nox_verify_leaves_nothing_running(
    moment: float, installed_cell: tuple[Path, float]
) -> None:
    """SIGINT to nox's process group, as Ctrl-C in a terminal, at moments spread over a cell
    (a fraction of the time it takes: starting nox and pytest, the consumer tests, publishing
    to the embedded broker, the verification)."""
    checkout, duration = installed_cell
    cell = CELL
    process = run_nox(checkout, "-R", "-s", cell)
    delay = moment * duration
    time.sleep(delay)
    tree = [psutil.Process(process.pid), *psutil.Process(process.pid).children(recursive=True)]
    ports = _listening_ports(tree)
    started = time.perf_counter()
    os.killpg(process.pid, signal.SIGINT)
    output = process.communicate(timeout=60)[0]
    seconds = time.perf_counter() - started
    note(
        "concurrency",
        f"Ctrl-C {delay:.1f} s into `nox -s {cell}` (a {duration:.1f} s run): exit "
        f"{process.returncode} after {seconds:.2f} s, listening then: {sorted(ports)}",
    )
    # 130 is nox's exit code for an interrupted session; an interrupt that lands while nox
    # is still starting (a cold bytecode cache makes that longer) ends it by the signal.
    assert process.returncode in (130, -signal.SIGINT), output
    assert seconds < 15, output
    time.sleep(0.5)  # let the last of them be reaped
    still_running = [p for p in tree if running_command(p) is not None]
    assert not still_running, output
    for port in ports:
        with socket.socket() as probe:
            assert probe.connect_ex(("127.0.0.1", port)) != 0, (port, output)


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
