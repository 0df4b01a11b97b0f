"""The API documentation, served without a CDN: Swagger UI and ReDoc from fastapi-offline's
files, as FastAPI's "Custom Docs UI Static Assets (Self-Hosting)" shows."""

# No `from __future__ import annotations`: FastAPI reads these signatures at runtime.

import importlib.resources
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from starlette.responses import FileResponse, HTMLResponse

from broker.deps import UrlsDep
from broker.errors import NotFound

router = APIRouter(include_in_schema=False)

ASSETS = "/docs-static"
# Only these files are served: the path parameter never reaches the file system as given.
_FILES = ("swagger-ui-bundle.js", "swagger-ui.css", "redoc.standalone.js", "favicon.png")


def _assets() -> Path:
    return Path(str(importlib.resources.files("fastapi_offline") / "static"))


@router.get("/docs")
def swagger_ui(request: Request, urls: UrlsDep) -> HTMLResponse:
    return get_swagger_ui_html(
        openapi_url=f"{urls.base}{request.app.openapi_url}",
        title=f"{request.app.title} - Swagger UI",
        swagger_js_url=f"{urls.base}{ASSETS}/swagger-ui-bundle.js",
        swagger_css_url=f"{urls.base}{ASSETS}/swagger-ui.css",
        swagger_favicon_url=f"{urls.base}{ASSETS}/favicon.png",
    )


@router.get("/redoc")
def redoc(request: Request, urls: UrlsDep) -> HTMLResponse:
    return get_redoc_html(
        openapi_url=f"{urls.base}{request.app.openapi_url}",
        title=f"{request.app.title} - ReDoc",
        redoc_js_url=f"{urls.base}{ASSETS}/redoc.standalone.js",
        redoc_favicon_url=f"{urls.base}{ASSETS}/favicon.png",
        with_google_fonts=False,
    )


@router.get(ASSETS + "/{name}")
def asset(name: str) -> FileResponse:
    if name not in _FILES:
        raise NotFound(f"The documentation asset {name}")
    return FileResponse(_assets() / name)
