"""The user API on Django: a URLconf, class-based views and `JsonResponse`, as Django's tutorial
and its "URL dispatcher" and "Class-based views" topics write them, with one settings module,
`providers.django_settings`; the rules are in `providers.api`. The production app,
`providers.django:app`, is a WSGI application without the provider-state endpoint.

Django's settings are process-global, so an app's own store and state endpoint travel in the
WSGI environ (PEP 3333's place for server and middleware extensions): `create_app` wraps
Django's WSGI handler, and the views read them from `request.META`.
"""

from __future__ import annotations

import io
import os
from typing import TYPE_CHECKING, Any, Final

from django.core.exceptions import RequestDataTooBig
from django.core.wsgi import get_wsgi_application
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.urls import path
from django.views import View

from providers import api
from states import InMemoryUserRepository

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from _typeshed.wsgi import StartResponse, WSGIEnvironment

    from states import UserRepository

STORE: Final = "pact_matrix.store"
STATE_ENDPOINT: Final = "pact_matrix.state_endpoint"

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "providers.django_settings")
handler = get_wsgi_application()  # Django's documented WSGI entry point; sets Django up


def error(status: int, detail: str, **kwargs: Any) -> JsonResponse:
    return JsonResponse({"detail": detail}, status=status, **kwargs)


class ApiView(View):
    """A class-based view whose errors are JSON: the API's domain errors, 405 with `Allow`."""

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().dispatch(request, *args, **kwargs)
        except RequestDataTooBig:  # Django's own answer would be a 400
            return error(413, api.STATUS_DETAILS[413])
        except tuple(api.ERROR_STATUS) as failure:
            return error(api.status_of(failure), str(failure))

    def http_method_not_allowed(self, request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        allow = api.allow_header(m.upper() for m in self.http_method_names if hasattr(self, m))
        return error(405, api.STATUS_DETAILS[405], headers={"Allow": allow})

    @property
    def store(self) -> UserRepository:
        store: UserRepository = self.request.META[STORE]
        return store


class UserView(ApiView):
    # `<str:user_id>`, read by the view: a malformed id is a 400 after the method's 405 (a path
    # converter would refuse it first, as a 404).
    def get(self, request: HttpRequest, user_id: str) -> HttpResponse:
        user = api.get_user(self.store, api.parse_user_id(user_id))
        return JsonResponse(user.model_dump(mode="json"))

    def delete(self, request: HttpRequest, user_id: str) -> HttpResponse:
        api.delete_user(self.store, api.parse_user_id(user_id))
        return HttpResponse(status=204)


class UsersView(ApiView):
    def post(self, request: HttpRequest) -> HttpResponse:
        new_user = api.new_user(request.body, request.content_type)
        return JsonResponse(api.create_user(self.store, new_user).model_dump(mode="json"))


class ProviderStateView(ApiView):
    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        if request.META[STATE_ENDPOINT] is None:  # an app without provider states
            raise Http404
        return super().dispatch(request, *args, **kwargs)

    def post(self, request: HttpRequest) -> HttpResponse:
        endpoint: api.ProviderStateEndpoint = request.META[STATE_ENDPOINT]
        endpoint.check_client(
            client_host=request.META.get("REMOTE_ADDR"),
            presented_secret=request.headers.get(api.STATE_SECRET_HEADER),
        )
        query = [(name, value) for name, values in request.GET.lists() for value in values]
        return JsonResponse(dict(endpoint.change(body=request.body, query=query)))


# ROOT_URLCONF, with its error views: every answer is JSON (DEBUG is off).
urlpatterns = [
    path("users/", UsersView.as_view()),
    path("users/<str:user_id>", UserView.as_view()),
    path(api.STATE_PATH.removeprefix("/"), ProviderStateView.as_view()),
]


def handler400(request: HttpRequest, exception: Exception) -> HttpResponse:
    return error(400, str(exception))


def handler404(request: HttpRequest, exception: Exception) -> HttpResponse:
    return error(404, api.STATUS_DETAILS[404])


def handler500(request: HttpRequest) -> HttpResponse:
    return error(500, api.STATUS_DETAILS[500])


def create_app(
    store: UserRepository | None = None,
    *,
    provider_states: bool = False,
    state_secret: str | None = None,
) -> Callable[[WSGIEnvironment, StartResponse], Iterable[bytes]]:
    """The user API over `store` (a new empty one by default); with `provider_states=True`
    also `POST /_pact/provider_states`, for loopback clients that present `state_secret`."""
    store = store if store is not None else InMemoryUserRepository()
    endpoint = api.ProviderStateEndpoint.create(store, provider_states, state_secret)

    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        environ[STORE], environ[STATE_ENDPOINT] = store, endpoint
        length = environ.get("CONTENT_LENGTH") or ""
        if not (length.isascii() and length.isdigit()):
            # Django reads a body by its Content-Length alone: a chunked body (which the server
            # has dechunked) would read as empty, and a malformed length would be a 500. Read a
            # chunked body, a byte past the limit at most (a 413 then, like any body over it),
            # and declare its length; a malformed length is no body, as Werkzeug reads it.
            chunked = environ.get("wsgi.input_terminated")
            body = environ["wsgi.input"].read(api.MAX_BODY_BYTES + 1) if chunked else b""
            environ["wsgi.input"], environ["CONTENT_LENGTH"] = io.BytesIO(body), str(len(body))
        return handler(environ, start_response)

    return app


app = create_app()
