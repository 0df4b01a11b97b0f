"""What the throughput, broker and failure measurements share: an embedded broker holding a
generated pact, with a record of every request it answered, and a cell's settings for it."""

from __future__ import annotations

import statistics
import time
from collections.abc import Awaitable, Callable, Iterator, MutableMapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import broker
from benchmarks.pactgen import write_pact
from providers.runner import serve
from verification import pact_cli
from verification.broker_api import BrokerEndpoint
from verification.settings import Settings

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


@dataclass(frozen=True)
class BrokerRequest:
    client: str  # the User-Agent: the verifier's own, or python-httpx for the harness's
    method: str
    path: str
    started: float  # time.perf_counter()
    ended: float

    @property
    def seconds(self) -> float:
        return self.ended - self.started


@dataclass
class RequestLog:
    """ASGI middleware: records each HTTP request the wrapped app answers, and how long it took."""

    app: ASGIApp
    requests: list[BrokerRequest] = field(default_factory=list)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        try:
            await self.app(scope, receive, send)
        finally:
            agent = dict(scope.get("headers", [])).get(b"user-agent", b"").decode("latin-1")
            self.requests.append(
                BrokerRequest(agent, scope["method"], scope["path"], started, time.perf_counter())
            )


@dataclass(frozen=True)
class PactBroker:
    endpoint: BrokerEndpoint
    settings: Settings
    log: RequestLog


@contextmanager
def broker_with_pact(workdir: Path, interactions: int) -> Iterator[PactBroker]:
    """An embedded broker (as `verification.embedded` starts it) with a generated pact of
    `interactions` published by the real `pact broker publish`, and the settings a cell would
    verify it with (results not published)."""
    pact_dir = workdir / "pacts"
    write_pact(pact_dir, interactions)
    settings = Settings.from_env(
        {
            "PACT_PROVIDER_VERSION": "bench",
            "PACT_PROVIDER_BRANCH": "main",
            "PACT_CONSUMER_VERSION": "1.0.0",
            "PACT_CONSUMER_BRANCH": "main",
            "PACT_PUBLISH_VERIFICATION_RESULTS": "false",
            "PACT_DIR": str(pact_dir),
            "PACT_RESULTS_DIR": str(workdir / "results"),
        }
    )
    log = RequestLog(broker.create_app(workdir / "pact_broker.sqlite"))
    with serve(log) as server:
        endpoint = BrokerEndpoint(url=server.url)
        pact_cli.publish(endpoint, pact_dir, consumer_version="1.0.0", branch="main")
        yield PactBroker(endpoint, settings, log)


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")
