"""The user API on Django: a URLconf with a registered path converter, class-based views and
`JsonResponse`, as Django's tutorial and its "URL dispatcher" and "Class-based views" topics
write them; the rules are in `providers.api`. The production app, `providers.django:app`, is a
WSGI application for any WSGI server, and never has the provider-state endpoint.

Django's settings are process-global: one module, `providers.django_settings`. Each
`create_app` answer is a WSGI handler of its own that puts itself in the WSGI environ;
`AppMiddleware` gives each request that app's URLconf (`request.urlconf`, Django's per-request
override of ROOT_URLCONF), so many independent apps live in one process. WSGI, not ASGI: the
views and the store are synchronous, and under Django's ASGI handler every request would hop to
a thread (`sync_to_async`) for nothing; WSGI is also what `startproject` deploys by default.
"""

from __future__ import annotations

import io
import json
import os
from typing import TYPE_CHECKING, Any, ClassVar, Final, NoReturn

import django
from django.core.exceptions import RequestDataTooBig
from django.core.handlers.wsgi import WSGIHandler
from django.http import HttpRequest, HttpResponse, HttpResponseBase, JsonResponse
from django.urls import path, register_converter
from django.views import View
from pydantic import TypeAdapter

from providers import api
from states import InMemoryUserRepository

if TYPE_CHECKING:
    from collections.abc import Callable

    from _typeshed.wsgi import StartResponse, WSGIEnvironment

    from states import UserRepository

# Where a request finds the app that serves it (PEP 3333: the environ carries extensions).
APP_KEY: Final = "pact_matrix.app"

# Standalone Django, the documented way: a settings module, then `django.setup()`. A host
# project that names its own settings keeps them (its MIDDLEWARE must list AppMiddleware).
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "providers.django_settings")
django.setup()


# -- Answers ----------------------------------------------------------------------------------


def json_response(data: dict[str, Any], status: int = 200, **kwargs: Any) -> JsonResponse:
    return JsonResponse(data, status=status, **kwargs)


def error_response(status: int, detail: str, **kwargs: Any) -> JsonResponse:
    return json_response({"detail": detail}, status, **kwargs)


def no_content(**kwargs: Any) -> HttpResponse:
    response = HttpResponse(status=204, **kwargs)
    del response["Content-Type"]  # Django gives every answer text/html; a 204 has no body
    return response


# The URLconf's error views (DEBUG is off, so Django calls them), JSON like every other answer.
def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    return error_response(400, str(exception))


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    return error_response(404, api.STATUS_DETAILS[404])


def server_error(request: HttpRequest) -> HttpResponse:
    return error_response(500, api.STATUS_DETAILS[500])


# -- Middleware -------------------------------------------------------------------------------


class AppMiddleware:
    """The app's URLconf for each request, its domain errors as JSON answers, and no body for
    HEAD (Django leaves that to the server, and Werkzeug's sends it)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        app: UsersApp = request.META[APP_KEY]
        # Django's per-request URLconf (a module, its name, or any object with `urlpatterns`),
        # which django-stubs does not declare.
        request.urlconf = app.urlconf  # type: ignore[attr-defined]
        response = self.get_response(request)
        if request.META["REQUEST_METHOD"] == "HEAD":  # as sent: `head` is a 405 with its body
            response.content = b""
        return response

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if isinstance(exception, RequestDataTooBig):  # Django's own answer would be a 400
            return error_response(413, api.STATUS_DETAILS[413])
        # The most specific class wins, as with Flask's and FastAPI's exception handlers.
        for cls in type(exception).__mro__:
            if cls in api.ERROR_STATUS:
                return error_response(api.ERROR_STATUS[cls], str(exception))
        return None  # a bug: Django logs it and answers with `server_error`


# -- Views ------------------------------------------------------------------------------------


class UserIdConverter:
    """`<user_id:...>`: a path id as FastAPI reads `user_id: api.UserId`. Any other segment
    matches no route here (Django's converter contract: a ValueError, which pydantic's
    ValidationError is) and falls through to `MalformedUserIdView`."""

    regex = "[0-9]+"
    _user_id: TypeAdapter[int] = TypeAdapter(api.UserId)

    def to_python(self, value: str) -> int:
        return self._user_id.validate_python(value)

    def to_url(self, value: int) -> str:
        return str(value)


register_converter(UserIdConverter, "user_id")


class ApiView(View):
    """Django's class-based view (HEAD from GET, 405 for other methods), answering as the other
    frameworks do: methods are case-sensitive, a 405 is JSON, OPTIONS is a 204, and `Allow`
    lists every method of the path, sorted."""

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        # Django upper-cases the method, but methods are case-sensitive (RFC 9110, 9.1).
        if request.META["REQUEST_METHOD"] != request.method:
            return self.http_method_not_allowed(request)
        return super().dispatch(request, *args, **kwargs)

    def allow(self) -> str:
        return api.allow_header(
            name.upper() for name in self.http_method_names if hasattr(self, name)
        )

    def http_method_not_allowed(
        self, request: HttpRequest, *args: Any, **kwargs: Any
    ) -> HttpResponse:
        return error_response(405, api.STATUS_DETAILS[405], headers={"Allow": self.allow()})

    def options(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        return no_content(headers={"Allow": self.allow()})

    def app(self) -> UsersApp:
        app: UsersApp = self.request.META[APP_KEY]
        return app


class UserView(ApiView):
    def get(self, request: HttpRequest, user_id: int) -> HttpResponse:
        return json_response(api.get_user(self.app().store, user_id).model_dump(mode="json"))

    def delete(self, request: HttpRequest, user_id: int) -> HttpResponse:
        api.delete_user(self.app().store, user_id)
        return no_content()


class MalformedUserIdView(ApiView):
    """`/users/<any other segment>`: a malformed id is a 400, but only after the method check
    (405, OPTIONS), as on Flask and FastAPI; a converter that raised would come before it."""

    def get(self, request: HttpRequest, user_id: str) -> NoReturn:
        raise api.InvalidInput(api.BAD_USER_ID)

    delete = get


class UsersView(ApiView):
    def post(self, request: HttpRequest) -> HttpResponse:
        # The body first (its size limit), then its type, as FastAPI judges them.
        body = request.body
        if not _is_json(request.content_type):
            return error_response(415, api.STATUS_DETAILS[415])
        try:
            document = json.loads(body, parse_constant=api.refuse_constant)
        except (ValueError, RecursionError):  # RecursionError: nested too deep
            raise api.InvalidInput(api.NOT_JSON) from None
        user = api.create_user(self.app().store, api.new_user(document))
        return json_response(user.model_dump(mode="json"))


class ProviderStateView(ApiView):
    def post(self, request: HttpRequest) -> HttpResponse:
        endpoint = self.app().state_endpoint
        assert endpoint is not None  # routed only in `WithProviderStates`
        endpoint.check_client(
            client_host=request.META.get("REMOTE_ADDR"),
            presented_secret=request.headers.get(api.STATE_SECRET_HEADER),
        )
        query = [(name, value) for name, values in request.GET.lists() for value in values]
        return json_response(dict(endpoint.change(body=request.body, query=query)))


def _is_json(content_type: str | None) -> bool:
    """`application/json` or `application/*+json` (Django has already lower-cased it)."""
    media_type = content_type or ""
    return media_type == api.JSON_CONTENT_TYPE or (
        media_type.startswith("application/") and media_type.endswith("+json")
    )


# -- URLconfs ---------------------------------------------------------------------------------

# This module is ROOT_URLCONF: the production user API.
urlpatterns = [
    path("users/", UsersView.as_view()),
    path("users/<user_id:user_id>", UserView.as_view()),
    path("users/<str:user_id>", MalformedUserIdView.as_view()),
]
handler400 = bad_request
handler404 = page_not_found
handler500 = server_error


class WithProviderStates:
    """The URLconf of an app asked for provider states (a URLconf is any object with
    `urlpatterns`): the user API and `POST /_pact/provider_states`."""

    urlpatterns: ClassVar = [
        *urlpatterns,
        path(api.STATE_PATH.removeprefix("/"), ProviderStateView.as_view()),
    ]
    handler400 = bad_request
    handler404 = page_not_found
    handler500 = server_error


# -- The app ----------------------------------------------------------------------------------


class UsersApp(WSGIHandler):
    """One app: Django's WSGI handler (middleware loaded from the settings), serving its store."""

    def __init__(
        self, store: UserRepository, state_endpoint: api.ProviderStateEndpoint | None
    ) -> None:
        super().__init__()
        self.store = store
        self.state_endpoint = state_endpoint
        self.urlconf: object = WithProviderStates if state_endpoint is not None else __name__

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> HttpResponseBase:
        environ[APP_KEY] = self
        _body_by_length(environ)
        return super().__call__(environ, start_response)


def _body_by_length(environ: WSGIEnvironment) -> None:
    """Django reads a body by its Content-Length alone: a chunked body (which the server
    dechunks and ends, `wsgi.input_terminated`) would read as empty, and a malformed length
    would raise ValueError in `request.body` (a 500). Read a chunked body, one byte past the
    limit at most, and declare its length, so that over the limit it is a 413 like any other;
    a malformed length is no body, as Werkzeug reads it for Flask."""
    length = environ.get("CONTENT_LENGTH") or ""
    if length.isascii() and length.isdigit():
        return
    chunked = environ.get("wsgi.input_terminated")
    body = environ["wsgi.input"].read(api.MAX_BODY_BYTES + 1) if chunked else b""
    environ["wsgi.input"] = io.BytesIO(body)
    environ["CONTENT_LENGTH"] = str(len(body))


def create_app(
    store: UserRepository | None = None,
    *,
    provider_states: bool = False,
    state_secret: str | None = None,
) -> UsersApp:
    """The user API over `store` (a new empty one by default); with `provider_states=True`
    also `POST /_pact/provider_states`, for loopback clients that present `state_secret`."""
    store = store if store is not None else InMemoryUserRepository()
    state_endpoint = api.ProviderStateEndpoint.create(store, provider_states, state_secret)
    return UsersApp(store, state_endpoint)


app = create_app()
