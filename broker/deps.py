"""FastAPI dependencies shared by the routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from broker.db import Database
from broker.hal import Urls


def get_database(request: Request) -> Database:
    database: Database = request.app.state.database
    return database


def get_urls(request: Request) -> Urls:
    """URLs against the address the client used, so links work behind any host name or port."""
    return Urls(str(request.base_url))


DatabaseDep = Annotated[Database, Depends(get_database)]
UrlsDep = Annotated[Urls, Depends(get_urls)]
