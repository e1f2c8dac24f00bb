"""Response models: what each route answers, validated and serialized by ``contract.respond``.

Rows the handlers build from several tables keep ``extra="allow"``: the fields listed are the
contract (typed and documented), columns added later pass through until they are listed here.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer

from dispatch.engine import Outcome
from hotline.orders import models as m
from hotline.orders.assignment_states import AssignmentStatus

# An instant as the server has always written it: ISO 8601 with its offset (+00:00).
Timestamp = Annotated[dt.datetime, PlainSerializer(lambda v: v.isoformat(), return_type=str)]


class Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class Closed(BaseModel):
    """An answer whose every field is declared: a field a handler adds without declaring it is a
    ResponseMismatch in the tests, never silently dropped from the answer."""

    model_config = ConfigDict(extra="forbid")


class ErrorDetail(BaseModel):
    code: str = Field(description="stable machine-readable code, e.g. invalid_input, database_unavailable")
    message: str
    details: dict[str, Any]


class ErrorBody(BaseModel):
    """Every error: ``details.errors`` lists the fields that did not validate (422)."""

    error: ErrorDetail


# ---------------------------------------------------------------- session and health


class CalendarCoverage(Closed):
    """Whether the working calendar (the State Council's notice) covers this year and the next."""

    today: dt.date = Field(description="in Shanghai, on the server's clock")
    year: int
    covered: bool
    next_year: int
    next_year_covered: bool
    days_to_next_year: int
    warning: str | None = Field(description="from 45 days before a year the calendar does not cover")


class HealthDetails(Closed):
    calendar: CalendarCoverage


class Health(BaseModel):
    status: Literal["ok", "degraded", "down"]
    checks: dict[str, str]
    details: HealthDetails | None = Field(default=None, description="when PostgreSQL is up")


class Token(BaseModel):
    token: str
    token_type: Literal["Bearer"]
    expires_at: Timestamp


class Me(BaseModel):
    id: int
    username: str
    role: str
    unit_id: int | None
    display_name: str | None


# ---------------------------------------------------------------- orders


class Order(Open):
    """An order as the caller may see it (caller masked for units unless allowed)."""

    id: int
    number: str
    kind: m.Kind
    status: str
    version: int
    content: str
    caller_number: str | None
    created_at: Timestamp


class OrderAssignment(Open):
    id: int
    unit_id: int
    unit_code: str
    status: AssignmentStatus


class OrderEvent(Open):
    id: int
    action: str
    payload: dict[str, Any]
    created_at: Timestamp


class OrderDetail(Order):
    assignments: list[OrderAssignment]
    events: list[OrderEvent]


class OrderPage(BaseModel):
    items: list[Order]
    next_cursor: str | None = Field(description="pass as cursor for the next page; null on the last")


# ---------------------------------------------------------------- unit callback API


class PushOrder(BaseModel):
    """The order as a unit sees it: caller masked unless allowed, none when anonymous."""

    id: int
    number: str
    kind: m.Kind
    category_code: str | None
    title: str
    content: str
    address: str
    division_code: str | None
    urgency: m.Urgency
    caller_number: str | None
    caller_name: str | None
    anonymous: bool
    created_at: Timestamp


class UnitOrder(PushOrder):
    """The order as a unit sees it: the caller's number masked (139****1234) unless the citizen
    allowed contact; no caller at all for anonymous orders. A push carries the same fields but
    these three."""

    contact_allowed: bool
    status: str
    version: int


class Assignment(BaseModel):
    id: int
    order_id: int
    unit_id: int
    unit_code: str
    parent_id: int | None
    dispatcher_unit_id: int | None
    level: Literal["city", "district", "street"]
    role: Literal["lead", "assist"]
    status: AssignmentStatus
    dispatched_at: Timestamp
    sign_due_at: Timestamp | None
    reply_due_at: Timestamp | None
    signed_at: Timestamp | None
    first_contact_at: Timestamp | None
    replied_at: Timestamp | None
    reply_text: str | None
    reply_result: str | None
    reply_attachments: list[str]
    returned_at: Timestamp | None
    return_reason: str | None
    extension_status: Literal["requested", "approved", "denied"] | None
    extension_days: int | None
    extension_reason: str | None
    version: int
    updated_at: Timestamp
    order: UnitOrder


class AssignmentEvent(BaseModel):
    id: int
    action: str
    actor_unit_id: int | None
    from_status: str | None
    to_status: str | None
    payload: dict[str, Any]
    created_at: Timestamp


class AssignmentDetail(Assignment):
    events: list[AssignmentEvent]


class AssignmentPage(BaseModel):
    items: list[Assignment]
    next_cursor: str | None = Field(description="pass as cursor for the next page; null on the last")


class UnitMe(BaseModel):
    id: int
    code: str
    name: str
    level: str
    kind: str
    parent_id: int | None
    auth: Literal["hmac", "bearer"]
    key_id: str | None


# ---------------------------------------------------------------- unit keys and the outbox


class IssuedKey(BaseModel):
    key_id: str
    secret: str = Field(description="shown once; store it in the agency system")
    unit_id: int
    created_at: Timestamp
    revoked_key_ids: list[str] = Field(description="keys revoked to keep two active")


class KeyInfo(BaseModel):
    key_id: str
    active: bool
    created_at: Timestamp
    revoked_at: Timestamp | None
    last_used_at: Timestamp | None


class KeyList(BaseModel):
    items: list[KeyInfo]


class Delivery(BaseModel):
    id: int
    delivery_id: str
    topic: str
    order_id: int | None
    unit_id: int
    unit_code: str
    status: Literal["pending", "delivered", "dead", "skipped"]
    attempts: int
    last_status: int | None
    last_error: str | None
    target_url: str | None
    created_at: Timestamp
    last_attempt_at: Timestamp | None
    payload: dict[str, Any]


class DeadPage(BaseModel):
    items: list[Delivery]
    next_cursor: str | None


class Retried(BaseModel):
    unit_id: int
    retried: int


class UnitHealth(Closed):
    unit_id: int
    unit_code: str
    webhook_url: str | None
    pending: int
    dead_now: int
    delivered: int
    failures: int
    consecutive_failures: int
    dead_total: int
    last_success_at: Timestamp | None
    last_failure_at: Timestamp | None
    last_error: str | None


class UnitHealthList(BaseModel):
    items: list[UnitHealth]


# ---------------------------------------------------------------- routing and the dispatch list


class Span(Closed):
    """A piece of the text that named a place."""

    text: str
    start: int
    end: int
    code: str = Field(description="the division code it names")


class Decision(Closed):
    """The routing engine's answer: the unit, the place it resolved and how sure it is."""

    outcome: Outcome = Field(
        description="rule: a dispatch rule chose the unit; centre: none did, the centre dispatches by hand; "
        "none: no rule and no centre unit"
    )
    unit_id: int | None
    unit_code: str | None
    unit_name: str | None
    level: str | None = Field(description="the unit's level: city / district / street")
    rule_id: int | None
    division_code: str | None
    confidence: float
    needs_review: bool
    review_reason: str | None = Field(description="why an agent should check it, in a sentence")
    reasons: list[str]
    assist_unit_ids: list[int]
    assist_rule_ids: list[int]
    via_unit_id: int | None = Field(description="for a street office: the district hub it is reached through")
    spans: list[Span]
    candidates: list[str] = Field(description="the division codes an ambiguous text could mean")


class Suggestion(BaseModel):
    dispatch_to_unit_id: int | None
    decision: Decision | None


class Unit(BaseModel):
    id: int
    code: str
    name: str
    level: Literal["city", "district", "street"]
    kind: str
    parent_id: int | None
    division_code: str | None
    active: bool
    webhook_url: str | None


class UnitList(BaseModel):
    items: list[Unit]


class Rule(BaseModel):
    id: int
    category_code: str | None
    division_prefix: str
    kind: str | None
    unit_id: int
    role: Literal["lead", "assist"]
    note: str
    created_at: Timestamp | None


class RuleList(BaseModel):
    items: list[Rule]


class Alias(BaseModel):
    id: int
    alias: str
    division_code: str
    kind: str
    note: str


class AliasList(BaseModel):
    items: list[Alias]


# ---------------------------------------------------------------- the access log of citizens' data


class PersonalDataLook(Closed):
    """One look at a caller's unmasked number or name (or a call's recording)."""

    id: int
    user_id: int | None = Field(description="null: an agency system's signed request")
    unit_id: int | None
    username: str
    order_id: int | None
    call_id: int | None
    fields: list[str] = Field(description="caller_number, caller_name, recording")
    method: str
    route: str = Field(description="the route's pattern, e.g. /api/orders/{order_id}")
    created_at: Timestamp


class PersonalDataPage(Closed):
    items: list[PersonalDataLook]
    next_cursor: str | None
