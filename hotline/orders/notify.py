"""What an order action tells the world: push payloads for agency systems (through the
outbox) and live events for staff screens (through the bus, after the commit)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from hotline import audience, bus

if TYPE_CHECKING:
    from hotline.orders.change import Change, Services

log = logging.getLogger(__name__)

PUSH_FIELDS = ("id", "number", "kind", "category_code", "title", "content", "address", "division_code", "urgency",
               "caller_number", "caller_name", "anonymous", "created_at")  # fmt: skip


def push_payload(order: Mapping[str, Any], assignment_id: int, topic: str, role: str = "lead") -> dict[str, Any]:
    """What an agency system receives: the order as its unit sees it through this assignment
    (``role`` lead or assist; see hotline.audience)."""
    view = audience.order_view(order, audience.of_assignment({"role": role, "status": "dispatched"}))
    return {"topic": topic, "assignment_id": assignment_id, "order": {k: view.get(k) for k in PUSH_FIELDS}}


def live(order: Mapping[str, Any], action: str) -> dict[str, Any]:
    """The live event staff screens and unit desktops receive for a change of ``order``."""
    return {
        "type": "order.updated",
        "action": action,
        "order_id": order["id"],
        "number": order["number"],
        "status": order["status"],
        "version": order["version"],
    }


async def publish_change(services: Services, updated: Mapping[str, Any], change: Change) -> None:
    """Live events and the log line for a committed change (never before the commit; the
    response does not wait for Redis, see ``bus.publish_soon``)."""
    log.info(
        "order action",
        extra={"order_id": updated["id"], "action": change.action.value, "from": change.order["status"],
               "to": updated["status"], "user_id": change.principal.user_id, "unit_id": change.principal.unit_id},
    )  # fmt: skip
    event = live(updated, change.action.value)
    bus.publish_soon(services.redis, [("orders", event), *((f"unit:{u}", event) for u in sorted(change.live_units))])
