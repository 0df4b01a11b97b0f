"""A loopback HTTP receiver that records every request, for webhook tests (and the loop test).

Stands in for GitHub's dispatch API or any CI: it answers each request with the next status of
`statuses` (the last one repeats), or hangs for `hang_s` first; with `echo`, the body of
each answer holds the request's headers. Tests wait on what it received
with `wait_for(count, timeout)`, never with a sleep.
"""

from __future__ import annotations

import http.server
import json
import threading
import time
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class Receiver:
    """Use as a context manager; `url` is its base URL on 127.0.0.1."""

    def __init__(
        self, statuses: tuple[int, ...] = (200,), hang_s: float = 0.0, *, echo: bool = False
    ) -> None:
        self.requests: list[Received] = []
        self._condition = threading.Condition()
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                with receiver._condition:
                    index = len(receiver.requests)
                    receiver.requests.append(
                        Received(self.command, self.path, dict(self.headers.items()), body)
                    )
                    receiver._condition.notify_all()
                if hang_s:
                    time.sleep(hang_s)  # the hanging CI this receiver stands in for
                status = statuses[min(index, len(statuses) - 1)]
                # An echo (as httpbin's) sends the request's headers back: a credential in
                # them then reaches the broker's log through the response too.
                answer = (
                    json.dumps({"headers": dict(self.headers.items())}).encode()
                    if echo
                    else b'{"received": true}'
                )
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def wait_for(self, count: int, timeout: float = 15.0) -> list[Received]:
        """The first `count` requests, once they have arrived; AssertionError after `timeout`."""
        with self._condition:
            if not self._condition.wait_for(lambda: len(self.requests) >= count, timeout):
                raise AssertionError(
                    f"expected {count} requests within {timeout}s, got {len(self.requests)}"
                )
            return list(self.requests[:count])

    def __enter__(self) -> Receiver:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
