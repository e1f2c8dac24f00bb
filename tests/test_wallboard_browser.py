"""实时监控 and 坐席状态 in a real browser: the supervisor's wallboard fills from the API and
follows a replayed PBX live over its socket; an agent's desk shows the agent's own queue state."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.ami_helpers import SECRET, USER
from tests.api_helpers import running_server
from tests.member_helpers import states_server
from tests.test_console_browser import browser, playwright_api, pytestmark, signed_in  # noqa: F401

__all__ = ["pytestmark"]


async def test_the_wallboard_follows_the_pbx_live_and_the_desk_shows_the_agents_state(
    browser: playwright_api.Browser,  # noqa: F811
    seeded_database_url: str,
    redis_url: str,
    shared_dir: Path,
) -> None:
    server = states_server(shared_dir, speed=0)
    server.gate_actions = ()  # stream as soon as logged in: the page must learn it live, not at load
    await server.start()
    nodes = f"ami://{USER}:{SECRET}@127.0.0.1:{server.port}/pbx1?reconnect_min=0.05&reconnect_max=0.2"
    try:
        async with running_server(seeded_database_url, redis_url, ami_nodes=nodes, roles=["api", "ami"]) as base:
            page = await signed_in(browser, base, "supervisor")
            await page.goto(f"{base}/wallboard")
            await page.wait_for_selector("body[data-ready]", state="attached")
            await page.wait_for_selector("#live-state.live")
            hotline = page.locator('section.queue[data-queue="hotline"]')
            # at the end of the recording: five members signed in and ready, nobody waiting
            await hotline.locator('b[data-k="ready"]', has_text="5").wait_for()
            assert await hotline.locator('b[data-k="waiting"]').inner_text() == "0"
            assert await hotline.locator("tbody tr").count() == 5
            assert "今日" in await hotline.inner_text()
            assert await page.evaluate("document.documentElement.scrollWidth") <= 1366
            text = await page.locator("#agents").inner_text()
            assert "话务员1001" in text  # the agents' day, by their names in the centre

            desk = await signed_in(browser, base, "agent1002")
            pill = desk.locator("#presence-state")
            await desk.wait_for_function("() => document.getElementById('presence-state').dataset.state")
            assert await pill.get_attribute("data-state") == "ready" and await pill.inner_text() == "示闲"
            assert await desk.locator("#pause-reason option").all_inner_texts() == ["小休", "培训", "会议", "后处理"]
    finally:
        await server.close()


@pytest.mark.parametrize(("who", "home"), [("agent1001", "/desk"), ("cgj", "/inbox")])
async def test_the_wallboard_page_is_the_supervisors(
    browser: playwright_api.Browser,  # noqa: F811
    seeded_database_url: str,
    redis_url: str,
    who: str,
    home: str,
) -> None:
    async with running_server(seeded_database_url, redis_url) as base:
        page = await signed_in(browser, base, who)
        await page.goto(f"{base}/wallboard")
        assert page.url == f"{base}{home}"  # sent to their own page
        assert await page.locator("#queues").count() == 0
