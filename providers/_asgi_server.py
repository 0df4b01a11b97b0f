"""The runner's ASGI server: Hypercorn, through its documented API.

`hypercorn.asyncio.serve(app, config, shutdown_trigger=...)` serves until the trigger returns,
then stops gracefully: it stops listening, waits for the requests in flight and runs the app's
lifespan shutdown (https://hypercorn.readthedocs.io/en/latest/how_to_guides/api_usage.html). It
serves on the runner's socket, given as `fd://N` (how_to_guides/binds.html). uvicorn documents
no way to stop its server from code (encode/uvicorn#742).

Hypercorn's `graceful_timeout` does not bound the wait for requests in flight on Python 3.12+
(pgjones/hypercorn#308): the runner's forced stop does, by cancelling the server's tasks.
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

    ASGIApp = Callable[[Any, Any, Any], Awaitable[None]]


class StartupErrorKeeper:
    """The app, keeping the error its lifespan startup failed with: Hypercorn reports a failed
    startup with an error of its own, which has the app's only as text."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.error: BaseException | None = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "lifespan":
            await self.app(scope, receive, send)
            return

        async def keeping_send(message: Any) -> None:
            if message["type"] == "lifespan.startup.failed":
                # Sent while the app handles the error it failed with (Starlette does so).
                self.error = sys.exception()
            await send(message)

        await self.app(scope, receive, keeping_send)


class HypercornBackend:
    def __init__(self, app: ASGIApp, listener: socket.socket) -> None:
        self._app = StartupErrorKeeper(app)
        self._listener = listener
        self._config = hypercorn.config.Config()
        # No request is logged; errors go to the "hypercorn.error" logger, which Hypercorn uses
        # as it is given. Its one INFO line, "Running on ... (CTRL + C to quit)", is not for a
        # server in a thread.
        self._config.errorlog = logging.getLogger("hypercorn.error")
        self._config.errorlog.setLevel(logging.WARNING)
        # Made here, run on the server's thread: a stop can be requested from the start.
        self._loop = asyncio.new_event_loop()
        self._runner = asyncio.Runner(loop_factory=lambda: self._loop)
        self._stop = asyncio.Event()
        # Hypercorn takes the socket it is given over, and closes it: a duplicate of the
        # runner's, which stays the runner's to shut down and close.
        self._duplicate = os.dup(listener.fileno())
        self._config.bind = [f"fd://{self._duplicate}"]

    @property
    def startup_error(self) -> BaseException | None:
        return self._app.error

    def run(self) -> None:
        # Off the main thread, and with a shutdown trigger, Hypercorn installs no signal handler.
        self._runner.run(
            hypercorn.asyncio.serve(
                self._app, self._config, shutdown_trigger=self._stop.wait, mode="asgi"
            )
        )

    def request_stop(self) -> None:
        self._call_soon(self._stop.set)

    def force_stop(self) -> None:
        self._call_soon(self._cancel_all)

    def _cancel_all(self) -> None:
        # The requests in flight and Hypercorn's own wait for them, which `request_stop` began
        # (or which begins now), and which a hanging request would hold up.
        for task in asyncio.all_tasks(self._loop):
            task.cancel()

    def _call_soon(self, callback: Callable[[], None]) -> None:
        with contextlib.suppress(RuntimeError):  # the loop has closed
            self._loop.call_soon_threadsafe(callback)

    def close(self) -> None:
        # Cancels and runs the tasks left (a dead server's requests): this may take a while.
        self._runner.close()
        # Hypercorn makes its socket of the duplicate only once the app has started; if it has
        # not, the duplicate is still open, a descriptor of the runner's socket.
        with contextlib.suppress(OSError):  # closed, by Hypercorn
            if os.path.sameopenfile(self._duplicate, self._listener.fileno()):
                os.close(self._duplicate)
