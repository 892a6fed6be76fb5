-- 0020_account_ops.sql - what the accounts API does to accounts, sign-in
-- throttle rows, API tokens and sessions (admin-api/endpoints/accounts.c
-- and signin.c).
--
-- Each write is one function, so one transaction and one round trip.  The
-- functions that answer an HTTP request return
--   {"status": <http status>, "body": {...}}   or
--   {"status": <http status>, "error": "<message>"}
-- so the handler only relays.  Passwords never reach the database in the
-- clear: the API hashes them (argon2id) first; TOTP secrets are stored
-- (they must be, to check codes) but never written to the audit log.

-- "read,approve" for a scope mask (engine/auth/apitoken.h, same order).
CREATE FUNCTION anpi_scope_names(p_mask int) RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT coalesce(string_agg(n, ',' ORDER BY b), '')
      FROM (VALUES (1, 'read'), (2, 'approve'), (4, 'broadcast'), (8, 'directory'), (16, 'admin')) s(b, n)
     WHERE p_mask & b <> 0;
$$;

-- One account as the API shows it: no hash, no secret.
CREATE FUNCTION anpi_account_json(a accounts) RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
        'id', a.id, 'login', a.login, 'role', a.role, 'person_id', a.person_id,
        'groups', coalesce((SELECT jsonb_agg(g.group_id ORDER BY g.group_id) FROM account_groups g
                             WHERE g.account_id = a.id), '[]'::jsonb),
        'must_change', a.must_change, 'password_changed_at', a.password_changed_at,
        'has_totp', a.totp_secret IS NOT NULL, 'created_by', a.created_by, 'created_at', a.created_at,
        'disabled_at', a.disabled_at, 'disabled_by', a.disabled_by);
$$;

CREATE FUNCTION anpi_account_err(p_status int, p_msg text) RETURNS jsonb LANGUAGE sql IMMUTABLE AS $$
    SELECT jsonb_build_object('status', p_status, 'error', p_msg);
$$;

-- --- sign-in -----------------------------------------------------------------

-- The throttle state of both keys ("failures:last_failure:locked_until",
-- NULL when the key has no row) and the account behind a login (matched
-- case-insensitively; every account column NULL when there is none).
CREATE FUNCTION anpi_signin_state(p_login text, p_account_key text, p_peer_key text)
RETURNS TABLE (account_state text, peer_state text, account_id bigint, login text, role text,
               password_hash text, totp_secret text, totp_last_step bigint, must_change boolean,
               changed_at bigint, disabled boolean)
LANGUAGE sql STABLE AS $$
    SELECT (SELECT t.failures || ':' || t.last_failure || ':' || t.locked_until
              FROM auth_throttle t WHERE t.key = p_account_key),
           (SELECT t.failures || ':' || t.last_failure || ':' || t.locked_until
              FROM auth_throttle t WHERE t.key = p_peer_key),
           a.id, a.login, a.role, a.password_hash, a.totp_secret, a.totp_last_step, a.must_change,
           extract(epoch FROM a.password_changed_at)::bigint, a.disabled_at IS NOT NULL
      FROM (SELECT 1) one
      LEFT JOIN accounts a ON lower(a.login) = lower(p_login);
$$;

-- Claim a TOTP step for an account: true only when it is later than the
-- last one used, so the same code cannot sign in twice, even in two
-- requests racing each other.
CREATE FUNCTION anpi_totp_claim(p_account bigint, p_step bigint) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
    UPDATE accounts SET totp_last_step = p_step WHERE id = p_account AND totp_last_step < p_step;
    RETURN FOUND;
END;
$$;

-- Write a throttle row from its text form (NULL = leave the key alone).
CREATE FUNCTION anpi_throttle_put(p_key text, p_state text) RETURNS void LANGUAGE sql AS $$
    INSERT INTO auth_throttle (key, failures, last_failure, locked_until)
    SELECT p_key, split_part(p_state, ':', 1)::int, split_part(p_state, ':', 2)::bigint,
           split_part(p_state, ':', 3)::bigint
     WHERE p_state IS NOT NULL
    ON CONFLICT (key) DO UPDATE
       SET failures = excluded.failures, last_failure = excluded.last_failure,
           locked_until = excluded.locked_until;
$$;

-- The outcome of one sign-in attempt: both throttle rows, a new hash when
-- the parameters changed (p_rehash), and the audit entry.
CREATE FUNCTION anpi_signin_record(p_account_key text, p_account_state text, p_peer_key text,
                                   p_peer_state text, p_account bigint, p_rehash text, p_actor text,
                                   p_action text, p_login text, p_detail jsonb)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    PERFORM anpi_throttle_put(p_account_key, p_account_state);
    PERFORM anpi_throttle_put(p_peer_key, p_peer_state);
    IF p_rehash IS NOT NULL AND p_account IS NOT NULL THEN
        UPDATE accounts SET password_hash = p_rehash WHERE id = p_account;
    END IF;
    PERFORM anpi_audit(p_actor, p_action, 'account:' || p_login, p_detail);
END;
$$;

-- --- accounts ----------------------------------------------------------------

-- Create an account.  The API checked the shapes (login format, role,
-- group-admin has groups and others none, password policy) and hashed the
-- password; here: the login was never used (case-insensitively, disabled
-- accounts included), the groups and the person exist.
CREATE FUNCTION anpi_account_create(p_caller bigint, p_actor text, p_login text, p_hash text, p_role text,
                                    p_groups bigint[], p_person text, p_must_change boolean, p_totp text)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    v_missing text;
    v_id bigint;
    v_acc accounts;
BEGIN
    IF NOT anpi_scope_all(p_caller) OR anpi_scope_role(p_caller) <> 'system-admin' THEN
        RETURN anpi_account_err(403, 'only system admins create accounts');
    END IF;
    IF EXISTS (SELECT 1 FROM accounts a WHERE lower(a.login) = lower(p_login)) THEN
        RETURN anpi_account_err(409, 'ログイン名「' || p_login || '」は使用済みです (this login was used before and is never reissued)');
    END IF;
    SELECT string_agg(x::text, ', ' ORDER BY x) INTO v_missing
      FROM (SELECT DISTINCT x FROM unnest(coalesce(p_groups, '{}')) x) u
     WHERE NOT EXISTS (SELECT 1 FROM groups g WHERE g.id = u.x);
    IF v_missing IS NOT NULL THEN
        RETURN anpi_account_err(400, 'unknown groups: ' || v_missing);
    END IF;
    IF p_person IS NOT NULL AND NOT EXISTS (SELECT 1 FROM people p WHERE p.id = p_person) THEN
        RETURN anpi_account_err(400, 'unknown person_id "' || p_person || '"');
    END IF;
    BEGIN
        INSERT INTO accounts (login, role, person_id, password_hash, must_change, totp_secret, created_by)
        VALUES (p_login, p_role, p_person, p_hash, p_must_change, p_totp, p_actor)
        RETURNING id INTO v_id;
    EXCEPTION WHEN unique_violation THEN
        RETURN anpi_account_err(409, 'ログイン名「' || p_login || '」は使用済みです (this login was used before and is never reissued)');
    END;
    INSERT INTO account_groups (account_id, group_id)
    SELECT DISTINCT v_id, x FROM unnest(coalesce(p_groups, '{}')) x;
    PERFORM anpi_audit(p_actor, 'account.create', 'account:' || p_login,
                       jsonb_build_object('role', p_role, 'groups', to_jsonb(coalesce(p_groups, '{}')),
                                          'person_id', p_person, 'must_change', p_must_change,
                                          'totp', p_totp IS NOT NULL));
    SELECT * INTO v_acc FROM accounts WHERE id = v_id;
    RETURN jsonb_build_object('status', 201, 'body', anpi_account_json(v_acc));
END;
$$;

CREATE FUNCTION anpi_accounts_list(p_caller bigint) RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object('status', 200, 'body', jsonb_build_object('accounts',
               coalesce(jsonb_agg(anpi_account_json(a) ORDER BY a.id), '[]'::jsonb)))
      FROM accounts a
     WHERE anpi_scope_role(p_caller) = 'system-admin';
$$;

CREATE FUNCTION anpi_account_get(p_caller bigint, p_login text) RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT coalesce(
        (SELECT jsonb_build_object('status', 200, 'body', anpi_account_json(a))
           FROM accounts a
          WHERE lower(a.login) = lower(p_login) AND anpi_scope_role(p_caller) = 'system-admin'),
        anpi_account_err(404, 'no account "' || p_login || '"'));
$$;

-- Disable an account at once: its sessions and tokens are revoked in the
-- same transaction, so the next request with them is refused.
CREATE FUNCTION anpi_account_disable(p_caller bigint, p_actor text, p_login text) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    v_acc accounts;
    v_sessions int;
    v_tokens int;
BEGIN
    SELECT * INTO v_acc FROM accounts WHERE lower(login) = lower(p_login) FOR UPDATE;
    IF NOT FOUND OR anpi_scope_role(p_caller) IS DISTINCT FROM 'system-admin' THEN
        RETURN anpi_account_err(404, 'no account "' || p_login || '"');
    END IF;
    IF v_acc.id = p_caller THEN
        RETURN anpi_account_err(400, '自分のアカウントは無効にできません (you cannot disable your own account)');
    END IF;
    IF v_acc.disabled_at IS NOT NULL THEN
        RETURN anpi_account_err(409, 'account "' || v_acc.login || '" was already disabled at '
                                     || v_acc.disabled_at || ' by ' || v_acc.disabled_by);
    END IF;
    UPDATE accounts SET disabled_at = now(), disabled_by = p_actor WHERE id = v_acc.id
    RETURNING * INTO v_acc;
    UPDATE sessions SET revoked_at = now() WHERE account_id = v_acc.id AND revoked_at IS NULL;
    GET DIAGNOSTICS v_sessions = ROW_COUNT;
    UPDATE api_tokens SET revoked_at = now() WHERE account_id = v_acc.id AND revoked_at IS NULL;
    GET DIAGNOSTICS v_tokens = ROW_COUNT;
    PERFORM anpi_audit(p_actor, 'account.disable', 'account:' || v_acc.login,
                       jsonb_build_object('sessions_revoked', v_sessions, 'tokens_revoked', v_tokens));
    RETURN jsonb_build_object('status', 200, 'body',
                              anpi_account_json(v_acc) || jsonb_build_object('sessions_revoked', v_sessions,
                                                                             'tokens_revoked', v_tokens));
END;
$$;

-- Replace the groups a group admin administers.
CREATE FUNCTION anpi_account_set_groups(p_caller bigint, p_actor text, p_login text, p_groups bigint[])
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    v_acc accounts;
    v_missing text;
    v_before jsonb;
BEGIN
    SELECT * INTO v_acc FROM accounts WHERE lower(login) = lower(p_login) FOR UPDATE;
    IF NOT FOUND OR anpi_scope_role(p_caller) IS DISTINCT FROM 'system-admin' THEN
        RETURN anpi_account_err(404, 'no account "' || p_login || '"');
    END IF;
    IF v_acc.role <> 'group-admin' THEN
        RETURN anpi_account_err(400, 'account "' || v_acc.login || '" is a ' || v_acc.role
                                     || ', not a group-admin: only group admins administer groups');
    END IF;
    IF v_acc.disabled_at IS NOT NULL THEN
        RETURN anpi_account_err(409, 'account "' || v_acc.login || '" is disabled');
    END IF;
    SELECT string_agg(x::text, ', ' ORDER BY x) INTO v_missing
      FROM (SELECT DISTINCT x FROM unnest(coalesce(p_groups, '{}')) x) u
     WHERE NOT EXISTS (SELECT 1 FROM groups g WHERE g.id = u.x);
    IF v_missing IS NOT NULL THEN
        RETURN anpi_account_err(400, 'unknown groups: ' || v_missing);
    END IF;
    SELECT coalesce(jsonb_agg(group_id ORDER BY group_id), '[]') INTO v_before
      FROM account_groups WHERE account_id = v_acc.id;
    DELETE FROM account_groups WHERE account_id = v_acc.id;
    INSERT INTO account_groups (account_id, group_id)
    SELECT DISTINCT v_acc.id, x FROM unnest(p_groups) x;
    PERFORM anpi_audit(p_actor, 'account.groups', 'account:' || v_acc.login,
                       jsonb_build_object('before', v_before, 'after', to_jsonb(p_groups)));
    RETURN jsonb_build_object('status', 200, 'body', anpi_account_json(v_acc));
END;
$$;

-- The hashes a new password must not match: the current one first, then
-- the history, newest first, p_n in all.  No row for an unknown login.
CREATE FUNCTION anpi_account_hashes(p_login text, p_n int)
RETURNS TABLE (account_id bigint, login text, disabled boolean, hashes text[]) LANGUAGE sql STABLE AS $$
    SELECT a.id, a.login, a.disabled_at IS NOT NULL,
           (ARRAY[a.password_hash] || ARRAY(SELECT h.hash FROM account_password_history h
                                             WHERE h.account_id = a.id
                                             ORDER BY h.changed_at DESC LIMIT greatest(p_n - 1, 0)))[1:greatest(p_n, 1)]
      FROM accounts a WHERE lower(a.login) = lower(p_login);
$$;

-- An admin sets a new initial password: the account must change it at the
-- next sign-in; its console sessions end.
CREATE FUNCTION anpi_account_reset_password(p_caller bigint, p_actor text, p_login text, p_hash text)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    v_acc accounts;
    v_sessions int;
BEGIN
    SELECT * INTO v_acc FROM accounts WHERE lower(login) = lower(p_login) FOR UPDATE;
    IF NOT FOUND OR anpi_scope_role(p_caller) IS DISTINCT FROM 'system-admin' THEN
        RETURN anpi_account_err(404, 'no account "' || p_login || '"');
    END IF;
    IF v_acc.disabled_at IS NOT NULL THEN
        RETURN anpi_account_err(409, 'account "' || v_acc.login || '" is disabled');
    END IF;
    INSERT INTO account_password_history (account_id, hash) VALUES (v_acc.id, v_acc.password_hash);
    UPDATE accounts SET password_hash = p_hash, must_change = true, password_changed_at = now()
     WHERE id = v_acc.id RETURNING * INTO v_acc;
    UPDATE sessions SET revoked_at = now() WHERE account_id = v_acc.id AND revoked_at IS NULL;
    GET DIAGNOSTICS v_sessions = ROW_COUNT;
    PERFORM anpi_audit(p_actor, 'account.password_reset', 'account:' || v_acc.login,
                       jsonb_build_object('sessions_revoked', v_sessions));
    RETURN jsonb_build_object('status', 200, 'body',
                              anpi_account_json(v_acc) || jsonb_build_object('sessions_revoked', v_sessions));
END;
$$;

-- An account changes its own password: the old hash goes to the history,
-- every other console session ends (p_keep_session is the one in use, or
-- NULL when the change came with an API token).
CREATE FUNCTION anpi_account_change_password(p_account bigint, p_hash text, p_keep_session bigint)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    v_acc accounts;
    v_sessions int;
BEGIN
    SELECT * INTO v_acc FROM accounts WHERE id = p_account AND disabled_at IS NULL FOR UPDATE;
    IF NOT FOUND THEN
        RETURN anpi_account_err(401, 'the account is disabled');
    END IF;
    INSERT INTO account_password_history (account_id, hash) VALUES (v_acc.id, v_acc.password_hash);
    UPDATE accounts SET password_hash = p_hash, must_change = false, password_changed_at = now()
     WHERE id = v_acc.id RETURNING * INTO v_acc;
    UPDATE sessions SET revoked_at = now()
     WHERE account_id = v_acc.id AND revoked_at IS NULL AND id IS DISTINCT FROM p_keep_session;
    GET DIAGNOSTICS v_sessions = ROW_COUNT;
    PERFORM anpi_audit(v_acc.login, 'account.password', 'account:' || v_acc.login,
                       jsonb_build_object('sessions_revoked', v_sessions));
    RETURN jsonb_build_object('status', 200, 'body',
                              anpi_account_json(v_acc) || jsonb_build_object('sessions_revoked', v_sessions));
END;
$$;

-- Enrol a (new) TOTP secret for an account; codes of an earlier secret
-- stop working at once.
CREATE FUNCTION anpi_account_set_totp(p_account bigint, p_secret text) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    v_acc accounts;
    v_had boolean;
BEGIN
    SELECT * INTO v_acc FROM accounts WHERE id = p_account AND disabled_at IS NULL FOR UPDATE;
    IF NOT FOUND THEN
        RETURN anpi_account_err(401, 'the account is disabled');
    END IF;
    v_had := v_acc.totp_secret IS NOT NULL;
    UPDATE accounts SET totp_secret = p_secret, totp_last_step = 0 WHERE id = v_acc.id;
    PERFORM anpi_audit(v_acc.login, 'account.totp', 'account:' || v_acc.login,
                       jsonb_build_object('replaced', v_had));
    RETURN jsonb_build_object('status', 200, 'body', jsonb_build_object('login', v_acc.login));
END;
$$;

-- Who am I: the account, its groups and whether a password change is due.
CREATE FUNCTION anpi_account_me(p_caller bigint, p_remind_s bigint) RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT coalesce(
        (SELECT jsonb_build_object('status', 200, 'body',
                    anpi_account_json(a) || jsonb_build_object('password_change_due',
                        a.must_change OR (p_remind_s > 0 AND a.password_changed_at
                                          < now() - make_interval(secs => p_remind_s))))
           FROM accounts a WHERE a.id = p_caller AND a.disabled_at IS NULL),
        anpi_account_err(401, 'the account is disabled'));
$$;

-- --- API tokens ---------------------------------------------------------------

CREATE FUNCTION anpi_token_create(p_account bigint, p_hash text, p_scopes int, p_label text, p_peer text,
                                  p_lifetime_s bigint)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    v_login text;
    v_id bigint;
    v_exp timestamptz;
BEGIN
    SELECT login INTO v_login FROM accounts WHERE id = p_account AND disabled_at IS NULL;
    IF NOT FOUND THEN
        RETURN anpi_account_err(401, 'the account is disabled');
    END IF;
    INSERT INTO api_tokens (account_id, hash, scopes, label, created_peer, expires_at)
    VALUES (p_account, p_hash, p_scopes, coalesce(p_label, ''), p_peer,
            CASE WHEN p_lifetime_s > 0 THEN now() + make_interval(secs => p_lifetime_s) END)
    RETURNING id, expires_at INTO v_id, v_exp;
    PERFORM anpi_audit(v_login, 'auth.token', 'account:' || v_login,
                       jsonb_build_object('token', v_id, 'scopes', anpi_scope_names(p_scopes),
                                          'label', coalesce(p_label, ''), 'peer', p_peer,
                                          'expires_at', v_exp));
    RETURN jsonb_build_object('status', 201, 'body',
                              jsonb_build_object('id', v_id, 'expires_at', v_exp,
                                                 'scopes', anpi_scope_names(p_scopes)));
END;
$$;

-- The caller's own tokens (no hashes).
CREATE FUNCTION anpi_tokens_list(p_caller bigint) RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object('status', 200, 'body', jsonb_build_object('tokens',
               coalesce(jsonb_agg(jsonb_build_object(
                   'id', t.id, 'label', t.label, 'scopes', anpi_scope_names(t.scopes),
                   'created_at', t.created_at, 'created_peer', t.created_peer,
                   'last_used_at', t.last_used_at, 'expires_at', t.expires_at,
                   'revoked_at', t.revoked_at,
                   'active', t.revoked_at IS NULL AND (t.expires_at IS NULL OR t.expires_at > now()))
                   ORDER BY t.id), '[]'::jsonb)))
      FROM api_tokens t WHERE t.account_id = p_caller;
$$;

-- Revoke a token: one's own, or any as a system admin.  Someone else's
-- token is "not found" to everyone else (no leak of its existence).
CREATE FUNCTION anpi_token_revoke(p_caller bigint, p_actor text, p_id bigint) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    v_tok api_tokens;
    v_owner text;
BEGIN
    SELECT * INTO v_tok FROM api_tokens WHERE id = p_id FOR UPDATE;
    IF NOT FOUND OR (v_tok.account_id <> p_caller AND anpi_scope_role(p_caller) IS DISTINCT FROM 'system-admin') THEN
        RETURN anpi_account_err(404, 'no token ' || p_id);
    END IF;
    SELECT login INTO v_owner FROM accounts WHERE id = v_tok.account_id;
    IF v_tok.revoked_at IS NULL THEN
        UPDATE api_tokens SET revoked_at = now() WHERE id = p_id RETURNING * INTO v_tok;
        PERFORM anpi_audit(p_actor, 'auth.token_revoke', 'account:' || v_owner,
                           jsonb_build_object('token', p_id));
    END IF;
    RETURN jsonb_build_object('status', 200, 'body',
                              jsonb_build_object('id', v_tok.id, 'account', v_owner,
                                                 'revoked_at', v_tok.revoked_at));
END;
$$;
