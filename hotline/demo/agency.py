"""A simulated agency system: it holds its unit's HMAC key and answers its assignments
through the signed callback API, as a partner agency's own software would."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

import aiohttp

from adapters.webhook.signing import sign_headers


@dataclass
class AgencySystem:
    session: aiohttp.ClientSession
    base: str
    unit_code: str
    key_id: str
    secret: str

    async def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
        raw = json.dumps(body, ensure_ascii=False).encode() if body is not None else b""
        key = str(uuid.uuid4()) if method == "POST" else ""
        headers = sign_headers(
            self.key_id, self.secret, method, path, raw, content_type="application/json", idempotency_key=key
        )
        async with self.session.request(method, self.base + path, data=raw, headers=headers) as r:
            return r.status, await r.json(content_type=None)

    async def open_assignments(self) -> list[dict[str, Any]]:
        status, body = await self.call("GET", "/api/units/me/assignments?status=dispatched&limit=200")
        if status != 200:
            raise RuntimeError(f"{self.unit_code}: listing assignments failed: {body}")
        return body["items"]

    async def act(self, assignment_id: int, operation: str, body: dict[str, Any]) -> dict[str, Any]:
        status, answer = await self.call("POST", f"/api/units/me/assignments/{assignment_id}/{operation}", body)
        if status != 200:
            raise RuntimeError(f"{self.unit_code}: {operation} on assignment {assignment_id} failed: {answer}")
        return answer
