"""The runner's WSGI server: Werkzeug's threaded server, through its documented API.

`werkzeug.serving.make_server` makes it on the runner's socket (`fd=`), and `socketserver`'s
`serve_forever` and `shutdown` run and stop it. `shutdown` is seen at the loop's next poll:
every `POLL_INTERVAL`, which bounds a stop (benchmarks/lifecycle.py: about 6 ms at the median).
Request threads are daemons, and `server_close` waits for none: a hanging request holds no stop.
"""

from __future__ import annotations

import socket
from typing import TYPE_CHECKING, Any

from werkzeug.serving import WSGIRequestHandler, make_server

if TYPE_CHECKING:
    from collections.abc import Callable

POLL_INTERVAL = 0.01


class QuietRequestHandler(WSGIRequestHandler):
    """Werkzeug's handler, less the log line per request (errors are still logged)."""

    # Werkzeug writes the status line, headers and body separately: send each at once.
    disable_nagle_algorithm = True

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass


class WerkzeugBackend:
    startup_error: BaseException | None = None  # Werkzeug runs no app code to start

    def __init__(self, app: Callable[..., Any], listener: socket.socket) -> None:
        host, port = listener.getsockname()[:2]
        # Werkzeug serves on a duplicate of the runner's bound, listening socket.
        self._server = make_server(
            host,
            port,
            app,
            threaded=True,
            request_handler=QuietRequestHandler,
            fd=listener.fileno(),
        )

    def run(self) -> None:
        self._server.serve_forever(poll_interval=POLL_INTERVAL)

    def request_stop(self) -> None:
        # Returns once `serve_forever` has (within a poll), or at once if it already has.
        self._server.shutdown()

    force_stop = request_stop

    def close(self) -> None:
        self._server.server_close()  # `serve_forever` did, unless it never ran
