"""Routing throughput on the 徐州 gazetteer against the bare lookups, and accuracy per city.

    .venv/bin/python benchmarks/route.py            # in memory (default)
    .venv/bin/python benchmarks/route.py --db       # through PostgreSQL (DATABASE_URL)

Everything is read from the repository (a clone with nothing beside it runs it).

In memory: divisions parsed from the shipped 徐州 CSV (dispatch/data); categories, units and rules generated;
the Router snapshot built by the same pure function Router.load uses. With ``--db``: a
scratch database is created on DATABASE_URL's server, migrated, filled (divisions via
import_divisions, units and rules by bulk INSERT), a Router loaded from it with
``Router.load`` (load time printed), and the database dropped at the end.

Printed: decisions/s and µs per decision for Router.route over 100,000 varied addresses
with >= 2,000 rules, beside the bare work it is built on, measured in the same run:
the Aho-Corasick scan of the address (automaton.iter) and the dictionary probes of the
rule walk (dict.get over precomputed keys) — and the ratio of the two.

Then, for every corpus in tests/data/cities/<city>/ (division file, places, hand-written
texts with answers fixed by hand): exact street (of the texts naming one), right district
(of the texts naming a place), texts naming no place left unresolved, unresolved overall,
wrong answers at or above the review threshold, and µs per resolve on that city's texts.
The last line is one JSON object with all of it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import sys
import time
from pathlib import Path

from dispatch.corpus import city_resolver, read_corpus, score
from dispatch.divisions import Division, read_divisions
from dispatch.engine import Router, RouteRequest, Snapshot, build_snapshot
from dispatch.rules import KINDS, Rule
from dispatch.units import Unit

ROOT = Path(__file__).resolve().parent.parent
CSV = ROOT / "dispatch" / "data" / "xuzhou-320300.csv"
CITIES = ROOT / "tests" / "data" / "cities"
REPEAT = 200  # passes over each corpus when timing it
N_ADDRESSES = 100_000
ROADS = [
    "中山北路",
    "解放南路",
    "淮海东路",
    "建国西路",
    "人民路",
    "和平大道",
    "民主南路",
    "复兴北路",
    "工农路",
    "湖东路",
]
PLACES = ["小区门口", "菜市场", "小学旁边", "12号楼", "3单元", "幼儿园对面", "公交站", "工地", "超市后面", ""]
NOISE = ["我家在", "反映一下", "", "", "来电人称：", "地址是"]


def categories() -> dict[str, str]:
    cats: dict[str, str] = {}
    for a in range(1, 13):
        cats[f"{a:02d}"] = f"大类{a}"
        for b in range(1, 7):
            cats[f"{a:02d}{b:02d}"] = f"中类{a}-{b}"
            for c in range(1, 6):
                cats[f"{a:02d}{b:02d}{c:02d}"] = f"小类{a}-{b}-{c}"
    return cats


def units_for(divisions: list[Division]) -> list[Unit]:
    units: list[Unit] = []
    city = next(d for d in divisions if d.level == "city")

    def add(code: str, name: str, level: str, kind: str, division: str, parent: int | None = None) -> int:
        uid = len(units) + 1
        units.append(Unit(uid, code, name, level, kind, parent, division))  # type: ignore[arg-type]
        return uid

    add("centre", "徐州市12345热线中心", "city", "centre", city.code)
    for i in range(14):
        add(f"city.{i}", f"市级部门{i}", "city", "agency", city.code)
    hubs: dict[str, int] = {}
    for d in (d for d in divisions if d.level == "district"):
        hubs[d.code] = add(f"hub.{d.code}", f"{d.name}分中心", "district", "hub", d.code)
        for i in range(6):
            add(f"district.{d.code}.{i}", f"{d.name}部门{i}", "district", "agency", d.code, hubs[d.code])
    for s in (d for d in divisions if d.level == "street"):
        add(f"street.{s.code}", f"{s.name}办事处", "street", "office", s.code, hubs[s.parent_code or ""])
    return units


def rules_for(divisions: list[Division], units: list[Unit], cats: dict[str, str], rng: random.Random) -> list[Rule]:
    by_code = {u.code: u.id for u in units}
    districts = [d for d in divisions if d.level == "district"]
    streets = [d for d in divisions if d.level == "street"]
    tops = [c for c in cats if len(c) == 2]
    mids = [c for c in cats if len(c) == 4]
    leaves = [c for c in cats if len(c) == 6]
    rules: dict[tuple[str | None, str, str | None, str], Rule] = {}
    units_at: set[tuple[str | None, str, str | None, int]] = set()

    def add(category: str | None, prefix: str, kind: str | None, unit: int, role: str = "lead") -> None:
        # The same constraints as the store: one lead per key, a unit once per key.
        key = (category, prefix, kind, role if role == "lead" else f"assist{unit}")
        if key not in rules and (category, prefix, kind, unit) not in units_at:
            units_at.add((category, prefix, kind, unit))
            rules[key] = Rule(len(rules) + 1, category, prefix, kind, unit, role)  # type: ignore[arg-type]

    for i, c in enumerate(tops):
        add(c, "", None, by_code[f"city.{i % 14}"])
    for c in mids:
        for d in districts:
            add(c, d.code, None, by_code[f"district.{d.code}.{rng.randrange(6)}"])
    while len(rules) < 1_800:
        s = rng.choice(streets)
        add(rng.choice(leaves), s.code, None, by_code[f"street.{s.code}"])
    while len(rules) < 2_100:
        d = rng.choice(districts)
        add(rng.choice(mids), d.code, rng.choice(KINDS), by_code[f"hub.{d.code}"])
    while len(rules) < 2_300:
        d = rng.choice(districts)
        add(rng.choice(mids), d.code, None, by_code[f"district.{d.code}.{rng.randrange(6)}"], "assist")
    return list(rules.values())


def short(name: str) -> str:
    for suffix in ("街道", "镇", "乡", "区", "县", "市"):
        if name.endswith(suffix) and len(name) - len(suffix) >= 2:
            return name[: -len(suffix)]
    return name


def addresses(divisions: list[Division], rng: random.Random, n: int) -> list[str]:
    by_code = {d.code: d for d in divisions}
    streets = [d for d in divisions if d.level == "street"]
    districts = [d for d in divisions if d.level == "district"]
    out: list[str] = []
    for _ in range(n):
        s = rng.choice(streets)
        d = by_code[s.parent_code or ""]
        road = f"{rng.choice(ROADS)}{rng.randrange(1, 300)}号{rng.choice(PLACES)}"
        form = rng.randrange(8)
        if form == 0:
            text = f"徐州市{d.name}{s.name}{road}"
        elif form == 1:
            text = f"{short(d.name)} {short(s.name)} {road}"
        elif form == 2:
            text = f"{short(s.name)}街办{road}"
        elif form == 3:
            text = f"{rng.choice(districts).name}{road}"
        elif form == 4:
            text = f"{d.name}{short(s.name)}{road}"
        elif form == 5:
            text = road  # no place at all
        elif form == 6:
            text = f"{s.name}{road}"
        else:
            text = f"{short(d.name)}{s.name}附近，{road}"
        out.append(rng.choice(NOISE) + text)
    return out


def orders(addrs: list[str], cats: dict[str, str], rng: random.Random) -> list[RouteRequest]:
    codes = [c for c in cats if len(c) >= 4]
    return [RouteRequest(rng.choice(codes), rng.choice(KINDS), a) for a in addrs]


async def load_through_db(url: str, divisions_csv: Path, snap: Snapshot) -> tuple[Router, float]:
    import asyncpg

    from dispatch.divisions import import_divisions

    sys.path.insert(0, str(ROOT))  # the scratch database helper lives with the tests
    from tests.scratch import scratch_database

    async with scratch_database(url, migrate=True, prefix="bench_route") as db_url:
        conn = await asyncpg.connect(db_url)
        try:
            await import_divisions(conn, divisions_csv)
            await conn.executemany(
                "INSERT INTO categories (code, name, parent_code) VALUES ($1, $2, $3)",
                [(c, n, c[:-2] or None) for c, n in sorted(snap.categories.items())],
            )
            await conn.executemany(
                """INSERT INTO units (id, code, name, level, kind, parent_id, division_code)
                   VALUES ($1, $2, $3, $4, $5, $6, $7)""",
                [(u.id, u.code, u.name, u.level, u.kind, u.parent_id, u.division_code) for u in snap.units.values()],
            )
            rules = [*snap.rules.leads.values(), *(a for group in snap.rules.assists.values() for a in group)]
            await conn.executemany(
                """INSERT INTO dispatch_rules (id, category_code, division_prefix, kind, unit_id, role)
                   VALUES ($1, $2, $3, $4, $5, $6)""",
                [(r.id, r.category_code, r.division_prefix, r.kind, r.unit_id, r.role) for r in rules],
            )
            started = time.perf_counter()
            router = await Router.load(conn)
            return router, time.perf_counter() - started
        finally:
            await conn.close()


def accuracy() -> dict[str, dict[str, float | int]]:
    """Score and time the resolver on every corpus of our own."""
    out: dict[str, dict[str, float | int]] = {}
    for city in sorted(p for p in CITIES.iterdir() if (p / "texts.csv").exists()):
        resolver = city_resolver(city)
        cases = read_corpus(city / "texts.csv")
        rates = score(resolver, cases).rates()
        texts = [c.text for c in cases]
        t = time.perf_counter()
        for _ in range(REPEAT):
            for text in texts:
                resolver.resolve(text)
        rates["resolve_us"] = round((time.perf_counter() - t) / (REPEAT * len(texts)) * 1e6, 2)
        out[city.name] = rates
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", action="store_true", help="load the Router through PostgreSQL (DATABASE_URL)")
    parser.add_argument("-n", type=int, default=N_ADDRESSES, help="number of addresses (default 100000)")
    args = parser.parse_args()
    rng = random.Random(12345)

    divisions = read_divisions(CSV)
    cats = categories()
    units = units_for(divisions)
    rules = rules_for(divisions, units, cats, rng)
    started = time.perf_counter()
    snap = build_snapshot(divisions, [], rules, units, cats)
    build_s = time.perf_counter() - started
    router = Router(snap)
    if args.db:
        url = os.environ.get("DATABASE_URL")
        if not url:
            raise SystemExit("--db needs DATABASE_URL")
        router, load_s = asyncio.run(load_through_db(url, CSV, snap))
        print(f"Router.load from PostgreSQL: {load_s * 1000:.1f} ms")
        snap = router.snapshot
    reqs = orders(addresses(divisions, rng, args.n), cats, rng)
    print(f"{len(divisions)} divisions, {router.resolver.form_count} surface forms, {snap.rules.size} rules, "
          f"{len(units)} units, {len(cats)} categories, {len(reqs)} orders; snapshot built in {build_s * 1000:.1f} ms")  # fmt: skip

    # Warm-up, then the bare work: the AC scan and the dict probes of the rule walk.
    for r in reqs[:2000]:
        router.route(r)
    automaton = router.resolver._automaton
    assert automaton is not None
    texts = [r.address for r in reqs]
    t = time.perf_counter()
    for text in texts:
        for _ in automaton.iter(text):
            pass
    scan_s = time.perf_counter() - t

    resolved = [router.resolver.resolve(r.address).code for r in reqs]
    key_lists = [snap.rules.keys_for(r.category_code, code, r.kind) for r, code in zip(reqs, resolved, strict=True)]
    leads = snap.rules.leads
    t = time.perf_counter()
    for keys in key_lists:
        for k in keys:
            if leads.get(k) is not None:
                break
    probe_s = time.perf_counter() - t

    t = time.perf_counter()
    for r in reqs:
        router.resolver.resolve(r.address)
    resolve_s = time.perf_counter() - t
    t = time.perf_counter()
    for r, code in zip(reqs, resolved, strict=True):
        snap.rules.lookup(r.category_code, code, r.kind, snap.usable)
    lookup_s = time.perf_counter() - t

    latencies: list[int] = []
    outcomes: dict[str, int] = {}
    clock = time.perf_counter_ns
    t = time.perf_counter()
    for r in reqs:
        t0 = clock()
        d = router.route(r)
        latencies.append(clock() - t0)
        outcomes[d.outcome] = outcomes.get(d.outcome, 0) + 1
    route_s = time.perf_counter() - t

    n = len(reqs)
    bare_s = scan_s + probe_s
    q = statistics.quantiles(latencies, n=100)
    print()
    print(f"{'step':<42}{'per second':>14}{'µs each':>10}")
    for label, secs in [
        ("bare: Aho-Corasick scan (automaton.iter)", scan_s),
        ("bare: rule-walk dict probes (dict.get)", probe_s),
        ("bare: both", bare_s),
        ("resolver.resolve", resolve_s),
        ("rule index lookup", lookup_s),
        ("Router.route (full decision + reasons)", route_s),
    ]:
        print(f"{label:<42}{n / secs:>14,.0f}{secs / n * 1e6:>10.2f}")
    print()
    print(f"route / bare lookups: {route_s / bare_s:.1f}x   (resolve {resolve_s / scan_s:.1f}x the scan, "
          f"lookup {lookup_s / probe_s:.1f}x the probes)")  # fmt: skip
    print(f"route latency µs: p50 {q[49] / 1000:.1f}  p90 {q[89] / 1000:.1f}  p99 {q[98] / 1000:.1f}  "
          f"max {max(latencies) / 1000:.1f}")  # fmt: skip
    print(f"outcomes: {outcomes}; resolved to a division: {sum(1 for c in resolved if c) / n:.1%}")

    cities = accuracy()
    print()
    print(f"{'city':<12}{'texts':>6}{'exact street':>14}{'right district':>16}{'no place unres.':>17}"
          f"{'unresolved':>12}{'wrong >= review':>17}{'µs/resolve':>12}")  # fmt: skip
    for name, r in cities.items():
        print(f"{name:<12}{r['texts']:>6}{r['exact_street_pct']:>13.1f}%{r['right_district_pct']:>15.1f}%"
              f"{r['no_place_unresolved_pct']:>16.1f}%{r['unresolved']:>12}{r['wrong_at_or_above_review']:>17}"
              f"{r['resolve_us']:>12.2f}")  # fmt: skip
    print(
        json.dumps(
            {
                "benchmark": "route",
                "orders": n,
                "route_us": round(route_s / n * 1e6, 2),
                "route_p99_us": round(q[98] / 1000, 1),
                "bare_us": round(bare_s / n * 1e6, 2),
                "route_over_bare": round(route_s / bare_s, 1),
                "cities": cities,
            },
            ensure_ascii=False,
        )
    )


if __name__ == "__main__":
    main()
