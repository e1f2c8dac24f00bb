"""webhook_url is checked on save; handlers read only their own unit's settings."""

from __future__ import annotations

import aiohttp
import pytest

from hotline import webhook_urls
from hotline.errors import InvalidInput
from tests.api_helpers import Client, running_server


@pytest.mark.parametrize(
    "url",
    ["http://127.0.0.1:8090/hook", "http://[::1]/hook", "http://169.254.169.254/latest/meta-data",
     "https://10.1.2.3/hook", "http://192.168.0.10/hook", "http://172.16.5.4/hook", "http://localhost/hook",
     "http://0.0.0.0/hook", "ftp://93.184.215.14/hook", "http:///nohost"],
)  # fmt: skip
async def test_refused_targets(url: str) -> None:
    with pytest.raises(InvalidInput):
        await webhook_urls.check(url, allow_private=False)


async def test_public_addresses_pass_and_the_flag_allows_private() -> None:
    await webhook_urls.check("https://93.184.215.14/hooks/12345", allow_private=False)
    await webhook_urls.check("http://127.0.0.1:8090/hook", allow_private=True)
    with pytest.raises(InvalidInput):  # the flag never lets another scheme through
        await webhook_urls.check("file:///etc/passwd", allow_private=True)


async def test_admin_api_checks_on_save_and_handlers_see_their_own_unit(
    seeded_database_url: str, redis_url: str
) -> None:
    async with running_server(seeded_database_url, redis_url) as base, aiohttp.ClientSession() as session:
        admin = await Client(session, base).login("admin")
        unit = {"code": "city.test", "name": "测试局", "level": "city", "webhook_url": "http://127.0.0.1:9/hook"}
        status, body = await admin.request("POST", "/api/admin/units", json=unit)
        assert status == 422 and body["error"]["details"]["addresses"] == ["127.0.0.1"]
        status, body = await admin.request(
            "POST", "/api/admin/units", json={**unit, "webhook_url": "https://93.184.215.14/h"}
        )
        assert status == 201, body
        cgj = await Client(session, base).login("cgj")
        status, body = await cgj.request("GET", "/api/admin/units")
        me = (await cgj.request("GET", "/api/me"))[1]
        assert status == 200 and [u["id"] for u in body["items"]] == [me["unit_id"]]
        assert len((await admin.request("GET", "/api/admin/units"))[1]["items"]) > 100
    async with running_server(seeded_database_url, redis_url, webhook_allow_private=True) as base, \
            aiohttp.ClientSession() as session:  # fmt: skip
        admin = await Client(session, base).login("admin")
        status, _ = await admin.request("POST", "/api/admin/units", json={**unit, "code": "city.test2"})
        assert status == 201
