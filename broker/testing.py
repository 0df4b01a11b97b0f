"""Helpers for tests that need a broker: the broker as a real subprocess, and pacts to publish.

Standard library only (no pytest, no pact-python), so any test environment can use it, and the
verification harness can start a broker the same way the broker's own tests do.
"""

from __future__ import annotations

import base64
import http.server
import json
import os
import signal
import subprocess
import sys
import threading
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pathlib import Path

STARTUP_TIMEOUT_S = 20


@dataclass
class RunningBroker:
    url: str
    process: subprocess.Popen[str]
    database: Path

    def stop(self) -> int:
        """SIGTERM, then the exit code (0 for a clean shutdown)."""
        self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout=STARTUP_TIMEOUT_S)
        if self.process.stdout is not None:
            self.process.stdout.close()  # the pipe of the announcement line
        return code


def start_broker(
    database: Path,
    env: dict[str, str] | None = None,
    port: int = 0,
    extra_args: list[str] | None = None,
    stderr: Any = None,
) -> RunningBroker:
    """`python -m broker --port 0` and the URL it prints once it accepts connections."""
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "broker",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--db",
            str(database),
            *(extra_args or []),
        ],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
        stderr=stderr,
    )
    assert process.stdout is not None
    line = process.stdout.readline()  # blocks until the announcement (or EOF if it died)
    if "http://" not in line:
        process.kill()
        raise RuntimeError(f"the broker did not start: {line!r}, exit code {process.wait()}")
    url = line[line.index("http://") :].strip()
    return RunningBroker(url, process, database)


def unique_name(prefix: str = "") -> str:
    """A short unique name, so tests that share a broker never collide."""
    return f"{prefix}{uuid.uuid4().hex[:8]}"


def pact_document(
    consumer: str, provider: str, paths: list[str], spec: str = "4.0"
) -> dict[str, Any]:
    """A pact whose interactions GET each path and expect 200 (the test provider answers that).

    Giving each consumer version its own paths lets a test see, from the provider's request log,
    which consumer versions' pacts a verifier was given.
    """
    interactions: list[dict[str, Any]] = []
    for path in paths:
        if spec.startswith("4"):
            interactions.append(
                {
                    "type": "Synchronous/HTTP",
                    "description": f"a request for {path}",
                    "request": {"method": "GET", "path": path},
                    "response": {"status": 200},
                }
            )
        else:
            interactions.append(
                {
                    "description": f"a request for {path}",
                    "request": {"method": "GET", "path": path},
                    "response": {"status": 200},
                }
            )
    return {
        "consumer": {"name": consumer},
        "provider": {"name": provider},
        "interactions": interactions,
        "metadata": {"pactSpecification": {"version": spec}},
    }


def write_pact(directory: Path, document: dict[str, Any]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{document['consumer']['name']}-{document['provider']['name']}.json"
    path.write_text(json.dumps(document))
    return path


def publish_body(
    document: dict[str, Any], version: str, branch: str | None = None, tags: list[str] | None = None
) -> dict[str, Any]:
    """A `POST /contracts/publish` body as the Rust CLI sends it."""
    body: dict[str, Any] = {
        "pacticipantName": document["consumer"]["name"],
        "pacticipantVersionNumber": version,
        "contracts": [
            {
                "consumerName": document["consumer"]["name"],
                "providerName": document["provider"]["name"],
                "specification": "pact",
                "contentType": "application/json",
                "content": base64.b64encode(json.dumps(document).encode()).decode(),
                "onConflict": "overwrite",
            }
        ],
    }
    if branch is not None:
        body["branch"] = branch
    if tags:
        body["tags"] = tags
    return body


class RecordingProvider:
    """A tiny real HTTP provider: 200 for every GET, 500 for paths containing `/broken`.

    It records every path it is asked for, so a test can tell which pacts a verifier was given
    (each consumer version's pact asks for paths of its own). Use as a context manager.
    """

    def __init__(self) -> None:
        self.paths: list[str] = []
        recorded = self.paths

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                recorded.append(self.path)
                status = 500 if "/broken" in self.path else 200
                body = b"{}"
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass  # keep test output readable

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def __enter__(self) -> RecordingProvider:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
