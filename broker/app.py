"""The ASGI application: routes, error handling, auth, body limit and the database's lifetime."""

from __future__ import annotations

import contextlib
import logging
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException

from broker.auth import Auth, BasicAuthMiddleware
from broker.db import Database
from broker.errors import BrokerError
from broker.middleware import DEFAULT_MAX_BODY_BYTES, BodySizeLimitMiddleware
from broker.openapi import openapi_builder
from broker.paths import EncodedSlashMiddleware
from broker.representations import JsonResponse
from broker.routes import badges, changes, index, pact_lists, pacticipants, pacts, ui
from broker.routes import webhooks as webhook_routes
from broker.webhooks import Dispatcher, Settings

if TYPE_CHECKING:
    from collections.abc import AsyncIterator
    from pathlib import Path

    from starlette.requests import Request
    from starlette.types import ASGIApp

logger = logging.getLogger("broker")


def create_app(
    database: Path, *, auth: Auth | None = None, max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
) -> ASGIApp:
    """The broker as an ASGI app over the SQLite file `database` (created and migrated on startup).

    The app opens its connections when the server starts it (lifespan) and closes them when
    the server stops. `auth=None` means no authentication, as the real broker's default.
    """

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.database = Database(database)
        app.state.webhooks = Dispatcher(app.state.database, Settings.from_env())
        app.state.webhooks.resume()
        try:
            yield
        finally:
            app.state.webhooks.close()  # before the database: deliveries record their outcome
            app.state.database.close()

    app = FastAPI(
        title="pact-matrix embedded Pact Broker",
        description="A Pact-Broker-compatible HAL+JSON API on SQLite.",
        lifespan=lifespan,
        # Served by broker.routes.ui from local files: the CDN default is blank offline.
        docs_url=None,
        redoc_url=None,
    )
    app.openapi = openapi_builder(app)  # type: ignore[method-assign]
    app.include_router(index.router)
    # Before `pacts`: its `verification-results/{id}` and `latest/{tag}` would take
    # `.../verification-results/latest` and `.../latest/badge`.
    app.include_router(changes.router)
    app.include_router(badges.router)
    app.include_router(pacts.router)
    app.include_router(pact_lists.router)
    app.include_router(pacticipants.router)
    app.include_router(webhook_routes.router)
    app.include_router(ui.router)
    app.add_exception_handler(BrokerError, _broker_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(UnicodeEncodeError, _unencodable_text)
    app.add_exception_handler(OverflowError, _number_out_of_range)
    # Handled by Starlette's outermost middleware: still JSON, and logged as the bug it is.
    app.add_exception_handler(Exception, _unexpected_error)
    wrapped: ASGIApp = BodySizeLimitMiddleware(EncodedSlashMiddleware(app), max_body_bytes)
    if auth is not None:
        wrapped = BasicAuthMiddleware(wrapped, auth)
    return wrapped


async def _broker_error(request: Request, error: Exception) -> JsonResponse:
    assert isinstance(error, BrokerError)
    return JsonResponse(error.body(), status_code=error.status)


def _location(location: tuple[Any, ...]) -> str:
    """A pydantic error location as the client would name the field (`contracts[0].content`)."""
    parts = [str(part) for part in location if part not in ("body", "query", "path")]
    name = ""
    for part in parts:
        name += f"[{part}]" if part.isdigit() else (f".{part}" if name else part)
    return name or "body"


async def _validation_error(request: Request, error: Exception) -> JsonResponse:
    assert isinstance(error, RequestValidationError)
    errors: dict[str, list[str]] = {}
    for detail in error.errors():
        message = str(detail.get("msg", "is invalid"))
        if detail.get("type") == "json_invalid":
            message = "The request body is not valid JSON"
        errors.setdefault(_location(tuple(detail.get("loc", ()))), []).append(message)
    return JsonResponse({"errors": errors}, status_code=400)


async def _http_error(request: Request, error: Exception) -> JsonResponse:
    assert isinstance(error, HTTPException)
    message = (
        "The requested document was not found on this server."
        if error.status_code == 404
        else str(error.detail)
    )
    return JsonResponse(
        {"errors": {"request": [message]}}, status_code=error.status_code, headers=error.headers
    )


async def _unencodable_text(request: Request, error: Exception) -> JsonResponse:
    # JSON can carry lone surrogates ("\\ud800"); they are not text and SQLite refuses them.
    # The write that met one was rolled back.
    message = "text must be valid Unicode (a lone surrogate such as \\ud800 is not)"
    return JsonResponse({"errors": {"body": [message]}}, status_code=400)


async def _number_out_of_range(request: Request, error: Exception) -> JsonResponse:
    message = "a number is out of range (at most 64-bit integers are stored)"
    return JsonResponse({"errors": {"request": [message]}}, status_code=400)


async def _unexpected_error(request: Request, error: Exception) -> JsonResponse:
    logger.error("unexpected error for %s %s", request.method, request.url.path, exc_info=error)
    body = {"errors": {"server": [f"An unexpected error occurred: {type(error).__name__}"]}}
    return JsonResponse(body, status_code=500)
