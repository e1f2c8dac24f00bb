"""Figures supervisors read (DESIGN.md §6) and the call-centre KPIs.

Counting rule
-------------
* **Which assignments.** Only lead assignments (``role = 'lead'``); assists do not reply. A
  cancelled assignment (its order was merged away) is not counted.
* **Re-dispatched hubs.** A district hub that re-dispatched its assignment down to a street
  or district unit is not counted for the hub: the child assignment carries the work and is
  counted for the unit that did it. "Re-dispatched" means the assignment has a child
  (``assignments.parent_id``), not only ``status = 'redispatched'``: once the hub accepts the
  street's reply its own assignment moves on to ``replied`` / ``done``, and counting it then
  would count the order twice.
* **Which period.** An assignment counts in the period its reply deadline (``reply_due_at``)
  falls in, or its ``dispatched_at`` when it has no deadline. Periods are Shanghai calendar
  days, Monday–Sunday weeks or calendar months (``periods``), half-open ``[start, end)``.
* **On time.** Signed on time = ``signed_at <= sign_due_at``; replied on time =
  ``replied_at <= reply_due_at``; with no deadline a sign or reply counts as on time.
* **Returned** = the assignment has ``returned_at``. **Responded** = the unit first contacted
  the citizen within the response limit (default 24 h) of ``dispatched_at``.
* **Visits** count for the assignment whose reply they checked: ``visits.assignment_id``,
  which for a street's accepted reply is its hub's assignment (the one the centre
  dispatched). Only reached visits count; an assignment's latest reached visit is its verdict.
  visited = replied assignments with a reached visit; satisfied = verdict 满意 or 基本满意;
  resolved = verdict resolved. So 满意率 and 解决率 are over visited assignments and 回访率
  is visited / replied — all numbers count assignments of the same set, and a drill-down
  lists exactly the rows behind each.
* **直接答复率** is per order, not per assignment: orders created in the period whose close
  reason (or current status) is ``resolved_directly`` / orders created in the period. Orders
  have no unit, so grouped by unit it appears in the total row only.
* **Empty groups.** Grouped by unit every active unit is listed (optionally one level), by
  district / street every division of that level, by category every category of the chosen
  depth — with zeros, so a supervisor sees who had nothing. Rows for keys outside that list
  (an inactive unit, a city-level place, no place at all) follow them.
* **Rates** are ``None`` when their denominator is 0, never 0 and never a division error.
"""

from hotline.figures.calls import CallRow, CallsBy, call_kpis
from hotline.figures.counting import COUNTS, METRICS, NULL_KEY, RATES, GroupName, Level, count_for, grouping, rate
from hotline.figures.drill import DrillPage, Side, drill_down
from hotline.figures.export import figures_csv
from hotline.figures.periods import TZ, Period, PeriodKind, between, midnight, period_of, today
from hotline.figures.rates import FigureRow, FiguresTable, TrendPoint, figures, trend

__all__ = [
    "COUNTS",
    "METRICS",
    "NULL_KEY",
    "RATES",
    "TZ",
    "CallRow",
    "CallsBy",
    "DrillPage",
    "FigureRow",
    "FiguresTable",
    "GroupName",
    "Level",
    "Period",
    "PeriodKind",
    "Side",
    "TrendPoint",
    "between",
    "call_kpis",
    "count_for",
    "drill_down",
    "figures",
    "figures_csv",
    "grouping",
    "midnight",
    "period_of",
    "rate",
    "today",
    "trend",
]
