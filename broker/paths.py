"""Path parameters that may contain `/` (branch `feat/x`) or `%`, percent-encoded by clients.

Starlette routes on the decoded path, where `feat%2Fx` has become two segments. The middleware
re-derives the path from the raw one, decoding each segment but keeping `/` and `%` escaped
inside it; the `seg` convertor, used by every route parameter, unescapes them again.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import unquote

from starlette.convertors import Convertor, register_url_convertor

from broker.middleware import json_error

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Receive, Scope, Send


def _escape(segment: str) -> str:
    return segment.replace("%", "%25").replace("/", "%2F")


class SegmentConvertor(Convertor[str]):
    regex = "[^/]+"

    def convert(self, value: str) -> str:
        return value.replace("%2F", "/").replace("%25", "%")

    def to_string(self, value: str) -> str:
        return _escape(value)


register_url_convertor("seg", SegmentConvertor())


class EncodedSlashMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        raw_path = scope.get("raw_path")
        if scope["type"] == "http" and raw_path:
            try:
                raw = raw_path.decode("ascii")
            except UnicodeDecodeError:
                raw = None
            if raw is not None:
                try:
                    segments = [
                        _escape(unquote(segment, errors="strict")) for segment in raw.split("/")
                    ]
                except UnicodeDecodeError:
                    # Not text: refused, rather than stored under U+FFFD for what was sent.
                    message = "a path segment is not UTF-8 text once percent-decoded"
                    await json_error(send, 400, {"path": [message]})
                    return
                scope = {**scope, "path": "/".join(segments)}
        await self.app(scope, receive, send)
