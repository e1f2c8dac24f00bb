-- Accounts that lock, logins that are throttled, and every look at a citizen's identity on record.

-- A user locked after repeated failed logins stays locked until an admin unlocks them.
ALTER TABLE users ADD COLUMN locked_at timestamptz;

-- What happened to logins and accounts: failures, throttling, lockouts and what admins did
-- about them. Append-only, like audit_events.
CREATE TABLE auth_events (
    id            bigserial PRIMARY KEY,
    kind          text NOT NULL CHECK (kind IN ('login_failed', 'login_throttled', 'locked', 'unlocked',
                                                'user_created', 'user_updated', 'disabled', 'password_reset')),
    username      text NOT NULL,
    user_id       bigint REFERENCES users (id),
    address       text,                                -- the client address of a login attempt
    actor         text,                                -- who did it, for admin actions ("cli" or a username)
    details       jsonb NOT NULL DEFAULT '{}',
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX auth_events_username ON auth_events (username, id);
CREATE TRIGGER auth_events_no_update BEFORE UPDATE OR DELETE ON auth_events
    FOR EACH ROW EXECUTE FUNCTION audit_events_append_only();

-- Idempotency-Key of staff requests that create something (POST /api/orders, ...): a repeat
-- returns the stored answer. Written in the creating transaction, like callback_idempotency.
CREATE TABLE staff_idempotency (
    user_id      bigint NOT NULL REFERENCES users (id),
    key          text NOT NULL CHECK (char_length(key) BETWEEN 1 AND 200),
    request_hash bytea NOT NULL,
    status       integer NOT NULL,
    response     jsonb,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, key)
);
CREATE INDEX staff_idempotency_created ON staff_idempotency (created_at);

-- Nonces of signed requests, kept for the timestamp window so a replay is refused even
-- when Redis (the fast path) has forgotten them.
CREATE TABLE signed_nonces (
    key_id   text NOT NULL,
    nonce    text NOT NULL,
    seen_at  timestamptz NOT NULL,
    PRIMARY KEY (key_id, nonce)
);
CREATE INDEX signed_nonces_seen ON signed_nonces (key_id, seen_at);

-- Every response that showed someone a citizen's unmasked number or name (PIPL): who, when,
-- which order or call, through which route. Append-only.
CREATE TABLE personal_data_access (
    id          bigserial PRIMARY KEY,
    user_id     bigint REFERENCES users (id),      -- NULL: an agency system (signed request)
    unit_id     bigint REFERENCES units (id),
    username    text NOT NULL,
    order_id    bigint REFERENCES work_orders (id),
    call_id     bigint REFERENCES calls (id),
    fields      text[] NOT NULL,                   -- caller_number, caller_name
    method      text NOT NULL,
    route       text NOT NULL,                     -- the route's pattern, e.g. /api/orders/{order_id}
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX personal_data_access_user ON personal_data_access (user_id, created_at);
CREATE INDEX personal_data_access_order ON personal_data_access (order_id, created_at);
CREATE INDEX personal_data_access_created ON personal_data_access (created_at);
CREATE TRIGGER personal_data_access_no_update BEFORE UPDATE OR DELETE ON personal_data_access
    FOR EACH ROW EXECUTE FUNCTION audit_events_append_only();
