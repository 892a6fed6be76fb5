-- 0030_credential_events.sql - what a node may cache about a credential,
-- and a notification whenever that stops being true.
--
-- The gate (admin-api/endpoints/gate.c) keeps resolved credentials for a
-- minute instead of asking anpi_principal() on every request.  To do
-- that exactly it needs two things from the database:
--
--   1. how long the row stays valid if nothing changes: idle_ms (a
--      session's inactivity limit, from last_seen) and abs_ms (a session's
--      absolute limit, or a token's expires_at), counted from the moment of
--      the query so the node's clock does not matter; NULL = no limit;
--   2. a NOTIFY on the channel anpi_credentials, payload = the account id,
--      whenever an account is disabled or re-enabled, changes role, login
--      or password, a token or a session is revoked (or removed), or the
--      account's administered groups change (payload "groups" when the
--      group tree changes, which may change any group admin's scope).
--      Every node LISTENs
--      (engine/db.c anpi_db_listen) and drops that account's cached
--      credentials and scope.  A node that is not listening does not cache.
--
-- anpi_principal() keeps its arguments and its first eight columns (the
-- callers select them by name); the return type changes, hence DROP+CREATE.
DROP FUNCTION anpi_principal(text, text, int, int);
CREATE FUNCTION anpi_principal(p_kind text, p_hash text, p_idle_s int, p_abs_s int)
RETURNS TABLE (account_id bigint, login text, role text, scopes int, must_change boolean,
               password_changed_at timestamptz, csrf text, credential_id bigint,
               idle_ms bigint, abs_ms bigint)
LANGUAGE plpgsql AS $$
BEGIN
    IF p_kind = 'token' THEN
        RETURN QUERY
        SELECT a.id, a.login, a.role, t.scopes, a.must_change, a.password_changed_at, NULL::text, t.id,
               NULL::bigint,
               CASE WHEN t.expires_at IS NULL THEN NULL
                    ELSE floor(extract(epoch FROM t.expires_at - now()) * 1000)::bigint END
          FROM api_tokens t JOIN accounts a ON a.id = t.account_id
         WHERE t.hash = p_hash AND t.revoked_at IS NULL AND a.disabled_at IS NULL
           AND (t.expires_at IS NULL OR t.expires_at > now());
        -- only a token that works is "used" (0014 stamped refused ones too)
        IF FOUND THEN
            UPDATE api_tokens SET last_used_at = now()
             WHERE hash = p_hash AND (last_used_at IS NULL OR last_used_at < now() - interval '1 minute');
        END IF;
    ELSIF p_kind = 'session' THEN
        RETURN QUERY
        SELECT a.id, a.login, a.role, 31, a.must_change, a.password_changed_at, s.csrf, s.id,
               floor(extract(epoch FROM s.last_seen + make_interval(secs => p_idle_s) - now()) * 1000)::bigint,
               floor(extract(epoch FROM s.created_at + make_interval(secs => p_abs_s) - now()) * 1000)::bigint
          FROM sessions s JOIN accounts a ON a.id = s.account_id
         WHERE s.hash = p_hash AND s.revoked_at IS NULL AND a.disabled_at IS NULL
           AND s.last_seen > now() - make_interval(secs => p_idle_s)
           AND s.created_at > now() - make_interval(secs => p_abs_s);
        IF FOUND THEN
            UPDATE sessions SET last_seen = now()
             WHERE hash = p_hash AND last_seen < now() - interval '1 minute';
        END IF;
    END IF;
END;
$$;

-- One notification per changed row; PostgreSQL folds identical payloads of
-- one transaction into one, so disabling an account with many sessions
-- sends its id once, at commit.
CREATE FUNCTION anpi_credentials_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_TABLE_NAME = 'accounts' THEN
        PERFORM pg_notify('anpi_credentials', CASE WHEN TG_OP = 'DELETE' THEN OLD.id ELSE NEW.id END::text);
    ELSE
        IF TG_OP IN ('UPDATE', 'DELETE') THEN
            PERFORM pg_notify('anpi_credentials', OLD.account_id::text);
        END IF;
        IF TG_OP IN ('UPDATE', 'INSERT') THEN
            PERFORM pg_notify('anpi_credentials', NEW.account_id::text);
        END IF;
    END IF;
    RETURN NULL;
END;
$$;

-- A password rehash at sign-in (same password, new parameters) and the
-- TOTP replay guard are not changes of what the gate caches.
CREATE TRIGGER accounts_credentials AFTER UPDATE ON accounts FOR EACH ROW
    WHEN (OLD.disabled_at IS DISTINCT FROM NEW.disabled_at OR OLD.role IS DISTINCT FROM NEW.role
          OR OLD.login IS DISTINCT FROM NEW.login OR OLD.must_change IS DISTINCT FROM NEW.must_change
          OR OLD.password_changed_at IS DISTINCT FROM NEW.password_changed_at)
    EXECUTE FUNCTION anpi_credentials_notify();

CREATE TRIGGER api_tokens_credentials AFTER UPDATE ON api_tokens FOR EACH ROW
    WHEN (OLD.revoked_at IS DISTINCT FROM NEW.revoked_at OR OLD.expires_at IS DISTINCT FROM NEW.expires_at
          OR OLD.scopes IS DISTINCT FROM NEW.scopes OR OLD.account_id IS DISTINCT FROM NEW.account_id
          OR OLD.hash IS DISTINCT FROM NEW.hash)
    EXECUTE FUNCTION anpi_credentials_notify();
CREATE TRIGGER api_tokens_credentials_del AFTER DELETE ON api_tokens FOR EACH ROW
    EXECUTE FUNCTION anpi_credentials_notify();

-- last_seen moving forward (anpi_principal, once a minute) only lengthens a
-- session, so a cached deadline stays on the safe side; moved back (or
-- created_at changed) by hand, the cached deadlines would be too late.
CREATE TRIGGER sessions_credentials AFTER UPDATE ON sessions FOR EACH ROW
    WHEN (OLD.revoked_at IS DISTINCT FROM NEW.revoked_at OR OLD.account_id IS DISTINCT FROM NEW.account_id
          OR OLD.hash IS DISTINCT FROM NEW.hash OR OLD.csrf IS DISTINCT FROM NEW.csrf
          OR NEW.last_seen < OLD.last_seen OR OLD.created_at IS DISTINCT FROM NEW.created_at)
    EXECUTE FUNCTION anpi_credentials_notify();
CREATE TRIGGER sessions_credentials_del AFTER DELETE ON sessions FOR EACH ROW
    EXECUTE FUNCTION anpi_credentials_notify();

CREATE TRIGGER account_groups_credentials AFTER INSERT OR UPDATE OR DELETE ON account_groups FOR EACH ROW
    EXECUTE FUNCTION anpi_credentials_notify();

-- A group admin's scope is its groups and every group below them, so a
-- change of the tree (a group added, removed or moved) may change what it
-- sees: one notification per statement ("groups"), on which every node
-- forgets its cached sets of groups (admin-api/endpoints/tallycache.c).
CREATE FUNCTION anpi_groups_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('anpi_credentials', 'groups');
    RETURN NULL;
END;
$$;

CREATE TRIGGER groups_scope AFTER INSERT OR DELETE OR UPDATE OF parent_id ON groups
    FOR EACH STATEMENT EXECUTE FUNCTION anpi_groups_notify();
