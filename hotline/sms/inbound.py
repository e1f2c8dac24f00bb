"""What citizens send back: a survey answer (1, 2, 3) is the visit's verdict on the order
whose survey went to that phone most recently and still waits for its visit — a 3 reopens
it as an unsatisfied phone visit does; TD opts the number out. Every message is recorded
with its outcome, in the same transaction as the visit it makes."""

from __future__ import annotations

from datetime import datetime

import asyncpg

from hotline.auth import Principal
from hotline.orders import actions
from hotline.orders import models as m
from hotline.orders.states import Action
from hotline.sms.notices import mobile
from hotline.sms.templates import OPT_OUT_WORDS, SURVEY_ANSWERS

# The centre's survey by SMS: no user; the audit and the visit say it came by SMS.
SMS_VISITOR = Principal(None, "system:sms-survey", "agent", None, "短信回访")


async def receive(pool: asyncpg.Pool, services: actions.Services, phone: str, text: str) -> dict[str, object]:
    number, word = mobile(phone) or phone, text.strip().upper()
    async with pool.acquire() as conn, conn.transaction():
        outcome, order_id, change, updated = "unrecognised", None, None, None
        if word in OPT_OUT_WORDS:
            await conn.execute("INSERT INTO sms_opt_outs (phone) VALUES ($1) ON CONFLICT DO NOTHING", number)
            outcome = "opted_out"
        elif word in SURVEY_ANSWERS:
            order_id = await conn.fetchval(
                """SELECT s.order_id FROM sms_messages s JOIN work_orders o ON o.id = s.order_id
                   WHERE s.phone = $1 AND s.kind = 'survey' AND o.status = 'awaiting_visit'
                   ORDER BY s.created_at DESC, s.id DESC LIMIT 1""",
                number,
            )
            outcome = "unmatched"
            if order_id is not None:
                satisfaction = SURVEY_ANSWERS[word]
                visit = m.Visit(
                    reached=True,
                    satisfaction=satisfaction,
                    resolved=satisfaction != "unsatisfied",
                    note="短信回访",  # type: ignore[arg-type]
                )
                updated, change = await actions.act_in_transaction(
                    conn, services, SMS_VISITOR, order_id, Action.VISIT, visit
                )
                outcome = f"visit:{satisfaction}"
        await _record(conn, number, text, order_id, outcome, services.clock())
    if change is not None and updated is not None:
        await actions.publish_change(services, updated, change)
    return {"outcome": outcome, "order_number": updated["number"] if updated else None}


async def _record(
    conn: asyncpg.Connection, phone: str, text: str, order_id: int | None, outcome: str, now: datetime
) -> None:
    await conn.execute(
        "INSERT INTO sms_inbound (phone, body, order_id, outcome, received_at) VALUES ($1, $2, $3, $4, $5)",
        phone, text[:1000], order_id, outcome, now,
    )  # fmt: skip


async def receipt(pool: asyncpg.Pool, provider_id: str, delivered: bool, now: datetime) -> bool:
    """A delivery receipt for a message the gateway took; False when no message has that id."""
    done = await pool.fetchval(
        """UPDATE sms_messages SET receipt_status = $2, receipt_at = $3,
                                   status = CASE WHEN $4 THEN 'delivered' ELSE 'failed' END
           WHERE provider_id = $1 RETURNING id""",
        provider_id, "delivered" if delivered else "undelivered", now, delivered,
    )  # fmt: skip
    return done is not None
