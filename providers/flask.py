"""The user API on Flask, laid out as the tutorial's `flaskr`: an application factory,
blueprints and error handlers; the rules are in `providers.api`. The production
app, `providers.flask:app` (`flask --app providers.flask run`), has no provider-state endpoint.
"""

from __future__ import annotations

from typing import Any, cast

from flask import Blueprint, Flask, abort, current_app, request
from werkzeug.exceptions import HTTPException, MethodNotAllowed
from werkzeug.routing import RequestRedirect

from providers import api
from states import InMemoryUserRepository, UserRepository

bp = Blueprint("users", __name__)
states_bp = Blueprint("provider_states", __name__)


def create_app(
    store: UserRepository | None = None,
    *,
    provider_states: bool = False,
    state_secret: str | None = None,
) -> Flask:
    """The user API over `store` (a new empty one by default); with `provider_states=True`
    also `POST /_pact/provider_states`, for loopback clients that present `state_secret`."""
    app = Flask(__name__, static_folder=None)
    # Werkzeug stops reading a chunked body here without an error: the byte past the limit
    # tells the views' `api` calls that it is over (a 413).
    app.config["MAX_CONTENT_LENGTH"] = api.MAX_BODY_BYTES + 1
    # `/users/%2F1` is the path `/users//1`: not found, never merged into `/users/1`.
    app.url_map.merge_slashes = False
    app.extensions["store"] = store if store is not None else InMemoryUserRepository()
    app.register_blueprint(bp)
    endpoint = api.ProviderStateEndpoint.create(get_store(app), provider_states, state_secret)
    if endpoint is not None:
        app.extensions["state_endpoint"] = endpoint
        app.register_blueprint(states_bp)
    app.before_request(_no_redirects)
    for error in api.ERROR_STATUS:
        app.register_error_handler(error, lambda e: ({"detail": str(e)}, api.status_of(e)))
    app.register_error_handler(HTTPException, _http_error)
    return app


def get_store(app: Flask | None = None) -> UserRepository:
    return cast("UserRepository", (app or current_app).extensions["store"])


# Any segment is routed, and read by `api.parse_user_id`: a malformed id is a 400 that says so,
# after the method's 405 (with `<int:user_id>` it would match no route: a 404).
@bp.get("/users/<user_id>")
def read_user(user_id: str) -> dict[str, Any]:
    return api.get_user(get_store(), api.parse_user_id(user_id)).model_dump(mode="json")


@bp.delete("/users/<user_id>")
def delete_user(user_id: str) -> tuple[str, int]:
    api.delete_user(get_store(), api.parse_user_id(user_id))
    return "", 204


@bp.post("/users/")
def create_user() -> dict[str, Any]:
    new_user = api.new_user(request.get_data(), request.content_type)
    return api.create_user(get_store(), new_user).model_dump(mode="json")


@states_bp.post(api.STATE_PATH)
def change_provider_state() -> dict[str, Any]:
    endpoint = cast("api.ProviderStateEndpoint", current_app.extensions["state_endpoint"])
    endpoint.check_client(
        client_host=request.remote_addr,
        presented_secret=request.headers.get(api.STATE_SECRET_HEADER),
    )
    return dict(endpoint.change(body=request.get_data(), query=request.args.items(multi=True)))


def _no_redirects() -> None:
    # Paths are exact: Werkzeug would redirect `/users` to `/users/` (which Flask answers
    # before any error handler could).
    if isinstance(request.routing_exception, RequestRedirect):
        abort(404)


def _http_error(error: HTTPException) -> Any:
    code = error.code or 500
    if isinstance(error, MethodNotAllowed):
        allow = api.allow_header(error.valid_methods or ())
        return {"detail": api.STATUS_DETAILS[405]}, 405, {"Allow": allow}
    # Werkzeug's descriptions are sentences for a browser; the API's 400s say what was wrong.
    detail = error.description if code == 400 else api.STATUS_DETAILS.get(code, error.name)
    return {"detail": detail}, code


app = create_app()
