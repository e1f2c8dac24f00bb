"""``HOTLINE_SMS_SMPP_URL``: where and as whom the SMPP sender binds, e.g.
``smpp://system_id:password@host:2775?source=12345&mode=transceiver``. Checked when the
settings load, so a bad URL stops the process at start instead of failing every notice."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal
from urllib.parse import parse_qs, unquote, urlsplit

VARIABLE = "HOTLINE_SMS_SMPP_URL"
DEFAULT_PORT = 2775
Mode = Literal["transceiver", "transmitter"]


class SmppUrlError(ValueError):
    pass


@dataclass(frozen=True)
class SmppConfig:
    host: str
    port: int
    system_id: str
    password: str
    source: str  # the centre's short code (e.g. the 12345 service number) messages come from
    # A transceiver session also carries the operator's delivery receipts back; some
    # resellers bind receipts on a separate receiver and accept only a transmitter here.
    mode: Mode = "transceiver"
    system_type: str = ""


def parse(url: str) -> SmppConfig:
    """The SMPP session ``url`` describes; SmppUrlError naming the variable and the problem."""
    try:
        parts = urlsplit(url)
        port = parts.port or DEFAULT_PORT
    except ValueError as exc:
        raise SmppUrlError(f"{VARIABLE} is not a URL ({exc})") from None
    if parts.scheme != "smpp" or not parts.hostname:
        raise SmppUrlError(f"{VARIABLE} must look like smpp://system_id:password@host:2775?source=12345")
    system_id, password = unquote(parts.username or ""), unquote(parts.password or "")
    # SMPP 3.4 §4.1: system_id is a C-string of at most 16 octets, password at most 9 (both with the NUL).
    if not 0 < len(system_id.encode()) <= 15:
        raise SmppUrlError(f"{VARIABLE} needs a system_id of 1 to 15 characters before the @")
    if len(password.encode()) > 8:
        raise SmppUrlError(f"{VARIABLE}: an SMPP password has at most 8 characters")
    query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
    unknown = sorted(set(query) - {"source", "mode", "system_type"})
    if unknown:
        raise SmppUrlError(f"{VARIABLE}: unknown parameter(s) {', '.join(unknown)} (known: source, mode, system_type)")
    source = query.get("source", "")
    if not source.isdigit() or len(source) > 20:
        raise SmppUrlError(f"{VARIABLE} needs ?source=<the service number messages come from, digits>")
    mode = query.get("mode", "transceiver")
    if mode not in ("transceiver", "transmitter"):
        raise SmppUrlError(f"{VARIABLE}: mode is transceiver or transmitter, not {mode!r}")
    system_type = query.get("system_type", "")
    if len(system_type.encode()) > 12:
        raise SmppUrlError(f"{VARIABLE}: system_type has at most 12 characters")
    return SmppConfig(parts.hostname, port, system_id, password, source, mode, system_type)  # type: ignore[arg-type]
