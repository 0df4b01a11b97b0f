"""The runner's ASGI server: Hypercorn, through its documented API.

`hypercorn.asyncio.serve(app, config, shutdown_trigger=...)` serves until the trigger returns,
then stops listening, waits for the requests in flight and runs the app's lifespan shutdown
(https://hypercorn.readthedocs.io/en/latest/how_to_guides/api_usage.html), here on the
runner's socket, given as `fd://N` (how_to_guides/binds.html). uvicorn documents no way to stop
its server (encode/uvicorn#742). Hypercorn's `graceful_timeout` does not bound that wait on
Python 3.12+ (pgjones/hypercorn#308): the runner's forced stop does, cancelling them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sys
from typing import TYPE_CHECKING, Any

import hypercorn.asyncio
import hypercorn.config

if TYPE_CHECKING:
    import socket
    from collections.abc import Awaitable, Callable


class HypercornBackend:
    """Serves the app with Hypercorn, on the loop of the thread that calls `run`."""

    def __init__(self, app: Callable[..., Awaitable[None]], listener: socket.socket) -> None:
        self.app = app
        self.listener = listener
        # The error the app's lifespan startup failed with: Hypercorn reports it with an error
        # of its own, which has the app's as text only.
        self.startup_error: BaseException | None = None
        self.requests: set[asyncio.Task[Any]] = set()
        self.config = hypercorn.config.Config()
        # Errors go to the "hypercorn.error" logger as it is (no request is logged); its one
        # INFO line, "Running on ... (CTRL + C to quit)", is not for a server in a thread.
        self.config.errorlog = logging.getLogger("hypercorn.error")
        self.config.errorlog.setLevel(logging.WARNING)
        # Made here, run by the server's thread: a stop may be requested from the start.
        self.loop = asyncio.new_event_loop()
        self.runner = asyncio.Runner(loop_factory=lambda: self.loop)
        self.stopping = asyncio.Event()
        # Hypercorn takes the socket it is given over, and closes it: a duplicate.
        self.duplicate = os.dup(listener.fileno())
        self.config.bind = [f"fd://{self.duplicate}"]

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        """The app as Hypercorn serves it, keeping the error its lifespan startup failed with
        and the requests in flight (Hypercorn runs each app call in a task of its own)."""
        if scope["type"] == "lifespan":

            async def keeping_send(message: Any) -> None:
                if message["type"] == "lifespan.startup.failed":
                    # Sent while the app handles the error it failed with (Starlette does so).
                    self.startup_error = sys.exception()
                await send(message)

            await self.app(scope, receive, keeping_send)
            return
        request = asyncio.current_task()
        assert request is not None  # an app is always called from a task
        self.requests.add(request)
        try:
            await self.app(scope, receive, send)
        finally:
            self.requests.discard(request)

    def run(self) -> None:
        # Off the main thread, and with a shutdown trigger, Hypercorn installs no signal handler.
        self.runner.run(
            hypercorn.asyncio.serve(
                self, self.config, shutdown_trigger=self.stopping.wait, mode="asgi"
            )
        )

    def request_stop(self) -> None:
        self._call_soon(self.stopping.set)

    def force_stop(self) -> None:
        self._call_soon(self._cancel_requests)

    def _cancel_requests(self) -> None:
        # Hypercorn then stops as gracefully as ever, with no request left to wait for.
        self.stopping.set()
        for request in self.requests:
            request.cancel()

    def _call_soon(self, callback: Callable[[], None]) -> None:
        with contextlib.suppress(RuntimeError):  # the loop has closed
            self.loop.call_soon_threadsafe(callback)

    def close(self) -> None:
        # Cancels and runs the tasks left (a dead server's requests): this may take a while.
        self.runner.close()
        # Hypercorn makes its socket of the duplicate once the app has started: if it has not,
        # the duplicate is still open, and still a descriptor of the runner's socket.
        with contextlib.suppress(OSError):
            if os.path.sameopenfile(self.duplicate, self.listener.fileno()):
                os.close(self.duplicate)
