"""The console's browser session over real HTTP (no browser needed): the sign-in form sets an
HttpOnly SameSite cookie, state changes on that cookie need the CSRF header, the desktop
WebSocket takes the cookie (same site only), sign-out ends the session, and bearer tokens
keep working as before."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import aiohttp
import pytest
from yarl import URL

from hotline.seed import DEMO_PASSWORD
from hotline.web.session import COOKIE, CSRF_HEADER
from tests.api_helpers import Client, running_server

ORDER = {"kind": "consult", "content": "咨询公积金提取", "caller_number": "13912341234"}


def jar_session(**kw: object) -> aiohttp.ClientSession:
    """A client that keeps cookies for 127.0.0.1, as a browser does."""
    return aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True), **kw)  # type: ignore[arg-type]


@pytest.fixture
async def base(seeded_database_url: str, redis_url: str) -> AsyncIterator[str]:
    async with running_server(seeded_database_url, redis_url) as url:
        yield url


async def sign_in(session: aiohttp.ClientSession, base: str, username: str) -> str:
    """Signs in through the form; returns the page's CSRF token."""
    async with session.post(f"{base}/login", data={"username": username, "password": DEMO_PASSWORD}) as r:
        assert r.status == 200, await r.text()
        page = await r.text()
    match = re.search(r'name="csrf-token" content="([0-9a-f]+)"', page)
    assert match, page[:500]
    return match.group(1)


async def test_sign_in_sets_an_httponly_samesite_cookie_and_lands_on_the_roles_page(base: str) -> None:
    async with jar_session() as session:
        async with session.post(
            f"{base}/login", data={"username": "huanglou", "password": DEMO_PASSWORD}, allow_redirects=False
        ) as r:
            assert r.status == 303 and r.headers["Location"] == "/"
            cookie = r.headers["Set-Cookie"]
        assert f"{COOKIE}=" in cookie and "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/" in cookie
        async with session.get(f"{base}/") as r:
            assert r.url.path == "/inbox"
            page = await r.text()
        assert "<h1>承办单位工作台</h1>" in page and "token" not in str(r.url)
        # Another role's page sends the user to their own.
        async with session.get(f"{base}/supervisor") as r:
            assert r.url.path == "/inbox"


@pytest.mark.parametrize(
    ("username", "page", "heading"),
    [
        ("agent1001", "/desk", "话务员工作台"),
        ("gulou", "/inbox", "承办单位工作台"),
        ("supervisor", "/supervisor", "监督与统计"),
    ],
)
async def test_each_role_lands_on_its_page(base: str, username: str, page: str, heading: str) -> None:
    async with jar_session() as session:
        async with session.post(f"{base}/login", data={"username": username, "password": DEMO_PASSWORD}) as r:
            assert r.url.path == page
            assert f"<h1>{heading}</h1>" in await r.text()


async def test_wrong_password_is_said_in_words_and_sets_no_cookie(base: str) -> None:
    async with jar_session() as session:
        async with session.post(f"{base}/login", data={"username": "agent1001", "password": "nope"}) as r:
            assert r.status == 401
            assert "用户名或密码错误" in await r.text() and "Set-Cookie" not in r.headers
        async with session.post(f"{base}/login", data={"username": "", "password": ""}) as r:
            assert r.status == 400 and "请输入用户名和密码" in await r.text()
        async with session.get(f"{base}/desk", allow_redirects=False) as r:
            assert r.status == 303 and r.headers["Location"] == "/login"


async def test_sign_in_from_another_site_is_refused(base: str) -> None:
    async with jar_session() as session:
        async with session.post(
            f"{base}/login",
            data={"username": "agent1001", "password": DEMO_PASSWORD},
            headers={"Origin": "https://evil.example"},
        ) as r:
            assert r.status == 403 and "Set-Cookie" not in r.headers


async def test_state_changes_on_the_cookie_need_the_csrf_header(base: str) -> None:
    async with jar_session() as session:
        csrf = await sign_in(session, base, "agent1001")
        async with session.get(f"{base}/api/me") as r:  # reads need no token
            assert r.status == 200 and (await r.json())["username"] == "agent1001"
        async with session.post(f"{base}/api/orders", json=ORDER) as r:
            body = await r.json()
            assert r.status == 403 and body["error"]["code"] == "csrf_rejected", body
        async with session.post(f"{base}/api/orders", json=ORDER, headers={CSRF_HEADER: "0" * 64}) as r:
            assert r.status == 403
        async with session.post(f"{base}/api/orders", json=ORDER, headers={CSRF_HEADER: csrf}) as r:
            assert r.status == 201, await r.text()
        count = await session.get(f"{base}/api/orders")
        assert len((await count.json())["items"]) == 1


async def test_bearer_tokens_work_as_before_and_ignore_the_cookie(base: str) -> None:
    async with jar_session() as session:
        await sign_in(session, base, "huanglou")  # a unit's cookie in the jar
        agent = await Client(session, base).login("agent1001")
        status, order = await agent.request("POST", "/api/orders", json=ORDER)  # no CSRF header: a bearer call
        assert status == 201, order
        status, me = await agent.request("GET", "/api/me")
        assert me["username"] == "agent1001"


async def test_the_desktop_websocket_takes_the_cookie_and_sign_out_ends_it(base: str) -> None:
    async with jar_session() as session:
        csrf = await sign_in(session, base, "agent1001")
        token = session.cookie_jar.filter_cookies(URL(base))[COOKIE].value
        async with session.ws_connect(f"{base}/api/desktop/ws") as ws:
            assert (await ws.receive_json(timeout=5))["type"] == "hello"
        # Another site's page may not open the feed with the user's cookie.
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await session.ws_connect(f"{base}/api/desktop/ws", origin="https://evil.example")
        assert refused.value.status == 403
        # Sign-out without the page's token is refused; with it, the session ends.
        async with session.post(f"{base}/logout", data={"csrf": "x"}, allow_redirects=False) as r:
            assert r.status == 403
        async with session.post(f"{base}/logout", data={"csrf": csrf}) as r:
            assert r.url.path == "/login" and "已退出登录" in await r.text()
        assert COOKIE not in session.cookie_jar.filter_cookies(URL(base))
    async with jar_session(cookies={COOKIE: token}) as stale:
        with pytest.raises(aiohttp.WSServerHandshakeError) as gone:
            await stale.ws_connect(f"{base}/api/desktop/ws")
        assert gone.value.status == 401
        async with stale.get(f"{base}/desk", allow_redirects=False) as r:
            assert r.status == 303 and r.headers["Location"] == "/login?expired=1"
        async with stale.get(f"{base}/api/me") as r:
            assert r.status == 401 and (await r.json())["error"]["message"] == "token revoked"


async def test_a_unit_gets_only_the_units_under_it_from_the_catalog(base: str) -> None:
    async with jar_session() as session:
        await sign_in(session, base, "gulou")
        async with session.get(f"{base}/api/console/catalog") as r:
            catalog = await r.json()
        me = await (await session.get(f"{base}/api/units/me")).json()
        assert catalog["units"] and {u["parent_id"] for u in catalog["units"]} == {me["id"]}
        assert all("webhook_url" not in u for u in catalog["units"])
        assert any(c["code"] == "010101" for c in catalog["categories"])


async def test_pages_and_static_files_carry_a_content_security_policy(base: str) -> None:
    async with jar_session() as session:
        async with session.get(f"{base}/login") as r:
            assert "default-src 'self'" in r.headers["Content-Security-Policy"]
            page = await r.text()
        for path in re.findall(r'href="(/static/[^"]+)"', page):
            async with session.get(base + path.replace("&amp;", "&")) as r:
                assert r.status == 200
