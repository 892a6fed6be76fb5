-- 0008: the audit log becomes append-only and hash-chained.
--
-- Every row carries prev_hash (the hash of the row before it in the chain, or
-- 64 zeros for the first) and hash = lower-hex SHA-256 of the UTF-8 bytes of
--
--   prev_hash '|' id '|' at '|' actor '|' action '|' object '|' detail
--
-- where id is decimal, at is the UTC time as YYYY-MM-DDTHH:MM:SS.ffffffZ
-- (always six fractional digits) and detail is PostgreSQL's canonical text of
-- the jsonb value (detail::text).  anpictl audit verify --file recomputes the
-- same string from an export (GET /api/v1/audit/export), so the chain can be
-- checked without trusting the server.
--
-- Chain order is id order: the BEFORE INSERT trigger takes an advisory lock
-- (held to commit) and only then draws the id from the sequence, so a row
-- committed later always has a larger id and sees the earlier row as its
-- predecessor; two concurrent inserts can never link to the same row.  Ids
-- drawn by transactions that roll back leave gaps, which is why verification
-- follows prev_hash, not id arithmetic.
--
-- The builtin sha256(bytea) (PostgreSQL 11+) is used rather than pgcrypto so
-- the migration needs no extension and no superuser.

-- The text that is hashed (shared by the trigger, the migration of old rows,
-- the verifier and the export).
CREATE FUNCTION anpi_audit_material(p_prev text, p_id bigint, p_at timestamptz, p_actor text,
                                    p_action text, p_object text, p_detail jsonb)
RETURNS text LANGUAGE sql IMMUTABLE STRICT AS $$
    SELECT p_prev || '|' || p_id::text || '|'
        || to_char(p_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') || '|'
        || p_actor || '|' || p_action || '|' || p_object || '|' || p_detail::text;
$$;

CREATE FUNCTION anpi_audit_hash(p_material text)
RETURNS text LANGUAGE sql IMMUTABLE STRICT AS $$
    SELECT encode(sha256(convert_to(p_material, 'UTF8')), 'hex');
$$;

ALTER TABLE audit_log ADD COLUMN prev_hash text, ADD COLUMN hash text;

-- The chain head: the last row's id and hash.  The insert trigger locks this
-- row (FOR UPDATE) besides the advisory lock, so a REPEATABLE READ or
-- SERIALIZABLE transaction whose snapshot predates the last insert fails with
-- a serialization error instead of forking the chain from a stale tail.  The
-- verifier also compares it with the table, which catches deleted last rows.
CREATE TABLE audit_chain_head (
    one      boolean PRIMARY KEY DEFAULT true CHECK (one),
    last_id  bigint,
    hash     text NOT NULL
);

-- Existing rows: chain them in id order.
DO $$
DECLARE
    r record;
    prev text := repeat('0', 64);
    last bigint := NULL;
BEGIN
    FOR r IN SELECT * FROM audit_log ORDER BY id LOOP
        UPDATE audit_log
           SET prev_hash = prev,
               hash = anpi_audit_hash(anpi_audit_material(prev, r.id, r.at, r.actor, r.action,
                                                          r.object, r.detail))
         WHERE id = r.id
        RETURNING hash INTO prev;
        last := r.id;
    END LOOP;
    INSERT INTO audit_chain_head (last_id, hash) VALUES (last, prev);
END;
$$;

ALTER TABLE audit_log ALTER COLUMN prev_hash SET NOT NULL,
                      ALTER COLUMN hash SET NOT NULL;

-- The id is drawn inside the trigger, under the lock (see above); an id the
-- caller supplies is replaced.
ALTER TABLE audit_log ALTER COLUMN id DROP DEFAULT;

CREATE FUNCTION anpi_audit_chain() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    head audit_chain_head%ROWTYPE;
BEGIN
    -- 'anpi.audit_log' as a fixed 64-bit key, distinct from the other locks
    PERFORM pg_advisory_xact_lock(7236840145239089001);
    SELECT * INTO head FROM audit_chain_head WHERE one FOR UPDATE;
    NEW.id := nextval(pg_get_serial_sequence('audit_log', 'id'));
    IF NEW.at IS NULL THEN
        NEW.at := now();
    END IF;
    NEW.prev_hash := head.hash;
    NEW.hash := anpi_audit_hash(anpi_audit_material(NEW.prev_hash, NEW.id, NEW.at, NEW.actor,
                                                    NEW.action, NEW.object, NEW.detail));
    UPDATE audit_chain_head SET last_id = NEW.id, hash = NEW.hash WHERE one;
    RETURN NEW;
END;
$$;

CREATE TRIGGER audit_log_chain BEFORE INSERT ON audit_log
    FOR EACH ROW EXECUTE FUNCTION anpi_audit_chain();

CREATE FUNCTION anpi_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only (% refused)', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;

-- Statement level, so even an UPDATE or DELETE matching no row is refused.
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION anpi_audit_append_only();

-- The head is written only by the insert trigger.
CREATE FUNCTION anpi_audit_head_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF pg_trigger_depth() < 2 THEN
        RAISE EXCEPTION 'audit_chain_head is maintained by the audit_log trigger only'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END;
$$;

CREATE TRIGGER audit_chain_head_guard BEFORE UPDATE OR DELETE ON audit_chain_head
    FOR EACH ROW EXECUTE FUNCTION anpi_audit_head_guard();
CREATE TRIGGER audit_chain_head_truncate BEFORE TRUNCATE ON audit_chain_head
    FOR EACH STATEMENT EXECUTE FUNCTION anpi_audit_append_only();

-- Recompute the whole chain in id order.  {"ok", "entries" (rows checked),
-- "first_bad_id" (null when ok), "reason", "last_id", "last_hash"}.
-- An operator who keeps last_hash somewhere else can later prove that the
-- log was not rewritten wholesale up to that point.
CREATE FUNCTION anpi_audit_verify() RETURNS jsonb LANGUAGE plpgsql STABLE AS $$
DECLARE
    r record;
    prev text := repeat('0', 64);
    prev_id bigint := NULL;
    n bigint := 0;
    head audit_chain_head%ROWTYPE;
    found_head boolean;
    bad bigint := NULL;
    why text := NULL;
    broken boolean := false;
BEGIN
    FOR r IN SELECT * FROM audit_log ORDER BY id LOOP
        IF r.prev_hash IS DISTINCT FROM prev THEN
            broken := true;
            bad := r.id;
            why := CASE WHEN prev_id IS NULL
                        THEN format('entry %s is the first entry but its prev_hash is not the genesis value: earlier entries are missing', r.id)
                        ELSE format('entry %s does not follow entry %s (prev_hash mismatch): an entry between them is missing or entry %s was changed',
                                    r.id, prev_id, prev_id) END;
            EXIT;
        END IF;
        IF r.hash IS DISTINCT FROM anpi_audit_hash(anpi_audit_material(r.prev_hash, r.id, r.at, r.actor,
                                                   r.action, r.object, r.detail)) THEN
            broken := true;
            bad := r.id;
            why := format('entry %s was changed (its content does not match its hash)', r.id);
            EXIT;
        END IF;
        n := n + 1;
        prev := r.hash;
        prev_id := r.id;
    END LOOP;
    IF NOT broken THEN
        SELECT * INTO head FROM audit_chain_head WHERE one;
        found_head := FOUND;
        IF NOT found_head OR head.hash IS DISTINCT FROM prev OR head.last_id IS DISTINCT FROM prev_id THEN
            broken := true;
            bad := coalesce(head.last_id, prev_id);
            why := format('the chain head (entry %s) is not the last entry in the table (entry %s): entries at the end are missing',
                          coalesce(head.last_id::text, 'none'), coalesce(prev_id::text, 'none'));
        END IF;
    END IF;
    RETURN jsonb_build_object('ok', NOT broken, 'entries', n, 'first_bad_id', bad,
                              'reason', coalesce(why, 'chain intact'),
                              'last_id', prev_id, 'last_hash', prev);
END;
$$;

-- One exported entry: the fields, the exact strings that were hashed
-- ("at", "detail_text") and both hashes.  The API writes one per line.
CREATE FUNCTION anpi_audit_export_line(a audit_log) RETURNS text LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
        'id', a.id,
        'at', to_char(a.at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
        'actor', a.actor, 'action', a.action, 'object', a.object,
        'detail', a.detail, 'detail_text', a.detail::text,
        'prev_hash', a.prev_hash, 'hash', a.hash)::text;
$$;
