"""Typed errors of the agency callback API (the HTTP status and code travel with the class)."""

from __future__ import annotations

from hotline.errors import ApiError, Conflict, Forbidden, InvalidInput


class IdempotencyKeyRequired(ApiError):
    status, code = 400, "idempotency_key_required"


class IdempotencyKeyInvalid(ApiError):
    status, code = 400, "idempotency_key_invalid"


class IdempotencyKeyReused(InvalidInput):
    """The key was used before for a different request (another body, another endpoint)."""

    code = "idempotency_key_reused"


class AssignmentClosed(Conflict):
    """The assignment is no longer open (returned, re-dispatched, done, cancelled)."""

    code = "assignment_closed"


class NotYourAssignment(Forbidden):
    """Visible to the unit (a hub reads its units' assignments) but not its to act on."""

    code = "not_your_assignment"


class UnitsOnly(Forbidden):
    code = "units_only"
