"""Serve a WSGI or ASGI app on a loopback port, in a background thread of this process.

    with serve(app) as server:
        httpx.get(f"{server.url}/users/1")

The socket is bound (port 0: the OS picks) before the server thread starts, so the port is
known and reserved at once, and nothing can race for it. `serve` returns once the server has
answered a real HTTP request, and a server that fails to start raises `ServerStartError` with
the original error as its cause, at once, not after a timeout. Leaving the block stops the
server within a bounded time.

WSGI apps run on Werkzeug's threaded server, ASGI apps on uvicorn; which is decided from the
app itself (ASGI apps are coroutine functions), and only that server is imported.
"""

from __future__ import annotations

import contextlib
import http.client
import inspect
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

Interface = Literal["wsgi", "asgi"]

STARTUP_TIMEOUT = 10.0
SHUTDOWN_TIMEOUT = 5.0


class ServerStartError(RuntimeError):
    """The server could not start; `__cause__` is the error it failed with."""


@dataclass(frozen=True)
class RunningServer:
    host: str
    port: int
    interface: Interface
    _thread: _ServerThread | None = field(default=None, repr=False, compare=False)

    @property
    def url(self) -> str:
        """`http://127.0.0.1:PORT`, without a trailing slash."""
        return f"http://{self.host}:{self.port}"

    def failure(self) -> str | None:
        """Why the server stopped serving before it was asked to stop, or None if it has not."""
        thread = self._thread
        if thread is None or thread.stopping:
            return None
        # The backend knows of a death before the thread ends: asyncio first cancels and runs
        # the tasks left, while clients already find no server.
        death = thread.backend.death()
        if death is None and thread.is_alive():
            return None
        return f"{self.interface} server on {self.url} died: {death or thread.error!r}"

    def abort(self) -> None:
        """Refuse new connections now, and stop the server without waiting for requests in flight.

        Safe from any thread, even while a request blocks the server's own thread (an ASGI app
        that hangs blocks its event loop): clients then fail at once instead of waiting.
        """
        if self._thread is not None:
            self._thread.abort()


class Backend(Protocol):
    """One server implementation, driven by `serve` from the calling thread."""

    def run(self, serving: threading.Event) -> None:
        """Serve on the calling (background) thread until stopped; set `serving` once
        requests are being answered."""

    def request_stop(self) -> None:
        """Ask `run` to return soon; may be called from any thread, at any time."""

    def force_stop(self) -> None:
        """Ask `run` to return now, dropping whatever is still in flight."""

    def refuse_connections(self) -> None:
        """Make the listening socket refuse new connections at once; may be called from any
        thread, even while `run`'s thread is blocked."""

    def startup_error(self) -> BaseException | None:
        """The app's own startup error, when the server reports only that it exited."""

    def death(self) -> BaseException | None:
        """The error that ended serving, from the moment it did, before `run` has cleaned
        up and raised it."""


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
    bound_port = listener.getsockname()[1]
    try:
        backend = _make_backend(interface, app, listener)
    except BaseException:
        listener.close()
        raise
    thread = _ServerThread(backend, name=f"{interface} server on http://{host}:{bound_port}")
    server = RunningServer(host, bound_port, interface, thread)
    thread.start()
    try:
        _wait_until_answering(thread, server, deadline=time.monotonic() + startup_timeout)
        yield server
    except BaseException:
        # A server that cannot stop must not hide what ended the block (Ctrl-C above all).
        with contextlib.suppress(TimeoutError):
            thread.stop(shutdown_timeout)
        raise
    thread.stop(shutdown_timeout)


def listen(host: str, port: int) -> socket.socket:
    """A listening TCP socket on host:port (port 0: the OS picks one).

    Made by hand rather than with `socket.create_server`, whose socket has protocol number 0:
    asyncio then leaves Nagle's algorithm on for the connections, and every uvicorn response
    (headers, then body) waits ~40 ms for the client's delayed ACK.
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


def _make_backend(
    interface: Interface, app: Callable[..., Any], listener: socket.socket
) -> Backend:
    # Import only the server this app needs: the broker's environment has no Werkzeug.
    if interface == "asgi":
        from providers._asgi_server import UvicornBackend

        return UvicornBackend(app, listener)
    from providers._wsgi_server import WerkzeugBackend

    return WerkzeugBackend(app, listener)


class _ServerThread:
    """A daemon thread running one backend, keeping its error for the caller."""

    def __init__(self, backend: Backend, *, name: str) -> None:
        self.backend = backend
        # Set when the server answers, or when `run` ended before that.
        self.settled = threading.Event()
        self.error: BaseException | None = None
        # Set once the owner asked it to stop: from then on, the thread ending is no failure.
        self.stopping = False
        self._aborted = False
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        try:
            self.backend.run(self.settled)
        except BaseException as error:  # SystemExit too: uvicorn exits on a failed startup
            starting = not self.settled.is_set()
            self.error = (self.backend.startup_error() if starting else None) or error
        finally:
            self.settled.set()

    def is_alive(self) -> bool:
        return self._thread.is_alive()

    def abort(self) -> None:
        self.stopping = self._aborted = True
        self.backend.refuse_connections()
        self.backend.force_stop()

    def stop(self, timeout: float) -> None:
        """Stop gracefully, then forcefully for the last fifth of `timeout`; then give up.

        After `abort` there is nothing left to wait for gracefully: only the forced part runs.
        """
        self.stopping = True
        if not self._aborted:
            self.backend.request_stop()
            self._thread.join(timeout * 0.8)
        if self._thread.is_alive():
            self.backend.force_stop()
            self._thread.join(timeout * 0.2)
        if self._thread.is_alive():
            raise TimeoutError(f"{self._thread.name} did not stop in time: a request blocks it")


def _wait_until_answering(thread: _ServerThread, server: RunningServer, *, deadline: float) -> None:
    if not thread.settled.wait(max(0.0, deadline - time.monotonic())):
        raise ServerStartError(f"{server.interface} server on {server.url} did not start in time")
    if thread.error is not None or not thread.is_alive():
        message = f"{server.interface} server on {server.url} failed to start: {thread.error!r}"
        raise ServerStartError(message) from thread.error
    # Serving, by the server's own account; prove it with one real request. Any status will do.
    connection = http.client.HTTPConnection(
        server.host, server.port, timeout=max(0.001, deadline - time.monotonic())
    )
    try:
        connection.request("HEAD", "/")
        connection.getresponse().read()
    except OSError as error:
        raise ServerStartError(f"{server.url} does not answer: {error!r}") from error
    finally:
        connection.close()
