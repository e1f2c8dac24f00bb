"""Typed errors of the agency callback API (the HTTP status and code travel with the class)."""

from __future__ import annotations

from hotline.errors import ApiError, Forbidden, InvalidInput


class IdempotencyKeyRequired(ApiError):
    status, code = 400, "idempotency_key_required"


class IdempotencyKeyInvalid(ApiError):
    status, code = 400, "idempotency_key_invalid"


class IdempotencyKeyReused(InvalidInput):
    """The key was used before for a different request (another body, another endpoint)."""

    code = "idempotency_key_reused"


class UnitsOnly(Forbidden):
    code = "units_only"
