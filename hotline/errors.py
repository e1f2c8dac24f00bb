"""Typed errors: each case a class with an HTTP status, a stable code and details.

Handlers raise these; the error middleware turns them into
``{"error": {"code", "message", "details"}}``. Anything else becomes a 500
with no stack trace sent to the client.
"""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    status: int = 400
    code: str = "bad_request"

    def __init__(self, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or {}
        # Response headers the error needs (Retry-After on a 429).
        self.headers: dict[str, str] = {}

    def to_json(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, "details": self.details}}


class InvalidInput(ApiError):
    status, code = 422, "invalid_input"


class MalformedBody(ApiError):
    status, code = 400, "malformed_body"


class Unauthenticated(ApiError):
    status, code = 401, "unauthenticated"


class Forbidden(ApiError):
    status, code = 403, "forbidden"


class NotFound(ApiError):
    status, code = 404, "not_found"


class Conflict(ApiError):
    status, code = 409, "conflict"


class InvalidTransition(Conflict):
    """The order's state does not allow the action."""

    code = "invalid_transition"


class AssignmentClosed(Conflict):
    """The assignment named is no longer open (returned, re-dispatched, done, cancelled)."""

    code = "assignment_closed"


class NotYourAssignment(Forbidden):
    """The assignment named is visible to the caller but not its to act on (a hub reads its
    units' assignments; a unit that asked for an extension does not decide it)."""

    code = "not_your_assignment"


class StaleVersion(Conflict):
    """Someone else changed the order since the caller read it."""

    code = "stale_version"


class DuplicateKey(Conflict):
    code = "duplicate"


class Locked(ApiError):
    status, code = 423, "account_locked"


class TooManyRequests(ApiError):
    status, code = 429, "too_many_requests"

    def __init__(self, message: str, retry_after: int, details: dict[str, Any] | None = None) -> None:
        super().__init__(message, {"retry_after_seconds": retry_after, **(details or {})})
        self.headers = {"Retry-After": str(retry_after)}


class ServiceUnavailable(ApiError):
    status, code = 503, "unavailable"
