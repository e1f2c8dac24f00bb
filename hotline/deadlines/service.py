"""Deadlines inside order actions: set at dispatch, moved by extensions and suspensions.

Every function runs on the caller's connection, inside the action's transaction, so a
deadline is never out of step with the state that set it. The active preset's rules and
the calendar overrides are checked in that transaction too: an admin's edit applies to the
next dispatch in every process. What the process read is kept under the policy's token
(``deadline_generation``, sql/032, changed by every edit), so while nothing changes an action
reads one row instead of the rules and the overrides, and counts on the same calendar (which
remembers the days it has looked up).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from uuid import UUID

import asyncpg

from hotline.calendar import BusinessCalendar
from hotline.deadlines.policy import Clock, Pause, Rule, TimeUnit, due, fraction_point, pick
from hotline.orders import store
from hotline.orders.assignment_states import OPEN, param

log = logging.getLogger(__name__)

WARNING_SHARE = 0.8
TIMED_CLOCKS = (Clock.SIGN, Clock.REPLY)
TOKEN_SQL = "SELECT token FROM deadline_generation"  # changed by every edit of the policy or calendar (sql/032)


@dataclass(frozen=True)
class Planned:
    """A new assignment's deadlines, counted before it is written (it is inserted with them)."""

    calendar: BusinessCalendar
    start: datetime
    dues: dict[Clock, tuple[Rule, datetime]]

    @property
    def sign_due_at(self) -> datetime:
        return self.dues[Clock.SIGN][1]

    @property
    def reply_due_at(self) -> datetime:
        return self.dues[Clock.REPLY][1]

    @property
    def basis(self) -> dict[str, Any]:
        return {clock.value: rule.basis() for clock, (rule, _) in self.dues.items()}


@dataclass(frozen=True)
class _Policy:
    """The policy as read under one token, on top of one base calendar."""

    token: UUID
    base: BusinessCalendar
    rules: tuple[Rule, ...]
    calendar: BusinessCalendar


@dataclass
class Deadlines:
    calendar: BusinessCalendar = field(default_factory=BusinessCalendar)
    warning_share: float = WARNING_SHARE
    _policy: _Policy | None = field(default=None, init=False, repr=False, compare=False)

    # ------------------------------------------------------------ reading policy

    async def policy(
        self, conn: asyncpg.Connection, token: UUID | None = None
    ) -> tuple[tuple[Rule, ...], BusinessCalendar]:
        """The active preset's rules and the calendar with its overrides, as ``conn`` sees them now.
        ``token``: the policy's token (``TOKEN_SQL``) when the caller read it on ``conn`` already,
        with something else of its own, in this transaction."""
        # The token first: a change committed between the reads leaves the rules newer than the
        # token kept with them, and the next read of the token reloads; never the other way round.
        if token is None:
            token = await conn.fetchval(TOKEN_SQL)
        kept = self._policy
        if kept is None or kept.token != token or kept.base is not self.calendar:
            kept = _Policy(token, self.calendar, await self._read_rules(conn), await self._read_calendar(conn))
            self._policy = kept
        return kept.rules, kept.calendar

    async def rules(self, conn: asyncpg.Connection) -> tuple[Rule, ...]:
        return (await self.policy(conn))[0]

    async def calendar_for(self, conn: asyncpg.Connection) -> BusinessCalendar:
        return (await self.policy(conn))[1]

    async def _read_rules(self, conn: asyncpg.Connection) -> tuple[Rule, ...]:
        rows = await conn.fetch(
            """SELECT r.* FROM deadline_rules r JOIN deadline_presets p ON p.name = r.preset
               WHERE p.active ORDER BY r.id"""
        )
        return tuple(Rule.from_row(r) for r in rows)

    async def _read_calendar(self, conn: asyncpg.Connection) -> BusinessCalendar:
        rows = await conn.fetch("SELECT day, workday FROM calendar_overrides")
        if not rows:
            return self.calendar
        overrides: dict[date, bool] = {r["day"]: r["workday"] for r in rows}
        return self.calendar.with_overrides(overrides)

    async def rule_for(self, conn: asyncpg.Connection, clock: Clock, order: Mapping[str, Any]) -> Rule:
        return pick(await self.rules(conn), clock, order["kind"], order["category_code"], order["urgency"])

    async def dues(
        self,
        conn: asyncpg.Connection,
        order: Mapping[str, Any],
        start: datetime,
        clocks: tuple[Clock, ...],
        token: UUID | None = None,
    ) -> tuple[BusinessCalendar, dict[Clock, tuple[Rule, datetime]]]:
        """For an order (anything with kind, category_code and urgency) and a start, each clock's
        rule and due time under the active preset, and the calendar they were counted on."""
        rules, cal = await self.policy(conn, token)
        out = {}
        for clock in clocks:
            rule = pick(rules, clock, order["kind"], order["category_code"], order["urgency"])
            out[clock] = (rule, due(cal, start, rule.amount, rule.unit))
        return cal, out

    # ------------------------------------------------------------ dispatch

    async def for_dispatch(
        self, conn: asyncpg.Connection, order: Mapping[str, Any], start: datetime, token: UUID | None = None
    ) -> Planned:
        """A new assignment's sign-by and reply-by, counted from ``start`` (its dispatch)."""
        cal, dues = await self.dues(conn, order, start, TIMED_CLOCKS, token)
        return Planned(cal, start, dues)

    def timers(self, planned: Planned) -> list[tuple[str, str, datetime, datetime]]:
        """The warning and overdue timers of an assignment created with ``planned``'s deadlines,
        as (clock, kind, fire_at, due_at): written with the assignment (``store.new_assignment``)."""
        rows = []
        for clock, (rule, due_at) in planned.dues.items():
            warn_at = fraction_point(planned.calendar, planned.start, due_at, rule.unit.working, self.warning_share)
            rows += [(clock.value, "warning", warn_at, due_at), (clock.value, "overdue", due_at, due_at)]
        return rows

    async def _arm(
        self,
        conn: asyncpg.Connection,
        cal: BusinessCalendar,
        assignment: asyncpg.Record,
        clock: Clock,
        start: datetime,
        due_at: datetime,
        working: bool,
        generation: int,
    ) -> None:
        warn_at = fraction_point(cal, start, due_at, working, self.warning_share)
        await conn.executemany(
            """INSERT INTO deadline_timers (assignment_id, clock, kind, generation, order_id, unit_id, fire_at, due_at)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8)""",
            [
                (assignment["id"], clock.value, kind, generation, assignment["order_id"], assignment["unit_id"],
                 fire_at, due_at)
                for kind, fire_at in (("warning", warn_at), ("overdue", due_at))
            ],
        )  # fmt: skip

    # ------------------------------------------------------------ visits

    async def visit_due(self, conn: asyncpg.Connection, order: asyncpg.Record, replied_at: datetime) -> datetime:
        _, dues = await self.dues(conn, order, replied_at, (Clock.VISIT,))
        return dues[Clock.VISIT][1]

    # ------------------------------------------------------------ extensions

    async def extension_rule(self, conn: asyncpg.Connection, order: Mapping[str, Any]) -> Rule:
        """The most an extension may add to this order's reply-by (amount and unit)."""
        return await self.rule_for(conn, Clock.EXTENSION, order)

    async def extend(
        self, conn: asyncpg.Connection, order: asyncpg.Record, assignment: asyncpg.Record, days: int
    ) -> datetime:
        """Approve ``days`` more: the new reply-by counted on the calendar from the old one (the
        unit's system is told), and a new generation of reply timers in place of the unfired ones."""
        rule = await self.extension_rule(conn, order)
        cal = await self.calendar_for(conn)
        unit = TimeUnit.WORKING_DAYS if rule.unit.working else TimeUnit.DAYS
        old_due = assignment["reply_due_at"]
        new_due = due(cal, old_due, days, unit)
        generation = await conn.fetchval(
            """WITH superseded AS (
                   UPDATE deadline_timers SET fired_at = now(), outcome = 'superseded'
                   WHERE assignment_id = $1 AND clock = 'reply' AND fired_at IS NULL RETURNING generation)
               SELECT coalesce(max(generation), 0) + 1 FROM deadline_timers WHERE assignment_id = $1 AND clock = 'reply'""",
            assignment["id"],
        )
        basis = dict(assignment["deadline_basis"] or {})
        basis["extension"] = {
            "rule_id": rule.id,
            "days": days,
            "unit": unit.value,
            "previous_reply_due_at": old_due.isoformat(),
        }
        updated = await store.change_deadlines(
            conn, order, assignment["id"], sign_due_at=assignment["sign_due_at"], reply_due_at=new_due,
            deadline_basis=basis, reason="extension_approved",
        )  # fmt: skip
        # The warning re-arms at 80 % of the extended window, measured from the old deadline.
        await self._arm(conn, cal, updated, Clock.REPLY, old_due, new_due, unit.working, generation)
        return new_due

    # ------------------------------------------------------------ suspension

    async def resume(
        self, conn: asyncpg.Connection, order: asyncpg.Record, suspended_at: datetime, resumed_at: datetime
    ) -> dict[str, Any]:
        """Push the order's open deadlines out by the time it was suspended (挂起 stops the clock):
        working time for clocks counted in working time, calendar time for the others. Each
        moved assignment's unit system is told."""
        pause = Pause.between(await self.calendar_for(conn), suspended_at, resumed_at)
        moved: dict[str, Any] = {"assignments": []}
        open_assignments = await conn.fetch(
            "SELECT * FROM assignments WHERE order_id = $1 AND status = ANY($2::text[]) ORDER BY id FOR UPDATE",
            order["id"], param(OPEN),
        )  # fmt: skip
        for a in open_assignments:
            basis = a["deadline_basis"] or {}
            new = {
                col: pause.shift(a[col], _working(basis, clock)) if a[col] else None
                for clock, col in (("sign", "sign_due_at"), ("reply", "reply_due_at"))
            }
            if (new["sign_due_at"], new["reply_due_at"]) != (a["sign_due_at"], a["reply_due_at"]):
                await store.change_deadlines(
                    conn, order, a["id"], sign_due_at=new["sign_due_at"], reply_due_at=new["reply_due_at"],
                    reason="resumed",
                )  # fmt: skip
            timers = await conn.fetch(
                "SELECT * FROM deadline_timers WHERE assignment_id = $1 AND fired_at IS NULL", a["id"]
            )
            await conn.executemany(
                """UPDATE deadline_timers SET fire_at = $5, due_at = $6
                   WHERE assignment_id = $1 AND clock = $2 AND kind = $3 AND generation = $4""",
                [
                    (t["assignment_id"], t["clock"], t["kind"], t["generation"],
                     pause.shift(t["fire_at"], _working(basis, t["clock"])),
                     pause.shift(t["due_at"], _working(basis, t["clock"])))
                    for t in timers
                ],
            )  # fmt: skip
            moved["assignments"].append(
                {"assignment_id": a["id"], **{k: v.isoformat() if v else None for k, v in new.items()}}
            )
        if order["visit_due_at"] is not None:
            rule = await self.rule_for(conn, Clock.VISIT, order)
            moved["visit_due_at"] = pause.shift(order["visit_due_at"], rule.unit.working)
        return moved


def _working(basis: dict[str, Any], clock: str) -> bool:
    """Whether an assignment's ``clock`` is counted in working time (an extension's unit wins for reply)."""
    unit = (basis.get("extension") or {}).get("unit") if clock == "reply" else None
    unit = unit or (basis.get(clock) or {}).get("unit")
    return bool(unit) and TimeUnit(unit).working
