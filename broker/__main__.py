"""`python -m broker --host 127.0.0.1 --port 9292 --db pact_broker.sqlite`.

Binds the socket itself (so `--port 0` gets a free port with no race), prints
`Pact Broker listening on http://HOST:PORT` once it accepts connections, and exits 0 on
SIGINT or SIGTERM after a graceful shutdown.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import copy
import errno
import os
import signal
import socket
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

import uvicorn

from broker.app import create_app
from broker.auth import Auth

if TYPE_CHECKING:
    from collections.abc import Iterator
    from types import FrameType


def parse_arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m broker", description=__doc__.splitlines()[0] if __doc__ else None
    )
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)"
    )
    parser.add_argument(
        "--port",
        type=int,
        default=9292,
        help="port to listen on; 0 picks a free one (default 9292)",
    )
    parser.add_argument(
        "--fd",
        type=int,
        metavar="N",
        help="serve on this listening socket, inherited from the process that started the "
        "broker (which knows the address at once); --host and --port are then ignored",
    )
    parser.add_argument(
        "--db",
        type=Path,
        default=Path("pact_broker.sqlite"),
        help="SQLite file (default ./pact_broker.sqlite)",
    )
    parser.add_argument(
        "--log-level", default="warning", choices=["debug", "info", "warning", "error"]
    )
    parser.add_argument(
        "--exit-with",
        type=int,
        metavar="PID",
        help="stop when this process ends (the run that started the broker), however it ends",
    )
    return parser.parse_args(argv)


class _Server(uvicorn.Server):
    """uvicorn, announcing its URL when ready and exiting 0 on SIGINT/SIGTERM.

    uvicorn re-raises a captured signal after shutting down (so the process dies "by" the
    signal); a broker stopped on purpose should exit 0 instead.
    """

    def __init__(self, config: uvicorn.Config, url: str) -> None:
        super().__init__(config)
        self.url = url

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        previous = {sig: signal.signal(sig, self._stop) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def _stop(self, sig: int, frame: FrameType | None) -> None:
        if self.should_exit and sig == signal.SIGINT:
            self.force_exit = True
        self.should_exit = True

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started and not self.should_exit:
            print(f"Pact Broker listening on {self.url}", flush=True)


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP explicitly: asyncio only sets TCP_NODELAY on accepted sockets whose proto says
    # TCP, and without it every keep-alive response waits ~40 ms for a delayed ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(1024)
    sock.set_inheritable(True)
    return sock


def _stop_when_gone(server: _Server, pid: int) -> None:
    """Poll `pid`; once it has ended, stop the server (a run killed outright leaves no broker)."""
    while not server.should_exit:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            server.should_exit = True
            return
        except PermissionError:
            pass
        time.sleep(0.2)


def main(argv: list[str] | None = None) -> int:
    arguments = parse_arguments(argv)
    try:
        sock = (
            _bind(arguments.host, arguments.port)
            if arguments.fd is None
            else socket.socket(fileno=arguments.fd)
        )
    except OSError as error:
        if error.errno != errno.EADDRINUSE:
            raise
        print(
            f"error: port {arguments.port} on {arguments.host} is already in use (another broker?):"
            " stop what uses it, or choose another port with --port (0 picks a free one)",
            file=sys.stderr,
        )
        return 2
    bound_host, bound_port = sock.getsockname()[:2]
    host = f"[{bound_host}]" if ":" in bound_host else bound_host
    app = create_app(arguments.db, auth=Auth.from_env())
    # Access logs show method, path and status only; credentials travel in headers, never logged.
    # All logs go to stderr: stdout carries only the one announcement line scripts wait for.
    log_config = copy.deepcopy(uvicorn.config.LOGGING_CONFIG)
    log_config["handlers"]["access"]["stream"] = "ext://sys.stderr"
    config = uvicorn.Config(
        app,
        log_level=arguments.log_level,
        log_config=log_config,
        access_log=arguments.log_level in ("debug", "info"),
    )
    server = _Server(config, f"http://{host}:{bound_port}")
    if arguments.exit_with:
        threading.Thread(
            target=_stop_when_gone, args=(server, arguments.exit_with), daemon=True
        ).start()
    asyncio.run(server.serve(sockets=[sock]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
