-- Dispatch: division aliases, the dispatch list (rules), and a generation counter
-- that tells every process's in-memory Router when its data changed.

-- Extra names for a division that citizens use: short forms the generator misses,
-- former names (铜山县), communities (社区) and landmarks. Added by admins.
CREATE TABLE division_aliases (
    id            bigserial PRIMARY KEY,
    alias         text NOT NULL CHECK (char_length(btrim(alias)) >= 2),
    division_code text NOT NULL REFERENCES divisions (code) ON DELETE CASCADE,
    kind          text NOT NULL DEFAULT 'short' CHECK (kind IN ('short', 'former', 'community', 'landmark')),
    note          text NOT NULL DEFAULT '',
    created_at    timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT division_aliases_unique UNIQUE (alias, division_code)
);
CREATE INDEX division_aliases_division ON division_aliases (division_code);

-- The dispatch list 派单目录: (category, division prefix, kind) -> unit.
-- category_code NULL = any category; division_prefix '' = anywhere; kind NULL = any kind.
-- Precedence (most specific wins): deeper category, then longer prefix, then a named kind.
CREATE TABLE dispatch_rules (
    id              bigserial PRIMARY KEY,
    category_code   text REFERENCES categories (code),
    division_prefix text NOT NULL DEFAULT '' CHECK (division_prefix ~ '^[0-9]*$'),
    kind            text CHECK (kind IN ('consult', 'help', 'complaint', 'report', 'suggestion', 'praise')),
    unit_id         bigint NOT NULL REFERENCES units (id),
    role            text NOT NULL DEFAULT 'lead' CHECK (role IN ('lead', 'assist')),
    note            text NOT NULL DEFAULT '',
    created_at      timestamptz NOT NULL DEFAULT now()
);
-- One lead per (category, prefix, kind): two would be a tie nobody can break.
CREATE UNIQUE INDEX dispatch_rules_one_lead
    ON dispatch_rules (coalesce(category_code, ''), division_prefix, coalesce(kind, '')) WHERE role = 'lead';
-- The same unit once per key and role.
CREATE UNIQUE INDEX dispatch_rules_no_duplicate
    ON dispatch_rules (coalesce(category_code, ''), division_prefix, coalesce(kind, ''), unit_id);
CREATE INDEX dispatch_rules_unit ON dispatch_rules (unit_id);

-- Bumped by any change to what routing reads; a Router compares it to decide to reload.
CREATE TABLE dispatch_generation (
    singleton  boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    generation bigint NOT NULL,
    changed_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO dispatch_generation (generation) VALUES (1);

CREATE FUNCTION dispatch_generation_bump() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    g bigint;
BEGIN
    UPDATE dispatch_generation SET generation = generation + 1, changed_at = now() RETURNING generation INTO g;
    PERFORM pg_notify('dispatch_changed', g::text);
    RETURN NULL;
END $$;

CREATE TRIGGER divisions_bump AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON divisions
    FOR EACH STATEMENT EXECUTE FUNCTION dispatch_generation_bump();
CREATE TRIGGER division_aliases_bump AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON division_aliases
    FOR EACH STATEMENT EXECUTE FUNCTION dispatch_generation_bump();
CREATE TRIGGER dispatch_rules_bump AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON dispatch_rules
    FOR EACH STATEMENT EXECUTE FUNCTION dispatch_generation_bump();
CREATE TRIGGER categories_bump AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON categories
    FOR EACH STATEMENT EXECUTE FUNCTION dispatch_generation_bump();
-- Only the columns routing reads: delivery bookkeeping on units must not cause reloads.
CREATE TRIGGER units_bump AFTER INSERT OR DELETE OR TRUNCATE ON units
    FOR EACH STATEMENT EXECUTE FUNCTION dispatch_generation_bump();
CREATE TRIGGER units_update_bump AFTER UPDATE OF code, name, level, kind, parent_id, division_code, active ON units
    FOR EACH STATEMENT EXECUTE FUNCTION dispatch_generation_bump();
