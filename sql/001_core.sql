-- Core schema: people, places, topics, work orders, assignments, audit, outbox.
-- Conventions: timestamptz everywhere (stored UTC, shown Asia/Shanghai);
-- status columns are text with CHECK constraints mirrored by Python enums.

CREATE TABLE divisions (
    code        text PRIMARY KEY,                 -- GB/T 2260 style: 320300, 320302, 320302001
    name        text NOT NULL,
    level       text NOT NULL CHECK (level IN ('province', 'city', 'district', 'street')),
    parent_code text REFERENCES divisions (code),
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX divisions_parent ON divisions (parent_code);

CREATE TABLE units (
    id            bigserial PRIMARY KEY,
    code          text NOT NULL UNIQUE,           -- stable key used by agency systems and configs
    name          text NOT NULL,
    level         text NOT NULL CHECK (level IN ('city', 'district', 'street')),
    kind          text NOT NULL DEFAULT 'agency' CHECK (kind IN ('centre', 'hub', 'agency', 'office')),
    parent_id     bigint REFERENCES units (id),
    division_code text REFERENCES divisions (code),
    webhook_url   text,
    active        boolean NOT NULL DEFAULT true,
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX units_parent ON units (parent_id);
CREATE INDEX units_division ON units (division_code);

CREATE TABLE users (
    id              bigserial PRIMARY KEY,
    username        text NOT NULL UNIQUE,
    display_name    text NOT NULL,
    password_hash   text NOT NULL,
    role            text NOT NULL CHECK (role IN ('agent', 'handler', 'supervisor', 'admin')),
    unit_id         bigint REFERENCES units (id),
    agent_interface text UNIQUE,                  -- AMI queue member Interface, e.g. Local/1001@agents/n
    agent_name      text,                         -- AMI MemberName, e.g. "Agent 1001"
    active          boolean NOT NULL DEFAULT true,
    created_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT handler_has_unit CHECK (role <> 'handler' OR unit_id IS NOT NULL)
);

CREATE TABLE auth_tokens (
    token_hash bytea PRIMARY KEY,                 -- sha256 of the bearer token; the token itself is never stored
    user_id    bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    revoked_at timestamptz
);
CREATE INDEX auth_tokens_user ON auth_tokens (user_id);

-- Category codes are hierarchical, two digits a level (01, 0103, 010305),
-- so a code's ancestors are its prefixes.
CREATE TABLE categories (
    code        text PRIMARY KEY CHECK (code ~ '^([0-9]{2})+$'),
    name        text NOT NULL,
    parent_code text REFERENCES categories (code),
    depth       smallint NOT NULL GENERATED ALWAYS AS (length(code) / 2) STORED,
    active      boolean NOT NULL DEFAULT true
);
CREATE INDEX categories_parent ON categories (parent_code);

-- One row a day: the counter behind order numbers YYYYMMDD-NNNNNN.
CREATE TABLE order_number_counters (
    day  date PRIMARY KEY,
    last integer NOT NULL
);

CREATE TABLE work_orders (
    id              bigserial PRIMARY KEY,
    number          text NOT NULL UNIQUE CHECK (number ~ '^[0-9]{8}-[0-9]{6}$'),
    kind            text NOT NULL CHECK (kind IN ('consult', 'help', 'complaint', 'report', 'suggestion', 'praise')),
    category_code   text REFERENCES categories (code),
    title           text NOT NULL DEFAULT '',
    content         text NOT NULL,
    address         text NOT NULL DEFAULT '',
    division_code   text REFERENCES divisions (code),
    urgency         text NOT NULL DEFAULT 'normal' CHECK (urgency IN ('normal', 'urgent', 'emergency')),
    caller_number   text,
    caller_name     text,
    anonymous       boolean NOT NULL DEFAULT false,
    contact_allowed boolean NOT NULL DEFAULT true,
    channel         text NOT NULL DEFAULT 'phone',
    call_linkedid   text,                         -- the AMI Linkedid of the call it came from
    status          text NOT NULL CHECK (status IN (
                        'received', 'resolved_directly', 'dispatched', 'signed', 'replied',
                        'awaiting_visit', 'visited', 'closed', 'returned', 'reopened', 'merged', 'suspended')),
    suspended_from  text,                         -- status to resume to
    suspended_at    timestamptz,
    merged_into     bigint REFERENCES work_orders (id),
    version         integer NOT NULL DEFAULT 1,
    created_by      bigint REFERENCES users (id),
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    closed_at       timestamptz
);
-- Hot queries: list newest first (keyset on created_at, id), by status, by caller, by division/category.
CREATE INDEX work_orders_created ON work_orders (created_at DESC, id DESC);
CREATE INDEX work_orders_status ON work_orders (status, created_at DESC, id DESC);
CREATE INDEX work_orders_caller ON work_orders (caller_number, created_at DESC) WHERE caller_number IS NOT NULL;
CREATE INDEX work_orders_division ON work_orders (division_code, created_at DESC);
CREATE INDEX work_orders_category ON work_orders (category_code, created_at DESC);
CREATE INDEX work_orders_call ON work_orders (call_linkedid) WHERE call_linkedid IS NOT NULL;

CREATE TABLE assignments (
    id                    bigserial PRIMARY KEY,
    order_id              bigint NOT NULL REFERENCES work_orders (id),
    unit_id               bigint NOT NULL REFERENCES units (id),
    parent_id             bigint REFERENCES assignments (id),    -- set when a hub re-dispatched down
    dispatcher_unit_id    bigint REFERENCES units (id),          -- NULL: the centre dispatched it
    dispatched_by         bigint REFERENCES users (id),
    level                 text NOT NULL CHECK (level IN ('city', 'district', 'street')),
    role                  text NOT NULL DEFAULT 'lead' CHECK (role IN ('lead', 'assist')),
    status                text NOT NULL DEFAULT 'dispatched' CHECK (status IN (
                              'dispatched', 'signed', 'replied', 'redispatched', 'returned', 'done', 'cancelled')),
    dispatched_at         timestamptz NOT NULL DEFAULT now(),
    sign_due_at           timestamptz,
    reply_due_at          timestamptz,
    signed_at             timestamptz,
    first_contact_at      timestamptz,
    replied_at            timestamptz,
    reply_text            text,
    reply_result          text,
    reply_attachments     jsonb NOT NULL DEFAULT '[]',
    returned_at           timestamptz,
    return_reason         text,
    extension_status      text CHECK (extension_status IN ('requested', 'approved', 'denied')),
    extension_days        integer,
    extension_reason      text,
    route_note            jsonb,                                  -- the routing decision / override reason
    version               integer NOT NULL DEFAULT 1,
    created_at            timestamptz NOT NULL DEFAULT now(),
    updated_at            timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX assignments_order ON assignments (order_id);
CREATE INDEX assignments_unit_open ON assignments (unit_id, dispatched_at DESC)
    WHERE status IN ('dispatched', 'signed', 'replied');
CREATE INDEX assignments_unit ON assignments (unit_id, dispatched_at DESC);
CREATE INDEX assignments_parent ON assignments (parent_id) WHERE parent_id IS NOT NULL;

-- Append-only: every action on an order, who did it, what changed.
CREATE TABLE audit_events (
    id            bigserial PRIMARY KEY,
    order_id      bigint NOT NULL REFERENCES work_orders (id),
    assignment_id bigint REFERENCES assignments (id),
    action        text NOT NULL,
    actor_user_id bigint REFERENCES users (id),
    actor_unit_id bigint REFERENCES units (id),
    from_status   text,
    to_status     text,
    payload       jsonb NOT NULL DEFAULT '{}',
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX audit_events_order ON audit_events (order_id, id);

CREATE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_events is append-only' USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER audit_events_no_update BEFORE UPDATE OR DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION audit_events_append_only();

-- Messages for the outside world, written in the same transaction as the change
-- they announce; a relay delivers them (SKIP LOCKED) and marks them done.
CREATE TABLE outbox (
    id              bigserial PRIMARY KEY,
    topic           text NOT NULL,               -- e.g. order.dispatched, order.reminded
    order_id        bigint REFERENCES work_orders (id),
    unit_id         bigint REFERENCES units (id),
    payload         jsonb NOT NULL,
    status          text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'dead', 'skipped')),
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    last_error      text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    delivered_at    timestamptz
);
CREATE INDEX outbox_due ON outbox (next_attempt_at, id) WHERE status = 'pending';
CREATE INDEX outbox_dead ON outbox (unit_id, created_at DESC) WHERE status = 'dead';
