"""The embedded Pact Broker, for machines that have no broker of their own.

`nox -s verify` starts one for the whole matrix (noxfile.py), on the SQLite file in the
checkout, and names it to every cell with PACT_BROKER_BASE_URL like any other broker; this
checkout's pacts are published to it once per consumer version by the real
`pact broker publish`, exactly as a consumer's CI would publish them. A cell run outside nox
(`python -m verification cell`, a test) with no broker named gets a broker of its own, in
its process, on a temporary file.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from verification import broker_api, pact_cli
from verification.broker_api import BrokerEndpoint
from verification.settings import Settings


@contextmanager
def embedded_broker(database: Path) -> Iterator[BrokerEndpoint]:
    # Imported here: a cell that is named a broker (every nox cell) never loads this one.
    import broker
    from providers.runner import serve

    with serve(broker.create_app(database)) as server:
        yield BrokerEndpoint(url=server.url)


@contextmanager
def broker_for(settings: Settings, workdir: Path) -> Iterator[BrokerEndpoint]:
    """The broker the settings name, holding this checkout's pacts if it is an embedded one."""
    if settings.broker is None:
        with embedded_broker(workdir / "pact_broker.sqlite") as endpoint:
            publish_pacts_once(endpoint, settings)
            yield endpoint
        return
    if settings.embedded:
        publish_pacts_once(settings.broker, settings)
    yield settings.broker


def publish_pacts_once(endpoint: BrokerEndpoint, settings: Settings) -> None:
    """Publish the pacts in `settings.pact_dir` unless the broker has them for this version.

    Every cell writes the same pacts; the first to get here publishes them, the others find
    them (and a race between two is harmless: identical content republished is accepted).
    """
    pacts = sorted(settings.pact_dir.glob("*.json"))
    pairs = [_pacticipants(path) for path in pacts]
    if pairs and all(
        broker_api.has_pact(endpoint, provider, consumer, settings.consumer_version)
        for consumer, provider in pairs
    ):
        return
    pact_cli.publish(
        endpoint,
        settings.pact_dir,
        consumer_version=settings.consumer_version,
        branch=settings.consumer_branch,
    )


def _pacticipants(pact_file: Path) -> tuple[str, str]:
    document = json.loads(pact_file.read_text("utf-8"))
    return str(document["consumer"]["name"]), str(document["provider"]["name"])
