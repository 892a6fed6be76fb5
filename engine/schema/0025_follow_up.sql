-- 0025_follow_up.sql - automatic resend rounds with a deadline of their own
-- and their own wording per round, for rules (follow_up: until, wording) and
-- for broadcasts composed by hand (POST /api/v1/broadcasts "follow_up").
--
-- Two columns on broadcasts carry it:
--   resend_until    no automatic round starts later than created_at + this
--                   (the first mail goes out at creation); NULL = until the
--                   broadcast expires, as before.  Stored as an interval, not
--                   a timestamp, so it stays relative to the first mail.
--   resend_wording  [{"subject", "body"}]: the templates of resend round 1,
--                   2, ...; a round past the last entry uses the last one;
--                   NULL = every round repeats the broadcast's own subject
--                   and body, as before.
-- anpi_tick stops the rounds at the deadline; anpi_claim hands the
-- dispatcher the round's templates, so engine/render.c renders a resend from
-- them exactly as a first mail (and still marks it 【再送】).  A round sent by
-- hand (anpi_broadcast_resend) takes the next round number and so the next
-- wording too; the deadline holds only the automatic rounds.

ALTER TABLE broadcasts
    ADD COLUMN resend_until interval CHECK (resend_until > interval '0'),
    ADD COLUMN resend_wording jsonb CHECK (jsonb_typeof(resend_wording) = 'array'
                                           AND jsonb_array_length(resend_wording) BETWEEN 1 AND 10);

-- The template (p_part: subject or body) of delivery round p_round of a
-- broadcast with wording p_wording; NULL for the first mail (round 0), no
-- wording, or an entry without that part (the caller falls back to the
-- broadcast's own).  A plain SQL expression, inlined into the claim.
CREATE FUNCTION anpi_round_wording(p_wording jsonb, p_round int, p_part text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN p_round > 0 AND jsonb_typeof(p_wording) = 'array' AND jsonb_array_length(p_wording) > 0
                THEN nullif(p_wording -> (least(p_round, jsonb_array_length(p_wording)) - 1) ->> p_part, '')
           END;
$$;

-- 0002's anpi_release_round, unchanged but for putting the rule's
-- follow_up.until and .wording on the broadcast it creates.
CREATE OR REPLACE FUNCTION anpi_release_round(p_approval bigint) RETURNS bigint LANGUAGE plpgsql AS $$
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
    -- follow_up.until and .wording of the rule (engine/ingest.c puts them in
    -- the incident's message)
    IF v_bid IS NOT NULL AND (coalesce((i.message->>'resend_until_s')::int, 0) > 0
                              OR jsonb_typeof(i.message->'resend_wording') = 'array') THEN
        UPDATE broadcasts
           SET resend_until = CASE WHEN coalesce((i.message->>'resend_until_s')::int, 0) > 0
                                   THEN make_interval(secs => (i.message->>'resend_until_s')::double precision) END,
               resend_wording = CASE WHEN jsonb_typeof(i.message->'resend_wording') = 'array'
                                      AND jsonb_array_length(i.message->'resend_wording') > 0
                                     THEN i.message->'resend_wording' END
         WHERE id = v_bid;
    END IF;
    UPDATE incidents SET status = 'dispatched' WHERE id = i.id AND status IN ('pending_approval', 'approved');
    PERFORM anpi_audit('engine', 'broadcast.created', 'incident:' || i.id,
        jsonb_build_object('approval', a.id, 'broadcast', v_bid, 'round', a.round_kind, 'prefs', a.prefs));
    RETURN v_bid;
END;
$$;

-- 0003's anpi_tick (no later migration redefines it), unchanged but for the
-- deadline: a resend round starts only while created_at + resend_until has
-- not passed.
CREATE OR REPLACE FUNCTION anpi_tick() RETURNS int LANGUAGE plpgsql AS $$
DECLARE
    v_done int := 0;
    v_n int;
    a record;
    b record;
BEGIN
    -- Incidents past their expiry that never got approved.
    FOR a IN SELECT ap.id, ap.incident_id FROM approvals ap JOIN incidents i ON i.id = ap.incident_id
              WHERE ap.status = 'pending' AND i.expires_at <= now() FOR UPDATE OF ap SKIP LOCKED LOOP
        UPDATE approvals SET status = 'expired', decided_at = now() WHERE id = a.id;
        UPDATE incidents SET status = 'expired', closed_at = now(),
               close_reason = 'expired before approval; nothing sent'
         WHERE id = a.incident_id AND status = 'pending_approval';
        PERFORM anpi_audit('engine', 'approval.expired', 'incident:' || a.incident_id,
                           jsonb_build_object('approval', a.id));
        v_done := v_done + 1;
    END LOOP;

    -- Approval timeouts: send, escalate or hold (hold is logged once).
    FOR a IN SELECT ap.*, i.approval_policy AS policy FROM approvals ap JOIN incidents i ON i.id = ap.incident_id
              WHERE ap.status = 'pending' AND ap.deadline <= now() AND ap.escalated_at IS NULL
                FOR UPDATE OF ap SKIP LOCKED LOOP
        UPDATE approvals SET escalated_at = now() WHERE id = a.id;
        IF a.on_timeout = 'send' THEN
            PERFORM anpi_decide(a.id, 'timeout', 'approve', 'approval timeout: policy send', 'timeout', '');
            -- the timeout counts as every missing approval
            IF (SELECT status FROM approvals WHERE id = a.id) = 'pending' THEN
                UPDATE approvals SET status = 'approved', decided_at = now() WHERE id = a.id;
                UPDATE incidents SET status = 'approved' WHERE id = a.incident_id AND status = 'pending_approval';
                PERFORM anpi_release_round(a.id);
            END IF;
        ELSIF a.on_timeout = 'escalate' AND coalesce(a.policy->>'escalate_to', '') <> '' THEN
            PERFORM anpi_create_broadcast('approval', a.incident_id, a.id, 'escalate:' || a.id, '',
                (SELECT drill FROM incidents WHERE id = a.incident_id),
                (SELECT message->'approval'->>'subject' FROM incidents WHERE id = a.incident_id),
                (SELECT message->'approval'->>'text' FROM incidents WHERE id = a.incident_id),
                jsonb_build_object('reason', 'escalated: no decision within the approval timeout; ' || a.reason,
                                   'round', a.round_kind, 'affected_prefectures', anpi_pref_names(a.prefs))
                  || (SELECT message->'vars' FROM incidents WHERE id = a.incident_id),
                '[]', NULL, 0, (SELECT expires_at FROM incidents WHERE id = a.incident_id), NULL,
                ARRAY[a.policy->>'escalate_to'], NULL, NULL, 'engine');
            PERFORM anpi_audit('engine', 'approval.escalated', 'incident:' || a.incident_id,
                               jsonb_build_object('approval', a.id, 'to', a.policy->>'escalate_to'));
        ELSE
            PERFORM anpi_audit('engine', 'approval.timeout_hold', 'incident:' || a.incident_id,
                               jsonb_build_object('approval', a.id));
        END IF;
        v_done := v_done + 1;
    END LOOP;

    -- Resend to those who have not answered (only them).
    FOR b IN SELECT * FROM broadcasts
              WHERE kind = 'safety' AND resend_after IS NOT NULL AND rounds_sent < max_resends
                AND last_round_at + resend_after <= now() AND expires_at > now()
                AND (resend_until IS NULL OR created_at + resend_until >= now())
                FOR UPDATE SKIP LOCKED LOOP
        INSERT INTO deliveries (broadcast_id, recipient_id, person_id, address, round, message_id)
        SELECT b.id, r.id, r.person_id, pa.address, b.rounds_sent + 1,
               b.id || '.' || r.id || '.' || substr(md5(pa.address), 1, 12) || '.' || (b.rounds_sent + 1)
          FROM recipients r
          JOIN person_addresses pa ON pa.person_id = r.person_id AND pa.status <> 'invalid'
         WHERE r.broadcast_id = b.id AND r.answered_at IS NULL
        ON CONFLICT DO NOTHING;
        GET DIAGNOSTICS v_n = ROW_COUNT;
        UPDATE broadcasts SET rounds_sent = rounds_sent + 1, last_round_at = now() WHERE id = b.id;
        PERFORM anpi_audit('engine', 'broadcast.resend', 'broadcast:' || b.id,
                           jsonb_build_object('round', b.rounds_sent + 1, 'deliveries', v_n));
        v_done := v_done + 1;
    END LOOP;
    RETURN v_done;
END;
$$;

-- 0010's anpi_claim, same signature and rows, but a resend delivery gets its
-- round's subject and body (resend_wording) instead of the first mail's.
CREATE OR REPLACE FUNCTION anpi_claim(p_owner text, p_limit int, p_lease interval)
RETURNS TABLE (delivery_id bigint, address text, message_id text, round int, recipient_id bigint,
               person_name text, kind text, broadcast_id bigint, incident_id bigint, approval_id bigint,
               drill boolean, subject text, body text, vars jsonb, attempts int, sender text)
LANGUAGE sql AS $$
    WITH c AS (
        SELECT d.id FROM deliveries d
         WHERE d.status IN ('queued', 'deferred') AND d.next_attempt_at <= now()
         ORDER BY d.next_attempt_at, d.id
         LIMIT p_limit
         FOR UPDATE SKIP LOCKED
    ), u AS (
        UPDATE deliveries d SET status = 'sending', lease_owner = p_owner,
               lease_until = now() + p_lease, attempts = d.attempts + 1
          FROM c WHERE d.id = c.id
        RETURNING d.id, d.address, d.message_id, d.round, d.recipient_id, d.broadcast_id, d.attempts
    )
    SELECT u.id, u.address, u.message_id, u.round, u.recipient_id, p.name, b.kind, b.id,
           b.incident_id, b.approval_id, b.drill,
           coalesce(anpi_round_wording(b.resend_wording, u.round, 'subject'), b.subject),
           coalesce(anpi_round_wording(b.resend_wording, u.round, 'body'), b.body),
           b.vars, u.attempts, b.sender
      FROM u
      JOIN recipients r ON r.id = u.recipient_id
      JOIN people p ON p.id = r.person_id
      JOIN broadcasts b ON b.id = u.broadcast_id
     WHERE b.expires_at > now()
     ORDER BY u.id;
$$;

-- The follow-up of a broadcast composed by hand, applied in the statement
-- that creates it:
--   SELECT anpi_manual_follow_up(anpi_manual_broadcast(...), by, every_s, rounds, until_s, wording)
-- p_created is anpi_manual_broadcast's answer; anything but "created" passes
-- through untouched.  Only a safety broadcast created by p_by in this very
-- transaction (created_at = now()) and not resent yet is changed, so the
-- function cannot rewrite the schedule of another broadcast.  The answer
-- gains "follow_up": {every_s, rounds, until_s, wording (entries)}.
CREATE FUNCTION anpi_manual_follow_up(p_created jsonb, p_by text, p_every_s double precision, p_rounds int,
                                      p_until_s double precision, p_wording jsonb)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    v_id bigint;
    v_n int;
BEGIN
    IF p_created->>'result' IS DISTINCT FROM 'created' THEN
        RETURN p_created;
    END IF;
    v_id := (p_created->>'id')::bigint;
    UPDATE broadcasts
       SET resend_after = make_interval(secs => p_every_s), max_resends = p_rounds,
           resend_until = CASE WHEN p_until_s > 0 THEN make_interval(secs => p_until_s) END,
           resend_wording = CASE WHEN jsonb_typeof(p_wording) = 'array' AND jsonb_array_length(p_wording) > 0
                                 THEN p_wording END
     WHERE id = v_id AND kind = 'safety' AND created_by = p_by AND created_at = now() AND rounds_sent = 0;
    GET DIAGNOSTICS v_n = ROW_COUNT;
    IF v_n = 0 THEN
        RAISE EXCEPTION 'broadcast % was not created by % in this transaction; no follow-up set', v_id, p_by;
    END IF;
    PERFORM anpi_audit(p_by, 'broadcast.follow_up', 'broadcast:' || v_id,
        jsonb_build_object('every_s', p_every_s, 'rounds', p_rounds, 'until_s', p_until_s,
                           'wording', coalesce(jsonb_array_length(p_wording), 0)));
    RETURN p_created || jsonb_build_object('follow_up', jsonb_build_object(
        'every_s', p_every_s, 'rounds', p_rounds, 'until_s', p_until_s,
        'wording', coalesce(jsonb_array_length(p_wording), 0)));
END;
$$;
