"""Response models of agent assist: repeat candidates with why each may be the same matter,
and hotspot alerts with their orders."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field


class Closed(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SameCaller(Closed):
    code: Literal["same_caller"]
    days: int
    same_category: bool
    content_similarity: float
    score: float


class SamePlace(Closed):
    code: Literal["same_place"]
    days: int
    division_code: str
    category_code: str
    address_similarity: float
    score: float


class SimilarContent(Closed):
    code: Literal["similar_content"]
    days: int
    content_similarity: float
    score: float


Reason = Annotated[SameCaller | SamePlace | SimilarContent, Field(discriminator="code")]


class Candidate(Closed):
    id: int
    number: str
    status: str
    kind: str
    category_code: str | None
    division_code: str | None
    created_at: dt.datetime
    repeat_of: int | None
    content: str  # its first 200 characters
    score: float  # the best of its reasons'
    reasons: list[Reason]


class Similar(Closed):
    order_id: int
    items: list[Candidate]


class Hotspot(Closed):
    id: int
    division_code: str
    division_name: str
    category_code: str
    category_name: str
    status: Literal["active", "cooled"]
    window_start: dt.datetime
    opened_at: dt.datetime
    cooled_at: dt.datetime | None
    order_count: int  # orders in the window when it was raised
    peak_count: int
    baseline: float  # the same window's average over the weeks before
    order_ids: list[int]
    orders_url: str


class Hotspots(Closed):
    items: list[Hotspot]


class HotspotOrder(Closed):
    id: int
    number: str
    status: str
    kind: str
    address: str | None
    created_at: dt.datetime
    content: str  # its first 200 characters


class HotspotDetail(Hotspot):
    orders: list[HotspotOrder]
