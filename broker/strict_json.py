"""JSON as RFC 8259 defines it, for everything the broker reads.

Python's parser also takes `NaN`, `Infinity` and numbers beyond a float's range (`1e999`),
which no JSON encoder can write back: a pact or body holding one was stored and then could
not be rendered, a 500 on the request and on every later read of it. Here they are not JSON.
"""

from __future__ import annotations

import json
import math
from typing import TYPE_CHECKING, Any

from fastapi import Request
from fastapi.routing import APIRoute

if TYPE_CHECKING:
    from collections.abc import Callable, Coroutine

    from starlette.responses import Response


def _not_json(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _finite(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise ValueError(f"{text} is out of range")
    return number


def loads(document: str | bytes) -> Any:
    """`json.loads`, refusing what is not JSON with `json.JSONDecodeError` (a `ValueError`)."""
    try:
        return json.loads(document, parse_constant=_not_json, parse_float=_finite)
    except json.JSONDecodeError:
        raise
    except ValueError as error:  # a refused number, or an int past Python's digit limit
        text = document.decode("utf-8", "replace") if isinstance(document, bytes) else document
        raise json.JSONDecodeError(str(error), text, 0) from None


class StrictJsonRequest(Request):
    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            self._json = loads(await self.body())
        return self._json


class StrictJsonRoute(APIRoute):
    """A route whose JSON body is read by `loads` (FastAPI answers its error as invalid JSON)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def strict_handler(request: Request) -> Response:
            return await handler(StrictJsonRequest(request.scope, request.receive))

        return strict_handler
