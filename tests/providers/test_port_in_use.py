"""A port already in use is one line that names it and what to do, never a traceback."""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Iterator

import pytest

from matrix import FRAMEWORKS, PROJECT_ROOT


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        yield taken.getsockname()[1]


@pytest.mark.parametrize(
    "command",
    [["broker", "--db", ":memory:"], ["providers", FRAMEWORKS[0]]],
    ids=["broker", "provider"],
)
def test_a_port_in_use_is_one_line_naming_it(command: list[str], busy_port: int) -> None:
    answer = subprocess.run(
        [sys.executable, "-m", *command, "--port", str(busy_port)],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert answer.returncode == 2, answer.stderr
    assert answer.stderr.count("\n") == 1, answer.stderr
    assert f"port {busy_port} on 127.0.0.1 is already in use" in answer.stderr
    assert "--port" in answer.stderr
    assert "Traceback" not in answer.stderr
