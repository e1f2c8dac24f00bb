-- Deadlines (DESIGN.md §5): the policy as data, the timers the clock fires, and the
-- indexes behind the supervisor's overdue / due-soon views.

-- A named set of rules; exactly one is active. Shipped: 'default' (DESIGN.md §5, working
-- days) and 'beijing' (DB11/T 2021—2022, calendar days). A city edits either or adds its own.
CREATE TABLE deadline_presets (
    name        text PRIMARY KEY CHECK (name ~ '^[a-z0-9_-]{1,40}$'),
    description text NOT NULL DEFAULT '',
    active      boolean NOT NULL DEFAULT false,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX deadline_presets_one_active ON deadline_presets (active) WHERE active;

-- One rule: for a clock, the time allowed to orders matching kind / category prefix / urgency
-- (NULL matches anything). The most specific rule wins: urgency first, then the longer
-- category prefix, then kind. Two rules with the same keys are refused by the unique index.
-- For the 'extension' clock, amount is the most an extension may add.
CREATE TABLE deadline_rules (
    id              bigserial PRIMARY KEY,
    preset          text NOT NULL REFERENCES deadline_presets (name) ON DELETE CASCADE,
    clock           text NOT NULL CHECK (clock IN ('sign', 'reply', 'visit', 'extension')),
    kind            text CHECK (kind IN ('consult', 'help', 'complaint', 'report', 'suggestion', 'praise')),
    category_prefix text CHECK (category_prefix ~ '^([0-9]{2})+$'),
    urgency         text CHECK (urgency IN ('normal', 'urgent', 'emergency')),
    amount          integer NOT NULL CHECK (amount > 0),
    unit            text NOT NULL CHECK (unit IN ('minutes', 'hours', 'days', 'working_hours', 'working_days')),
    note            text NOT NULL DEFAULT '',
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX deadline_rules_keys ON deadline_rules
    (preset, clock, coalesce(kind, ''), coalesce(category_prefix, ''), coalesce(urgency, ''));

-- Days set by hand: a new year's State Council notice before the chinesecalendar package
-- has it, or a local holiday. They win over the package.
CREATE TABLE calendar_overrides (
    day        date PRIMARY KEY,
    workday    boolean NOT NULL,
    note       text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL DEFAULT now()
);

-- What each assignment's deadlines were computed from (rule, amount, unit per clock), so
-- an extension or a resumption after suspension counts on the same basis.
ALTER TABLE assignments ADD COLUMN deadline_basis jsonb NOT NULL DEFAULT '{}';

-- Warning (80 %) and overdue (100 %) for each clock of each assignment. A timer fires once:
-- fired_at is set in the same transaction as its audit event and outbox row. An approved
-- extension supersedes the unfired timers and arms a new generation.
CREATE TABLE deadline_timers (
    assignment_id bigint NOT NULL REFERENCES assignments (id),
    clock         text NOT NULL CHECK (clock IN ('sign', 'reply')),
    kind          text NOT NULL CHECK (kind IN ('warning', 'overdue')),
    generation    smallint NOT NULL DEFAULT 0,
    order_id      bigint NOT NULL REFERENCES work_orders (id),
    unit_id       bigint NOT NULL REFERENCES units (id),
    fire_at       timestamptz NOT NULL,
    due_at        timestamptz NOT NULL,
    fired_at      timestamptz,
    outcome       text CHECK (outcome IN ('sent', 'skipped', 'superseded')),
    PRIMARY KEY (assignment_id, clock, kind, generation),
    CHECK ((fired_at IS NULL) = (outcome IS NULL))
);
-- The clock's only hot query: unfired timers by fire time. Its cost follows the timers
-- coming due, not the open assignments.
CREATE INDEX deadline_timers_due ON deadline_timers (fire_at) WHERE fired_at IS NULL;
CREATE INDEX deadline_timers_order ON deadline_timers (order_id) WHERE fired_at IS NULL;

-- Overdue now / due soon: open assignments by due time, across units and for one unit.
CREATE INDEX assignments_sign_due ON assignments (sign_due_at) WHERE status = 'dispatched';
CREATE INDEX assignments_reply_due ON assignments (reply_due_at) WHERE status IN ('dispatched', 'signed');
CREATE INDEX assignments_unit_reply_due ON assignments (unit_id, reply_due_at) WHERE status IN ('dispatched', 'signed');

INSERT INTO deadline_presets (name, description, active) VALUES
    ('default', 'DESIGN.md §5: 12345 rules of Guangdong (2022) in working days, urgent clocks in calendar time', true),
    ('beijing', 'Beijing DB11/T 2021—2022: calendar days', false);

INSERT INTO deadline_rules (preset, clock, kind, category_prefix, urgency, amount, unit, note) VALUES
    ('default', 'sign',      NULL, NULL, NULL,        2,  'working_hours', '签收 2 个工作小时'),
    ('default', 'sign',      NULL, NULL, 'urgent',    30, 'minutes',       '紧急 30 分钟签收'),
    ('default', 'sign',      NULL, NULL, 'emergency', 30, 'minutes',       '特急 30 分钟签收'),
    ('default', 'reply',     NULL, NULL, NULL,        10, 'working_days',  '其他 10 个工作日'),
    ('default', 'reply',     'consult',    NULL, NULL, 2,  'working_days', '咨询 2 个工作日'),
    ('default', 'reply',     'help',       NULL, NULL, 10, 'working_days', '求助 10 个工作日'),
    ('default', 'reply',     'suggestion', NULL, NULL, 10, 'working_days', '建议 10 个工作日'),
    ('default', 'reply',     'complaint',  NULL, NULL, 15, 'working_days', '投诉 15 个工作日'),
    ('default', 'reply',     'report',     NULL, NULL, 15, 'working_days', '举报 15 个工作日'),
    ('default', 'reply',     NULL, NULL, 'urgent',    24, 'hours',         '水电气暖等紧急诉求 24 小时'),
    ('default', 'reply',     NULL, NULL, 'emergency', 2,  'hours',         '特急诉求 2 小时'),
    ('default', 'visit',     NULL, NULL, NULL,        2,  'working_days',  '回访 2 个工作日'),
    ('default', 'visit',     NULL, NULL, 'urgent',    1,  'working_days',  '紧急回访 1 个工作日'),
    ('default', 'visit',     NULL, NULL, 'emergency', 1,  'working_days',  '特急回访 1 个工作日'),
    ('default', 'extension', NULL, NULL, NULL,        15, 'working_days',  '延期最多 15 个工作日'),
    ('beijing', 'sign',      NULL, NULL, NULL,        2,  'hours',         '签收 2 小时'),
    ('beijing', 'sign',      NULL, NULL, 'urgent',    30, 'minutes',       '紧急 30 分钟签收'),
    ('beijing', 'sign',      NULL, NULL, 'emergency', 30, 'minutes',       '特急 30 分钟签收'),
    ('beijing', 'reply',     NULL, NULL, NULL,        7,  'days',          '一般诉求 7 日'),
    ('beijing', 'reply',     'complaint', NULL, NULL, 15, 'days',          '复杂诉求（投诉）15 日'),
    ('beijing', 'reply',     'report',    NULL, NULL, 15, 'days',          '复杂诉求（举报）15 日'),
    ('beijing', 'reply',     NULL, NULL, 'urgent',    24, 'hours',         '紧急诉求 24 小时'),
    ('beijing', 'reply',     NULL, NULL, 'emergency', 2,  'hours',         '特急诉求 2 小时'),
    ('beijing', 'visit',     NULL, NULL, NULL,        2,  'days',          '回访 2 日'),
    ('beijing', 'visit',     NULL, NULL, 'urgent',    1,  'days',          '紧急回访 1 日'),
    ('beijing', 'visit',     NULL, NULL, 'emergency', 1,  'days',          '特急回访 1 日'),
    ('beijing', 'extension', NULL, NULL, NULL,        15, 'days',          '延期最多 15 日');
