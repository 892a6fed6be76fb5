-- 0024_tally_speed.sql - the tally per group (GET /api/v1/broadcasts/{id}/groups)
-- at the size of a ministry.
--
-- Measured with tests/bench/scale.py (11,500 people, 1,200 groups in five
-- levels, 19,642 memberships, one broadcast to everyone, 4,600 answers):
-- 0018's anpi_broadcast_groups_json took ~0.5 s for the whole tree and
-- 13-45 ms for a group admin of two groups, and under 200 concurrent group
-- admins PostgreSQL ran out of CPU at ~100 requests/s (p50 2 s).  The time
-- went to:
--   * a (group, recipient) row for every scoped ancestor of every membership
--     (96,000 rows for the whole tree), sorted and merge-joined three times
--     (members, then choices, then per group);
--   * a SQL function with SET jit = off calling two more such functions:
--     none of them inlined, each planned again on every call, the planner
--     guessing 1,000 rows for every function scan, so a group admin of two
--     groups still hashed all 11,500 recipients and all 4,600 responses.
--
-- Here the function is plpgsql and works in three steps:
--   1. the scope: every group, or the account's own groups; visibility is
--      decided first, so a caller outside scope costs a few index lookups;
--   2. the closure of the scoped groups only, walked DOWN from the roots of
--      the scope (the tree's roots, or the account's groups) through the
--      new index groups_parent, each group carrying the array of its scoped
--      ancestors (itself included); when an account holds a group and one
--      below it, the longest chain wins.  Sorting those arrays gives the
--      depth-first order used in step 3;
--   3. the memberships of the recipients counted - through indexes for a
--      small scope (most group admins hold a 課 and its 係), by one hash
--      join of the broadcast for a large one - turned into +1/-1 points
--      (see pts below: ~28,000 rows for the whole tree instead of 96,000)
--      and summed per subtree, for the counts and for every choice.
-- Its one statement keeps a generic plan (plan_cache_mode): a custom plan
-- per call cost more planning than a small scope's whole execution.
-- work_mem is raised for the whole-tree aggregates, which spilled at 4 MB.
-- Same signature, same JSON and the same scope rules as 0018 (outside scope
-- or unknown: NULL, hence 404), checked against 0018's function for the
-- bootstrap token and all 1,000 group admins of the benchmark.  One
-- difference, a fix: 0018 answered {"groups": []} for an HR broadcast to an
-- unknown or disabled account (its visibility test was NULL, not false);
-- such an account now sees nothing, as 0014 says.  (The gate never lets
-- one through, so no answer of the API changes.)
--
-- Figures: docs/benchmarks.md, "Directory at ministry scale".

CREATE INDEX IF NOT EXISTS groups_parent ON groups (parent_id);

CREATE OR REPLACE FUNCTION anpi_broadcast_groups_json(p_account bigint, p_id bigint) RETURNS jsonb
LANGUAGE plpgsql STABLE
    SET jit = off SET plan_cache_mode = force_generic_plan SET work_mem = '32MB' AS $$
DECLARE
    v_all boolean := anpi_scope_all(p_account);
    v_role text;
    v_sender text;
    v_questions jsonb;
    v_mine bigint[];     -- a group admin's own groups; NULL for every group
    v_zero jsonb;        -- {question: {choice: 0}}: every choice asked, counted or not
    v_res jsonb;
BEGIN
    SELECT b.sender, b.questions INTO v_sender, v_questions FROM broadcasts b WHERE b.id = p_id;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    IF NOT v_all THEN
        v_role := anpi_scope_role(p_account);
        IF v_role = 'hr' AND v_sender = 'hr' THEN
            -- hr sees an HR broadcast but no directory: no groups at all
            RETURN jsonb_build_object('broadcast_id', p_id, 'groups', '[]'::jsonb);
        END IF;
        IF v_role IS DISTINCT FROM 'group-admin' THEN
            RETURN NULL;
        END IF;
        v_mine := ARRAY(SELECT ag.group_id FROM account_groups ag WHERE ag.account_id = p_account);
    END IF;
    v_zero := coalesce((
        SELECT jsonb_object_agg(qe->>'id', (SELECT coalesce(jsonb_object_agg(ch, 0), '{}'::jsonb)
                                              FROM jsonb_array_elements_text(qe->'choices') ch))
          FROM jsonb_array_elements(v_questions) qe), '{}'::jsonb);

    WITH RECURSIVE walk(id, anc) AS (
        SELECT g.id, ARRAY[g.id] FROM groups g
         WHERE (v_mine IS NULL AND g.parent_id IS NULL) OR g.id = ANY (v_mine)
        UNION ALL
        -- OFFSET 0 keeps each step an index lookup by parent (the planner
        -- cannot know how few rows the work table holds)
        SELECT c.id, w.anc || c.id
          FROM walk w CROSS JOIN LATERAL (SELECT g.id FROM groups g WHERE g.parent_id = w.id OFFSET 0) c
         WHERE c.id <> ALL (w.anc)
    ), clo AS MATERIALIZED (
        -- each scoped group once with all its scoped ancestors (root first),
        -- and its rank in depth-first order: the order of those arrays
        SELECT x.id, x.anc, row_number() OVER (ORDER BY x.anc) AS ord
          FROM (SELECT DISTINCT ON (w.id) w.id, w.anc FROM walk w ORDER BY w.id, cardinality(w.anc) DESC) x
    ), small AS MATERIALIZED (
        -- a scope of a few groups (most group admins: a 課 and its 係) is
        -- read through indexes, a large one by hashing the whole broadcast
        SELECT v_mine IS NOT NULL AND (SELECT count(*) FROM clo) <= 60 AS yes
    ), mem AS MATERIALIZED (
        -- the memberships that count.  Large: one hash join of the
        -- broadcast's recipients, the memberships and the scope.  Small:
        -- from the groups through the membership index, then the recipient
        -- by its (broadcast, person) key, lookups the OFFSET 0 keeps from
        -- turning into a scan of every recipient.
        SELECT r.id AS rid, m.group_id, r.answered_at IS NOT NULL AS ans
          FROM recipients r JOIN group_members m ON m.person_id = r.person_id
          JOIN clo ON clo.id = m.group_id
         WHERE NOT (SELECT yes FROM small) AND r.broadcast_id = p_id
        UNION ALL
        SELECT r.id, clo.id, r.answered_at IS NOT NULL
          FROM clo
          CROSS JOIN LATERAL (SELECT m.person_id FROM group_members m WHERE m.group_id = clo.id OFFSET 0) m
          CROSS JOIN LATERAL (SELECT r.id, r.answered_at FROM recipients r
                               WHERE r.broadcast_id = p_id AND r.person_id = m.person_id OFFSET 0) r
         WHERE (SELECT yes FROM small)
    ), seq AS (
        -- a recipient's groups in depth-first order, each with the one before
        SELECT m.rid, m.ans, m.group_id, c.anc,
               lag(c.anc) OVER (PARTITION BY m.rid ORDER BY c.ord) AS prev
          FROM mem m JOIN clo c ON c.id = m.group_id
    ), pts AS MATERIALIZED (
        -- A group counts a recipient once when any of its memberships lies
        -- in the group's subtree.  Instead of a (group, recipient) row per
        -- ancestor of every membership (96,000 rows for the whole tree):
        -- +1 at each membership and -1 at the deepest common ancestor of
        -- each two memberships adjacent in depth-first order.  A subtree
        -- holds a contiguous run of k of the recipient's memberships and
        -- k - 1 of those common ancestors, so the subtree's sum is 1 when
        -- k > 0 and 0 otherwise: summed over subtrees below, exact counts.
        SELECT s.rid, s.ans, s.group_id AS node, 1 AS d FROM seq s
        UNION ALL
        SELECT x.rid, x.ans, x.node, -1
          FROM (SELECT s.rid, s.ans,
                       (SELECT s.anc[max(i)] FROM generate_subscripts(s.anc, 1) i
                         WHERE s.anc[i] = s.prev[i]) AS node
                  FROM seq s WHERE s.prev IS NOT NULL) x
         WHERE x.node IS NOT NULL
    ), latest AS MATERIALIZED (
        -- the latest choice per (recipient, question): for a large scope one
        -- pass over the broadcast's answers (those outside the scope meet no
        -- row of pts below), for a small one a lookup per recipient in
        -- responses_recipient
        SELECT DISTINCT ON (rs.recipient_id, rs.question_id) rs.recipient_id, rs.question_id, rs.choice
          FROM recipients r JOIN responses rs ON rs.recipient_id = r.id
         WHERE NOT (SELECT yes FROM small) AND r.broadcast_id = p_id
         ORDER BY rs.recipient_id, rs.question_id, rs.id DESC
    ), latest_mine AS MATERIALIZED (
        SELECT x.rid AS recipient_id, l.question_id, l.choice
          FROM (SELECT DISTINCT mem.rid FROM mem WHERE (SELECT yes FROM small)) x
          CROSS JOIN LATERAL (SELECT DISTINCT ON (rs.question_id) rs.question_id, rs.choice
                                FROM responses rs WHERE rs.recipient_id = x.rid
                               ORDER BY rs.question_id, rs.id DESC OFFSET 0) l
    ), lt AS (
        SELECT * FROM latest UNION ALL SELECT * FROM latest_mine
    ), pn AS (
        -- the points per group, then summed over every group's subtree
        SELECT p.node, sum(p.d) AS n, sum(p.d) FILTER (WHERE p.ans) AS answered FROM pts p GROUP BY p.node
    ), sub AS (
        SELECT a.gid, sum(pn.n)::bigint AS n, coalesce(sum(pn.answered), 0)::bigint AS answered
          FROM pn JOIN clo c ON c.id = pn.node CROSS JOIN LATERAL unnest(c.anc) a(gid)
         GROUP BY a.gid
        HAVING sum(pn.n) > 0
    ), dir AS (
        SELECT m.group_id AS gid, count(*) AS dn, count(*) FILTER (WHERE m.ans) AS dans FROM mem m GROUP BY m.group_id
    ), ung AS (
        -- people in no group at all: a row of their own for the system-wide roles
        SELECT r.id AS rid, r.answered_at IS NOT NULL AS ans
          FROM recipients r
         WHERE v_mine IS NULL AND r.broadcast_id = p_id
           AND NOT EXISTS (SELECT 1 FROM group_members m WHERE m.person_id = r.person_id)
    ), t AS MATERIALIZED (
        SELECT sub.gid, sub.n, sub.answered, coalesce(dir.dn, 0) AS dn, coalesce(dir.dans, 0) AS dans
          FROM sub LEFT JOIN dir ON dir.gid = sub.gid
        UNION ALL
        SELECT NULL::bigint, count(*), count(*) FILTER (WHERE ung.ans), count(*), count(*) FILTER (WHERE ung.ans)
          FROM ung HAVING count(*) > 0
    ), pc AS (
        -- the same points per choice
        SELECT p.node, l.question_id, l.choice, sum(p.d) AS n
          FROM pts p JOIN lt l ON l.recipient_id = p.rid
         WHERE (v_zero -> l.question_id) ? l.choice
         GROUP BY p.node, l.question_id, l.choice
    ), cc AS (
        SELECT a.gid, pc.question_id, pc.choice, sum(pc.n)::bigint AS n
          FROM pc JOIN clo c ON c.id = pc.node CROSS JOIN LATERAL unnest(c.anc) a(gid)
         GROUP BY a.gid, pc.question_id, pc.choice
        UNION ALL
        SELECT NULL::bigint, l.question_id, l.choice, count(*)
          FROM ung JOIN latest l ON l.recipient_id = ung.rid
         WHERE (v_zero -> l.question_id) ? l.choice
         GROUP BY l.question_id, l.choice
    ), cnt AS (
        -- {question: {choice: n}} per group, every choice asked
        SELECT x.gid, jsonb_object_agg(x.question_id, (v_zero -> x.question_id) || x.j) AS j
          FROM (SELECT cc.gid, cc.question_id, jsonb_object_agg(cc.choice, cc.n) AS j
                  FROM cc GROUP BY cc.gid, cc.question_id) x
         GROUP BY x.gid
    )
    SELECT jsonb_build_object('broadcast_id', p_id, 'groups', coalesce((
        SELECT jsonb_agg(jsonb_build_object(
            'id', t.gid, 'name', coalesce(g.name, '（所属なし）'), 'path', g.path, 'parent_id', g.parent_id,
            'recipients', t.n, 'answered', t.answered, 'unanswered', t.n - t.answered,
            'answer_rate', round(t.answered::numeric / t.n, 4),
            'direct', jsonb_build_object('recipients', t.dn, 'answered', t.dans),
            'answers', v_zero || coalesce(cnt.j, '{}'::jsonb))
            ORDER BY g.path NULLS LAST)
          FROM t
          LEFT JOIN LATERAL (SELECT g.name, g.path, g.parent_id FROM groups g WHERE g.id = t.gid OFFSET 0) g ON true
          LEFT JOIN cnt ON coalesce(cnt.gid, 0) = coalesce(t.gid, 0)), '[]'::jsonb))
      INTO v_res;
    -- a group admin sees the broadcast only when it reached one of its people
    IF v_mine IS NOT NULL AND v_res->'groups' = '[]'::jsonb THEN
        RETURN NULL;
    END IF;
    RETURN v_res;
END;
$$;
