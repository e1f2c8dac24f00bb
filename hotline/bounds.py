"""What any input may hold, whatever route it reaches: integers a column can store, times a
calendar can count, text PostgreSQL can store, JSON nested no deeper than a sane client nests it.

Values outside these bounds used to reach the database or the calendar and come back as 500s
(``int64`` overflow, ``\\u0000`` in a text column, ``OverflowError`` near year 9999, a
``RecursionError`` from 5,000 nested arrays); here they are refused as input errors first.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, AwareDatetime, Field

INT64_MAX = 2**63 - 1
INT32_MAX = 2**31 - 1
MAX_JSON_DEPTH = 32

# A bigint id (orders, units, assignments …) and an ``integer`` column's value.
Id = Annotated[int, Field(ge=1, le=INT64_MAX)]
Int32 = Annotated[int, Field(ge=-(2**31), le=INT32_MAX)]

EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(2100, 12, 31, 23, 59, 59, tzinfo=UTC)


def _plausible(value: datetime) -> datetime:
    # Working-time arithmetic walks days from here: years 1 and 9999 overflow it.
    if not EARLIEST <= value <= LATEST:
        raise ValueError(f"times run from {EARLIEST.isoformat()} to {LATEST.isoformat()}")
    return value


# A timezone-aware instant between 2000 and 2100.
When = Annotated[AwareDatetime, AfterValidator(_plausible)]

# C0/C1 control characters other than tab and line breaks, and lone surrogates (JSON's
# "\ud800" decodes to one; it cannot be encoded as UTF-8 for the database).
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKET = re.compile(rb"[\[\]{}]")


def control_character(text: str) -> str | None:
    """The first character ``text`` may not hold, as ``U+0000``; None when it is clean."""
    found = _CONTROL.search(text)
    return f"U+{ord(found.group()):04X}" if found else None


def too_deep(raw: bytes) -> bool:
    """Do the arrays and objects of a JSON text nest deeper than ``MAX_JSON_DEPTH``? Counted
    without parsing it (brackets inside strings do not count)."""
    if raw.count(b"[") + raw.count(b"{") <= MAX_JSON_DEPTH:
        return False
    level = 0
    for bracket in _BRACKET.findall(_STRING.sub(b'""', raw)):
        level += 1 if bracket in (b"[", b"{") else -1
        if level > MAX_JSON_DEPTH:
            return True
    return False


def out_of_bounds(value: Any, where: str = "") -> list[dict[str, str]]:
    """Every string with a control character and every integer beyond int64 in a parsed JSON
    value (keys included), as validation errors naming the field by its dotted path."""
    errors: list[dict[str, str]] = []
    if isinstance(value, str):
        if bad := control_character(value):
            errors.append(_error(where, f"control character {bad} is not allowed", "string_control_character"))
    elif isinstance(value, bool):
        pass
    elif isinstance(value, int):
        if not -INT64_MAX - 1 <= value <= INT64_MAX:
            errors.append(_error(where, "integer out of range (64-bit)", "int_out_of_range"))
    elif isinstance(value, dict):
        for key, item in value.items():
            path = f"{where}.{key}" if where else str(key)
            if bad := control_character(key):
                errors.append(_error(path, f"control character {bad} is not allowed in a key", "key_control_character"))
            errors += out_of_bounds(item, path)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            errors += out_of_bounds(item, f"{where}.{i}" if where else str(i))
    return errors


def _error(field: str, message: str, kind: str) -> dict[str, str]:
    return {"field": field, "message": message, "type": kind}
