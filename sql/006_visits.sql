-- Return visits (回访): every attempt, reached or not, with the citizen's verdict.
ALTER TABLE work_orders
    ADD COLUMN visit_due_at   timestamptz,
    ADD COLUMN visit_attempts integer NOT NULL DEFAULT 0,
    ADD COLUMN close_reason   text CHECK (close_reason IN ('visited', 'resolved_directly', 'unreachable', 'merged', 'other')),
    ADD COLUMN reopen_count   integer NOT NULL DEFAULT 0;

-- The visit queue: replied orders waiting for a call back, soonest due first.
CREATE INDEX work_orders_visit_queue ON work_orders (visit_due_at, id) WHERE status = 'awaiting_visit';

CREATE TABLE visits (
    id            bigserial PRIMARY KEY,
    order_id      bigint NOT NULL REFERENCES work_orders (id),
    assignment_id bigint REFERENCES assignments (id),   -- the lead assignment whose reply was visited
    unit_id       bigint REFERENCES units (id),
    attempt       integer NOT NULL,
    reached       boolean NOT NULL,
    satisfaction  text CHECK (satisfaction IN ('satisfied', 'basically_satisfied', 'unsatisfied')),
    resolved      boolean,
    note          text NOT NULL DEFAULT '',
    visited_by    bigint REFERENCES users (id),
    created_at    timestamptz NOT NULL DEFAULT now(),
    CHECK (reached = (satisfaction IS NOT NULL))
);
CREATE INDEX visits_order ON visits (order_id, id);
CREATE INDEX visits_unit_time ON visits (unit_id, created_at) WHERE reached;
