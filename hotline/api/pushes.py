"""What a unit's ``webhook_url`` receives, one model per outbox topic: the OpenAPI document's
``webhooks``. Every push is the envelope the relay adds (delivery id, unit, time) around the
outbox payload (topic, assignment, the order as the unit sees it) and the topic's own fields.
``tests/test_openapi.py`` checks every topic the code queues has a model here.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from hotline.api.schemas import PushOrder, Timestamp


class Push(BaseModel):
    """POST, JSON, signed like callbacks, with X-Hotline-Delivery for deduplication. Answer 2xx
    once stored; anything else is retried with growing delays."""

    model_config = ConfigDict(extra="forbid")

    delivery_id: str = Field(description="the same on every attempt: deduplicate on it")
    unit_code: str
    created_at: Timestamp
    assignment_id: int
    order: PushOrder


class WithDeadlines(Push):
    sign_due_at: Timestamp | None = Field(description="sign by this time (签收时限)")
    reply_due_at: Timestamp | None = Field(description="reply by this time (办理时限)")


class Dispatched(WithDeadlines):
    """A new assignment for the unit (from the centre, or from its hub below)."""

    topic: Literal["order.dispatched"]


class Reopened(WithDeadlines):
    """The citizen was not satisfied: the order comes back to the unit."""

    topic: Literal["order.reopened"]


class DeadlineChanged(WithDeadlines):
    """The assignment's deadlines moved: an extension approved, or the order resumed after a suspension."""

    topic: Literal["order.deadline_changed"]
    reason: Literal["extension_approved", "resumed"]


class Reminded(Push):
    """The centre asks the unit to hurry (催办)."""

    topic: Literal["order.reminded"]
    note: str


class Supervised(Push):
    """A supervisor put the order under supervision (督办)."""

    topic: Literal["order.supervised"]
    note: str


class Extended(Push):
    """The unit's extension was approved: its new reply-by."""

    topic: Literal["order.extended"]
    reply_due_at: Timestamp


class DeadlineEvent(Push):
    clock: Literal["sign", "reply"]
    due_at: Timestamp
    fire_at: Timestamp


class DeadlineWarning(DeadlineEvent):
    """A deadline is close."""

    topic: Literal["order.deadline_warning"]


class Overdue(DeadlineEvent):
    """A deadline has passed."""

    topic: Literal["order.overdue"]


PUSHES: tuple[type[Push], ...] = (
    Dispatched, Reopened, Reminded, Supervised, Extended, DeadlineChanged, DeadlineWarning, Overdue,
)  # fmt: skip


def topic_of(model: type[Push]) -> str:
    return model.model_fields["topic"].annotation.__args__[0]  # type: ignore[union-attr]
