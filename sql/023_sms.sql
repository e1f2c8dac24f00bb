-- Citizen SMS notices: one row per order and event, written in the transaction of the
-- change it announces; a relay sends them (SKIP LOCKED), never in quiet hours unless urgent.
CREATE TABLE sms_messages (
    id              bigserial PRIMARY KEY,
    order_id        bigint NOT NULL REFERENCES work_orders (id),
    kind            text NOT NULL CHECK (kind IN ('intake', 'reply', 'survey')),
    event_key       text NOT NULL,                 -- which event of that kind (e.g. the reply's assignment)
    phone           text NOT NULL,
    body            text NOT NULL,
    urgent          boolean NOT NULL DEFAULT false,
    status          text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'delivered', 'failed', 'dead', 'skipped')),
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL,
    last_error      text,
    provider_id     text,                          -- the gateway's message id, for delivery receipts
    receipt_status  text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    sent_at         timestamptz,
    receipt_at      timestamptz,
    UNIQUE (order_id, kind, event_key)
);
CREATE INDEX sms_messages_due ON sms_messages (next_attempt_at, id) WHERE status = 'pending';
CREATE INDEX sms_messages_provider ON sms_messages (provider_id) WHERE provider_id IS NOT NULL;
-- The order a survey reply from a phone answers: its newest survey.
CREATE INDEX sms_messages_survey ON sms_messages (phone, created_at DESC) WHERE kind = 'survey';

CREATE TABLE sms_opt_outs (
    phone      text PRIMARY KEY,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- Every inbound SMS, matched or not.
CREATE TABLE sms_inbound (
    id          bigserial PRIMARY KEY,
    phone       text NOT NULL,
    body        text NOT NULL,
    order_id    bigint REFERENCES work_orders (id),
    outcome     text NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now()
);
