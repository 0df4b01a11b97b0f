"""The rules of the user API, framework-free: what a user looks like, what a valid new user is,
the error wording, and the guard of the provider-state endpoint.

The rules raise the domain errors below; the adapters (`providers/<framework>.py`) map them to
HTTP answers with their framework's own exception handlers. The models are pydantic, which is no
web framework: FastAPI validates with them natively and Flask calls them.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import logging
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Annotated, Any, Final

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    ValidationError,
)
from pydantic_core import PydanticCustomError

from states import (
    PROVIDER_STATES,
    InjectedValues,
    NewUser,
    StateChangeError,
    StateFunctionFailed,
    StateHandler,
    StateStore,
    UserRepository,
)
from states.registry import quote

logger = logging.getLogger(__name__)

USERS_PATH: Final = "/users/"
USER_PATH: Final = "/users/{user_id}"
# Mounted only when an app factory is asked for it (`provider_states=True`).
STATE_PATH: Final = "/_pact/provider_states"
# The header that carries the shared secret, when the state endpoint has one. The verifier sends
# it with `Verifier.add_custom_header(STATE_SECRET_HEADER, secret)`.
STATE_SECRET_HEADER: Final = "X-Pact-State-Secret"
MAX_BODY_BYTES: Final = 64 * 1024
JSON_CONTENT_TYPE: Final = "application/json"

USER_NOT_FOUND: Final = "User not found"
BAD_USER_ID: Final = "User id must be a positive integer"
NOT_JSON: Final = "Request body is not valid JSON"
NOT_AN_OBJECT: Final = "Request body must be a JSON object"
# The details of the errors a framework raises itself (routing, the size limit), spelled out:
# each framework words them its own way, and http.HTTPStatus(413).phrase changed in Python 3.13.
STATUS_DETAILS: Final = {
    404: "Not Found",
    405: "Method Not Allowed",
    413: f"Request body is larger than {MAX_BODY_BYTES} bytes",
    415: f"Content-Type must be {JSON_CONTENT_TYPE}",
    500: "Internal Server Error",
}


def allow_header(methods: Iterable[str]) -> str:
    """`Allow` for a path: every method routed for it, and OPTIONS, in one order."""
    return ", ".join(sorted({*methods, "OPTIONS"}))


class ErrorOut(BaseModel):
    detail: str  # every error's body


class InvalidInput(ValueError):
    """A malformed request (400); the message says what is wrong."""


class UserNotFound(LookupError):
    """No user has that id (404)."""

    def __init__(self) -> None:
        super().__init__(USER_NOT_FOUND)


class StateChangeRefused(PermissionError):
    """A client that may not change provider states (403)."""


# Each domain error's status, for the adapters' exception handlers (the most specific class wins).
ERROR_STATUS: Final[dict[type[Exception], int]] = {
    InvalidInput: 400,
    StateChangeError: 400,  # a malformed state change, an unknown state, bad params
    StateChangeRefused: 403,
    UserNotFound: 404,
    StateFunctionFailed: 409,  # the state's own setup or teardown raised
}


# -- Users ------------------------------------------------------------------------------------


def refuse_constant(name: str) -> object:
    """For `json.loads(..., parse_constant=...)`: NaN and Infinity are not JSON (RFC 8259)."""
    raise ValueError(f"{name} is not JSON")


def _digits(value: object) -> object:
    # Only ASCII digits: pydantic would also read "+5", " 5", "1_0" and "1.0" as numbers.
    if isinstance(value, str) and not (value.isascii() and value.isdigit()):
        raise PydanticCustomError("user_id", BAD_USER_ID)
    return value


def _unicode(text: str) -> str:
    # JSON can escape lone surrogates; no client could read them back.
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise PydanticCustomError("unicode", "must be valid Unicode text") from None
    return text


def _not_blank(text: str) -> str:
    if not text.strip():
        raise PydanticCustomError("blank", "must not be blank")
    return text


# A path id: decimal digits (leading zeros allowed) for a number from 1 up. Past the last id a
# store holds it is well-formed, and names no user.
UserId = Annotated[int, BeforeValidator(_digits), Field(gt=0)]
Text = Annotated[str, AfterValidator(_unicode)]
# ISO 8601 with its UTC offset, to the second (pydantic would write `Z` and microseconds).
Timestamp = Annotated[
    datetime, PlainSerializer(lambda when: when.isoformat(timespec="seconds"), return_type=str)
]


class UserIn(BaseModel):
    """A create request: only these fields, each of exactly its JSON type."""

    model_config = ConfigDict(extra="forbid", strict=True)

    name: Annotated[Text, AfterValidator(_not_blank)]
    email: Text | None = None
    ip_address: Text | None = None
    hobbies: list[Text] = []
    admin: bool = False

    def to_new_user(self) -> NewUser:
        return NewUser(
            created_on=datetime.now(UTC).replace(microsecond=0),
            **self.model_dump(exclude={"hobbies"}),
            hobbies=tuple(self.hobbies),
        )


class UserOut(BaseModel):
    """A stored user, as every answer shows it."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    created_on: Timestamp
    email: str | None
    ip_address: str | None
    hobbies: list[str]
    admin: bool


# What a field must be, in the words of its error detail.
_FIELD_RULES: Final = {
    "name": "must be a non-empty string",
    "email": "must be a string or null",
    "ip_address": "must be a string or null",
    "hobbies": "must be a list of strings",
    "admin": "must be true or false",
}


def invalid_body(errors: Iterable[Mapping[str, Any]]) -> InvalidInput:
    """The one error to report for a body that did not validate as `UserIn`, from pydantic's
    error list (`loc` starts at the body): an unknown field first, then the first field."""
    errors = list(errors)
    unknown = sorted(str(error["loc"][0]) for error in errors if error["type"] == "extra_forbidden")
    if unknown:
        allowed = ", ".join(sorted(_FIELD_RULES))
        return InvalidInput(f"Unknown field {quote(unknown[0])}; allowed fields: {allowed}")
    first = errors[0]
    if first["type"] == "json_invalid" or (not first["loc"] and first["type"] == "missing"):
        return InvalidInput(NOT_JSON)  # or an empty body
    if not first["loc"]:
        return InvalidInput(NOT_AN_OBJECT)
    field = str(first["loc"][0])
    if first["type"] == "missing":
        return InvalidInput(f'Field "{field}" is required')
    rule = first["msg"] if first["type"] == "unicode" else _FIELD_RULES[field]
    return InvalidInput(f'Field "{field}" {rule}')


def new_user(document: object) -> NewUser:
    """The user a parsed JSON body asks to create (Flask's way in; FastAPI validates `UserIn`)."""
    try:
        return UserIn.model_validate(document).to_new_user()
    except ValidationError as invalid:
        raise invalid_body(invalid.errors()) from None


def get_user(store: UserRepository, user_id: int) -> UserOut:
    user = store.get(user_id)
    if user is None:
        raise UserNotFound
    return UserOut.model_validate(user)


def create_user(store: UserRepository, new: NewUser) -> UserOut:
    return UserOut.model_validate(store.add(new))


def delete_user(store: UserRepository, user_id: int) -> None:
    if not store.delete(user_id):
        raise UserNotFound


# -- The provider-state endpoint --------------------------------------------------------------


class ProviderStateEndpoint:
    """`POST STATE_PATH`: who may change provider states, and how a change is applied."""

    def __init__(self, store: StateStore, secret: str | None) -> None:
        self.handler = StateHandler(store, PROVIDER_STATES)
        self.secret = secret

    @classmethod
    def create(
        cls, store: UserRepository, enabled: bool, secret: str | None
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
        return cls(store, secret)

    def check_client(self, *, client_host: str | None, presented_secret: str | None) -> None:
        """Refuse (StateChangeRefused) unless the request comes from loopback and carries the
        secret, if one is set. Checked before the body is read: a refused request changes
        nothing."""
        if not is_loopback(client_host):
            raise StateChangeRefused("Provider states can only be changed from a loopback address")
        if self.secret is not None and not (
            presented_secret is not None
            and hmac.compare_digest(presented_secret.encode(), self.secret.encode())
        ):
            raise StateChangeRefused(f"Provider states need the right {STATE_SECRET_HEADER} header")

    def change(self, *, body: bytes, query: Iterable[tuple[str, str]]) -> InjectedValues:
        """Apply one state change as the verifier sends it, or raise StateChangeError: never a
        5xx, which the verifier would retry for about two minutes."""
        try:
            injected = self.handler.handle(body=body, query=query)
            json.dumps(injected, allow_nan=False)  # the answer's body: it must be JSON
        except StateChangeError as refused:
            # The verifier reports only "a state change handler has failed": the log (which a
            # failed cell shows) is where the state and its error are named.
            logger.warning("provider state change refused: %s", refused)
            raise
        except (TypeError, ValueError):
            raise StateFunctionFailed(
                "The state's setup returned values that are not JSON"
            ) from None
        return injected


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
