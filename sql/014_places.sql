-- The gazetteer beyond divisions, and a city's veto list for generated short forms.

-- Communities, villages, zones, former names, landmarks, stations and main roads. A place
-- in several divisions (a road crossing districts) narrows the district set.
CREATE TABLE places (
    id             bigserial PRIMARY KEY,
    name           text NOT NULL CHECK (char_length(btrim(name)) >= 2),
    kind           text NOT NULL
                   CHECK (kind IN ('community', 'village', 'zone', 'former', 'landmark', 'station', 'road')),
    division_codes text[] NOT NULL CHECK (cardinality(division_codes) >= 1),
    note           text NOT NULL DEFAULT '',
    created_at     timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT places_unique UNIQUE (name, kind)
);

-- A generated short form or suffix variant the city does not want (its everyday word);
-- division_code NULL vetoes the text for every division.
CREATE TABLE division_vetoes (
    id            bigserial PRIMARY KEY,
    form          text NOT NULL CHECK (char_length(btrim(form)) >= 1),
    division_code text REFERENCES divisions (code) ON DELETE CASCADE,
    note          text NOT NULL DEFAULT '',
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX division_vetoes_unique ON division_vetoes (form, coalesce(division_code, ''));

CREATE TRIGGER places_bump AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON places
    FOR EACH STATEMENT EXECUTE FUNCTION dispatch_generation_bump();
CREATE TRIGGER division_vetoes_bump AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON division_vetoes
    FOR EACH STATEMENT EXECUTE FUNCTION dispatch_generation_bump();
