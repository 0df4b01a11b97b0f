"""Serve a WSGI or ASGI app on a loopback port, in a background thread of this process.

    with serve(app) as server:
        httpx.get(f"{server.url}/users/1")

The socket is bound (port 0: the OS picks) before the server thread starts, so the port is
known and reserved at once, and nothing can race for it. `serve` returns once the server has
answered a real HTTP request, and a server that fails to start raises `ServerStartError` with
the original error as its cause, at once, not after a timeout. Leaving the block stops the
server within a bounded time.

WSGI apps run on Werkzeug's threaded server (providers/_wsgi_server.py), ASGI apps on Hypercorn
(providers/_asgi_server.py), each through its documented API; which is decided from the app
itself (ASGI apps are coroutine functions), and only that server is imported.
"""

from __future__ import annotations

import contextlib
import http.client
import inspect
import os
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from providers._asgi_server import HypercornBackend
    from providers._wsgi_server import WerkzeugBackend

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
        if thread is None or thread.stopping or (thread.error is None and thread.is_alive()):
            return None
        return f"{self.interface} server on {self.url} died: {thread.error!r}"

    def abort(self) -> None:
        """Refuse new connections now, and stop the server without waiting for requests in flight.

        Safe from any thread, even while a request blocks the server's own thread (an ASGI app
        that hangs blocks its event loop): clients then fail at once instead of waiting.
        """
        if self._thread is not None:
            self._thread.abort()


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
        backend = _make_backend(interface, app, listener)
    except BaseException:
        listener.close()
        raise
    bound_port = listener.getsockname()[1]
    thread = _ServerThread(backend, listener, f"{interface} server on http://{host}:{bound_port}")
    server = RunningServer(host, bound_port, interface, thread)
    deadline = time.monotonic() + startup_timeout
    thread.start()
    try:
        probe = http.client.HTTPConnection(host, bound_port, timeout=startup_timeout)
        try:
            # Any answer will do. A server that fails to start shuts its socket down, and this
            # request with it: the server's own error is then the one to report.
            probe.request("HEAD", "/")
            probe.getresponse().read()
        except OSError as error:  # or TimeoutError: it did not start in time
            thread.join(max(0.0, deadline - time.monotonic()))
            cause = thread.error or error
            message = f"{interface} server on {server.url} failed to start: {cause!r}"
            raise ServerStartError(message) from cause
        finally:
            probe.close()
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


def _make_backend(
    interface: Interface, app: Callable[..., Any], listener: socket.socket
) -> HypercornBackend | WerkzeugBackend:
    # Import only the server this app needs: the broker's environment has no Werkzeug.
    if interface == "asgi":
        from providers._asgi_server import HypercornBackend

        return HypercornBackend(app, listener)
    from providers._wsgi_server import WerkzeugBackend

    return WerkzeugBackend(app, listener)


class _ServerThread(threading.Thread):
    """A daemon thread running one server, keeping the error that ended it."""

    def __init__(
        self, backend: HypercornBackend | WerkzeugBackend, listener: socket.socket, name: str
    ) -> None:
        super().__init__(name=name, daemon=True)
        self.backend = backend
        self.listener = listener
        self.address = listener.getsockname()
        self.error: BaseException | None = None
        # Set once the owner asked it to stop: from then on, the thread ending is no failure.
        self.stopping = self.aborted = False

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

    def abort(self) -> None:
        self.stopping = self.aborted = True
        self.refuse_connections()
        self.backend.force_stop()

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
