-- 0022_directory_speed.sql - the directory reads at the size of a ministry.
--
-- At 11,500 people, 1,200 groups in five levels and ~20,000 memberships the
-- group tree of 0011/0017 did not answer within a minute: it was built node
-- by node (a plpgsql call per group, each finding its children by scanning
-- groups) and every node counted its subtree's people again through
-- anpi_dir_people_in(), which walked the subtree and checked each member
-- with to_jsonb(person row) - O(groups x subtree) person rows turned into
-- JSON.  The lists, the status and the export paid for the same presence
-- check per row and per person object.
--
-- Here:
--   * anpi_dir_present() and anpi_dir_people_in() read people.removed_at
--     directly (the column exists since 0013), so the planner inlines them
--     and the memberships are reached through group_members' indexes;
--   * the tree comes from anpi_dir_group_rows(): one statement that walks
--     the visible tree once from its roots, carrying each group's ancestors,
--     and counts members and members_total with one GROUP BY over that
--     closure.  It returns flat rows in sibling order with the row number of
--     each group's parent; admin-api/endpoints/directory.c nests them;
--   * person objects for a page of people (lists and the status lists) are
--     built set-wise by anpi_dir_person_objs(): one aggregate per part
--     (regions, cities, groups, addresses) over the whole page, instead of
--     five correlated subqueries per person;
--   * the export does the same for its rows.
-- Response shapes and scoping rules are those of 0017.

-- Presence without to_jsonb(): a plain column test the planner can inline.
CREATE OR REPLACE FUNCTION anpi_dir_present(p people) RETURNS boolean LANGUAGE sql STABLE AS $$
    SELECT p.removed_at IS NULL;
$$;

-- As in 0011, without the per-row JSON and the UNION's sort over everyone:
-- the two branches are exclusive (p_group NULL or not), and the members of
-- a subtree are deduplicated once.
CREATE OR REPLACE FUNCTION anpi_dir_people_in(p_group bigint, p_sub boolean)
RETURNS TABLE (person_id text) LANGUAGE sql STABLE AS $$
    SELECT p.id FROM people p WHERE p_group IS NULL AND p.removed_at IS NULL
    UNION ALL
    SELECT DISTINCT m.person_id
      FROM anpi_dir_subtree(p_group, p_sub) t
      JOIN group_members m ON m.group_id = t.group_id
      JOIN people p ON p.id = m.person_id
     WHERE p_group IS NOT NULL AND p.removed_at IS NULL;
$$;

-- The node-by-node tree builder goes: nothing may fall back to it.
DROP FUNCTION anpi_dir_groups_json(bigint);
DROP FUNCTION anpi_dir_group_node(bigint);

-- The groups of a scope as rows (NULL scope: none are listed; callers test
-- "p_scope IS NULL OR id IN (SELECT ...)").  A group admin near the top of
-- the tree holds a scope of a thousand groups: tested row by row with
-- "= ANY (array)" that is a linear search per membership, as a set it is a
-- hash lookup.
CREATE FUNCTION anpi_dir_scope_set(p_scope bigint[]) RETURNS TABLE (group_id bigint)
LANGUAGE sql IMMUTABLE AS $$
    SELECT DISTINCT unnest(p_scope);
$$;

-- GET /api/v1/groups as flat rows, one per group the caller sees, ordered
-- by (name, id) - the order of siblings in the answer.  parent_row is the
-- 0-based position in this result of the group's parent, NULL for a root:
-- a group whose parent the caller does not see (the top of the tree for
-- the system-wide roles, the administered groups for a group admin).
-- members: direct members; members_total: distinct present people in the
-- group and all groups below it.  The walk starts at the roots and follows
-- parent_id down, so every row's parent is a row of the result and a cycle
-- in groups (which the importer cannot make) could not loop the caller.
CREATE FUNCTION anpi_dir_group_rows(p_account bigint)
RETURNS TABLE (id bigint, parent_row bigint, name text, path text, members bigint, members_total bigint)
LANGUAGE sql STABLE SET jit = off AS $$
    WITH RECURSIVE s(scope) AS MATERIALIZED (SELECT anpi_dir_scope(p_account)),
    vis AS MATERIALIZED (
        SELECT g.id, g.parent_id FROM groups g WHERE (SELECT scope FROM s) IS NULL
        UNION ALL
        SELECT g.id, g.parent_id FROM s, anpi_dir_scope_set(s.scope) x JOIN groups g ON g.id = x.group_id),
    walk(id, parent_id, anc) AS (
        SELECT v.id, NULL::bigint, ARRAY[v.id] FROM vis v LEFT JOIN vis pv ON pv.id = v.parent_id
         WHERE pv.id IS NULL
        UNION ALL
        SELECT g.id, w.id, w.anc || g.id
          FROM walk w JOIN groups g ON g.parent_id = w.id
         WHERE g.id <> ALL (w.anc)
    ),
    direct AS (SELECT m.group_id, count(*) AS n
                 FROM walk w JOIN group_members m ON m.group_id = w.id GROUP BY m.group_id),
    total AS (SELECT x.anc, count(*) AS n
                FROM (SELECT DISTINCT a.anc, m.person_id
                        FROM walk w CROSS JOIN LATERAL unnest(w.anc) a(anc)
                        JOIN group_members m ON m.group_id = w.id
                        JOIN people p ON p.id = m.person_id
                       WHERE p.removed_at IS NULL) x
               GROUP BY x.anc),
    rows AS (SELECT w.id, w.parent_id, g.name, g.path,
                    row_number() OVER (ORDER BY g.name, g.id) - 1 AS rn
               FROM walk w JOIN groups g ON g.id = w.id)
    SELECT r.id, pr.rn, r.name, r.path, coalesce(d.n, 0), coalesce(t.n, 0)
      FROM rows r
      LEFT JOIN rows pr ON pr.id = r.parent_id
      LEFT JOIN direct d ON d.group_id = r.id
      LEFT JOIN total t ON t.anc = r.id
     ORDER BY r.rn;
$$;

-- As in 0017, with the group admin's members found through a hashed set.
CREATE OR REPLACE FUNCTION anpi_dir_scoped_people(p_scope bigint[], p_group bigint, p_sub boolean)
RETURNS TABLE (person_id text) LANGUAGE plpgsql STABLE AS $$
BEGIN
    IF p_group IS NOT NULL THEN
        IF anpi_dir_in_scope(p_scope, p_group) THEN
            RETURN QUERY SELECT x.person_id FROM anpi_dir_people_in(p_group, p_sub) x;
        END IF;
    ELSIF p_scope IS NULL THEN
        RETURN QUERY SELECT x.person_id FROM anpi_dir_people_in(NULL, false) x;
    ELSE
        RETURN QUERY SELECT DISTINCT m.person_id FROM group_members m JOIN people p ON p.id = m.person_id
                      WHERE m.group_id IN (SELECT s.group_id FROM anpi_dir_scope_set(p_scope) s)
                        AND p.removed_at IS NULL;
    END IF;
END;
$$;

-- Person objects (anpi_dir_person(p_scope, id, false) of 0017, same keys
-- and order inside) for a whole page of people at once: one aggregate per
-- part over the page instead of five subqueries per person.
CREATE FUNCTION anpi_dir_person_objs(p_scope bigint[], p_ids text[])
RETURNS TABLE (person_id text, obj jsonb) LANGUAGE sql STABLE AS $$
    WITH ids AS (SELECT DISTINCT unnest(p_ids) AS id),
    rg AS (SELECT r.person_id, jsonb_agg(to_char(r.pref, 'FM00') ORDER BY r.pref) AS j
             FROM ids JOIN person_regions r ON r.person_id = ids.id GROUP BY r.person_id),
    ct AS (SELECT c.person_id, jsonb_agg(to_char(c.city, 'FM00000') ORDER BY c.city) AS j
             FROM ids JOIN person_cities c ON c.person_id = ids.id GROUP BY c.person_id),
    gp AS (SELECT m.person_id, jsonb_agg(g.path ORDER BY g.path) AS j
             FROM ids JOIN group_members m ON m.person_id = ids.id JOIN groups g ON g.id = m.group_id
            WHERE p_scope IS NULL OR g.id IN (SELECT s.group_id FROM anpi_dir_scope_set(p_scope) s)
            GROUP BY m.person_id),
    ad AS (SELECT pa.person_id, jsonb_agg(jsonb_build_object('address', pa.address, 'status', pa.status)
                                          ORDER BY pa.position, pa.address) AS j
             FROM ids JOIN person_addresses pa ON pa.person_id = ids.id GROUP BY pa.person_id)
    SELECT p.id, jsonb_build_object(
               'id', p.id, 'name', p.name, 'kana', p.kana,
               'regions', coalesce(rg.j, '[]'), 'cities', coalesce(ct.j, '[]'),
               'attributes', p.attributes, 'groups', coalesce(gp.j, '[]'),
               'addresses', coalesce(ad.j, '[]'))
      FROM ids JOIN people p ON p.id = ids.id
      LEFT JOIN rg ON rg.person_id = p.id
      LEFT JOIN ct ON ct.person_id = p.id
      LEFT JOIN gp ON gp.person_id = p.id
      LEFT JOIN ad ON ad.person_id = p.id;
$$;

-- GET /api/v1/people: as in 0017.  The people are resolved once (for the
-- total and the page) and the page's objects built set-wise.  JIT is off in
-- these read functions: the recursive parts make the planner's row
-- estimates huge, and compiling the plan cost more than running it.
CREATE OR REPLACE FUNCTION anpi_dir_people_json(p_account bigint, p_group bigint, p_sub boolean, p_limit int,
                                                p_offset int)
RETURNS jsonb LANGUAGE sql STABLE SET jit = off AS $$
    WITH s(scope) AS MATERIALIZED (SELECT anpi_dir_scope(p_account)),
    ppl AS MATERIALIZED (SELECT x.person_id FROM s, anpi_dir_scoped_people(s.scope, p_group, p_sub) x),
    page AS (SELECT person_id FROM ppl ORDER BY person_id LIMIT p_limit OFFSET p_offset)
    SELECT CASE WHEN p_group IS NOT NULL AND NOT (EXISTS (SELECT 1 FROM groups WHERE id = p_group)
                                                  AND anpi_dir_in_scope(s.scope, p_group))
           THEN NULL
           ELSE jsonb_build_object(
               'group', p_group, 'subgroups', p_sub, 'limit', p_limit, 'offset', p_offset,
               'total', (SELECT count(*) FROM ppl),
               'people', coalesce((SELECT jsonb_agg(o.obj ORDER BY o.person_id)
                                     FROM anpi_dir_person_objs(s.scope, ARRAY(SELECT person_id FROM page)) o),
                                  '[]'))
           END
      FROM s;
$$;

-- GET /api/v1/directory/status: as in 0017.  The visible groups are a set
-- (a join, not a scan of the scope array per group), the per-group counts
-- come from one walk of the visible tree carrying each group's ancestors,
-- and the two lists are built set-wise.
CREATE OR REPLACE FUNCTION anpi_dir_status_json(p_account bigint, p_max int)
RETURNS jsonb LANGUAGE sql STABLE SET jit = off AS $$
    WITH RECURSIVE s AS MATERIALIZED (SELECT anpi_dir_scope(p_account) AS scope),
    ppl AS (SELECT x.person_id FROM s, anpi_dir_scoped_people(s.scope, NULL, false) x),
    r AS MATERIALIZED (
          SELECT ppl.person_id,
                 CASE WHEN bool_or(pa.status = 'valid') THEN 'valid'
                      WHEN bool_or(pa.status = 'unverified') THEN 'unverified'
                      WHEN bool_or(pa.status = 'bouncing') THEN 'bouncing'
                      WHEN bool_or(pa.status = 'invalid') THEN 'invalid'
                      ELSE 'none' END AS reach
            FROM ppl LEFT JOIN person_addresses pa ON pa.person_id = ppl.person_id
           GROUP BY ppl.person_id),
    vis AS MATERIALIZED (
          SELECT g.id, g.path, g.parent_id FROM groups g WHERE (SELECT scope FROM s) IS NULL
          UNION ALL
          SELECT g.id, g.path, g.parent_id FROM s, anpi_dir_scope_set(s.scope) x JOIN groups g ON g.id = x.group_id),
    walk(id, anc) AS (
          SELECT v.id, ARRAY[v.id] FROM vis v LEFT JOIN vis pv ON pv.id = v.parent_id WHERE pv.id IS NULL
          UNION ALL
          SELECT g.id, w.anc || g.id FROM walk w JOIN groups g ON g.parent_id = w.id WHERE g.id <> ALL (w.anc)),
    gm AS (SELECT DISTINCT a.anc AS group_id, m.person_id
             FROM walk w CROSS JOIN LATERAL unnest(w.anc) a(anc) JOIN group_members m ON m.group_id = w.id),
    gs AS (SELECT gm.group_id, count(*) AS members,
                  count(*) FILTER (WHERE r.reach = 'valid') AS valid,
                  count(*) FILTER (WHERE r.reach = 'unverified') AS unverified_only,
                  count(*) FILTER (WHERE r.reach IN ('bouncing', 'invalid')) AS only_bad,
                  count(*) FILTER (WHERE r.reach = 'none') AS no_address,
                  count(*) FILTER (WHERE r.reach IN ('bouncing', 'invalid', 'none')) AS no_usable
             FROM gm JOIN r USING (person_id) GROUP BY gm.group_id),
    nu AS (SELECT * FROM r WHERE reach IN ('bouncing', 'invalid', 'none') ORDER BY person_id LIMIT p_max),
    ob AS (SELECT * FROM r WHERE reach IN ('bouncing', 'invalid') ORDER BY person_id LIMIT p_max),
    admins AS (SELECT ag.group_id, count(*) AS n
                 FROM account_groups ag JOIN accounts a ON a.id = ag.account_id
                WHERE a.role = 'group-admin' AND a.disabled_at IS NULL
                GROUP BY ag.group_id)
    SELECT jsonb_build_object(
        'counts', (SELECT jsonb_build_object(
                'people', count(*),
                'valid', count(*) FILTER (WHERE reach = 'valid'),
                'unverified_only', count(*) FILTER (WHERE reach = 'unverified'),
                'only_bouncing_or_invalid', count(*) FILTER (WHERE reach IN ('bouncing', 'invalid')),
                'no_address', count(*) FILTER (WHERE reach = 'none'),
                'no_usable_address', count(*) FILTER (WHERE reach IN ('bouncing', 'invalid', 'none')))
            FROM r),
        'no_usable_address', coalesce((SELECT jsonb_agg(o.obj || jsonb_build_object('reach', nu.reach)
                                                        ORDER BY nu.person_id)
              FROM anpi_dir_person_objs(s.scope, ARRAY(SELECT person_id FROM nu)) o
              JOIN nu ON nu.person_id = o.person_id), '[]'),
        'only_bouncing_or_invalid', coalesce((SELECT jsonb_agg(o.obj ORDER BY o.person_id)
              FROM anpi_dir_person_objs(s.scope, ARRAY(SELECT person_id FROM ob)) o), '[]'),
        'list_cap', p_max,
        'groups', coalesce((SELECT jsonb_agg(jsonb_build_object(
                'id', vis.id, 'path', vis.path,
                'members', coalesce(gs.members, 0),
                'valid', coalesce(gs.valid, 0),
                'unverified_only', coalesce(gs.unverified_only, 0),
                'only_bouncing_or_invalid', coalesce(gs.only_bad, 0),
                'no_address', coalesce(gs.no_address, 0),
                'no_usable_address', coalesce(gs.no_usable, 0))
              ORDER BY vis.path) FROM vis LEFT JOIN gs ON gs.group_id = vis.id), '[]'))
        || CASE WHEN s.scope IS NULL THEN jsonb_build_object('groups_short_of_admins', coalesce(
               (SELECT jsonb_agg(jsonb_build_object('id', x.id, 'path', x.path, 'admins', x.n) ORDER BY x.path)
                  FROM (SELECT g.id, g.path, coalesce(admins.n, 0) AS n
                          FROM groups g LEFT JOIN admins ON admins.group_id = g.id
                         WHERE coalesce(admins.n, 0) < 2
                         ORDER BY g.path LIMIT p_max) x), '[]'))
                ELSE '{}'::jsonb END
      FROM s;
$$;

-- GET /api/v1/people/export: as in 0017 (same rows, columns, audit entry),
-- with the multi-valued cells aggregated over all exported people at once
-- and the visible groups tested as a set.
CREATE OR REPLACE FUNCTION anpi_dir_export(p_account bigint, p_group bigint, p_sub boolean, p_format text,
                                           p_actor text, p_peer text)
RETURNS TABLE (known boolean, person_id text, person_name text, person_kana text, emails text, regions text,
               group_paths text, addresses_status text, attributes text)
LANGUAGE plpgsql SET jit = off AS $$
#variable_conflict use_column
DECLARE
    v_rows bigint;
    v_scope bigint[] := anpi_dir_scope(p_account);
BEGIN
    IF p_group IS NOT NULL AND NOT (EXISTS (SELECT 1 FROM groups g WHERE g.id = p_group)
                                    AND anpi_dir_in_scope(v_scope, p_group)) THEN
        RETURN QUERY SELECT false, NULL::text, NULL::text, NULL::text, NULL::text, NULL::text,
                            NULL::text, NULL::text, NULL::text;
        RETURN;
    END IF;
    RETURN QUERY
    WITH ids AS MATERIALIZED (SELECT DISTINCT x.person_id AS id
                                FROM anpi_dir_scoped_people(v_scope, p_group, p_sub) x),
    ad AS (SELECT pa.person_id AS id,
                  string_agg(anpi_dir_mask(pa.address), ';' ORDER BY pa.position, pa.address) AS masked,
                  string_agg(pa.status, ';' ORDER BY pa.position, pa.address) AS status
             FROM ids JOIN person_addresses pa ON pa.person_id = ids.id GROUP BY pa.person_id),
    rg AS (SELECT r.person_id AS id, string_agg(to_char(r.pref, 'FM00'), ';' ORDER BY r.pref) AS j
             FROM ids JOIN person_regions r ON r.person_id = ids.id GROUP BY r.person_id),
    ct AS (SELECT c.person_id AS id, string_agg(to_char(c.city, 'FM00000'), ';' ORDER BY c.city) AS j
             FROM ids JOIN person_cities c ON c.person_id = ids.id GROUP BY c.person_id),
    gp AS (SELECT m.person_id AS id, string_agg(g.path, ';' ORDER BY g.path) AS j
             FROM ids JOIN group_members m ON m.person_id = ids.id JOIN groups g ON g.id = m.group_id
            WHERE v_scope IS NULL OR g.id IN (SELECT s.group_id FROM anpi_dir_scope_set(v_scope) s)
            GROUP BY m.person_id)
    SELECT true, p.id, p.name, p.kana,
           coalesce(ad.masked, ''),
           concat_ws(';', rg.j, ct.j),
           coalesce(gp.j, ''),
           coalesce(ad.status, ''),
           coalesce((SELECT string_agg(a.key || '=' || a.value, ';' ORDER BY a.key)
                       FROM jsonb_each_text(p.attributes) a), '')
      FROM ids JOIN people p ON p.id = ids.id
      LEFT JOIN ad ON ad.id = p.id
      LEFT JOIN rg ON rg.id = p.id
      LEFT JOIN ct ON ct.id = p.id
      LEFT JOIN gp ON gp.id = p.id
     ORDER BY p.id;
    GET DIAGNOSTICS v_rows = ROW_COUNT;
    PERFORM anpi_audit(p_actor, 'directory.export', 'people',
                       jsonb_build_object('format', p_format, 'group', p_group, 'subgroups', p_sub,
                                          'rows', v_rows, 'peer', p_peer));
END;
$$;
