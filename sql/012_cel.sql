-- CEL as the durable call record (adapters/cel). The table Asterisk's cel_pgsql writes to, in the
-- column set cel_pgsql.c fills (types as Wazo's call-logd); a city that keeps Asterisk's database
-- apart points HOTLINE_CEL_DATABASE_URL at it instead and this copy stays empty.
CREATE TABLE IF NOT EXISTS cel (
    id          serial PRIMARY KEY,
    eventtype   text        NOT NULL,
    eventtime   timestamptz NOT NULL,
    userdeftype text        NOT NULL,
    cid_name    text        NOT NULL,
    cid_num     text        NOT NULL,
    cid_ani     text        NOT NULL,
    cid_rdnis   text        NOT NULL,
    cid_dnid    text        NOT NULL,
    exten       text        NOT NULL,
    context     text        NOT NULL,
    channame    text        NOT NULL,
    appname     text        NOT NULL,
    appdata     text        NOT NULL,
    amaflags    integer     NOT NULL,
    accountcode text        NOT NULL,
    peeraccount text        NOT NULL,
    uniqueid    text        NOT NULL,
    linkedid    text        NOT NULL,
    userfield   text        NOT NULL,
    peer        text        NOT NULL,
    extra       text
);
CREATE INDEX IF NOT EXISTS cel__idx__linkedid ON cel (linkedid);
CREATE INDEX IF NOT EXISTS cel__idx__uniqueid ON cel (uniqueid);
CREATE INDEX IF NOT EXISTS cel__idx__eventtime ON cel (eventtime);
-- The worker finds calls that ended after its cursor.
CREATE INDEX IF NOT EXISTS cel_linkedid_end ON cel (id) WHERE eventtype = 'LINKEDID_END';

-- How far each reader of CEL has come (by cel.id); one row per reader name.
CREATE TABLE cel_cursors (
    name       text PRIMARY KEY,
    last_id    bigint NOT NULL DEFAULT 0,
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- A call the CEL pass has written is final: AMI upserts no longer change it.
ALTER TABLE calls ADD COLUMN finalized_at timestamptz;
ALTER TABLE calls ADD COLUMN source text NOT NULL DEFAULT 'ami' CHECK (source IN ('ami', 'cel', 'queue_log'));

-- A call's agent segments: one per channel app_queue dialled for it (rang, maybe talked).
CREATE TABLE call_agent_legs (
    id            bigserial PRIMARY KEY,
    call_id       bigint NOT NULL REFERENCES calls (id) ON DELETE CASCADE,
    seq           integer NOT NULL,
    queue         text,
    channel       text NOT NULL,
    uniqueid      text NOT NULL,
    interface     text NOT NULL,                 -- the channel without its instance suffix, e.g. Local/1001@agents
    agent_user_id bigint REFERENCES users (id),
    ringing_at    timestamptz,
    answered_at   timestamptz,                   -- the agent channel's first bridge
    ended_at      timestamptz,                   -- its last bridge exit (or hang-up if never bridged)
    wait_seconds  numeric(10, 3) CHECK (wait_seconds >= 0),   -- from its queue segment's join to the answer
    talk_seconds  numeric(10, 3) CHECK (talk_seconds >= 0),   -- the agent's own bridge time
    ended_by      text NOT NULL CHECK (ended_by IN ('caller', 'agent', 'blind_transfer', 'attended_transfer',
                                                    'redirect', 'ring_no_answer', 'ring_canceled')),
    UNIQUE (call_id, seq)
);
CREATE INDEX call_agent_legs_user ON call_agent_legs (agent_user_id, answered_at) WHERE agent_user_id IS NOT NULL;

-- A call's queue segments: one per (channel, queue) it waited in, in order.
CREATE TABLE call_queue_legs (
    id           bigserial PRIMARY KEY,
    call_id      bigint NOT NULL REFERENCES calls (id) ON DELETE CASCADE,
    seq          integer NOT NULL,
    queue        text NOT NULL,
    channel      text NOT NULL,
    uniqueid     text NOT NULL,
    joined_at    timestamptz NOT NULL,
    left_at      timestamptz,
    position     integer,
    outcome      text NOT NULL CHECK (outcome IN ('answered', 'abandoned', 'left')),
    agent_leg_id bigint REFERENCES call_agent_legs (id) ON DELETE SET NULL,  -- the agent who answered here
    UNIQUE (call_id, seq)
);
CREATE INDEX call_queue_legs_joined ON call_queue_legs (joined_at);
CREATE INDEX call_queue_legs_queue_joined ON call_queue_legs (queue, joined_at);

-- What the call-centre KPIs count: a finalized call counts once per queue segment (with the agent
-- who answered it there); a call only AMI has seen so far counts as its one row.
CREATE VIEW call_segments AS
SELECT q.call_id, q.queue, q.joined_at AS entered_at, q.outcome,
       a.wait_seconds AS hold_time, a.talk_seconds AS talk_time,
       a.agent_user_id, a.interface AS agent_name
  FROM call_queue_legs q LEFT JOIN call_agent_legs a ON a.id = q.agent_leg_id
UNION ALL
SELECT c.id, c.queue, c.entered_at, c.outcome, c.hold_time::numeric, c.talk_time::numeric,
       c.agent_user_id, c.agent_name
  FROM calls c WHERE c.finalized_at IS NULL;
