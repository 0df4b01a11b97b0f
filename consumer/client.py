"""A small HTTP client for the user API.

It reads only the fields it uses (id, name, created_on): a consumer-driven contract
records what the consumer needs, so the provider stays free to add fields.
"""

from __future__ import annotations

import functools
import ssl
from dataclasses import dataclass
from datetime import datetime
from http import HTTPStatus
from types import TracebackType
from typing import Any, Self

import httpx

# What the client accepts as `created_on` (`datetime.fromisoformat` with a UTC offset): its
# contract tests ask the provider for exactly this.
ISO_8601_WITH_OFFSET = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?(Z|[+-]\d{2}:\d{2})$"


@dataclass(frozen=True)
class User:
    """The part of a user that UserConsumer relies on."""

    id: int
    name: str
    created_on: datetime

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> User:
        return cls(
            id=int(data["id"]),
            name=str(data["name"]),
            created_on=datetime.fromisoformat(data["created_on"]),
        )


class UserNotFoundError(LookupError):
    """The provider has no user with that id."""


class UserClient:
    """Talks to a user API at `base_url` (the real provider, or Pact's mock of it)."""

    def __init__(self, base_url: str, *, timeout: float = 5.0) -> None:
        self._http = httpx.Client(base_url=base_url, timeout=timeout, verify=_tls_context())

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def get_user(self, user_id: int) -> User | None:
        """The user with this id, or None when the provider has none."""
        response = self._http.get(f"/users/{user_id}")
        if response.status_code == HTTPStatus.NOT_FOUND:
            return None
        response.raise_for_status()
        return User.from_json(response.json())

    def create_user(self, *, name: str) -> User:
        response = self._http.post("/users/", json={"name": name})
        response.raise_for_status()
        return User.from_json(response.json())

    def delete_user(self, user_id: int) -> None:
        """Delete the user; raises UserNotFoundError when there is none to delete."""
        response = self._http.delete(f"/users/{user_id}")
        if response.status_code == HTTPStatus.NOT_FOUND:
            raise UserNotFoundError(user_id)
        response.raise_for_status()


@functools.cache
def _tls_context() -> ssl.SSLContext:
    """httpx's default TLS set-up, made once for every client: each new client would load the
    whole CA bundle again (30-60 ms), once per consumer test."""
    return httpx.create_ssl_context()
