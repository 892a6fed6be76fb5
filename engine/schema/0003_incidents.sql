-- 0003_incidents.sql - opening and joining incidents, housekeeping, tallies,
-- directory import.  The grouping DECISION is made in C (rules/, pure and
-- unit-tested); these functions carry it out atomically.

-- Approve a round without officers (rules with `approval: none`).
CREATE FUNCTION anpi_auto_round(p_incident bigint, p_round text, p_prefs int[], p_reason text)
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    v_id bigint;
BEGIN
    INSERT INTO approvals (incident_id, round_kind, prefs, reason, required, status, deadline, decided_at)
    VALUES (p_incident, p_round, p_prefs, p_reason, 0, 'approved', now(), now())
    RETURNING id INTO v_id;
    INSERT INTO approval_decisions (approval_id, decided_by, decision, comment, via)
    VALUES (v_id, 'rule', 'approve', 'rule requires no approval', 'rule');
    RETURN anpi_release_round(v_id);
END;
$$;

CREATE FUNCTION anpi_incident_open(
    p_rule text, p_pack text, p_type text, p_title text, p_drill boolean, p_event bigint,
    p_event_key text, p_occurred_at timestamptz, p_max text, p_lat double precision,
    p_lon double precision, p_window_s double precision, p_prefs int[], p_message jsonb,
    p_policy jsonb, p_expires_at timestamptz, p_reason text)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    v_id bigint;
    v_existing incidents%ROWTYPE;
    v_approval bigint;
    v_bid bigint;
    v_keys text[] := regexp_split_to_array(btrim(p_event_key), '\s+');
BEGIN
    INSERT INTO incidents (incident_key, rule_id, pack, type, status, title, drill, main_event_id,
                           main_occurred_at, main_max, main_lat, main_lon, window_end, covered_prefs,
                           event_keys, message, approval_policy, expires_at)
    VALUES (p_rule || ':' || p_event_key, p_rule, coalesce(p_pack, ''), p_type, 'pending_approval',
            p_title, p_drill, p_event, p_occurred_at, coalesce(p_max, ''), p_lat, p_lon,
            p_occurred_at + make_interval(secs => p_window_s), p_prefs, v_keys, p_message, p_policy,
            p_expires_at)
    ON CONFLICT (incident_key) DO NOTHING
    RETURNING id INTO v_id;

    IF v_id IS NULL THEN
        -- The same quake already has an incident that is no longer open
        -- (rejected, closed, expired): record the report there, send nothing.
        SELECT * INTO v_existing FROM incidents WHERE incident_key = p_rule || ':' || p_event_key;
        INSERT INTO incident_events (incident_id, event_id, decision, reason)
        VALUES (v_existing.id, p_event, 'ignored',
                'same event as incident ' || v_existing.id || ', which is ' || v_existing.status)
        ON CONFLICT DO NOTHING;
        RETURN jsonb_build_object('incident_id', v_existing.id, 'status', v_existing.status,
                                  'existed', true);
    END IF;

    IF p_expires_at <= now() THEN
        UPDATE incidents SET status = 'expired', closed_at = now(),
               close_reason = 'stale: the event is older than the incident expiry; shown, not mailed'
         WHERE id = v_id;
        INSERT INTO incident_events (incident_id, event_id, decision, reason)
        VALUES (v_id, p_event, 'stale', p_reason || '; stale, nothing sent');
        PERFORM anpi_audit('engine', 'incident.stale', 'incident:' || v_id, jsonb_build_object('rule', p_rule));
        RETURN jsonb_build_object('incident_id', v_id, 'status', 'expired');
    END IF;

    INSERT INTO incident_events (incident_id, event_id, decision, reason)
    VALUES (v_id, p_event, 'new', p_reason);
    PERFORM anpi_audit('engine', 'incident.opened', 'incident:' || v_id,
        jsonb_build_object('rule', p_rule, 'event', p_event, 'prefs', p_prefs, 'reason', p_reason,
                           'drill', p_drill));

    IF coalesce((p_policy->>'required')::int, 1) > 0 THEN
        v_approval := anpi_request_approval(v_id, 'initial', p_prefs, p_reason);
        RETURN jsonb_build_object('incident_id', v_id, 'status', 'pending_approval', 'approval_id', v_approval);
    END IF;
    UPDATE incidents SET status = 'approved' WHERE id = v_id;
    v_bid := anpi_auto_round(v_id, 'initial', p_prefs, p_reason);
    RETURN jsonb_build_object('incident_id', v_id, 'status', 'dispatched', 'broadcast_id', v_bid);
END;
$$;

-- Join a report to an open incident.  p_decision: silent | add_prefs | stronger.
CREATE FUNCTION anpi_incident_join(
    p_incident bigint, p_event bigint, p_event_key text, p_decision text, p_reason text,
    p_prefs int[], p_max text, p_lat double precision, p_lon double precision,
    p_occurred_at timestamptz, p_expires_at timestamptz, p_notify boolean, p_title text, p_vars jsonb)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    i incidents%ROWTYPE;
    v_pending approvals%ROWTYPE;
    v_n int;
    v_approval bigint;
    v_bid bigint;
    v_keys text[] := regexp_split_to_array(btrim(p_event_key), '\s+');
BEGIN
    SELECT * INTO i FROM incidents WHERE id = p_incident FOR UPDATE;
    INSERT INTO incident_events (incident_id, event_id, decision, reason)
    VALUES (p_incident, p_event, p_decision, p_reason)
    ON CONFLICT DO NOTHING;
    GET DIAGNOSTICS v_n = ROW_COUNT;
    IF v_n = 0 THEN
        RETURN jsonb_build_object('incident_id', p_incident, 'result', 'duplicate');
    END IF;
    -- A later report of the same quake (or a stronger quake) describes it
    -- better: the hypocenter arrives after the flash report.
    UPDATE incidents
       SET event_keys = ARRAY(SELECT DISTINCT unnest(event_keys || v_keys) WHERE true),
           expires_at = greatest(expires_at, p_expires_at),
           title = CASE WHEN coalesce(p_title, '') <> '' THEN p_title ELSE title END,
           message = CASE WHEN p_vars IS NOT NULL AND p_vars <> '{}'::jsonb
                          THEN jsonb_set(message, '{vars}', (message->'vars') || p_vars) ELSE message END
     WHERE id = p_incident;
    SELECT * INTO i FROM incidents WHERE id = p_incident;
    PERFORM anpi_audit('engine', 'incident.joined', 'incident:' || p_incident,
        jsonb_build_object('event', p_event, 'decision', p_decision, 'reason', p_reason, 'prefs', p_prefs));

    IF p_decision = 'silent' THEN
        IF p_notify THEN
            PERFORM anpi_create_broadcast('notice', i.id, NULL, 'notice:' || i.id || ':' || p_event, i.rule_id,
                i.drill, i.message->'notice'->>'subject', i.message->'notice'->>'text',
                jsonb_build_object('reason', p_reason, 'affected_prefectures', anpi_pref_names(p_prefs))
                    || (i.message->'vars'),
                '[]', NULL, 0, greatest(i.expires_at, p_expires_at), NULL,
                ARRAY[coalesce(i.approval_policy->>'notify_group', i.approval_policy->>'group')],
                NULL, NULL, 'engine');
        END IF;
        RETURN jsonb_build_object('incident_id', p_incident, 'result', 'silent');
    END IF;

    IF p_decision = 'stronger' THEN
        UPDATE incidents SET main_max = p_max, main_lat = p_lat, main_lon = p_lon
         WHERE id = p_incident;
    END IF;
    UPDATE incidents SET covered_prefs = ARRAY(SELECT DISTINCT unnest(covered_prefs || p_prefs) ORDER BY 1)
     WHERE id = p_incident;

    -- Still waiting for the first decision: widen the pending round instead
    -- of asking twice; nobody has been mailed yet.
    SELECT * INTO v_pending FROM approvals
     WHERE incident_id = p_incident AND status = 'pending' ORDER BY id LIMIT 1 FOR UPDATE;
    IF FOUND THEN
        UPDATE approvals SET prefs = ARRAY(SELECT DISTINCT unnest(prefs || p_prefs) ORDER BY 1),
               reason = reason || '; ' || p_reason
         WHERE id = v_pending.id;
        RETURN jsonb_build_object('incident_id', p_incident, 'result', 'merged', 'approval_id', v_pending.id);
    END IF;

    IF coalesce((i.approval_policy->>'required')::int, 1) > 0 THEN
        UPDATE incidents SET status = 'pending_approval' WHERE id = p_incident;
        v_approval := anpi_request_approval(p_incident, p_decision, p_prefs, p_reason);
        RETURN jsonb_build_object('incident_id', p_incident, 'result', p_decision, 'approval_id', v_approval);
    END IF;
    v_bid := anpi_auto_round(p_incident, p_decision, p_prefs, p_reason);
    RETURN jsonb_build_object('incident_id', p_incident, 'result', p_decision, 'broadcast_id', v_bid);
END;
$$;

-- A cancellation (取消) withdraws the reports of that kind for that event key.
-- An incident that has not sent anything and is left with no valid report is
-- closed without sending.
CREATE FUNCTION anpi_cancel_event(p_event bigint, p_event_key text, p_kind text, p_serial text)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    v_closed bigint[] := '{}';
    v_inc record;
BEGIN
    UPDATE events SET cancelled = true
     WHERE event_key = p_event_key AND kind = p_kind AND id <> p_event
       AND (p_serial = '' OR serial = p_serial) AND info_type <> 'cancel';
    FOR v_inc IN
        SELECT i.id FROM incidents i
         WHERE i.status = 'pending_approval' AND p_event_key = ANY (i.event_keys)
           AND NOT EXISTS (SELECT 1 FROM approvals a WHERE a.incident_id = i.id AND a.status = 'approved')
           AND NOT EXISTS (SELECT 1 FROM incident_events ie JOIN events e ON e.id = ie.event_id
                            WHERE ie.incident_id = i.id AND NOT e.cancelled AND e.info_type <> 'cancel')
         FOR UPDATE
    LOOP
        UPDATE incidents SET status = 'closed', closed_at = now(),
               close_reason = 'cancelled by the source (取消) before approval' WHERE id = v_inc.id;
        UPDATE approvals SET status = 'cancelled', decided_at = now()
         WHERE incident_id = v_inc.id AND status = 'pending';
        INSERT INTO incident_events (incident_id, event_id, decision, reason)
        VALUES (v_inc.id, p_event, 'cancel', 'cancellation of ' || p_kind || ' for ' || p_event_key)
        ON CONFLICT DO NOTHING;
        PERFORM anpi_audit('engine', 'incident.cancelled', 'incident:' || v_inc.id,
                           jsonb_build_object('event', p_event));
        v_closed := v_closed || v_inc.id;
    END LOOP;
    RETURN jsonb_build_object('closed', to_jsonb(v_closed));
END;
$$;

-- Housekeeping, run every few seconds by every node (rows, not in-memory
-- timers, carry the schedule, so any node can do it after a crash):
-- expiry, approval timeouts, resend rounds to the unanswered.
CREATE FUNCTION anpi_tick() RETURNS int LANGUAGE plpgsql AS $$
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

-- The tally of one broadcast in the API's shape.
CREATE FUNCTION anpi_broadcast_json(p_id bigint) RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
        'id', b.id, 'kind', b.kind, 'incident_id', b.incident_id, 'drill', b.drill,
        'created_at', b.created_at, 'expires_at', b.expires_at, 'rounds_sent', b.rounds_sent,
        'recipients', (SELECT count(*) FROM recipients r WHERE r.broadcast_id = b.id),
        'deliveries', (SELECT jsonb_build_object(
              'queued',    count(*) FILTER (WHERE status IN ('queued', 'sending')),
              'sent',      count(*) FILTER (WHERE status = 'sent'),
              'deferred',  count(*) FILTER (WHERE status = 'deferred'),
              'bounced',   count(*) FILTER (WHERE status = 'bounced'),
              'failed',    count(*) FILTER (WHERE status = 'failed'),
              'cancelled', count(*) FILTER (WHERE status = 'cancelled'),
              'expired',   count(*) FILTER (WHERE status = 'expired'))
            FROM deliveries d WHERE d.broadcast_id = b.id),
        'answered', (SELECT count(*) FROM recipients r WHERE r.broadcast_id = b.id AND r.answered_at IS NOT NULL),
        'unanswered', (SELECT count(*) FROM recipients r WHERE r.broadcast_id = b.id AND r.answered_at IS NULL),
        'questions', b.questions,
        'answers', coalesce((
            SELECT jsonb_object_agg(q.qid, q.counts) FROM (
                SELECT qe->>'id' AS qid,
                       (SELECT jsonb_object_agg(ch, (
                            SELECT count(*) FROM (
                                SELECT DISTINCT ON (rs.recipient_id) rs.choice
                                  FROM responses rs JOIN recipients r ON r.id = rs.recipient_id
                                 WHERE r.broadcast_id = b.id AND rs.question_id = qe->>'id'
                                 ORDER BY rs.recipient_id, rs.id DESC) latest
                             WHERE latest.choice = ch))
                          FROM jsonb_array_elements_text(qe->'choices') ch) AS counts
                  FROM jsonb_array_elements(b.questions) qe) q), '{}'::jsonb))
      FROM broadcasts b WHERE b.id = p_id;
$$;

-- Directory import: all rows in one transaction (nothing partially applied).
-- p_rows: [{"id","name","kana","emails":[],"regions":[],"groups":[]}]
CREATE FUNCTION anpi_import_people(p_rows jsonb, p_actor text) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    v_created int;
    v_total int;
    v_groups int;
BEGIN
    CREATE TEMP TABLE imp ON COMMIT DROP AS
    SELECT x->>'id' AS id, x->>'name' AS name, coalesce(x->>'kana', '') AS kana,
           ARRAY(SELECT jsonb_array_elements_text(x->'emails')) AS emails,
           ARRAY(SELECT jsonb_array_elements_text(x->'regions')::int) AS regions,
           ARRAY(SELECT jsonb_array_elements_text(coalesce(x->'groups', '[]'))) AS groups
      FROM jsonb_array_elements(p_rows) x;
    v_total := (SELECT count(*) FROM imp);
    v_created := (SELECT count(*) FROM imp WHERE NOT EXISTS (SELECT 1 FROM people p WHERE p.id = imp.id));

    INSERT INTO people (id, name, kana) SELECT id, name, kana FROM imp
    ON CONFLICT (id) DO UPDATE SET name = excluded.name, kana = excluded.kana, updated_at = now()
     WHERE people.name <> excluded.name OR people.kana <> excluded.kana;

    DELETE FROM person_addresses pa USING imp
     WHERE pa.person_id = imp.id AND NOT pa.address = ANY (imp.emails);
    INSERT INTO person_addresses (person_id, address, position)
    SELECT imp.id, e.addr, e.pos FROM imp, unnest(imp.emails) WITH ORDINALITY e(addr, pos)
    ON CONFLICT (person_id, address) DO UPDATE SET position = excluded.position;

    DELETE FROM person_regions pr USING imp WHERE pr.person_id = imp.id AND NOT pr.pref = ANY (imp.regions);
    INSERT INTO person_regions (person_id, pref)
    SELECT imp.id, r FROM imp, unnest(imp.regions) r ON CONFLICT DO NOTHING;

    -- Groups by path: "本省/大臣官房" creates 本省 and 本省/大臣官房.
    CREATE TEMP TABLE imp_paths ON COMMIT DROP AS
    SELECT DISTINCT array_to_string((string_to_array(g, '/'))[1:n], '/') AS path,
           (string_to_array(g, '/'))[n] AS name, n AS depth
      FROM imp, unnest(imp.groups) g, generate_series(1, array_length(string_to_array(g, '/'), 1)) n;
    FOR v_groups IN SELECT DISTINCT depth FROM imp_paths ORDER BY depth LOOP
        INSERT INTO groups (name, parent_id, path)
        SELECT p.name,
               (SELECT id FROM groups pg WHERE pg.path = regexp_replace(p.path, '/[^/]*$', '')
                                          AND p.depth > 1),
               p.path
          FROM imp_paths p WHERE p.depth = v_groups
        ON CONFLICT (path) DO NOTHING;
    END LOOP;
    DELETE FROM group_members gm USING imp
     WHERE gm.person_id = imp.id
       AND NOT EXISTS (SELECT 1 FROM groups g WHERE g.id = gm.group_id AND g.path = ANY (imp.groups));
    INSERT INTO group_members (group_id, person_id)
    SELECT g.id, imp.id FROM imp, unnest(imp.groups) gp JOIN groups g ON g.path = gp
    ON CONFLICT DO NOTHING;

    PERFORM anpi_audit(p_actor, 'directory.import', 'people',
                       jsonb_build_object('rows', v_total, 'created', v_created));
    RETURN jsonb_build_object('rows', v_total, 'created', v_created, 'updated', v_total - v_created);
END;
$$;

-- Tell the people an incident already asked (its safety broadcasts'
-- recipients) something more: a correction, or that the source withdrew the
-- report (取消).  Once per p_dedupe.
CREATE FUNCTION anpi_notify_incident(p_incident bigint, p_dedupe text, p_subject text, p_body text,
                                     p_vars jsonb)
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    i incidents%ROWTYPE;
    v_bid bigint;
BEGIN
    SELECT * INTO i FROM incidents WHERE id = p_incident;
    IF NOT EXISTS (SELECT 1 FROM broadcasts WHERE incident_id = p_incident AND kind = 'safety') THEN
        RETURN NULL;
    END IF;
    v_bid := anpi_create_broadcast('notice', i.id, NULL, p_dedupe, i.rule_id, i.drill, p_subject, p_body,
        (i.message->'vars') || coalesce(p_vars, '{}'), '[]', NULL, 0, now() + interval '1 day',
        NULL, NULL,
        ARRAY(SELECT DISTINCT r.person_id FROM recipients r JOIN broadcasts b ON b.id = r.broadcast_id
               WHERE b.incident_id = i.id AND b.kind = 'safety'),
        NULL, 'engine');
    PERFORM anpi_audit('engine', 'incident.notice', 'incident:' || i.id,
                       jsonb_build_object('broadcast', v_bid, 'dedupe', p_dedupe));
    RETURN v_bid;
END;
$$;

-- Trips: all rows in one transaction; a row for an unknown person fails the lot.
-- p_rows: [{"person_id","country","from","to"}]
CREATE FUNCTION anpi_import_trips(p_rows jsonb, p_actor text) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    v_missing text;
    v_n int;
BEGIN
    SELECT string_agg(DISTINCT x->>'person_id', ', ') INTO v_missing
      FROM jsonb_array_elements(p_rows) x
     WHERE NOT EXISTS (SELECT 1 FROM people p WHERE p.id = x->>'person_id');
    IF v_missing IS NOT NULL THEN
        RETURN jsonb_build_object('result', 'unknown_people', 'people', v_missing);
    END IF;
    INSERT INTO trips (person_id, country, from_date, to_date)
    SELECT x->>'person_id', x->>'country', (x->>'from')::date, (x->>'to')::date
      FROM jsonb_array_elements(p_rows) x
    ON CONFLICT (person_id, country, from_date) DO UPDATE SET to_date = excluded.to_date;
    GET DIAGNOSTICS v_n = ROW_COUNT;
    PERFORM anpi_audit(p_actor, 'travellers.import', 'trips', jsonb_build_object('rows', v_n));
    RETURN jsonb_build_object('result', 'imported', 'rows', v_n);
END;
$$;
