"""The broker under load, killed under load, and fought over: nothing acknowledged is lost or
doubled, nothing half-written is kept, and every answer is a success or an intended refusal.

The broker is `python -m broker` in its own process, as in production; the checks read its
SQLite file directly, so they see what is stored rather than what the broker says is stored.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from pathlib import Path

import httpx

from broker.testing import pact_document, publish_body, start_broker
from tests.reliability.broker_load import (
    VERSIONS_PER_PUBLISHER,
    Load,
    integrity,
    lost_or_doubled,
    summary,
)
from tests.reliability.conftest import note


def test_32_publishers_and_4_verifiers_at_once_lose_nothing(tmp_path: Path) -> None:
    database = tmp_path / "broker.sqlite"
    broker = start_broker(database)
    try:
        load = Load(broker.url, publishers=32, verifiers=4)
        started = time.perf_counter()
        load.run()
        note("broker", f"load in {time.perf_counter() - started:.1f} s: {summary(load)}")
        assert not load.errors, summary(load)
        assert not load.unintended_statuses(), summary(load)
        assert len(load.published) == 32 * VERSIONS_PER_PUBLISHER, summary(load)
        assert load.verified, summary(load)
        assert lost_or_doubled(load, database) == []
    finally:
        assert broker.stop() == 0
    assert integrity(database) == "ok"


def test_sigkill_in_the_middle_of_the_load_keeps_every_acknowledged_write(tmp_path: Path) -> None:
    database = tmp_path / "broker.sqlite"
    broker = start_broker(database)
    # Publishing until the kill, so that it certainly lands while writes of both kinds go on.
    load = Load(broker.url, publishers=32, verifiers=4, versions=None)
    stop = threading.Event()
    running = threading.Thread(target=load.run, kwargs={"stop": stop})
    running.start()
    # Kill once writes of both kinds are being acknowledged: however long that takes.
    while not (len(load.published) >= 20 and load.verified):
        assert running.is_alive(), f"the load ended before the kill: {summary(load)}"
        time.sleep(0.01)
    broker.process.kill()  # SIGKILL: no shutdown, no checkpoint, requests cut mid-way
    broker.process.wait()
    stop.set()
    running.join(60)
    assert not running.is_alive(), "the load goes on without its broker"
    acknowledged_before_the_kill = summary(load)
    note("broker", f"SIGKILL under load: {acknowledged_before_the_kill}")
    assert load.published, acknowledged_before_the_kill
    assert load.verified, acknowledged_before_the_kill
    assert not load.unintended_statuses(), acknowledged_before_the_kill
    if broker.process.stdout is not None:
        broker.process.stdout.close()

    restarted = start_broker(database)  # it starts on the same file...
    try:
        assert integrity(database) == "ok"  # ...which is intact...
        assert lost_or_doubled(load, database) == []  # ...and holds every acknowledged write
        # ...and it goes on working.
        more = Load(restarted.url, publishers=2, verifiers=1)
        more.run()
        assert not more.unintended_statuses(), summary(more)
    finally:
        assert restarted.stop() == 0


def test_concurrent_republishing_of_one_version_has_one_winner_and_no_mixed_content(
    tmp_path: Path,
) -> None:
    database = tmp_path / "broker.sqlite"
    broker = start_broker(database)
    contenders = 16
    answers: dict[int, int] = {}
    start = threading.Barrier(contenders)

    def republish(number: int) -> None:
        # Each contender brings its own content, branch and tag for the same version.
        document = pact_document("fought-over", "fought-over-provider", [f"/contender/{number}"])
        body = publish_body(document, "1.0.0", branch=f"branch-{number}", tags=[f"tag-{number}"])
        with httpx.Client(base_url=broker.url, timeout=30) as client:
            start.wait()
            answers[number] = client.post("/contracts/publish", json=body).status_code

    try:
        threads = [threading.Thread(target=republish, args=(n,)) for n in range(contenders)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        winners = [number for number, status in answers.items() if status == 200]
        assert len(winners) == 1, answers
        assert sorted(answers.values()) == [200] + [409] * (contenders - 1)
        (winner,) = winners
        with httpx.Client(base_url=broker.url) as client:
            pact = client.get(
                "/pacts/provider/fought-over-provider/consumer/fought-over/version/1.0.0"
            ).json()
            version = client.get("/pacticipants/fought-over/versions/1.0.0").json()
    finally:
        assert broker.stop() == 0
    # The winner's content, branch and tag, and nothing of any loser's.
    assert [i["request"]["path"] for i in pact["interactions"]] == [f"/contender/{winner}"]
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as connection:
        branches = {row[0] for row in connection.execute("SELECT name FROM branches")}
        tags = {row[0] for row in connection.execute("SELECT name FROM tags")}
        contents = [
            json.loads(row[0]) for row in connection.execute("SELECT content FROM pact_versions")
        ]
    assert branches == {f"branch-{winner}"}, version
    assert tags == {f"tag-{winner}"}
    assert len(contents) == 1
