"""The runner's ASGI backend: uvicorn on a socket bound by the runner, stopped without polling.

uvicorn's main loop looks at `should_exit` every 0.1 s, and its shutdown sleeps a fixed 0.1 s
and then polls open connections every 0.1 s. `ThreadedUvicorn` keeps uvicorn's startup and its
once-a-second housekeeping, but wakes the main loop as soon as a stop is requested, and its
shutdown waits for the requests in flight themselves (bounded) instead of sleeping.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from typing import TYPE_CHECKING, Any

import uvicorn

if TYPE_CHECKING:
    import threading
    from collections.abc import Awaitable, Callable, MutableMapping

    Scope = MutableMapping[str, Any]
    Message = MutableMapping[str, Any]
    Receive = Callable[[], Awaitable[Message]]
    Send = Callable[[Message], Awaitable[None]]

# How long requests in flight may take to finish once a stop is requested.
GRACE_PERIOD = 2.0


class LifespanErrorKeeper:
    """Passes everything to the app, keeping the exception its lifespan startup raised.

    On a failed startup uvicorn logs the app's traceback and exits; this keeps the original
    exception so the runner can report it.
    """

    def __init__(self, app: Callable[..., Awaitable[None]]) -> None:
        self.app = app
        self.error: BaseException | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await self.app(scope, receive, send)
        except BaseException as error:
            if scope["type"] == "lifespan":
                self.error = error
            raise


class LoopThatKeepsItsDeath(asyncio.SelectorEventLoop):
    """The event loop, keeping the error that escapes it (uvicorn's own code failing, not a
    request) the moment it does, and calling `on_death` then.

    `asyncio.run` cancels and runs the tasks left before it raises that error: meanwhile the
    loop still accepts connections that nobody will answer, and that stay open.
    """

    def __init__(self, on_death: Callable[[], None]) -> None:
        super().__init__()
        self.death: BaseException | None = None
        self._on_death = on_death

    def run_forever(self) -> None:
        try:
            super().run_forever()
        except BaseException as error:
            if self.death is None:
                self.death = error
                self._on_death()
            raise


class ThreadedUvicorn(uvicorn.Server):
    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None
        self.serving: threading.Event | None = None

    async def main_loop(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        if self.serving is not None:
            self.serving.set()
        counter = 0
        # uvicorn's loop: on_tick refreshes the Date header every tenth tick and says when to
        # exit; only the wait between ticks ends early here, when a stop is requested.
        while not await self.on_tick(counter):
            counter = (counter + 1) % 864_000
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=0.1)

    def wake(self) -> None:
        """Thread-safe: make the main loop look at `should_exit` now."""
        if self._wake is not None:
            self._call_soon(self._wake.set)

    def cancel_in_flight(self) -> None:
        """Thread-safe: cancel the requests in flight (the end of a forced stop)."""
        self._call_soon(self._cancel_tasks)

    def _cancel_tasks(self) -> None:
        for task in self.server_state.tasks:
            task.cancel()

    def _call_soon(self, callback: Callable[[], None]) -> None:
        if self._loop is not None:
            with contextlib.suppress(RuntimeError):  # the loop has already closed
                self._loop.call_soon_threadsafe(callback)

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        for server in self.servers:
            server.close()
        for sock in sockets or []:
            sock.close()
        # Idle connections close at once; busy ones close after their response.
        for connection in list(self.server_state.connections):
            connection.shutdown()
        in_flight = set(self.server_state.tasks)
        if in_flight and not self.force_exit:
            # Ends early when every request is done, or when a forced stop cancels them.
            await asyncio.wait(in_flight, timeout=GRACE_PERIOD)
        self._cancel_tasks()
        await asyncio.sleep(0)  # let the closed connections finish closing
        if not self.force_exit:
            await self.lifespan.shutdown()


class UvicornBackend:
    def __init__(self, app: Callable[..., Awaitable[None]], listener: socket.socket) -> None:
        self._listener = listener
        self._app = LifespanErrorKeeper(app)
        config = uvicorn.Config(
            self._app,
            interface="asgi3",
            lifespan="auto",
            # Fixed choices, so a test run does not depend on which extras are installed (the
            # event loop, asyncio's, is made by `run`).
            http="h11",
            ws="none",
            # The client's address is the socket's peer: the provider-state guard relies on it.
            proxy_headers=False,
            # Leave the process's logging alone and log no request; errors still reach
            # the "uvicorn.error" logger.
            log_config=None,
            log_level=logging.WARNING,
            access_log=False,
        )
        self._server = ThreadedUvicorn(config)
        self._loop: LoopThatKeepsItsDeath | None = None

    def run(self, serving: threading.Event) -> None:
        self._server.serving = serving
        # uvicorn's own `run` less the choice of loop. Off the main thread, uvicorn installs
        # no signal handlers.
        try:
            with asyncio.Runner(loop_factory=self._new_loop) as runner:
                runner.run(self._server.serve(sockets=[self._listener]))
        finally:
            self._listener.close()  # uvicorn closes it only when its loop did not die

    def _new_loop(self) -> LoopThatKeepsItsDeath:
        # A dead server refuses connections at once, rather than take them and never answer.
        self._loop = LoopThatKeepsItsDeath(on_death=self.refuse_connections)
        return self._loop

    def request_stop(self) -> None:
        self._server.should_exit = True
        self._server.wake()

    def force_stop(self) -> None:
        self._server.force_exit = True
        self.request_stop()
        self._server.cancel_in_flight()

    def refuse_connections(self) -> None:
        # Straight on the sockets, not through the event loop: a loop that is blocked (a
        # hanging sync call in an async endpoint) or dead must not keep clients waiting. The
        # open connections are shut down too, so a request in flight fails now.
        sockets = [self._listener]
        for connection in list(self._server.server_state.connections):
            transport = getattr(connection, "transport", None)
            if transport is not None:
                sockets.append(transport.get_extra_info("socket"))
        for sock in sockets:
            with contextlib.suppress(OSError, AttributeError):  # closed, or no socket at all
                sock.shutdown(socket.SHUT_RDWR)

    def startup_error(self) -> BaseException | None:
        return self._app.error

    def death(self) -> BaseException | None:
        return None if self._loop is None else self._loop.death
