"""How fast the runner starts and stops each provider (a measurement, not a test).

    python tests/providers/measure_runner.py [cycles]

"ready" runs from calling `serve` until it returns, which it does only after the server
has answered an HTTP request; "first request" adds one API request of our own; "shutdown"
is leaving the `with` block. Medians and maxima over the cycles, after one warm-up cycle
(which pays for the imports).
"""

from __future__ import annotations

import statistics
import sys
import time
import tomllib
from pathlib import Path

import httpx

import providers
from providers.runner import serve


def measure(framework: str, cycles: int) -> dict[str, list[float]]:
    timings: dict[str, list[float]] = {"ready": [], "first request": [], "shutdown": []}
    # One client for all cycles: a new httpx client spends ~40 ms loading certificates.
    client = httpx.Client()
    for cycle in range(cycles + 1):
        app = providers.create_app(framework)
        start = time.perf_counter()
        with serve(app) as server:
            ready = time.perf_counter()
            client.get(f"{server.url}/users/1")
            answered = time.perf_counter()
            stopping = time.perf_counter()
        stopped = time.perf_counter()
        if cycle:  # the first cycle only warms up
            timings["ready"].append(ready - start)
            timings["first request"].append(answered - start)
            timings["shutdown"].append(stopped - stopping)
    client.close()
    return timings


def main() -> None:
    cycles = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    pyproject = tomllib.loads(Path("pyproject.toml").read_text())
    print(f"Python {sys.version.split()[0]}, {cycles} cycles, milliseconds (median / max)")
    for framework in pyproject["tool"]["pact-matrix"]["frameworks"]:
        timings = measure(framework, cycles)
        shown = ", ".join(
            f"{name} {1000 * statistics.median(values):.1f} / {1000 * max(values):.1f}"
            for name, values in timings.items()
        )
        print(f"{framework:8} {shown}")


if __name__ == "__main__":
    main()
