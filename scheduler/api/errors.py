"""The extender edge's small error hierarchy; `scheduler.api.app` maps it to HTTP in one place."""

from __future__ import annotations


class ApiError(Exception):
    """A request the edge refuses: an HTTP status and a one-line reason for the client."""

    status_code = 400
    reason = "bad_request"

    def __init__(self, message: str) -> None:
        super().__init__(_one_line(message))

    @property
    def message(self) -> str:
        return str(self.args[0])


class BadRequest(ApiError):
    """Malformed JSON, wrong types, a missing Pod, a missing query parameter."""


class Unauthorized(ApiError):
    status_code = 401
    reason = "unauthorized"


class NotFound(ApiError):
    status_code = 404
    reason = "not_found"


class PayloadTooLarge(ApiError):
    status_code = 413
    reason = "body_too_large"


class Busy(ApiError):
    """A costly request of which one is answered at a time (`/explain`): retry later."""

    status_code = 429
    reason = "busy"


class RequestTimeout(ApiError):
    """The body did not arrive in time (e.g. a Content-Length larger than what was sent)."""

    status_code = 408
    reason = "body_timeout"


class NotReady(ApiError):
    """The watch cache has not finished its first list; answering now could double-book."""

    status_code = 503
    reason = "not_ready"


def _one_line(message: str) -> str:
    return " ".join(message.split())
