"""Deliberately broken parts, each a real fault behind a real socket: user stores that fail in
the ways a database does, and a broker that answers every request 500."""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import http.server
import re
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import broker
from providers.runner import RunningServer, serve
from states import InMemoryUserRepository, User
from verification import pact_cli
from verification.broker_api import BrokerEndpoint

# Printed (and flushed) when a HangingStore starts to hang, for a test in another process.
HUNG = "provider hung"


class RaisingStore(InMemoryUserRepository):
    """A user database that cannot be written: every state that stores a user fails."""

    def put(self, user: User) -> None:
        raise RuntimeError("the disk is full")


class HangingStore(InMemoryUserRepository, contextlib.AbstractContextManager["HangingStore"]):
    """A user database whose reads never come back, until the test ends."""

    def __init__(self) -> None:
        super().__init__()
        self._release = threading.Event()

    def get(self, user_id: int) -> User | None:
        print(HUNG, file=sys.stderr, flush=True)
        self._release.wait()
        return super().get(user_id)

    def __exit__(self, *exc_info: object) -> None:
        self._release.set()


def _raise_system_exit() -> None:
    raise SystemExit


class CrashingStore(InMemoryUserRepository):
    """The first read kills the server thread that serves it, as an error escaping the server's
    own loop would: Hypercorn's event loop (which runs this read), or Werkzeug's accept loop
    (which this read's request thread is not; the error lands there at its next wake-up)."""

    def get(self, user_id: int) -> User | None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            for thread in threading.enumerate():
                if thread.name.startswith("wsgi server on ") and thread.ident is not None:
                    ctypes.pythonapi.PyThreadState_SetAsyncExc(
                        ctypes.c_ulong(thread.ident), ctypes.py_object(SystemExit)
                    )
        else:
            loop.call_soon(_raise_system_exit)  # outside any request: Hypercorn cannot catch it
        return super().get(user_id)


@contextlib.contextmanager
def broker_answering_500() -> Iterator[BrokerEndpoint]:
    """Something on a real socket that answers every request 500, as a broken broker does."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def fail(self) -> None:
            body = b'{"errors": {"server": ["the database is locked"]}}'
            self.send_response(500)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = do_PUT = do_HEAD = fail

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield BrokerEndpoint(f"http://127.0.0.1:{server.server_address[1]}")
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@contextlib.contextmanager
def broker_failing_later(
    database: Path, pact_dir: Path, *, consumer_version: str, failing: str, spared: int
) -> Iterator[tuple[BrokerEndpoint, Callable[[], None]]]:
    """The real broker holding the consumer's pacts, and `arm()`: from then on, requests
    (`METHOD path`) that match the regular expression `failing` are answered 500, except the
    first `spared` of them (the cell's own look at the broker); with `failing="down"`, the
    broker stops listening once `spared` requests have been answered, as if it crashed."""
    armed = threading.Event()
    seen = 0
    running: list[RunningServer] = []
    app = broker.create_app(database)

    async def failing_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        nonlocal seen
        request = f"{scope.get('method')} {scope.get('path')}"
        matches = failing == "down" or re.search(failing, request) is not None
        if scope["type"] == "http" and armed.is_set() and matches:
            seen += 1
            if seen > spared and failing == "down":
                running[0].abort()  # the next request finds nobody listening
            elif seen > spared:
                body = b'{"errors": {"server": ["the database is locked"]}}'
                headers = [(b"content-type", b"application/json")]
                await send({"type": "http.response.start", "status": 500, "headers": headers})
                await send({"type": "http.response.body", "body": body})
                return
        await app(scope, receive, send)

    with serve(failing_app) as server:
        running.append(server)
        endpoint = BrokerEndpoint(server.url)
        pact_cli.publish(endpoint, pact_dir, consumer_version=consumer_version, branch="main")
        yield endpoint, armed.set
