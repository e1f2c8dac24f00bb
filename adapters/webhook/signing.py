"""The HMAC-SHA256 scheme both directions share: agency callbacks in, webhook pushes out.

Pure functions, no I/O, so an agency's own implementation can be checked against these.

A request carries four headers::

    X-Hotline-Key:        the key id (hk_...), public
    X-Hotline-Timestamp:  Unix seconds when the request was signed
    X-Hotline-Nonce:      16–64 characters [A-Za-z0-9_-], never reused
    X-Hotline-Signature:  lowercase hex HMAC-SHA256(secret, canonical)

where ``canonical`` is these eight lines joined by ``\\n`` (no trailing newline)::

    HOTLINE-HMAC-SHA256
    POST                              the method, upper case
    /api/units/me/assignments?x=1     the path with its query string, exactly as sent
    1767225600                        the timestamp header
    3f9a0c...                         the nonce header
    application/json                  the Content-Type header as sent ("" when none)
    7c1e...                           the Idempotency-Key header as sent ("" when none)
    e3b0c442...                       lowercase hex SHA-256 of the body bytes (of b"" when none)

Signing the Idempotency-Key means a captured request cannot be resent as a new one under
a fresh key; signing the Content-Type means its body cannot be re-read as another type.
The receiver refuses a timestamp more than five minutes from its clock and a nonce it has
seen within that window (so it remembers nonces for twice the window).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

SCHEME = "HOTLINE-HMAC-SHA256"
KEY_HEADER = "X-Hotline-Key"
CONTENT_TYPE_HEADER = "Content-Type"
IDEMPOTENCY_HEADER = "Idempotency-Key"
TIMESTAMP_HEADER = "X-Hotline-Timestamp"
NONCE_HEADER = "X-Hotline-Nonce"
SIGNATURE_HEADER = "X-Hotline-Signature"
DELIVERY_HEADER = "X-Hotline-Delivery"
TOPIC_HEADER = "X-Hotline-Topic"
ATTEMPT_HEADER = "X-Hotline-Attempt"
SIGNED_HEADERS = (KEY_HEADER, TIMESTAMP_HEADER, NONCE_HEADER, SIGNATURE_HEADER)

WINDOW_SECONDS = 300
NONCE_TTL_SECONDS = 2 * WINDOW_SECONDS
_NONCE = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
_HEX_SIGNATURE = re.compile(r"^[0-9a-f]{64}$")


class Refusal(StrEnum):
    """Why a signed request was refused; the value is the stable reason code sent back."""

    MISSING_HEADER = "missing_header"
    BAD_TIMESTAMP = "bad_timestamp"
    STALE = "stale_timestamp"
    FUTURE = "future_timestamp"
    BAD_NONCE = "bad_nonce"
    REPLAYED = "nonce_reused"
    UNKNOWN_KEY = "unknown_key"
    REVOKED_KEY = "revoked_key"
    BAD_SIGNATURE = "bad_signature"
    NOT_SIGNABLE = "path_not_signable"


class SignatureRefused(Exception):
    """A signed request that does not verify; ``reason`` says which check failed."""

    def __init__(self, reason: Refusal, message: str, details: dict[str, object] | None = None) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.details = details or {}


def body_digest(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


@dataclass(frozen=True)
class Signed:
    """What the signature covers besides the secret."""

    method: str
    path_qs: str
    timestamp: str
    nonce: str
    content_type: str
    idempotency_key: str
    body: bytes


def canonical(s: Signed) -> bytes:
    lines = (SCHEME, s.method.upper(), s.path_qs, s.timestamp, s.nonce, s.content_type, s.idempotency_key,
             body_digest(s.body))  # fmt: skip
    return "\n".join(lines).encode()


def signature(secret: str, signed: Signed) -> str:
    return hmac.new(secret.encode(), canonical(signed), hashlib.sha256).hexdigest()


def new_nonce() -> str:
    return secrets.token_urlsafe(18)  # 24 characters


def sign_headers(
    key_id: str,
    secret: str,
    method: str,
    path_qs: str,
    body: bytes,
    *,
    content_type: str = "",
    idempotency_key: str = "",
    now: float | None = None,
    nonce: str | None = None,
) -> dict[str, str]:
    """The headers for one request: the four signing headers, and Content-Type and
    Idempotency-Key when given (send them exactly as signed)."""
    ts = str(int(time.time() if now is None else now))
    nonce = nonce or new_nonce()
    signed = Signed(method, path_qs, ts, nonce, content_type, idempotency_key, body)
    headers = {
        KEY_HEADER: key_id,
        TIMESTAMP_HEADER: ts,
        NONCE_HEADER: nonce,
        SIGNATURE_HEADER: signature(secret, signed),
    }
    if content_type:
        headers[CONTENT_TYPE_HEADER] = content_type
    if idempotency_key:
        headers[IDEMPOTENCY_HEADER] = idempotency_key
    return headers


@dataclass(frozen=True)
class SignedParts:
    key_id: str
    timestamp: str
    nonce: str
    signature: str
    content_type: str = ""
    idempotency_key: str = ""


def read_headers(headers: Mapping[str, str], *, now: float | None = None) -> SignedParts:
    """The signed headers, present and well formed, with the timestamp inside the window.
    The cheap checks, done before any key lookup."""
    missing = [h for h in SIGNED_HEADERS if not headers.get(h)]
    if missing:
        raise SignatureRefused(Refusal.MISSING_HEADER, f"missing header {', '.join(missing)}", {"missing": missing})
    ts = headers[TIMESTAMP_HEADER].strip()
    if not ts.isdigit() or len(ts) > 12:
        raise SignatureRefused(Refusal.BAD_TIMESTAMP, f"{TIMESTAMP_HEADER} must be Unix seconds", {"timestamp": ts})
    skew = int(ts) - int(time.time() if now is None else now)
    if skew < -WINDOW_SECONDS:
        raise SignatureRefused(
            Refusal.STALE,
            f"timestamp is {-skew} s old; requests older than {WINDOW_SECONDS} s are refused",
            {"skew_seconds": skew, "window_seconds": WINDOW_SECONDS},
        )
    if skew > WINDOW_SECONDS:
        raise SignatureRefused(
            Refusal.FUTURE,
            f"timestamp is {skew} s in the future; check the clock (window {WINDOW_SECONDS} s)",
            {"skew_seconds": skew, "window_seconds": WINDOW_SECONDS},
        )
    nonce = headers[NONCE_HEADER].strip()
    if not _NONCE.match(nonce):
        raise SignatureRefused(Refusal.BAD_NONCE, f"{NONCE_HEADER} must be 16–64 characters of [A-Za-z0-9_-]")
    return SignedParts(
        headers[KEY_HEADER].strip(), ts, nonce, headers[SIGNATURE_HEADER].strip().lower(),
        headers.get(CONTENT_TYPE_HEADER, ""), headers.get(IDEMPOTENCY_HEADER, ""),
    )  # fmt: skip


def check_signature(secrets_: list[str], parts: SignedParts, method: str, path_qs: str, body: bytes) -> None:
    """Refuse unless the signature matches one of ``secrets_`` (compared in constant time)."""
    if _HEX_SIGNATURE.match(parts.signature):
        given = parts.signature.encode()
        signed = Signed(method, path_qs, parts.timestamp, parts.nonce, parts.content_type, parts.idempotency_key, body)
        for secret in secrets_:
            expected = signature(secret, signed).encode()
            if hmac.compare_digest(expected, given):
                return
    raise SignatureRefused(
        Refusal.BAD_SIGNATURE,
        "signature does not match: sign method, path with query, timestamp, nonce, Content-Type, "
        "Idempotency-Key and sha256(body)",
        {"key_id": parts.key_id, "method": method.upper(), "path": path_qs},
    )
