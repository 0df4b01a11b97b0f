"""The OpenAPI document, adjusted to what the broker really answers.

FastAPI documents request validation failures as 422; this broker answers them 400 with
`{"errors": ...}` like the real one. Every operation also documents its other 4xx answers, so
a schema-driven fuzzer (issue 6) can tell a documented refusal from a bug.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastapi.openapi.utils import get_openapi

if TYPE_CHECKING:
    from collections.abc import Callable

    from fastapi import FastAPI

ERRORS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["errors"],
    "properties": {
        "errors": {
            "type": "object",
            "additionalProperties": {"type": "array", "items": {"type": "string"}},
        },
        "notices": {"type": "array", "items": {"type": "object"}},
    },
}


def openapi_builder(app: FastAPI) -> Callable[[], dict[str, Any]]:
    def build() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = get_openapi(
            title=app.title, version=app.version, description=app.description, routes=app.routes
        )
        error = {
            "description": "The request was refused; `errors` says why, by field",
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Errors"}}},
        }
        for operations in schema.get("paths", {}).values():
            for operation in operations.values():
                responses = operation.setdefault("responses", {})
                responses.pop("422", None)
                responses["400"] = error
                responses["4XX"] = error
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        for unused in ("HTTPValidationError", "ValidationError"):
            components.pop(unused, None)
        components["Errors"] = ERRORS_SCHEMA
        app.openapi_schema = schema
        return schema

    return build
