-- 0018_scope_broadcasts.sql - broadcasts and incidents seen through the
-- caller's scope (0014), the audience with "match": "all" and city codes,
-- and the audience preview.
--
-- Every function the admin API calls for a broadcast takes the calling
-- account first (admin-api/endpoints/api.h: api_query passes it as $1):
--
--   system-admin, duty-officer, viewer   everything, as before
--   hr                                   HR broadcasts (sender = 'hr') only,
--                                        with all their recipients; no groups
--   group-admin                          broadcasts with a recipient among the
--                                        people it sees; every count, curve
--                                        and tally over those recipients only
--
-- Outside scope is the same answer as unknown (NULL / not_found), so the API
-- says 404 and never reveals that a broadcast or a person exists.  The scope
-- sets are computed once per statement (MATERIALIZED), never per row: the
-- tally of a group admin must stay fast with 11,500 people and 1,200 groups.

DROP FUNCTION anpi_broadcast_json(bigint);
DROP FUNCTION anpi_broadcasts_json(boolean, text, int, int);
DROP FUNCTION anpi_broadcast_groups_json(bigint);
DROP FUNCTION anpi_manual_broadcast(text, text, jsonb, jsonb, boolean, text, double precision);
DROP FUNCTION anpi_broadcast_resend(bigint, text);
DROP FUNCTION anpi_write_back_target(bigint, text);
DROP FUNCTION anpi_write_back(bigint, text, text, text, text, text);

-- The people a group admin sees (anpi_scope_people's rule: the members of
-- anpi_scope_groups), reached through the membership index from the few
-- groups in scope; empty for every other role.  anpi_scope_people itself
-- is written for every role at once, and the planner, expecting all groups
-- from it, scans every membership: too slow for a tally.
CREATE FUNCTION anpi_scoped_people(p_account bigint) RETURNS TABLE (person_id text) LANGUAGE sql STABLE
    SET jit = off AS $$
    SELECT DISTINCT m.person_id FROM group_members m
     WHERE anpi_scope_role(p_account) = 'group-admin' AND NOT anpi_scope_all(p_account)
       AND m.group_id = ANY (ARRAY(SELECT s.group_id FROM anpi_scope_groups(p_account) s));
$$;

-- The recipients of one broadcast an account may count (the same rule as
-- anpi_scope_recipients), with what the tallies need.  A group admin's
-- people are resolved once and joined, never tested per recipient: an
-- IN (...) under OR would be a subplan the planner may not hash.
CREATE FUNCTION anpi_scoped_recipients(p_account bigint, p_broadcast bigint)
RETURNS TABLE (id bigint, person_id text, answered_at timestamptz) LANGUAGE sql STABLE
    SET jit = off AS $$
    WITH acc AS MATERIALIZED (
        SELECT anpi_scope_all(p_account) AS every, anpi_scope_role(p_account) AS role
    )
    SELECT r.id, r.person_id, r.answered_at
      FROM recipients r JOIN broadcasts b ON b.id = r.broadcast_id
     WHERE r.broadcast_id = p_broadcast
       AND ((SELECT every FROM acc) OR ((SELECT role FROM acc) = 'hr' AND b.sender = 'hr'))
    UNION ALL
    SELECT r.id, r.person_id, r.answered_at
      FROM anpi_scoped_people(p_account) sp
      JOIN recipients r ON r.person_id = sp.person_id AND r.broadcast_id = p_broadcast;
$$;

-- Whether the account sees a broadcast, given its scoped recipients: the
-- rule of anpi_scope_broadcast without resolving the scope a second time.
CREATE FUNCTION anpi_scoped_visible(p_account bigint, p_broadcast bigint, p_seen bigint)
RETURNS boolean LANGUAGE sql STABLE
    SET jit = off AS $$
    SELECT EXISTS (SELECT 1 FROM broadcasts b WHERE b.id = p_broadcast)
       AND (anpi_scope_all(p_account)
            OR (anpi_scope_role(p_account) = 'hr'
                AND EXISTS (SELECT 1 FROM broadcasts b WHERE b.id = p_broadcast AND b.sender = 'hr'))
            OR (anpi_scope_role(p_account) = 'group-admin' AND p_seen > 0));
$$;

-- The tally of one broadcast (0012's shape) over the recipients the account
-- may count; NULL when it may not see the broadcast.
CREATE FUNCTION anpi_broadcast_json(p_account bigint, p_id bigint) RETURNS jsonb LANGUAGE sql STABLE
    SET jit = off AS $$
    WITH rc AS MATERIALIZED (
        SELECT * FROM anpi_scoped_recipients(p_account, p_id)
    ), latest AS MATERIALIZED (
        SELECT DISTINCT ON (rs.recipient_id, rs.question_id) rs.recipient_id, rs.question_id, rs.choice
          FROM responses rs JOIN rc ON rc.id = rs.recipient_id
         ORDER BY rs.recipient_id, rs.question_id, rs.id DESC
    ), t AS MATERIALIZED (
        -- seconds to answer: the first response minus the first delivery sent
        -- to the person (or the broadcast's creation when none is recorded)
        SELECT greatest(0, extract(epoch FROM
                   (SELECT min(rs.created_at) FROM responses rs WHERE rs.recipient_id = rc.id)
                   - coalesce((SELECT min(d.sent_at) FROM deliveries d WHERE d.recipient_id = rc.id),
                              b.created_at)))::double precision AS seconds
          FROM rc JOIN broadcasts b ON b.id = p_id
         WHERE EXISTS (SELECT 1 FROM responses rs WHERE rs.recipient_id = rc.id)
    ), n AS (
        SELECT count(*) AS total, count(answered_at) AS answered FROM rc
    )
    SELECT jsonb_build_object(
        'id', b.id, 'kind', b.kind, 'incident_id', b.incident_id, 'drill', b.drill,
        'created_at', b.created_at, 'expires_at', b.expires_at, 'rounds_sent', b.rounds_sent,
        'created_by', b.created_by, 'subject', b.subject,
        'recipients', n.total,
        'deliveries', (SELECT jsonb_build_object(
              'queued',    count(*) FILTER (WHERE status IN ('queued', 'sending')),
              'sent',      count(*) FILTER (WHERE status = 'sent'),
              'deferred',  count(*) FILTER (WHERE status = 'deferred'),
              'bounced',   count(*) FILTER (WHERE status = 'bounced'),
              'failed',    count(*) FILTER (WHERE status = 'failed'),
              'cancelled', count(*) FILTER (WHERE status = 'cancelled'),
              'expired',   count(*) FILTER (WHERE status = 'expired'))
            FROM deliveries d WHERE d.broadcast_id = b.id AND d.recipient_id IN (SELECT rc.id FROM rc)),
        'answered', n.answered,
        'unanswered', n.total - n.answered,
        'answer_rate', CASE WHEN n.total = 0 THEN 0 ELSE round(n.answered::numeric / n.total, 4) END,
        'questions', b.questions,
        'answers', coalesce((
            SELECT jsonb_object_agg(qe->>'id', (
                       SELECT jsonb_object_agg(ch, (SELECT count(*) FROM latest l
                                                     WHERE l.question_id = qe->>'id' AND l.choice = ch))
                         FROM jsonb_array_elements_text(qe->'choices') ch))
              FROM jsonb_array_elements(b.questions) qe), '{}'::jsonb),
        'curve', jsonb_build_object(
            'median_s', (SELECT round(percentile_cont(0.5) WITHIN GROUP (ORDER BY seconds)::numeric, 1) FROM t),
            'answered_after', jsonb_build_object(
                '5m',  CASE WHEN n.total > 0 THEN round(((SELECT count(*) FROM t WHERE seconds <= 300)::numeric / n.total), 4) ELSE 0 END,
                '10m', CASE WHEN n.total > 0 THEN round(((SELECT count(*) FROM t WHERE seconds <= 600)::numeric / n.total), 4) ELSE 0 END,
                '30m', CASE WHEN n.total > 0 THEN round(((SELECT count(*) FROM t WHERE seconds <= 1800)::numeric / n.total), 4) ELSE 0 END,
                '60m', CASE WHEN n.total > 0 THEN round(((SELECT count(*) FROM t WHERE seconds <= 3600)::numeric / n.total), 4) ELSE 0 END)))
      FROM broadcasts b, n
     WHERE b.id = p_id AND anpi_scoped_visible(p_account, p_id, n.total);
$$;

-- The send history, newest first, as the account sees it: a group admin
-- gets the broadcasts that reached someone it sees, and every figure
-- (recipients, deliveries, answered, rate, totals) counts only those people.
-- Drills are kept apart in the totals as before.
CREATE FUNCTION anpi_broadcasts_json(p_account bigint, p_drill boolean, p_kind text, p_limit int, p_offset int)
RETURNS jsonb LANGUAGE sql STABLE
    SET jit = off AS $$
    WITH acc AS MATERIALIZED (
        SELECT anpi_scope_all(p_account) AS every, anpi_scope_role(p_account) AS role
    ), vr AS MATERIALIZED (
        -- a group admin's recipients over every broadcast (empty for other roles)
        SELECT r.broadcast_id, r.id, r.answered_at
          FROM anpi_scoped_people(p_account) sp JOIN recipients r ON r.person_id = sp.person_id
    ), s AS MATERIALIZED (
        SELECT b.id, b.kind, b.incident_id, b.drill, b.subject, b.created_by, b.created_at, b.rounds_sent,
               false AS scoped,
               (SELECT count(*) FROM recipients r WHERE r.broadcast_id = b.id) AS recipients,
               (SELECT count(*) FROM recipients r WHERE r.broadcast_id = b.id AND r.answered_at IS NOT NULL)
                   AS answered
          FROM broadcasts b
         WHERE (SELECT every FROM acc) OR ((SELECT role FROM acc) = 'hr' AND b.sender = 'hr')
        UNION ALL
        SELECT b.id, b.kind, b.incident_id, b.drill, b.subject, b.created_by, b.created_at, b.rounds_sent,
               true, v.n, v.answered
          FROM (SELECT broadcast_id, count(*) AS n, count(answered_at) AS answered
                  FROM vr GROUP BY broadcast_id) v
          JOIN broadcasts b ON b.id = v.broadcast_id
    ), page AS MATERIALIZED (
        SELECT * FROM s
         WHERE (p_drill IS NULL OR s.drill = p_drill) AND (p_kind IS NULL OR s.kind = p_kind)
         ORDER BY s.id DESC LIMIT p_limit OFFSET p_offset
    ), pd AS (
        -- the deliveries of the page's broadcasts, to the recipients counted
        SELECT p.id, d.status FROM page p JOIN deliveries d ON d.broadcast_id = p.id WHERE NOT p.scoped
        UNION ALL
        SELECT p.id, d.status FROM page p JOIN vr v ON v.broadcast_id = p.id
          JOIN deliveries d ON d.recipient_id = v.id WHERE p.scoped
    ), dc AS MATERIALIZED (
        SELECT pd.id, jsonb_build_object(
                  'queued',    count(*) FILTER (WHERE status IN ('queued', 'sending')),
                  'sent',      count(*) FILTER (WHERE status = 'sent'),
                  'deferred',  count(*) FILTER (WHERE status = 'deferred'),
                  'bounced',   count(*) FILTER (WHERE status = 'bounced'),
                  'failed',    count(*) FILTER (WHERE status = 'failed'),
                  'cancelled', count(*) FILTER (WHERE status = 'cancelled'),
                  'expired',   count(*) FILTER (WHERE status = 'expired')) AS j
          FROM pd GROUP BY pd.id
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
            'deliveries', coalesce((SELECT dc.j FROM dc WHERE dc.id = p.id),
                '{"queued": 0, "sent": 0, "deferred": 0, "bounced": 0, "failed": 0, "cancelled": 0, "expired": 0}'),
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

-- The tally per group (0012's shape) as the account sees it: only groups in
-- its scope, over the recipients it may count.  A group counts its whole
-- subtree (within the scope), "direct" only its own members.  The row of
-- people in no group is for system-wide roles only (a group admin's people
-- are all in a group; hr sees no directory, so no groups at all).
--
-- Built for speed: the ancestor closure is taken over the scoped groups
-- only, the members are reached from the (few) scoped recipients through
-- group_members_person, and the choices are counted in one GROUP BY and
-- looked up per group, never scanned per group and choice.
CREATE FUNCTION anpi_broadcast_groups_json(p_account bigint, p_id bigint) RETURNS jsonb LANGUAGE sql STABLE
    SET jit = off AS $$
    WITH RECURSIVE acc AS MATERIALIZED (
        SELECT anpi_scope_all(p_account) AS every
    ), sg AS MATERIALIZED (
        SELECT s.group_id AS id FROM anpi_scope_groups(p_account) s
    ), clo(id, anc) AS (
        -- every scoped group with each of its scoped ancestors (itself included)
        SELECT sg.id, sg.id FROM sg
        UNION ALL
        SELECT c.id, g.parent_id FROM clo c JOIN groups g ON g.id = c.anc
         WHERE g.parent_id IN (SELECT sg.id FROM sg)
    ), rc AS MATERIALIZED (
        SELECT r.id AS rid, r.person_id, r.answered_at FROM anpi_scoped_recipients(p_account, p_id) r
    ), gm AS MATERIALIZED (
        -- the memberships that count: a group admin's from its groups (by the
        -- group index), everyone else's from the recipients (by the person index)
        SELECT m.group_id, m.person_id FROM rc JOIN group_members m ON m.person_id = rc.person_id
         WHERE (SELECT every FROM acc)
        UNION ALL
        SELECT m.group_id, m.person_id FROM group_members m
         WHERE NOT (SELECT every FROM acc) AND m.group_id = ANY (ARRAY(SELECT sg.id FROM sg))
    ), members AS MATERIALIZED (
        SELECT c.anc AS gid, rc.rid, rc.answered_at, bool_or(c.anc = c.id) AS direct
          FROM gm JOIN rc ON rc.person_id = gm.person_id JOIN clo c ON c.id = gm.group_id
         GROUP BY c.anc, rc.rid, rc.answered_at
    ), ungrouped AS (
        SELECT NULL::bigint AS gid, rc.rid, rc.answered_at, true AS direct FROM rc
         WHERE (SELECT every FROM acc)
           AND NOT EXISTS (SELECT 1 FROM group_members m WHERE m.person_id = rc.person_id)
    ), allr AS MATERIALIZED (
        SELECT * FROM members UNION ALL SELECT * FROM ungrouped
    ), latest AS (
        SELECT DISTINCT ON (rs.recipient_id, rs.question_id) rs.recipient_id, rs.question_id, rs.choice
          FROM responses rs JOIN rc ON rc.rid = rs.recipient_id
         ORDER BY rs.recipient_id, rs.question_id, rs.id DESC
    ), cnt AS (
        -- {"<question id> U+001F <choice>": n} per group
        SELECT x.gid, jsonb_object_agg(x.k, x.n) AS j FROM (
            SELECT a.gid, l.question_id || chr(31) || l.choice AS k, count(*) AS n
              FROM allr a JOIN latest l ON l.recipient_id = a.rid
             GROUP BY a.gid, l.question_id, l.choice) x
         GROUP BY x.gid
    ), t AS (
        SELECT gid, count(*) AS n, count(answered_at) AS answered,
               count(*) FILTER (WHERE direct) AS dn, count(answered_at) FILTER (WHERE direct) AS dans
          FROM allr GROUP BY gid
    ), q AS (
        SELECT b.questions FROM broadcasts b WHERE b.id = p_id
    )
    SELECT CASE WHEN NOT anpi_scoped_visible(p_account, p_id, (SELECT count(*) FROM rc)) THEN NULL ELSE
      jsonb_build_object('broadcast_id', p_id, 'groups', coalesce((
        SELECT jsonb_agg(jsonb_build_object(
            'id', t.gid, 'name', coalesce(g.name, '（所属なし）'), 'path', g.path, 'parent_id', g.parent_id,
            'recipients', t.n, 'answered', t.answered, 'unanswered', t.n - t.answered,
            'answer_rate', round(t.answered::numeric / t.n, 4),
            'direct', jsonb_build_object('recipients', t.dn, 'answered', t.dans),
            'answers', coalesce((
                SELECT jsonb_object_agg(qe->>'id', (
                    SELECT coalesce(jsonb_object_agg(ch,
                               coalesce((cnt.j->>((qe->>'id') || chr(31) || ch))::bigint, 0)), '{}'::jsonb)
                      FROM jsonb_array_elements_text(qe->'choices') ch))
                  FROM q, jsonb_array_elements(q.questions) qe), '{}'::jsonb))
            ORDER BY g.path NULLS LAST)
          FROM t
          LEFT JOIN groups g ON g.id = t.gid
          LEFT JOIN cnt ON cnt.gid IS NOT DISTINCT FROM t.gid), '[]'::jsonb)) END;
$$;

-- ---------------------------------------------------------------------------
-- The audience of a manual broadcast.  p_audience (checked for shape by the
-- API): {"people": [ids], "groups": [ids], "subgroups": bool, "regions":
-- [prefecture codes 1-47], "cities": [5-digit city codes as numbers],
-- "match": "any" | "all"}.
--
--   any (default)  the named people, the members of the groups (with their
--                  subgroups unless subgroups is false) and the people of the
--                  regions: the union
--   all            the named people, plus those who are BOTH members of the
--                  groups AND in one of the regions (a prefecture or a city)
--                  - "everyone in these 5 prefectures in these 20 groups and
--                  their subgroups"; a criterion left empty is not applied
--
-- Seen through the account: people and groups outside its scope are refused
-- exactly like unknown ones, and the result keeps only the people it sees.

-- NULL when the audience may be used, else the refusal: {"result":
-- "unknown_people", "people"} or {"result": "unknown_groups", "groups"}.
CREATE FUNCTION anpi_audience_refused(p_account bigint, p_audience jsonb) RETURNS jsonb LANGUAGE plpgsql STABLE
    SET jit = off AS $$
DECLARE
    v_all boolean := anpi_scope_all(p_account);
    v_missing jsonb;
BEGIN
    -- the given ids minus those the account sees (joins, not per-id tests)
    WITH x AS (
        SELECT DISTINCT e AS id FROM jsonb_array_elements_text(coalesce(p_audience->'people', '[]')) e
    ), ok AS (
        SELECT x.id FROM x JOIN people p ON p.id = x.id WHERE v_all
        UNION ALL
        SELECT x.id FROM x JOIN anpi_scoped_people(p_account) s ON s.person_id = x.id WHERE NOT v_all
    )
    SELECT jsonb_agg(m.id ORDER BY m.id) INTO v_missing FROM (SELECT id FROM x EXCEPT SELECT id FROM ok) m;
    IF v_missing IS NOT NULL THEN
        RETURN jsonb_build_object('result', 'unknown_people', 'people', v_missing);
    END IF;
    WITH x AS (
        SELECT DISTINCT e::bigint AS id FROM jsonb_array_elements_text(coalesce(p_audience->'groups', '[]')) e
    ), ok AS (
        SELECT x.id FROM x JOIN groups g ON g.id = x.id WHERE v_all
        UNION ALL
        SELECT x.id FROM x JOIN anpi_scope_groups(p_account) s ON s.group_id = x.id WHERE NOT v_all
    )
    SELECT jsonb_agg(m.id ORDER BY m.id) INTO v_missing FROM (SELECT id FROM x EXCEPT SELECT id FROM ok) m;
    IF v_missing IS NOT NULL THEN
        RETURN jsonb_build_object('result', 'unknown_groups', 'groups', v_missing);
    END IF;
    RETURN NULL;
END;
$$;

-- The people an audience reaches, as the account sees them (refusals are
-- anpi_audience_refused's job; this only resolves).
CREATE FUNCTION anpi_audience_people(p_account bigint, p_audience jsonb)
RETURNS TABLE (person_id text) LANGUAGE sql STABLE
    SET jit = off AS $$
    WITH RECURSIVE a AS MATERIALIZED (
        SELECT ARRAY(SELECT jsonb_array_elements_text(coalesce(p_audience->'people', '[]'))) AS people,
               ARRAY(SELECT jsonb_array_elements_text(coalesce(p_audience->'groups', '[]'))::bigint) AS groups,
               ARRAY(SELECT jsonb_array_elements_text(coalesce(p_audience->'regions', '[]'))::int) AS prefs,
               ARRAY(SELECT jsonb_array_elements_text(coalesce(p_audience->'cities', '[]'))::int) AS cities,
               coalesce((p_audience->>'subgroups')::boolean, true) AS sub,
               coalesce(p_audience->>'match', 'any') = 'all' AS every
    ), g(id) AS (
        SELECT gr.id FROM groups gr, a WHERE gr.id = ANY (a.groups)
        UNION
        SELECT c.id FROM g JOIN groups c ON c.parent_id = g.id WHERE (SELECT sub FROM a)
    ), gm AS MATERIALIZED (
        SELECT DISTINCT m.person_id FROM group_members m WHERE m.group_id IN (SELECT g.id FROM g)
    ), rg AS MATERIALIZED (
        SELECT r.person_id FROM person_regions r, a WHERE r.pref = ANY (a.prefs)
        UNION
        SELECT c.person_id FROM person_cities c, a WHERE c.city = ANY (a.cities)
    ), crit AS MATERIALIZED (
        SELECT cardinality(a.groups) > 0 AS by_group,
               cardinality(a.prefs) + cardinality(a.cities) > 0 AS by_region, a.every FROM a
    ), picked AS (
        SELECT p.id AS pid FROM people p, a WHERE p.id = ANY (a.people)
        UNION
        SELECT gm.person_id FROM gm
         WHERE NOT (SELECT every FROM crit)
            OR NOT (SELECT by_region FROM crit)
            OR gm.person_id IN (SELECT rg.person_id FROM rg)
        UNION
        SELECT rg.person_id FROM rg
         WHERE NOT (SELECT every FROM crit) OR NOT (SELECT by_group FROM crit)
    ), sc AS MATERIALIZED (
        SELECT anpi_scope_all(p_account) AS every
    ), pk AS MATERIALIZED (
        SELECT pid FROM picked
    )
    SELECT pk.pid FROM pk WHERE (SELECT every FROM sc)
    UNION ALL
    SELECT pk.pid FROM pk JOIN anpi_scoped_people(p_account) s ON s.person_id = pk.pid
     WHERE NOT (SELECT every FROM sc);
$$;

-- What an audience would reach, without creating anything:
-- {"result": "preview", "recipients": n, "sample": [the first 20 ids],
-- "elapsed_ms"} or a refusal as anpi_audience_refused.  The time is the
-- database's own (clock_timestamp), validation included.
CREATE FUNCTION anpi_audience_preview(p_account bigint, p_audience jsonb) RETURNS jsonb LANGUAGE plpgsql STABLE
    SET jit = off AS $$
DECLARE
    v_t0 timestamptz := clock_timestamp();
    v_refused jsonb;
    v_n bigint;
    v_sample jsonb;
BEGIN
    v_refused := anpi_audience_refused(p_account, p_audience);
    IF v_refused IS NOT NULL THEN
        RETURN v_refused;
    END IF;
    WITH w AS MATERIALIZED (SELECT x.person_id FROM anpi_audience_people(p_account, p_audience) x)
    SELECT (SELECT count(*) FROM w),
           (SELECT coalesce(jsonb_agg(f.person_id ORDER BY f.person_id COLLATE "C"), '[]'::jsonb)
              FROM (SELECT w.person_id FROM w ORDER BY w.person_id COLLATE "C" LIMIT 20) f)
      INTO v_n, v_sample;
    RETURN jsonb_build_object('result', 'preview', 'recipients', v_n, 'sample', v_sample,
        'elapsed_ms', round((extract(epoch FROM clock_timestamp() - v_t0) * 1000)::numeric, 3));
END;
$$;

-- Compose a safety broadcast by hand (0012's contract, seen through the
-- account).  p_by is the caller's login; p_note the optional free "by"
-- text of the request, kept in the audit entry only.
CREATE FUNCTION anpi_manual_broadcast(p_account bigint, p_subject text, p_body text, p_questions jsonb,
                                      p_audience jsonb, p_drill boolean, p_by text, p_expires_s double precision,
                                      p_note text DEFAULT NULL)
RETURNS jsonb LANGUAGE plpgsql
    SET jit = off AS $$
DECLARE
    v_refused jsonb;
    v_who text[];
    v_id bigint;
BEGIN
    v_refused := anpi_audience_refused(p_account, p_audience);
    IF v_refused IS NOT NULL THEN
        RETURN v_refused;
    END IF;
    v_who := ARRAY(SELECT x.person_id FROM anpi_audience_people(p_account, p_audience) x);
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
                           'audience', p_audience)
        || CASE WHEN p_note IS NULL THEN '{}'::jsonb ELSE jsonb_build_object('note', p_note) END);
    RETURN jsonb_build_object('result', 'created', 'id', v_id, 'recipients', cardinality(v_who),
        'deliveries', (SELECT count(*) FROM deliveries WHERE broadcast_id = v_id));
END;
$$;

-- A new round to the unanswered recipients the account may reach (only
-- them), by hand, any number of times: the same rows as anpi_tick's
-- automatic resend, so the dispatcher marks the mail 【再送】.
--
-- Rounds stay numbered per broadcast (deliveries are unique per broadcast,
-- address and round), so a round that reached only a group admin's people
-- still takes the next number; it must not cost the others anything, so
-- it neither moves last_round_at (the automatic schedule) nor uses up one
-- of the automatic rounds (max_resends grows with it while any are left).
CREATE FUNCTION anpi_broadcast_resend(p_account bigint, p_id bigint, p_by text, p_note text DEFAULT NULL)
RETURNS jsonb LANGUAGE plpgsql
    SET jit = off AS $$
DECLARE
    b broadcasts%ROWTYPE;
    v_all boolean := anpi_scope_all(p_account);
    v_seen bigint;
    v_mine bigint[];
    v_unanswered int;
    v_n int;
BEGIN
    SELECT * INTO b FROM broadcasts WHERE id = p_id FOR UPDATE;
    IF NOT FOUND THEN
        RETURN jsonb_build_object('result', 'not_found');
    END IF;
    SELECT count(*), coalesce(array_agg(x.id) FILTER (WHERE x.answered_at IS NULL), '{}')
      INTO v_seen, v_mine FROM anpi_scoped_recipients(p_account, b.id) x;
    IF NOT anpi_scoped_visible(p_account, b.id, v_seen) THEN
        RETURN jsonb_build_object('result', 'not_found');
    END IF;
    IF b.kind <> 'safety' THEN
        RETURN jsonb_build_object('result', 'not_safety', 'kind', b.kind);
    END IF;
    IF b.expires_at <= now() THEN
        RETURN jsonb_build_object('result', 'expired', 'expires_at', b.expires_at);
    END IF;
    v_unanswered := cardinality(v_mine);
    IF v_unanswered = 0 THEN
        RETURN jsonb_build_object('result', 'nobody');
    END IF;
    INSERT INTO deliveries (broadcast_id, recipient_id, person_id, address, round, message_id)
    SELECT b.id, r.id, r.person_id, pa.address, b.rounds_sent + 1,
           b.id || '.' || r.id || '.' || substr(md5(pa.address), 1, 12) || '.' || (b.rounds_sent + 1)
      FROM recipients r
      JOIN person_addresses pa ON pa.person_id = r.person_id AND pa.status <> 'invalid'
     WHERE r.broadcast_id = b.id AND r.id = ANY (v_mine) AND r.answered_at IS NULL
    ON CONFLICT DO NOTHING;
    GET DIAGNOSTICS v_n = ROW_COUNT;
    IF v_n = 0 THEN
        RETURN jsonb_build_object('result', 'no_address', 'unanswered', v_unanswered);
    END IF;
    IF v_all THEN
        UPDATE broadcasts SET rounds_sent = rounds_sent + 1, last_round_at = now() WHERE id = b.id;
    ELSE
        UPDATE broadcasts SET rounds_sent = rounds_sent + 1,
               max_resends = max_resends + CASE WHEN resend_after IS NOT NULL AND rounds_sent < max_resends
                                                THEN 1 ELSE 0 END
         WHERE id = b.id;
    END IF;
    PERFORM anpi_audit(p_by, 'broadcast.resend', 'broadcast:' || b.id,
        jsonb_build_object('round', b.rounds_sent + 1, 'deliveries', v_n, 'recipients', v_unanswered,
                           'by_hand', true, 'scope', CASE WHEN v_all THEN 'all' ELSE 'partial' END)
        || CASE WHEN p_note IS NULL THEN '{}'::jsonb ELSE jsonb_build_object('note', p_note) END);
    PERFORM pg_notify('anpi_deliveries', b.id::text);
    RETURN jsonb_build_object('result', 'resent', 'id', b.id, 'round', b.rounds_sent + 1,
                              'recipients', v_unanswered, 'deliveries', v_n,
                              'scope', CASE WHEN v_all THEN 'all' ELSE 'partial' END);
END;
$$;

-- The recipient a write-back goes to: {"result": "found", "recipient_id",
-- "drill"} or not_found (also when the person is outside the account's
-- scope) / not_safety.
CREATE FUNCTION anpi_write_back_target(p_account bigint, p_broadcast bigint, p_person text)
RETURNS jsonb LANGUAGE sql STABLE
    SET jit = off AS $$
    SELECT coalesce((
        SELECT CASE WHEN b.kind <> 'safety' THEN jsonb_build_object('result', 'not_safety', 'kind', b.kind)
                    ELSE jsonb_build_object('result', 'found', 'recipient_id', r.id, 'drill', b.drill) END
          FROM recipients r JOIN broadcasts b ON b.id = r.broadcast_id
         WHERE r.broadcast_id = p_broadcast AND r.person_id = p_person
           AND anpi_scope_person(p_account, p_person)),
        jsonb_build_object('result', 'not_found'));
$$;

-- Store a write-back and mail it to the person as a notice (0012), the
-- scope checked again: the recipient is found in one statement and written
-- in the next.
CREATE FUNCTION anpi_write_back(p_account bigint, p_recipient bigint, p_text text, p_by text, p_reply_url text,
                                p_subject text, p_body text, p_note text DEFAULT NULL)
RETURNS jsonb LANGUAGE plpgsql
    SET jit = off AS $$
DECLARE
    r recipients%ROWTYPE;
    b broadcasts%ROWTYPE;
    v_notice bigint;
    v_id bigint;
BEGIN
    SELECT * INTO r FROM recipients WHERE id = p_recipient;
    IF NOT FOUND OR NOT anpi_scope_person(p_account, r.person_id) THEN
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
        jsonb_build_object('write_back', v_id, 'person', r.person_id, 'notice', v_notice)
        || CASE WHEN p_note IS NULL THEN '{}'::jsonb ELSE jsonb_build_object('note', p_note) END);
    RETURN jsonb_build_object('result', 'stored', 'id', v_id, 'broadcast_id', b.id, 'person_id', r.person_id,
        'notice_id', v_notice,
        'deliveries', (SELECT count(*) FROM deliveries WHERE broadcast_id = v_notice));
END;
$$;

-- ---------------------------------------------------------------------------
-- Incidents: read and decided by system-wide roles only (gate.c), checked
-- here too so a route added without the gate's table still shows nothing.

-- Decide the pending approval of an incident: anpi_decide with the caller's
-- login as the officer.  {"result": "no_incident"} when the incident is
-- unknown or outside the scope; p_note (the request's free "by" text) goes
-- to the audit log as a note on the decision.
CREATE FUNCTION anpi_decide_incident(p_account bigint, p_incident bigint, p_by text, p_decision text,
                                     p_comment text, p_via text, p_addr text, p_note text DEFAULT NULL)
RETURNS jsonb LANGUAGE plpgsql
    SET jit = off AS $$
DECLARE
    v_res jsonb;
BEGIN
    IF NOT anpi_scope_all(p_account) OR NOT EXISTS (SELECT 1 FROM incidents WHERE id = p_incident) THEN
        RETURN jsonb_build_object('result', 'no_incident');
    END IF;
    v_res := anpi_decide((SELECT id FROM approvals WHERE incident_id = p_incident AND status = 'pending'
                           ORDER BY id LIMIT 1), p_by, p_decision, p_comment, p_via, p_addr);
    IF p_note IS NOT NULL AND v_res->>'result' = 'recorded' THEN
        PERFORM anpi_audit(p_by, 'approval.note', 'incident:' || p_incident,
                           jsonb_build_object('decision', p_decision, 'note', p_note));
    END IF;
    RETURN v_res;
END;
$$;
