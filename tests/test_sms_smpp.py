"""Citizens' SMS over SMPP 3.4 through a real local SMSC (tests/smpp_server.py, written from
the spec): exactly three notices in an order's life through a failing, silent and closing
SMSC, none in quiet hours, Chinese text intact across UDH-concatenated UCS2 parts, receipts
recorded, a citizen's reply over the session, and a refused bind retried with backoff."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import asyncpg
import pytest

from hotline.config import ConfigError, load_settings
from hotline.orders import actions
from hotline.sms import dlr
from hotline.sms.choose import check_gateway_url, record_receipt
from hotline.sms.relay import SmsRelay, backoff
from hotline.sms.senders import Outgoing, SendFailed
from hotline.sms.smpp import BindBackoff, SmppSender
from hotline.sms.smpp_url import SmppUrlError, parse
from tests.smpp_server import Smsc
from tests.test_sms import MORNING, PHONE, TZ, PinnedClock, new_order, to_awaiting_visit


@pytest.fixture
async def smsc() -> AsyncIterator[Smsc]:
    server = Smsc()
    await server.start()
    yield server
    await server.stop()


async def until(check: Any, seconds: float = 5.0) -> None:
    for _ in range(int(seconds / 0.02)):
        if await check() if asyncio.iscoroutinefunction(check) else check():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("condition not reached")


@pytest.fixture
async def smpp_relay(seeded_pool: asyncpg.Pool, smsc: Smsc) -> AsyncIterator[Any]:
    made: list[SmsRelay] = []

    async def make(clock: PinnedClock, password: str | None = None, **kw: Any) -> SmsRelay:
        services = actions.Services(clock=clock)

        async def on_receipt(provider_id: str, delivered: bool) -> None:
            await record_receipt(seeded_pool, services, provider_id, delivered, retries=(0.0,))

        kw.setdefault("timeout", 0.3)
        sender = SmppSender(parse(smsc.url(password)), on_receipt=on_receipt, **kw)
        made.append(SmsRelay(seeded_pool, sender, TZ, clock=clock))
        await sender.start()
        return made[-1]

    yield make
    for relay in made:
        await relay.sender.close()


async def test_an_orders_life_sends_exactly_three_sms_over_smpp_through_a_failing_smsc(
    seeded_pool: asyncpg.Pool, smsc: Smsc, smpp_relay: Any
) -> None:
    clock = PinnedClock(MORNING)
    services = actions.Services(clock=clock)
    relay: SmsRelay = await smpp_relay(clock)
    order = await new_order(seeded_pool, services)
    smsc.script = ["syserr", "nack", "silent", "close"]

    for attempt in (1, 2, 3, 4):
        assert await relay.run_once() == 0
        clock.advance(backoff(attempt))
    assert await relay.run_once() == 1
    row = await seeded_pool.fetchrow("SELECT * FROM sms_messages WHERE order_id = $1", order["id"])
    assert (row["status"], row["attempts"]) == ("sent", 5)
    # The nack, the silence and the close each cost the session: bound again each time.
    assert len(smsc.binds) == 4 and all(b["password"] == "secret" and b["version"] == 0x34 for b in smsc.binds)
    assert smsc.binds[0]["command"] == 0x09  # bind_transceiver: receipts come back on the session

    await to_awaiting_visit(seeded_pool, services, order["id"])
    assert await relay.run_once() == 2
    assert await relay.run_once() == 0
    bodies = [r["body"] for r in await seeded_pool.fetch("SELECT body FROM sms_messages ORDER BY id")]
    assert smsc.messages == [(PHONE, body) for body in bodies]  # three whole messages, Chinese intact
    intake_parts = [s for s in smsc.submits if s["message_id"] in smsc.message_ids[0]]
    assert len(intake_parts) == 2 and all(s["esm_class"] == 0x40 for s in intake_parts)  # UDH concatenation
    assert {(s["data_coding"], s["registered_delivery"], s["source"]) for s in smsc.submits} == {(8, 1, "12345")}
    assert row["provider_id"] == smsc.message_ids[0][0]

    # Receipts: the long message is delivered once both parts are; a failed part fails it.
    first, second = smsc.message_ids[0]
    await smsc.send_receipt(first)
    await until(lambda: len(smsc.receipts_answered) == 1)
    await asyncio.sleep(0.1)
    status = "SELECT status FROM sms_messages WHERE provider_id = $1"
    assert await seeded_pool.fetchval(status, first) == "sent"
    await smsc.send_receipt(second, tlvs=True)

    async def delivered() -> bool:
        return await seeded_pool.fetchval(status, first) == "delivered"

    await until(delivered)
    reply_id = smsc.message_ids[1][-1]
    await smsc.send_receipt(reply_id, "UNDELIV")

    async def failed() -> bool:
        return await seeded_pool.fetchval(status, smsc.message_ids[1][0]) == "failed"

    await until(failed)
    assert smsc.receipts_answered == [0, 0, 0]


async def test_no_smpp_notice_in_quiet_hours_unless_urgent(
    seeded_pool: asyncpg.Pool, smsc: Smsc, smpp_relay: Any
) -> None:
    clock = PinnedClock(datetime(2026, 12, 2, 22, 30, tzinfo=TZ))
    services = actions.Services(clock=clock)
    relay: SmsRelay = await smpp_relay(clock)
    await new_order(seeded_pool, services)
    assert await relay.run_once() == 0 and smsc.submits == []
    urgent = await new_order(seeded_pool, services, urgency="urgent")
    assert await relay.run_once() == 1 and urgent["number"] in smsc.messages[0][1]
    clock.now = datetime(2026, 12, 3, 8, 0, tzinfo=TZ)
    assert await relay.run_once() == 1 and len(smsc.messages) == 2


async def test_a_refused_bind_is_a_clear_error_retried_with_backoff(smsc: Smsc) -> None:
    sender = SmppSender(parse(smsc.url("wrong")), timeout=0.3, backoff=BindBackoff(first=0.2, most=1.0))
    await sender.start()
    try:
        await until(lambda: len(smsc.binds) >= 1)
        with pytest.raises(SendFailed, match=r"bind .* failed: .*Invalid Password.*next bind in"):
            await sender.send(Outgoing("sms-1", PHONE, "测试"))
        await until(lambda: len(smsc.binds) >= 4)
        gaps = [b["at"] - a["at"] for a, b in zip(smsc.binds, smsc.binds[1:], strict=False)]
        assert all(gap >= 0.9 * want for gap, want in zip(gaps, (0.2, 0.4, 0.8), strict=False)), gaps
        smsc.password = "wrong"  # the operator fixed the account: the next bind succeeds
        await until(lambda: bool(smsc.bound), seconds=5)
        assert await sender.send(Outgoing("sms-2", PHONE, "测试短信")) == "smsc-1"
        assert smsc.messages == [(PHONE, "测试短信")]
    finally:
        await sender.close()
    assert smsc.bound == []  # unbound on close


async def test_a_citizens_reply_over_smpp_is_handed_over(smsc: Smsc) -> None:
    got: list[tuple[str, str]] = []

    async def on_message(phone: str, text: str) -> None:
        got.append((phone, text))

    sender = SmppSender(parse(smsc.url()), on_message=on_message, timeout=0.3)
    await sender.start()
    try:
        await until(lambda: bool(smsc.bound))
        await smsc.send_mobile_originated(PHONE, "退订")
        await until(lambda: bool(got))
        assert got == [(PHONE, "退订")]
    finally:
        await sender.close()


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://h/x", "must look like smpp://"),
        ("smpp://:pw@h?source=1", "system_id"),
        ("smpp://id:toolongpassword@h?source=1", "at most 8"),
        ("smpp://id:pw@h", "source="),
        ("smpp://id:pw@h?source=1&mode=receiver", "mode"),
        ("smpp://id:pw@h?source=1&tls=1", "unknown parameter"),
        ("smpp://id:pw@h:99999?source=1", "not a URL"),
    ],
)
def test_a_bad_smpp_url_stops_the_start_naming_the_variable(url: str, reason: str) -> None:
    with pytest.raises(SmppUrlError, match=reason):
        parse(url)
    with pytest.raises(ConfigError, match="HOTLINE_SMS_SMPP_URL"):
        load_settings(sms_smpp_url=url)


def test_smpp_url_and_gateway_url_are_exclusive() -> None:
    config = parse("smpp://hotline:s%40cret@10.1.2.3?source=12345&mode=transmitter")
    assert (config.host, config.port, config.password, config.mode) == ("10.1.2.3", 2775, "s@cret", "transmitter")
    with pytest.raises(ConfigError, match="not both"):
        load_settings(sms_gateway_url="https://sms.example.com/send", sms_smpp_url="smpp://a:b@h?source=1")
    with pytest.raises(ConfigError, match="HOTLINE_SMS_GATEWAY_URL must be"):
        load_settings(sms_gateway_url="ftp://sms.example.com/")


async def test_the_http_gateway_may_not_point_into_our_network() -> None:
    for url in ("http://127.0.0.1:9/send", "http://10.0.0.8/send", "http://[::1]/send"):
        with pytest.raises(ConfigError, match="HOTLINE_SMS_GATEWAY_ALLOW_PRIVATE"):
            await check_gateway_url(url, allow_private=False)
        await check_gateway_url(url, allow_private=True)
    await check_gateway_url("http://93.184.216.34/send", allow_private=False)


def test_receipts_are_read_from_text_or_tlvs_and_parts_settle_together() -> None:
    text = b"id:77 sub:001 dlvrd:001 submit date:2612021000 done date:2612021001 stat:DELIVRD err:000 text:"
    assert dlr.parse(text) == dlr.Receipt("77", "DELIVRD")
    assert dlr.parse(b"", b"88\x00", 5) == dlr.Receipt("88", "UNDELIV")
    assert dlr.parse("你好".encode("utf-16-be")) is None
    assert dlr.parse(b"id:9 stat:ENROUTE") == dlr.Receipt("9", "ENROUTE")
    tracker = dlr.PartTracker(keep=2)
    tracker.sent(["a1", "a2"])
    assert tracker.settle(dlr.Receipt("a1", "ENROUTE")) is None  # not final
    assert tracker.settle(dlr.Receipt("a1", "DELIVRD")) is None  # a2 still to report
    assert tracker.settle(dlr.Receipt("a2", "DELIVRD")) == ("a1", True)
    tracker.sent(["b1", "b2"])
    assert tracker.settle(dlr.Receipt("b2", "UNDELIV")) == ("b1", False)  # one part failed: failed
    assert tracker.settle(dlr.Receipt("b1", "DELIVRD")) == ("b1", True)  # no longer tracked: by its own id
    for n in range(3):
        tracker.sent([f"c{n}", f"d{n}"])
    assert tracker.settle(dlr.Receipt("d0", "DELIVRD")) == ("d0", True)  # evicted, kept at most 2
