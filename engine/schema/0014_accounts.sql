-- 0014_accounts.sql - console accounts, their sessions and API tokens, the
-- sign-in throttle, and the access scope every admin API data function is
-- filtered through.
--
-- Accounts are separate from people (an account may be linked to one).
-- Rows are never deleted: a disabled account keeps its login, so a login
-- name is never reissued to someone else.
CREATE TABLE accounts (
    id                  bigserial PRIMARY KEY,
    login               text NOT NULL UNIQUE CHECK (login ~ '^[A-Za-z0-9][A-Za-z0-9._@-]{2,63}$'),
    role                text NOT NULL CHECK (role IN ('system-admin', 'duty-officer', 'group-admin', 'hr', 'viewer')),
    person_id           text,                  -- the person this account belongs to, if any
    password_hash       text NOT NULL,         -- argon2id PHC string (engine/auth/password.h)
    must_change         boolean NOT NULL DEFAULT true,   -- initial password set by an admin
    password_changed_at timestamptz NOT NULL DEFAULT now(),
    totp_secret         text,                  -- base32; NULL = no second factor
    totp_last_step      bigint NOT NULL DEFAULT 0,       -- replay guard (engine/auth/totp.h)
    created_by          text NOT NULL,
    created_at          timestamptz NOT NULL DEFAULT now(),
    disabled_at         timestamptz,
    disabled_by         text
);
-- The login is compared case-insensitively too: "Tanaka" must not come back
-- as "tanaka" after the first was disabled.
CREATE UNIQUE INDEX accounts_login_ci ON accounts (lower(login));

CREATE FUNCTION anpi_accounts_keep() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'accounts are never deleted (disable them): a login is never reissued';
END;
$$;
CREATE TRIGGER accounts_keep BEFORE DELETE ON accounts FOR EACH ROW EXECUTE FUNCTION anpi_accounts_keep();

-- The groups a group-admin account administers (their subgroups come with
-- them).  Other roles have no rows here.
CREATE TABLE account_groups (
    account_id  bigint NOT NULL REFERENCES accounts(id),
    group_id    bigint NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
    PRIMARY KEY (account_id, group_id)
);
CREATE INDEX account_groups_group ON account_groups (group_id);

-- Earlier password hashes, for the "not one of the last N" rule.
CREATE TABLE account_password_history (
    account_id  bigint NOT NULL REFERENCES accounts(id),
    hash        text NOT NULL,
    changed_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX account_password_history_account ON account_password_history (account_id, changed_at DESC);

-- API tokens: only the SHA-256 of the token is stored (engine/auth/apitoken.h).
CREATE TABLE api_tokens (
    id            bigserial PRIMARY KEY,
    account_id    bigint NOT NULL REFERENCES accounts(id),
    hash          text NOT NULL UNIQUE,
    scopes        int NOT NULL,           -- enum anpi_scope bit mask
    label         text NOT NULL DEFAULT '',
    created_at    timestamptz NOT NULL DEFAULT now(),
    created_peer  text,
    last_used_at  timestamptz,
    expires_at    timestamptz,
    revoked_at    timestamptz
);
CREATE INDEX api_tokens_account ON api_tokens (account_id);

-- Console sessions: the cookie value is a random token; only its SHA-256 is
-- stored.  csrf is the per-session token every state-changing form carries.
CREATE TABLE sessions (
    id            bigserial PRIMARY KEY,
    account_id    bigint NOT NULL REFERENCES accounts(id),
    hash          text NOT NULL UNIQUE,
    csrf          text NOT NULL,
    peer          text,
    created_at    timestamptz NOT NULL DEFAULT now(),
    last_seen     timestamptz NOT NULL DEFAULT now(),
    revoked_at    timestamptz
);
CREATE INDEX sessions_account ON sessions (account_id);

-- Sign-in throttle state (engine/auth/lockout.h), one row per key:
-- "account:<login>" and "peer:<address or /64>".  Shared by every node.
CREATE TABLE auth_throttle (
    key           text PRIMARY KEY,
    failures      int NOT NULL DEFAULT 0,
    last_failure  bigint NOT NULL DEFAULT 0,
    locked_until  bigint NOT NULL DEFAULT 0
);

-- Who is calling: the account behind a token hash ('token') or a session
-- cookie hash ('session').  No row when the credential is unknown, revoked,
-- expired, timed out or the account is disabled.  Sessions time out after
-- p_idle_s without use and p_abs_s after sign-in; last_seen / last_used_at
-- are refreshed at most once a minute so a busy console does not write on
-- every request.
CREATE FUNCTION anpi_principal(p_kind text, p_hash text, p_idle_s int, p_abs_s int)
RETURNS TABLE (account_id bigint, login text, role text, scopes int, must_change boolean,
               password_changed_at timestamptz, csrf text, credential_id bigint)
LANGUAGE plpgsql AS $$
BEGIN
    IF p_kind = 'token' THEN
        RETURN QUERY
        SELECT a.id, a.login, a.role, t.scopes, a.must_change, a.password_changed_at, NULL::text, t.id
          FROM api_tokens t JOIN accounts a ON a.id = t.account_id
         WHERE t.hash = p_hash AND t.revoked_at IS NULL AND a.disabled_at IS NULL
           AND (t.expires_at IS NULL OR t.expires_at > now());
        UPDATE api_tokens SET last_used_at = now()
         WHERE hash = p_hash AND (last_used_at IS NULL OR last_used_at < now() - interval '1 minute');
    ELSIF p_kind = 'session' THEN
        RETURN QUERY
        SELECT a.id, a.login, a.role, 31, a.must_change, a.password_changed_at, s.csrf, s.id
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

-- ---------------------------------------------------------------------------
-- Access scope.  The one definition of what an account may see; every admin
-- API data function takes the calling account as its first argument and
-- filters through these.  Account 0 is the configuration's bootstrap token
-- (api.token), which acts as a system admin.  An unknown or disabled account
-- sees nothing.
--
--   system-admin, duty-officer, viewer   everything
--   group-admin                          the groups it administers and all
--                                        their subgroups, and their members
--   hr                                   no directory; HR broadcasts only
CREATE FUNCTION anpi_scope_all(p_account bigint) RETURNS boolean LANGUAGE sql STABLE AS $$
    SELECT p_account = 0 OR EXISTS (
        SELECT 1 FROM accounts a WHERE a.id = p_account AND a.disabled_at IS NULL
           AND a.role IN ('system-admin', 'duty-officer', 'viewer'));
$$;

CREATE FUNCTION anpi_scope_role(p_account bigint) RETURNS text LANGUAGE sql STABLE AS $$
    SELECT CASE WHEN p_account = 0 THEN 'system-admin'
                ELSE (SELECT a.role FROM accounts a WHERE a.id = p_account AND a.disabled_at IS NULL) END;
$$;

-- The groups a group admin sees: its own and every group below them.
CREATE FUNCTION anpi_scope_groups(p_account bigint) RETURNS TABLE (group_id bigint) LANGUAGE sql STABLE AS $$
    WITH RECURSIVE t(id) AS (
        SELECT ag.group_id FROM account_groups ag JOIN accounts a ON a.id = ag.account_id
         WHERE ag.account_id = p_account AND a.disabled_at IS NULL AND a.role = 'group-admin'
        UNION
        SELECT c.id FROM groups c JOIN t ON c.parent_id = t.id
    )
    SELECT id FROM t
    UNION
    SELECT g.id FROM groups g WHERE anpi_scope_all(p_account);
$$;

CREATE FUNCTION anpi_scope_group(p_account bigint, p_group bigint) RETURNS boolean LANGUAGE sql STABLE AS $$
    SELECT anpi_scope_all(p_account) OR p_group IN (SELECT group_id FROM anpi_scope_groups(p_account));
$$;

-- The people an account sees: for a group admin, the members of its groups.
CREATE FUNCTION anpi_scope_people(p_account bigint) RETURNS TABLE (person_id text) LANGUAGE sql STABLE AS $$
    SELECT p.id FROM people p WHERE anpi_scope_all(p_account)
    UNION
    SELECT m.person_id FROM group_members m
     WHERE NOT anpi_scope_all(p_account)
       AND m.group_id IN (SELECT group_id FROM anpi_scope_groups(p_account));
$$;

CREATE FUNCTION anpi_scope_person(p_account bigint, p_person text) RETURNS boolean LANGUAGE sql STABLE AS $$
    SELECT anpi_scope_all(p_account) OR EXISTS (
        SELECT 1 FROM group_members m
         WHERE m.person_id = p_person AND m.group_id IN (SELECT group_id FROM anpi_scope_groups(p_account)));
$$;

-- A broadcast is visible when the account sees everything, when it is an
-- HR broadcast and the account is hr, or when one of its recipients is a
-- person the (group-admin) account sees.
CREATE FUNCTION anpi_scope_broadcast(p_account bigint, p_broadcast bigint) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT CASE
        WHEN anpi_scope_all(p_account) THEN EXISTS (SELECT 1 FROM broadcasts b WHERE b.id = p_broadcast)
        WHEN anpi_scope_role(p_account) = 'hr' THEN
            EXISTS (SELECT 1 FROM broadcasts b WHERE b.id = p_broadcast AND b.sender = 'hr')
        WHEN anpi_scope_role(p_account) = 'group-admin' THEN EXISTS (
            SELECT 1 FROM recipients r
             WHERE r.broadcast_id = p_broadcast
               AND r.person_id IN (SELECT person_id FROM anpi_scope_people(p_account)))
        ELSE false END;
$$;

-- The recipients of a broadcast an account may count: all of them, or
-- those among the people it sees (hr sees every recipient of an HR broadcast).
CREATE FUNCTION anpi_scope_recipients(p_account bigint, p_broadcast bigint)
RETURNS TABLE (recipient_id bigint) LANGUAGE sql STABLE AS $$
    SELECT r.id FROM recipients r
     WHERE r.broadcast_id = p_broadcast AND anpi_scope_broadcast(p_account, p_broadcast)
       AND (anpi_scope_all(p_account) OR anpi_scope_role(p_account) = 'hr'
            OR r.person_id IN (SELECT person_id FROM anpi_scope_people(p_account)));
$$;
