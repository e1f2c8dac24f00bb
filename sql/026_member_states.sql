-- Queue members' states, as the AMI adapter follows them (adapters.ami.members): the current state of
-- every member of every queue on every node, and one row per change, from which the agents' day
-- figures are counted (hotline.figures.agent_days).
--
-- States, by precedence when several hold: offline (not a member of the queue), in_call, ringing,
-- wrapup (the queue's wrap-up time after a call), paused (示忙, with its reason), ready (示闲).
-- ``paused`` is also kept as a flag, so "paused while talking" is state in_call, paused true.

CREATE TABLE member_states (
    node         text NOT NULL,
    queue        text NOT NULL,
    interface    text NOT NULL,                 -- the queue member's Interface (users.agent_interface)
    member_name  text,
    membership   text,                          -- static / dynamic (QueueStatus, QueueMemberAdded)
    state        text NOT NULL CHECK (state IN ('offline', 'ready', 'ringing', 'in_call', 'wrapup', 'paused')),
    paused       boolean NOT NULL DEFAULT false,
    reason       text,                          -- the pause reason while paused
    linkedid     text,                          -- the call ringing or talking
    calls_taken  integer NOT NULL DEFAULT 0,
    since        timestamptz NOT NULL,          -- when the member entered this state (node clock)
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (node, queue, interface)
);
-- An agent's own states (the desk's presence bar).
CREATE INDEX member_states_interface ON member_states (interface);

CREATE TABLE member_state_changes (
    id           bigserial PRIMARY KEY,
    node         text NOT NULL,
    queue        text NOT NULL,
    interface    text NOT NULL,
    member_name  text,
    state        text NOT NULL CHECK (state IN ('offline', 'ready', 'ringing', 'in_call', 'wrapup', 'paused')),
    paused       boolean NOT NULL,
    reason       text,
    linkedid     text,
    event        text NOT NULL,                 -- the AMI event, or QueueStatus after a (re)connect
    at           timestamptz NOT NULL           -- the event's Timestamp (node clock)
);
-- An agent's day (figures), and a day's changes for everyone.
CREATE INDEX member_state_changes_interface_at ON member_state_changes (interface, at);
CREATE INDEX member_state_changes_at ON member_state_changes (at);
