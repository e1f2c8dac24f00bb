"""The duplicate check at intake on 2,000,000 orders, beside a bare indexed query on the same data.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres .venv/bin/python benchmarks/repeat_check.py \\
        [--orders 2000000] [--runs 500]

A scratch database of a unique name is loaded with ``--orders`` orders spread over a year
(``INSERT … SELECT FROM generate_series``): 300,000 callers, every 徐州 street, every
category, contents composed from places, problems and endings as callers word them. The
signatures the detector keeps (the last 8 days: its content window and a day, what the assist
worker's pruning leaves) are computed by the same code intake runs. Then ``VACUUM ANALYZE``,
and ``--runs`` checks of orders taken in the last day (``candidates.find``: three index
lookups, fetching and scoring the candidates), against the bare baseline: the caller index
lookup alone. Goal: p99 under 20 ms. Ends with one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import time
from datetime import UTC, datetime, timedelta

from scratch import latencies, pct, scratch_database, step

from hotline import chinese
from hotline.similar import candidates, minhash

END = datetime(2026, 10, 31, 16, 0, tzinfo=UTC)
PLACES = ["和平小区", "金鼎小区", "彭城新村", "幸福里", "九里山小区", "东苑小区", "琵琶花园", "新城花园", "中山北路",
          "复兴南路", "民主北路", "淮海西路", "建国东路", "铜沛路", "黄河路", "户部山", "段庄菜市场", "牌楼市场",
          "故黄河边", "解放南路", "云龙湖", "矿山路", "三环北路", "苏堤路", "大学路", "湖滨新城", "汉源大道",
          "淮塔东路", "和信广场", "万达广场"]  # fmt: skip
PROBLEMS = ["停水一整天了没有通知", "路灯晚上不亮", "井盖丢了很危险", "下雨积水排不出去", "电梯坏了没人修",
            "突然停电两个小时", "饭店卫生很差吃了拉肚子", "垃圾好几天没人清运", "广场舞音响太吵",
            "违章搭建彩钢房", "公交车不停站", "楼道里有燃气味", "装修公司拖欠工资", "路面破损有大坑",
            "晚上有人聚众赌博", "买的衣服质量有问题商家不退", "暖气不热", "培训机构卷款跑路", "宽带断网两天",
            "医生态度很差", "烧烤油烟直排", "河里有人偷排污水", "红绿灯坏了", "学区划分不合理", "工地夜间施工噪声大",
            "占道经营摆摊", "小区物业不作为", "停车位被占用", "共享单车乱停", "树木倒伏挡路"]  # fmt: skip
ENDINGS = ["希望尽快处理", "请相关部门管一管", "已经好几天了", "老人孩子受不了", "多次反映没有结果", ""]

LOAD_ORDERS = """
INSERT INTO work_orders (number, kind, category_code, content, address, division_code, caller_number, status,
                         created_at, updated_at)
SELECT to_char(t.at AT TIME ZONE 'Asia/Shanghai', 'YYYYMMDD') || '-' || lpad((g % 1000000)::text, 6, '0'),
       (ARRAY['consult', 'help', 'complaint', 'report', 'suggestion'])[1 + g % 5],
       ($3::text[])[1 + (g * 7) % cardinality($3::text[])],
       ($5::text[])[1 + (g * 31) % cardinality($5::text[])] || ($6::text[])[1 + (g * 17) % cardinality($6::text[])]
           || '，' || ($7::text[])[1 + (g * 11) % cardinality($7::text[])],
       ($5::text[])[1 + (g * 31) % cardinality($5::text[])] || (g % 200)::text || '号',
       ($4::text[])[1 + (g * 13) % cardinality($4::text[])],
       '139' || lpad(((g::bigint * 7919) % 300000)::text, 8, '0'),
       'dispatched', t.at, t.at
FROM generate_series(1, $1::int) g,
     LATERAL (SELECT $2::timestamptz - interval '365 days' + (g::float8 / $1) * interval '365 days' AS at) t
"""


async def load(conn, orders: int) -> None:
    categories = [r["code"] for r in await conn.fetch("SELECT code FROM categories ORDER BY code")]
    streets = [r["code"] for r in await conn.fetch("SELECT code FROM divisions WHERE level = 'street' ORDER BY code")]
    await step(conn, "orders", LOAD_ORDERS, orders, END, categories, streets, PLACES, PROBLEMS, ENDINGS)
    t = time.perf_counter()
    recent = await conn.fetch(
        "SELECT id, content, created_at FROM work_orders WHERE created_at > $1", END - timedelta(days=8)
    )
    rows = [(b, r["created_at"], r["id"]) for r in recent for b in minhash.bands(chinese.token_set(r["content"]))]
    await conn.copy_records_to_table(
        "order_signatures", records=rows, columns=["band_hash", "created_at", "order_id"], timeout=3600
    )
    print(f"  signatures (last 8 days)    {len(rows):>10} rows {time.perf_counter() - t:8.1f} s", file=sys.stderr)
    t = time.perf_counter()
    await conn.execute("VACUUM ANALYZE", timeout=3600)
    print(f"  vacuum analyze {time.perf_counter() - t:8.1f} s", file=sys.stderr, flush=True)


async def main(args: argparse.Namespace) -> None:
    async with scratch_database("hotline_bench_repeat_check") as conn:
        t = time.perf_counter()
        await load(conn, args.orders)
        print(f"  loaded in {time.perf_counter() - t:.0f} s", file=sys.stderr)
        probe_ids = [r["id"] for r in await conn.fetch(
            "SELECT id FROM work_orders WHERE created_at > $1 ORDER BY id", END - timedelta(days=1))]  # fmt: skip
        rng = random.Random(7)
        picks = [rng.choice(probe_ids) for _ in range(args.runs + 10)]
        probes = [await candidates.probe_of(conn, oid) for oid in picks]
        shown = []

        async def check(i: int) -> None:
            shown.append(len(await candidates.find(conn, probes[i % len(probes)])))

        async def bare(i: int) -> None:
            p = probes[i % len(probes)]
            await conn.fetch(
                """SELECT id FROM work_orders WHERE caller_number = $1 AND created_at >= $2 AND created_at <= $3
                   ORDER BY created_at DESC LIMIT 50""",
                p.caller_number, p.at - timedelta(days=30), p.at,
            )  # fmt: skip

        base = await latencies(bare, args.runs)
        full = await latencies(check, args.runs)
    result = {
        "benchmark": "repeat_check",
        "orders": args.orders,
        "runs": args.runs,
        "check_p50_ms": pct(full, 50),
        "check_p99_ms": pct(full, 99),
        "bare_p50_ms": pct(base, 50),
        "bare_p99_ms": pct(base, 99),
        "ratio_p99": round(pct(full, 99) / max(pct(base, 99), 0.001), 1),
        "candidates_shown_avg": round(sum(shown) / len(shown), 1),
        "goal_p99_ms": 20,
    }
    print(json.dumps(result))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=2_000_000)
    parser.add_argument("--runs", type=int, default=500)
    asyncio.run(main(parser.parse_args()))
