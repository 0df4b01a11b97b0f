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
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx

from providers.runner import serve
from verification.broker_api import BROKER_TIMEOUT_SECONDS

# Answers the verifier retries, besides every 5xx.
RETRIED = frozenset({408, 429})
# Hop-by-hop headers, and those that describe a body as it travelled (httpx decodes it).
NOT_FORWARDED = frozenset(
    {
        b"host", b"connection", b"keep-alive", b"transfer-encoding", b"content-length",
        b"accept-encoding", b"content-encoding", b"te", b"upgrade", b"proxy-connection",
    }
)  # fmt: skip


class BrokerRelay:
    """The ASGI app of the relay; `failure` is the first failure of the broker it saw."""

    def __init__(self, broker_url: str, *, timeout: float = BROKER_TIMEOUT_SECONDS) -> None:
        self.broker_url = broker_url.rstrip("/")
        self.failure: str | None = None
        self.url = ""  # where it listens, once served
        self._timeout = timeout
        self._client: httpx.AsyncClient | None = None

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
        elif scope["type"] == "http":
            await self._relay(scope, receive, send)

    async def _lifespan(self, receive: Any, send: Any) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                # Loading the CA certificates costs ~40 ms a cell: only for a broker on https.
                https = self.broker_url.startswith("https:")
                self._client = httpx.AsyncClient(timeout=self._timeout, verify=https)
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self._client is not None:
                    await self._client.aclose()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _relay(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        path = scope.get("raw_path") or scope["path"].encode()
        query = scope.get("query_string", b"")
        target = self.broker_url + path.decode("latin-1")
        if query:
            target += "?" + query.decode("latin-1")
        request = f"{scope['method']} {scope['path']}"
        headers = [(k, v) for k, v in scope["headers"] if k.lower() not in NOT_FORWARDED]
        assert self._client is not None, "the relay serves only between startup and shutdown"
        try:
            answer = await self._client.request(
                scope["method"], target, headers=headers, content=body
            )
        except httpx.HTTPError as error:  # refused, reset, timed out (a broker that hangs)
            reason = f"cannot reach the Pact Broker at {self.broker_url}"
            await self._refuse(send, f"{reason} ({request}): {error!r}")
            return
        except Exception as error:  # a 500 from the relay itself would be retried as well
            await self._refuse(send, f"relaying {request} to the Pact Broker failed: {error!r}")
            return
        if answer.status_code >= 500 or answer.status_code in RETRIED:
            reason = f"the Pact Broker answered {answer.status_code} to {request}"
            await self._refuse(send, f"{reason}: {answer.text[:300]}")
            return
        response_headers = [(k, v) for k, v in answer.headers.raw if k.lower() not in NOT_FORWARDED]
        response_headers.append((b"content-length", str(len(answer.content)).encode()))
        await send(
            {
                "type": "http.response.start",
                "status": answer.status_code,
                "headers": response_headers,
            }
        )
        await send({"type": "http.response.body", "body": answer.content})

    async def _refuse(self, send: Any, message: str) -> None:
        # The first failure is the cause; what follows it is mostly its consequences.
        self.failure = self.failure or message
        body = json.dumps({"errors": {"broker": [message]}}).encode()
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
        ]
        await send({"type": "http.response.start", "status": 400, "headers": headers})
        await send({"type": "http.response.body", "body": body})


@contextmanager
def relay(broker_url: str) -> Iterator[BrokerRelay]:
    """A relay to the broker at `broker_url`, on a loopback port, for as long as the block."""
    app = BrokerRelay(broker_url)
    with serve(app) as server:
        app.url = server.url
        app.failure = None  # what the readiness probe met is not the verification's business
        yield app
