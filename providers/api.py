"""The rules of the user API, framework-free: the user models, what a valid new user and its
request body are, the error wording, the store behind its interface, and the guard of the
provider-state endpoint.

The rules raise domain errors and build no HTTP answer: each adapter (`providers/<name>.py`)
maps the errors with its framework's exception handlers. The models are pydantic (no web
framework): FastAPI validates with them natively, and Flask's and Django's views call them.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import logging
import re
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
    TypeAdapter,
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
from states.registry import shown

logger = logging.getLogger(__name__)

USERS_PATH: Final = "/users/"
USER_PATH: Final = "/users/{user_id}"
# Mounted only when an app factory is asked for it (`provider_states=True`).
STATE_PATH: Final = "/_pact/provider_states"
# Carries the state endpoint's secret, if it has one: `Verifier.add_custom_header(this, secret)`.
STATE_SECRET_HEADER: Final = "X-Pact-State-Secret"
MAX_BODY_BYTES: Final = 64 * 1024
JSON_CONTENT_TYPE: Final = "application/json"

USER_NOT_FOUND: Final = "User not found"
BAD_USER_ID: Final = "User id must be a positive integer"
NOT_JSON: Final = "Request body is not valid JSON"
# The details of the errors a framework raises itself, spelled out: each framework words them
# its own way, and http.HTTPStatus(413).phrase changed in Python 3.13.
STATUS_DETAILS: Final = {
    404: "Not Found",
    405: "Method Not Allowed",
    413: f"Request body is larger than {MAX_BODY_BYTES} bytes",
    500: "Internal Server Error",
}


class InvalidInput(ValueError):
    """A malformed request; the message says what is wrong."""


class BodyTooLarge(ValueError):
    def __init__(self) -> None:
        super().__init__(STATUS_DETAILS[413])


class NotJsonMediaType(ValueError):
    def __init__(self) -> None:
        super().__init__(f"Content-Type must be {JSON_CONTENT_TYPE}")


class UserNotFound(LookupError):
    def __init__(self) -> None:
        super().__init__(USER_NOT_FOUND)


class StateChangeRefused(PermissionError):
    """A client that may not change provider states."""


# Each domain error's status, for the adapters' exception handlers (the most specific class wins).
ERROR_STATUS: Final[dict[type[Exception], int]] = {
    InvalidInput: 400,
    StateChangeError: 400,  # a malformed state change, an unknown state, bad params
    StateChangeRefused: 403,
    UserNotFound: 404,
    StateFunctionFailed: 409,  # the state's own setup or teardown raised
    BodyTooLarge: 413,
    NotJsonMediaType: 415,
}


def status_of(error: Exception) -> int:
    """A domain error's status: its most specific class's, as exception handlers choose."""
    return next(ERROR_STATUS[cls] for cls in type(error).__mro__ if cls in ERROR_STATUS)


def allow_header(methods: Iterable[str]) -> str:
    """`Allow` for a path: every method routed for it, and OPTIONS, in one order."""
    return ", ".join(sorted({*methods, "OPTIONS"}))


def within_limit(body: bytes) -> bytes:
    """A body as read, at most a byte past the limit (where the frameworks' own limits stop
    reading a chunked body, silently): over the limit, a 413."""
    if len(body) > MAX_BODY_BYTES:
        raise BodyTooLarge
    return body


def require_json(content_type: str | None) -> None:
    """A body must be declared JSON: `application/json` or `application/*+json`, parameters and
    case aside (Flask's `Request.is_json` rule)."""
    media_type = (content_type or "").partition(";")[0].strip().lower()
    if not (media_type == JSON_CONTENT_TYPE or re.fullmatch(r"application/.*\+json", media_type)):
        raise NotJsonMediaType


def _digits(value: object) -> object:
    # ASCII digits only: pydantic would also read "+5", " 5", "1_0" and "1.0" as numbers.
    if isinstance(value, str) and not (value.isascii() and value.isdigit()):
        raise PydanticCustomError("user_id", BAD_USER_ID)
    return value


def _unicode(text: str) -> str:
    try:  # JSON can escape lone surrogates; no client could read them back
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise PydanticCustomError("unicode", "must be valid Unicode text") from None
    return text


# A path id: decimal digits for a number from 1 up (past any stored id, it names no user).
UserId = Annotated[int, BeforeValidator(_digits), Field(gt=0)]
Text = Annotated[str, AfterValidator(_unicode)]
# ISO 8601 with its UTC offset, to the second (pydantic would write `Z` and microseconds).
Timestamp = Annotated[datetime, PlainSerializer(lambda at: at.isoformat("T", "seconds"), str)]


class UserIn(BaseModel):
    """A create request: only these fields, each of exactly its JSON type."""

    model_config = ConfigDict(extra="forbid", strict=True)

    name: Annotated[Text, Field(pattern=r"\S")]
    email: Text | None = None
    ip_address: Text | None = None
    hobbies: list[Text] = []
    admin: bool = False

    def to_new_user(self) -> NewUser:
        created_on = datetime.now(UTC).replace(microsecond=0)
        return NewUser(created_on=created_on, **{**dict(self), "hobbies": tuple(self.hobbies)})


class UserOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    created_on: Timestamp
    email: str | None
    ip_address: str | None
    hobbies: list[str]
    admin: bool


class ErrorOut(BaseModel):
    detail: str  # every error's body


# What a field must be, in the words of its error detail.
_FIELD_RULES: Final = {
    "name": "must be a non-empty string",
    "email": "must be a string or null",
    "ip_address": "must be a string or null",
    "hobbies": "must be a list of strings",
    "admin": "must be true or false",
}


def invalid_body(errors: Iterable[Mapping[str, Any]]) -> InvalidInput:
    """The one error for a body that is not a `UserIn`, from pydantic's errors (each `loc`
    starting at the body): an unknown field first, else the first error."""
    errors = list(errors)
    unknown = sorted(str(error["loc"][0]) for error in errors if error["type"] == "extra_forbidden")
    if unknown:
        allowed = ", ".join(sorted(_FIELD_RULES))
        return InvalidInput(f"Unknown field {shown(unknown[0])}; allowed fields: {allowed}")
    kind, loc = errors[0]["type"], errors[0]["loc"]
    if kind == "json_invalid" or (not loc and kind == "missing"):  # or an empty body
        return InvalidInput(NOT_JSON)
    if not loc:
        return InvalidInput("Request body must be a JSON object")
    if kind == "missing":
        return InvalidInput(f'Field "{loc[0]}" is required')
    rule = "must be valid Unicode text" if "unicode" in kind else _FIELD_RULES[str(loc[0])]
    return InvalidInput(f'Field "{loc[0]}" {rule}')


_USER_ID: TypeAdapter[int] = TypeAdapter(UserId)


def parse_user_id(text: str) -> int:
    """A path id, for frameworks that route any segment to the view (a malformed id is then a
    400 from the view, after the method's 405): FastAPI validates `UserId` itself."""
    try:
        return _USER_ID.validate_python(text)
    except ValidationError:
        raise InvalidInput(BAD_USER_ID) from None


def new_user(body: bytes, content_type: str | None) -> NewUser:
    """The user a request body asks for, once its size is known to be within the limit (FastAPI
    parses and validates `UserIn` itself, with Python's parser too): a 413 before a 415."""
    within_limit(body)
    require_json(content_type)
    try:
        document = json.loads(body)
    except (ValueError, RecursionError):  # RecursionError: nested too deep for the parser
        raise InvalidInput(NOT_JSON) from None
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
        """Only from loopback, with the secret if one is set. Checked before the body is read:
        a refused request changes nothing."""
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
            injected = self.handler.handle(body=within_limit(body), query=query)
        except StateFunctionFailed as failed:
            # The verifier reports only "a state change handler has failed": the log (which a
            # failed cell shows) names the state and its error.
            logger.warning("provider state change failed (409): %s", failed)
            raise
        except StateChangeError as refused:
            logger.warning("provider state change refused (400): %s", refused)
            raise
        try:
            json.dumps(injected, allow_nan=False)  # the answer's body
        except (TypeError, ValueError):
            raise StateFunctionFailed(
                "The state's setup returned values that are not JSON"
            ) from None
        return injected


def is_loopback(host: str | None) -> bool:
    """Whether a client address is loopback (127.0.0.0/8, ::1, or ::ffff:127.x.y.z): the
    socket's peer, never a forwarding header (no proxy sits before a provider under test)."""
    try:
        address = ipaddress.ip_address(host or "")
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback
