-- 0005_address_check.sql - the periodic address check: every address gets a
-- mail with a confirm link; a confirmed address is valid, and admins see
-- which addresses are unverified, bouncing or invalid.

ALTER TABLE broadcasts DROP CONSTRAINT broadcasts_kind_check;
ALTER TABLE broadcasts ADD CONSTRAINT broadcasts_kind_check
    CHECK (kind IN ('safety', 'approval', 'notice', 'info', 'check'));
ALTER TABLE person_addresses ADD COLUMN verified_at timestamptz;

-- Start an address check (once per p_dedupe: the scheduler passes the run's
-- time, so several nodes start it once).  Every person; every address that
-- is not already invalid.
CREATE FUNCTION anpi_address_check(p_dedupe text, p_created_by text)
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    v_bid bigint;
BEGIN
    v_bid := anpi_create_broadcast('check', NULL, NULL, p_dedupe, '', false,
        '【確認】安否確認メールの受信確認',
        E'{{person.name}} 様\n\n安否確認システムからのメールが届くことを確認しています。\n'
        || E'次のリンクを開き、「確認」を押してください。\n\n{{confirm_url}}\n\n'
        || E'このメールに心当たりがない場合は、管理者に連絡してください。\n',
        '{}', '[]', NULL, 0, now() + interval '14 days', NULL, NULL,
        ARRAY(SELECT id FROM people), NULL, p_created_by);
    IF v_bid IS NOT NULL THEN
        PERFORM anpi_audit(p_created_by, 'addresses.check', 'broadcast:' || v_bid, '{}');
    END IF;
    RETURN v_bid;
END;
$$;

-- The confirm link of one check delivery was used: that address receives mail.
CREATE FUNCTION anpi_confirm_address(p_delivery bigint)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    d deliveries%ROWTYPE;
BEGIN
    SELECT dl.* INTO d FROM deliveries dl JOIN broadcasts b ON b.id = dl.broadcast_id
     WHERE dl.id = p_delivery AND b.kind = 'check' AND b.expires_at > now();
    IF NOT FOUND THEN
        RETURN jsonb_build_object('result', 'not_found');
    END IF;
    UPDATE person_addresses SET status = 'valid', verified_at = now(), hard_bounces = 0
     WHERE person_id = d.person_id AND address = d.address;
    RETURN jsonb_build_object('result', 'confirmed');
END;
$$;

-- Address status for admins; the local part is never shown ("****@example.jp").
CREATE FUNCTION anpi_addresses_json(p_status text) RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
        'counts', (SELECT coalesce(jsonb_object_agg(status, n), '{}')
                     FROM (SELECT status, count(*) AS n FROM person_addresses GROUP BY status) c),
        'people_without_valid_address',
            (SELECT count(*) FROM people p WHERE NOT EXISTS (
                SELECT 1 FROM person_addresses pa WHERE pa.person_id = p.id AND pa.status IN ('valid', 'unverified'))),
        'addresses', coalesce((SELECT jsonb_agg(jsonb_build_object(
                'person_id', pa.person_id, 'name', p.name,
                'address', '****' || substr(pa.address, strpos(pa.address, '@')),
                'status', pa.status, 'hard_bounces', pa.hard_bounces, 'last_bounce', pa.last_bounce,
                'verified_at', pa.verified_at) ORDER BY pa.person_id, pa.position)
            FROM person_addresses pa JOIN people p ON p.id = pa.person_id
           WHERE p_status IS NULL OR pa.status = p_status), '[]'));
$$;
