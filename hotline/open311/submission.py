"""A GeoReport POST's parameters into our order: the contact fields honour anonymity."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, ValidationError

from hotline.open311.formats import Open311Error
from hotline.open311.views import KIND_NAMES
from hotline.orders import models as m


class PostParams(BaseModel):
    """The spec's POST parameters we use (others, e.g. address_id, are accepted and ignored)."""

    model_config = ConfigDict(extra="ignore")

    service_code: str
    lat: float | None = Field(default=None, ge=-90, le=90)
    long: float | None = Field(default=None, ge=-180, le=180)
    address_string: str | None = Field(default=None, max_length=500)
    address_id: str | None = None
    email: str | None = Field(default=None, max_length=200)
    device_id: str | None = Field(default=None, max_length=200)
    account_id: str | None = Field(default=None, max_length=200)
    first_name: str | None = Field(default=None, max_length=100)
    last_name: str | None = Field(default=None, max_length=100)
    phone: str | None = None
    description: str | None = None
    media_url: HttpUrl | None = None


def new_order(form: dict[str, str]) -> tuple[m.NewOrder, dict[str, Any]]:
    """The order and the intake record's extras (coordinates, photo, contact ids)."""
    p = PostParams.model_validate({k: v for k, v in form.items() if v != ""})
    if p.address_string is None and p.address_id is None and (p.lat is None or p.long is None):
        raise Open311Error(400, "a location is required: lat and long, address_string or address_id")
    if (p.lat is None) != (p.long is None):
        raise Open311Error(400, "lat and long go together")
    if not p.description or not p.description.strip():
        raise Open311Error(400, "description is required")
    kind = form.get("attribute[kind]") or "complaint"
    if kind not in KIND_NAMES:
        raise Open311Error(400, f"attribute[kind] must be one of {', '.join(KIND_NAMES)}")
    anonymous = form.get("attribute[anonymous]", "false").lower() in ("true", "1", "yes")
    name = "".join(n for n in (p.last_name, p.first_name) if n) or None
    try:
        order = m.NewOrder(
            kind=kind, content=p.description, category_code=p.service_code, address=p.address_string or "",
            caller_number=p.phone, caller_name=name, anonymous=anonymous,
            # Anonymous: the units never see who it was; otherwise they may call back only if a phone was given.
            contact_allowed=not anonymous and p.phone is not None, channel="open311",
        )  # fmt: skip
    except ValidationError as exc:
        field = ".".join(str(x) for x in exc.errors()[0]["loc"])
        raise Open311Error(400, f"{'phone' if field == 'caller_number' else field} is not valid") from None
    contact = {k: v for k, v in (("email", p.email), ("device_id", p.device_id), ("account_id", p.account_id)) if v}
    extra = {"lat": p.lat, "long": p.long, "media_urls": [str(p.media_url)] if p.media_url else [], "contact": contact}
    return order, extra
