"""The console in a real browser (Debian's Chromium driven by Playwright) against the real
server on real PostgreSQL and Redis: one order's whole life across the roles' browsers, a
unit reaching for another unit's order, an expired session, a server error."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import shutil
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from zoneinfo import ZoneInfo

import aiohttp
import asyncpg
import pytest

from adapters.ami.replay import ReplayServer
from hotline.seed import DEMO_PASSWORD
from tests.ami_helpers import SECRET, USER, trace
from tests.api_helpers import Client, running_server

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
playwright_api = pytest.importorskip("playwright.async_api", reason="pip install playwright to run the browser tests")
pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).exists(), reason="needs Debian's chromium (apt-get install chromium fonts-noto-cjk)"
)
WAIT = 20_000  # ms: the inbox polls every 10 s


@pytest.fixture
async def browser() -> AsyncIterator[playwright_api.Browser]:
    # Neither Playwright's driver nor Chromium starts under libfaketime (CI runs the suite again with
    # the clock moved): they keep the real clock; the server under test keeps the moved one.
    preload = os.environ.pop("LD_PRELOAD", None)
    try:
        p = await playwright_api.async_playwright().start()
    finally:
        if preload is not None:
            os.environ["LD_PRELOAD"] = preload
    try:
        b = await p.chromium.launch(executable_path=CHROMIUM)
        yield b
        await b.close()
    finally:
        await p.stop()


async def signed_in(
    browser: playwright_api.Browser, base: str, username: str, *, fake_timers: bool = False
) -> playwright_api.Page:
    """``fake_timers``: the page's timers run on Playwright's clock (``page.clock.run_for``)."""
    context = await browser.new_context(viewport={"width": 1366, "height": 768}, locale="zh-CN")
    context.set_default_timeout(40_000)  # a loaded CI machine; a passing run takes a fraction of it
    if fake_timers:
        await context.clock.install()
    page = await context.new_page()
    await page.goto(f"{base}/login")
    await page.get_by_label("用户名").fill(username)
    await page.get_by_label("密码").fill(DEMO_PASSWORD)
    await page.get_by_role("button", name="登录").click()
    # Not just any h1: the page's h1 is parsed before its scripts run, and a test acting then (say,
    # choosing a period whose change handler is not attached yet) races the page. data-ready is set
    # once the page's script has run and its first data is in.
    await page.wait_for_selector("body[data-ready]", state="attached")
    return page


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _shanghai_today() -> dt.date:
    """The server's day (its clock sets the deadlines the figures count by); the test shares its process."""
    return dt.datetime.now(ZoneInfo("Asia/Shanghai")).date()


async def _dispatched_total(page: playwright_api.Page) -> int:
    cell = page.locator("#figures tr.total td").first
    return int(await cell.inner_text())


async def test_one_orders_whole_life_across_the_roles_browsers(
    browser: playwright_api.Browser, seeded_database_url: str, redis_url: str, shared_dir: Path
) -> None:
    server = ReplayServer(trace(shared_dir, "basic"), username=USER, secret=SECRET, gate_actions=())
    port = _free_port()
    nodes = f"ami://{USER}:{SECRET}@127.0.0.1:{port}/pbx1?ping_interval=5&reconnect_min=0.05&reconnect_max=0.2"
    today = _shanghai_today()
    try:
        async with running_server(seeded_database_url, redis_url, ami_nodes=nodes, roles=["api", "ami"]) as base:
            # The supervisor looks at a range that holds the new order's reply-by, whatever day it is.
            boss = await signed_in(browser, base, "supervisor")
            assert await boss.locator("h1").inner_text() == "监督与统计"
            await boss.select_option("select[name=period]", "range")
            await boss.fill("input[name=from]", (today - dt.timedelta(days=1)).isoformat())
            await boss.fill("input[name=to]", (today + dt.timedelta(days=90)).isoformat())
            await boss.get_by_role("button", name="查询").click()
            await boss.wait_for_selector("#figures tr.total")
            before = await _dispatched_total(boss)

            agent = await signed_in(browser, base, "agent1001")
            assert await agent.locator("h1").inner_text() == "话务员工作台"
            await agent.wait_for_selector("#live-state.live")
            hub = await signed_in(browser, base, "gulou")
            assert await hub.locator("h1").inner_text() == "承办单位工作台"

            # Asterisk answers a call for agent 1001: the screen-pops by itself.
            await server.start(port=port)
            await agent.locator("#new-on-call").click(timeout=WAIT)
            caller = await agent.locator("#order-form input[name=caller_number]").input_value()
            assert caller
            await agent.fill("#order-form textarea[name=content]", "小区门口占道经营，影响通行")
            await agent.select_option("#order-form select[name=kind]", "complaint")
            await agent.fill("#category-search", "占道")
            await agent.locator("#category-tree button[data-code='010101']").click()
            await agent.fill("#order-form input[name=address]", "鼓楼区黄楼街道中山北路88号")
            await agent.wait_for_selector("#route-unit:has-text('鼓楼区12345分中心')")
            assert await agent.locator("#needs-review").count() == 0
            await agent.get_by_role("button", name="受理", exact=True).click()
            number = await agent.locator("#current-number").inner_text()
            await agent.locator("#dispatch-suggested").click()
            await agent.wait_for_selector("#current-status:has-text('已派单')")

            # The hub's inbox shows it without a reload; the hub sends it down on the engine's suggestion.
            row = hub.locator("#assignments tbody tr", has_text=number)
            await row.get_by_role("button", name=number).click(timeout=WAIT)
            await hub.locator("#redispatch-suggested:has-text('黄楼街道办事处')").click()
            await hub.wait_for_selector("#detail-status:has-text('已转派')")

            street = await signed_in(browser, base, "huanglou", fake_timers=True)
            await street.locator("#assignments").get_by_role("button", name=number).click()
            # The citizen allowed contact: the office sees the number; anonymity would hide it.
            assert caller[-4:] in await street.locator("#detail-caller").inner_text()
            await street.locator("#sign").click()
            await street.wait_for_selector("#detail-status:has-text('已签收')")
            await street.fill("#reply-text", "已联系城管中队清理占道摊点，恢复通行")
            # The inbox polls every 10 s: a poll while the handler types must not wipe the reply.
            async with street.expect_response(lambda r: "/api/units/me/assignments?" in r.url):
                await street.clock.run_for(11_000)
            await asyncio.sleep(1)  # what the poll does with its answer
            assert await street.locator("#reply-text").input_value() == "已联系城管中队清理占道摊点，恢复通行"
            await street.get_by_role("button", name="提交回复").click()
            await street.wait_for_selector("#detail-status:has-text('已回复')")

            await hub.reload()
            await hub.locator("#assignments").get_by_role("button", name=number).click()
            await hub.locator("#review-accept").click()
            await hub.wait_for_selector("#flash.ok")

            # The centre reviews the reply and records the visit beside it.
            await agent.locator("#visits-refresh").click()
            await agent.locator(f"#visits button[data-order='{number}']").click()
            await agent.locator("#review-accept").click()
            await agent.wait_for_selector("#visit-form")
            assert "恢复通行" in await agent.locator("#reply-text").inner_text()
            await agent.select_option("#visit-satisfaction", "satisfied")
            await agent.get_by_role("button", name="提交回访").click()
            await agent.wait_for_selector("#flash.ok:has-text('回访已记录')")

            # The supervisor's numbers moved, and the number leads to the order.
            await boss.get_by_role("button", name="查询").click()
            await boss.wait_for_function(
                "b => Number(document.querySelector('#figures tr.total td').innerText) > b", arg=before
            )
            await boss.locator("#figures tr.total td a").first.click()
            await boss.locator("#drill a.order-link", has_text=number).click()
            await boss.wait_for_selector(f"#order-detail .detail:has-text('{number}')")
            assert "已回访" in await boss.locator("#order-detail").inner_text()
    finally:
        if server._server is not None:
            await server.close()


async def test_a_unit_cannot_open_another_units_order(
    browser: playwright_api.Browser, seeded_database_url: str, redis_url: str
) -> None:
    async with running_server(seeded_database_url, redis_url) as base, aiohttp.ClientSession() as session:
        agent = await Client(session, base).login("agent1001")
        _, units = await agent.request("GET", "/api/admin/units")
        cgj = next(u["id"] for u in units["items"] if u["code"] == "city.cgj")
        _, order = await agent.request("POST", "/api/orders", json={
            "kind": "complaint", "content": "秘密举报内容", "caller_number": "13900001111"})  # fmt: skip
        status, _ = await agent.request(
            "POST", f"/api/orders/{order['id']}/actions/dispatch", json={"unit_id": cgj, "override_reason": "测试派单"}
        )
        assert status == 200
        _, full = await agent.request("GET", f"/api/orders/{order['id']}")
        assignment_id = full["assignments"][0]["id"]

        page = await signed_in(browser, base, "huanglou")
        await page.goto(f"{base}/inbox#assignment-{assignment_id}")
        await page.wait_for_selector("#flash.error:has-text('no such assignment')")
        assert "秘密举报内容" not in await page.content()
        status = await page.evaluate(f"fetch('/api/orders/{order['id']}').then(r => r.status)")
        assert status == 404


async def test_an_expired_session_sends_the_user_to_sign_in_with_a_message(
    browser: playwright_api.Browser, seeded_database_url: str, redis_url: str
) -> None:
    async with running_server(seeded_database_url, redis_url) as base:
        page = await signed_in(browser, base, "agent1001")
        conn = await asyncpg.connect(seeded_database_url)
        try:
            await conn.execute("UPDATE auth_tokens SET expires_at = now() - interval '1 minute'")
        finally:
            await conn.close()
        await page.locator("#visits-refresh").click()
        await page.wait_for_selector("#flash.error:has-text('会话已过期')")
        await page.wait_for_url("**/login?expired=1")
        assert "会话已过期，请重新登录" in await page.locator("main").inner_text()


async def test_a_server_error_is_shown_in_words(
    browser: playwright_api.Browser, seeded_database_url: str, redis_url: str
) -> None:
    async with running_server(seeded_database_url, redis_url) as base:
        page = await signed_in(browser, base, "agent1001")
        await page.wait_for_selector("#category-tree button")
        conn = await asyncpg.connect(seeded_database_url)
        try:  # the orders table disappears under the running server
            await conn.execute("ALTER TABLE work_orders RENAME TO work_orders_gone")
        finally:
            await conn.close()
        await page.fill("#search-form input[name=q]", "占道")
        await page.locator("#search-form").get_by_role("button", name="查询").click()
        flash = page.locator("#flash.error")
        await flash.wait_for()
        assert "internal error; it has been logged" in await flash.inner_text()
        assert "HTTP 500" in await flash.inner_text()


async def test_keyboard_sign_in_and_pages_fit_a_1366_by_768_screen(
    browser: playwright_api.Browser, seeded_database_url: str, redis_url: str
) -> None:
    async with running_server(seeded_database_url, redis_url) as base:
        context = await browser.new_context(viewport={"width": 1366, "height": 768}, locale="zh-CN")
        context.set_default_timeout(40_000)
        page = await context.new_page()
        await page.goto(f"{base}/login")
        await page.wait_for_function("() => document.activeElement && document.activeElement.id === 'username'")
        await page.keyboard.type("supervisor")  # the username field has the focus
        await page.keyboard.press("Tab")
        await page.keyboard.type(DEMO_PASSWORD)
        await page.keyboard.press("Enter")
        await page.wait_for_selector("body[data-ready]")
        assert await page.locator("h1").inner_text() == "监督与统计"
        for path in ("/supervisor", "/desk"):
            await page.goto(base + path)
            await page.wait_for_selector("body[data-ready]")
            assert await page.evaluate("document.documentElement.scrollWidth") <= 1366, path
        # The deadline colours, from the browser's own clock: amber from 80 % of the time used, red after.
        states = await page.evaluate(
            """() => {
                 const at = (minutes) => new Date(Date.now() + minutes * 60000).toISOString();
                 return [hc.countdown(at(60), at(-10)), hc.countdown(at(10), at(-60)), hc.countdown(at(-5), at(-60))]
                   .map((el) => [el.dataset.state, el.textContent]);
               }"""
        )
        assert [s for s, _ in states] == ["ok", "warning", "overdue"]
        assert states[0][1].startswith("剩余") and states[2][1].startswith("已超时")
        # Sign-out ends the live feed and the session.
        await page.get_by_role("button", name="退出").click()
        await page.wait_for_url("**/login?signed_out=1")
        await page.goto(f"{base}/desk")
        assert page.url.endswith("/login")
