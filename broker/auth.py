"""HTTP basic auth as the real broker does it: a read-write user and an optional read-only user.

pact_broker `lib/pact_broker/api/middleware/basic_auth.rb` and
`lib/pact_broker/api/authorization/resource_access_policy.rb`: the read-only user may make
safe requests (GET, HEAD, OPTIONS) anywhere, and may POST to pacts-for-verification (a query,
even though it is a POST). The heartbeat is always public, so readiness probes need no secret.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
import secrets
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from collections.abc import Mapping

    from starlette.types import ASGIApp, Receive, Scope, Send

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
READ_ONLY_POST = re.compile(r"^/pacts/provider/[^/]+/for-verification/?$")
PUBLIC_PATHS = frozenset({"/diagnostic/status/heartbeat"})

Role = Literal["write", "read"]


@dataclass(frozen=True)
class Credentials:
    username: str
    # repr=False: a config object printed in a log or a traceback must not show the password.
    password: str = field(repr=False)

    def match(self, username: str, password: str) -> bool:
        # Compare both in constant time, and always both, so timing tells nothing.
        same_user = secrets.compare_digest(username.encode(), self.username.encode())
        same_password = secrets.compare_digest(password.encode(), self.password.encode())
        return same_user and same_password


@dataclass(frozen=True)
class Auth:
    """Who may do what; `create_app(..., auth=None)` means no authentication at all."""

    write: Credentials
    read_only: Credentials | None = None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Auth | None:
        """The auth configured by the real broker's environment variables, or None if unset."""
        env = os.environ if environ is None else environ
        username = env.get("PACT_BROKER_BASIC_AUTH_USERNAME", "")
        password = env.get("PACT_BROKER_BASIC_AUTH_PASSWORD", "")
        if not username or not password:
            return None
        read_username = env.get("PACT_BROKER_BASIC_AUTH_READ_ONLY_USERNAME", "")
        read_password = env.get("PACT_BROKER_BASIC_AUTH_READ_ONLY_PASSWORD", "")
        read_only = (
            Credentials(read_username, read_password) if read_username and read_password else None
        )
        return cls(Credentials(username, password), read_only)

    def role(self, authorization: str | None) -> Role | None:
        """The role the Authorization header proves, or None."""
        if not authorization or not authorization.lower().startswith("basic "):
            return None
        try:
            decoded = base64.b64decode(authorization[6:].strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return None
        username, _, password = decoded.partition(":")
        if self.write.match(username, password):
            return "write"
        if self.read_only is not None and self.read_only.match(username, password):
            return "read"
        return None


def allowed(role: Role, method: str, path: str) -> bool:
    return (
        role == "write"
        or method in SAFE_METHODS
        or (method == "POST" and bool(READ_ONLY_POST.match(path)))
    )


class BasicAuthMiddleware:
    """Rejects unauthenticated (401) and read-only writing (403) requests with a JSON body."""

    def __init__(self, app: ASGIApp, auth: Auth) -> None:
        self.app = app
        self.auth = auth

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in PUBLIC_PATHS:
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        header = headers.get(b"authorization")
        role = self.auth.role(header.decode("latin-1") if header is not None else None)
        if role is None:
            await _reject(send, 401, "Missing or wrong credentials (HTTP basic auth is required)")
        elif not allowed(role, scope["method"], scope["path"]):
            await _reject(send, 403, "The read-only user may not change anything")
        else:
            await self.app(scope, receive, send)


async def _reject(send: Send, status: int, message: str) -> None:
    body = json.dumps({"errors": {"authorization": [message]}}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if status == 401:
        headers.append((b"www-authenticate", b'Basic realm="Restricted area"'))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
