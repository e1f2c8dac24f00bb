"""Request bodies of the knowledge base."""

from __future__ import annotations

from typing import Annotated

from pydantic import AwareDatetime, Field, StringConstraints, model_validator

from hotline.orders.models import Strict

Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=2, max_length=200)]
Body = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=20000)]
Keyword = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=50)]
CategoryCode = Annotated[str, StringConstraints(pattern=r"^([0-9]{2})+$")]
Query = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=4000)]


class ArticleText(Strict):
    """What a version holds; validity is an interval [valid_from, valid_until)."""

    title: Title
    body: Body
    category_code: CategoryCode | None = None
    keywords: list[Keyword] = Field(default_factory=list, max_length=30)
    valid_from: AwareDatetime | None = None  # None: from the moment it is written
    valid_until: AwareDatetime | None = None  # None: no end

    @model_validator(mode="after")
    def _interval(self) -> ArticleText:
        if self.valid_from and self.valid_until and self.valid_until <= self.valid_from:
            raise ValueError("valid_until must be after valid_from")
        return self


class NewArticle(ArticleText):
    code: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)] | None = None
    unit_id: int | None = None  # a unit's handler drafts for its own unit; the centre names one


class Review(Strict):
    version: int = Field(ge=1)
    note: Annotated[str, StringConstraints(strip_whitespace=True, max_length=1000)] = ""


class SearchQuery(Strict):
    q: Query
    category: CategoryCode | None = None
    limit: int = Field(default=10, ge=1, le=50)


class ArticleFilter(Strict):
    status: Annotated[str, StringConstraints(pattern=r"^(draft|published|rejected|superseded)$")] | None = None
    limit: int = Field(default=50, ge=1, le=200)


class ViewQuery(Strict):
    order_id: int | None = Field(default=None, ge=1)


class FiguresQuery(Strict):
    start: AwareDatetime = Field(alias="from")
    end: AwareDatetime = Field(alias="to")

    @model_validator(mode="after")
    def _order(self) -> FiguresQuery:
        if self.end <= self.start:
            raise ValueError("to must be after from")
        return self
