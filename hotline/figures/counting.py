"""Which assignments a figure counts, how they are keyed into groups, and what each count means.

Every assignment-level number in a figures table is a count of rows of one set, the
*counted assignments* of the period (see the package docstring for the rule). Each count is
a boolean column of that set, so a drill-down can list exactly the rows behind a number by
filtering the same set on the same column.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal

from hotline.figures.periods import Period

GroupName = Literal["unit", "district", "street", "category"]
Level = Literal["city", "district", "street"]
DEFAULT_RESPONSE_LIMIT = timedelta(hours=24)
NULL_KEY = "none"  # names the row of orders with no place / topic in drill-downs and trends


@dataclass(frozen=True)
class Grouping:
    """How rows are keyed: ``key_sql`` is an SQL expression over ``a`` (assignments) and
    ``o`` (work_orders); every key is text (or NULL: the order has no such place/topic)."""

    name: GroupName
    key_sql: str
    needs_order: bool  # the key reads work_orders, so the counted set joins it
    order_key_sql: str | None  # the same key for order-level counts (None: orders have no unit)
    category_depth: int = 1


_STREET_KEY = "CASE WHEN length(o.division_code) = 9 THEN o.division_code END"
# Depth 1..3 of the category tree: two digits a level, so a key is a prefix of the code.
_CATEGORY_KEYS = {1: "left(o.category_code, 2)", 2: "left(o.category_code, 4)", 3: "left(o.category_code, 6)"}


def grouping(name: GroupName, category_depth: int = 1) -> Grouping:
    """The whitelisted key expression for a group name (never built from caller text)."""
    if name == "unit":
        return Grouping(name, "a.unit_id::text", False, None)
    if name == "district":
        # A street code (9 digits) starts with its district's 6; a district or city code is itself.
        return Grouping(name, "left(o.division_code, 6)", True, "left(o.division_code, 6)")
    if name == "street":
        return Grouping(name, _STREET_KEY, True, _STREET_KEY)
    if name == "category":
        if category_depth not in _CATEGORY_KEYS:
            raise ValueError("category depth is 1, 2 or 3")
        key = _CATEGORY_KEYS[category_depth]
        return Grouping(name, key, True, key, category_depth)
    raise ValueError(f"unknown group {name!r}")


# Counts over the counted assignments: name -> boolean column of the counted set.
ASSIGNMENT_COUNTS: dict[str, str] = {
    "dispatched": "true",
    "signed_on_time": "signed_on_time",
    "replied": "replied",
    "replied_on_time": "replied_on_time",
    "returned": "returned",
    "responded": "responded",
    "visited": "visited",
    "satisfied": "satisfied",
    "resolved": "resolved",
}
# Counts over the orders received in the period: name -> predicate over ``o``.
ORDER_COUNTS: dict[str, str] = {
    "received": "true",
    # An order the agent answered is resolved_directly until it is closed with that reason.
    "resolved_directly": "(o.close_reason = 'resolved_directly' OR o.status = 'resolved_directly')",
}
COUNTS: tuple[str, ...] = (*ASSIGNMENT_COUNTS, *ORDER_COUNTS)

# Rates: name -> (numerator count, denominator count). Null when the denominator is 0.
RATES: dict[str, tuple[str, str]] = {
    "sign_on_time_rate": ("signed_on_time", "dispatched"),  # 签收率
    "reply_rate": ("replied", "dispatched"),  # 回复率
    "reply_on_time_rate": ("replied_on_time", "dispatched"),  # 按时回复率
    "return_rate": ("returned", "dispatched"),  # 退单率
    "response_rate": ("responded", "dispatched"),  # 响应率
    "satisfaction_rate": ("satisfied", "visited"),  # 满意率
    "resolution_rate": ("resolved", "visited"),  # 解决率
    "visit_rate": ("visited", "replied"),  # 回访率
    "direct_rate": ("resolved_directly", "received"),  # 直接答复率
}
METRICS: tuple[str, ...] = (*COUNTS, *RATES)


def rate(numerator: int, denominator: int) -> float | None:
    """A ratio rounded to 4 places; None (not 0, not an error) when nothing was counted."""
    return round(numerator / denominator, 4) if denominator else None


def count_for(metric: str, side: Literal["numerator", "denominator"]) -> str:
    """The count behind one side of a metric; a count metric is its own numerator and denominator."""
    if metric in RATES:
        numerator, denominator = RATES[metric]
        return numerator if side == "numerator" else denominator
    if metric in COUNTS:
        return metric
    raise ValueError(f"unknown metric {metric!r}")


# The counted set. Parameters: $1 period start, $2 period end, $3 response limit (interval),
# $4 unit level or NULL. The period column is the expression the migration indexes.
PERIOD_AT = "coalesce(a.reply_due_at, a.dispatched_at)"
_COUNTED = """
SELECT a.id AS assignment_id, a.order_id, a.unit_id, a.level, {key} AS key, {period_at} AS counted_at,
       a.signed_at IS NOT NULL AND (a.sign_due_at IS NULL OR a.signed_at <= a.sign_due_at) AS signed_on_time,
       a.replied_at IS NOT NULL AS replied,
       a.replied_at IS NOT NULL AND (a.reply_due_at IS NULL OR a.replied_at <= a.reply_due_at) AS replied_on_time,
       a.returned_at IS NOT NULL AS returned,
       a.first_contact_at IS NOT NULL AND a.first_contact_at <= a.dispatched_at + $3::interval AS responded,
       a.replied_at IS NOT NULL AND v.satisfaction IS NOT NULL AS visited,
       a.replied_at IS NOT NULL AND coalesce(v.satisfaction IN ('satisfied', 'basically_satisfied'), false)
           AS satisfied,
       a.replied_at IS NOT NULL AND coalesce(v.resolved, false) AS resolved,
       v.satisfaction, v.resolved AS visit_resolved
FROM assignments a
{order_join}
LEFT JOIN LATERAL (
    -- The visit checks the reply of the centre's assignment; a street's accepted reply was
    -- carried up by its hub's assignment, so the street's verdict sits on its parent.
    SELECT vv.satisfaction, vv.resolved FROM visits vv
    WHERE vv.reached
      AND vv.assignment_id = CASE WHEN a.parent_id IS NOT NULL AND a.status = 'done' THEN a.parent_id ELSE a.id END
    ORDER BY vv.id DESC LIMIT 1
) v ON true
WHERE a.role = 'lead' AND a.status <> 'cancelled'
  AND {period_at} >= $1 AND {period_at} < $2
  AND ($4::text IS NULL OR a.level = $4::text)
  AND NOT EXISTS (SELECT 1 FROM assignments child WHERE child.parent_id = a.id)
  -- A repeat (重复件) is counted once, on its original: its own unit work is left out.
  AND NOT EXISTS (SELECT 1 FROM work_orders rep WHERE rep.id = a.order_id AND rep.repeat_of IS NOT NULL)
"""


def counted_sql(g: Grouping) -> str:
    """The counted assignments of a period, keyed by ``g``; use as a CTE named ``counted``."""
    order_join = "JOIN work_orders o ON o.id = a.order_id" if g.needs_order else ""
    return _COUNTED.format(key=g.key_sql, period_at=PERIOD_AT, order_join=order_join)


def counted_args(period: Period, response_limit: timedelta, level: Level | None) -> list[Any]:
    return [period.start, period.end, response_limit, level]


# The orders received in a period, keyed by ``g``. Parameters: $1 start, $2 end.
def received_sql(g: Grouping) -> str:
    key = g.order_key_sql or "NULL::text"
    cols = ", ".join(f"{pred} AS {name}" for name, pred in ORDER_COUNTS.items())
    return f"""SELECT o.id AS order_id, o.number, o.status, o.close_reason, o.created_at, {key} AS key, {cols}
               FROM work_orders o WHERE o.created_at >= $1 AND o.created_at < $2"""
