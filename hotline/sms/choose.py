"""Which sender the ``sms`` role uses: SMPP when ``HOTLINE_SMS_SMPP_URL`` is set, else the
HTTP gateway at ``HOTLINE_SMS_GATEWAY_URL``, else none (notices wait in the table). The
SMPP session's receipts and citizens' replies go where the HTTP gateway's callbacks go."""

from __future__ import annotations

import asyncio
import logging
from urllib.parse import urlsplit

import asyncpg

from hotline import webhook_urls
from hotline.config import ConfigError, Settings
from hotline.orders.change import Services
from hotline.sms import inbound
from hotline.sms.senders import HttpGateway, Sender
from hotline.sms.smpp import SmppSender
from hotline.sms.smpp_url import parse

log = logging.getLogger(__name__)
# A receipt can overtake the relay's write of the message id it reports: try again shortly.
RECEIPT_RETRIES = (0.0, 1.0, 5.0)


def sender_for(settings: Settings, pool: asyncpg.Pool, services: Services) -> Sender | None:
    if settings.sms_smpp_url:
        return _smpp(settings, pool, services)
    if settings.sms_gateway_url:
        return HttpGateway(
            settings.sms_gateway_url, settings.sms_gateway_token, allow_private=settings.sms_gateway_allow_private
        )
    return None


def _smpp(settings: Settings, pool: asyncpg.Pool, services: Services) -> SmppSender:
    async def on_receipt(provider_id: str, delivered: bool) -> None:
        await record_receipt(pool, services, provider_id, delivered)

    async def on_message(phone: str, text: str) -> None:
        outcome = await inbound.receive(pool, services, phone, text)
        log.info("sms reply over SMPP", extra={"outcome": outcome["outcome"]})

    return SmppSender(parse(settings.sms_smpp_url), on_receipt=on_receipt, on_message=on_message)


async def record_receipt(
    pool: asyncpg.Pool,
    services: Services,
    provider_id: str,
    delivered: bool,
    retries: tuple[float, ...] = RECEIPT_RETRIES,
) -> bool:
    for wait in retries:
        await asyncio.sleep(wait)
        if await inbound.receipt(pool, provider_id, delivered, services.clock()):
            return True
    log.warning("SMPP receipt for a message we do not know", extra={"provider_id": provider_id})
    return False


async def check_gateway_url(url: str, *, allow_private: bool) -> None:
    """ConfigError when the HTTP gateway's host is (or resolves to) a private address: the
    notices' citizens' numbers must not be posted into our own network by a mistyped URL."""
    if allow_private:
        return
    parts = urlsplit(url)
    host = parts.hostname or ""
    try:
        bad = await webhook_urls.private_addresses(host, parts.port)
    except OSError:
        raise ConfigError(f"HOTLINE_SMS_GATEWAY_URL: host {host!r} does not resolve") from None
    if bad:
        raise ConfigError(
            f"HOTLINE_SMS_GATEWAY_URL points at a loopback or private address ({', '.join(bad)}); "
            "set HOTLINE_SMS_GATEWAY_ALLOW_PRIVATE=true for a gateway inside the network"
        )
