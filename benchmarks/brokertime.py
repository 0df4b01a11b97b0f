"""Item 3 (the part `broker.bench` does not cover): how long a cell talks to the broker per pact.

One cell run against a broker holding one generated pact (cells publish nothing: the
matrix's verdict does, once, after every cell). The broker
records every request with its User-Agent, which tells the verifier's requests from the
harness's own (pre-selection and the publication check, sent with httpx); the provider's
store records when the first state change came and when the last one did, which splits the
verifier's requests into fetching (before) and publishing (after). Wall windows run from the
start of the first request of a kind to the end of its last, so they include the client's
own work between requests.
"""

from __future__ import annotations

import functools
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import httpx

from benchmarks.harness import BrokerRequest, broker_with_pact
from states import InMemoryUserRepository
from verification import broker_api, cell

T = TypeVar("T")


def measure(framework: str, interactions: int, repeats: int) -> dict[str, Any]:
    runs: list[dict[str, float]] = []
    # The harness's own questions to the broker, timed by the caller: client set-up included.
    harness_seconds: list[float] = []
    broker_api.pacts_for_verification = _timed(broker_api.pacts_for_verification, harness_seconds)
    for _ in range(repeats):
        with (
            tempfile.TemporaryDirectory() as workdir,
            broker_with_pact(Path(workdir), interactions) as pact_broker,
        ):
            this_cell = cell.Cell(framework)
            settings = pact_broker.settings
            pact_broker.log.requests.clear()  # what the publish step sent is not the cell's
            harness_seconds.clear()
            store = TimedStore()
            result = cell.run(this_cell, settings, pact_broker.endpoint, store=store)
            if not result.success:
                raise RuntimeError(f"the broker benchmark failed: {result.error or result.report}")
            summary = _summary(pact_broker.log.requests, result.seconds, store)
            runs.append({**summary, "harness_seconds": sum(harness_seconds)})
            runs[-1]["round_trip"] = _round_trip(pact_broker.endpoint.url)
    return {"runs": runs}


def _round_trip(url: str, samples: int = 20) -> float:
    """The floor of one request: the median `GET /` (the broker's index) by a keep-alive
    client that is already connected."""
    seconds = []
    with httpx.Client(base_url=url) as client:
        client.get("/").raise_for_status()
        for _ in range(samples):
            started = time.perf_counter()
            client.get("/").raise_for_status()
            seconds.append(time.perf_counter() - started)
    return statistics.median(seconds)


def _timed(function: Callable[..., T], seconds: list[float]) -> Callable[..., T]:
    @functools.wraps(function)
    def timed(*args: Any, **kwargs: Any) -> T:
        started = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            seconds.append(time.perf_counter() - started)

    return timed


class TimedStore(InMemoryUserRepository):
    """The provider's store, noting when the verifier's first and last state changes came
    (every state change empties the store first or last)."""

    first_change = float("inf")
    last_change = float("-inf")

    def reset(self) -> None:
        now = time.perf_counter()
        self.first_change = min(self.first_change, now)
        self.last_change = max(self.last_change, now)
        super().reset()


def _summary(
    requests: list[BrokerRequest], cell_seconds: float, store: TimedStore
) -> dict[str, float]:
    harness = [r for r in requests if r.client.startswith("python-httpx")]
    verifier = [r for r in requests if not r.client.startswith("python-httpx")]
    fetching = [r for r in verifier if r.ended <= store.first_change]
    publishing = [r for r in verifier if r.started >= store.last_change]
    return {
        "cell_seconds": cell_seconds,
        "verifier_requests": len(verifier),
        "fetch_requests": len(fetching),
        "fetch_window": _window(fetching),
        "publish_requests": len(publishing),
        "publish_window": _window(publishing),
        "verifier_server_time": sum(r.seconds for r in verifier),
        "harness_requests": len(harness),
        "harness_server_time": sum(r.seconds for r in harness),
    }


def _window(requests: list[BrokerRequest]) -> float:
    if not requests:
        return 0.0
    return max(r.ended for r in requests) - min(r.started for r in requests)
