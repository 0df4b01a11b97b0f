"""The runner's WSGI backend: Werkzeug's threaded server, stopped without polling.

`serve_forever` looks for a shutdown request only every `poll_interval` (0.5 s by default), so
stopping takes up to that long. Here the loop waits on the listening socket and on a wake-up
socket together, and `request_stop` writes to the wake-up socket: the loop ends at once.
"""

from __future__ import annotations

import contextlib
import selectors
import socket
import threading
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from werkzeug.serving import ThreadedWSGIServer, WSGIRequestHandler

if TYPE_CHECKING:
    from collections.abc import Callable

    from _typeshed.wsgi import WSGIEnvironment


class QuietRequestHandler(WSGIRequestHandler):
    """Werkzeug's handler, less the log line per request (errors are still logged), and
    with request paths that start with `//` kept as they are."""

    # Werkzeug writes the status line, headers and body separately: send each at once.
    disable_nagle_algorithm = True

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass

    def make_environ(self) -> WSGIEnvironment:
        environ = super().make_environ()
        # The request line as sent: http.server has already cut a leading `//` down to `/`
        # (CPython gh-87389), and Werkzeug would read `//users/1` as host `users`, path `/1`.
        target = self.requestline.split()[1]
        if target.startswith("//"):
            # `//users/1` is a path: an empty segment, `users`, `1`. The app must see it to
            # answer it as it does on uvicorn. PEP 3333: PATH_INFO is UTF-8 read as latin-1.
            path = unquote(target.partition("?")[0])
            environ["PATH_INFO"] = path.encode("utf-8", "replace").decode("latin-1")
        return environ


class ConnectionTrackingServer(ThreadedWSGIServer):
    """Werkzeug's threaded server, knowing its open connections so that an abort can end them
    (a request thread that hangs would otherwise keep its client waiting)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()

    def process_request(self, request: Any, client_address: Any) -> None:
        with self.connections_lock:
            self.connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self.connections_lock:
            self.connections.discard(request)
        super().shutdown_request(request)


class WerkzeugBackend:
    def __init__(self, app: Callable[..., Any], listener: socket.socket) -> None:
        host, port = listener.getsockname()[:2]
        # Werkzeug takes its own duplicate of the already-bound, listening socket.
        self._server = ConnectionTrackingServer(
            host, port, app, QuietRequestHandler, fd=listener.fileno()
        )
        listener.close()
        self._wake_reader, self._wake_writer = socket.socketpair()
        self._death: BaseException | None = None

    def run(self, serving: threading.Event) -> None:
        try:
            with selectors.DefaultSelector() as selector:
                selector.register(self._server, selectors.EVENT_READ)
                selector.register(self._wake_reader, selectors.EVENT_READ)
                serving.set()
                while True:
                    ready = [key.fileobj for key, _ in selector.select()]
                    if self._wake_reader in ready:
                        return
                    # A connection is waiting: accept it and hand it to a request thread.
                    self._server.handle_request()
        except BaseException as error:
            self._death = error
            raise
        finally:
            self._server.server_close()
            self._wake_reader.close()
            self._wake_writer.close()

    def request_stop(self) -> None:
        with contextlib.suppress(OSError):  # already stopped and closed
            self._wake_writer.send(b"\0")

    def force_stop(self) -> None:
        # Request threads are daemons; the loop itself never blocks on one.
        self.request_stop()

    def refuse_connections(self) -> None:
        # A listening socket that is shut down refuses new connections (Linux, macOS); the
        # accept loop, woken by it, finds nothing to accept and ends at the wake-up. Open
        # connections are shut down too, so that a request in flight fails now.
        with self._server.connections_lock:
            sockets = [self._server.socket, *self._server.connections]
        for sock in sockets:
            with contextlib.suppress(OSError):  # already closed
                sock.shutdown(socket.SHUT_RDWR)

    def startup_error(self) -> BaseException | None:
        return None

    def death(self) -> BaseException | None:
        return self._death
