"""`python -m providers <framework>` (what `nox -s provider` runs): one framework with its
state endpoint in the foreground, on 127.0.0.1, until Ctrl-C. Real processes, real sockets."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import httpx
import pytest

from matrix import FRAMEWORKS, PROJECT_ROOT
from providers.api import STATE_PATH, STATE_SECRET_HEADER

STARTUP_SECONDS = 30


@dataclass
class Foreground:
    process: subprocess.Popen[str]
    banner: str

    def field(self, name: str) -> str:
        found = re.search(rf"^  {re.escape(name)}:\s+(\S+)", self.banner, re.MULTILINE)
        assert found, f"no {name!r} in the banner:\n{self.banner}"
        return found.group(1)


@contextmanager
def foreground(*arguments: str, secret: str | None = None) -> Iterator[Foreground]:
    env = {k: v for k, v in os.environ.items() if k != "PACT_STATE_SECRET"}
    if secret is not None:
        env["PACT_STATE_SECRET"] = secret
    process = subprocess.Popen(
        [sys.executable, "-m", "providers", *arguments],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=PROJECT_ROOT,
        env=env,
    )
    try:
        assert process.stdout is not None
        lines: list[str] = []
        deadline = time.monotonic() + STARTUP_SECONDS
        # The banner ends with the rerun hint; read up to it.
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line:
                break
            lines.append(line)
            if line.startswith("Rerun one interaction"):
                break
        yield Foreground(process, "".join(lines))
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)
        if process.stdout is not None:
            process.stdout.close()


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_it_serves_the_framework_with_its_state_endpoint_until_ctrl_c(framework: str) -> None:
    with foreground(framework) as provider:
        base = provider.field("base URL")
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", base), provider.banner
        assert provider.field("state-change URL") == f"{base}{STATE_PATH}"
        secret = provider.field("state secret")
        assert "(made for this run)" in provider.banner
        assert f"{STATE_SECRET_HEADER}: <the secret>" in provider.banner
        for verifier in (
            "Verifier(",
            "pact_verifier_cli ",
            "pact-provider-verifier ",
            "verify.mjs",
        ):
            assert verifier in provider.banner

        with httpx.Client(timeout=10) as client:
            refused = client.post(f"{base}{STATE_PATH}", json={"state": "user 123 exists"})
            assert refused.status_code == 403
            changed = client.post(
                f"{base}{STATE_PATH}",
                json={"state": "user 123 exists", "action": "setup"},
                headers={STATE_SECRET_HEADER: secret},
            )
            assert changed.status_code == 200, changed.text
            assert client.get(f"{base}/users/123").json()["name"] == "Verna Hampton"

        provider.process.send_signal(signal.SIGINT)
        assert provider.process.wait(15) == 0
        assert provider.process.stdout is not None
        assert "Stopped." in provider.process.stdout.read()


def test_it_uses_pact_state_secret_and_the_port_it_is_given() -> None:
    with foreground("flask", "--port", "0", secret="given-secret") as provider:
        assert provider.field("state secret") == "given-secret"
        assert "(from PACT_STATE_SECRET)" in provider.banner
        port = int(provider.field("base URL").rsplit(":", 1)[1])
    # A second one on the port the first had, now free.
    with foreground("fastapi", "--port", str(port), secret="given-secret") as again:
        assert again.field("base URL") == f"http://127.0.0.1:{port}"
        response = httpx.post(
            f"http://127.0.0.1:{port}{STATE_PATH}",
            json={"state": "", "action": "setup"},
            headers={STATE_SECRET_HEADER: "given-secret"},
            timeout=10,
        )
        assert response.status_code == 200


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["no_such_framework"], "invalid choice: 'no_such_framework'"),
        (["flask", "--port", "70000"], "--port must be from 0 to 65535"),
        ([], "the following arguments are required: framework"),
    ],
)
def test_bad_arguments_are_refused_saying_what_is_wrong(arguments: list[str], message: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "providers", *arguments],
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
        timeout=30,
        check=False,
    )
    assert done.returncode == 2
    assert message in done.stderr
