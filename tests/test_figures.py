"""Figures (DESIGN.md §6) against numbers worked out by hand.

``load_october`` inserts a small, fully known data set with plain SQL into the seeded 徐州
database: four units with work in October 2026 (Shanghai), one street with none, late and
on-time signs and replies, a return, null deadlines, a hub that re-dispatched to a street,
visits of each verdict, an assist and a cancelled lead that must not count, and orders
answered directly. Every expected number below is derived in a comment from that list.

Assignments counted in October (period = reply_due_at, else dispatched_at):

| id  | unit | sign due / signed    | reply due / replied | returned | 1st contact | visit verdict           |
| --- | ---- | -------------------- | ------------------- | -------- | ----------- | ----------------------- |
| A1  | C    | 10-05 11:00 / 10:00  | 10-15 / 10-14       |          | +6 h        | 满意, resolved          |
| A2  | C    | 10-06 11:00 / 12:00  | 10-16 / 10-17 late  |          | +2 days     | (unreached) 基本满意, not resolved |
| A3  | C    | 10-07 11:00 / —      | 10-20 / —           | yes      | —           |                         |
| A4  | C    | none / 10-09         | none / 10-25        |          | +1 h        |                         |
| A5  | C    | 10-20 11:00 / 10:30  | 10-31 23:30 / —     |          | —           |                         |
| S7  | S1   | 10-10 12:00 / 11:00  | 10-22 / 10-21       |          | +25 h       |                         |
| S8  | S1   | 10-11 12:00 / 09:00  | 10-23 / 10-12       |          | +30 min     | 不满意 (on hub's H8)    |
| S10 | S1   | 10-13 12:00 / —      | 10-27 / —           | yes      | —           |                         |
| H9  | H    | 10-12 11:00 / 10:00  | 10-26 / 10-27 late  |          | —           |                         |

Not counted in October: A6 (C, due 11-01 00:30 Shanghai: November), H7 / H8 / H10 (hub
assignments with a child), an assist of Z on O1, a cancelled lead of Z on a merged order.
C = city.cgj, Z = city.zjj, H = hub.320302 (鼓楼区), S1 = street.320302001 (黄楼街道),
S2 = street.320302002 (丰财街道, nothing at all).
"""

from __future__ import annotations

import csv
import io
from datetime import date, datetime, timedelta
from typing import Any

import asyncpg
import pytest

from hotline.figures import (
    NULL_KEY,
    RATES,
    TZ,
    between,
    drill_down,
    figures,
    figures_csv,
    period_of,
    today,
    trend,
)
from hotline.figures.rollups import build_day

OCTOBER = period_of("month", date(2026, 10, 1))


def sh(month: int, day: int, hour: int = 9, minute: int = 0) -> datetime:
    """A Shanghai wall-clock time in 2026."""
    return datetime(2026, month, day, hour, minute, tzinfo=TZ)


class Data:
    """Ids of what ``load_october`` inserted, by the names in the module docstring."""

    def __init__(self) -> None:
        self.units: dict[str, int] = {}
        self.orders: dict[str, int] = {}
        self.assignments: dict[str, int] = {}


async def _order(
    conn: asyncpg.Connection,
    data: Data,
    name: str,
    created: datetime,
    division: str | None,
    category: str | None,
    status: str = "dispatched",
    close_reason: str | None = None,
) -> int:
    number = f"{created:%Y%m%d}-{len(data.orders) + 1:06d}"
    data.orders[name] = await conn.fetchval(
        """INSERT INTO work_orders (number, kind, category_code, content, division_code, status, close_reason,
                                    created_at)
           VALUES ($1, 'complaint', $2, $3, $4, $5, $6, $7) RETURNING id""",
        number, category, f"order {name}", division, status, close_reason, created,
    )  # fmt: skip
    return data.orders[name]


async def _assignment(conn: asyncpg.Connection, data: Data, name: str, order: str, unit: str, **cols: Any) -> int:
    unit_id = data.units[unit]
    level = await conn.fetchval("SELECT level FROM units WHERE id = $1", unit_id)
    cols = {"role": "lead", "status": "dispatched", **cols}
    if "parent" in cols:
        parent = data.assignments[cols.pop("parent")]
        cols["parent_id"] = parent
        cols["dispatcher_unit_id"] = data.units["H"]
    names = ["order_id", "unit_id", "level", *cols]
    values = [data.orders[order], unit_id, level, *cols.values()]
    placeholders = ", ".join(f"${i}" for i in range(1, len(values) + 1))
    data.assignments[name] = await conn.fetchval(
        f"INSERT INTO assignments ({', '.join(names)}) VALUES ({placeholders}) RETURNING id", *values
    )
    return data.assignments[name]


async def _visit(
    conn: asyncpg.Connection, data: Data, order: str, assignment: str, attempt: int, satisfaction: str | None,
    resolved: bool | None,
) -> None:  # fmt: skip
    await conn.execute(
        """INSERT INTO visits (order_id, assignment_id, unit_id, attempt, reached, satisfaction, resolved)
           SELECT $1, a.id, a.unit_id, $3, $4, $5, $6 FROM assignments a WHERE a.id = $2""",
        data.orders[order], data.assignments[assignment], attempt, satisfaction is not None, satisfaction, resolved,
    )  # fmt: skip


async def load_october(pool: asyncpg.Pool) -> Data:
    data = Data()
    async with pool.acquire() as conn, conn.transaction():
        for name, code in [("C", "city.cgj"), ("Z", "city.zjj"), ("H", "hub.320302"), ("S1", "street.320302001"),
                           ("S2", "street.320302002")]:  # fmt: skip
            data.units[name] = await conn.fetchval("SELECT id FROM units WHERE code = $1", code)
        await _load_city(conn, data)
        await _load_hub(conn, data)
        await _load_orders_only(conn, data)
    return data


async def _load_city(conn: asyncpg.Connection, data: Data) -> None:
    await _order(conn, data, "O1", sh(10, 5, 8), "320302001", "010101", "closed", "visited")
    await _assignment(conn, data, "A1", "O1", "C", status="done", dispatched_at=sh(10, 5),
                      sign_due_at=sh(10, 5, 11), signed_at=sh(10, 5, 10), reply_due_at=sh(10, 15, 18),
                      replied_at=sh(10, 14), first_contact_at=sh(10, 5, 15))  # fmt: skip
    await _assignment(conn, data, "Z-assist", "O1", "Z", role="assist", dispatched_at=sh(10, 5),
                      reply_due_at=sh(10, 15, 18))  # fmt: skip
    await _visit(conn, data, "O1", "A1", 1, "satisfied", True)

    await _order(conn, data, "O2", sh(10, 6, 8), "320302001", "010201", "reopened")
    await _assignment(conn, data, "A2", "O2", "C", status="done", dispatched_at=sh(10, 6),
                      sign_due_at=sh(10, 6, 11), signed_at=sh(10, 6, 12), reply_due_at=sh(10, 16, 18),
                      replied_at=sh(10, 17), first_contact_at=sh(10, 8))  # fmt: skip
    await _visit(conn, data, "O2", "A2", 1, None, None)  # not reached: not a visit for the figures
    await _visit(conn, data, "O2", "A2", 2, "basically_satisfied", False)

    await _order(conn, data, "O3", sh(10, 7, 8), "320303001", "030101", "returned")
    await _assignment(conn, data, "A3", "O3", "C", status="returned", dispatched_at=sh(10, 7),
                      sign_due_at=sh(10, 7, 11), reply_due_at=sh(10, 20, 18), returned_at=sh(10, 7, 10),
                      return_reason="not ours")  # fmt: skip

    await _order(conn, data, "O4", sh(10, 8, 8), None, None, "replied")  # no place, no topic
    await _assignment(conn, data, "A4", "O4", "C", status="replied", dispatched_at=sh(10, 8),
                      signed_at=sh(10, 9), replied_at=sh(10, 25), first_contact_at=sh(10, 8, 10))  # fmt: skip

    await _order(conn, data, "O5", sh(10, 20, 8), "320302001", "0101", "signed")
    await _assignment(conn, data, "A5", "O5", "C", status="signed", dispatched_at=sh(10, 20),
                      sign_due_at=sh(10, 20, 11), signed_at=sh(10, 20, 10, 30),
                      reply_due_at=sh(10, 31, 23, 30))  # fmt: skip

    await _order(conn, data, "O6", sh(10, 25, 8), "320302001", "0101", "signed")
    await _assignment(conn, data, "A6", "O6", "C", status="signed", dispatched_at=sh(10, 25),
                      sign_due_at=sh(10, 25, 11), signed_at=sh(10, 25, 10),
                      reply_due_at=sh(11, 1, 0, 30))  # fmt: skip


async def _load_hub(conn: asyncpg.Connection, data: Data) -> None:
    # O7: the hub re-dispatched to the street, which replied; the hub has not reviewed yet.
    await _order(conn, data, "O7", sh(10, 10, 8), "320302001", "010103", "replied")
    await _assignment(conn, data, "H7", "O7", "H", status="redispatched", dispatched_at=sh(10, 10),
                      sign_due_at=sh(10, 10, 11), reply_due_at=sh(10, 24, 18))  # fmt: skip
    await _assignment(conn, data, "S7", "O7", "S1", parent="H7", status="replied", dispatched_at=sh(10, 10, 10),
                      sign_due_at=sh(10, 10, 12), signed_at=sh(10, 10, 11), reply_due_at=sh(10, 22, 18),
                      replied_at=sh(10, 21), first_contact_at=sh(10, 11, 11))  # fmt: skip
    # O8: the street's reply was accepted and carried up; the hub's assignment is done and visited.
    await _order(conn, data, "O8", sh(10, 11, 7), "320302001", "010103", "reopened")
    await _assignment(conn, data, "H8", "O8", "H", status="done", dispatched_at=sh(10, 11, 7, 30),
                      sign_due_at=sh(10, 11, 10), reply_due_at=sh(10, 25, 18), replied_at=sh(10, 12, 12))  # fmt: skip
    await _assignment(conn, data, "S8", "O8", "S1", parent="H8", status="done", dispatched_at=sh(10, 11, 8),
                      sign_due_at=sh(10, 11, 12), signed_at=sh(10, 11, 9), reply_due_at=sh(10, 23, 18),
                      replied_at=sh(10, 12), first_contact_at=sh(10, 11, 8, 30))  # fmt: skip
    await _visit(conn, data, "O8", "H8", 1, "unsatisfied", False)
    # O9: the hub handled it itself (no child) and replied late.
    await _order(conn, data, "O9", sh(10, 12, 8), "320302", "0301", "replied")
    await _assignment(conn, data, "H9", "O9", "H", status="replied", dispatched_at=sh(10, 12),
                      sign_due_at=sh(10, 12, 11), signed_at=sh(10, 12, 10), reply_due_at=sh(10, 26, 18),
                      replied_at=sh(10, 27))  # fmt: skip
    # O10: the street returned it to the hub, which holds it again (signed).
    await _order(conn, data, "O10", sh(10, 13, 8), "320302001", "010103", "signed")
    await _assignment(conn, data, "H10", "O10", "H", status="signed", dispatched_at=sh(10, 13),
                      sign_due_at=sh(10, 13, 11), signed_at=sh(10, 13, 9), reply_due_at=sh(10, 27, 18))  # fmt: skip
    await _assignment(conn, data, "S10", "O10", "S1", parent="H10", status="returned", dispatched_at=sh(10, 13, 10),
                      sign_due_at=sh(10, 13, 12), reply_due_at=sh(10, 27, 18), returned_at=sh(10, 13, 11),
                      return_reason="not our street")  # fmt: skip


async def _load_orders_only(conn: asyncpg.Connection, data: Data) -> None:
    await _order(conn, data, "D1", sh(10, 3), "320302002", "0201", "closed", "resolved_directly")
    await _order(conn, data, "D2", sh(10, 4), "320303001", "0501", "resolved_directly")
    await _order(conn, data, "D3", sh(11, 2), "320302001", "0201", "closed", "resolved_directly")
    await _order(conn, data, "N1", sh(10, 9), None, None, "received")
    await _order(conn, data, "M1", sh(10, 2), "320302001", "0101", "merged", "merged")
    await _assignment(conn, data, "Z-cancelled", "M1", "Z", status="cancelled", dispatched_at=sh(10, 2),
                      reply_due_at=sh(10, 12, 18))  # fmt: skip


def by_key(table: Any) -> dict[str | None, dict[str, Any]]:
    return {row["key"]: row for row in table.as_dict()["rows"]}


def pick(row: dict[str, Any], *names: str) -> dict[str, Any]:
    return {n: row[n] for n in names}


ALL_COUNTS = ("dispatched", "signed_on_time", "replied", "replied_on_time", "returned", "responded", "visited",
              "satisfied", "resolved")  # fmt: skip
ALL_RATES = ("sign_on_time_rate", "reply_rate", "reply_on_time_rate", "return_rate", "response_rate",
             "satisfaction_rate", "resolution_rate", "visit_rate")  # fmt: skip


async def build_days(pool: asyncpg.Pool, first: date, last: date) -> None:
    """Count every day of [first, last] into the figures rollup, as the rollup worker would."""
    async with pool.acquire() as conn:
        day = first
        while day <= last:
            assert await build_day(conn, day), day
            day += timedelta(days=1)


# Every hand-worked number holds both counted live and read from the daily rollup (Sept-Nov built).
@pytest.fixture(params=["live", "rollup"])
async def data(request: pytest.FixtureRequest, seeded_pool: asyncpg.Pool) -> Data:
    loaded = await load_october(seeded_pool)
    if request.param == "rollup":
        await build_days(seeded_pool, date(2026, 9, 1), date(2026, 11, 30))
    return loaded


async def test_october_by_unit(seeded_pool: asyncpg.Pool, data: Data) -> None:
    async with seeded_pool.acquire() as conn:
        rows = by_key(await figures(conn, OCTOBER, "unit"))
    u = {name: str(uid) for name, uid in data.units.items()}
    # C: A1..A5 = 5 dispatched. Signed on time: A1, A4 (no deadline), A5 = 3 (A2 late, A3 never).
    # Replied: A1, A2, A4 = 3; on time: A1, A4 (no deadline) = 2. Returned: A3 = 1.
    # Responded within 24 h: A1 (+6 h), A4 (+1 h) = 2. Visited (reached): A1, A2 = 2;
    # satisfied: A1 满意 + A2 基本满意 = 2; resolved: A1 = 1.
    c = rows[u["C"]]
    assert pick(c, *ALL_COUNTS) == dict(zip(ALL_COUNTS, (5, 3, 3, 2, 1, 2, 2, 2, 1), strict=True))
    # 3/5, 3/5, 2/5, 1/5, 2/5, 2/2, 1/2, visited 2 / replied 3
    assert pick(c, *ALL_RATES) == dict(zip(ALL_RATES, (0.6, 0.6, 0.4, 0.2, 0.4, 1.0, 0.5, 0.6667), strict=True))
    # S1: S7, S8, S10 = 3. Signed on time S7, S8 = 2; replied S7, S8 = 2, both on time; returned S10 = 1;
    # responded: S8 (+30 min) = 1 (S7 +25 h is late); visited: S8 (verdict on its hub's H8) = 1, unsatisfied.
    s1 = rows[u["S1"]]
    assert pick(s1, *ALL_COUNTS) == dict(zip(ALL_COUNTS, (3, 2, 2, 2, 1, 1, 1, 0, 0), strict=True))
    # 2/3, 2/3, 2/3, 1/3, 1/3, 0/1, 0/1, 1/2
    assert pick(s1, *ALL_RATES) == dict(
        zip(ALL_RATES, (0.6667, 0.6667, 0.6667, 0.3333, 0.3333, 0.0, 0.0, 0.5), strict=True)
    )
    # H: only H9 (H7, H8, H10 have children). Signed on time, replied late, no contact, not visited.
    h = rows[u["H"]]
    assert pick(h, *ALL_COUNTS) == dict(zip(ALL_COUNTS, (1, 1, 1, 0, 0, 0, 0, 0, 0), strict=True))
    # 1/1, 1/1, 0/1, 0/1, 0/1, no visits -> None, None, visited 0 / replied 1 = 0
    assert pick(h, *ALL_RATES) == dict(zip(ALL_RATES, (1.0, 1.0, 0.0, 0.0, 0.0, None, None, 0.0), strict=True))
    # Z had only an assist and a cancelled lead; S2 had nothing: both listed, zeros, rates None.
    for quiet in (rows[u["Z"]], rows[u["S2"]]):
        assert pick(quiet, *ALL_COUNTS) == dict.fromkeys(ALL_COUNTS, 0)
        assert pick(quiet, *ALL_RATES) == dict.fromkeys(ALL_RATES, None)
    assert rows[u["S2"]]["name"] == "丰财街道办事处" and rows[u["S2"]]["code"] == "street.320302002"


async def test_october_total_row_and_direct_rate(seeded_pool: asyncpg.Pool, data: Data) -> None:
    async with seeded_pool.acquire() as conn:
        table = await figures(conn, OCTOBER, "unit")
    total = table.as_dict()["total"]
    # Sums of C + S1 + H: 5+3+1 = 9; 3+2+1 = 6; 3+2+1 = 6; 2+2+0 = 4; 1+1+0 = 2; 2+1+0 = 3; 2+1 = 3; 2; 1.
    assert pick(total, *ALL_COUNTS) == dict(zip(ALL_COUNTS, (9, 6, 6, 4, 2, 3, 3, 2, 1), strict=True))
    # Orders created in October: O1..O10, D1, D2, N1, M1 = 14 (D3 is November); direct: D1 (closed), D2 (open) = 2.
    assert (total["received"], total["resolved_directly"], total["direct_rate"]) == (14, 2, 0.1429)
    # 6/9, 6/9, 4/9, 2/9, 3/9, 2/3, 1/3, 3/6
    assert pick(total, *ALL_RATES) == dict(
        zip(ALL_RATES, (0.6667, 0.6667, 0.4444, 0.2222, 0.3333, 0.6667, 0.3333, 0.5), strict=True)
    )
    # Orders have no unit: unit rows carry no order-level counts.
    assert all(row.counts["received"] == 0 for row in table.rows)


async def test_every_active_unit_is_listed_and_level_filters(seeded_pool: asyncpg.Pool, data: Data) -> None:
    async with seeded_pool.acquire() as conn:
        active = await conn.fetchval("SELECT count(*) FROM units WHERE active")
        streets = await conn.fetchval("SELECT count(*) FROM units WHERE active AND level = 'street'")
        all_units = await figures(conn, OCTOBER, "unit")
        street_only = await figures(conn, OCTOBER, "unit", level="street")
    assert len(all_units.rows) == active
    assert len(street_only.rows) == streets
    # Street level: S1's S7, S8, S10 only.
    assert street_only.total.counts["dispatched"] == 3


async def test_october_by_district(seeded_pool: asyncpg.Pool, data: Data) -> None:
    async with seeded_pool.acquire() as conn:
        rows = by_key(await figures(conn, OCTOBER, "district"))
    # 鼓楼区 320302: A1, A2, A5, S7, S8, S10 (street 320302001) and H9 (the district's own code) = 7.
    # Signed on time A1, A5, S7, S8, H9 = 5; replied A1, A2, S7, S8, H9 = 5; on time A1, S7, S8 = 3;
    # returned S10 = 1; responded A1, S8 = 2; visited A1, A2, S8 = 3; satisfied A1, A2 = 2; resolved A1 = 1.
    gulou = rows["320302"]
    assert gulou["name"] == "鼓楼区"
    assert pick(gulou, *ALL_COUNTS) == dict(zip(ALL_COUNTS, (7, 5, 5, 3, 1, 2, 3, 2, 1), strict=True))
    # Orders: O1, O2, O5, O6, O7, O8, O9, O10, D1, M1 = 10, direct D1 = 1 -> 1/10.
    assert (gulou["received"], gulou["resolved_directly"], gulou["direct_rate"]) == (10, 1, 0.1)
    # 云龙区 320303: A3 only, returned; orders O3, D2 -> direct 1/2.
    yunlong = rows["320303"]
    assert pick(yunlong, "dispatched", "returned", "replied", "return_rate", "reply_rate", "visit_rate") == {
        "dispatched": 1, "returned": 1, "replied": 0, "return_rate": 1.0, "reply_rate": 0.0, "visit_rate": None,
    }  # fmt: skip
    assert (yunlong["received"], yunlong["direct_rate"]) == (2, 0.5)
    # No place: A4 (dispatched, signed, replied, on time, responded); orders O4, N1, none direct.
    nowhere = rows[None]
    assert pick(nowhere, *ALL_COUNTS) == dict(zip(ALL_COUNTS, (1, 1, 1, 1, 0, 1, 0, 0, 0), strict=True))
    assert (nowhere["received"], nowhere["direct_rate"]) == (2, 0.0)
    # Every other district is listed with nothing.
    assert rows["320305"]["name"] == "贾汪区" and rows["320305"]["dispatched"] == 0
    assert rows["320305"]["reply_rate"] is None and rows["320305"]["direct_rate"] is None


async def test_october_by_street_and_category(seeded_pool: asyncpg.Pool, data: Data) -> None:
    async with seeded_pool.acquire() as conn:
        streets = by_key(await figures(conn, OCTOBER, "street"))
        top = by_key(await figures(conn, OCTOBER, "category"))
        second = by_key(await figures(conn, OCTOBER, "category", category_depth=2))
    # 黄楼街道: A1, A2, A5, S7, S8, S10 = 6; 彭城街道 320303001: A3; not a street: H9 (district code), A4 (none).
    assert streets["320302001"]["dispatched"] == 6
    assert streets["320303001"]["dispatched"] == 1
    assert streets[None]["dispatched"] == 2
    assert streets["320302002"]["dispatched"] == 0 and streets["320302002"]["received"] == 1  # D1
    # Top level: 01 = A1, A2, A5, S7, S8, S10 = 6; 03 = A3, H9 = 2; none = A4.
    assert (top["01"]["dispatched"], top["03"]["dispatched"], top[None]["dispatched"]) == (6, 2, 1)
    assert top["01"]["name"] == "城乡建设" and top["02"]["dispatched"] == 0
    # Second level: 0101 = A1, A5, S7, S8, S10 = 5; 0102 = A2; 0301 = A3, H9.
    assert (second["0101"]["dispatched"], second["0102"]["dispatched"], second["0301"]["dispatched"]) == (5, 1, 2)


async def test_shanghai_period_bounds(seeded_pool: asyncpg.Pool, data: Data) -> None:
    c = str(data.units["C"])
    async with seeded_pool.acquire() as conn:
        # A5 is due 2026-10-31 23:30 Shanghai (15:30 UTC): October, that Saturday; A6 at 11-01 00:30: November.
        oct31 = by_key(await figures(conn, period_of("day", date(2026, 10, 31))))
        nov1 = by_key(await figures(conn, period_of("day", date(2026, 11, 1))))
        november = await figures(conn, period_of("month", date(2026, 11, 15)))
        # Week Mon 10-26 .. Sun 11-01: A5, A6, H9 (due 10-26), S10 (due 10-27) = 4.
        week = await figures(conn, period_of("week", date(2026, 10, 28)))
    assert oct31[c]["dispatched"] == 1 and nov1[c]["dispatched"] == 1
    assert november.total.counts["dispatched"] == 1  # A6
    assert (november.total.counts["received"], november.total.counts["resolved_directly"]) == (1, 1)  # D3
    assert (week.period.first, week.period.last) == (date(2026, 10, 26), date(2026, 11, 1))
    assert week.total.counts["dispatched"] == 4


def test_period_arithmetic() -> None:
    month = period_of("month", date(2026, 10, 17))
    assert month.start == datetime(2026, 10, 1, tzinfo=TZ)
    assert month.end.astimezone(TZ) == datetime(2026, 11, 1, tzinfo=TZ)
    assert month.start.utcoffset() == timedelta(hours=8)
    assert period_of("month", date(2024, 2, 10)).last == date(2024, 2, 29)
    assert period_of("month", date(2026, 12, 31)).last == date(2026, 12, 31)
    week = period_of("week", date(2026, 11, 1))  # a Sunday
    assert (week.first, week.last) == (date(2026, 10, 26), date(2026, 11, 1))
    assert between(date(2026, 10, 1), date(2026, 10, 1)).days == 1
    with pytest.raises(ValueError):
        between(date(2026, 10, 2), date(2026, 10, 1))
    with pytest.raises(ValueError):
        between(date(2025, 1, 1), date(2026, 1, 2))


async def test_empty_period_has_zeros_and_null_rates(seeded_pool: asyncpg.Pool, data: Data) -> None:
    async with seeded_pool.acquire() as conn:
        quiet_day = await figures(conn, period_of("day", date(2026, 10, 30)))
        june = await figures(conn, period_of("month", date(2025, 6, 1)), "district")
    for table in (quiet_day, june):
        assert table.total.counts == dict.fromkeys(table.total.counts, 0)
        assert set(table.total.rates.values()) == {None}
        assert table.rows and all(r.counts["dispatched"] == 0 and r.rates["reply_rate"] is None for r in table.rows)


async def test_response_limit_is_a_parameter(seeded_pool: asyncpg.Pool, data: Data) -> None:
    async with seeded_pool.acquire() as conn:
        table = await figures(conn, OCTOBER, response_limit=timedelta(hours=48))
    # With 48 h, S7 (+25 h) and A2 (+48 h exactly: 10-06 09:00 -> 10-08 09:00) count too: 3 + 2 = 5.
    assert table.total.counts["responded"] == 5


async def ids(page: Any) -> list[int]:
    return [item["assignment_id"] for item in page.items]


async def test_drill_down_lists_exactly_the_rows_behind_a_number(seeded_pool: asyncpg.Pool, data: Data) -> None:
    a, c = data.assignments, str(data.units["C"])
    async with seeded_pool.acquire() as conn:
        on_time = await drill_down(conn, OCTOBER, "reply_on_time_rate", "numerator", "unit", c)
        dispatched = await drill_down(conn, OCTOBER, "reply_on_time_rate", "denominator", "unit", c)
        s1_visits = await drill_down(conn, OCTOBER, "satisfaction_rate", "denominator", "unit", str(data.units["S1"]))
        nowhere = await drill_down(conn, OCTOBER, "dispatched", "numerator", "district", NULL_KEY)
        returned = await drill_down(conn, OCTOBER, "returned", "numerator")
        direct = await drill_down(conn, OCTOBER, "direct_rate", "numerator")
        gulou_received = await drill_down(conn, OCTOBER, "direct_rate", "denominator", "district", "320302")
    # Rows in the order they fall due; A4 (no deadline) at its dispatch, 10-08.
    assert await ids(on_time) == [a["A4"], a["A1"]]
    assert await ids(dispatched) == [a["A4"], a["A1"], a["A2"], a["A3"], a["A5"]]
    assert await ids(s1_visits) == [a["S8"]]
    assert s1_visits.items[0]["satisfaction"] == "unsatisfied" and s1_visits.items[0]["unit_code"] == "street.320302001"
    assert await ids(nowhere) == [a["A4"]]
    assert await ids(returned) == [a["A3"], a["S10"]]  # due 10-20, 10-27
    assert [i["order_id"] for i in direct.items] == [data.orders["D1"], data.orders["D2"]]
    assert len(gulou_received.items) == 10
    item = dispatched.items[1]
    assert item["number"].startswith("20261005-") and item["unit_code"] == "city.cgj" and item["status"] == "done"
    assert datetime.fromisoformat(item["reply_due_at"]) == sh(10, 15, 18)


async def test_drill_down_pages_by_keyset(seeded_pool: asyncpg.Pool, data: Data) -> None:
    a, c = data.assignments, str(data.units["C"])
    seen: list[int] = []
    cursor, pages = None, 0
    async with seeded_pool.acquire() as conn:
        while True:
            page = await drill_down(conn, OCTOBER, "dispatched", "numerator", "unit", c, cursor=cursor, limit=2)
            seen += await ids(page)
            pages += 1
            if page.next_cursor is None:
                break
            cursor = page.next_cursor
        with pytest.raises(ValueError):
            await drill_down(conn, OCTOBER, "dispatched", cursor="bm90IGEgY3Vyc29y")
    assert pages == 3
    # In the order they fall due: A4 (no deadline: dispatched 10-08), A1 10-15, A2 10-16, A3 10-20, A5 10-31.
    assert seen == [a["A4"], a["A1"], a["A2"], a["A3"], a["A5"]]


async def test_trend_has_every_day(seeded_pool: asyncpg.Pool, data: Data) -> None:
    c = str(data.units["C"])
    async with seeded_pool.acquire() as conn:
        points = await trend(conn, "reply_on_time_rate", between(date(2026, 10, 14), date(2026, 10, 17)), "unit", c)
        month = await trend(conn, "dispatched", OCTOBER)
        direct = await trend(conn, "direct_rate", between(date(2026, 10, 3), date(2026, 10, 5)))
    # 10-15: A1 on time 1/1; 10-16: A2 late 0/1; 10-14 and 10-17: nothing due -> None.
    assert [(p.day.day, p.numerator, p.denominator, p.value) for p in points] == [
        (14, 0, 0, None), (15, 1, 1, 1.0), (16, 0, 1, 0.0), (17, 0, 0, None),
    ]  # fmt: skip
    assert len(month) == 31 and sum(p.value for p in month) == 9
    # 10-31 holds A5 (23:30 Shanghai), not 11-01.
    assert month[-1].value == 1
    # 10-03: D1 1/1; 10-04: D2 1/1; 10-05: O1 0/1.
    assert [p.value for p in direct] == [1.0, 1.0, 0.0]


async def test_csv_export(seeded_pool: asyncpg.Pool, data: Data) -> None:
    async with seeded_pool.acquire() as conn:
        body = figures_csv(await figures(conn, OCTOBER, "unit"))
    assert body.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    header = rows[0]
    assert header[:3] == ["代码", "名称", "派单量"]
    by_code = {r[0]: dict(zip(header, r, strict=True)) for r in rows[1:]}
    cgj = by_code["city.cgj"]
    assert (cgj["名称"], cgj["派单量"], cgj["回复率(%)"], cgj["按时回复率(%)"], cgj["回访率(%)"]) == (
        "徐州市城市管理局", "5", "60.00", "40.00", "66.67",
    )  # fmt: skip
    assert by_code["street.320302002"]["回复率(%)"] == ""  # nothing dispatched: blank, not 0
    total = rows[-1]
    assert total[1] == "合计" and total[2] == "9"
    assert dict(zip(header, total, strict=True))["直接答复率(%)"] == "14.29"  # 2 / 14


async def test_real_actions_count_the_street_not_the_hub(seeded_pool: asyncpg.Pool) -> None:
    """The counting rule against the order actions themselves: a hub re-dispatches to a street,
    the street replies, both reviews accept, the citizen is reached. The street gets the
    assignment, the reply and the visit; the hub (whose assignment ends 'done') gets nothing."""
    from hotline.orders.states import Action
    from tests.orders_helpers import do, new_order, unit_id

    hub, street = await unit_id(seeded_pool, "hub.320302"), await unit_id(seeded_pool, "street.320302001")
    oid = (await new_order(seeded_pool))["id"]
    await do(seeded_pool, "agent1001", oid, Action.DISPATCH, unit_id=hub)
    await do(seeded_pool, "gulou", oid, Action.REDISPATCH, unit_id=street)
    await do(seeded_pool, "huanglou", oid, Action.SIGN)
    await do(seeded_pool, "huanglou", oid, Action.CONTACT, note="已电话联系")
    await do(seeded_pool, "huanglou", oid, Action.REPLY, text="已清理")
    await do(seeded_pool, "gulou", oid, Action.REVIEW, accept=True)
    await do(seeded_pool, "agent1001", oid, Action.REVIEW, accept=True)
    await do(seeded_pool, "agent1002", oid, Action.VISIT, reached=True, satisfaction="basically_satisfied",
             resolved=True)  # fmt: skip
    assert await seeded_pool.fetchval("SELECT status FROM assignments WHERE unit_id = $1", hub) == "done"
    period = between(today() - timedelta(days=1), today() + timedelta(days=120))
    async with seeded_pool.acquire() as conn:
        rows = by_key(await figures(conn, period))
    # The street: dispatched, signed and replied on time (just now), contacted at once, visited, 基本满意, resolved.
    assert pick(rows[str(street)], *ALL_COUNTS) == dict(zip(ALL_COUNTS, (1, 1, 1, 1, 0, 1, 1, 1, 1), strict=True))
    assert rows[str(hub)]["dispatched"] == 0


async def _drill_all(conn: asyncpg.Connection, metric: str, side: Any, group: Any, key: str | None) -> int:
    total, cursor = 0, None
    while True:
        page = await drill_down(conn, OCTOBER, metric, side, group, key, cursor=cursor, limit=3)
        total += len(page.items)
        if page.next_cursor is None:
            return total
        cursor = page.next_cursor


@pytest.mark.parametrize("group", ["unit", "district", "category"])
async def test_every_number_has_its_rows(seeded_pool: asyncpg.Pool, data: Data, group: Any) -> None:
    """For every rate, both sides, every row with something and the total: the drill-down lists
    as many rows as the table counts."""
    async with seeded_pool.acquire() as conn:
        table = await figures(conn, OCTOBER, group)
        for row in [*[r for r in table.rows if r.counts["dispatched"] or r.counts["received"]], table.total]:
            key = None if row is table.total else (row.key if row.key is not None else NULL_KEY)
            for metric, (numerator, denominator) in RATES.items():
                if metric == "direct_rate" and group == "unit" and key is not None:
                    continue  # orders have no unit
                for side, count in (("numerator", numerator), ("denominator", denominator)):
                    listed = await _drill_all(conn, metric, side, group, key)
                    assert listed == row.counts[count], (metric, side, row.key)


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r"])
async def test_csv_cells_cannot_be_formulas(seeded_pool: asyncpg.Pool, data: Data, start: str) -> None:
    name = f'{start}HYPERLINK("http://evil.example/","click")'
    await seeded_pool.execute("UPDATE units SET name = $1, code = $2 WHERE code = 'city.cgj'", name, start + "cgj")
    async with seeded_pool.acquire() as conn:
        body = figures_csv(await figures(conn, OCTOBER, "unit"))
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    [row] = [r for r in rows if r[1].endswith('HYPERLINK("http://evil.example/","click")')]
    assert row[0] == "'" + start + "cgj" and row[1] == "'" + name
    assert all(not cell.startswith(("=", "+", "-", "@", "\t", "\r")) for r in rows for cell in r)
