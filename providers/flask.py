"""The user API on Flask: routing and (de)serialisation only; the rules are in `providers.api`.

An app factory in the manner of the Flask tutorial. The production app, `providers.flask:app`
(what `flask --app providers.flask run` serves), never has the provider-state endpoint.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, cast

from flask import Blueprint, Flask, Response, current_app, request
from werkzeug.exceptions import HTTPException, MethodNotAllowed
from werkzeug.routing import RequestRedirect

from providers import api
from states import InMemoryUserRepository

if TYPE_CHECKING:
    from states import UserRepository

_STORE = "pact_matrix.store"
_STATE_ENDPOINT = "pact_matrix.state_endpoint"

users_blueprint = Blueprint("users", __name__)
states_blueprint = Blueprint("provider_states", __name__)


def create_app(
    store: UserRepository | None = None,
    *,
    provider_states: bool = False,
    state_secret: str | None = None,
) -> Flask:
    """The user API over `store` (a new empty one by default); with `provider_states=True`
    also `POST /_pact/provider_states`, for loopback clients that present `state_secret`."""
    store = store if store is not None else InMemoryUserRepository()
    state_endpoint = api.ProviderStateEndpoint.create(
        store, enabled=provider_states, secret=state_secret
    )
    # No static route: both frameworks expose exactly the API's paths.
    app = Flask(__name__, static_folder=None)
    # OPTIONS is answered by the 405 handler below, the same way as on FastAPI.
    app.config["PROVIDE_AUTOMATIC_OPTIONS"] = False
    # `/users//1` is not found, not redirected to `/users/1`.
    app.url_map.merge_slashes = False
    app.extensions[_STORE] = store
    app.register_blueprint(users_blueprint)
    if state_endpoint is not None:
        app.extensions[_STATE_ENDPOINT] = state_endpoint
        app.register_blueprint(states_blueprint)
    app.before_request(_exact_paths_and_methods)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected_error)
    return app


def _store() -> UserRepository:
    return cast("UserRepository", current_app.extensions[_STORE])


def _rule(path: str) -> str:
    """`/users/{user_id}` -> `/users/<user_id>`."""
    return re.sub(r"\{(\w+)\}", r"<\1>", path)


@users_blueprint.get(_rule(api.USER_PATH))
def read_user(user_id: str) -> Response:
    return _respond(api.get_user(_store(), user_id))


@users_blueprint.delete(_rule(api.USER_PATH))
def delete_user(user_id: str) -> Response:
    return _respond(api.delete_user(_store(), user_id))


@users_blueprint.post(api.USERS_PATH)
def create_user() -> Response:
    body = _read_body()
    if body is None:
        return _respond(api.too_large())
    return _respond(api.create_user(_store(), content_type=request.content_type, body=body))


@states_blueprint.post(api.STATE_PATH)
def change_provider_state() -> Response:
    endpoint = cast("api.ProviderStateEndpoint", current_app.extensions[_STATE_ENDPOINT])
    refusal = endpoint.refuse(
        client_host=request.remote_addr,
        presented_secret=request.headers.get(api.STATE_SECRET_HEADER),
    )
    if refusal is not None:
        return _respond(refusal)
    body = _read_body()
    if body is None:
        return _respond(api.too_large())
    return _respond(endpoint.change(body=body, query=request.args.items(multi=True)))


def _read_body() -> bytes | None:
    """The body, or None when it is over the limit.

    Not MAX_CONTENT_LENGTH: for a chunked body, Werkzeug then returns the first
    MAX_CONTENT_LENGTH bytes as if they were all (or a 413 for a body of exactly that size).
    """
    if api.declared_too_large(request.headers.get("Content-Length")):
        return None
    body = bytearray()
    while chunk := request.stream.read(api.MAX_BODY_BYTES + 1 - len(body)):
        body += chunk
        if len(body) > api.MAX_BODY_BYTES:
            return None
    return bytes(body)


def _exact_paths_and_methods() -> Response | None:
    """Paths and methods are exact, as on FastAPI."""
    # Werkzeug's routing redirects `/users` to `/users/` (and Flask answers such a redirect
    # before any error handler sees it), and it routes `//users/1` as `/users/1`.
    redirected = isinstance(request.routing_exception, RequestRedirect)
    if redirected or request.environ.get("PATH_INFO", "").startswith("//"):
        return _respond(api.route_not_found())
    # Werkzeug upper-cases the method, but methods are case-sensitive: `get` is not GET.
    method = request.environ.get("REQUEST_METHOD", "")
    if method != request.method:
        allowed = current_app.url_map.bind_to_environ(request.environ).allowed_methods()
        if not allowed:
            return _respond(api.route_not_found())
        return _respond(api.method_not_allowed(method, allowed))
    return None


def _http_error(error: HTTPException) -> Response:
    if isinstance(error, MethodNotAllowed):
        return _respond(api.method_not_allowed(request.method, error.valid_methods or ()))
    return _respond(api.http_error(error.code or 500))


def _unexpected_error(error: Exception) -> Response:
    current_app.logger.exception("unexpected error", exc_info=error)
    return _respond(api.internal_error())


def _respond(answer: api.ApiResponse) -> Response:
    response = Response(answer.body, status=answer.status, headers=list(answer.headers))
    if answer.content_type is None:
        # Werkzeug gives every response a text/html type unless told otherwise.
        del response.headers["Content-Type"]
    return response


app = create_app()
