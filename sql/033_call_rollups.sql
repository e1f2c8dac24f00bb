-- Call KPIs per day (hotline/figures/call_rollups.py): the partial sums call_kpis adds up
-- (hotline/figures/calls.py), per Shanghai day of the segment's queue join and key, so a month's
-- KPIs read about 30 days × keys rows. Built with the figures rollup of the same day, and read
-- only while that day is clean (figures_rollup_days, sql/028): a change to a call, a queue leg or
-- an agent leg of a built day bumps the day's `changes` in the writer's transaction.

CREATE TABLE figures_day_calls (
    day        date NOT NULL,
    grp        text NOT NULL CHECK (grp IN ('queue', 'agent', 'hour')),
    k1         text,        -- queue / agent_user_id / the hour's start as epoch seconds
    k2         text,        -- by agent: the member's name when no user is known
    offered    bigint NOT NULL,
    answered   bigint NOT NULL,
    abandoned  bigint NOT NULL,
    within_15  bigint NOT NULL,
    within_20  bigint NOT NULL,
    hold_sum   numeric,
    hold_n     bigint NOT NULL,
    talk_sum   numeric,
    talk_n     bigint NOT NULL
);
CREATE INDEX figures_day_calls_read ON figures_day_calls (grp, day);

-- A call counts on the day it entered its queue (as AMI saw it, until the CEL pass finalizes it).
CREATE FUNCTION figures_call_changed() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    days date[] := '{}';
BEGIN
    IF TG_OP <> 'INSERT' AND OLD.entered_at IS NOT NULL THEN days := days || figures_day_of(OLD.entered_at); END IF;
    IF TG_OP <> 'DELETE' AND NEW.entered_at IS NOT NULL THEN days := days || figures_day_of(NEW.entered_at); END IF;
    PERFORM figures_touch(days);
    RETURN NULL;
END $$;

CREATE TRIGGER figures_call_insert_delete AFTER INSERT OR DELETE ON calls
    FOR EACH ROW EXECUTE FUNCTION figures_call_changed();
-- Only what a KPI reads: the adapter's other updates of a live call move nothing.
CREATE TRIGGER figures_call_update AFTER UPDATE ON calls
    FOR EACH ROW WHEN (
        (OLD.queue, OLD.outcome, OLD.entered_at, OLD.hold_time, OLD.talk_time, OLD.agent_user_id, OLD.agent_name,
         OLD.finalized_at)
        IS DISTINCT FROM
        (NEW.queue, NEW.outcome, NEW.entered_at, NEW.hold_time, NEW.talk_time, NEW.agent_user_id, NEW.agent_name,
         NEW.finalized_at))
    EXECUTE FUNCTION figures_call_changed();

CREATE FUNCTION figures_queue_leg_changed() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    days date[] := '{}';
BEGIN
    IF TG_OP <> 'INSERT' THEN days := days || figures_day_of(OLD.joined_at); END IF;
    IF TG_OP <> 'DELETE' THEN days := days || figures_day_of(NEW.joined_at); END IF;
    PERFORM figures_touch(days);
    RETURN NULL;
END $$;

CREATE TRIGGER figures_queue_leg_changed AFTER INSERT OR UPDATE OR DELETE ON call_queue_legs
    FOR EACH ROW EXECUTE FUNCTION figures_queue_leg_changed();

-- An agent leg counts through the queue legs it answered.
CREATE INDEX call_queue_legs_agent_leg ON call_queue_legs (agent_leg_id) WHERE agent_leg_id IS NOT NULL;

CREATE FUNCTION figures_agent_leg_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM figures_touch(ARRAY(SELECT figures_day_of(q.joined_at) FROM call_queue_legs q
                                WHERE q.agent_leg_id = CASE WHEN TG_OP = 'DELETE' THEN OLD.id ELSE NEW.id END));
    RETURN NULL;
END $$;

CREATE TRIGGER figures_agent_leg_update AFTER UPDATE ON call_agent_legs
    FOR EACH ROW WHEN (
        (OLD.wait_seconds, OLD.talk_seconds, OLD.agent_user_id, OLD.interface)
        IS DISTINCT FROM (NEW.wait_seconds, NEW.talk_seconds, NEW.agent_user_id, NEW.interface))
    EXECUTE FUNCTION figures_agent_leg_changed();
