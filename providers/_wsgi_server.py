"""The runner's WSGI server: Werkzeug's threaded server, through its documented API.

`werkzeug.serving.make_server` makes it on the runner's socket (`fd=`, served on a duplicate);
`socketserver`'s `serve_forever` runs it, and `shutdown` stops it at the loop's next poll, every
`POLL_INTERVAL`. Request threads are daemons, and no stop waits for one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from werkzeug.serving import WSGIRequestHandler, make_server

if TYPE_CHECKING:
    import socket
    from collections.abc import Callable

POLL_INTERVAL = 0.01


class QuietRequestHandler(WSGIRequestHandler):
    """Werkzeug's handler, less the log line per request (errors are still logged)."""

    # Werkzeug writes the status line, headers and body separately: send each at once.
    disable_nagle_algorithm = True

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass


class WerkzeugBackend:
    startup_error = None  # no code of the app's runs to start

    def __init__(self, app: Callable[..., Any], listener: socket.socket) -> None:
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
