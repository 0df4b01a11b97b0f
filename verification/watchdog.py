"""Keep a verification from hanging: the provider is watched while the verifier runs.

The verifier is one blocking call into Rust, and a signal reaches Python code only between
the main thread's bytecodes, so Ctrl-C could not stop it. Here it runs on a worker thread
while the calling thread watches, and makes the provider refuse connections (each interaction
left then fails at once) when:

* the provider has not answered a request within the verifier's request timeout: the verifier
  has given up on it, and every later request would wait as long (an ASGI provider blocked in
  one request blocks them all);
* the provider's server died;
* Ctrl-C: the interrupt goes on once the verifier has finished.

    with watched(app, request_timeout=5.0) as provider:
        verifier = Verifier(...).add_transport(url=provider.url) ...
        provider.verify(verifier)
    provider.problem  # what went wrong with the provider, or None
"""

from __future__ import annotations

import contextlib
import itertools
import threading
import time
from typing import TYPE_CHECKING, Any

from providers.runner import RunningServer, interface_of, serve

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator

    from pact import Verifier

# How often the watch looks: the delay between a hang (or a crash) and the provider's stop.
POLL_SECONDS = 0.05
# A request is declared hung this long before the verifier gives up on it, so that the
# provider refuses the verifier's next request rather than letting it hang too.
HANG_MARGIN_SECONDS = 4 * POLL_SECONDS
# After an interrupt, how long the verifier may take to finish failing its interactions.
INTERRUPT_GRACE_SECONDS = 2.0


class InFlight:
    """The requests an app is answering right now, and since when."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._started: dict[int, tuple[str, float]] = {}
        self._ids = itertools.count()

    def oldest(self) -> tuple[str, float] | None:
        """The request in flight the longest (`GET /users/1`) and for how many seconds."""
        with self._lock:
            if not self._started:
                return None
            request, started = min(self._started.values(), key=lambda item: item[1])
        return request, time.monotonic() - started

    @contextlib.contextmanager
    def _request(self, method: str, path: str) -> Iterator[None]:
        key = next(self._ids)
        with self._lock:
            self._started[key] = (f"{method} {path}", time.monotonic())
        try:
            yield
        finally:
            with self._lock:
                del self._started[key]

    def watch(self, app: Callable[..., Any]) -> Callable[..., Any]:
        """`app`, recording each request while it is answered (WSGI or ASGI alike)."""
        if interface_of(app) == "asgi":

            async def asgi(scope: dict[str, Any], receive: Any, send: Any) -> None:
                if scope["type"] != "http":
                    await app(scope, receive, send)
                    return
                with self._request(scope["method"], scope["path"]):
                    await app(scope, receive, send)

            return asgi

        def wsgi(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
            with self._request(environ["REQUEST_METHOD"], environ.get("PATH_INFO", "")):
                answer = app(environ, start_response)
                try:
                    return list(answer)  # the providers' answers are small and built at once
                finally:
                    if hasattr(answer, "close"):
                        answer.close()

        return wsgi


class WatchedProvider:
    def __init__(self, server: RunningServer, in_flight: InFlight, request_timeout: float) -> None:
        self.server = server
        self.url = server.url
        self.problem: str | None = None
        self._in_flight = in_flight
        self._request_timeout = request_timeout

    def verify(self, verifier: Verifier) -> None:
        """`verifier.verify()`, watched; its outcome is in `verifier.results` either way."""
        done = threading.Event()
        raised: list[BaseException] = []

        def work() -> None:
            try:
                verifier.verify()
            except RuntimeError:
                pass  # any failure, a mismatch as much as an unreachable broker: see the results
            except BaseException as error:
                raised.append(error)
            finally:
                done.set()

        worker = threading.Thread(target=work, name="pact verifier", daemon=True)
        worker.start()
        try:
            while not done.wait(POLL_SECONDS):
                if self.problem is None:
                    self._look()
        except BaseException:  # Ctrl-C: the verifier finishes at once against a closed port
            self.server.abort()
            worker.join(INTERRUPT_GRACE_SECONDS)
            raise
        if self.problem is None:
            self._look()
        if raised:
            raise raised[0]

    def _look(self) -> None:
        oldest = self._in_flight.oldest()
        hang_after = max(self._request_timeout - HANG_MARGIN_SECONDS, self._request_timeout / 2)
        if oldest is not None and oldest[1] > hang_after:
            self.problem = (
                f"the provider did not answer {oldest[0]} in {oldest[1]:.1f} s (the verifier "
                f"gives up after {self._request_timeout:g} s): it hangs, so it was stopped and "
                "the interactions left failed at once"
            )
        elif (failure := self.server.failure()) is not None:
            self.problem = f"the provider stopped during the verification: {failure}"
        if self.problem is not None:
            self.server.abort()


@contextlib.contextmanager
def watched(app: Callable[..., Any], *, request_timeout: float) -> Iterator[WatchedProvider]:
    """Serve `app` like `providers.runner.serve`, watched; see the module's docstring.

    A server that cannot be stopped (a request still blocks it) is a `problem` too, not an
    error: the verification's results are still worth reporting.
    """
    in_flight = InFlight()
    provider: WatchedProvider | None = None
    stopping = False
    try:
        with serve(in_flight.watch(app)) as server:
            provider = WatchedProvider(server, in_flight, request_timeout)
            yield provider
            stopping = True
    except TimeoutError as stuck:
        if provider is None or not stopping:
            raise
        provider.problem = "; ".join(filter(None, (provider.problem, str(stuck))))
