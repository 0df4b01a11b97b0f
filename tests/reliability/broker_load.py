"""A load on the broker as a busy CI system makes it: many consumers' builds publishing at once
while providers' builds fetch their pacts and publish verification results.

Every request's status is kept, and every write the broker acknowledged, so that a test can
check afterwards that nothing acknowledged was lost or stored twice.
"""

from __future__ import annotations

import itertools
import os
import re
import sqlite3
import threading
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from broker.testing import pact_document, publish_body

PROVIDER = "load-provider"
CONSUMERS = [f"load-consumer-{n}" for n in range(4)]
# The load can be scaled up in the nox `reliability` session.
VERSIONS_PER_PUBLISHER = int(os.environ.get("RELIABILITY_VERSIONS_PER_PUBLISHER", "3"))


@dataclass(frozen=True)
class Publication:
    consumer: str
    version: str
    path: str  # the one request path its pact holds: tells its content apart


@dataclass(frozen=True)
class Verification:
    pact_sha: str  # which pact content was verified
    provider_version: str


@dataclass
class Load:
    url: str
    publishers: int = 32
    verifiers: int = 4
    # How many versions each publisher publishes; None: until stopped, or the broker dies.
    versions: int | None = VERSIONS_PER_PUBLISHER
    published: list[Publication] = field(default_factory=list)
    verified: list[Verification] = field(default_factory=list)
    statuses: Counter[tuple[str, int]] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)  # requests without an answer
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def run(self, *, stop: threading.Event | None = None) -> None:
        """Run every publisher and verifier to the end (or until `stop`, or the broker dies)."""
        stop = stop or threading.Event()
        publishing_done = threading.Event()
        publishers = [
            threading.Thread(target=self._publish, args=(number, stop))
            for number in range(self.publishers)
        ]
        verifiers = [
            threading.Thread(target=self._verify, args=(number, stop, publishing_done))
            for number in range(self.verifiers)
        ]
        for thread in publishers + verifiers:
            thread.start()
        for thread in publishers:
            thread.join()
        publishing_done.set()
        for thread in verifiers:
            thread.join()

    def _record(self, kind: str, response: httpx.Response) -> None:
        with self._lock:
            self.statuses[(kind, response.status_code)] += 1

    def _publish(self, number: int, stop: threading.Event) -> None:
        consumer = CONSUMERS[number % len(CONSUMERS)]
        with httpx.Client(base_url=self.url, timeout=30) as client:
            indices = itertools.count() if self.versions is None else range(self.versions)
            for index in indices:
                if stop.is_set():
                    return
                publication = Publication(consumer, f"{number}.{index}", f"/p{number}/v{index}")
                document = pact_document(consumer, PROVIDER, [publication.path])
                body = publish_body(document, publication.version, branch="main")
                try:
                    response = client.post("/contracts/publish", json=body)
                except httpx.HTTPError as error:
                    self._failed(error)
                    return
                self._record("publish", response)
                if response.status_code == 200:
                    with self._lock:
                        self.published.append(publication)

    def _verify(self, number: int, stop: threading.Event, publishing_done: threading.Event) -> None:
        """Fetch the pacts for verification and publish a result for each, until the
        publishers are done (and once more after that)."""
        with httpx.Client(base_url=self.url, timeout=30) as client:
            for round_ in range(10_000):
                last_round = publishing_done.is_set()
                if stop.is_set():
                    return
                try:
                    self._verify_once(client, f"{number}.{round_}")
                except httpx.HTTPError as error:
                    self._failed(error)
                    return
                if last_round:
                    return

    def _verify_once(self, client: httpx.Client, provider_version: str) -> None:
        response = client.post(f"/pacts/provider/{PROVIDER}/for-verification", json={})
        self._record("for-verification", response)
        if response.status_code != 200:
            return  # 404 until the first pact for the provider is in
        for pact in response.json()["_embedded"]["pacts"]:
            document = client.get(pact["_links"]["self"]["href"])
            self._record("pact", document)
            if document.status_code != 200:
                continue
            results_url = document.json()["_links"]["pb:publish-verification-results"]["href"]
            result = client.post(
                results_url,
                json={"success": True, "providerApplicationVersion": provider_version},
            )
            self._record("verification-results", result)
            if result.status_code == 201:
                sha = re.search(r"/pact-version/([0-9a-f]+)", results_url)
                assert sha is not None, results_url
                with self._lock:
                    self.verified.append(Verification(sha.group(1), provider_version))

    def _failed(self, error: httpx.HTTPError) -> None:
        with self._lock:
            self.errors[type(error).__name__] += 1

    def unintended_statuses(self) -> dict[tuple[str, int], int]:
        intended = {
            ("publish", 200),
            ("for-verification", 200),
            ("for-verification", 404),  # before the provider's first pact
            ("pact", 200),
            ("verification-results", 201),
        }
        return {key: count for key, count in self.statuses.items() if key not in intended}


def lost_or_doubled(load: Load, database: Path) -> list[str]:
    """Every acknowledged write that the database does not hold exactly once (empty if none)."""
    problems: list[str] = []
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as connection:
        for publication in load.published:
            rows = connection.execute(
                "SELECT pv.content FROM pact_publications pp"
                " JOIN versions v ON v.id = pp.consumer_version_id"
                " JOIN pacticipants c ON c.id = pp.consumer_id"
                " JOIN pact_versions pv ON pv.id = pp.pact_version_id"
                " WHERE c.name = ? AND v.number = ?",
                (publication.consumer, publication.version),
            ).fetchall()
            if len(rows) != 1 or publication.path not in rows[0][0]:
                problems.append(f"{publication}: {len(rows)} stored")
        stored = Counter(
            (row[0], row[1])
            for row in connection.execute(
                "SELECT pv.sha, v.number FROM verifications ve"
                " JOIN pact_versions pv ON pv.id = ve.pact_version_id"
                " JOIN versions v ON v.id = ve.provider_version_id"
            )
        )
        for verification in load.verified:
            # Each (pact, provider version) is posted once, so it is stored once.
            count = stored[(verification.pact_sha, verification.provider_version)]
            if count != 1:
                problems.append(f"{verification}: stored {count} times")
    return problems


def integrity(database: Path) -> str:
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as connection:
        return "\n".join(row[0] for row in connection.execute("PRAGMA integrity_check"))


def summary(load: Load) -> dict[str, Any]:
    return {
        "acknowledged publications": len(load.published),
        "acknowledged verification results": len(load.verified),
        "statuses": dict(load.statuses),
        "requests without an answer": dict(load.errors),
    }
