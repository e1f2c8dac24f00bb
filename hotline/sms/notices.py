"""Queue citizens' SMS inside the transaction of the change they announce: on intake, and
when the centre accepts a unit's reply (the reply notice and the survey). One row per order,
kind and event (the unique key makes a repeat a no-op); none to an opted-out or non-mobile
number; quiet hours decide when it may leave."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID
from zoneinfo import ZoneInfo

import asyncpg

from hotline import writes
from hotline.deadlines.policy import NoRule
from hotline.sms import templates
from hotline.sms.quiet import send_at
from hotline.writes import Write

if TYPE_CHECKING:
    from hotline.orders.change import Change, Services

MOBILE = re.compile(r"^(\+?86)?(1[3-9][0-9]{9})$")


def mobile(number: str | None) -> str | None:
    """The mainland mobile number an SMS can reach, normalised to 11 digits."""
    match = MOBILE.match((number or "").replace("-", "").replace(" ", ""))
    return match.group(2) if match else None


# The opt-out is checked in the insert itself: no window between the two, and no round trip of its own.
_QUEUE_SQL = """INSERT INTO sms_messages (order_id, kind, event_key, phone, body, urgent, next_attempt_at)
    SELECT $1::bigint, $2::text, $3::text, $4::text, $5::text, $6::boolean, $7::timestamptz
     WHERE NOT EXISTS (SELECT 1 FROM sms_opt_outs WHERE phone = $4)
    ON CONFLICT (order_id, kind, event_key) DO NOTHING"""


def notice(
    order: Mapping[str, Any], kind: str, event_key: str, body: str, now: datetime, tz: ZoneInfo
) -> Write | None:
    """One notice for ``order``'s caller, as a write for the change's transaction (``writes``);
    None without a mobile number. An opted-out number, or the notice already queued, makes it a no-op."""
    phone = mobile(order["caller_number"])
    if phone is None:
        return None
    urgent = order["urgency"] != "normal"
    return Write(_QUEUE_SQL, (order["id"], kind, event_key, phone, body, urgent, send_at(now, urgent, tz)))


async def intake_notice(
    conn: asyncpg.Connection, services: Services, order: Mapping[str, Any], now: datetime, token: UUID | None = None
) -> Write | None:
    """The order number and the reply time promised if it is dispatched now. ``token``: the
    deadline policy's, when the intake read it already (``Deadlines.policy``)."""
    try:
        due: datetime | None = (await services.deadlines.for_dispatch(conn, order, now, token)).reply_due_at
    except NoRule:
        due = None
    tz = services.deadlines.calendar.tz
    return notice(order, "intake", "taken", templates.intake(order["number"], due, tz), now, tz)


async def after_change(conn: asyncpg.Connection, change: Change, updated: Mapping[str, Any]) -> None:
    """The centre accepted the reply: tell the citizen the result and ask for the survey."""
    if updated["status"] != "awaiting_visit" or change.order["status"] == "awaiting_visit":
        return
    a = await conn.fetchrow(
        """SELECT a.id, a.reply_result, u.name FROM assignments a JOIN units u ON u.id = a.unit_id
           WHERE a.id = $1""",
        change.assignment_id,
    )
    tz, event = change.services.deadlines.calendar.tz, str(change.assignment_id)
    number = updated["number"]
    # One after the other, not together: the reply notice must be queued (and so sent) before the survey.
    for sms in (
        notice(updated, "reply", event, templates.reply(number, a["reply_result"], a["name"]), change.now, tz),
        notice(updated, "survey", event, templates.survey(number), change.now, tz),
    ):
        await writes.together(conn, [sms])
