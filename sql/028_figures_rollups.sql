-- Daily rollups of the figures (hotline/figures/rollups.py), so a month's table reads about 30
-- days × groups rows whatever the month's size and the history's length.
--
-- A day is read from the rollup only while it is *clean*: built_changes = changes. Every write
-- that can move a count of a built day bumps that day's `changes` in the writer's own
-- transaction (the triggers below), so a figure is exact in any snapshot: a clean day's rollup
-- is the base tables' count, a stale or unbuilt day is counted live. Days are built by the
-- rollup worker once they are two days old, and rebuilt when stale; a day nobody built costs
-- no write (the UPDATE finds no row), so today's intake never touches these tables.

CREATE TABLE figures_rollup_days (
    day           date PRIMARY KEY,        -- Shanghai calendar day
    changes       bigint NOT NULL DEFAULT 0,
    built_changes bigint,                  -- `changes` as of the build's snapshot; NULL: never built
    built_at      timestamptz
);

-- Assignment counts per day (the day of coalesce(reply_due_at, dispatched_at), as the figures
-- count them), grouping, assignment level and key (unit id, district / street code, category
-- code at depth 3; NULL: no such place or topic). The columns are the counts of
-- hotline/figures/counting.py ASSIGNMENT_COUNTS at the default response limit.
CREATE TABLE figures_day_assignments (
    day             date NOT NULL,
    grp             text NOT NULL CHECK (grp IN ('unit', 'district', 'street', 'category')),
    level           text NOT NULL,
    key             text,
    dispatched      integer NOT NULL,
    signed_on_time  integer NOT NULL,
    replied         integer NOT NULL,
    replied_on_time integer NOT NULL,
    returned        integer NOT NULL,
    responded       integer NOT NULL,
    visited         integer NOT NULL,
    satisfied       integer NOT NULL,
    resolved        integer NOT NULL
);
CREATE INDEX figures_day_assignments_read ON figures_day_assignments (grp, day);

-- Order counts per day of created_at (ORDER_COUNTS), by district, street and category.
CREATE TABLE figures_day_orders (
    day               date NOT NULL,
    grp               text NOT NULL CHECK (grp IN ('district', 'street', 'category')),
    key               text,
    received          integer NOT NULL,
    resolved_directly integer NOT NULL
);
CREATE INDEX figures_day_orders_read ON figures_day_orders (grp, day);

CREATE FUNCTION figures_day_of(at timestamptz) RETURNS date
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT (at AT TIME ZONE 'Asia/Shanghai')::date $$;

CREATE FUNCTION figures_touch(days date[]) RETURNS void LANGUAGE sql AS $$
    UPDATE figures_rollup_days SET changes = changes + 1 WHERE day = ANY (days)
$$;

-- An assignment counts on its own day; a child's arrival takes its hub's assignment out of the
-- count, so the parent's day moves too.
CREATE FUNCTION figures_assignment_changed() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    days date[] := '{}';
BEGIN
    IF TG_OP <> 'INSERT' THEN
        days := days || figures_day_of(coalesce(OLD.reply_due_at, OLD.dispatched_at));
    END IF;
    IF TG_OP <> 'DELETE' THEN
        days := days || figures_day_of(coalesce(NEW.reply_due_at, NEW.dispatched_at));
        IF NEW.parent_id IS NOT NULL THEN
            days := days || (SELECT figures_day_of(coalesce(p.reply_due_at, p.dispatched_at))
                             FROM assignments p WHERE p.id = NEW.parent_id);
        END IF;
    END IF;
    PERFORM figures_touch(days);
    RETURN NULL;
END $$;

CREATE TRIGGER figures_assignment_insert_delete AFTER INSERT OR DELETE ON assignments
    FOR EACH ROW EXECUTE FUNCTION figures_assignment_changed();
-- Only the columns a count reads: the deadline clock's bookkeeping writes move nothing.
CREATE TRIGGER figures_assignment_update AFTER UPDATE ON assignments
    FOR EACH ROW WHEN (
        (OLD.status, OLD.role, OLD.level, OLD.unit_id, OLD.parent_id, OLD.order_id, OLD.dispatched_at,
         OLD.sign_due_at, OLD.reply_due_at, OLD.signed_at, OLD.first_contact_at, OLD.replied_at, OLD.returned_at)
        IS DISTINCT FROM
        (NEW.status, NEW.role, NEW.level, NEW.unit_id, NEW.parent_id, NEW.order_id, NEW.dispatched_at,
         NEW.sign_due_at, NEW.reply_due_at, NEW.signed_at, NEW.first_contact_at, NEW.replied_at, NEW.returned_at))
    EXECUTE FUNCTION figures_assignment_changed();

-- A visit is the verdict of the assignment it checked and of that assignment's children (a
-- street's accepted reply is visited on its hub's assignment).
CREATE FUNCTION figures_visit_changed() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    ids bigint[] := '{}';
BEGIN
    IF TG_OP <> 'INSERT' THEN ids := ids || OLD.assignment_id; END IF;
    IF TG_OP <> 'DELETE' THEN ids := ids || NEW.assignment_id; END IF;
    -- Two indexed lookups (primary key, assignments_parent), not one OR that scans the table.
    PERFORM figures_touch(ARRAY(
        SELECT figures_day_of(coalesce(a.reply_due_at, a.dispatched_at)) FROM assignments a WHERE a.id = ANY (ids)
        UNION
        SELECT figures_day_of(coalesce(a.reply_due_at, a.dispatched_at)) FROM assignments a
        WHERE a.parent_id = ANY (ids)));
    RETURN NULL;
END $$;

CREATE TRIGGER figures_visit_changed AFTER INSERT OR UPDATE OR DELETE ON visits
    FOR EACH ROW EXECUTE FUNCTION figures_visit_changed();

-- An order counts on its created day; its place, topic and repeat mark key (or drop) its
-- assignments' counts too.
CREATE FUNCTION figures_order_changed() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    days date[] := ARRAY[figures_day_of(NEW.created_at)];
BEGIN
    IF TG_OP = 'UPDATE' THEN
        days := days || figures_day_of(OLD.created_at);
        IF (OLD.division_code, OLD.category_code, OLD.repeat_of) IS DISTINCT FROM
           (NEW.division_code, NEW.category_code, NEW.repeat_of) THEN
            days := days || ARRAY(SELECT figures_day_of(coalesce(a.reply_due_at, a.dispatched_at))
                                  FROM assignments a WHERE a.order_id = NEW.id);
        END IF;
    END IF;
    PERFORM figures_touch(days);
    RETURN NULL;
END $$;

CREATE TRIGGER figures_order_insert AFTER INSERT ON work_orders
    FOR EACH ROW EXECUTE FUNCTION figures_order_changed();
CREATE TRIGGER figures_order_update AFTER UPDATE ON work_orders
    FOR EACH ROW WHEN (
        (OLD.status, OLD.close_reason, OLD.created_at, OLD.division_code, OLD.category_code, OLD.repeat_of)
        IS DISTINCT FROM
        (NEW.status, NEW.close_reason, NEW.created_at, NEW.division_code, NEW.category_code, NEW.repeat_of))
    EXECUTE FUNCTION figures_order_changed();
