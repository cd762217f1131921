"""The server's one error format, and how emosynth's own errors map onto it.

Every refusal is JSON in the shape OpenAI's API uses, so its clients show the message as is::

    {"error": {"message": "voice: unknown voice 'alloy' ...", "type": "invalid_request_error",
               "param": "voice", "code": "invalid_value"}}

``param`` names the request field at fault; the message says what is accepted.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from ..errors import EmosynthError

__all__ = ["ApiError", "error_body", "field_errors"]

_TYPES = {400: "invalid_request_error", 401: "authentication_error", 404: "not_found_error",
          405: "invalid_request_error", 413: "invalid_request_error", 415: "invalid_request_error",
          503: "server_busy", 504: "timeout_error"}


class ApiError(Exception):
    """A request the server refuses, with the HTTP status, the field at fault and a message."""

    def __init__(self, status: int, message: str, *, param: str | None = None, code: str = "invalid_value",
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.param = param
        self.code = code
        self.headers = headers or {}

    def body(self) -> dict:
        return error_body(self.status, self.message, param=self.param, code=self.code)


def error_body(status: int, message: str, *, param: str | None = None, code: str = "invalid_value") -> dict:
    kind = _TYPES.get(status, "invalid_request_error" if status < 500 else "server_error")
    return {"error": {"message": message, "type": kind, "param": param, "code": code}}


@contextmanager
def field_errors(param: str, *, prefix: bool = True) -> Iterator[None]:
    """Turn an emosynth error raised inside the block into a 400 naming ``param``."""
    try:
        yield
    except EmosynthError as exc:
        raise ApiError(400, f"{param}: {exc}" if prefix else str(exc), param=param) from None
