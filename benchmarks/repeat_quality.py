"""Precision and recall of the repeat/duplicate detector on the labelled set (repeat_set.py).

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres .venv/bin/python benchmarks/repeat_quality.py

Every report of the set is taken in, in time order, into a scratch database (rows and
signatures, as intake writes them); then for each labelled pair the later order's candidates
are asked for, as the agent's desk does. A pair is predicted a repeat when the earlier order
is among the candidates shown. Prints the confusion counts, precision and recall overall and
per reason, and ends with one JSON line.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections import Counter
from datetime import UTC, datetime, timedelta

from scratch import scratch_database

from benchmarks.repeat_set import START_OFFSET, build
from hotline.similar import candidates
from hotline.similar.signatures import index_order

EVALUATED_AT = datetime(2026, 6, 1, tzinfo=UTC)


async def main() -> None:
    reports, pairs = build()
    start = EVALUATED_AT - START_OFFSET
    async with scratch_database("hotline_bench_repeat_quality") as conn:
        ids: dict[str, int] = {}
        for n, r in enumerate(sorted(reports, key=lambda r: r.hours)):
            at = start + timedelta(hours=r.hours)
            ids[r.key] = await conn.fetchval(
                """INSERT INTO work_orders (number, kind, content, address, division_code, category_code,
                                            caller_number, status, created_at)
                   VALUES ($1, 'complaint', $2, $3, $4, $5, $6, 'received', $7) RETURNING id""",
                f"20260601-{n:06d}", r.content, r.address, r.division_code, r.category_code, r.caller_number, at,
            )  # fmt: skip
            await index_order(conn, ids[r.key], r.content, at)
        shown: dict[str, dict[int, set[str]]] = {}
        for key, oid in ids.items():
            found = await candidates.find(conn, await candidates.probe_of(conn, oid))
            shown[key] = {c["id"]: {x["code"] for x in c["reasons"]} for c in found}
    counts: Counter[str] = Counter()
    by_reason: Counter[tuple[str, bool]] = Counter()
    for earlier, later, is_repeat in pairs:
        reasons = shown[later].get(ids[earlier])
        predicted = reasons is not None
        counts[{(True, True): "tp", (False, True): "fp", (True, False): "fn", (False, False): "tn"}[
            (is_repeat, predicted)]] += 1  # fmt: skip
        for code in reasons or ():
            by_reason[(code, is_repeat)] += 1
    precision = counts["tp"] / max(1, counts["tp"] + counts["fp"])
    recall = counts["tp"] / max(1, counts["tp"] + counts["fn"])
    print(f"{len(pairs)} labelled pairs ({sum(p[2] for p in pairs)} repeats), {len(reports)} orders", file=sys.stderr)
    print(f"  tp {counts['tp']}  fp {counts['fp']}  fn {counts['fn']}  tn {counts['tn']}", file=sys.stderr)
    reasons = {}
    for code in ("same_caller", "same_place", "similar_content"):
        hit, miss = by_reason[(code, True)], by_reason[(code, False)]
        reasons[code] = {"fired_on_repeats": hit, "fired_on_distinct": miss,
                         "precision": round(hit / max(1, hit + miss), 3)}  # fmt: skip
        print(f"  {code:<16} on repeats {hit:4d}  on distinct pairs {miss:4d}", file=sys.stderr)
    print(json.dumps({"benchmark": "repeat_quality", "pairs": len(pairs), **counts,
                      "precision": round(precision, 3), "recall": round(recall, 3), "reasons": reasons}))  # fmt: skip


if __name__ == "__main__":
    asyncio.run(main())
