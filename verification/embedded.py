"""The embedded Pact Broker, for machines that have no broker of their own.

It lives for one verification run: a fresh SQLite database in a temporary directory, served
on a loopback port the OS picks, with the consumer's pacts published to it by the real
`pact broker publish` exactly as a consumer's CI would publish them.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import broker
from providers.runner import serve
from verification import pact_cli
from verification.broker_api import BrokerEndpoint
from verification.settings import Settings


@contextmanager
def embedded_broker(database: Path) -> Iterator[BrokerEndpoint]:
    with serve(broker.create_app(database)) as server:
        yield BrokerEndpoint(url=server.url)


@contextmanager
def broker_for(settings: Settings, workdir: Path) -> Iterator[BrokerEndpoint]:
    """The broker the settings name, or an embedded one holding this checkout's pacts."""
    if settings.broker is not None:
        yield settings.broker
        return
    with embedded_broker(workdir / "pact_broker.sqlite") as endpoint:
        pact_cli.publish(
            endpoint,
            settings.pact_dir,
            consumer_version=settings.consumer_version,
            branch=settings.consumer_branch,
        )
        yield endpoint
