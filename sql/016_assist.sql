-- Agent assist: the knowledge base (知识库), repeats and duplicates at intake (重复件),
-- hotspot alerts. No extension: Chinese text is indexed as character bigrams the
-- application builds (hotline/chinese.py), so search works the same on any locale and on
-- the embedded server (pg_trgm skips CJK characters under the C locale).

-- ---------------------------------------------------------------- knowledge base

-- An article is the stable thing agents cite; its text lives in versions. A unit drafts,
-- the centre publishes one version, which becomes the article's current one.
CREATE TABLE kb_articles (
    id                   bigserial PRIMARY KEY,
    code                 text UNIQUE,                 -- optional external key, used by import/export
    unit_id              bigint NOT NULL REFERENCES units (id),   -- the unit that owns the answer
    published_version_id bigint,
    created_by           bigint REFERENCES users (id),
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX kb_articles_unit ON kb_articles (unit_id);

CREATE TABLE kb_versions (
    id            bigserial PRIMARY KEY,
    article_id    bigint NOT NULL REFERENCES kb_articles (id),
    version       integer NOT NULL,
    title         text NOT NULL,
    body          text NOT NULL,
    category_code text REFERENCES categories (code),
    keywords      text[] NOT NULL DEFAULT '{}',
    valid_from    timestamptz NOT NULL,
    valid_until   timestamptz,
    status        text NOT NULL DEFAULT 'draft'
                  CHECK (status IN ('draft', 'published', 'rejected', 'superseded')),
    authored_by   bigint REFERENCES users (id),
    authored_at   timestamptz NOT NULL,
    reviewed_by   bigint REFERENCES users (id),
    reviewed_at   timestamptz,
    review_note   text,
    UNIQUE (article_id, version),
    CHECK (valid_until IS NULL OR valid_until > valid_from)
);
CREATE INDEX kb_versions_review ON kb_versions (authored_at, id) WHERE status = 'draft';
ALTER TABLE kb_articles ADD FOREIGN KEY (published_version_id) REFERENCES kb_versions (id);

-- What search reads: one row per article with a published version, replaced on publish.
-- Validity is checked at query time against the caller's clock, so an expired policy leaves
-- the results by itself, with no job to run.
CREATE TABLE kb_search (
    article_id    bigint PRIMARY KEY REFERENCES kb_articles (id),
    version_id    bigint NOT NULL REFERENCES kb_versions (id),
    title         text NOT NULL,
    category_code text,
    valid_from    timestamptz NOT NULL,
    valid_until   timestamptz,
    doc           tsvector NOT NULL               -- bigrams: title A, keywords B, body C
);
CREATE INDEX kb_search_doc ON kb_search USING gin (doc);
CREATE INDEX kb_search_category ON kb_search (category_code text_pattern_ops);

-- How many searchable articles hold each bigram, kept by publishing: a search filters on the
-- query's rarest bigrams (a budget of postings) and ranks on all of them, so a common bigram
-- such as 补办 or 办理 never makes a query rank thousands of articles.
CREATE TABLE kb_terms (
    token text PRIMARY KEY,
    df    integer NOT NULL CHECK (df >= 0)
);

-- Abbreviations and everyday words callers use for an official term: a query containing
-- ``term`` also searches each expansion (社保卡 -> 社会保障卡).
CREATE TABLE kb_synonyms (
    term       text PRIMARY KEY CHECK (length(term) BETWEEN 1 AND 50),
    expansions text[] NOT NULL
);
INSERT INTO kb_synonyms (term, expansions) VALUES
    ('社保卡', '{社会保障卡}'),
    ('社保', '{社会保险,社会保障}'),
    ('医保卡', '{医疗保障卡,社会保障卡}'),
    ('医保', '{医疗保险,医疗保障}'),
    ('公积金', '{住房公积金}'),
    ('公租房', '{公共租赁住房}'),
    ('身份证', '{居民身份证}'),
    ('驾照', '{驾驶证}'),
    ('户口', '{户籍}'),
    ('低保', '{最低生活保障}'),
    ('退休金', '{养老金}'),
    ('丢了', '{挂失,丢失,遗失}'),
    ('丢失', '{挂失,遗失}'),
    ('弄丢', '{挂失,丢失}'),
    ('掉了', '{挂失,丢失}'),
    ('补卡', '{补办}'),
    ('重办', '{补办}'),
    ('停水', '{供水}'),
    ('停电', '{供电}'),
    ('噪音', '{噪声}'),
    ('扰民', '{噪声}');

-- Which orders an article served: opened while handling (viewed) or cited when the agent
-- resolved the order directly (cited). The figures read direct-answer rates from here.
CREATE TABLE kb_usage (
    article_id bigint NOT NULL REFERENCES kb_articles (id),
    order_id   bigint NOT NULL REFERENCES work_orders (id),
    kind       text NOT NULL CHECK (kind IN ('viewed', 'cited')),
    version_id bigint REFERENCES kb_versions (id),
    at         timestamptz NOT NULL,
    PRIMARY KEY (article_id, order_id, kind)
);
CREATE INDEX kb_usage_at ON kb_usage (at, article_id);
CREATE INDEX kb_usage_order ON kb_usage (order_id);

-- ---------------------------------------------------------------- repeats and duplicates

-- 重复件: an order that reports what an earlier one already does. It stays its own order
-- (call volume counts it) but its unit work is counted once, on the original.
ALTER TABLE work_orders ADD COLUMN repeat_of bigint REFERENCES work_orders (id);
CREATE INDEX work_orders_repeats ON work_orders (id) WHERE repeat_of IS NOT NULL;
-- Same place and category within N days (the caller index of 001 serves "same caller").
CREATE INDEX work_orders_place ON work_orders (division_code, category_code, created_at DESC);

-- MinHash LSH bands of each order's content (hotline/similar/minhash.py): orders sharing a
-- band are content candidates. Kept only for the content window; the assist worker prunes.
CREATE TABLE order_signatures (
    band_hash  bigint NOT NULL,
    created_at timestamptz NOT NULL,
    order_id   bigint NOT NULL REFERENCES work_orders (id) ON DELETE CASCADE,
    PRIMARY KEY (band_hash, created_at, order_id)
);
CREATE INDEX order_signatures_age ON order_signatures (created_at);
CREATE INDEX order_signatures_order ON order_signatures (order_id);

-- ---------------------------------------------------------------- hotspots

-- A cluster of orders about one street and category. At most one open alert per hotspot
-- (the unique index), so two workers, or a restarted one, raise it once.
CREATE TABLE hotspots (
    id            bigserial PRIMARY KEY,
    division_code text NOT NULL REFERENCES divisions (code),
    category_code text NOT NULL REFERENCES categories (code),
    status        text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'cooled')),
    window_start  timestamptz NOT NULL,
    opened_at     timestamptz NOT NULL,
    cooled_at     timestamptz,
    order_count   integer NOT NULL,               -- orders in the window when it was raised
    peak_count    integer NOT NULL,
    baseline      double precision NOT NULL       -- the same window's average over the weeks before
);
CREATE UNIQUE INDEX hotspots_one_active ON hotspots (division_code, category_code) WHERE status = 'active';
CREATE INDEX hotspots_opened ON hotspots (opened_at DESC, id DESC);

CREATE TABLE hotspot_orders (
    hotspot_id bigint NOT NULL REFERENCES hotspots (id),
    order_id   bigint NOT NULL REFERENCES work_orders (id),
    PRIMARY KEY (hotspot_id, order_id)
);
