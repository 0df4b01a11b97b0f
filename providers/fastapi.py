"""The user API on FastAPI, laid out as its "Bigger Applications" tutorial: an `APIRouter`,
`Annotated` dependencies, a lifespan, request and response models, exception handlers; the
rules are in `providers.api`. The production app, `providers.fastapi:app`, has its OpenAPI
document and `/docs` (served offline) and never the provider-state endpoint.

No `from __future__ import annotations`: FastAPI reads these annotations at run time.
"""

from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from typing import Annotated, Any, Final

from fastapi import APIRouter, Depends, FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from fastapi_offline import FastAPIOffline
from starlette.exceptions import HTTPException
from starlette.routing import Match

from providers import api
from states import InMemoryUserRepository, UserRepository

ASSETS_PATH: Final = "/docs/assets"  # Swagger UI's and ReDoc's files, served offline


async def get_store(request: Request) -> UserRepository:
    store: UserRepository = request.state.store
    return store


class LimitedBodyRequest(Request):
    """A body over the limit is a 413 when it is read. Not FastAPI's `max_body_size`: over a
    declared Content-Length, that answers in plain text, even a GET that reads no body."""

    async def body(self) -> bytes:
        if not hasattr(self, "limited_body"):
            declared = self.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > api.MAX_BODY_BYTES:
                raise HTTPException(413)
            self.limited_body = b""
            async for chunk in self.stream():
                self.limited_body += chunk
                if len(self.limited_body) > api.MAX_BODY_BYTES:
                    raise HTTPException(413)
        return self.limited_body


class LimitedBodyRoute(APIRoute):
    """FastAPI's documented way to give the endpoints a custom `Request` class."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def limited_body_handler(request: Request) -> Response:
            return await handler(LimitedBodyRequest(request.scope, request.receive))

        return limited_body_handler


async def require_json(request: Request) -> None:
    """415 unless the body is declared JSON (FastAPI would read any body as JSON)."""
    api.require_json(request.headers.get("content-type"))


Store = Annotated[UserRepository, Depends(get_store)]
ERROR: Final[dict[str, Any]] = {"model": api.ErrorOut}
# Every 4xx has a `detail` body, and none is FastAPI's 422 (which "4XX" keeps out of the schema).
router = APIRouter(
    route_class=LimitedBodyRoute, responses={"4XX": {**ERROR, "description": "Error"}}
)


@router.get(api.USER_PATH, responses={400: ERROR, 404: ERROR})
@router.head(api.USER_PATH, include_in_schema=False)  # HEAD answers like GET (RFC 9110)
async def read_user(user_id: api.UserId, store: Store) -> api.UserOut:
    return api.get_user(store, user_id)


@router.delete(
    api.USER_PATH, status_code=204, response_class=Response, responses={400: ERROR, 404: ERROR}
)
async def delete_user(user_id: api.UserId, store: Store) -> None:
    api.delete_user(store, user_id)


@router.post(
    api.USERS_PATH,
    dependencies=[Depends(require_json)],
    responses=dict.fromkeys((400, 413, 415), ERROR),
)
async def create_user(user: api.UserIn, store: Store) -> api.UserOut:
    return api.create_user(store, user.to_new_user())


states_router = APIRouter(route_class=LimitedBodyRoute, include_in_schema=False)


@states_router.post(api.STATE_PATH)
async def change_provider_state(request: Request) -> Any:
    endpoint: api.ProviderStateEndpoint = request.state.state_endpoint
    endpoint.check_client(
        client_host=request.client.host if request.client else None,
        presented_secret=request.headers.get(api.STATE_SECRET_HEADER),
    )
    return endpoint.change(body=await request.body(), query=request.query_params.multi_items())


def create_app(
    store: UserRepository | None = None,
    *,
    provider_states: bool = False,
    state_secret: str | None = None,
) -> FastAPI:
    """The user API over `store` (a new empty one by default); with `provider_states=True`
    also `POST /_pact/provider_states`, for loopback clients that present `state_secret`."""
    store = store if store is not None else InMemoryUserRepository()
    state_endpoint = api.ProviderStateEndpoint.create(store, provider_states, state_secret)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, Any]]:
        yield {"store": store, "state_endpoint": state_endpoint}

    # Paths are exact: no slash redirects. The docs' files come with fastapi-offline, no CDN.
    app = FastAPIOffline(
        title="Users",
        version="1",
        lifespan=lifespan,
        redirect_slashes=False,
        static_url=ASSETS_PATH,
    )
    app.include_router(router)
    if state_endpoint is not None:
        app.include_router(states_router)
    for error in api.ERROR_STATUS:
        app.add_exception_handler(error, _domain_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _invalid_request)
    app.add_exception_handler(Exception, _http_error)  # a bug: a 500, in the one error shape
    return app


async def _domain_error(request: Request, error: Exception) -> Response:
    return JSONResponse({"detail": str(error)}, api.status_of(error))


async def _http_error(request: Request, error: Exception) -> Response:
    status = error.status_code if isinstance(error, HTTPException) else 500
    if status == 405:
        # Every method of the path (Starlette's Allow names the first matching route's only);
        # OPTIONS answers with them.
        allow = api.allow_header(
            method
            for route in [*router.routes, *states_router.routes]
            if isinstance(route, APIRoute) and route.matches(request.scope)[0] is not Match.NONE
            for method in route.methods or ()
        )
        if request.method == "OPTIONS":
            return Response(headers={"Allow": allow})
        return JSONResponse({"detail": api.STATUS_DETAILS[405]}, 405, headers={"Allow": allow})
    # FastAPI's own 400 is a body it could not parse (not UTF-8, nested too deep).
    detail = api.NOT_JSON if status == 400 else api.STATUS_DETAILS.get(status)
    return JSONResponse({"detail": detail}, status)


async def _invalid_request(request: Request, error: Exception) -> Response:
    # A 400 that says what is wrong, not FastAPI's 422 with pydantic's list.
    assert isinstance(error, RequestValidationError)
    if error.errors()[0]["loc"][0] == "path":
        return JSONResponse({"detail": api.BAD_USER_ID}, 400)
    invalid = api.invalid_body({**each, "loc": each["loc"][1:]} for each in error.errors())
    return JSONResponse({"detail": str(invalid)}, 400)


app = create_app()
