-- Channels other than the phone: Open311 clients, signed intake keys per channel, and
-- one intake record per order taken in through a channel (idempotency, token, photos).

-- Open311 GeoReport clients: the api_key is shown once; only its SHA-256 is stored.
CREATE TABLE open311_clients (
    id           bigserial PRIMARY KEY,
    name         text NOT NULL UNIQUE CHECK (char_length(name) BETWEEN 1 AND 100),
    api_key_hash bytea NOT NULL UNIQUE,
    created_at   timestamptz NOT NULL DEFAULT now(),
    revoked_at   timestamptz
);

-- HMAC keys of our own channels' back ends (web form, app, WeChat mini-program, email
-- gateway), in the scheme of unit_keys; HMAC needs the secret on our side, as there.
CREATE TABLE intake_keys (
    key_id     text PRIMARY KEY CHECK (key_id ~ '^ck_[0-9a-f]{16,64}$'),
    channel    text NOT NULL CHECK (channel IN ('web', 'app', 'wechat', 'email')),
    secret     text NOT NULL CHECK (char_length(secret) >= 32),
    created_at timestamptz NOT NULL DEFAULT now(),
    revoked_at timestamptz
);

-- A category whose channel orders may go out without an agent looking first.
ALTER TABLE categories ADD COLUMN auto_dispatch boolean NOT NULL DEFAULT false;

-- How a channel order came in. source is 'open311:<client id>' or 'intake:<channel>';
-- (source, idempotency_key) makes a retried submission return the first order.
CREATE TABLE channel_intakes (
    order_id        bigint PRIMARY KEY REFERENCES work_orders (id),
    source          text NOT NULL,
    open311_client  bigint REFERENCES open311_clients (id),
    idempotency_key text,
    request_hash    bytea NOT NULL,
    token           text NOT NULL UNIQUE,
    lat             double precision CHECK (lat BETWEEN -90 AND 90),
    long            double precision CHECK (long BETWEEN -180 AND 180),
    media_urls      jsonb NOT NULL DEFAULT '[]',
    contact         jsonb NOT NULL DEFAULT '{}',   -- e-mail, device or account ids the citizen gave
    suggestion      jsonb,                         -- the routing engine's decision at intake
    created_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (source, idempotency_key)
);
CREATE INDEX channel_intakes_client ON channel_intakes (open311_client, order_id) WHERE open311_client IS NOT NULL;
-- The agents' review queue: channel orders still waiting in 'received'.
CREATE INDEX work_orders_channel_received ON work_orders (created_at, id) WHERE status = 'received' AND channel <> 'phone';
-- Channel figures: orders per channel and day.
CREATE INDEX work_orders_channel_day ON work_orders (channel, created_at);
