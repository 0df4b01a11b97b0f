"""The user API on FastAPI: routing and (de)serialisation only; the rules are in `providers.api`.

The store reaches the endpoints by dependency injection, from the app's lifespan state. The
production app, `providers.fastapi:app` (what `uvicorn providers.fastapi:app` serves), never
has the provider-state endpoint.

No `from __future__ import annotations` here: FastAPI reads these annotations at run time, and
a `Request` annotation it cannot resolve silently becomes a query parameter (a 422 on every
call).
"""

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, TypedDict

from fastapi import Depends, FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException
from starlette.routing import Match

from providers import api
from states import InMemoryUserRepository, UserRepository

logger = logging.getLogger(__name__)


class _LifespanState(TypedDict):
    store: UserRepository
    state_endpoint: api.ProviderStateEndpoint | None


async def get_store(request: Request) -> UserRepository:
    # async: a plain `def` dependency would be run on a worker thread for nothing.
    store: UserRepository = request.state.store
    return store


async def get_state_endpoint(request: Request) -> api.ProviderStateEndpoint:
    endpoint: api.ProviderStateEndpoint = request.state.state_endpoint
    return endpoint


Store = Annotated[UserRepository, Depends(get_store)]
StateEndpoint = Annotated[api.ProviderStateEndpoint, Depends(get_state_endpoint)]


def create_app(
    store: UserRepository | None = None,
    *,
    provider_states: bool = False,
    state_secret: str | None = None,
) -> FastAPI:
    """The user API over `store` (a new empty one by default); with `provider_states=True`
    also `POST /_pact/provider_states`, for loopback clients that present `state_secret`."""
    user_store = store if store is not None else InMemoryUserRepository()
    state_endpoint = api.ProviderStateEndpoint.create(
        user_store, enabled=provider_states, secret=state_secret
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[_LifespanState]:
        yield {"store": user_store, "state_endpoint": state_endpoint}

    app = FastAPI(
        lifespan=lifespan,
        # No docs or schema routes and no slash redirects: both frameworks expose exactly the
        # API's paths, each answered the same way.
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
        redirect_slashes=False,
    )
    # The route table, in one place. Routes sit on the app itself (not an included APIRouter),
    # so `app.routes` lists them all.
    app.add_api_route(api.USER_PATH, read_user, methods=["GET", "HEAD"])
    app.add_api_route(api.USER_PATH, delete_user, methods=["DELETE"])
    app.add_api_route(api.USERS_PATH, create_user, methods=["POST"])
    if state_endpoint is not None:
        app.add_api_route(api.STATE_PATH, change_provider_state, methods=["POST"])
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(Exception, _unexpected_error)
    return app


async def read_user(user_id: str, store: Store) -> Response:
    return _respond(api.get_user(store, user_id))


async def delete_user(user_id: str, store: Store) -> Response:
    return _respond(api.delete_user(store, user_id))


async def create_user(request: Request, store: Store) -> Response:
    body = await _read_body(request)
    if body is None:
        return _respond(api.too_large())
    content_type = request.headers.get("content-type")
    return _respond(api.create_user(store, content_type=content_type, body=body))


async def change_provider_state(request: Request, endpoint: StateEndpoint) -> Response:
    refusal = endpoint.refuse(
        client_host=request.client.host if request.client else None,
        presented_secret=request.headers.get(api.STATE_SECRET_HEADER),
    )
    if refusal is not None:
        return _respond(refusal)
    body = await _read_body(request)
    if body is None:
        return _respond(api.too_large())
    return _respond(endpoint.change(body=body, query=request.query_params.multi_items()))


async def _read_body(request: Request) -> bytes | None:
    """The body, or None when it is over the limit."""
    if api.declared_too_large(request.headers.get("content-length")):
        return None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > api.MAX_BODY_BYTES:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


async def _http_error(request: Request, error: Exception) -> Response:
    status = error.status_code if isinstance(error, HTTPException) else 500
    if status == 405:
        return _respond(api.method_not_allowed(request.method, _routed_methods(request)))
    return _respond(api.http_error(status))


def _routed_methods(request: Request) -> set[str]:
    """Every method routed for the request's path. Starlette's own 405 names only the methods
    of the first route that matched the path."""
    methods: set[str] = set()
    for route in request.app.routes:
        if isinstance(route, APIRoute) and route.matches(request.scope)[0] is not Match.NONE:
            methods |= route.methods or set()
    return methods


async def _validation_error(request: Request, error: Exception) -> Response:
    # Endpoints take the raw path text and body, so FastAPI has nothing to validate; should it
    # ever, the answer is the API's 400, not FastAPI's 422.
    return _respond(api.http_error(400))


async def _unexpected_error(request: Request, error: Exception) -> Response:
    logger.error("unexpected error", exc_info=error)
    return _respond(api.internal_error())


def _respond(answer: api.ApiResponse) -> Response:
    return Response(answer.body, status_code=answer.status, headers=dict(answer.headers))


app = create_app()
