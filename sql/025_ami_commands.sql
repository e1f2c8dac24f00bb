-- AMI actions the API asks for (click-to-call Originate, QueueAdd/QueueRemove/QueuePause), sent by
-- the ami role exactly once: pending → sent (committed before the action reaches the wire) →
-- answered / failed, or unknown when the connection went between sending and the response.
-- A command is never re-sent; an Originate's outcome is learnt from events carrying the order.
CREATE TABLE ami_commands (
    id               bigserial PRIMARY KEY,
    user_id          bigint REFERENCES users (id),
    idempotency_key  text,
    kind             text NOT NULL CHECK (kind IN ('originate', 'queue_add', 'queue_remove', 'queue_pause', 'queue_unpause')),
    node             text NOT NULL,
    action           jsonb NOT NULL,               -- the AMI headers, ActionID excepted (it is 'cmd-<id>')
    state            text NOT NULL DEFAULT 'pending'
                     CHECK (state IN ('pending', 'sent', 'answered', 'failed', 'unknown')),
    response         jsonb,                        -- the AMI response's headers
    order_id         bigint REFERENCES work_orders (id),
    outcome          text CHECK (outcome IN ('answered', 'no answer', 'busy', 'failed')),
    hangup_cause     integer,                      -- the citizen leg's Hangup Cause
    hangup_cause_txt text,
    linkedid         text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    sent_at          timestamptz,
    done_at          timestamptz,                  -- response received (or lost)
    outcome_at       timestamptz,
    UNIQUE (user_id, idempotency_key)
);
-- The sender's claim: oldest pending of a node.
CREATE INDEX ami_commands_pending ON ami_commands (node, id) WHERE state = 'pending';
-- An order's attempts, and the outcome tracker's look-up of an order's open attempt.
CREATE INDEX ami_commands_order ON ami_commands (order_id, id) WHERE order_id IS NOT NULL;
