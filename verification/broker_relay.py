"""A relay between the verifier and the broker: a broker that fails fails the cell at once.

The verifier retries a broker's 5xx, 408 and 429 answers and failed connections eight times,
waiting 1, 2, 4 ... 64 s in between: two minutes (127 s measured) for one failing request
before the cell can say anything, and the cell's own look at the broker beforehand cannot see
a broker that fails afterwards (on the pact, on publishing the results) or goes down. The cell
points the verifier at this relay, on a loopback port, instead. It forwards each request to the
broker unchanged (path, query, headers, credentials, body), and answers a failure with a 400
whose `errors` name it, which the verifier reports without retrying. The first failure is kept
for the cell's error.

    with relay(broker_url) as broker:
        verifier.broker_source(broker.url, ...)
        ...
    broker.failure  # "the Pact Broker answered 500 to GET /pacts/...: ...", or None
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx

from verification.broker_api import BROKER_TIMEOUT_SECONDS

# Answers the verifier retries, besides every 5xx.
RETRIED = frozenset({408, 429})
# Hop-by-hop headers, and those that describe a body as it travelled (httpx decodes it).
NOT_FORWARDED = frozenset(
    {
        "host", "connection", "keep-alive", "transfer-encoding", "content-length",
        "accept-encoding", "content-encoding", "te", "upgrade", "proxy-connection",
    }
)  # fmt: skip


class BrokerRelay(ThreadingHTTPServer):
    """The relay, on a loopback port the OS picks; `failure` is the first failure of the
    broker it saw. The standard library's threaded HTTP server: the relay needs no framework,
    and a cell of any framework loads nothing more for it."""

    daemon_threads = True

    def __init__(self, broker_url: str, *, timeout: float = BROKER_TIMEOUT_SECONDS) -> None:
        super().__init__(("127.0.0.1", 0), _RelayedRequest)
        self.broker_url = broker_url.rstrip("/")
        self.url = "http://{}:{}".format(*self.server_address[:2])
        self.failure: str | None = None
        # Loading the CA certificates costs ~40 ms a cell: only for a broker on https.
        https = self.broker_url.startswith("https:")
        self.client = httpx.Client(timeout=timeout, verify=https)

    def server_close(self) -> None:
        super().server_close()
        self.client.close()


class _RelayedRequest(BaseHTTPRequestHandler):
    server: BrokerRelay
    protocol_version = "HTTP/1.1"  # keep-alive, as the verifier asks
    # The handler writes the headers and the body apart: with Nagle's algorithm on, the body
    # waited for the verifier's delayed ACK, 40 ms for each broker request (~85 ms a cell).
    disable_nagle_algorithm = True

    def relay(self) -> None:
        request = f"{self.command} {self.path.partition('?')[0]}"
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        headers = [(k, v) for k, v in self.headers.items() if k.lower() not in NOT_FORWARDED]
        try:
            answer = self.server.client.request(
                self.command, self.server.broker_url + self.path, headers=headers, content=body
            )
        except httpx.HTTPError as error:  # refused, reset, timed out (a broker that hangs)
            reason = f"cannot reach the Pact Broker at {self.server.broker_url}"
            self.refuse(f"{reason} ({request}): {error!r}")
            return
        except Exception as error:  # a 500 from the relay itself would be retried as well
            self.refuse(f"relaying {request} to the Pact Broker failed: {error!r}")
            return
        if answer.status_code >= 500 or answer.status_code in RETRIED:
            reason = f"the Pact Broker answered {answer.status_code} to {request}"
            self.refuse(f"{reason}: {answer.text[:300]}")
            return
        forwarded = [(k, v) for k, v in answer.headers.multi_items() if k not in NOT_FORWARDED]
        self.answer(answer.status_code, forwarded, answer.content)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = relay

    def refuse(self, message: str) -> None:
        # The first failure is the cause; what follows it is mostly its consequences.
        self.server.failure = self.server.failure or message
        body = json.dumps({"errors": {"broker": [message]}}).encode()
        self.answer(400, [("content-type", "application/json")], body)

    def answer(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass  # the failures that matter are kept in `failure`


@contextmanager
def relay(broker_url: str) -> Iterator[BrokerRelay]:
    """A relay to the broker at `broker_url`, on a loopback port, for as long as the block."""
    with BrokerRelay(broker_url) as server:
        serving = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )
        serving.start()
        try:
            yield server
        finally:
            server.shutdown()
            serving.join()
