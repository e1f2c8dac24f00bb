"""Earlier orders that may report what a given order reports, each with its reasons.

Three index lookups, in one query, bound every check whatever the table holds:
- the same caller within ``caller_days`` (caller index), kept when the topic is similar
  (same second-level category, or shared content);
- the same street or district and category within ``place_days`` (place index), kept when
  the addresses are similar or the contents share words (two water cuts in one street's two
  estates are two matters);
- content sharing a MinHash band within ``content_days`` (signature index), kept when the
  bigram overlap reaches ``content_min``.
Windows are counted back from the order's own intake time, so the answer for an order never
depends on the day it is asked.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import asyncpg

from hotline import chinese
from hotline.errors import NotFound
from hotline.similar import minhash


@dataclass(frozen=True)
class RepeatRules:
    caller_days: int = 30
    place_days: int = 7
    content_days: int = 7
    content_min: float = 0.5  # bigram overlap for "similar content"
    topic_min: float = 0.15  # bigram overlap that makes two orders "on a similar topic"
    address_min: float = 0.3  # bigram overlap of addresses that makes them "similar"
    limit: int = 10


@dataclass(frozen=True)
class Probe:
    """What the check compares: the order (or a draft not yet saved)."""

    id: int | None
    content: str
    address: str
    division_code: str | None
    category_code: str | None
    caller_number: str | None
    at: datetime


_CANDIDATES = """
WITH c AS (
    (SELECT id FROM work_orders
     WHERE $1::text IS NOT NULL AND caller_number = $1 AND created_at >= $2 AND created_at <= $3
     ORDER BY created_at DESC LIMIT 20)
    UNION
    (SELECT id FROM work_orders
     WHERE $4::text IS NOT NULL AND division_code = $4 AND category_code = $5 AND created_at >= $6
       AND created_at <= $3
     ORDER BY created_at DESC LIMIT 30)
    UNION
    -- The newest few of each band's bucket (a common phrasing fills a bucket), then the orders
    -- sharing most bands: the share of bands agreeing estimates the similarity.
    (SELECT s.order_id FROM unnest($7::bigint[]) AS b(band_hash)
     CROSS JOIN LATERAL (SELECT order_id FROM order_signatures
                         WHERE band_hash = b.band_hash AND created_at >= $8 AND created_at <= $3
                         ORDER BY created_at DESC LIMIT 20) s
     GROUP BY s.order_id ORDER BY count(*) DESC, s.order_id DESC LIMIT 30)
)
SELECT o.id, o.number, o.status, o.kind, o.content, o.address, o.division_code, o.category_code,
       o.caller_number, o.created_at, o.repeat_of
FROM work_orders o JOIN c ON c.id = o.id
WHERE o.id IS DISTINCT FROM $9 AND o.status <> 'merged'
"""


async def probe_of(conn: asyncpg.Connection, order_id: int) -> Probe:
    row = await conn.fetchrow(
        """SELECT id, content, address, division_code, category_code, caller_number, created_at
           FROM work_orders WHERE id = $1""",
        order_id,
    )
    if row is None:
        raise NotFound("no such order", {"order_id": order_id})
    return Probe(row["id"], row["content"], row["address"], row["division_code"], row["category_code"],
                 row["caller_number"], row["created_at"])  # fmt: skip


async def find(conn: asyncpg.Connection, p: Probe, rules: RepeatRules = RepeatRules()) -> list[dict[str, Any]]:
    """Candidates, best first, each with ``reasons`` (code, and what matched)."""
    tokens = chinese.token_set(p.content)
    rows = await conn.fetch(
        _CANDIDATES,
        p.caller_number, p.at - timedelta(days=rules.caller_days), p.at,
        p.division_code if p.category_code else None, p.category_code, p.at - timedelta(days=rules.place_days),
        minhash.bands(tokens), p.at - timedelta(days=rules.content_days), p.id,
    )  # fmt: skip
    address = chinese.token_set(p.address)
    found = []
    for row in rows:
        if p.id is not None and row["created_at"] == p.at and row["id"] > p.id:
            continue  # taken in the same instant, but after it: it is the later one
        reasons = judge(p, tokens, address, row, rules)
        if reasons:
            found.append(_candidate(row, reasons))
    found.sort(key=lambda c: (-c["score"], -c["created_at"].timestamp(), c["id"]))
    return found[: rules.limit]


def judge(
    p: Probe, tokens: frozenset[str], address_tokens: frozenset[str], row: Any, rules: RepeatRules
) -> list[dict[str, Any]]:
    """Why ``row`` may be the same matter as the probe (whose content and address tokens are
    given); empty when it is not."""
    content = chinese.overlap(tokens, chinese.token_set(row["content"]))
    address = chinese.overlap(address_tokens, chinese.token_set(row["address"]))
    reasons: list[dict[str, Any]] = []
    if p.caller_number and row["caller_number"] == p.caller_number:
        same_topic = bool(p.category_code and row["category_code"]) and p.category_code[:4] == row["category_code"][:4]
        if same_topic or content >= rules.topic_min:
            reasons.append({"code": "same_caller", "days": rules.caller_days, "same_category": same_topic,
                            "content_similarity": round(content, 3), "score": 0.9})  # fmt: skip
    if (
        p.category_code
        and row["category_code"] == p.category_code
        and p.division_code
        and row["division_code"] == p.division_code
        and p.at - row["created_at"] <= timedelta(days=rules.place_days)
        and (address >= rules.address_min or content >= rules.topic_min)
    ):
        reasons.append({"code": "same_place", "days": rules.place_days, "division_code": p.division_code,
                        "category_code": p.category_code, "address_similarity": round(address, 3),
                        "score": round(0.5 + 0.4 * address, 3)})  # fmt: skip
    if content >= rules.content_min and p.at - row["created_at"] <= timedelta(days=rules.content_days):
        reasons.append({"code": "similar_content", "days": rules.content_days,
                        "content_similarity": round(content, 3), "score": round(content, 3)})  # fmt: skip
    return reasons


def _candidate(row: Any, reasons: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "number": row["number"],
        "status": row["status"],
        "kind": row["kind"],
        "category_code": row["category_code"],
        "division_code": row["division_code"],
        "created_at": row["created_at"],
        "repeat_of": row["repeat_of"],
        "content": row["content"][:200],
        "score": max(r["score"] for r in reasons),
        "reasons": reasons,
    }
