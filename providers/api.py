"""Every rule of the user API, written once for all framework adapters.

The adapters (`providers/flask.py`, `providers/fastapi.py`) route requests here and turn the
`ApiResponse` they get back into their framework's response; nothing else. Ids, validation,
error bodies, JSON, the size limit, 404/405/OPTIONS answers and the provider-state endpoint's
guard all live in this module, so the two frameworks cannot drift apart. See README.md beside
this file for the choices made where Flask and FastAPI differ by default.

No web framework is imported here.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Final

from states import (
    MAX_USER_ID,
    PROVIDER_STATES,
    NewUser,
    StateChangeError,
    StateFunctionFailed,
    StateHandler,
    StateStore,
)
from states.registry import quote

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from states import User, UserRepository

logger = logging.getLogger(__name__)

# Paths, in the `{name}` template syntax (the Flask adapter converts it to `<name>`).
USERS_PATH: Final = "/users/"
USER_PATH: Final = "/users/{user_id}"
# Mounted only when an app factory is asked for it (`provider_states=True`).
STATE_PATH: Final = "/_pact/provider_states"
# The header that carries the shared secret, when the state endpoint has one. The verifier sends
# it with `Verifier.add_custom_header(STATE_SECRET_HEADER, secret)`.
STATE_SECRET_HEADER: Final = "X-Pact-State-Secret"

# Request bodies above this are refused with 413 before they are parsed.
MAX_BODY_BYTES: Final = 64 * 1024
JSON_CONTENT_TYPE: Final = "application/json"

# The fields a create request may hold; `name` is the one that is required.
CREATE_FIELDS: Final = ("name", "email", "ip_address", "hobbies", "admin")

# Error details for answers that come from routing rather than from an operation. Spelled out,
# not taken from http.HTTPStatus: its 413 phrase changed in Python 3.13.
ROUTE_NOT_FOUND: Final = "Not Found"
USER_NOT_FOUND: Final = "User not found"
_STATUS_DETAILS: Final = {
    400: "Bad Request",
    403: "Forbidden",
    404: ROUTE_NOT_FOUND,
    405: "Method Not Allowed",
    413: f"Request body is larger than {MAX_BODY_BYTES} bytes",
    415: f"Content-Type must be {JSON_CONTENT_TYPE}",
    500: "Internal Server Error",
}


@dataclass(frozen=True, slots=True)
class ApiResponse:
    """What to answer, independent of any framework."""

    status: int
    body: bytes = b""
    # Includes Content-Type exactly when there is a body.
    headers: tuple[tuple[str, str], ...] = ()

    @property
    def content_type(self) -> str | None:
        return next((value for name, value in self.headers if name == "Content-Type"), None)


def json_response(
    status: int, payload: object, headers: tuple[tuple[str, str], ...] = ()
) -> ApiResponse:
    """Compact UTF-8 JSON, rendered here so both frameworks send the same bytes."""
    body = json.dumps(payload, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    return ApiResponse(status, body.encode(), (("Content-Type", JSON_CONTENT_TYPE), *headers))


def error(status: int, detail: str, headers: tuple[tuple[str, str], ...] = ()) -> ApiResponse:
    return json_response(status, {"detail": detail}, headers)


def http_error(status: int) -> ApiResponse:
    """The answer for an HTTP error a framework raised on its own (routing, size limit)."""
    return error(status, _STATUS_DETAILS.get(status, "Request failed"))


def route_not_found() -> ApiResponse:
    return http_error(404)


def too_large() -> ApiResponse:
    return http_error(413)


def internal_error() -> ApiResponse:
    """The answer for an exception no rule expected: never a stack trace."""
    return http_error(500)


def method_not_allowed(method: str, allowed: Iterable[str]) -> ApiResponse:
    """The answer for a method the path does not route: 405, or 204 for OPTIONS.

    `allowed` is what the framework routed for the path; HEAD comes with GET and OPTIONS with
    every path, whatever the framework's defaults.
    """
    methods = {name.upper() for name in allowed} | {"OPTIONS"}
    if "GET" in methods:
        methods.add("HEAD")
    allow = (("Allow", ", ".join(sorted(methods))),)
    # Methods are case-sensitive (RFC 9110, 9.1): `options` is not OPTIONS.
    if method == "OPTIONS":
        return ApiResponse(204, headers=allow)
    return error(405, _STATUS_DETAILS[405], allow)


def declared_too_large(content_length: str | None) -> bool:
    """Whether a request announces a body over the limit, so it can be refused unread."""
    return (
        content_length is not None
        and content_length.isdigit()
        and (int(content_length) > MAX_BODY_BYTES)
    )


# -- Users ------------------------------------------------------------------------------------


def user_json(user: User) -> dict[str, object]:
    return {
        "id": user.id,
        "name": user.name,
        # ISO 8601 with its UTC offset, to the second: one fixed format for every response.
        "created_on": user.created_on.isoformat(timespec="seconds"),
        "email": user.email,
        "ip_address": user.ip_address,
        "hobbies": list(user.hobbies),
        "admin": user.admin,
    }


def get_user(store: UserRepository, raw_id: str) -> ApiResponse:
    user_id = _user_id(raw_id)
    if isinstance(user_id, ApiResponse):
        return user_id
    user = store.get(user_id)
    if user is None:
        return error(404, USER_NOT_FOUND)
    return json_response(200, user_json(user))


def delete_user(store: UserRepository, raw_id: str) -> ApiResponse:
    user_id = _user_id(raw_id)
    if isinstance(user_id, ApiResponse):
        return user_id
    if not store.delete(user_id):
        return error(404, USER_NOT_FOUND)
    return ApiResponse(204)


def create_user(store: UserRepository, *, content_type: str | None, body: bytes) -> ApiResponse:
    """Create a user from a JSON object body; the size limit is checked before anything else."""
    if len(body) > MAX_BODY_BYTES:
        return too_large()
    if not _is_json(content_type):
        return http_error(415)
    try:
        document = json.loads(body.decode("utf-8"), parse_constant=_refuse_constant)
    except (ValueError, RecursionError):
        return error(400, "Request body is not valid JSON")
    if not isinstance(document, dict):
        return error(400, "Request body must be a JSON object")
    new_user = _new_user(document)
    if isinstance(new_user, ApiResponse):
        return new_user
    return json_response(200, user_json(store.add(new_user)))


def _user_id(raw: str) -> int | ApiResponse:
    """The id in a path: ASCII digits for a number from 1 up; a number past the last possible
    id is well-formed but names no user."""
    digits = raw.lstrip("0")
    if not (raw.isascii() and raw.isdigit()) or not digits:
        return error(400, "User id must be a positive integer")
    if len(digits) > len(str(MAX_USER_ID)) or int(digits) > MAX_USER_ID:
        return error(404, USER_NOT_FOUND)
    return int(digits)


def _is_json(content_type: str | None) -> bool:
    media_type = (content_type or "").split(";", 1)[0].strip().lower()
    return media_type == JSON_CONTENT_TYPE


def _refuse_constant(name: str) -> object:
    raise ValueError(f"{name} is not JSON")


def _new_user(document: Mapping[str, object]) -> NewUser | ApiResponse:
    unknown = sorted(set(document) - set(CREATE_FIELDS))
    if unknown:
        allowed = ", ".join(sorted(CREATE_FIELDS))
        return error(400, f"Unknown field {quote(unknown[0])}; allowed fields: {allowed}")
    if "name" not in document:
        return error(400, 'Field "name" is required')
    name = document["name"]
    if not isinstance(name, str) or not name.strip():
        return error(400, 'Field "name" must be a non-empty string')
    email = document.get("email")
    if email is not None and not isinstance(email, str):
        return error(400, 'Field "email" must be a string or null')
    ip_address = document.get("ip_address")
    if ip_address is not None and not isinstance(ip_address, str):
        return error(400, 'Field "ip_address" must be a string or null')
    hobbies = document.get("hobbies", [])
    if not isinstance(hobbies, list) or not all(isinstance(hobby, str) for hobby in hobbies):
        return error(400, 'Field "hobbies" must be a list of strings')
    admin = document.get("admin", False)
    if not isinstance(admin, bool):
        return error(400, 'Field "admin" must be true or false')
    texts = [("name", name), ("email", email or ""), ("ip_address", ip_address or "")]
    for field, text in [*texts, *(("hobbies", hobby) for hobby in hobbies)]:
        if not _is_unicode(text):
            # JSON can escape lone surrogates; no client could read them back.
            return error(400, f'Field "{field}" must be valid Unicode text')
    return NewUser(
        name=name,
        created_on=datetime.now(UTC).replace(microsecond=0),
        email=email,
        ip_address=ip_address,
        hobbies=tuple(hobbies),
        admin=admin,
    )


def _is_unicode(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


# -- The provider-state endpoint --------------------------------------------------------------


@dataclass(frozen=True)
class ProviderStateEndpoint:
    """`POST STATE_PATH`: who may change provider states, and how a change is answered."""

    handler: StateHandler
    secret: str | None = None

    @classmethod
    def create(
        cls, store: UserRepository, *, enabled: bool, secret: str | None
    ) -> ProviderStateEndpoint | None:
        """The endpoint an app factory should mount, or None; refuses a confusing setup."""
        if not enabled:
            if secret is not None:
                raise ValueError("state_secret is only used with provider_states=True")
            return None
        if not isinstance(store, StateStore):
            raise TypeError(f"provider states need a StateStore (put, reset...), not {store!r}")
        if secret == "":
            raise ValueError("state_secret must not be empty: pass None for no secret")
        return cls(StateHandler(store, PROVIDER_STATES), secret)

    def refuse(
        self, *, client_host: str | None, presented_secret: str | None
    ) -> ApiResponse | None:
        """403 unless the request comes from loopback and carries the secret (if one is set).

        Checked before the body is read: a refused request changes nothing.
        """
        if not is_loopback(client_host):
            return error(403, "Provider states can only be changed from a loopback address")
        if self.secret is not None and not (
            presented_secret is not None
            and hmac.compare_digest(presented_secret.encode(), self.secret.encode())
        ):
            return error(403, f"Provider states need the right {STATE_SECRET_HEADER} header")
        return None

    def change(self, *, body: bytes, query: Iterable[tuple[str, str]]) -> ApiResponse:
        """Apply one state change as the verifier sends it. Never a 5xx: the verifier would
        retry a 5xx for about two minutes."""
        if len(body) > MAX_BODY_BYTES:
            return too_large()
        try:
            injected = self.handler.handle(body=body, query=query)
        except StateFunctionFailed as failed:
            # The verifier reports only "a state change handler has failed": the log (which a
            # failed cell shows) is where the state and its error are named.
            logger.warning("provider state change failed (409): %s", failed)
            return error(409, str(failed))
        except StateChangeError as refused:
            logger.warning("provider state change refused (400): %s", refused)
            return error(400, str(refused))
        try:
            return json_response(200, injected)
        except (TypeError, ValueError):
            return error(409, "The state's setup returned values that are not JSON")


def is_loopback(host: str | None) -> bool:
    """Whether a client address is loopback (127.0.0.0/8, ::1, or ::ffff:127.x.y.z).

    The socket's peer address, never a forwarding header, decides: no proxy sits in front of a
    provider under verification.
    """
    try:
        address = ipaddress.ip_address(host or "")
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback
