"""The one writer of assignments, audit events and outbox rows.

Order actions, the deadline service and the deadline clock all write through here, on
the caller's connection inside the caller's transaction, so a change and its record
commit together. Every assignment write bumps its ``version`` and ``updated_at`` (an
agency system syncing with ``?since=`` sees it); every status change is checked against
the assignment lifecycle (``assignment_states``); every deadline change is pushed to the
unit's system as ``order.deadline_changed``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

import asyncpg
from pydantic import BaseModel

from hotline.auth import Principal
from hotline.orders import numbers
from hotline.orders.assignment_states import OPEN, AssignmentStatus, check_move, param
from hotline.orders.notify import push_payload

DEADLINE_CHANGED = "order.deadline_changed"

# ---------------------------------------------------------------- assignments


async def new_assignment(
    conn: asyncpg.Connection,
    order_id: int,
    unit: Mapping[str, Any],
    *,
    role: str,
    parent_id: int | None,
    dispatcher_unit_id: int | None,
    dispatched_by: int | None,
    route_note: dict[str, Any],
    dispatched_at: datetime,
    sign_due_at: datetime,
    reply_due_at: datetime,
    deadline_basis: dict[str, Any],
    timers: Sequence[tuple[str, str, datetime, datetime]] = (),
) -> asyncpg.Record:
    """A new assignment, dispatched, with its deadlines and its timers armed ((clock, kind,
    fire_at, due_at), generation 0; ``Deadlines.timers``), in one statement."""
    clocks, kinds, fire_ats, due_ats = map(list, zip(*timers, strict=True)) if timers else ([], [], [], [])
    return await conn.fetchrow(
        """WITH created AS (
               INSERT INTO assignments (order_id, unit_id, parent_id, dispatcher_unit_id, dispatched_by, level, role,
                                        route_note, dispatched_at, sign_due_at, reply_due_at, deadline_basis, status)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) RETURNING *
           ), armed AS (
               INSERT INTO deadline_timers (assignment_id, clock, kind, generation, order_id, unit_id, fire_at, due_at)
               SELECT created.id, t.clock, t.kind, 0, created.order_id, created.unit_id, t.fire_at, t.due_at
                 FROM created, unnest($14::text[], $15::text[], $16::timestamptz[], $17::timestamptz[])
                      AS t (clock, kind, fire_at, due_at)
           )
           SELECT * FROM created""",
        order_id, unit["id"], parent_id, dispatcher_unit_id, dispatched_by, unit["level"], role,
        plain(route_note), dispatched_at, sign_due_at, reply_due_at, deadline_basis,
        AssignmentStatus.DISPATCHED.value, clocks, kinds, fire_ats, due_ats,
    )  # fmt: skip


async def move(conn: asyncpg.Connection, a: Mapping[str, Any], to: AssignmentStatus, **cols: Any) -> None:
    """Change ``a``'s status (refused unless the lifecycle allows it), with any other columns."""
    check_move(a["status"], to, a["id"])
    await update(conn, a["id"], status=to.value, **cols)


async def update(conn: asyncpg.Connection, assignment_id: int, **cols: Any) -> asyncpg.Record:
    """Set columns other than the status (``move`` changes that)."""
    sets = "".join(f"{col} = ${i + 2}, " for i, col in enumerate(cols))
    return await conn.fetchrow(
        f"UPDATE assignments SET {sets}version = version + 1, updated_at = now() WHERE id = $1 RETURNING *",
        assignment_id,
        *cols.values(),
    )


async def cancel_open(conn: asyncpg.Connection, order_id: int, *, role: str | None = None) -> list[int]:
    """Cancel the order's open assignments (of ``role``, or all); the lifecycle lets every open one go."""
    for status in OPEN:
        check_move(status, AssignmentStatus.CANCELLED)
    rows = await conn.fetch(
        """UPDATE assignments SET status = $3, version = version + 1, updated_at = now()
           WHERE order_id = $1 AND status = ANY($2::text[]) AND ($4::text IS NULL OR role = $4)
           RETURNING id""",
        order_id, param(OPEN), AssignmentStatus.CANCELLED.value, role,
    )  # fmt: skip
    return [r["id"] for r in rows]


async def change_deadlines(
    conn: asyncpg.Connection,
    order: Mapping[str, Any],
    assignment_id: int,
    *,
    sign_due_at: datetime | None,
    reply_due_at: datetime | None,
    deadline_basis: dict[str, Any] | None = None,
    reason: str,
) -> asyncpg.Record:
    """Move an assignment's sign-by and reply-by and tell the unit's system (``order.deadline_changed``)."""
    updated = await conn.fetchrow(
        """UPDATE assignments SET sign_due_at = $2, reply_due_at = $3, deadline_basis = coalesce($4, deadline_basis),
                                  version = version + 1, updated_at = now()
           WHERE id = $1 RETURNING *""",
        assignment_id, sign_due_at, reply_due_at, deadline_basis,
    )  # fmt: skip
    payload = push_payload(order, assignment_id, DEADLINE_CHANGED, updated["role"]) | deadline_fields(updated)
    payload["reason"] = reason
    await enqueue(conn, DEADLINE_CHANGED, order["id"], updated["unit_id"], payload)
    return updated


def deadline_fields(a: Mapping[str, Any]) -> dict[str, Any]:
    """An assignment's sign-by and reply-by as a push carries them."""
    return {col: a[col].isoformat() if a[col] else None for col in ("sign_due_at", "reply_due_at")}


# ---------------------------------------------------------------- audit


async def audit(
    conn: asyncpg.Connection,
    order_id: int,
    assignment_id: int | None,
    action: str,
    principal: Principal | None,
    from_status: str | None,
    to_status: str | None,
    payload: dict[str, Any],
) -> None:
    await conn.execute(
        """INSERT INTO audit_events (order_id, assignment_id, action, actor_user_id, actor_unit_id,
                                     from_status, to_status, payload)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8)""",
        order_id, assignment_id, action,
        principal.user_id if principal else None, principal.unit_id if principal else None,
        from_status, to_status, plain(payload),
    )  # fmt: skip


async def audit_batch(conn: asyncpg.Connection, events: list[tuple[int, int, str, str, dict[str, Any]]]) -> None:
    """System events (no actor, the order's state unchanged), one round trip for the lot:
    (order_id, assignment_id, action, order status, payload) each."""
    if not events:
        return
    order_ids, assignment_ids, acts, statuses, payloads = map(list, zip(*events, strict=True))
    await conn.execute(
        """INSERT INTO audit_events (order_id, assignment_id, action, from_status, to_status, payload)
           SELECT o, a, act, st, st, p FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::text[], $5::jsonb[])
                                       AS f(o, a, act, st, p)""",
        order_ids, assignment_ids, acts, statuses, [plain(p) for p in payloads],
    )  # fmt: skip


# ---------------------------------------------------------------- intake


async def take_in(
    conn: asyncpg.Connection,
    row: Mapping[str, Any],
    *,
    taken_at: datetime,
    principal: Principal,
    audit_payload: dict[str, Any],
    signature_bands: list[int],
) -> asyncpg.Record:
    """A new order in one statement, one round trip: its number (the next of ``taken_at``'s day,
    ``numbers.next_in_sql``), its ``work_orders`` row, its ``create`` audit event and its MinHash
    bands (``hotline.similar``: what repeat checks look up)."""
    n = len(row)
    cols, values = ", ".join(row), ", ".join(f"${i + 1}" for i in range(n))
    uid, unit, body, bands, day, sequence = (f"${n + k}" for k in range(1, 7))
    return await conn.fetchrow(
        f"""WITH created AS (
                INSERT INTO work_orders (number, {cols}) VALUES ({numbers.next_in_sql(day, sequence)}, {values})
                RETURNING *
            ), audited AS (
                INSERT INTO audit_events (order_id, assignment_id, action, actor_user_id, actor_unit_id,
                                          from_status, to_status, payload)
                SELECT id, NULL, 'create', {uid}::bigint, {unit}::bigint, NULL, status, {body}::jsonb FROM created
            ), indexed AS (
                INSERT INTO order_signatures (band_hash, created_at, order_id)
                SELECT k, created_at, id FROM created, unnest({bands}::bigint[]) AS k ON CONFLICT DO NOTHING
            )
            SELECT * FROM created""",
        *row.values(), principal.user_id, principal.unit_id, plain(audit_payload), signature_bands,
        *numbers.draw_arguments(taken_at),
    )  # fmt: skip


# ---------------------------------------------------------------- an action's end


async def write_change(
    conn: asyncpg.Connection,
    order_id: int,
    updates: Mapping[str, Any],
    *,
    assignment_id: int | None,
    action: str,
    principal: Principal | None,
    from_status: str,
    audit_payload: dict[str, Any],
    outbox: Sequence[tuple[str, int, dict[str, Any]]],
) -> asyncpg.Record:
    """An action's end in one statement, one round trip: the order's new columns (``updates``,
    the status among them; version and updated_at bumped), its audit event, and its outbox rows
    (topic, unit_id, payload) for the units that have a system, in their order."""
    n = len(updates)
    sets = "".join(f"{col} = ${i + 1}, " for i, col in enumerate(updates))
    topics, units, payloads = map(list, zip(*outbox, strict=True)) if outbox else ([], [], [])
    o, a, act, uid, unit, frm, to, body, t, u, p = (f"${n + k}" for k in range(1, 12))
    return await conn.fetchrow(
        f"""WITH updated AS (
                UPDATE work_orders SET {sets}version = version + 1, updated_at = now() WHERE id = {o} RETURNING *
            ), audited AS (
                INSERT INTO audit_events (order_id, assignment_id, action, actor_user_id, actor_unit_id,
                                          from_status, to_status, payload)
                VALUES ({o}, {a}, {act}, {uid}, {unit}, {frm}, {to}, {body})
            ), queued AS (
                INSERT INTO outbox (topic, order_id, unit_id, payload)
                SELECT f.topic, {o}, f.unit_id, f.payload
                  FROM unnest({t}::text[], {u}::bigint[], {p}::jsonb[]) WITH ORDINALITY AS f(topic, unit_id, payload, i)
                 WHERE EXISTS (SELECT 1 FROM units WHERE id = f.unit_id AND webhook_url IS NOT NULL)
                 ORDER BY f.i
            )
            SELECT * FROM updated""",
        *updates.values(),
        order_id, assignment_id, action,
        principal.user_id if principal else None, principal.unit_id if principal else None,
        from_status, updates["status"], plain(audit_payload),
        topics, units, [plain(x) for x in payloads],
    )  # fmt: skip


# ---------------------------------------------------------------- outbox


async def enqueue(conn: asyncpg.Connection, topic: str, order_id: int, unit_id: int, payload: dict) -> None:
    """Queue a message for a unit's system, if it has one (one round trip: the check is in the insert)."""
    await conn.execute(
        """INSERT INTO outbox (topic, order_id, unit_id, payload)
           SELECT $1, $2, id, $4 FROM units WHERE id = $3 AND webhook_url IS NOT NULL""",
        topic, order_id, unit_id, plain(payload),
    )  # fmt: skip


async def enqueue_batch(conn: asyncpg.Connection, messages: Iterable[tuple[str, int, int, dict[str, Any]]]) -> None:
    """Queue (topic, order_id, unit_id, payload) messages, those for units with a system, in two round trips."""
    messages = list(messages)
    if not messages:
        return
    hooked = {
        r["id"]
        for r in await conn.fetch(
            "SELECT id FROM units WHERE id = ANY($1::bigint[]) AND webhook_url IS NOT NULL",
            list({unit_id for _, _, unit_id, _ in messages}),
        )
    }
    rows = [(t, o, u, plain(p)) for t, o, u, p in messages if u in hooked]
    if rows:
        await conn.execute(
            """INSERT INTO outbox (topic, order_id, unit_id, payload)
               SELECT * FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::jsonb[])""",
            *map(list, zip(*rows, strict=True)),
        )


def plain(value: Any) -> Any:
    """JSON-safe copy of a payload (datetimes and URLs as strings)."""
    if isinstance(value, str | int | float | bool) or value is None:  # the leaves, most of a payload, first
        return value
    if isinstance(value, BaseModel):
        value = value.model_dump(mode="json")
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items() if k != "version"}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)
