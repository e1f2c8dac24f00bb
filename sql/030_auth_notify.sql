-- Revocations are announced on PostgreSQL's NOTIFY channel `hotline_auth`, so every API process's
-- in-process token cache (hotline/token_cache.py) evicts at once, whoever revoked: a logout on
-- another process, `hotline users disable`/`reset-password`, or plain SQL. NOTIFY reaches only
-- listeners on this database, which namespaces the channel per deployment. A notification is sent
-- at commit (never for a rolled-back change), and identical payloads in one transaction fold into one.
--
-- Payloads: `token:<hex of token_hash>` (a token revoked, re-dated or deleted) and `user:<id>`
-- (an account switched off, deleted, or its role, unit or names changed: its principals are stale).

CREATE FUNCTION hotline_auth_token_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('hotline_auth', 'token:' || encode(OLD.token_hash, 'hex'));
    RETURN NULL;
END $$;

CREATE TRIGGER auth_tokens_revoked AFTER UPDATE OF revoked_at, expires_at, user_id ON auth_tokens
    FOR EACH ROW WHEN (OLD.revoked_at IS DISTINCT FROM NEW.revoked_at OR OLD.expires_at IS DISTINCT FROM NEW.expires_at
                       OR OLD.user_id IS DISTINCT FROM NEW.user_id)
    EXECUTE FUNCTION hotline_auth_token_changed();
CREATE TRIGGER auth_tokens_deleted AFTER DELETE ON auth_tokens
    FOR EACH ROW EXECUTE FUNCTION hotline_auth_token_changed();

CREATE FUNCTION hotline_auth_user_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('hotline_auth', 'user:' || OLD.id);
    RETURN NULL;
END $$;

CREATE TRIGGER users_auth_changed AFTER UPDATE OF active, role, unit_id, username, display_name ON users
    FOR EACH ROW WHEN (OLD.active IS DISTINCT FROM NEW.active OR OLD.role IS DISTINCT FROM NEW.role
                       OR OLD.unit_id IS DISTINCT FROM NEW.unit_id OR OLD.username IS DISTINCT FROM NEW.username
                       OR OLD.display_name IS DISTINCT FROM NEW.display_name)
    EXECUTE FUNCTION hotline_auth_user_changed();
CREATE TRIGGER users_auth_deleted AFTER DELETE ON users
    FOR EACH ROW EXECUTE FUNCTION hotline_auth_user_changed();
