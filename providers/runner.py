"""Serve a WSGI or ASGI app on a loopback port, in a background thread of this process.

    with serve(app) as server:
        httpx.get(f"{server.url}/users/1")

The socket is bound (port 0: the OS picks) before the server thread starts, so the port is
known and reserved at once, and nothing can race for it. `serve` returns once the server has
answered a real HTTP request, and a server that fails to start raises `ServerStartError` with
the original error as its cause, at once, not after a timeout. Leaving the block stops the
server within a bounded time.

Each server is used through its documented API, and only the one the app needs is imported:
- ASGI apps (coroutine functions) on Hypercorn: `hypercorn.asyncio.serve(app, config,
  shutdown_trigger=...)` serves until the trigger returns, then stops listening, waits for the
  requests in flight and runs the app's lifespan shutdown
  (https://hypercorn.readthedocs.io/en/latest/how_to_guides/api_usage.html), here on the
  runner's socket, given as `fd://N` (how_to_guides/binds.html). uvicorn documents no way to
  stop its server (encode/uvicorn#742). Hypercorn's `graceful_timeout` does not bound that wait
  on Python 3.12+ (pgjones/hypercorn#308): a forced stop does, cancelling them.
- WSGI apps on Werkzeug's threaded server: `werkzeug.serving.make_server` on the runner's
  socket (`fd=`), `socketserver`'s `serve_forever`, and `shutdown`, seen at the loop's next
  poll. Request threads are daemons, and no stop waits for one.
"""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import inspect
import logging
import os
import socket
import sys
import threading
import time
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Iterator

Interface = Literal["wsgi", "asgi"]

STARTUP_TIMEOUT = 10.0
SHUTDOWN_TIMEOUT = 5.0
POLL_INTERVAL = 0.01  # how soon Werkzeug's loop sees a stop


class ServerStartError(RuntimeError):
    """The server could not start; `__cause__` is the error it failed with."""


def interface_of(app: Callable[..., Any]) -> Interface:
    """ASGI apps are coroutine functions, or objects whose `__call__` is one."""
    call = app if inspect.isroutine(app) else type(app).__call__
    return "asgi" if inspect.iscoroutinefunction(call) else "wsgi"


@contextlib.contextmanager
def serve(
    app: Callable[..., Any],
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    startup_timeout: float = STARTUP_TIMEOUT,
    shutdown_timeout: float = SHUTDOWN_TIMEOUT,
) -> Iterator[RunningServer]:
    """Serve `app` on `host:port` (port 0: any free port) until the block ends."""
    if not callable(app):
        raise TypeError(f"not a WSGI or ASGI app: {app!r}")
    interface = interface_of(app)
    listener = listen(host, port)
    try:
        backend = (
            HypercornBackend(app, listener)
            if interface == "asgi"
            else WerkzeugBackend(app, listener)
        )
    except BaseException:
        listener.close()
        raise
    server = RunningServer(host, interface, backend, listener)
    deadline = time.monotonic() + startup_timeout
    server.start()
    try:
        probe = http.client.HTTPConnection(host, server.port, timeout=startup_timeout)
        try:
            # Any answer will do. A server that fails to start shuts its socket down, and this
            # request with it: the server's own error is then the one to report.
            probe.request("HEAD", "/")
            probe.getresponse().read()
        except OSError as error:  # or TimeoutError: it did not start in time
            server.join(max(0.0, deadline - time.monotonic()))
            cause = server.error or error
            message = f"{interface} server on {server.url} failed to start: {cause!r}"
            raise ServerStartError(message) from cause
        finally:
            probe.close()
        yield server
    except BaseException:
        # A server that cannot stop must not hide what ended the block (Ctrl-C above all).
        with contextlib.suppress(TimeoutError):
            server.stop(shutdown_timeout)
        raise
    server.stop(shutdown_timeout)


def listen(host: str, port: int) -> socket.socket:
    """A listening TCP socket on host:port (port 0: the OS picks one).

    Made by hand rather than with `socket.create_server`, whose socket has protocol number 0:
    asyncio then leaves Nagle's algorithm on for the connections, and every response of an
    ASGI server that writes headers and body apart waits ~40 ms for the client's delayed ACK.
    """
    family, kind, proto, _, address = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
    )[0]
    listener = socket.socket(family, kind, proto)
    try:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(address)
        listener.listen()
    except BaseException:
        listener.close()
        raise
    return listener


class RunningServer(threading.Thread):
    """One server, run by a daemon thread of its own, which keeps the error that ended it."""

    def __init__(
        self,
        host: str,
        interface: Interface,
        backend: HypercornBackend | WerkzeugBackend,
        listener: socket.socket,
    ) -> None:
        self.address = listener.getsockname()
        self.host, self.port, self.interface = host, self.address[1], interface
        super().__init__(name=f"{interface} server on {self.url}", daemon=True)
        self.backend = backend
        self.listener = listener
        self.error: BaseException | None = None
        # Set once the owner asked it to stop: from then on, the thread ending is no failure.
        self.stopping = self.aborted = False

    @property
    def url(self) -> str:
        """`http://127.0.0.1:PORT`, without a trailing slash."""
        return f"http://{self.host}:{self.port}"

    def failure(self) -> str | None:
        """Why the server stopped serving before it was asked to stop, or None if it has not."""
        if self.stopping or (self.error is None and self.is_alive()):
            return None
        return f"{self.interface} server on {self.url} died: {self.error!r}"

    def abort(self) -> None:
        """Refuse new connections now, and stop the server without waiting for requests in flight.

        Safe from any thread, even while a request blocks the server's own thread (an ASGI app
        that hangs blocks its event loop): clients then fail at once instead of waiting.
        """
        self.stopping = self.aborted = True
        self.refuse_connections()
        self.backend.force_stop()

    def run(self) -> None:
        with self.listener:
            try:
                self.backend.run()
            except BaseException as error:  # SystemExit too: what kills a server's own loop
                self.error = self.backend.startup_error or error
                # Refused from now, not once the clean-up (which may take a while) is over.
                self.refuse_connections()
            finally:
                self.backend.close()

    def refuse_connections(self) -> None:
        """Shut the listening socket down, and the connections it accepted: new clients are
        refused, and those in flight fail now.

        Straight on the sockets, found among the process's open files (Linux, macOS), rather
        than through a server that may be blocked (a sync call in an async endpoint) or dead.
        """
        for fd in os.listdir("/dev/fd"):
            with contextlib.suppress(OSError):  # not a socket, or closed meanwhile
                # An object over the descriptor itself, not over a copy: detached, it closes
                # nothing, and one that fails to be made (not a socket) has nothing to close.
                sock = socket.socket(self.listener.family, socket.SOCK_STREAM, 0, int(fd))
                try:
                    if sock.getsockname() == self.address:
                        sock.shutdown(socket.SHUT_RDWR)
                finally:
                    sock.detach()

    def stop(self, timeout: float) -> None:
        """Stop gracefully, then forcefully for the last fifth of `timeout`; then give up.

        After `abort` there is nothing left to wait for gracefully: only the forced part runs.
        """
        self.stopping = True
        if not self.aborted:
            self.backend.request_stop()
            self.join(timeout * 0.8)
        if self.is_alive():
            self.backend.force_stop()
            self.join(timeout * 0.2)
        if self.is_alive():
            raise TimeoutError(f"{self.name} did not stop in time: a request blocks it")


class WerkzeugBackend:
    startup_error = None  # no code of the app's runs to start

    def __init__(self, app: Callable[..., Any], listener: socket.socket) -> None:
        from werkzeug.serving import WSGIRequestHandler, make_server

        class QuietRequestHandler(WSGIRequestHandler):
            """Werkzeug's handler, less the log line per request (errors are still logged)."""

            # Werkzeug writes the status line, headers and body separately: send each at once.
            disable_nagle_algorithm = True

            def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
                pass

        host, port = listener.getsockname()[:2]
        self.server = make_server(
            host,
            port,
            app,
            threaded=True,
            request_handler=QuietRequestHandler,
            fd=listener.fileno(),
        )

    def run(self) -> None:
        self.server.serve_forever(poll_interval=POLL_INTERVAL)  # closes the server on its way out

    def request_stop(self) -> None:
        self.server.shutdown()  # returns once `serve_forever` has (within a poll), or has already

    force_stop = request_stop

    def close(self) -> None:
        self.server.server_close()  # for a `serve_forever` that never ran


def _closing_if_answered_early(scope: Any, receive: Any, send: Any) -> tuple[Any, Any]:
    """`receive` and `send` for an HTTP request that makes an answer sent before the request's
    body was read whole (a 413, a 415) say `Connection: close`. Hypercorn closes such a
    connection anyway, unannounced: a keep-alive client then sent its next request into the
    closing socket now and then, and lost it ("Server disconnected without sending a
    response"). Werkzeug says `Connection: close` on every answer."""
    headers = dict(scope.get("headers", ()))
    unread = headers.get(b"content-length", b"0") != b"0" or b"transfer-encoding" in headers

    async def reading() -> Any:
        nonlocal unread
        message = await receive()
        if message["type"] == "http.disconnect" or not message.get("more_body", False):
            unread = False
        return message

    async def answering(message: Any) -> None:
        if message["type"] == "http.response.start" and unread:
            message = {
                **message,
                "headers": [*message.get("headers", ()), (b"connection", b"close")],
            }
        await send(message)

    return reading, answering


class HypercornBackend:
    """Serves the app with Hypercorn, on the loop of the thread that calls `run`."""

    def __init__(self, app: Callable[..., Awaitable[None]], listener: socket.socket) -> None:
        import hypercorn.config

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
            await self.app(scope, *_closing_if_answered_early(scope, receive, send))
        finally:
            self.requests.discard(request)

    def run(self) -> None:
        import hypercorn.asyncio

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
