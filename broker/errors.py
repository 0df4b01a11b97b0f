"""The broker's errors: each is an HTTP status with a JSON body that has `errors`.

The real broker answers validation failures as `{"errors": {"field": ["message", ...]}}`; every
error here uses that shape so that clients (and people) always find the reason in one place.
"""

from __future__ import annotations

from typing import Any


class BrokerError(Exception):
    """An error the client caused; rendered as `status` with `{"errors": ..., "notices"?: ...}`."""

    status = 400

    def __init__(
        self,
        errors: dict[str, list[str]],
        *,
        notices: list[dict[str, str]] | None = None,
    ) -> None:
        super().__init__("; ".join(f"{key}: {' '.join(values)}" for key, values in errors.items()))
        self.errors = errors
        self.notices = notices

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"errors": self.errors}
        if self.notices is not None:
            body["notices"] = self.notices
        return body


class ValidationError(BrokerError):
    status = 400


class NotFound(BrokerError):
    status = 404

    def __init__(self, what: str) -> None:
        super().__init__({"resource": [f"{what} was not found"]})


class Conflict(BrokerError):
    status = 409


def invalid(field: str, message: str) -> ValidationError:
    """A validation error about one field."""
    return ValidationError({field: [message]})
