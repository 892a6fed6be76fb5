-- 0012_broadcasts.sql - broadcasts composed by hand (not from a feed),
-- resend to the unanswered by hand, the send history, the tally per group,
-- the time-to-answer curve and messages written back to a person.
--
-- Every query the admin API makes for these is a function here, so the
-- account and group-admin scope layer can later wrap them in one place.

-- The people a manual broadcast reaches: the named people, the members of
-- the groups given by id (with their subgroups or only direct members), and
-- the people of the regions.  Groups are matched by id, never by name: a
-- name is not unique across the tree ("本省/総務課" and "地方/総務課").
CREATE FUNCTION anpi_manual_audience(p_people text[], p_groups bigint[], p_subgroups boolean, p_prefs int[])
RETURNS TABLE (person_id text) LANGUAGE sql STABLE AS $$
    WITH RECURSIVE g AS (
        SELECT id FROM groups WHERE id = ANY (coalesce(p_groups, '{}'))
        UNION
        SELECT c.id FROM groups c JOIN g ON c.parent_id = g.id WHERE p_subgroups
    )
    SELECT DISTINCT x.pid FROM (
        SELECT p.id AS pid FROM people p WHERE p.id = ANY (coalesce(p_people, '{}'))
        UNION
        SELECT m.person_id FROM group_members m JOIN g ON m.group_id = g.id
        UNION
        SELECT r.person_id FROM person_regions r WHERE r.pref = ANY (coalesce(p_prefs, '{}'))
    ) x;
$$;

-- Compose a safety broadcast by hand.  p_audience: {"people": [ids],
-- "groups": [ids], "subgroups": bool, "regions": [codes]} (already checked
-- for shape by the API).  Unknown people or groups refuse the whole request;
-- so does an audience that matches nobody.  Returns {"result": "created",
-- "id", "recipients", "deliveries"} or {"result": "unknown_people" |
-- "unknown_groups" | "empty", ...}.
CREATE FUNCTION anpi_manual_broadcast(p_subject text, p_body text, p_questions jsonb, p_audience jsonb,
                                      p_drill boolean, p_by text, p_expires_s double precision)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    v_people text[] := ARRAY(SELECT jsonb_array_elements_text(coalesce(p_audience->'people', '[]')));
    v_groups bigint[] := ARRAY(SELECT jsonb_array_elements_text(coalesce(p_audience->'groups', '[]'))::bigint);
    v_prefs int[] := ARRAY(SELECT jsonb_array_elements_text(coalesce(p_audience->'regions', '[]'))::int);
    v_sub boolean := coalesce((p_audience->>'subgroups')::boolean, true);
    v_missing jsonb;
    v_who text[];
    v_id bigint;
BEGIN
    SELECT jsonb_agg(DISTINCT x) INTO v_missing FROM unnest(v_people) x
     WHERE NOT EXISTS (SELECT 1 FROM people p WHERE p.id = x);
    IF v_missing IS NOT NULL THEN
        RETURN jsonb_build_object('result', 'unknown_people', 'people', v_missing);
    END IF;
    SELECT jsonb_agg(DISTINCT x) INTO v_missing FROM unnest(v_groups) x
     WHERE NOT EXISTS (SELECT 1 FROM groups g WHERE g.id = x);
    IF v_missing IS NOT NULL THEN
        RETURN jsonb_build_object('result', 'unknown_groups', 'groups', v_missing);
    END IF;
    v_who := ARRAY(SELECT person_id FROM anpi_manual_audience(v_people, v_groups, v_sub, v_prefs));
    IF cardinality(v_who) = 0 THEN
        RETURN jsonb_build_object('result', 'empty');
    END IF;
    -- The reply page shows incident.title above the form: for a manual
    -- broadcast that is its subject.
    v_id := anpi_create_broadcast('safety', NULL, NULL, NULL, '', coalesce(p_drill, false), p_subject, p_body,
        jsonb_build_object('incident.title', p_subject, 'manual', 'true'), p_questions, NULL, 0,
        now() + make_interval(secs => p_expires_s), NULL, NULL, v_who, NULL, p_by);
    PERFORM anpi_audit(p_by, 'broadcast.manual', 'broadcast:' || v_id,
        jsonb_build_object('drill', coalesce(p_drill, false), 'recipients', cardinality(v_who),
                           'audience', p_audience));
    RETURN jsonb_build_object('result', 'created', 'id', v_id, 'recipients', cardinality(v_who),
        'deliveries', (SELECT count(*) FROM deliveries WHERE broadcast_id = v_id));
END;
$$;

-- A new round to the recipients who have not answered (only them), started
-- by hand; any number of times.  The same rows as the automatic resend in
-- anpi_tick, so the dispatcher marks the mail 【再送】.
CREATE FUNCTION anpi_broadcast_resend(p_id bigint, p_by text) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    b broadcasts%ROWTYPE;
    v_unanswered int;
    v_n int;
BEGIN
    SELECT * INTO b FROM broadcasts WHERE id = p_id FOR UPDATE;
    IF NOT FOUND THEN
        RETURN jsonb_build_object('result', 'not_found');
    END IF;
    IF b.kind <> 'safety' THEN
        RETURN jsonb_build_object('result', 'not_safety', 'kind', b.kind);
    END IF;
    IF b.expires_at <= now() THEN
        RETURN jsonb_build_object('result', 'expired', 'expires_at', b.expires_at);
    END IF;
    SELECT count(*) INTO v_unanswered FROM recipients WHERE broadcast_id = b.id AND answered_at IS NULL;
    IF v_unanswered = 0 THEN
        RETURN jsonb_build_object('result', 'nobody');
    END IF;
    INSERT INTO deliveries (broadcast_id, recipient_id, person_id, address, round, message_id)
    SELECT b.id, r.id, r.person_id, pa.address, b.rounds_sent + 1,
           b.id || '.' || r.id || '.' || substr(md5(pa.address), 1, 12) || '.' || (b.rounds_sent + 1)
      FROM recipients r
      JOIN person_addresses pa ON pa.person_id = r.person_id AND pa.status <> 'invalid'
     WHERE r.broadcast_id = b.id AND r.answered_at IS NULL
    ON CONFLICT DO NOTHING;
    GET DIAGNOSTICS v_n = ROW_COUNT;
    IF v_n = 0 THEN
        RETURN jsonb_build_object('result', 'no_address', 'unanswered', v_unanswered);
    END IF;
    UPDATE broadcasts SET rounds_sent = rounds_sent + 1, last_round_at = now() WHERE id = b.id;
    PERFORM anpi_audit(p_by, 'broadcast.resend', 'broadcast:' || b.id,
                       jsonb_build_object('round', b.rounds_sent + 1, 'deliveries', v_n, 'by_hand', true));
    PERFORM pg_notify('anpi_deliveries', b.id::text);
    RETURN jsonb_build_object('result', 'resent', 'id', b.id, 'round', b.rounds_sent + 1,
                              'recipients', v_unanswered, 'deliveries', v_n);
END;
$$;

-- How long each answered recipient took: the first response minus the
-- first delivery actually sent to them (or the broadcast's creation when
-- none is recorded as sent).
CREATE FUNCTION anpi_answer_times(p_id bigint)
RETURNS TABLE (recipient_id bigint, seconds double precision) LANGUAGE sql STABLE AS $$
    SELECT r.id,
           greatest(0, extract(epoch FROM
               (SELECT min(rs.created_at) FROM responses rs WHERE rs.recipient_id = r.id)
               - coalesce((SELECT min(d.sent_at) FROM deliveries d WHERE d.recipient_id = r.id),
                          b.created_at)))::double precision
      FROM recipients r JOIN broadcasts b ON b.id = r.broadcast_id
     WHERE r.broadcast_id = p_id
       AND EXISTS (SELECT 1 FROM responses rs WHERE rs.recipient_id = r.id);
$$;

-- The time-to-answer curve: median seconds to answer (of those who
-- answered) and the share of ALL recipients who had answered within 5, 10,
-- 30 and 60 minutes: the figure drills are judged by.
CREATE FUNCTION anpi_broadcast_curve(p_id bigint) RETURNS jsonb LANGUAGE sql STABLE AS $$
    WITH t AS (SELECT seconds FROM anpi_answer_times(p_id)),
         n AS (SELECT count(*)::double precision AS total FROM recipients WHERE broadcast_id = p_id)
    SELECT jsonb_build_object(
        'median_s', (SELECT round(percentile_cont(0.5) WITHIN GROUP (ORDER BY seconds)::numeric, 1) FROM t),
        'answered_after', jsonb_build_object(
            '5m',  CASE WHEN n.total > 0 THEN round(((SELECT count(*) FROM t WHERE seconds <= 300) / n.total)::numeric, 4) ELSE 0 END,
            '10m', CASE WHEN n.total > 0 THEN round(((SELECT count(*) FROM t WHERE seconds <= 600) / n.total)::numeric, 4) ELSE 0 END,
            '30m', CASE WHEN n.total > 0 THEN round(((SELECT count(*) FROM t WHERE seconds <= 1800) / n.total)::numeric, 4) ELSE 0 END,
            '60m', CASE WHEN n.total > 0 THEN round(((SELECT count(*) FROM t WHERE seconds <= 3600) / n.total)::numeric, 4) ELSE 0 END))
      FROM n;
$$;

-- The tally of one broadcast in the API's shape: every field of 0003 kept,
-- plus who started it, its subject, the answer rate and the curve.
CREATE OR REPLACE FUNCTION anpi_broadcast_json(p_id bigint) RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
        'id', b.id, 'kind', b.kind, 'incident_id', b.incident_id, 'drill', b.drill,
        'created_at', b.created_at, 'expires_at', b.expires_at, 'rounds_sent', b.rounds_sent,
        'created_by', b.created_by, 'subject', b.subject,
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
        'answer_rate', (SELECT CASE WHEN count(*) = 0 THEN 0
                                    ELSE round(count(r.answered_at)::numeric / count(*), 4) END
                          FROM recipients r WHERE r.broadcast_id = b.id),
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
                  FROM jsonb_array_elements(b.questions) qe) q), '{}'::jsonb),
        'curve', anpi_broadcast_curve(b.id))
      FROM broadcasts b WHERE b.id = p_id;
$$;

-- The send history, newest first.  p_drill NULL = both; the totals are
-- always kept apart (real and drill) so a drill never dilutes the figures
-- of a real event.
CREATE FUNCTION anpi_broadcasts_json(p_drill boolean, p_kind text, p_limit int, p_offset int)
RETURNS jsonb LANGUAGE sql STABLE AS $$
    WITH s AS (
        SELECT b.id, b.kind, b.incident_id, b.drill, b.subject, b.created_by, b.created_at, b.rounds_sent,
               (SELECT count(*) FROM recipients r WHERE r.broadcast_id = b.id) AS recipients,
               (SELECT count(*) FROM recipients r WHERE r.broadcast_id = b.id AND r.answered_at IS NOT NULL)
                   AS answered
          FROM broadcasts b
    ), page AS (
        SELECT * FROM s
         WHERE (p_drill IS NULL OR s.drill = p_drill) AND (p_kind IS NULL OR s.kind = p_kind)
         ORDER BY s.id DESC LIMIT p_limit OFFSET p_offset
    ), tot AS (
        SELECT s.drill, count(*) AS broadcasts, sum(s.recipients) AS recipients, sum(s.answered) AS answered,
               sum(s.recipients) FILTER (WHERE s.kind = 'safety') AS asked,
               sum(s.answered) FILTER (WHERE s.kind = 'safety') AS asked_answered
          FROM s WHERE (p_kind IS NULL OR s.kind = p_kind) GROUP BY s.drill
    )
    SELECT jsonb_build_object(
        'broadcasts', coalesce((SELECT jsonb_agg(jsonb_build_object(
            'id', p.id, 'kind', p.kind, 'incident_id', p.incident_id, 'drill', p.drill, 'subject', p.subject,
            'created_by', p.created_by, 'created_at', p.created_at, 'rounds_sent', p.rounds_sent,
            'recipients', p.recipients,
            'deliveries', (SELECT jsonb_build_object(
                  'queued',    count(*) FILTER (WHERE status IN ('queued', 'sending')),
                  'sent',      count(*) FILTER (WHERE status = 'sent'),
                  'deferred',  count(*) FILTER (WHERE status = 'deferred'),
                  'bounced',   count(*) FILTER (WHERE status = 'bounced'),
                  'failed',    count(*) FILTER (WHERE status = 'failed'),
                  'cancelled', count(*) FILTER (WHERE status = 'cancelled'),
                  'expired',   count(*) FILTER (WHERE status = 'expired'))
                FROM deliveries d WHERE d.broadcast_id = p.id),
            'answered', p.answered,
            'answer_rate', CASE WHEN p.recipients = 0 THEN 0
                                ELSE round(p.answered::numeric / p.recipients, 4) END)
            ORDER BY p.id DESC) FROM page p), '[]'::jsonb),
        'totals', jsonb_build_object(
            'real', (SELECT jsonb_build_object('broadcasts', coalesce(max(t.broadcasts), 0),
                        'recipients', coalesce(max(t.recipients), 0), 'answered', coalesce(max(t.answered), 0),
                        'answer_rate', CASE WHEN coalesce(max(t.asked), 0) = 0 THEN 0
                                            ELSE round(max(t.asked_answered)::numeric / max(t.asked), 4) END)
                       FROM tot t WHERE NOT t.drill),
            'drill', (SELECT jsonb_build_object('broadcasts', coalesce(max(t.broadcasts), 0),
                        'recipients', coalesce(max(t.recipients), 0), 'answered', coalesce(max(t.answered), 0),
                        'answer_rate', CASE WHEN coalesce(max(t.asked), 0) = 0 THEN 0
                                            ELSE round(max(t.asked_answered)::numeric / max(t.asked), 4) END)
                        FROM tot t WHERE t.drill)),
        'limit', p_limit, 'offset', p_offset);
$$;

-- The tally per group: for every group with at least one recipient among
-- its members or its subgroups' members (current membership), recipients,
-- answered, unanswered and the latest choice per question.  A group counts
-- its whole subtree, the figure its manager is asked for; "direct" counts
-- only its own members.  People in no group are one more row (id null).
CREATE FUNCTION anpi_broadcast_groups_json(p_id bigint) RETURNS jsonb LANGUAGE sql STABLE AS $$
    WITH RECURSIVE sub(root, id) AS (
        SELECT id, id FROM groups
        UNION
        SELECT s.root, c.id FROM groups c JOIN sub s ON c.parent_id = s.id
    ), rc AS (
        SELECT r.id AS rid, r.person_id, r.answered_at FROM recipients r WHERE r.broadcast_id = p_id
    ), latest AS (
        SELECT DISTINCT ON (rs.recipient_id, rs.question_id) rs.recipient_id, rs.question_id, rs.choice
          FROM responses rs JOIN rc ON rc.rid = rs.recipient_id
         ORDER BY rs.recipient_id, rs.question_id, rs.id DESC
    ), gm AS (
        SELECT DISTINCT s.root AS gid, rc.rid, rc.answered_at, (s.root = s.id) AS direct
          FROM sub s JOIN group_members m ON m.group_id = s.id JOIN rc ON rc.person_id = m.person_id
    ), members AS (
        -- one row per (group, recipient); direct if a member of the group itself
        SELECT gid, rid, answered_at, bool_or(direct) AS direct FROM gm GROUP BY gid, rid, answered_at
    ), ungrouped AS (
        SELECT NULL::bigint AS gid, rc.rid, rc.answered_at, true AS direct FROM rc
         WHERE NOT EXISTS (SELECT 1 FROM group_members m WHERE m.person_id = rc.person_id)
    ), allr AS (
        SELECT * FROM members UNION ALL SELECT * FROM ungrouped
    ), q AS (
        SELECT b.questions FROM broadcasts b WHERE b.id = p_id
    )
    SELECT CASE WHEN NOT EXISTS (SELECT 1 FROM broadcasts WHERE id = p_id) THEN NULL ELSE
      jsonb_build_object('broadcast_id', p_id, 'groups', coalesce((
        SELECT jsonb_agg(jsonb_build_object(
            'id', t.gid, 'name', coalesce(g.name, '（所属なし）'), 'path', g.path, 'parent_id', g.parent_id,
            'recipients', t.n, 'answered', t.answered, 'unanswered', t.n - t.answered,
            'answer_rate', round(t.answered::numeric / t.n, 4),
            'direct', jsonb_build_object('recipients', t.dn, 'answered', t.dans),
            'answers', coalesce((
                SELECT jsonb_object_agg(qe->>'id', (
                    SELECT coalesce(jsonb_object_agg(ch, (
                        SELECT count(*) FROM latest l JOIN allr x ON x.rid = l.recipient_id
                         WHERE x.gid IS NOT DISTINCT FROM t.gid AND l.question_id = qe->>'id' AND l.choice = ch)),
                        '{}'::jsonb)
                      FROM jsonb_array_elements_text(qe->'choices') ch))
                  FROM q, jsonb_array_elements(q.questions) qe), '{}'::jsonb))
            ORDER BY g.path NULLS LAST)
          FROM (SELECT gid, count(*) AS n, count(answered_at) AS answered,
                       count(*) FILTER (WHERE direct) AS dn,
                       count(answered_at) FILTER (WHERE direct) AS dans
                  FROM allr GROUP BY gid) t
          LEFT JOIN groups g ON g.id = t.gid), '[]'::jsonb)) END;
$$;

-- Messages written back to a person about their answer ("stay home",
-- "call me"): shown on their reply page and mailed as a notice.
CREATE TABLE write_backs (
    id            bigserial PRIMARY KEY,
    broadcast_id  bigint NOT NULL REFERENCES broadcasts(id),
    recipient_id  bigint NOT NULL REFERENCES recipients(id),
    person_id     text NOT NULL,
    text          text NOT NULL,
    created_by    text NOT NULL,
    notice_id     bigint REFERENCES broadcasts(id),   -- the mail that carried it
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX write_backs_recipient ON write_backs (recipient_id, id);

-- The recipient a write-back goes to: {"result": "found", "recipient_id",
-- "drill"} or not_found / not_safety.
CREATE FUNCTION anpi_write_back_target(p_broadcast bigint, p_person text) RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT coalesce((
        SELECT CASE WHEN b.kind <> 'safety' THEN jsonb_build_object('result', 'not_safety', 'kind', b.kind)
                    ELSE jsonb_build_object('result', 'found', 'recipient_id', r.id, 'drill', b.drill) END
          FROM recipients r JOIN broadcasts b ON b.id = r.broadcast_id
         WHERE r.broadcast_id = p_broadcast AND r.person_id = p_person),
        jsonb_build_object('result', 'not_found'));
$$;

-- Store a write-back and mail it to the person as a notice.  The text goes
-- in the notice's variables, never into its template, so braces in what an
-- admin typed are shown as typed.  p_reply_url is the person's reply link
-- (made by the API, which holds the link key).
CREATE FUNCTION anpi_write_back(p_recipient bigint, p_text text, p_by text, p_reply_url text,
                                p_subject text, p_body text)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    r recipients%ROWTYPE;
    b broadcasts%ROWTYPE;
    v_notice bigint;
    v_id bigint;
BEGIN
    SELECT * INTO r FROM recipients WHERE id = p_recipient;
    IF NOT FOUND THEN
        RETURN jsonb_build_object('result', 'not_found');
    END IF;
    SELECT * INTO b FROM broadcasts WHERE id = r.broadcast_id;
    v_notice := anpi_create_broadcast('notice', b.incident_id, NULL, NULL, b.rule_id, b.drill, p_subject, p_body,
        jsonb_build_object('write_back.text', p_text, 'write_back.reply_url', p_reply_url,
                           'write_back.subject', b.subject),
        '[]', NULL, 0, greatest(b.expires_at, now() + interval '1 day'), NULL, NULL, ARRAY[r.person_id], NULL, p_by);
    INSERT INTO write_backs (broadcast_id, recipient_id, person_id, text, created_by, notice_id)
    VALUES (b.id, r.id, r.person_id, p_text, p_by, v_notice)
    RETURNING id INTO v_id;
    PERFORM anpi_audit(p_by, 'broadcast.write_back', 'broadcast:' || b.id,
                       jsonb_build_object('write_back', v_id, 'person', r.person_id, 'notice', v_notice));
    RETURN jsonb_build_object('result', 'stored', 'id', v_id, 'broadcast_id', b.id, 'person_id', r.person_id,
        'notice_id', v_notice,
        'deliveries', (SELECT count(*) FROM deliveries WHERE broadcast_id = v_notice));
END;
$$;
