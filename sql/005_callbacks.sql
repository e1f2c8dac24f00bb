-- Agency web callbacks: signing keys, idempotent callbacks, and what the outbox relay needs.

-- HMAC keys of agency systems. key_id is public (sent in X-Hotline-Key); the secret is
-- shared with the unit once, at creation. HMAC needs the secret itself on our side, so it
-- is stored as issued: guard this table like the password table. A unit keeps at most two
-- active keys, so it can rotate without downtime (the create function revokes the oldest).
CREATE TABLE unit_keys (
    key_id       text PRIMARY KEY CHECK (key_id ~ '^hk_[0-9a-f]{16,64}$'),
    unit_id      bigint NOT NULL REFERENCES units (id),
    secret       text NOT NULL CHECK (char_length(secret) >= 32),
    created_by   bigint REFERENCES users (id),
    created_at   timestamptz NOT NULL DEFAULT now(),
    revoked_at   timestamptz,
    last_used_at timestamptz
);
CREATE INDEX unit_keys_unit_active ON unit_keys (unit_id, created_at DESC) WHERE revoked_at IS NULL;

-- One row per (unit, Idempotency-Key) of a callback that succeeded: a repeat returns the
-- stored status and body. Written in the same transaction as the action it records;
-- pruned by created_at.
CREATE TABLE callback_idempotency (
    unit_id      bigint NOT NULL REFERENCES units (id),
    key          text NOT NULL CHECK (char_length(key) BETWEEN 1 AND 200),
    request_hash bytea NOT NULL,                     -- sha256 of method, path and canonical JSON body
    status       integer NOT NULL,
    response     jsonb,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (unit_id, key)
);
CREATE INDEX callback_idempotency_created ON callback_idempotency (created_at);

-- Agency systems sync their assignments by "changed since": keyset on (updated_at, id).
CREATE INDEX assignments_unit_updated ON assignments (unit_id, updated_at, id);

-- The relay's lease: a claim moves next_attempt_at past now (the lease) and stamps a
-- lease_token; only the holder of the token may mark the row. A relay that dies mid-delivery
-- leaves the row pending, and it is claimed again once the lease has run out. delivery_id is
-- stable across attempts (X-Hotline-Delivery) so receivers deduplicate.
ALTER TABLE outbox
    ADD COLUMN delivery_id     uuid NOT NULL DEFAULT gen_random_uuid(),
    ADD COLUMN lease_token     uuid,
    ADD COLUMN locked_by       text,
    ADD COLUMN last_attempt_at timestamptz,
    ADD COLUMN last_status     integer,          -- HTTP status of the last attempt, NULL: no answer
    ADD COLUMN target_url      text;             -- where the last attempt went (staging shows here)
CREATE UNIQUE INDEX outbox_delivery ON outbox (delivery_id);

-- Delivery health per unit: what supervisors look at when an agency stops answering.
CREATE TABLE webhook_unit_stats (
    unit_id              bigint PRIMARY KEY REFERENCES units (id),
    delivered            bigint NOT NULL DEFAULT 0,
    failures             bigint NOT NULL DEFAULT 0,
    consecutive_failures integer NOT NULL DEFAULT 0,
    dead                 bigint NOT NULL DEFAULT 0,
    last_success_at      timestamptz,
    last_failure_at      timestamptz,
    last_error           text
);
