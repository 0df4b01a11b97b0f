"""Item 1: verification throughput on a generated pact, against a plain client's limit.

The cell: `verification.cell.run` exactly as a matrix cell runs it (pre-selection over HTTP,
the provider served in this process, the verifier fetching the pact from the embedded broker),
timed from start to result. Interactions per second = verified interactions / that time.

The limit: the same HTTP calls, in the same order, that the verifier makes for each of the
pact's interactions (state setup, the request, state teardown, each with the secret header),
sent by one keep-alive `httpx.Client` to the same app served the same way.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import secrets
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from pact import Verifier

import providers
from benchmarks.harness import broker_with_pact
from providers.api import STATE_PATH, STATE_SECRET_HEADER
from providers.runner import serve
from verification import cell, slices


def verify(
    framework: str,
    interactions: int,
    repeats: int,
    *,
    ca_fix: bool,
    quiet_ffi: bool,
    sliced: bool = True,
) -> dict[str, Any]:
    """Run the cell `repeats` times on a pact of `interactions`; seconds and interactions/s.

    `ca_fix=False`, `quiet_ffi=False` and `sliced=False` undo the harness's fixes, to measure
    "before": the one-certificate CA bundle, the verifier's log forwarding turned down to
    WARNING, and large pacts verified in slices (verification/slices.py).
    """
    if not sliced:
        slices.SLICE_SIZE = sys.maxsize  # no pact is larger: every pact is verified whole
    if not quiet_ffi:
        # What pact-python does when the `pact.ffi` logger has no level of its own: forward
        # every INFO event into Python logging. Must happen before the first Pact or Verifier.
        logging.getLogger("pact.ffi").setLevel(logging.NOTSET)
    if not ca_fix:
        cell._one_ca_certificate = lambda *urls: contextlib.nullcontext()  # type: ignore[assignment]
    seconds: list[float] = []
    # CPU time of the thread that runs `Verifier.verify` (the verifier's Rust code, which
    # releases the GIL), whichever thread the harness runs it on, and of the whole process
    # (the provider's server threads too).
    verifier_cpu: list[float] = []
    process_cpu: list[float] = []
    _time_cpu_of(Verifier, "verify", verifier_cpu)
    verified = 0
    with (
        tempfile.TemporaryDirectory() as workdir,
        broker_with_pact(Path(workdir), interactions) as pact_broker,
    ):
        for _ in range(repeats):
            process_started = time.process_time()
            result = cell.run(cell.Cell(framework), pact_broker.settings, pact_broker.endpoint)
            process_cpu.append(time.process_time() - process_started)
            if not result.success:
                raise RuntimeError(f"the benchmark pact failed: {result.error or result.report}")
            seconds.append(result.seconds)
            verified = result.verified
    return {
        "seconds": seconds,
        "interactions": verified,
        "verifier_cpu": verifier_cpu,
        "process_cpu": process_cpu,
    }


def _time_cpu_of(owner: type, name: str, seconds: list[float]) -> None:
    """Wrap `owner.name` so that each call adds the CPU time of its own thread to `seconds`."""
    original = getattr(owner, name)

    @functools.wraps(original)
    def timed(*args: Any, **kwargs: Any) -> Any:
        started = time.thread_time()
        try:
            return original(*args, **kwargs)
        finally:
            seconds.append(time.thread_time() - started)

    setattr(owner, name, timed)


def limit(framework: str, interactions: int, repeats: int) -> dict[str, Any]:
    """The same HTTP calls as the verifier's, by one keep-alive client: seconds per repeat."""
    with tempfile.TemporaryDirectory() as workdir:
        from benchmarks.pactgen import write_pact

        calls = _calls(write_pact(Path(workdir), interactions))
    seconds: list[float] = []
    # CPU time of the whole process: the client's and the provider's, which share it.
    process_cpu: list[float] = []
    for _ in range(repeats):
        secret = secrets.token_urlsafe(32)
        app = providers.create_app(framework, provider_states=True, state_secret=secret)
        with (
            serve(app) as server,
            httpx.Client(base_url=server.url, headers={STATE_SECRET_HEADER: secret}) as client,
        ):
            started = time.perf_counter()
            process_started = time.process_time()
            for state, method, path in calls:
                client.post(STATE_PATH, json={**state, "action": "setup"}).raise_for_status()
                response = client.request(method, path)
                if response.status_code != 200:
                    raise RuntimeError(f"{method} {path} answered {response.status_code}")
                client.post(STATE_PATH, json={**state, "action": "teardown"}).raise_for_status()
            process_cpu.append(time.process_time() - process_started)
            seconds.append(time.perf_counter() - started)
    return {"seconds": seconds, "interactions": len(calls), "process_cpu": process_cpu}


def _calls(pact_file: Path) -> list[tuple[dict[str, Any], str, str]]:
    """(state change body, method, path) for each interaction of a generated pact."""
    pact = json.loads(pact_file.read_text("utf-8"))
    calls = []
    for interaction in pact["interactions"]:
        (state,) = interaction["providerStates"]
        request = interaction["request"]
        body = {"state": state["name"], "params": state.get("params", {})}
        calls.append((body, request["method"], request["path"]))
    return calls
