"""First-load timings of each console page on the demo data, in a real browser.

Builds a fresh database with ``hotline demo``'s whole scenario (calls, orders, replies,
visits), serves it, and loads each role's page in Debian's Chromium: the time from navigation until the page's API calls are done.
The baseline is the sign-in page (no data, no script) measured in the same run. Then 10,000 open assignments are added for
黄楼街道办事处: its inbox must stay paged (50 rows, "加载更多"). ``--screenshots DIR`` also saves each role's
main page (these are the README's docs/screenshots/*.png). Ends with one JSON line.

    DATABASE_URL=… REDIS_URL=… python benchmarks/console.py [--screenshots docs/screenshots]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
import uuid
from pathlib import Path

import asyncpg
from aiohttp import web
from playwright.async_api import Browser, async_playwright

from hotline import db
from hotline.api.app import create_app
from hotline.cli import DEFAULT_DIVISIONS, DEFAULT_TRACE
from hotline.config import Settings
from hotline.demo.runner import Demo
from hotline.seed import DEMO_PASSWORD

CHROMIUM = "/usr/bin/chromium"
PAGES = [("agent1001", "/desk", "desk"), ("huanglou", "/inbox", "inbox"), ("supervisor", "/supervisor", "supervisor")]
BULK = 10_000


async def add_open_assignments(url: str, unit_code: str, count: int) -> None:
    """``count`` dispatched orders for one unit, written in bulk (the lifecycle is not what is measured)."""
    conn = await asyncpg.connect(url)
    try:
        unit_id = await conn.fetchval("SELECT id FROM units WHERE code = $1", unit_code)
        await conn.execute(
            """WITH o AS (
                 INSERT INTO work_orders (number, kind, content, address, status, caller_number, category_code)
                 SELECT '20000101-' || lpad(g::text, 6, '0'), 'complaint', '批量工单 ' || g, '鼓楼区黄楼街道', 'dispatched',
                        '1390000' || lpad((g % 10000)::text, 4, '0'), '010101'
                 FROM generate_series(1, $2) g RETURNING id)
               INSERT INTO assignments (order_id, unit_id, level, status, dispatched_at, sign_due_at, reply_due_at)
               SELECT o.id, $1, 'street', 'dispatched', now(), now() + interval '2 hours', now() + interval '10 days'
               FROM o""",
            unit_id,
            count,
        )
        await conn.execute("ANALYZE work_orders; ANALYZE assignments")
    finally:
        await conn.close()


async def first_load(browser: Browser, base: str, username: str, path: str, shots: Path | None, name: str) -> dict:
    context = await browser.new_context(viewport={"width": 1366, "height": 768}, locale="zh-CN")
    page = await context.new_page()
    await page.goto(f"{base}/login")
    await page.get_by_label("用户名").fill(username)
    await page.get_by_label("密码").fill(DEMO_PASSWORD)
    await page.get_by_role("button", name="登录").click()
    await page.wait_for_load_state("networkidle")
    started = time.perf_counter()
    await page.goto(base + path)
    await page.wait_for_selector("body[data-ready]")
    seconds = time.perf_counter() - started
    out = {"page": path, "seconds": round(seconds, 3)}
    if shots is not None:
        if path == "/inbox":  # the demo's assignments are all answered: show them all, one in detail
            await page.select_option("#filter select", "")
            await page.wait_for_selector("#assignments tbody tr[data-id]")
            await page.locator("#assignments tbody tr[data-id] button").first.click()
            await page.wait_for_selector("#detail .detail")
        await page.wait_for_timeout(500)  # charts finish their animation
        await page.screenshot(path=str(shots / f"{name}.png"))
    await context.close()
    return out


async def paged_inbox(browser: Browser, base: str) -> dict:
    context = await browser.new_context(viewport={"width": 1366, "height": 768})
    page = await context.new_page()
    await page.goto(f"{base}/login")
    await page.get_by_label("用户名").fill("huanglou")
    await page.get_by_label("密码").fill(DEMO_PASSWORD)
    started = time.perf_counter()
    await page.get_by_role("button", name="登录").click()
    await page.wait_for_selector("body[data-ready]")
    seconds = time.perf_counter() - started
    rows = await page.locator("#assignments tbody tr[data-id]").count()
    more = await page.locator("#more").is_visible()
    await page.locator("#more").click()
    await page.wait_for_function("() => document.querySelectorAll('#assignments tbody tr[data-id]').length > 50")
    after = await page.locator("#assignments tbody tr[data-id]").count()
    await context.close()
    return {"seconds": round(seconds, 3), "rows_first_page": rows, "more_button": more, "rows_after_more": after}


async def main(shots: Path | None) -> dict:
    settings = Settings()
    assert settings.database_url and settings.redis_url, "set DATABASE_URL and REDIS_URL"
    name = f"console_bench_{uuid.uuid4().hex[:8]}"
    await Demo(settings, DEFAULT_TRACE, DEFAULT_DIVISIONS, lambda _line: None, database=name).run()
    url = db.with_database(settings.database_url, name)
    runner = None
    try:
        runner = web.AppRunner(create_app(settings.model_copy(update={"database_url": url, "roles": ["api"]})))
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        base = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"  # type: ignore[union-attr]
        async with async_playwright() as p:
            browser = await p.chromium.launch(executable_path=CHROMIUM, args=["--lang=zh-CN"])
            context = await browser.new_context()
            page = await context.new_page()
            await page.goto(f"{base}/login")  # warm-up
            started = time.perf_counter()
            await page.goto(f"{base}/login", wait_until="networkidle")
            baseline = time.perf_counter() - started
            await context.close()
            pages = [await first_load(browser, base, u, path, shots, n) for u, path, n in PAGES]
            await add_open_assignments(url, "street.320302001", BULK)  # after the screenshots of the demo data
            inbox = await paged_inbox(browser, base)
            await browser.close()
    finally:
        if runner is not None:
            await runner.cleanup()
        await db.drop_database(settings.database_url, name)
    slowest = max(p["seconds"] for p in pages)
    return {
        "benchmark": "console_first_load",
        "baseline_login_s": round(baseline, 3),
        "pages": pages,
        "slowest_s": slowest,
        "slowest_vs_login": round(slowest / baseline, 1) if baseline else None,
        "goal_s": 1.0,
        "under_goal": slowest < 1.0,
        "inbox_10000": inbox,
        "inbox_paged": inbox["rows_first_page"] == 50 and inbox["more_button"],
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--screenshots", type=Path, default=None)
    args = parser.parse_args()
    os.environ.setdefault("HOTLINE_LOG_LEVEL", "WARNING")
    if args.screenshots is not None:
        args.screenshots.mkdir(parents=True, exist_ok=True)
    result = asyncio.run(main(args.screenshots))
    for p in result["pages"]:
        print(f"{p['page']:<12} {p['seconds']:.3f} s")
    print(f"inbox with {BULK} assignments: {result['inbox_10000']}")
    print(json.dumps(result, ensure_ascii=False))
