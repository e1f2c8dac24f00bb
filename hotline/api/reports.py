"""Response models of the supervisors' and admins' views: deadlines, policies, the calendar
and the figures. Rows built from several tables keep ``extra="allow"`` (see ``schemas``)."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model

from hotline.api.schemas import Closed, Open, Timestamp
from hotline.deadlines.policy import Clock, TimeUnit
from hotline.figures.counting import COUNTS, RATES

# ---------------------------------------------------------------- deadlines


class LateUnit(Closed):
    unit_id: int
    unit_code: str
    unit_name: str
    count: int = Field(description="its assignments listed (all of them, not only this page)")
    oldest_due_at: Timestamp


class LateItem(Closed):
    """One clock of one open assignment: late (``late_seconds`` > 0) or coming due (< 0)."""

    assignment_id: int
    order_id: int
    number: str
    kind: str
    urgency: str
    order_status: str
    unit_id: int
    unit_code: str
    unit_name: str
    status: str = Field(description="the assignment's status")
    dispatched_at: Timestamp
    clock: Literal["sign", "reply"]
    due_at: Timestamp
    late_seconds: int = Field(description="now − due_at, in seconds")


class Late(Closed):
    """Open assignments past (or coming up to) a deadline, with counts per unit."""

    now: Timestamp
    total: int
    units: list[LateUnit]
    items: list[LateItem]


class PolicyRule(Closed):
    id: int
    preset: str
    clock: Clock
    kind: str | None = Field(description="the order kind it applies to; null: any")
    category_prefix: str | None = Field(description="the category codes it applies to; null: any")
    urgency: str | None = Field(description="null: any")
    amount: int
    unit: TimeUnit
    note: str
    created_at: Timestamp


class Preset(Closed):
    name: str
    description: str
    active: bool
    rules: list[PolicyRule]


class PresetList(BaseModel):
    items: list[Preset]


class Activated(BaseModel):
    active: str


class DueRule(BaseModel):
    id: int
    amount: int
    unit: str
    note: str


class Limit(BaseModel):
    amount: int
    unit: str


class Preview(BaseModel):
    at: Timestamp
    sign_due_at: Timestamp
    sign_rule: DueRule
    reply_due_at: Timestamp
    reply_rule: DueRule
    visit_due_at: Timestamp
    visit_rule: DueRule
    extension_limit: Limit


class CalendarDay(Closed):
    day: dt.date
    workday: bool
    note: str


class Calendar(BaseModel):
    year: int
    covered: bool
    overrides: list[CalendarDay]


# ---------------------------------------------------------------- figures


class PeriodOut(BaseModel):
    from_: dt.date = Field(alias="from")
    to: dt.date
    start: Timestamp
    end: Timestamp

    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)


class _FigureRowKeys(Closed):
    key: str | None = Field(description="the group's key (drill-downs and trends take it); null on the total")
    code: str | None
    name: str


# Every count (an integer) and every rate (null when its denominator is 0) the figures define.
FigureRow = create_model(
    "FigureRow",
    __base__=_FigureRowKeys,
    **{name: (int, ...) for name in COUNTS},
    **{name: (float | None, Field(description=f"{n} / {d}")) for name, (n, d) in RATES.items()},
)


class Figures(BaseModel):
    group: str
    period: PeriodOut
    rows: list[FigureRow]
    total: FigureRow


class Drill(BaseModel):
    period: PeriodOut
    metric: str
    side: Literal["numerator", "denominator"]
    items: list[dict[str, Any]]
    next_cursor: str | None


class TrendPoint(BaseModel):
    date: dt.date
    numerator: int
    denominator: int
    value: float | None


class Trend(BaseModel):
    period: PeriodOut
    metric: str
    points: list[TrendPoint]


class CallsRow(Open):
    name: str | None
    offered: int
    answered: int
    abandoned: int
    answer_rate: float | None


class CallFigures(BaseModel):
    period: PeriodOut
    by: str
    rows: list[CallsRow]
    total: CallsRow


class SurveyRow(BaseModel):
    key: str | None = Field(description="agent user id, queue or Shanghai day; null: no agent / queue")
    asked: int = Field(description="calls whose end-of-call survey played")
    answered: int = Field(description="of them, a key was pressed")
    satisfied: int
    basically_satisfied: int
    unsatisfied: int
    off_scale: int = Field(description="a key not on HOTLINE_SURVEY_SCALE")
    visited: int = Field(description="calls whose orders had a reached return visit")
    visit_satisfied: int
    satisfaction_rate: float | None = Field(description="(满意 + 基本满意) / keys on the scale")
    visit_satisfaction_rate: float | None = Field(description="the return visits' 满意率 on the same calls")


class SurveyFigures(BaseModel):
    period: PeriodOut
    by: str
    rows: list[SurveyRow]
    total: SurveyRow


class AgentDayFigures(BaseModel):
    """Whole seconds of one Shanghai day (see ``hotline.figures.agent_days`` for the rule)."""

    model_config = ConfigDict(extra="forbid")
    signed_in: int = Field(description="not offline in every queue; = busy_total + talk + ringing + wrapup + ready")
    busy: dict[str, int] = Field(description="paused (示忙), per reason; 未注明: no reason given")
    busy_total: int
    talk: int = Field(description="in a call (a pause while talking counts here)")
    ringing: int
    wrapup: int
    ready: int = Field(description="available (示闲), nothing ringing")
    occupancy: float | None = Field(description="(talk + wrapup) / (signed_in − busy_total); null: no available time")
    calls: int = Field(description="distinct calls (linkedids) the agent went in call on that day")


class AgentDayRow(AgentDayFigures):
    interface: str = Field(description="the queue member's interface (users.agent_interface)")
    member_name: str | None
    user_id: int | None = Field(description="the user with that agent_interface; null: none")
    username: str | None
    display_name: str | None


class AgentDays(BaseModel):
    model_config = ConfigDict(extra="forbid")
    day: dt.date
    agents: list[AgentDayRow]
    total: AgentDayFigures
