-- 0002_pipeline.sql - the pipeline's steps as database functions.
--
-- Each step that changes several tables is one function call, so it is one
-- transaction and one round trip from the loop: a crash between two steps
-- leaves the previous step complete and the next one not started.

CREATE FUNCTION anpi_audit(p_actor text, p_action text, p_object text, p_detail jsonb)
RETURNS void LANGUAGE sql AS $$
    INSERT INTO audit_log (actor, action, object, detail)
    VALUES (p_actor, p_action, p_object, coalesce(p_detail, '{}'::jsonb));
$$;

-- People matching an audience: a region in p_prefs, a member of one of
-- p_groups (by name or path, subgroups included), or a traveller whose trip
-- covers today (Japan time) in one of p_countries.
CREATE FUNCTION anpi_audience(p_prefs int[], p_groups text[], p_countries text[] DEFAULT NULL)
RETURNS TABLE (person_id text) LANGUAGE sql STABLE AS $$
    WITH RECURSIVE g AS (
        SELECT id FROM groups WHERE name = ANY (p_groups) OR path = ANY (p_groups)
        UNION
        SELECT c.id FROM groups c JOIN g ON c.parent_id = g.id
    )
    SELECT DISTINCT pid FROM (
        SELECT r.person_id AS pid FROM person_regions r WHERE r.pref = ANY (p_prefs)
        UNION
        SELECT m.person_id FROM group_members m JOIN g ON m.group_id = g.id
        UNION
        SELECT t.person_id FROM trips t
         WHERE t.country = ANY (coalesce(p_countries, '{}'))
           AND (now() AT TIME ZONE 'Asia/Tokyo')::date BETWEEN t.from_date AND t.to_date
    ) x;
$$;

-- Create a broadcast with its audience snapshot (recipients and one delivery
-- per usable address).  p_exclude_incident: leave out people already asked in
-- a safety broadcast of that incident (prefectures newly over the threshold
-- add only their own people).  Returns NULL when p_dedupe already exists.
CREATE FUNCTION anpi_create_broadcast(
    p_kind text, p_incident bigint, p_approval bigint, p_dedupe text, p_rule text,
    p_drill boolean, p_subject text, p_body text, p_vars jsonb, p_questions jsonb,
    p_resend_after interval, p_max_resends int, p_expires timestamptz,
    p_prefs int[], p_groups text[], p_people text[], p_exclude_incident bigint, p_created_by text,
    p_countries text[] DEFAULT NULL)
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    v_id bigint;
BEGIN
    INSERT INTO broadcasts (kind, incident_id, approval_id, dedupe_key, rule_id, drill, subject,
                            body, vars, questions, resend_after, max_resends, expires_at, created_by)
    VALUES (p_kind, p_incident, p_approval, p_dedupe, coalesce(p_rule, ''), p_drill, p_subject,
            p_body, coalesce(p_vars, '{}'), coalesce(p_questions, '[]'), p_resend_after,
            coalesce(p_max_resends, 0), p_expires, coalesce(p_created_by, 'engine'))
    ON CONFLICT DO NOTHING
    RETURNING id INTO v_id;
    IF v_id IS NULL THEN
        RETURN NULL;
    END IF;

    INSERT INTO recipients (broadcast_id, person_id)
    SELECT v_id, a.person_id
      FROM (SELECT person_id FROM anpi_audience(coalesce(p_prefs, '{}'), coalesce(p_groups, '{}'), p_countries)
            UNION SELECT unnest(coalesce(p_people, '{}'))) a
      JOIN people p ON p.id = a.person_id
     WHERE p_exclude_incident IS NULL
        OR NOT EXISTS (SELECT 1 FROM recipients r JOIN broadcasts b ON b.id = r.broadcast_id
                        WHERE b.incident_id = p_exclude_incident AND b.kind = 'safety'
                          AND r.person_id = a.person_id);

    INSERT INTO deliveries (broadcast_id, recipient_id, person_id, address, message_id)
    SELECT v_id, r.id, r.person_id, pa.address,
           v_id || '.' || r.id || '.' || substr(md5(pa.address), 1, 12) || '.0'
      FROM recipients r
      JOIN person_addresses pa ON pa.person_id = r.person_id AND pa.status <> 'invalid'
     WHERE r.broadcast_id = v_id;

    PERFORM pg_notify('anpi_deliveries', v_id::text);
    RETURN v_id;
END;
$$;

-- Ask the approvers of an incident round: an approval row plus a mail to
-- every member of the approver group with one-time approve/reject links.
CREATE FUNCTION anpi_request_approval(p_incident bigint, p_round text, p_prefs int[], p_reason text)
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    i incidents%ROWTYPE;
    v_id bigint;
    v_timeout interval;
BEGIN
    SELECT * INTO i FROM incidents WHERE id = p_incident;
    v_timeout := make_interval(secs => (i.approval_policy->>'timeout_s')::double precision);
    INSERT INTO approvals (incident_id, round_kind, prefs, reason, required, deadline, on_timeout)
    VALUES (p_incident, p_round, p_prefs, p_reason, (i.approval_policy->>'required')::int,
            now() + v_timeout, i.approval_policy->>'on_timeout')
    RETURNING id INTO v_id;

    PERFORM anpi_create_broadcast('approval', p_incident, v_id, NULL, i.rule_id, i.drill,
        i.message->'approval'->>'subject', i.message->'approval'->>'text',
        jsonb_build_object('reason', p_reason, 'round', p_round,
                           'affected_prefectures', anpi_pref_names(p_prefs)) || (i.message->'vars'),
        '[]', NULL, 0, i.expires_at, NULL, ARRAY[i.approval_policy->>'group'], NULL, NULL, 'engine');
    PERFORM anpi_audit('engine', 'approval.requested', 'incident:' || p_incident,
        jsonb_build_object('approval', v_id, 'round', p_round, 'prefs', p_prefs, 'reason', p_reason));
    RETURN v_id;
END;
$$;

CREATE TABLE pref_names (code int PRIMARY KEY, name text NOT NULL);
INSERT INTO pref_names VALUES
 (1,'北海道'),(2,'青森県'),(3,'岩手県'),(4,'宮城県'),(5,'秋田県'),(6,'山形県'),(7,'福島県'),
 (8,'茨城県'),(9,'栃木県'),(10,'群馬県'),(11,'埼玉県'),(12,'千葉県'),(13,'東京都'),(14,'神奈川県'),
 (15,'新潟県'),(16,'富山県'),(17,'石川県'),(18,'福井県'),(19,'山梨県'),(20,'長野県'),(21,'岐阜県'),
 (22,'静岡県'),(23,'愛知県'),(24,'三重県'),(25,'滋賀県'),(26,'京都府'),(27,'大阪府'),(28,'兵庫県'),
 (29,'奈良県'),(30,'和歌山県'),(31,'鳥取県'),(32,'島根県'),(33,'岡山県'),(34,'広島県'),(35,'山口県'),
 (36,'徳島県'),(37,'香川県'),(38,'愛媛県'),(39,'高知県'),(40,'福岡県'),(41,'佐賀県'),(42,'長崎県'),
 (43,'熊本県'),(44,'大分県'),(45,'宮崎県'),(46,'鹿児島県'),(47,'沖縄県');

CREATE FUNCTION anpi_pref_names(p int[]) RETURNS text LANGUAGE sql STABLE AS $$
    SELECT coalesce(string_agg(name, '、' ORDER BY code), '') FROM pref_names WHERE code = ANY (p);
$$;

-- Send the safety check of an approved round.
CREATE FUNCTION anpi_release_round(p_approval bigint) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    a approvals%ROWTYPE;
    i incidents%ROWTYPE;
    v_bid bigint;
BEGIN
    SELECT * INTO a FROM approvals WHERE id = p_approval;
    SELECT * INTO i FROM incidents WHERE id = a.incident_id;
    v_bid := anpi_create_broadcast('safety', i.id, a.id, NULL, i.rule_id, i.drill,
        i.message->'safety'->>'subject', i.message->'safety'->>'text',
        jsonb_build_object('affected_prefectures', anpi_pref_names(a.prefs), 'round', a.round_kind)
            || (i.message->'vars'),
        i.message->'questions',
        CASE WHEN (i.message->>'resend_after_s')::int > 0
             THEN make_interval(secs => (i.message->>'resend_after_s')::double precision) END,
        coalesce((i.message->>'max_resends')::int, 0), i.expires_at,
        a.prefs, ARRAY(SELECT jsonb_array_elements_text(coalesce(i.message->'groups', '[]'))),
        NULL,
        CASE WHEN a.round_kind = 'add_prefs' THEN i.id END, 'engine',
        ARRAY(SELECT jsonb_array_elements_text(coalesce(i.message->'countries', '[]'))));
    UPDATE incidents SET status = 'dispatched' WHERE id = i.id AND status IN ('pending_approval', 'approved');
    PERFORM anpi_audit('engine', 'broadcast.created', 'incident:' || i.id,
        jsonb_build_object('approval', a.id, 'broadcast', v_bid, 'round', a.round_kind, 'prefs', a.prefs));
    RETURN v_bid;
END;
$$;

-- One decision by one officer.  Returns {"result": recorded|duplicate|closed|expired,
-- "approval_status", "broadcast_id"}.
CREATE FUNCTION anpi_decide(p_approval bigint, p_by text, p_decision text, p_comment text,
                            p_via text, p_addr text)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    a approvals%ROWTYPE;
    i incidents%ROWTYPE;
    v_n int;
    v_bid bigint;
    v_inserted boolean;
BEGIN
    SELECT * INTO a FROM approvals WHERE id = p_approval FOR UPDATE;
    IF NOT FOUND THEN
        RETURN jsonb_build_object('result', 'not_found');
    END IF;
    SELECT * INTO i FROM incidents WHERE id = a.incident_id FOR UPDATE;
    IF a.status <> 'pending' THEN
        RETURN jsonb_build_object('result', 'closed', 'approval_status', a.status, 'incident_id', i.id);
    END IF;
    IF i.expires_at <= now() THEN
        UPDATE approvals SET status = 'expired', decided_at = now() WHERE id = a.id;
        UPDATE incidents SET status = 'expired', closed_at = now(),
               close_reason = 'expired before approval' WHERE id = i.id AND status = 'pending_approval';
        RETURN jsonb_build_object('result', 'expired', 'approval_status', 'expired', 'incident_id', i.id);
    END IF;

    INSERT INTO approval_decisions (approval_id, decided_by, decision, comment, via, source_addr)
    VALUES (a.id, p_by, p_decision, coalesce(p_comment, ''), p_via, coalesce(p_addr, ''))
    ON CONFLICT DO NOTHING;
    GET DIAGNOSTICS v_n = ROW_COUNT;
    v_inserted := v_n > 0;
    IF NOT v_inserted THEN
        RETURN jsonb_build_object('result', 'duplicate', 'approval_status', a.status, 'incident_id', i.id);
    END IF;
    PERFORM anpi_audit(p_by, 'approval.' || p_decision, 'incident:' || i.id,
        jsonb_build_object('approval', a.id, 'comment', coalesce(p_comment, ''), 'via', p_via,
                           'source', coalesce(p_addr, '')));

    IF p_decision = 'reject' THEN
        UPDATE approvals SET status = 'rejected', decided_at = now() WHERE id = a.id;
        IF a.round_kind = 'initial' THEN
            UPDATE incidents SET status = 'rejected', closed_at = now(),
                   close_reason = 'rejected by ' || p_by WHERE id = i.id;
        ELSIF NOT EXISTS (SELECT 1 FROM approvals WHERE incident_id = i.id AND status = 'pending') THEN
            -- a later round was refused: the incident goes on as it was
            UPDATE incidents SET status = 'dispatched' WHERE id = i.id AND status = 'pending_approval';
        END IF;
        RETURN jsonb_build_object('result', 'recorded', 'approval_status', 'rejected', 'incident_id', i.id);
    END IF;

    SELECT count(*) INTO v_n FROM approval_decisions WHERE approval_id = a.id AND decision = 'approve';
    IF v_n < a.required THEN
        RETURN jsonb_build_object('result', 'recorded', 'approval_status', 'pending',
                                  'approvals', v_n, 'required', a.required, 'incident_id', i.id);
    END IF;
    UPDATE approvals SET status = 'approved', decided_at = now() WHERE id = a.id;
    UPDATE incidents SET status = 'approved' WHERE id = i.id AND status = 'pending_approval';
    v_bid := anpi_release_round(a.id);
    RETURN jsonb_build_object('result', 'recorded', 'approval_status', 'approved',
                              'broadcast_id', v_bid, 'incident_id', i.id);
END;
$$;

-- Record an answer.  p_answers: {"question id": "choice"}; unknown questions or
-- choices are refused.  The person is the unit: everything still queued for
-- this person in this broadcast (other addresses, later rounds) is cancelled
-- in the same transaction.
CREATE FUNCTION anpi_answer(p_recipient bigint, p_answers jsonb, p_comment text, p_via text, p_addr text)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    r recipients%ROWTYPE;
    b broadcasts%ROWTYPE;
    k text;
    v text;
    q jsonb;
    v_cancelled int;
BEGIN
    SELECT * INTO r FROM recipients WHERE id = p_recipient FOR UPDATE;
    IF NOT FOUND THEN
        RETURN jsonb_build_object('result', 'not_found');
    END IF;
    SELECT * INTO b FROM broadcasts WHERE id = r.broadcast_id;
    IF b.kind <> 'safety' THEN
        RETURN jsonb_build_object('result', 'not_found');
    END IF;
    IF b.expires_at + interval '7 days' < now() THEN
        RETURN jsonb_build_object('result', 'expired');
    END IF;
    IF jsonb_typeof(p_answers) <> 'object' OR p_answers = '{}'::jsonb THEN
        RETURN jsonb_build_object('result', 'invalid', 'error', 'no answer given');
    END IF;
    FOR k, v IN SELECT key, value FROM jsonb_each_text(p_answers) LOOP
        SELECT e INTO q FROM jsonb_array_elements(b.questions) e WHERE e->>'id' = k;
        IF q IS NULL THEN
            RETURN jsonb_build_object('result', 'invalid', 'error', 'unknown question: ' || k);
        END IF;
        IF NOT (q->'choices') ? v THEN
            RETURN jsonb_build_object('result', 'invalid', 'error', 'unknown choice for ' || k || ': ' || v);
        END IF;
    END LOOP;
    INSERT INTO responses (recipient_id, question_id, choice, comment, via, source_addr)
    SELECT r.id, key, value, coalesce(p_comment, ''), p_via, coalesce(p_addr, '')
      FROM jsonb_each_text(p_answers);
    UPDATE recipients SET answered_at = coalesce(answered_at, now()) WHERE id = r.id;
    UPDATE deliveries SET status = 'cancelled', lease_owner = NULL, lease_until = NULL
     WHERE recipient_id = r.id AND status IN ('queued', 'deferred');
    GET DIAGNOSTICS v_cancelled = ROW_COUNT;
    RETURN jsonb_build_object('result', 'recorded', 'broadcast_id', b.id, 'cancelled', v_cancelled);
END;
$$;

-- Claim a batch of due deliveries with a lease.  SKIP LOCKED lets several
-- anpid processes drain one queue; an expired lease (a crashed node) makes
-- the row claimable again.
CREATE FUNCTION anpi_claim(p_owner text, p_limit int, p_lease interval)
RETURNS TABLE (delivery_id bigint, address text, message_id text, round int, recipient_id bigint,
               person_name text, kind text, broadcast_id bigint, incident_id bigint, approval_id bigint,
               drill boolean, subject text, body text, vars jsonb)
LANGUAGE plpgsql AS $$
BEGIN
    -- Nothing stale is mailed: deliveries of expired broadcasts are closed first.
    UPDATE deliveries d SET status = 'expired', lease_owner = NULL, lease_until = NULL
      FROM broadcasts b
     WHERE b.id = d.broadcast_id AND b.expires_at <= now()
       AND d.status IN ('queued', 'deferred')
       AND d.id IN (SELECT d2.id FROM deliveries d2 WHERE d2.status IN ('queued', 'deferred')
                    AND d2.next_attempt_at <= now() LIMIT 1000);
    RETURN QUERY
    WITH c AS (
        SELECT d.id FROM deliveries d
         WHERE d.next_attempt_at <= now()
           AND (d.status IN ('queued', 'deferred')
                OR (d.status = 'sending' AND d.lease_until < now()))
         ORDER BY d.next_attempt_at, d.id
         LIMIT p_limit
         FOR UPDATE SKIP LOCKED
    ), u AS (
        UPDATE deliveries d SET status = 'sending', lease_owner = p_owner,
               lease_until = now() + p_lease, attempts = d.attempts + 1
          FROM c WHERE d.id = c.id
        RETURNING d.id, d.address, d.message_id, d.round, d.recipient_id, d.broadcast_id
    )
    SELECT u.id, u.address, u.message_id, u.round, u.recipient_id, p.name, b.kind, b.id,
           b.incident_id, b.approval_id, b.drill, b.subject, b.body, b.vars
      FROM u
      JOIN recipients r ON r.id = u.recipient_id
      JOIN people p ON p.id = r.person_id
      JOIN broadcasts b ON b.id = u.broadcast_id
     ORDER BY u.id;
END;
$$;

-- Result of one delivery attempt.  Only the lease owner may record it.
CREATE FUNCTION anpi_delivery_done(p_id bigint, p_owner text, p_status text, p_reply text,
                                   p_retry_after_s int)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    UPDATE deliveries
       SET status = p_status,
           last_reply = p_reply,
           sent_at = CASE WHEN p_status = 'sent' THEN now() ELSE sent_at END,
           next_attempt_at = CASE WHEN p_status = 'deferred'
                                  THEN now() + make_interval(secs => p_retry_after_s) ELSE next_attempt_at END,
           lease_owner = NULL, lease_until = NULL
     WHERE id = p_id AND lease_owner = p_owner AND status = 'sending';
END;
$$;
