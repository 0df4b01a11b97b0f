"""Ctrl-C during a cell stops its provider and the embedded broker at once, leaving nothing.

The verifier is one blocking call into Rust, during which Python cannot act on a signal; the
cell runs it on a worker thread so that the interrupt is taken at once (verification/watchdog.py).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil

from matrix import PROJECT_ROOT
from tests.output_lines import lines_of, wait_for
from tests.reliability.conftest import ctrl_c_reaches_children, record_time_to_failure
from tests.reliability.faulty import HUNG
from verification.settings import Settings

# pytest's exit code for a run that was interrupted.
INTERRUPTED = 2
# The verifier's request timeout in the interrupted cell: a cell that waited for the verifier
# to give up on the hanging request would take this long, far beyond the test's limit.
REQUEST_TIMEOUT_SECONDS = 60


def is_listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def test_ctrl_c_while_the_provider_hangs_stops_the_cell_at_once(
    framework: str, settings: Settings, tmp_path: Path
) -> None:
    temp_dir = tmp_path / "tmp"
    temp_dir.mkdir()
    with ctrl_c_reaches_children():
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "pytest",
                "tests/reliability/cell_to_interrupt.py",
                "-s",
                "-p",
                "no:cacheprovider",
                f"--basetemp={tmp_path / 'basetemp'}",
            ],
            cwd=PROJECT_ROOT,
            env={
                **os.environ,
                "CELL_FRAMEWORK": framework,
                "PACT_REQUEST_TIMEOUT_MS": str(REQUEST_TIMEOUT_SECONDS * 1000),
                "PACT_DIR": str(settings.pact_dir),
                "TMPDIR": str(temp_dir),
            },
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,  # its own process group, as a terminal's foreground job
        )
    lines = lines_of(process)
    try:
        wait_for(lines, HUNG, seconds=60)
        cell = psutil.Process(process.pid)
        ports = [c.laddr.port for c in cell.net_connections("tcp") if c.status == "LISTEN"]
        children = cell.children(recursive=True)
        assert len(ports) == 3  # the embedded broker, the relay to it, and the provider

        started = time.perf_counter()
        os.killpg(process.pid, signal.SIGINT)
        code = process.wait(timeout=2 * REQUEST_TIMEOUT_SECONDS)
        seconds = time.perf_counter() - started
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    output = "".join(lines.queue)
    record_time_to_failure(
        f"Ctrl-C while the provider hangs ({framework})", seconds, f"pytest exited {code}"
    )

    assert code == INTERRUPTED, output
    assert "KeyboardInterrupt" in output
    # About 1-2 s; not the verifier's request timeout, whatever the load.
    assert seconds < REQUEST_TIMEOUT_SECONDS / 3, output
    assert not [port for port in ports if is_listening(port)]
    assert not [child for child in children if child.is_running()]
    assert not list(temp_dir.iterdir())  # the cell's temporary CA bundle is gone too
