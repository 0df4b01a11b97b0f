"""Item 2: provider start-to-ready and shutdown, against a bare socket bind and close.

"Ready" runs from calling `providers.runner.serve` until it returns, which it does only once
the server has answered a real HTTP request; "shutdown" is leaving its `with` block. The
floor is what every server must do anyway: bind and listen on a loopback port (for ready),
and close that socket (for shutdown). One warm-up cycle first pays for the imports.
"""

from __future__ import annotations

import time
from typing import Any

import providers
from providers.runner import listen, serve


def measure(framework: str, cycles: int) -> dict[str, Any]:
    timings: dict[str, list[float]] = {"ready": [], "shutdown": [], "bind": [], "close": []}
    for cycle in range(cycles + 1):
        app = providers.create_app(framework)
        started = time.perf_counter()
        with serve(app):
            ready = time.perf_counter()
        stopped = time.perf_counter()
        started_bind = time.perf_counter()
        listener = listen("127.0.0.1", 0)
        bound = time.perf_counter()
        listener.close()
        closed = time.perf_counter()
        if cycle:  # the first cycle only warms up
            timings["ready"].append(ready - started)
            timings["shutdown"].append(stopped - ready)
            timings["bind"].append(bound - started_bind)
            timings["close"].append(closed - bound)
    return timings
