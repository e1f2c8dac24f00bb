"""Who actually sends an SMS: a pluggable sender. ``HttpGateway`` speaks the generic JSON
interface most resellers offer (POST the message, get its id back; delivery receipts come
back to ``/api/sms/gateway/receipts``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import aiohttp


class SendFailed(Exception):
    """The gateway did not take the message; the relay retries later."""


@dataclass(frozen=True)
class Outgoing:
    ref: str  # our id for the message, sent along so a gateway can deduplicate our retries
    phone: str
    body: str


class Sender(Protocol):
    async def start(self) -> None: ...

    async def send(self, message: Outgoing) -> str:
        """Hand the message over; return the gateway's message id. SendFailed when it is not taken."""
        ...

    async def close(self) -> None: ...


class HttpGateway:
    """``POST url`` with ``{"to", "text", "ref"}`` and ``Authorization: Bearer token``; any 2xx
    with ``{"message_id": ...}`` is taken, anything else (or no answer within ``timeout``) fails.
    ``start`` refuses a gateway on a private address unless ``allow_private``."""

    def __init__(self, url: str, token: str = "", timeout: float = 10.0, *, allow_private: bool = False) -> None:
        self.url, self.token, self.timeout, self.allow_private = url, token, timeout, allow_private
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        from hotline.sms.choose import check_gateway_url

        await check_gateway_url(self.url, allow_private=self.allow_private)
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout), headers=headers)

    async def send(self, message: Outgoing) -> str:
        assert self._session is not None, "start() the gateway first"
        payload = {"to": message.phone, "text": message.body, "ref": message.ref}
        try:
            async with self._session.post(self.url, json=payload) as r:
                if r.status // 100 != 2:
                    raise SendFailed(f"gateway answered {r.status}")
                body = await r.json(content_type=None)
        except (TimeoutError, aiohttp.ClientError, ValueError) as exc:
            raise SendFailed(f"{type(exc).__name__}: {exc}") from None
        if not isinstance(body, dict) or not body.get("message_id"):
            raise SendFailed("gateway answer has no message_id")
        return str(body["message_id"])

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
