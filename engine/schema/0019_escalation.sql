-- 0019_escalation.sql - escalation by group answer rate: when a group's
-- answer rate to a safety check is still below a threshold some time after
-- it went out, the group's admins and the admins of every group above it
-- are mailed a notice.
--
-- The settings are the configuration's default (escalation: {after, below},
-- passed in by the caller) or a broadcast's own (broadcast_escalation,
-- set through the API).  anpi_escalation_tick runs on every node every
-- ~30 s; one row per (broadcast, group) in escalations, inserted before the
-- notice is made, is what makes it happen once however many nodes run it.

-- A broadcast's own settings; they win over the configuration's default.
-- below = 0 turns escalation off for that broadcast (no rate is below 0).
CREATE TABLE broadcast_escalation (
    broadcast_id  bigint PRIMARY KEY REFERENCES broadcasts(id),
    after_s       int NOT NULL CHECK (after_s >= 0),
    below         numeric NOT NULL CHECK (below >= 0 AND below <= 1),
    set_by        text NOT NULL,
    set_at        timestamptz NOT NULL DEFAULT now()
);

-- What was sent.  group_id has no foreign key and the path is copied: the
-- record outlives a group removed by a later directory import.
CREATE TABLE escalations (
    id            bigserial PRIMARY KEY,
    broadcast_id  bigint NOT NULL REFERENCES broadcasts(id),
    group_id      bigint NOT NULL,
    group_path    text NOT NULL,
    drill         boolean NOT NULL,
    recipients    int NOT NULL,
    answered      int NOT NULL,
    answer_rate   numeric NOT NULL,
    below         numeric NOT NULL,
    after_s       int NOT NULL,
    notified      jsonb NOT NULL DEFAULT '[]',   -- [{"login", "person_id", "group_path"}] told by mail
    unreachable   jsonb NOT NULL DEFAULT '[]',   -- [{"login", "group_path"}]: admins without a linked person
    notice_id     bigint REFERENCES broadcasts(id),
    created_at    timestamptz NOT NULL DEFAULT now(),
    UNIQUE (broadcast_id, group_id)
);

-- The notice's templates: the figures travel in the variables, so nothing
-- from the directory or the subject is ever read as template syntax.
CREATE FUNCTION anpi_escalation_subject() RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT '【安否確認】回答率が基準を下回っています: {{escalation.group}}';
$$;

CREATE FUNCTION anpi_escalation_body() RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT E'{{person.name}} さん\n\n'
        || E'安否確認「{{escalation.subject}}」の回答率が、開始から {{escalation.after}} たっても基準を下回っています。\n\n'
        || E'グループ: {{escalation.group}}（下位グループを含む）\n'
        || E'回答率: {{escalation.rate}}（基準 {{escalation.below}}）\n'
        || E'対象者: {{escalation.recipients}} 名 / 回答済み: {{escalation.answered}} 名 / 未回答: {{escalation.unanswered}} 名\n\n'
        || E'このグループまたはその上位グループの管理者として通知しています。\n'
        || E'未回答の方の状況確認をお願いします（管理コンソールのグループ別集計）。\n';
$$;

-- "35%" / "33.3%"
CREATE FUNCTION anpi_escalation_pct(p numeric) RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT rtrim(rtrim(to_char(round(p * 100, 1), 'FM990.0'), '0'), '.') || '%';
$$;

-- "30分" / "1時間30分" / "0分"
CREATE FUNCTION anpi_escalation_span(p_s int) RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN p_s >= 3600 THEN (p_s / 3600) || '時間' || CASE WHEN p_s % 3600 >= 60
                                                                  THEN ((p_s % 3600) / 60) || '分' ELSE '' END
                ELSE (p_s / 60) || '分' END;
$$;

-- One pass.  p_after_s / p_below: the configuration's default, NULL when
-- escalation is not configured (then only broadcasts with their own
-- settings escalate).  Safety checks only (notices, information mail and
-- approval requests ask nothing); drills too, their notices marked as
-- drills by the renderer.  Only unexpired broadcasts: turning the feature
-- on must not mail about last month's checks.  Returns the number of
-- escalations recorded.
CREATE FUNCTION anpi_escalation_tick(p_after_s int, p_below numeric) RETURNS int LANGUAGE plpgsql AS $$
DECLARE
    b record;
    g record;
    v_id bigint;
    v_notice bigint;
    v_people text[];
    v_notified jsonb;
    v_unreachable jsonb;
    v_done int := 0;
BEGIN
    -- one node at a time does the scan; the unique row below is what keeps
    -- it to once even if two got here
    IF NOT pg_try_advisory_xact_lock(hashtext('anpi_escalation_tick')) THEN
        RETURN 0;
    END IF;
    FOR b IN
        SELECT x.id, x.subject, x.drill, x.incident_id, x.rule_id, x.expires_at,
               coalesce(s.after_s, p_after_s) AS after_s, coalesce(s.below, p_below) AS below
          FROM broadcasts x LEFT JOIN broadcast_escalation s ON s.broadcast_id = x.id
         WHERE x.kind = 'safety' AND x.expires_at > now()
           AND coalesce(s.after_s, p_after_s) IS NOT NULL AND coalesce(s.below, p_below) > 0
           AND x.created_at + make_interval(secs => coalesce(s.after_s, p_after_s)) <= now()
         ORDER BY x.id
    LOOP
        -- every group with a recipient in its subtree (current membership),
        -- as in anpi_broadcast_groups_json, below the threshold
        FOR g IN
            WITH RECURSIVE sub(root, id) AS (
                SELECT id, id FROM groups
                UNION
                SELECT s.root, c.id FROM groups c JOIN sub s ON c.parent_id = s.id
            ), per AS (
                SELECT s.root AS gid, r.id AS rid, r.answered_at
                  FROM sub s JOIN group_members m ON m.group_id = s.id
                  JOIN recipients r ON r.person_id = m.person_id AND r.broadcast_id = b.id
                 GROUP BY s.root, r.id, r.answered_at
            )
            SELECT per.gid, gr.path, count(*)::int AS n, count(per.answered_at)::int AS answered
              FROM per JOIN groups gr ON gr.id = per.gid
             WHERE NOT EXISTS (SELECT 1 FROM escalations e WHERE e.broadcast_id = b.id AND e.group_id = per.gid)
             GROUP BY per.gid, gr.path
            HAVING count(*) >= 1 AND count(per.answered_at)::numeric / count(*) < b.below
             ORDER BY gr.path
        LOOP
            INSERT INTO escalations (broadcast_id, group_id, group_path, drill, recipients, answered,
                                     answer_rate, below, after_s)
            VALUES (b.id, g.gid, g.path, b.drill, g.n, g.answered, round(g.answered::numeric / g.n, 4),
                    b.below, b.after_s)
            ON CONFLICT DO NOTHING
            RETURNING id INTO v_id;
            CONTINUE WHEN v_id IS NULL;

            -- the group's admins and those of every group above it
            WITH RECURSIVE up(id, depth) AS (
                SELECT g.gid, 0
                UNION
                SELECT gr.parent_id, up.depth + 1 FROM groups gr JOIN up ON gr.id = up.id
                 WHERE gr.parent_id IS NOT NULL AND up.depth < 64   -- the import refuses cycles; belt and braces
            ), admins AS (
                SELECT a.login, a.person_id, min(up.depth) AS depth,
                       (SELECT gp.path FROM groups gp JOIN up u2 ON u2.id = gp.id
                         JOIN account_groups ag2 ON ag2.group_id = gp.id AND ag2.account_id = a.id
                         ORDER BY u2.depth LIMIT 1) AS via,
                       EXISTS (SELECT 1 FROM people p WHERE p.id = a.person_id AND p.removed_at IS NULL) AS reachable
                  FROM up JOIN account_groups ag ON ag.group_id = up.id
                  JOIN accounts a ON a.id = ag.account_id
                 WHERE a.disabled_at IS NULL AND a.role = 'group-admin'
                 GROUP BY a.id, a.login, a.person_id
            )
            SELECT ARRAY(SELECT DISTINCT person_id FROM admins WHERE reachable ORDER BY person_id),
                   coalesce((SELECT jsonb_agg(jsonb_build_object('login', login, 'person_id', person_id,
                                                                 'group_path', via) ORDER BY depth, login)
                               FROM admins WHERE reachable), '[]'),
                   coalesce((SELECT jsonb_agg(jsonb_build_object('login', login, 'group_path', via)
                                              ORDER BY depth, login)
                               FROM admins WHERE NOT reachable), '[]')
              INTO v_people, v_notified, v_unreachable;

            v_notice := NULL;
            IF cardinality(v_people) > 0 THEN
                v_notice := anpi_create_broadcast('notice', b.incident_id, NULL, 'escalation:' || b.id || ':' || g.gid,
                    b.rule_id, b.drill, anpi_escalation_subject(), anpi_escalation_body(),
                    jsonb_build_object('escalation.group', g.path, 'escalation.subject', b.subject,
                        'escalation.rate', anpi_escalation_pct(g.answered::numeric / g.n),
                        'escalation.below', anpi_escalation_pct(b.below),
                        'escalation.after', anpi_escalation_span(b.after_s),
                        'escalation.recipients', g.n::text, 'escalation.answered', g.answered::text,
                        'escalation.unanswered', (g.n - g.answered)::text),
                    '[]', NULL, 0, greatest(b.expires_at, now() + interval '1 day'), NULL, NULL, v_people,
                    NULL, 'engine');
            END IF;
            UPDATE escalations SET notified = v_notified, unreachable = v_unreachable, notice_id = v_notice
             WHERE id = v_id;
            PERFORM anpi_audit('engine', 'broadcast.escalation', 'broadcast:' || b.id,
                jsonb_build_object('escalation', v_id, 'group', g.gid, 'group_path', g.path, 'drill', b.drill,
                                   'recipients', g.n, 'answered', g.answered,
                                   'answer_rate', round(g.answered::numeric / g.n, 4), 'below', b.below,
                                   'after_s', b.after_s, 'notified', jsonb_array_length(v_notified),
                                   'unreachable', v_unreachable, 'notice', v_notice));
            v_done := v_done + 1;
        END LOOP;
    END LOOP;
    RETURN v_done;
END;
$$;

-- POST /api/v1/broadcasts/{id}/escalation: a broadcast's own settings.
-- Scoped: a broadcast the account does not see is not_found.
CREATE FUNCTION anpi_escalation_set(p_account bigint, p_broadcast bigint, p_after_s int, p_below numeric,
                                    p_by text)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    b broadcasts%ROWTYPE;
BEGIN
    IF NOT anpi_scope_broadcast(p_account, p_broadcast) THEN
        RETURN jsonb_build_object('result', 'not_found');
    END IF;
    SELECT * INTO b FROM broadcasts WHERE id = p_broadcast;
    IF b.kind <> 'safety' THEN
        RETURN jsonb_build_object('result', 'not_safety', 'kind', b.kind);
    END IF;
    INSERT INTO broadcast_escalation (broadcast_id, after_s, below, set_by)
    VALUES (p_broadcast, p_after_s, p_below, p_by)
    ON CONFLICT (broadcast_id) DO UPDATE
       SET after_s = EXCLUDED.after_s, below = EXCLUDED.below, set_by = EXCLUDED.set_by, set_at = now();
    PERFORM anpi_audit(p_by, 'broadcast.escalation.set', 'broadcast:' || p_broadcast,
                       jsonb_build_object('after_s', p_after_s, 'below', p_below));
    RETURN jsonb_build_object('result', 'set', 'broadcast_id', p_broadcast,
                              'after_minutes', round(p_after_s / 60.0, 2), 'below', p_below,
                              'due_at', b.created_at + make_interval(secs => p_after_s));
END;
$$;

-- GET /api/v1/broadcasts/{id}/escalations: the settings in force and what
-- was sent.  NULL outside the account's scope; a group admin sees the
-- records of its own groups (and those below them) only.  p_after_s /
-- p_below: the configuration's default (NULL = none), to show what applies.
CREATE FUNCTION anpi_escalations_json(p_account bigint, p_broadcast bigint, p_after_s int, p_below numeric)
RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT CASE WHEN NOT anpi_scope_broadcast(p_account, p_broadcast) THEN NULL ELSE
        jsonb_build_object(
            'broadcast_id', b.id, 'kind', b.kind, 'drill', b.drill,
            'settings', CASE
                WHEN s.broadcast_id IS NOT NULL THEN jsonb_build_object(
                    'source', 'broadcast', 'after_minutes', round(s.after_s / 60.0, 2), 'below', s.below,
                    'set_by', s.set_by, 'set_at', s.set_at,
                    'due_at', b.created_at + make_interval(secs => s.after_s))
                WHEN b.kind = 'safety' AND p_after_s IS NOT NULL AND p_below IS NOT NULL THEN jsonb_build_object(
                    'source', 'config', 'after_minutes', round(p_after_s / 60.0, 2), 'below', p_below,
                    'due_at', b.created_at + make_interval(secs => p_after_s))
                ELSE NULL END,
            'escalations', coalesce((
                SELECT jsonb_agg(jsonb_build_object(
                    'id', e.id, 'group_id', e.group_id, 'group_path', e.group_path, 'drill', e.drill,
                    'recipients', e.recipients, 'answered', e.answered, 'answer_rate', e.answer_rate,
                    'below', e.below, 'after_minutes', round(e.after_s / 60.0, 2),
                    'notified', e.notified, 'unreachable', e.unreachable, 'notice_id', e.notice_id,
                    'created_at', e.created_at) ORDER BY e.id)
                  FROM escalations e
                 WHERE e.broadcast_id = b.id
                   AND (anpi_scope_all(p_account) OR anpi_scope_role(p_account) = 'hr'
                        OR anpi_scope_group(p_account, e.group_id))), '[]'::jsonb))
    END
      FROM broadcasts b LEFT JOIN broadcast_escalation s ON s.broadcast_id = b.id
     WHERE b.id = p_broadcast;
$$;
