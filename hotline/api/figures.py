"""Supervisor figures (DESIGN.md §6) and call-centre KPIs; supervisors and admins only.

Counting rules: see ``hotline.figures``. A period is ``period=day|week|month`` with ``date``
(default today, Shanghai), or ``from`` and ``to`` (Shanghai days, both included, ≤ 366 days).
With neither, the table, CSV and drill-down cover this month, the calls today; a trend needs
``from`` and ``to``. Bad parameters get 422, users other than supervisors and admins 403.

| method | path | what |
| --- | --- | --- |
| GET | `/api/figures?group=unit\\|district\\|street\\|category&period=&date=` (or `from=&to=`) `&level=&depth=&response_hours=` | counts and rates per group, every group listed, plus a total |
| GET | `/api/figures.csv?…` (same parameters) | the same table as CSV (UTF-8 with BOM, header row) |
| GET | `/api/figures/orders?metric=&side=numerator\\|denominator&group=&key=&period=&date=&cursor=&limit=` | the assignments (orders, for `received` / `direct_rate`) behind one number; `key=none` is the no-place row, no key the total |
| GET | `/api/figures/trend?metric=&from=&to=&group=&key=` | one metric per Shanghai day, every day present |
| GET | `/api/figures/calls?by=queue\\|agent\\|hour&period=&date=` (or `from=&to=`) | offered, answered, abandoned, answer rate, service level 15 s / 20 s, ASA, AHT, plus a total |
"""

from __future__ import annotations

import datetime as dt
from datetime import timedelta
from typing import Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from hotline.api import reports as r
from hotline.api.body import parse_query
from hotline.api.contract import operation, respond
from hotline.api.keys import POOL, SERVICES, SETTINGS
from hotline.api.middleware import SUPERVISORS, require_role
from hotline.errors import InvalidInput
from hotline.figures import (
    METRICS,
    TZ,
    CallsBy,
    FiguresTable,
    GroupName,
    Level,
    Period,
    PeriodKind,
    between,
    call_kpis,
    drill_down,
    figures,
    figures_csv,
    period_of,
    trend,
)
from hotline.figures.survey import SurveyBy, parse_scale, survey_figures

routes = web.RouteTableDef()
EARLIEST, LATEST = dt.date(2000, 1, 1), dt.date(2099, 12, 31)
Metric = Literal[METRICS]  # type: ignore[valid-type]


class PeriodQuery(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    period: PeriodKind | None = None
    date: dt.date | None = None
    from_: dt.date | None = Field(default=None, alias="from")
    to: dt.date | None = None

    @field_validator("date", "from_", "to")
    @classmethod
    def _plausible(cls, value: dt.date | None) -> dt.date | None:
        # Keeps week/month arithmetic away from year 1 and 9999 (an overflow would be a 500).
        if value is not None and not EARLIEST <= value <= LATEST:
            raise ValueError(f"dates run from {EARLIEST} to {LATEST}")
        return value

    @model_validator(mode="after")
    def _one_way(self) -> PeriodQuery:
        explicit = self.from_ is not None or self.to is not None
        if explicit and (self.period is not None or self.date is not None):
            raise ValueError("give either period (and date) or from and to, not both")
        if explicit:
            if self.from_ is None or self.to is None:
                raise ValueError("from and to go together")
            between(self.from_, self.to)  # raises ValueError on a reversed or too long range
        return self

    def resolve(self, today: dt.date, default: PeriodKind = "day") -> Period:
        """The period asked for; without a date, the one holding ``today``."""
        if self.from_ is not None and self.to is not None:
            return between(self.from_, self.to)
        return period_of(self.period or default, self.date or today)


class FiguresQuery(PeriodQuery):
    group: GroupName = "unit"
    level: Level | None = None
    depth: int = Field(default=1, ge=1, le=3)  # category depth
    response_hours: int = Field(default=24, ge=1, le=24 * 30)


class DrillQuery(FiguresQuery):
    metric: Metric
    side: Literal["numerator", "denominator"] = "numerator"
    key: str | None = Field(default=None, max_length=40)
    cursor: str | None = Field(default=None, max_length=200)
    limit: int = Field(default=50, ge=1, le=500)


class TrendQuery(FiguresQuery):
    metric: Metric
    key: str | None = Field(default=None, max_length=40)

    @model_validator(mode="after")
    def _range(self) -> TrendQuery:
        if self.from_ is None:
            raise ValueError("a trend needs from and to")
        return self


class CallsQuery(PeriodQuery):
    by: CallsBy = "queue"


class SurveyQuery(PeriodQuery):
    by: SurveyBy = "agent"


def _today(request: web.Request) -> dt.date:
    """Today in Shanghai on the services' clock, as every other "now" of the API is read."""
    return request.app[SERVICES].clock().astimezone(TZ).date()


def _supervisor(request: web.Request) -> None:
    require_role(request, SUPERVISORS, "figures are for supervisors")


async def _table(request: web.Request) -> FiguresTable:
    q = parse_query(request, FiguresQuery)
    async with request.app[POOL].acquire() as conn:
        return await figures(
            conn,
            q.resolve(_today(request), "month"),
            q.group,
            level=q.level,
            category_depth=q.depth,
            response_limit=timedelta(hours=q.response_hours),
        )


@routes.get("/api/figures")
@operation("Counts and rates per group, plus a total", "figures", response=r.Figures, query=FiguresQuery)
async def figures_table(request: web.Request) -> web.Response:
    _supervisor(request)
    return respond(request, (await _table(request)).as_dict())


@routes.get("/api/figures.csv")
@operation("The figures table as CSV", "figures", query=FiguresQuery, media="text/csv")
async def figures_export(request: web.Request) -> web.Response:
    _supervisor(request)
    table = await _table(request)
    name = f"figures-{table.group}-{table.period.first.isoformat()}-{table.period.last.isoformat()}.csv"
    return web.Response(
        body=figures_csv(table),
        content_type="text/csv",
        charset="utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@routes.get("/api/figures/orders")
@operation("The assignments behind one number", "figures", response=r.Drill, query=DrillQuery)
async def figures_orders(request: web.Request) -> web.Response:
    _supervisor(request)
    q = parse_query(request, DrillQuery)
    period = q.resolve(_today(request), "month")
    try:
        async with request.app[POOL].acquire() as conn:
            page = await drill_down(
                conn,
                period,
                q.metric,
                q.side,
                q.group,
                q.key,
                level=q.level,
                category_depth=q.depth,
                response_limit=timedelta(hours=q.response_hours),
                cursor=q.cursor,
                limit=q.limit,
            )
    except ValueError as exc:
        raise InvalidInput(str(exc), {"metric": q.metric, "group": q.group}) from None
    return respond(request, {"period": period.as_dict(), "metric": q.metric, "side": q.side, **page.as_dict()})


@routes.get("/api/figures/trend")
@operation("One metric per day", "figures", response=r.Trend, query=TrendQuery)
async def figures_trend(request: web.Request) -> web.Response:
    _supervisor(request)
    q = parse_query(request, TrendQuery)
    period = q.resolve(_today(request))
    try:
        async with request.app[POOL].acquire() as conn:
            points = await trend(
                conn,
                q.metric,
                period,
                q.group,
                q.key,
                level=q.level,
                category_depth=q.depth,
                response_limit=timedelta(hours=q.response_hours),
            )
    except ValueError as exc:
        raise InvalidInput(str(exc), {"metric": q.metric, "group": q.group}) from None
    return respond(request, {"period": period.as_dict(), "metric": q.metric, "points": [p.as_dict() for p in points]})


@routes.get("/api/figures/calls")
@operation("Call-centre KPIs", "figures", response=r.CallFigures, query=CallsQuery)
async def figures_calls(request: web.Request) -> web.Response:
    _supervisor(request)
    q = parse_query(request, CallsQuery)
    period = q.resolve(_today(request))
    async with request.app[POOL].acquire() as conn:
        rows, total = await call_kpis(conn, period, q.by)
    return respond(
        request, {"period": period.as_dict(), "by": q.by, "rows": [r.as_dict() for r in rows], "total": total.as_dict()}
    )


@routes.get("/api/figures/survey")
@operation("End-of-call survey (按键评价) beside the return visits", "figures", response=r.SurveyFigures,
           query=SurveyQuery)  # fmt: skip
async def figures_survey(request: web.Request) -> web.Response:
    _supervisor(request)
    q = parse_query(request, SurveyQuery)
    period = q.resolve(_today(request))
    async with request.app[POOL].acquire() as conn:
        rows, total = await survey_figures(conn, period, q.by, parse_scale(request.app[SETTINGS].survey_scale))
    return respond(request, {"period": period.as_dict(), "by": q.by, "rows": rows, "total": total})
