"""Typed errors of the dispatch package.

Each is an :class:`hotline.errors.ApiError`, so the API's error middleware turns
it into ``{"error": {"code", "message", "details"}}`` with the right status; the
``details`` dict always names what was wrong (line numbers, the conflicting rule).
"""

from __future__ import annotations

from typing import Any

from hotline.errors import Conflict, InvalidInput, NotFound


class DataFileError(InvalidInput):
    """A CSV a city loads is malformed; ``details["problems"]`` lists every problem with its line."""

    code = "invalid_data_file"

    def __init__(self, path: str, problems: list[tuple[int, str]]) -> None:
        shown = "; ".join(f"line {line}: {msg}" for line, msg in problems[:5])
        more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
        super().__init__(
            f"{path}: {len(problems)} problem(s): {shown}{more}",
            {"path": path, "problems": [{"line": line, "message": msg} for line, msg in problems]},
        )
        self.problems = problems


class DivisionFileError(DataFileError):
    code = "invalid_division_file"


class PlaceFileError(DataFileError):
    code = "invalid_place_file"


class InvalidVeto(InvalidInput):
    code = "invalid_veto"


class VetoNotFound(NotFound):
    code = "veto_not_found"


class InvalidRule(InvalidInput):
    code = "invalid_rule"


class RuleConflict(Conflict):
    """Another rule of exactly the same specificity already names a different lead unit."""

    code = "rule_conflict"

    def __init__(self, message: str, details: dict[str, Any]) -> None:
        super().__init__(message, details)
        self.conflicting_rule_id: int = details["conflicting_rule_id"]


class DuplicateRule(Conflict):
    code = "duplicate_rule"


class RuleNotFound(NotFound):
    code = "rule_not_found"


class InvalidUnit(InvalidInput):
    code = "invalid_unit"


class DuplicateUnit(Conflict):
    code = "duplicate_unit"


class InvalidAlias(InvalidInput):
    code = "invalid_alias"


class DuplicateAlias(Conflict):
    code = "duplicate_alias"


class AliasNotFound(NotFound):
    code = "alias_not_found"
