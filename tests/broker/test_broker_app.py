"""`create_app` as the verification harness uses it (uvicorn in a thread), and the storage."""

from __future__ import annotations

import sqlite3
import threading
import time
from typing import TYPE_CHECKING

import httpx
import uvicorn

from broker import Auth, create_app
from broker.db import MIGRATIONS, Database

if TYPE_CHECKING:
    from pathlib import Path


def serve_in_thread(server: uvicorn.Server) -> threading.Thread:
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.01)
    return thread


def test_create_app_served_by_uvicorn_in_a_thread(tmp_path: Path) -> None:
    database = tmp_path / "broker.sqlite"
    auth = Auth.from_env(
        {"PACT_BROKER_BASIC_AUTH_USERNAME": "u", "PACT_BROKER_BASIC_AUTH_PASSWORD": "p"}
    )
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(database, auth=auth), host="127.0.0.1", port=0, log_level="warning"
        )
    )
    thread = serve_in_thread(server)
    port = server.servers[0].sockets[0].getsockname()[1]
    with httpx.Client(base_url=f"http://127.0.0.1:{port}") as client:
        assert client.get("/diagnostic/status/heartbeat").status_code == 200
        assert client.get("/").status_code == 401
        assert client.get("/", auth=("u", "p")).status_code == 200
    server.should_exit = True
    thread.join(timeout=60)
    assert not thread.is_alive()
    # Shutdown closed the connections and folded the WAL back into the database file.
    assert (
        not (tmp_path / "broker.sqlite-wal").exists()
        or (tmp_path / "broker.sqlite-wal").stat().st_size == 0
    )


def test_migrations_are_numbered_and_applied_once(tmp_path: Path) -> None:
    path = tmp_path / "broker.sqlite"
    Database(path).close()
    Database(path).close()  # a second start applies nothing new
    with sqlite3.connect(path) as connection:
        assert connection.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
        assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        names = [
            row[0] for row in connection.execute("SELECT name FROM environments ORDER BY name")
        ]
    assert names == ["production", "test"]


def test_a_failed_write_leaves_nothing_behind(tmp_path: Path) -> None:
    database = Database(tmp_path / "broker.sqlite")
    try:
        try:
            with database.write() as connection:
                connection.execute(
                    "INSERT INTO pacticipants (name, created_at, updated_at) VALUES ('x', '', '')"
                )
                raise RuntimeError("boom")
        except RuntimeError:
            pass
        with database.read() as connection:
            assert connection.execute("SELECT COUNT(*) FROM pacticipants").fetchone()[0] == 0
    finally:
        database.close()
