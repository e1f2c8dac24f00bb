"""Presence actions from the agent desktop's WebSocket (``hotline.api.desktop``).

The desktop sends ``{"type": "presence", "action": "pause", "reason": "小休", "key": "…"}``
(actions ``sign-in``, ``sign-out``, ``pause``, ``unpause``); it gets back
``{"type": "presence", "ok": true, "key": …, "commands": [{id, kind, state}]}`` or
``{"type": "presence", "ok": false, "key": …, "error": {code, message, details}}``.
A desktop that reconnects and sends the same ``key`` again gets the same commands: nothing is
sent to Asterisk twice. A frame we cannot act on is answered with an error, never a close.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from aiohttp import web

from hotline.api.keys import POOL, SETTINGS
from hotline.auth import Principal
from hotline.errors import ApiError, InvalidInput
from hotline.presence import actions

log = logging.getLogger(__name__)

KINDS = {"sign-in": "queue_add", "sign-out": "queue_remove", "pause": "queue_pause", "unpause": "queue_unpause"}
MAX_KEY = 200


async def handle(app: web.Application, p: Principal, ws: web.WebSocketResponse, text: str) -> None:
    try:
        frame = json.loads(text)
    except ValueError:
        return  # not JSON: not a request of ours
    if not isinstance(frame, dict) or frame.get("type") != "presence":
        return
    key = frame.get("key")
    try:
        rows = await _act(app, p, frame)
    except ApiError as exc:
        await ws.send_json({"type": "presence", "ok": False, "key": key, **exc.to_json()})
        return
    except Exception:
        log.exception("desktop presence action failed", extra={"user_id": p.user_id})
        error = {"code": "unavailable", "message": "the action could not be queued; try again", "details": {}}
        await ws.send_json({"type": "presence", "ok": False, "key": key, "error": error})
        return
    commands = [{"id": r["id"], "kind": r["kind"], "state": r["state"]} for r in rows]
    await ws.send_json({"type": "presence", "ok": True, "key": key, "commands": commands})


async def _act(app: web.Application, p: Principal, frame: dict[str, Any]) -> list[Any]:
    kind = KINDS.get(str(frame.get("action")))
    if kind is None:
        raise InvalidInput("unknown presence action", {"action": frame.get("action"), "known": list(KINDS)})
    key, reason = frame.get("key"), frame.get("reason")
    if key is not None and (not isinstance(key, str) or not 0 < len(key) <= MAX_KEY):
        raise InvalidInput(f"key must be a string of 1–{MAX_KEY} characters", {"key": key})
    if reason is not None and not isinstance(reason, str):
        raise InvalidInput("reason must be a string", {"reason": reason})
    key = f"ws:{key}" if key else None  # apart from the HTTP keys of the same user
    async with app[POOL].acquire() as conn, conn.transaction():
        return await actions.queue(conn, app[SETTINGS], p, kind, reason, key)
