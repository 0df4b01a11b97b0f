"""The real `pact` command line (the Rust Pact Broker client from `pact-python-cli`)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from verification.broker_api import BrokerEndpoint


class PactCliError(RuntimeError):
    """The `pact` command failed; the message carries its output."""


def binary() -> str:
    """The `pact` executable installed beside this interpreter (the venv's), else on PATH."""
    beside = Path(sys.executable).with_name("pact")
    if beside.is_file():
        return str(beside)
    found = shutil.which("pact")
    if found is None:
        raise PactCliError(
            "the `pact` command is not installed: install the `pact` dependency group"
        )
    return found


def broker(
    endpoint: BrokerEndpoint,
    *args: str,
    timeout: float = 60.0,
    allowed_exits: tuple[int, ...] = (0,),
) -> tuple[int, str]:
    """Run `pact broker <args>` against `endpoint`: its exit code (one of `allowed_exits`,
    else PactCliError) and its output."""
    # The broker and its credentials go in the environment the CLI reads, never in its
    # arguments, which any user of the machine can read (`ps`). Only what was chosen here.
    environ = {k: v for k, v in os.environ.items() if not k.startswith("PACT_BROKER_")}
    environ["PACT_BROKER_BASE_URL"] = endpoint.url
    if endpoint.token:
        environ["PACT_BROKER_TOKEN"] = endpoint.token
    elif endpoint.username:
        environ["PACT_BROKER_USERNAME"] = endpoint.username
        environ["PACT_BROKER_PASSWORD"] = endpoint.password or ""
    command = [binary(), "broker", *args]
    try:
        completed = subprocess.run(
            command, capture_output=True, text=True, timeout=timeout, env=environ, check=False
        )
    except subprocess.TimeoutExpired:
        raise PactCliError(f"`pact broker {args[0]}` did not finish in {timeout:.0f} s") from None
    output = (completed.stdout + completed.stderr).strip()
    if completed.returncode not in allowed_exits:
        raise PactCliError(f"`pact broker {args[0]}` failed ({completed.returncode}):\n{output}")
    return completed.returncode, output


def publish(
    endpoint: BrokerEndpoint, pact_dir: Path, *, consumer_version: str, branch: str | None
) -> str:
    """Publish every pact in `pact_dir` as `consumer_version` on `branch`."""
    pacts = sorted(pact_dir.glob("*.json"))
    if not pacts:
        raise PactCliError(
            f"no pact files in {pact_dir}: the consumer tests write them (nox -s pacts)"
        )
    args = ["publish", *map(str, pacts), "--consumer-app-version", consumer_version]
    if branch:
        args += ["--branch", branch]
    return broker(endpoint, *args)[1]


def can_i_deploy(endpoint: BrokerEndpoint, pacticipant: str, version: str) -> tuple[bool, str]:
    """The broker's answer, through `pact broker can-i-deploy`, to whether `version` of
    `pacticipant` works with the latest version of everything it integrates with."""
    # The CLI exits 1 for "no": an answer, not a failure.
    exit_code, output = broker(
        endpoint, "can-i-deploy", "--pacticipant", pacticipant, "--version", version,
        allowed_exits=(0, 1),
    )  # fmt: skip
    return exit_code == 0, output
