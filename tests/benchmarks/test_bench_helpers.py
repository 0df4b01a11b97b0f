"""The benchmark's own code does what its numbers claim (no timing is asserted here)."""

from __future__ import annotations

import json
from pathlib import Path

import httpx

from benchmarks import throughput, verifier_profile
from benchmarks.__main__ import END_MARKER, START_MARKER, write
from benchmarks.harness import RequestLog
from benchmarks.matrix import MatrixRun, _test_seconds
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


def test_junit_times_are_summed_per_test_folder(tmp_path: Path) -> None:
    junit = tmp_path / "cell.xml"
    junit.write_text(
        '<testsuites><testsuite name="pytest">'
        '<testcase classname="tests.consumer.test_user_client" name="a" time="0.25" />'
        '<testcase classname="tests.consumer.test_user_client" name="b" time="0.5" />'
        '<testcase classname="tests.verification.test_verify_providers" name="c" time="2" />'
        "</testsuite></testsuites>",
        encoding="utf-8",
    )

    assert _test_seconds(junit, "consumer") == 0.75
    assert _test_seconds(junit, "verification") == 2.0


def test_the_share_outside_verification_is_of_the_whole_wall_time() -> None:
    run = MatrixRun(
        wall=10.0,
        sessions={"a": 5.0, "b": 5.0},
        verdict=0.5,
        verification={"a": 1.0, "b": 1.5},
        consumer_tests={},
        verification_test={},
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
