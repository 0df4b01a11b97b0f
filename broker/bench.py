"""Benchmark: publish and pacts-for-verification latency as the broker fills up.

`python -m broker.bench` (or `nox -s bench_broker`) starts the broker as a subprocess, publishes
10 consumers x 1,000 versions of one provider over HTTP (main and feature branches, tags,
deployments, releases, verification results), and at 10, 100, 1,000 and 10,000 versions prints
the p50/p95 latency of publishing and of a typical pacts-for-verification request, as Markdown.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from broker.testing import pact_document, publish_body, start_broker

PROVIDER = "bench-provider"
CHECKPOINTS = (10, 100, 1_000, 10_000)
QUERY_SAMPLES = 50
FOR_VERIFICATION_QUERY: dict[str, Any] = {
    # What a provider's CI typically asks: main branch, what is deployed or released, the
    # matching branch, with pending status and WIP pacts.
    "consumerVersionSelectors": [
        {"mainBranch": True},
        {"deployedOrReleased": True},
        {"matchingBranch": True},
    ],
    "providerVersionBranch": "main",
    "includePendingStatus": True,
    "includeWipPactsSince": "2020-01-01",
}


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


class Filler:
    """Publishes consumer versions in round-robin, with the history a real team would make."""

    def __init__(self, client: httpx.Client, consumers: int) -> None:
        self.client = client
        self.consumers = [f"bench-consumer-{index}" for index in range(consumers)]
        environments = client.get("/environments").json()["_embedded"]["environments"]
        self.environments = {env["name"]: env["uuid"] for env in environments}

    def publish(self, consumer: str, number: int) -> float:
        """Publish one version; returns the request's latency in seconds."""
        # Every tenth version is on one of five feature branches, the rest on main.
        branch = "main" if number % 10 else f"feat-{(number // 10) % 5}"
        tags = ["rc"] if number % 25 == 0 else []
        document = pact_document(consumer, PROVIDER, [f"/items/{consumer}/{number}"])
        body = publish_body(document, str(number), branch=branch, tags=tags)
        started = time.perf_counter()
        response = self.client.post("/contracts/publish", json=body)
        elapsed = time.perf_counter() - started
        response.raise_for_status()
        self._history(consumer, number, response.json())
        return elapsed

    def _history(self, consumer: str, number: int, published: dict[str, Any]) -> None:
        version_url = f"/pacticipants/{consumer}/versions/{number}"
        if number % 100 == 1:
            self._post(f"{version_url}/deployed-versions/environment/{self.environments['test']}")
        if number % 200 == 1:
            production = self.environments["production"]
            self._post(f"{version_url}/deployed-versions/environment/{production}")
        if number % 250 == 1:
            production = self.environments["production"]
            self._post(f"{version_url}/released-versions/environment/{production}")
        if number % 50 == 1:
            pact_url = published["_links"]["pb:contracts"][0]["href"]
            pact = self.client.get(pact_url).json()
            results = pact["_links"]["pb:publish-verification-results"]["href"]
            self._post(results, {"success": True, "providerApplicationVersion": f"p{number}"})

    def _post(self, url: str, body: dict[str, Any] | None = None) -> None:
        self.client.post(url, json=body or {}).raise_for_status()


def measure_for_verification(client: httpx.Client) -> tuple[list[float], int]:
    url = f"/pacts/provider/{PROVIDER}/for-verification"
    for _ in range(5):  # warm caches and connections
        client.post(url, json=FOR_VERIFICATION_QUERY).raise_for_status()
    samples = []
    count = 0
    for _ in range(QUERY_SAMPLES):
        started = time.perf_counter()
        response = client.post(url, json=FOR_VERIFICATION_QUERY)
        samples.append(time.perf_counter() - started)
        response.raise_for_status()
        count = len(response.json()["_embedded"]["pacts"])
    return samples, count


def run(consumers: int, versions_per_consumer: int, database: Path) -> str:
    broker = start_broker(database)
    rows = [
        "| versions | publish p50 (ms) | publish p95 (ms) | for-verification p50 (ms)"
        " | for-verification p95 (ms) | pacts returned |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    checkpoints = [c for c in CHECKPOINTS if c <= consumers * versions_per_consumer]
    try:
        with httpx.Client(base_url=broker.url, timeout=60) as client:
            filler = Filler(client, consumers)
            published: list[float] = []
            total = 0
            for number in range(1, versions_per_consumer + 1):
                for consumer in filler.consumers:
                    published.append(filler.publish(consumer, number))
                    total += 1
                    if total in checkpoints:
                        # Publish latency near this size: the last tenth of the publishes so far.
                        window = published[-max(10, total // 10) :]
                        queries, count = measure_for_verification(client)
                        rows.append(
                            f"| {total:,} | {statistics.median(window) * 1000:.1f}"
                            f" | {percentile(window, 0.95) * 1000:.1f}"
                            f" | {statistics.median(queries) * 1000:.1f}"
                            f" | {percentile(queries, 0.95) * 1000:.1f} | {count} |"
                        )
                        print(rows[-1], flush=True)
    finally:
        broker.stop()
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m broker.bench", description=__doc__)
    parser.add_argument("--consumers", type=int, default=10)
    parser.add_argument("--versions", type=int, default=1_000, help="versions per consumer")
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        started = time.perf_counter()
        table = run(arguments.consumers, arguments.versions, Path(directory) / "bench.sqlite")
        elapsed = time.perf_counter() - started
    print(f"\n{table}\n\nFilled and measured in {elapsed:.0f} s.")


if __name__ == "__main__":
    main()
