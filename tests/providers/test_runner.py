"""The runner: port 0, readiness, bounded shutdown, start failures, one process."""

from __future__ import annotations

import asyncio
import os
import socket
import threading
import time
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from fastapi import FastAPI
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

import providers
from matrix import FRAMEWORKS
from providers.runner import ServerStartError, interface_of, serve

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable, Iterable

    from starlette.requests import Request


def pid_wsgi_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [str(os.getpid()).encode()]


async def pid_endpoint(request: Request) -> JSONResponse:
    return JSONResponse({"pid": os.getpid(), "thread": threading.current_thread().name})


pid_asgi_app = Starlette(routes=[Route("/", pid_endpoint)])


def test_interfaces_are_told_apart_by_the_app_itself() -> None:
    async def asgi(scope: object, receive: object, send: object) -> None: ...

    assert interface_of(providers.create_app("flask")) == "wsgi"
    assert interface_of(providers.create_app("fastapi")) == "asgi"
    assert interface_of(pid_wsgi_app) == "wsgi"
    assert interface_of(asgi) == "asgi"
    assert interface_of(pid_asgi_app) == "asgi"


@pytest.mark.parametrize("app", [pid_wsgi_app, pid_asgi_app], ids=["wsgi", "asgi"])
def test_serves_on_a_port_the_os_picked_in_this_process(app: Callable[..., Any]) -> None:
    with serve(app) as first, serve(app) as second:
        assert first.host == "127.0.0.1"
        assert first.port != 0
        assert first.port != second.port
        assert first.url == f"http://127.0.0.1:{first.port}"
        # Answered at once: no sleep, no retry.
        response = httpx.get(f"{first.url}/")
    assert response.status_code == 200
    assert str(os.getpid()) in response.text


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_after_the_block_the_port_is_closed_and_the_thread_gone(framework: str) -> None:
    before = set(threading.enumerate())
    with serve(providers.create_app(framework)) as server, httpx.Client() as client:
        # A kept-alive connection must not hold the shutdown up.
        assert client.get(f"{server.url}/users/1").status_code == 404
        server_threads = set(threading.enumerate()) - before
        assert any(server.url in thread.name for thread in server_threads)
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((server.host, server.port), timeout=1)
    assert not any(thread.is_alive() for thread in server_threads if server.url in thread.name)


def test_a_port_in_use_is_reported_with_the_oserror() -> None:
    taken = socket.create_server(("127.0.0.1", 0))
    port = taken.getsockname()[1]
    try:
        with pytest.raises(OSError, match="in use"), serve(pid_wsgi_app, port=port):
            pass
    finally:
        taken.close()


def test_a_failing_startup_is_reported_with_its_own_error_not_a_timeout() -> None:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        raise RuntimeError("database unreachable")
        yield  # pragma: no cover

    app = FastAPI(lifespan=lifespan)
    with (
        pytest.raises(ServerStartError, match="failed to start") as failed,
        serve(app, startup_timeout=60),
    ):
        pytest.fail("the server must not have started")
    assert isinstance(failed.value.__cause__, RuntimeError)
    assert str(failed.value.__cause__) == "database unreachable"
    assert "database unreachable" in str(failed.value)


def test_not_an_app_is_refused() -> None:
    with pytest.raises(TypeError, match="not a WSGI or ASGI app"), serve("app"):  # type: ignore[arg-type]
        pass


def test_a_hanging_wsgi_request_does_not_hold_up_the_stop() -> None:
    started, release = threading.Event(), threading.Event()

    def hanging(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ["PATH_INFO"] == "/hang":
            started.set()
            release.wait(60)
        start_response("200 OK", [])
        return [b""]

    try:
        with serve(hanging) as server:
            threading.Thread(
                target=lambda: httpx.get(f"{server.url}/hang", timeout=60), daemon=True
            ).start()
            assert started.wait(30)  # the request hangs now
        # Reaching here means the stop came back within its bound (5 s) instead of raising
        # TimeoutError: it did not wait for the request, which hangs for a minute.
    finally:
        release.set()


def test_a_hanging_asgi_request_is_cancelled_within_the_bound() -> None:
    started = threading.Event()

    async def hang(request: Request) -> JSONResponse:
        started.set()
        await asyncio.sleep(60)
        return JSONResponse({})

    app = Starlette(routes=[Route("/hang", hang)])
    with serve(app) as server:
        threading.Thread(
            target=lambda: httpx.get(f"{server.url}/hang", timeout=60), daemon=True
        ).start()
        assert started.wait(30)
    # Reaching here means the stop came back within its bound (5 s) instead of raising
    # TimeoutError: the request, which would take a minute, was cancelled.


def test_the_asgi_lifespan_shuts_down_when_the_server_stops() -> None:
    events: list[str] = []

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        events.append("startup")
        yield
        events.append("shutdown")

    with serve(FastAPI(lifespan=lifespan)):
        assert events == ["startup"]
    assert events == ["startup", "shutdown"]


def test_abort_refuses_connections_even_while_a_request_blocks_the_event_loop() -> None:
    started, release = threading.Event(), threading.Event()
    outcome: list[BaseException | int] = []

    async def block(request: Request) -> JSONResponse:
        started.set()
        release.wait(60)  # a sync call in an async endpoint: the whole event loop waits
        return JSONResponse({})

    def blocked_client(url: str) -> None:
        try:
            outcome.append(httpx.get(f"{url}/block", timeout=60).status_code)
        except httpx.HTTPError as error:
            outcome.append(error)

    def abort_while_blocked() -> None:
        with serve(Starlette(routes=[Route("/block", block)])) as server:
            client = threading.Thread(target=blocked_client, args=(server.url,))
            client.start()
            assert started.wait(30)
            server.abort()
            with pytest.raises(httpx.ConnectError):
                httpx.get(server.url, timeout=30)
            client.join(30)  # the request in flight fails now, not after its 60 s
            assert len(outcome) == 1
            assert isinstance(outcome[0], httpx.HTTPError), outcome
            assert server.failure() is None  # stopped on purpose: not a failure

    try:
        # The blocked event loop cannot end: the stop says so when the block ends.
        with pytest.raises(TimeoutError, match="a request blocks it"):
            abort_while_blocked()
    finally:
        release.set()


def test_a_server_that_dies_says_why_and_stops_without_error() -> None:
    def die() -> None:
        raise SystemExit

    async def kill_the_loop(request: Request) -> JSONResponse:
        asyncio.get_running_loop().call_soon(die)  # an error escaping the server's own loop
        return JSONResponse({})

    with serve(Starlette(routes=[Route("/die", kill_the_loop)])) as server:
        assert server.failure() is None
        httpx.get(f"{server.url}/die", timeout=30)
        deadline = time.monotonic() + 30
        while server.failure() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        assert server.failure() == f"asgi server on {server.url} died: SystemExit()"


def test_a_server_whose_loop_died_says_so_and_refuses_while_its_thread_cleans_up() -> None:
    # asyncio cancels (and runs) the tasks left before the loop's error ends the thread: a
    # watch that waited for the thread could miss a death that the clients already see.
    died = threading.Event()
    cleaned_up = threading.Event()

    def die() -> None:
        died.set()
        raise SystemExit

    async def kill_the_loop(request: Request) -> JSONResponse:
        asyncio.get_running_loop().call_soon(die)
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            cleaned_up.wait(60)  # holds the server's thread in the dead loop's clean-up
            raise
        return JSONResponse({})

    with serve(Starlette(routes=[Route("/die", kill_the_loop)])) as server:
        try:
            with socket.create_connection((server.host, server.port)) as client:
                client.sendall(b"GET /die HTTP/1.1\r\nHost: test\r\n\r\n")
                assert died.wait(30)
                # Well within the minute that the clean-up is held for.
                deadline = time.monotonic() + 30
                while server.failure() is None and time.monotonic() < deadline:
                    time.sleep(0.01)
                assert server.failure() == f"asgi server on {server.url} died: SystemExit()"
                # Refused, rather than taken by the dying loop and never answered.
                with pytest.raises(httpx.ConnectError):
                    httpx.get(server.url, timeout=10)
        finally:
            cleaned_up.set()


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_an_answer_sent_before_the_body_was_read_closes_the_connection_and_says_so(
    framework: str,
) -> None:
    # A keep-alive client reuses a connection unless told otherwise; the server closes one
    # whose request body it did not read, and the client's next request would be lost in it.
    unread = b"x" * (4 * 1024 * 1024)  # far over the limit: refused before it is read
    with serve(providers.create_app(framework)) as server, httpx.Client() as client:
        refused = client.post(
            f"{server.url}/users/", content=unread, headers={"Content-Type": "text/plain"}
        )
        after = client.get(f"{server.url}/users/1")

    assert refused.status_code in (413, 415)
    assert refused.headers.get("connection") == "close"
    assert after.status_code == 404


def test_an_asgi_answer_to_a_request_read_whole_keeps_the_connection() -> None:
    with serve(providers.create_app("fastapi")) as server, httpx.Client() as client:
        created = client.post(f"{server.url}/users/", json={"name": "Ada"})
        read = client.get(f"{server.url}/users/{created.json()['id']}")

    assert created.status_code == 200
    assert "connection" not in created.headers
    assert "connection" not in read.headers
