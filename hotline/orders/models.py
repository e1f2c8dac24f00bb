"""Request bodies, validated with pydantic before anything touches the database."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, StringConstraints, model_validator

Kind = Literal["consult", "help", "complaint", "report", "suggestion", "praise"]
Urgency = Literal["normal", "urgent", "emergency"]
Satisfaction = Literal["satisfied", "basically_satisfied", "unsatisfied"]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=4000)]
ShortText = Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)]
Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=2, max_length=1000)]
PhoneNumber = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^\+?[0-9][0-9\-]{2,31}$")]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class NewOrder(Strict):
    kind: Kind
    content: Text
    category_code: Annotated[str, StringConstraints(pattern=r"^([0-9]{2})+$")] | None = None
    title: ShortText = ""
    address: Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)] = ""
    division_code: Annotated[str, StringConstraints(pattern=r"^[0-9]{6,12}$")] | None = None
    urgency: Urgency = "normal"
    caller_number: PhoneNumber | None = None
    caller_name: ShortText | None = None
    anonymous: bool = False
    contact_allowed: bool = True
    channel: Literal["phone", "web", "app", "wechat", "email", "other"] = "phone"
    call_linkedid: Annotated[str, StringConstraints(max_length=64)] | None = None


class ActionBody(Strict):
    """Every action body may carry the version the caller last read (optimistic concurrency)."""

    version: int | None = Field(default=None, ge=1)


class Dispatch(ActionBody):
    unit_id: int
    assist_unit_ids: list[int] = Field(default_factory=list, max_length=10)
    note: ShortText = ""
    # Required when unit_id is not the routing engine's suggestion (GET /api/orders/{id}/route).
    override_reason: Reason | None = None


class Redispatch(ActionBody):
    unit_id: int
    note: ShortText = ""


class Empty(ActionBody):
    pass


class NoteBody(ActionBody):
    note: Text


class ResolveDirectly(NoteBody):
    # The knowledge-base articles the answer came from (hotline/kb/usage.py records the citation).
    article_ids: list[int] = Field(default_factory=list, max_length=10)


class OptionalNote(ActionBody):
    note: ShortText = ""


class Return(ActionBody):
    reason: Reason


class Contact(ActionBody):
    note: ShortText = ""
    contacted_at: datetime | None = None


class ExtensionRequest(ActionBody):
    days: int = Field(ge=1, le=366)  # the active deadline policy sets the real limit
    reason: Reason


class ExtensionDecision(ActionBody):
    approve: bool
    assignment_id: int | None = None
    note: ShortText = ""


class Reply(ActionBody):
    text: Text
    result: Literal["resolved", "explained", "partly_resolved", "unresolvable"] = "resolved"
    attachments: list[HttpUrl] = Field(default_factory=list, max_length=20)


class Review(ActionBody):
    accept: bool
    reason: Reason | None = None

    @model_validator(mode="after")
    def _reason_when_sent_back(self) -> Review:
        if not self.accept and not self.reason:
            raise ValueError("a reply sent back needs a reason")
        return self


class Visit(ActionBody):
    reached: bool
    satisfaction: Satisfaction | None = None
    resolved: bool | None = None
    note: ShortText = ""

    @model_validator(mode="after")
    def _outcome_when_reached(self) -> Visit:
        if self.reached and (self.satisfaction is None or self.resolved is None):
            raise ValueError("a visit that reached the citizen records satisfaction and resolved")
        return self


class Merge(ActionBody):
    into_order_id: int
    note: ShortText = ""


class Suspend(ActionBody):
    reason: Reason


class SetDivision(ActionBody):
    """An agent's correction of where the order is (see hotline/orders/place.py)."""

    division_code: Annotated[str, StringConstraints(pattern=r"^[0-9]{6,12}$")]
    reason: Reason


class Login(Strict):
    username: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
    password: Annotated[str, StringConstraints(min_length=1, max_length=200)]
