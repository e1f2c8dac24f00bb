-- Call records from the Asterisk AMI adapter (adapters/ami): one row per call that
-- entered a queue, keyed by the node it ran on and its Linkedid. Written by
-- idempotent upserts, so replaying the same events leaves the same rows.
CREATE TABLE calls (
    id               bigserial PRIMARY KEY,
    node             text NOT NULL,                 -- configured name of the Asterisk node
    linkedid         text NOT NULL,                 -- AMI Linkedid: the call across all its legs
    caller_uniqueid  text,                          -- the leg that entered the queue
    caller_channel   text,
    caller_number    text,
    caller_name      text,
    queue            text,
    state            text NOT NULL CHECK (state IN ('queued', 'connected', 'ended')),
    outcome          text CHECK (outcome IN ('answered', 'abandoned', 'failed', 'unknown')),
    entered_at       timestamptz,                   -- joined the queue (QueueCallerJoin)
    answered_at      timestamptz,                   -- an agent took it (AgentConnect)
    ended_at         timestamptz,                   -- the caller leg hung up
    hold_time        integer CHECK (hold_time >= 0),    -- seconds waited in the queue
    ring_time        integer CHECK (ring_time >= 0),    -- seconds the answering agent rang
    talk_time        integer CHECK (talk_time >= 0),    -- seconds talked (AgentComplete TalkTime)
    ring_no_answer   integer NOT NULL DEFAULT 0,    -- agents rung who did not answer
    agent_interface  text,                          -- queue member Interface, e.g. Local/1001@agents/n
    agent_name       text,                          -- queue member MemberName
    agent_user_id    bigint REFERENCES users (id),  -- the hotline user with that interface (or name)
    complete_reason  text,                          -- AgentComplete Reason: caller, agent, transfer
    abandon_position integer,
    hangup_cause     integer,
    hangup_cause_txt text,
    recording_file   text,
    transfers        jsonb NOT NULL DEFAULT '[]',
    incomplete       boolean NOT NULL DEFAULT false, -- part of the call was not observed live (estimates inside)
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT calls_node_linkedid UNIQUE (node, linkedid)
);
-- KPI queries: offered/answered/abandoned per period, per queue, per agent.
CREATE INDEX calls_entered ON calls (entered_at);
CREATE INDEX calls_queue_entered ON calls (queue, entered_at);
CREATE INDEX calls_agent_entered ON calls (agent_user_id, entered_at) WHERE agent_user_id IS NOT NULL;
CREATE INDEX calls_agent_interface_entered ON calls (agent_interface, entered_at) WHERE agent_interface IS NOT NULL;
-- A caller's earlier calls (screen-pop, repeat-caller figures).
CREATE INDEX calls_caller ON calls (caller_number, entered_at DESC) WHERE caller_number IS NOT NULL;
-- Calls still open on a node: reloaded by an adapter that restarts.
CREATE INDEX calls_open ON calls (node) WHERE state <> 'ended';
