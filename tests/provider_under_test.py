"""Run a provider for a test: its app over a store you can reach, on a loopback port, with an
HTTP client that sends paths exactly as written.

    with running_provider("flask") as provider:
        provider.store.put(user)
        provider.request("GET", "/users/1")

Needs httpx (the `test` dependency group).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

import httpx

import providers
from providers.runner import serve
from states import InMemoryUserRepository

if TYPE_CHECKING:
    from collections.abc import Iterator


@dataclass
class ProviderUnderTest:
    framework: str
    url: str
    store: InMemoryUserRepository
    client: httpx.Client

    def request(
        self,
        method: str,
        path: str,
        *,
        content: bytes | None = None,
        headers: dict[str, str] | None = None,
        json: object = None,
    ) -> httpx.Response:
        """Send `path` as the request target exactly as written (httpx would tidy some)."""
        url = httpx.URL(self.url).copy_with(raw_path=path.encode("ascii"))
        return self.client.request(method, url, content=content, headers=headers, json=json)


@contextlib.contextmanager
def running_provider(
    framework: str,
    store: InMemoryUserRepository | None = None,
    *,
    provider_states: bool = True,
    state_secret: str | None = None,
) -> Iterator[ProviderUnderTest]:
    """The provider as a verification starts it: by default with the state endpoint on."""
    store = store if store is not None else InMemoryUserRepository()
    app = providers.create_app(
        framework, store, provider_states=provider_states, state_secret=state_secret
    )
    with serve(app) as server, httpx.Client(timeout=10) as client:
        yield ProviderUnderTest(framework, server.url, store, client)
