"""The user API on Flask, laid out as the tutorial's `flaskr` is; the rules are in
`providers.api`. The production app, `providers.flask:app` (`flask --app providers.flask run`),
never has the provider-state endpoint.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from flask import Blueprint, Flask, abort, current_app, request
from flask import Request as FlaskRequest
from flask import Response as FlaskResponse
from flask.json.provider import DefaultJSONProvider
from pydantic import TypeAdapter, ValidationError
from werkzeug.exceptions import BadRequest, HTTPException, MethodNotAllowed, RequestEntityTooLarge
from werkzeug.routing import BaseConverter, RequestRedirect

from providers import api
from states import InMemoryUserRepository

if TYPE_CHECKING:
    from states import UserRepository

bp = Blueprint("users", __name__)
states_bp = Blueprint("provider_states", __name__)


class UserIdConverter(BaseConverter):
    """`<int:user_id>` read as FastAPI reads `user_id: api.UserId`, and a malformed id is 400
    (Werkzeug's `int` would match no route, a 404, and read Arabic-Indic digits)."""

    _user_id: TypeAdapter[int] = TypeAdapter(api.UserId)

    def to_python(self, value: str) -> int:
        try:
            return self._user_id.validate_python(value)
        except ValidationError:
            raise BadRequest(api.BAD_USER_ID) from None


class Request(FlaskRequest):
    def get_data(self, *args: Any, **kwargs: Any) -> Any:
        data = super().get_data(*args, **kwargs)
        # Werkzeug cuts a chunked body silently at MAX_CONTENT_LENGTH, one byte past the limit.
        if len(data) > api.MAX_BODY_BYTES:
            raise RequestEntityTooLarge
        return data

    def on_json_loading_failed(self, e: ValueError | None) -> Any:
        if e is None:  # not declared JSON: Flask's 415, once the body is within the limit
            self.get_data()  # (as on FastAPI, which reads the body first)
            return super().on_json_loading_failed(e)
        raise api.InvalidInput(api.NOT_JSON) from e


class Response(FlaskResponse):
    # No Content-Type on an answer without a body (204), as on FastAPI.
    default_mimetype = None


class JSONProvider(DefaultJSONProvider):
    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        try:
            return super().loads(s, parse_constant=api.refuse_constant, **kwargs)
        except RecursionError as error:  # nested too deep: a 400, not a 500, as on FastAPI
            raise ValueError(api.NOT_JSON) from error


def create_app(
    store: UserRepository | None = None,
    *,
    provider_states: bool = False,
    state_secret: str | None = None,
) -> Flask:
    """The user API over `store` (a new empty one by default); with `provider_states=True`
    also `POST /_pact/provider_states`, for loopback clients that present `state_secret`."""
    store = store if store is not None else InMemoryUserRepository()
    state_endpoint = api.ProviderStateEndpoint.create(store, provider_states, state_secret)
    app = Flask(__name__, static_folder=None)
    app.request_class = Request
    app.response_class = Response
    app.json = JSONProvider(app)
    app.config.from_mapping(
        # One byte past the limit: a longer body is refused unread or by `Request.get_data`.
        MAX_CONTENT_LENGTH=api.MAX_BODY_BYTES + 1,
        # OPTIONS is answered by the 405 handler, as on FastAPI.
        PROVIDE_AUTOMATIC_OPTIONS=False,
    )
    app.url_map.converters["int"] = UserIdConverter
    # `/users//1` is not found, not redirected to `/users/1`.
    app.url_map.merge_slashes = False
    app.extensions["store"] = store
    app.register_blueprint(bp)
    if state_endpoint is not None:
        app.extensions["state_endpoint"] = state_endpoint
        app.register_blueprint(states_bp)
    app.before_request(_exact_paths_and_methods)
    for error, status in api.ERROR_STATUS.items():
        app.register_error_handler(error, _domain_error(status))
    app.register_error_handler(HTTPException, _http_error)
    return app


def get_store() -> UserRepository:
    return cast("UserRepository", current_app.extensions["store"])


@bp.get("/users/<int:user_id>")
def read_user(user_id: int) -> dict[str, Any]:
    return api.get_user(get_store(), user_id).model_dump(mode="json")


@bp.delete("/users/<int:user_id>")
def delete_user(user_id: int) -> tuple[str, int]:
    api.delete_user(get_store(), user_id)
    return "", 204


@bp.post("/users/")
def create_user() -> dict[str, Any]:
    new_user = api.new_user(request.get_json())
    return api.create_user(get_store(), new_user).model_dump(mode="json")


@states_bp.post(api.STATE_PATH)
def change_provider_state() -> dict[str, Any]:
    endpoint = cast("api.ProviderStateEndpoint", current_app.extensions["state_endpoint"])
    endpoint.check_client(
        client_host=request.remote_addr,
        presented_secret=request.headers.get(api.STATE_SECRET_HEADER),
    )
    return dict(endpoint.change(body=request.get_data(), query=request.args.items(multi=True)))


def _exact_paths_and_methods() -> None:
    """Paths and methods are exact, as on FastAPI."""
    # Werkzeug redirects `/users` to `/users/` (which Flask answers before any error handler)
    # and routes `//users/1` as `/users/1`.
    redirected = isinstance(request.routing_exception, RequestRedirect)
    if redirected or request.environ["PATH_INFO"].startswith("//"):
        abort(404)
    # Werkzeug upper-cases the method, but methods are case-sensitive: `get` is not GET.
    if request.environ["REQUEST_METHOD"] != request.method and request.routing_exception is None:
        raise MethodNotAllowed(
            current_app.url_map.bind_to_environ(request.environ).allowed_methods()
        )


def _domain_error(status: int) -> Any:
    def handler(error: Exception) -> tuple[dict[str, str], int]:
        return {"detail": str(error)}, status

    return handler


def _http_error(error: HTTPException) -> Any:
    code = error.code or 500
    if isinstance(error, MethodNotAllowed):
        allow = {"Allow": api.allow_header(error.valid_methods or ())}
        if request.environ["REQUEST_METHOD"] == "OPTIONS":
            return "", 204, allow
        return {"detail": api.STATUS_DETAILS[405]}, 405, allow
    # Werkzeug's own descriptions are sentences for a browser; 400s are the API's own.
    detail = error.description if code == 400 else api.STATUS_DETAILS.get(code, error.name)
    return {"detail": detail}, code


app = create_app()
