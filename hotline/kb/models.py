"""Request bodies of the knowledge base, and what its routes answer."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints, model_validator

from hotline.bounds import INT32_MAX, INT64_MAX, Id
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
    unit_id: Id | None = None  # a unit's handler drafts for its own unit; the centre names one


class Review(Strict):
    version: int = Field(ge=1, le=INT32_MAX)  # an integer column: beyond it is an input error, not a 500
    note: Annotated[str, StringConstraints(strip_whitespace=True, max_length=1000)] = ""


class SearchQuery(Strict):
    q: Query
    category: CategoryCode | None = None
    limit: int = Field(default=10, ge=1, le=50)


class ArticleFilter(Strict):
    status: Annotated[str, StringConstraints(pattern=r"^(draft|published|rejected|superseded)$")] | None = None
    limit: int = Field(default=50, ge=1, le=200)


class ViewQuery(Strict):
    order_id: int | None = Field(default=None, ge=1, le=INT64_MAX)


class FiguresQuery(Strict):
    start: AwareDatetime = Field(alias="from")
    end: AwareDatetime = Field(alias="to")

    @model_validator(mode="after")
    def _order(self) -> FiguresQuery:
        if self.end <= self.start:
            raise ValueError("to must be after from")
        return self


# ---------------------------------------------------------------- what the routes answer


class Answer(BaseModel):
    model_config = ConfigDict(extra="forbid", serialize_by_alias=True, validate_by_name=True)


Status = Literal["draft", "published", "rejected", "superseded"]


class Version(Answer):
    version: int
    status: Status
    title: str
    body: str
    category_code: str | None
    keywords: list[str]
    valid_from: AwareDatetime
    valid_until: AwareDatetime | None
    authored_by: int | None
    authored_at: AwareDatetime
    reviewed_by: int | None
    reviewed_at: AwareDatetime | None
    review_note: str | None


class Article(Answer):
    """An article with its versions, newest first (a unit sees only its own articles' drafts)."""

    id: int
    code: str | None
    unit_id: int
    published_version: int | None
    title: str
    versions: list[Version]


class ArticleRow(Answer):
    id: int
    code: str | None
    unit_id: int
    version: int
    title: str
    status: Status
    category_code: str | None
    authored_at: AwareDatetime


class ArticleList(Answer):
    items: list[ArticleRow]


class Hit(Answer):
    id: int
    title: str
    category_code: str | None
    valid_until: AwareDatetime | None
    unit_id: int
    version: int
    snippet: str
    rank: float


class Suggestions(Answer):
    items: list[Hit]


class SearchResult(Suggestions):
    tokens: list[str]  # what the query was searched as (after synonyms)


class Period(Answer):
    start: str = Field(alias="from")
    end: str = Field(alias="to")


class ArticleUse(Answer):
    id: int
    title: str | None
    unit_id: int
    orders: int
    direct_answers: int
    direct_answer_rate: float


class UnusedArticle(Answer):
    id: int
    title: str
    unit_id: int
    valid_from: AwareDatetime


class Figures(Answer):
    period: Period
    articles: list[ArticleUse]
    unused: list[UnusedArticle]


class ExportedArticle(Answer):
    code: str
    unit_code: str
    title: str
    body: str
    category_code: str | None
    keywords: list[str]
    valid_from: str
    valid_until: str | None


class ExportedSynonym(Answer):
    term: str
    expansions: list[str]


class Export(Answer):
    """The import file's shape: what ``/api/kb/import`` takes back."""

    articles: list[ExportedArticle]
    synonyms: list[ExportedSynonym]


class Imported(Answer):
    created: int
    updated: int
    synonyms: int
