"""The benchmark's own code does what its numbers claim (no timing is asserted here)."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import httpx

from benchmarks import throughput, verifier_profile
from benchmarks.__main__ import END_MARKER, START_MARKER, write
from benchmarks.harness import RequestLog
from benchmarks.matrix import NOX_LINE, CellTimes, MatrixRun, _cell_times, _session_seconds
from benchmarks.pactgen import CONSUMER, STATE, write_pact
from matrix import PROVIDER
from states import PROVIDER_STATES


def test_the_generated_pact_has_one_stated_request_per_interaction(tmp_path: Path) -> None:
    path = write_pact(tmp_path, 3)

    pact = json.loads(path.read_text("utf-8"))
    assert (pact["consumer"]["name"], pact["provider"]["name"]) == (CONSUMER, PROVIDER)
    interactions = sorted(pact["interactions"], key=lambda item: item["request"]["path"])
    assert [item["request"]["path"] for item in interactions] == [
        "/users/1",
        "/users/2",
        "/users/3",
    ]
    for user_id, item in enumerate(interactions, start=1):
        assert item["providerStates"] == [
            {"name": STATE, "params": {"id": user_id, "name": f"User {user_id}"}}
        ]
        assert item["response"]["status"] == 200
    # The state is one the providers know, with the parameters it takes.
    assert set(PROVIDER_STATES[STATE].params) == {"id", "name"}


def test_writing_again_replaces_the_pact_rather_than_merging(tmp_path: Path) -> None:
    write_pact(tmp_path, 5)
    path = write_pact(tmp_path, 2)

    assert len(json.loads(path.read_text("utf-8"))["interactions"]) == 2


def test_the_limit_replays_the_pact_s_own_calls(tmp_path: Path) -> None:
    calls = throughput._calls(write_pact(tmp_path, 2))

    assert sorted(calls, key=lambda call: call[2]) == [
        ({"state": STATE, "params": {"id": 1, "name": "User 1"}}, "GET", "/users/1"),
        ({"state": STATE, "params": {"id": 2, "name": "User 2"}}, "GET", "/users/2"),
    ]


async def _hello(scope: object, receive: object, send: object) -> None:
    assert callable(send)
    await send({"type": "http.response.start", "status": 204, "headers": []})
    await send({"type": "http.response.body", "body": b""})


def test_the_request_log_records_each_request_with_its_client() -> None:
    log = RequestLog(_hello)
    transport = httpx.ASGITransport(app=log)

    async def two_requests() -> None:
        async with httpx.AsyncClient(transport=transport, base_url="http://broker") as client:
            await client.get("/", headers={"User-Agent": "pact_verifier"})
            await client.put("/pacticipants/p")

    import asyncio

    asyncio.run(two_requests())

    assert [(r.client, r.method, r.path) for r in log.requests] == [
        ("pact_verifier", "GET", "/"),
        (f"python-httpx/{httpx.__version__}", "PUT", "/pacticipants/p"),
    ]
    assert all(r.ended >= r.started for r in log.requests)


NOX_LOG = """\
nox > [2026-12-06 05:20:00,000] Running session verify-3.12(flask-3.1)
nox > [2026-12-06 05:20:00,050] Reusing existing virtual environment at .nox/verify-3-12-flask-3-1.
nox > [2026-12-06 05:20:00,100] /bin/uv sync --locked --group=flask-3.1 --group=verify
Resolved 101 packages in 1ms
nox > [2026-12-06 05:20:00,140] python -m verification settings
nox > [2026-12-06 05:20:00,300] python -m verification cell flask
verify-3.12(flask-3.1): 6 interactions verified in 0.1 s
nox > [2026-12-06 05:20:00,800] Session verify-3.12(flask-3.1) was successful in 0 seconds.
nox > [2026-12-06 05:20:00,810] Running session verdict
nox > [2026-12-06 05:20:01,510] Session verdict was successful in 0 seconds.
"""


def test_a_cell_s_time_is_split_by_the_commands_nox_logged() -> None:
    stamped = [
        (datetime.strptime(match[1], "%Y-%m-%d %H:%M:%S,%f"), match[2])
        for line in NOX_LOG.splitlines()
        if (match := NOX_LINE.match(line))
    ]

    times = _cell_times(stamped, "verify-3.12(flask-3.1)", verification=0.1)

    assert times == CellTimes(session=0.8, nox=0.1, uv=0.04, first=0.16, cell=0.5, verification=0.1)
    assert round(_session_seconds(stamped, "verdict"), 3) == 0.7


def test_the_share_outside_verification_is_of_the_whole_wall_time() -> None:
    cell = CellTimes(session=5.0, nox=0.1, uv=0.1, first=0.0, cell=4.0, verification=1.0)
    run = MatrixRun(
        wall=10.0,
        cells={"a": cell, "b": replace(cell, verification=1.5)},
        verdict=0.5,
        nox_start=0.2,
        passed=True,
    )

    assert run.outside_share == 0.75


def test_the_tables_replace_only_what_is_between_the_markers(tmp_path: Path) -> None:
    path = tmp_path / "BENCHMARKS.md"
    path.write_text(f"# Notes\n\n{START_MARKER}\nold\n{END_MARKER}\n\nMore notes.\n", "utf-8")

    write(path, f"{START_MARKER}\nnew\n{END_MARKER}")

    assert (
        path.read_text("utf-8") == f"# Notes\n\n{START_MARKER}\nnew\n{END_MARKER}\n\nMore notes.\n"
    )


def test_the_profile_reads_the_thread_that_ran_the_verifier_by_library_and_libc_function() -> None:
    libc = "(/usr/lib/x86_64-linux-gnu/libc.so.6)"
    ffi = "(/venv/site-packages/pact_python_ffi.libs/libpact_ffi-1e2d0200.so)"
    lines = [
        "  435      7f031876a06e _PyObject_Free (/root/.pyenv/lib/libpython3.13.so.1.0)",
        f"  435      7f0316f096e5 [unknown] {ffi}",
        f" 1273      7f0316f096e5 [unknown] {ffi}",
        f" 1273      7f0316f096e6 [unknown] {ffi}",
        f" 1273      7f6159ca3f16 malloc {libc}",
        f" 1273      7f6159ca3f17 malloc {libc}",
        f" 1273      7f6159ca3f18 _int_free {libc}",
        " 1273  ffffffff8223b5a6 do_syscall_64 ([kernel.kallsyms])",
        "not a sample",
    ]

    profile = verifier_profile.verifier_thread(lines)

    assert profile.samples == 6  # thread 1273, which ran the verifier the most
    assert profile.libraries == {
        "libc.so.6": 3,
        "libpact_ffi-1e2d0200.so": 2,
        "[kernel.kallsyms]": 1,
    }
    assert profile.libc_functions == {"malloc": 2, "_int_free": 1}
    assert profile.share(3) == "50.0%"
