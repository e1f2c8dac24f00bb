"""Our categories as GeoReport services, our orders as GeoReport service requests."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import asyncpg

KIND_NAMES = {"consult": "咨询", "help": "求助", "complaint": "投诉", "report": "举报", "suggestion": "建议",
              "praise": "表扬"}  # fmt: skip
CLOSED = frozenset({"closed", "visited", "resolved_directly", "merged"})
# What the citizen's client reads in status_notes before the reply is out.
NOTES = {
    "received": "已受理，等待派单",
    "dispatched": "已派至承办单位",
    "signed": "承办单位已签收，正在办理",
    "replied": "承办单位已答复，热线审核中",
    "returned": "正在重新派单",
    "reopened": "重新办理中",
    "suspended": "暂停办理",
    "merged": "已与同一诉求的其他工单合并办理",
    "resolved_directly": "热线已直接答复",
}
# Once the centre accepted the reply, the reply is the note.
REPLY_SHOWN = frozenset({"awaiting_visit", "visited", "closed"})

# What a client may add to a request (GeoReport "attributes"): every service takes them.
ATTRIBUTES: list[dict[str, Any]] = [
    {
        "variable": True, "code": "kind", "datatype": "singlevaluelist", "required": False,
        "datatype_description": "诉求类型，默认投诉", "order": 1, "description": "诉求类型",
        "values": [{"key": k, "name": v} for k, v in KIND_NAMES.items()],
    },
    {
        "variable": True, "code": "anonymous", "datatype": "singlevaluelist", "required": False,
        "datatype_description": "匿名：承办单位看不到姓名和电话", "order": 2, "description": "是否匿名",
        "values": [{"key": "false", "name": "实名"}, {"key": "true", "name": "匿名"}],
    },
]  # fmt: skip


async def services(conn: asyncpg.Connection) -> list[dict[str, Any]]:
    """Every active leaf category, grouped by its top-level ancestor."""
    rows = await conn.fetch(
        """SELECT c.code, c.name, top.name AS group_name, parent.name AS parent_name
           FROM categories c
           JOIN categories top ON top.code = left(c.code, 2)
           LEFT JOIN categories parent ON parent.code = c.parent_code
           WHERE c.active AND NOT EXISTS (SELECT 1 FROM categories k WHERE k.parent_code = c.code AND k.active)
           ORDER BY c.code"""
    )
    return [
        {
            "service_code": r["code"],
            "service_name": r["name"],
            "description": f"{r['parent_name']} > {r['name']}" if r["parent_name"] else r["name"],
            "metadata": True,
            "type": "batch",
            "keywords": ",".join(n for n in (r["group_name"], r["parent_name"], r["name"]) if n),
            "group": r["group_name"],
        }
        for r in rows
    ]


async def is_service(conn: asyncpg.Connection, code: str) -> bool:
    return any(s["service_code"] == code for s in await services(conn))


def definition(code: str) -> dict[str, Any]:
    return {"service_code": code, "attributes": ATTRIBUTES}


# The order with what GeoReport shows of it: its intake record and the centre's lead assignment.
REQUEST_SELECT = """
    SELECT o.number, o.status, o.content, o.address, o.category_code, o.created_at, o.updated_at,
           c.name AS service_name, i.lat, i.long, i.media_urls, i.token,
           a.unit_name, a.reply_text, a.reply_due_at
    FROM work_orders o
    JOIN channel_intakes i ON i.order_id = o.id
    LEFT JOIN categories c ON c.code = o.category_code
    LEFT JOIN LATERAL (
        SELECT u.name AS unit_name, x.reply_text, x.reply_due_at FROM assignments x JOIN units u ON u.id = x.unit_id
        WHERE x.order_id = o.id AND x.role = 'lead' AND x.dispatcher_unit_id IS NULL AND x.status <> 'cancelled'
        ORDER BY x.id DESC LIMIT 1) a ON true"""


def service_request(r: Mapping[str, Any]) -> dict[str, Any]:
    status = r["status"]
    notes = r["reply_text"] if status in REPLY_SHOWN and r["reply_text"] else NOTES.get(status, "已办结")
    media = r["media_urls"] or []
    return {
        "service_request_id": r["number"],
        "status": "closed" if status in CLOSED else "open",
        "status_notes": notes,
        "service_name": r["service_name"],
        "service_code": r["category_code"],
        "description": r["content"],
        "agency_responsible": r["unit_name"],
        "service_notice": "",
        "requested_datetime": r["created_at"].isoformat(),
        "updated_datetime": r["updated_at"].isoformat(),
        "expected_datetime": r["reply_due_at"].isoformat() if r["reply_due_at"] else None,
        "address": r["address"],
        "address_id": None,
        "zipcode": None,
        "lat": r["lat"],
        "long": r["long"],
        "media_url": media[0] if media else None,
    }
