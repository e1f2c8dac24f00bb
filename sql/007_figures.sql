-- Figures supervisors read (hotline/figures): indexes and planner statistics only. No rollup
-- tables: nothing but the source rows can go stale, and the order actions need no hook.
-- Measured on 2,000,000 orders (benchmarks/figures.py): a month's table by unit in ~0.25 s.

-- The counted assignments of a period: lead assignments by the time their reply is due
-- (dispatch time when there is none) — the expression hotline/figures/counting.py filters on,
-- so a month is one index range scan. id second: a drill-down pages in (due, id) order and
-- stops at the end of a page instead of sorting the month.
CREATE INDEX assignments_figures_period ON assignments ((coalesce(reply_due_at, dispatched_at)), id)
    WHERE role = 'lead';

-- The planner ignores expression statistics of a partial index, so without these it guesses
-- 0.5 % of the table for any period and plans a month's rows as if they were a handful.
CREATE STATISTICS assignments_figures_period_stats ON (coalesce(reply_due_at, dispatched_at)) FROM assignments;

-- The verdict of an assignment: its latest reached visit, read index-only.
CREATE INDEX visits_assignment_reached ON visits (assignment_id, id DESC)
    INCLUDE (satisfaction, resolved) WHERE reached;

-- Grouping by district, street or category reads two columns of each counted assignment's
-- order: index-only probes instead of a hash join over every order ever taken (which halved
-- a month's table by district on 2,000,000 orders, 0.57 s -> 0.29 s).
CREATE INDEX work_orders_figures_keys ON work_orders (id) INCLUDE (division_code, category_code);
