"""Reading a child process's output line by line, waiting for the line a test needs."""

from __future__ import annotations

import queue
import subprocess
import threading
import time


def lines_of(process: subprocess.Popen[str]) -> queue.Queue[str]:
    """The lines of `process`'s stdout as it writes them, read by a thread of their own."""
    lines: queue.Queue[str] = queue.Queue()

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.put(line)

    threading.Thread(target=read, daemon=True).start()
    return lines


def wait_for(lines: queue.Queue[str], marker: str, seconds: float) -> list[str]:
    """Every line up to the first that holds `marker`; queue.Empty after `seconds` without it."""
    seen: list[str] = []
    deadline = time.monotonic() + seconds
    while not any(marker in line for line in seen):
        seen.append(lines.get(timeout=max(0.0, deadline - time.monotonic())))
    return seen
