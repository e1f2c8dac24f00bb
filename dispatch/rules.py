"""The dispatch list 派单目录: rules (category, division prefix, kind) -> unit, and their store.

A rule says "orders of this category (or any), in divisions whose code starts with this
prefix ('' = anywhere), of this kind (or any) go to this unit, as lead or assist".
How rules compete is documented in :mod:`dispatch.ruleindex` (most specific wins:
category depth, then prefix length, then a named kind). Saving a lead rule whose key
(category, prefix, kind) already has a lead for another unit raises
:class:`~dispatch.errors.RuleConflict` naming that rule: such a tie could never be broken.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import asyncpg

from dispatch.divisions import significant_prefix
from dispatch.errors import DuplicateRule, InvalidRule, RuleConflict, RuleNotFound

Role = Literal["lead", "assist"]
KINDS = ("consult", "help", "complaint", "report", "suggestion", "praise")
RuleKey = tuple[str | None, str, str | None]


@dataclass(frozen=True, slots=True)
class Rule:
    id: int
    category_code: str | None
    division_prefix: str
    kind: str | None
    unit_id: int
    role: Role = "lead"
    note: str = ""
    created_at: datetime | None = None

    @property
    def key(self) -> RuleKey:
        return (self.category_code, self.division_prefix, self.kind)

    @property
    def specificity(self) -> tuple[int, int, int]:
        """What precedence compares: (category depth, prefix length, names a kind)."""
        depth = len(self.category_code) // 2 if self.category_code else 0
        return (depth, len(self.division_prefix), 1 if self.kind else 0)

    def describe(self) -> str:
        cat = f"category {self.category_code}" if self.category_code else "any category"
        where = f"within {self.division_prefix}" if self.division_prefix else "anywhere"
        kind = f", kind {self.kind}" if self.kind else ""
        return f"rule #{self.id} ({cat} {where}{kind} -> unit {self.unit_id} as {self.role})"

    @classmethod
    def from_row(cls, r: Mapping[str, Any]) -> Rule:
        return cls(
            r["id"], r["category_code"], r["division_prefix"], r["kind"], r["unit_id"], r["role"], r["note"],
            r["created_at"],
        )  # fmt: skip

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id, "category_code": self.category_code, "division_prefix": self.division_prefix,
            "kind": self.kind, "unit_id": self.unit_id, "role": self.role, "note": self.note,
            "created_at": self.created_at.isoformat() if self.created_at else None,
        }  # fmt: skip


def conflict_details(new: Rule, existing: Rule) -> tuple[str, dict[str, Any]]:
    cat = new.category_code or "any category"
    where = new.division_prefix or "anywhere"
    kind = new.kind or "any kind"
    message = (
        f"rule #{existing.id} already sends {cat} / {where} / {kind} to unit {existing.unit_id} as lead; "
        f"a second lead (unit {new.unit_id}) of the same specificity would be a tie — change or remove #{existing.id}"
    )
    return message, {
        "conflicting_rule_id": existing.id,
        "conflicting_unit_id": existing.unit_id,
        "unit_id": new.unit_id,
        "category_code": new.category_code,
        "division_prefix": new.division_prefix,
        "kind": new.kind,
    }


def normalize_prefix(prefix: str | None) -> str:
    """'' stays ''; a six-digit province or city code becomes its significant prefix
    (320300 -> 3203) so that it matches its districts (320302) and streets."""
    p = (prefix or "").strip()
    if p and not (p.isascii() and p.isdigit()):
        raise InvalidRule(f"division prefix {prefix!r} must be digits", {"division_prefix": prefix})
    return significant_prefix(p) if len(p) == 6 else p


_COLUMNS = "id, category_code, division_prefix, kind, unit_id, role, note, created_at"


async def list_rules(
    conn: asyncpg.Connection, *, unit_id: int | None = None, category_code: str | None = None
) -> list[Rule]:
    rows = await conn.fetch(
        f"""SELECT {_COLUMNS} FROM dispatch_rules
            WHERE ($1::bigint IS NULL OR unit_id = $1) AND ($2::text IS NULL OR category_code = $2)
            ORDER BY id""",
        unit_id,
        category_code,
    )
    return [Rule.from_row(r) for r in rows]


async def add_rule(
    conn: asyncpg.Connection,
    *,
    unit_id: int,
    category_code: str | None = None,
    division_prefix: str = "",
    kind: str | None = None,
    role: Role = "lead",
    note: str = "",
) -> Rule:
    """Validate and save a rule. Raises InvalidRule (unknown category/unit/kind, prefix matching
    no division, inactive or centre unit), RuleConflict (another lead at the same key),
    DuplicateRule (this unit already at this key)."""
    prefix = normalize_prefix(division_prefix)
    category_code = category_code or None
    kind = kind or None
    if role not in ("lead", "assist"):
        raise InvalidRule(f"unknown role {role!r}", {"role": role, "allowed": ["lead", "assist"]})
    if kind is not None and kind not in KINDS:
        raise InvalidRule(f"unknown kind {kind!r}", {"kind": kind, "allowed": list(KINDS)})
    new = Rule(0, category_code, prefix, kind, unit_id, role, note)
    async with conn.transaction():
        unit = await conn.fetchrow("SELECT kind, active FROM units WHERE id = $1", unit_id)
        if unit is None:
            raise InvalidRule(f"unknown unit {unit_id}", {"unit_id": unit_id})
        if not unit["active"]:
            raise InvalidRule(f"unit {unit_id} is inactive", {"unit_id": unit_id})
        if unit["kind"] == "centre":
            raise InvalidRule("the centre is where unrouted orders go, not a rule target", {"unit_id": unit_id})
        if category_code is not None and not await conn.fetchval(
            "SELECT EXISTS (SELECT 1 FROM categories WHERE code = $1)", category_code
        ):
            raise InvalidRule(f"unknown category {category_code}", {"category_code": category_code})
        if prefix and not await conn.fetchval(
            "SELECT EXISTS (SELECT 1 FROM divisions WHERE starts_with(code, $1))", prefix
        ):
            raise InvalidRule(f"division prefix {prefix} matches no division", {"division_prefix": prefix})
        await _check_key(conn, new)
        try:
            async with conn.transaction():
                row = await conn.fetchrow(
                    f"""INSERT INTO dispatch_rules (category_code, division_prefix, kind, unit_id, role, note)
                        VALUES ($1, $2, $3, $4, $5, $6) RETURNING {_COLUMNS}""",
                    category_code, prefix, kind, unit_id, role, note,
                )  # fmt: skip
        except asyncpg.UniqueViolationError:
            # Someone saved a rule at this key between our check and insert.
            await _check_key(conn, new)
            raise
    return Rule.from_row(row)


async def _check_key(conn: asyncpg.Connection, new: Rule) -> None:
    rows = await conn.fetch(
        f"""SELECT {_COLUMNS} FROM dispatch_rules
            WHERE category_code IS NOT DISTINCT FROM $1 AND division_prefix = $2 AND kind IS NOT DISTINCT FROM $3""",
        new.category_code,
        new.division_prefix,
        new.kind,
    )
    for existing in map(Rule.from_row, rows):
        if existing.unit_id == new.unit_id:
            if existing.role == new.role:
                raise DuplicateRule(
                    f"{existing.describe()} already says this", {"existing_rule_id": existing.id, **new.as_dict()}
                )
            raise InvalidRule(
                f"unit {new.unit_id} is already {existing.role} by rule #{existing.id} at this key",
                {"existing_rule_id": existing.id, "unit_id": new.unit_id},
            )
        if new.role == "lead" and existing.role == "lead":
            raise RuleConflict(*conflict_details(new, existing))


async def remove_rule(conn: asyncpg.Connection, rule_id: int) -> Rule:
    row = await conn.fetchrow(f"DELETE FROM dispatch_rules WHERE id = $1 RETURNING {_COLUMNS}", rule_id)
    if row is None:
        raise RuleNotFound(f"no rule #{rule_id}", {"rule_id": rule_id})
    return Rule.from_row(row)
