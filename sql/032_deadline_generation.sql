-- What the deadline policy was counted from, as one value: a fresh random token at every change
-- to the presets, the rules or the calendar overrides (a statement trigger, at the writer's
-- statement, so it commits or rolls back with the change). A process keeps the policy it read
-- (hotline.deadlines.service) and, inside each action's transaction, reads only this row: the
-- same token means the same policy, so an admin's edit still applies to the next dispatch in
-- every process. A token rather than a counter: processes (and test runs) share one cache
-- across databases, and two databases made from one template hold the same policy under the
-- same token until one of them changes it.
CREATE TABLE deadline_generation (
    singleton  boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    token      uuid NOT NULL DEFAULT gen_random_uuid(),
    changed_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO deadline_generation DEFAULT VALUES;

CREATE FUNCTION deadline_generation_bump() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE deadline_generation SET token = gen_random_uuid(), changed_at = now();
    RETURN NULL;
END $$;

CREATE TRIGGER deadline_presets_bump AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON deadline_presets
    FOR EACH STATEMENT EXECUTE FUNCTION deadline_generation_bump();
CREATE TRIGGER deadline_rules_bump AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON deadline_rules
    FOR EACH STATEMENT EXECUTE FUNCTION deadline_generation_bump();
CREATE TRIGGER calendar_overrides_bump AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON calendar_overrides
    FOR EACH STATEMENT EXECUTE FUNCTION deadline_generation_bump();
