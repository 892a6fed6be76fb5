-- 0017_scope_directory.sql - the directory read side, scoped to the caller.
--
-- Every function admin-api/endpoints/directory.c calls now takes the calling
-- account first (api_query() passes it as $1) and filters through the scope
-- functions of 0014: system-admin, duty-officer, viewer and the bootstrap
-- token (account 0) see the whole directory; a group admin sees the groups
-- it administers, their subgroups and their members; anyone else sees
-- nothing.  Outside the scope a function answers exactly as for something
-- that does not exist (NULL / the not-found row), so the API's 404 does not
-- tell a group admin whether another group or person exists.
--
-- Person objects and the export also carry the 0015 parts of a record: the
-- free attributes and the city codes.

DROP FUNCTION anpi_dir_groups_json();
DROP FUNCTION anpi_dir_people_json(bigint, boolean, int, int);
DROP FUNCTION anpi_dir_person_json(text);
DROP FUNCTION anpi_dir_export(bigint, boolean, text, text, text);
DROP FUNCTION anpi_dir_status_json(int);
-- The unscoped person formatter goes too, so no later query can reach a
-- person record without naming a scope.
DROP FUNCTION anpi_dir_person(text, boolean);

-- The groups an account sees as an array, computed once per query rather
-- than once per person or group; NULL means "every group" (the system-wide
-- roles), '{}' means none.
CREATE FUNCTION anpi_dir_scope(p_account bigint) RETURNS bigint[] LANGUAGE sql STABLE AS $$
    SELECT CASE WHEN anpi_scope_all(p_account) THEN NULL
                ELSE ARRAY(SELECT group_id FROM anpi_scope_groups(p_account) ORDER BY 1) END;
$$;

-- Is group p_group inside scope p_scope (anpi_dir_scope())?
CREATE FUNCTION anpi_dir_in_scope(p_scope bigint[], p_group bigint) RETURNS boolean LANGUAGE sql IMMUTABLE AS $$
    SELECT p_scope IS NULL OR p_group = ANY (p_scope);
$$;

-- The present people a list, export or status covers, within the scope:
-- p_group NULL = everyone the scope holds; a group outside the scope (or
-- one that does not exist) gives no rows.  A group inside the scope has its
-- whole subtree inside too (scopes are closed downwards), so its members
-- need no further filter.
CREATE FUNCTION anpi_dir_scoped_people(p_scope bigint[], p_group bigint, p_sub boolean)
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
                      WHERE m.group_id = ANY (p_scope) AND anpi_dir_present(p);
    END IF;
END;
$$;

-- One person as the admin API shows them (full addresses: only exports
-- mask).  groups lists only the groups inside the scope: a group admin does
-- not learn the names of groups it cannot see through a shared member.
-- p_full adds the delivery details of each address and the timestamps.
CREATE FUNCTION anpi_dir_person(p_scope bigint[], p_id text, p_full boolean) RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
        'id', p.id, 'name', p.name, 'kana', p.kana,
        'regions', coalesce((SELECT jsonb_agg(to_char(r.pref, 'FM00') ORDER BY r.pref)
                               FROM person_regions r WHERE r.person_id = p.id), '[]'),
        'cities', coalesce((SELECT jsonb_agg(to_char(c.city, 'FM00000') ORDER BY c.city)
                              FROM person_cities c WHERE c.person_id = p.id), '[]'),
        'attributes', p.attributes,
        'groups', coalesce((SELECT jsonb_agg(g.path ORDER BY g.path)
                              FROM group_members m JOIN groups g ON g.id = m.group_id
                             WHERE m.person_id = p.id AND anpi_dir_in_scope(p_scope, g.id)), '[]'),
        'addresses', coalesce((SELECT jsonb_agg(CASE WHEN p_full
                  THEN jsonb_build_object('address', pa.address, 'status', pa.status,
                         'hard_bounces', pa.hard_bounces, 'last_bounce', pa.last_bounce,
                         'verified_at', pa.verified_at)
                  ELSE jsonb_build_object('address', pa.address, 'status', pa.status) END
                  ORDER BY pa.position, pa.address)
              FROM person_addresses pa WHERE pa.person_id = p.id), '[]'))
        || CASE WHEN p_full THEN jsonb_build_object('created_at', p.created_at, 'updated_at', p.updated_at,
                                                    'removed_at', to_jsonb(p)->'removed_at')
                ELSE '{}'::jsonb END
      FROM people p WHERE p.id = p_id;
$$;

-- GET /api/v1/groups: {"groups": [root nodes]}.  The roots are the visible
-- groups whose parent is not visible: the top of the tree for the
-- system-wide roles, the administered groups for a group admin (a group it
-- administers below another one it administers stays inside that subtree).
-- Every node below a visible group is visible, so anpi_dir_group_node()'s
-- counts are of people the caller sees.
CREATE FUNCTION anpi_dir_groups_json(p_account bigint) RETURNS jsonb LANGUAGE sql STABLE AS $$
    WITH s(scope) AS (SELECT anpi_dir_scope(p_account))
    SELECT jsonb_build_object('groups', coalesce(
        (SELECT jsonb_agg(anpi_dir_group_node(g.id) ORDER BY g.name, g.id) FROM groups g, s
          WHERE anpi_dir_in_scope(s.scope, g.id)
            AND (g.parent_id IS NULL OR NOT anpi_dir_in_scope(s.scope, g.parent_id))), '[]'));
$$;

-- GET /api/v1/people: one page of a list.  NULL when p_group names no group
-- the caller sees (whether or not it exists).
CREATE FUNCTION anpi_dir_people_json(p_account bigint, p_group bigint, p_sub boolean, p_limit int, p_offset int)
RETURNS jsonb LANGUAGE sql STABLE AS $$
    WITH s(scope) AS (SELECT anpi_dir_scope(p_account))
    SELECT CASE WHEN p_group IS NOT NULL AND NOT (EXISTS (SELECT 1 FROM groups WHERE id = p_group)
                                                  AND anpi_dir_in_scope(s.scope, p_group))
           THEN NULL
           ELSE jsonb_build_object(
               'group', p_group, 'subgroups', p_sub, 'limit', p_limit, 'offset', p_offset,
               'total', (SELECT count(*) FROM anpi_dir_scoped_people(s.scope, p_group, p_sub)),
               'people', coalesce((SELECT jsonb_agg(anpi_dir_person(s.scope, x.person_id, false) ORDER BY x.person_id)
                                     FROM (SELECT person_id FROM anpi_dir_scoped_people(s.scope, p_group, p_sub)
                                            ORDER BY person_id LIMIT p_limit OFFSET p_offset) x), '[]'))
           END
      FROM s;
$$;

-- GET /api/v1/people/{id}: NULL when unknown or outside the scope.  A
-- person who left (removed_at) is still shown to whoever sees them.
CREATE FUNCTION anpi_dir_person_json(p_account bigint, p_id text) RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT CASE WHEN anpi_scope_person(p_account, p_id)
                THEN anpi_dir_person(anpi_dir_scope(p_account), p_id, true) END;
$$;

-- GET /api/v1/people/export: the rows in the import format (multi-valued
-- cells joined with ';'; regions holds the prefecture codes and then the
-- 5-digit city codes, as the importer reads them) plus addresses_status (the
-- status of each address, in the same order) and attributes (key=value
-- pairs in key order, joined with ';'), every address masked.  Only people
-- the caller sees, and of their groups only the visible ones.  Writes the
-- audit entry (who, what, how many rows) in the same transaction as the
-- read.  known is true on every row; when p_group names no group the caller
-- sees the one row is (false, NULL...) and nothing is audited (an empty
-- group gives no rows at all).
CREATE FUNCTION anpi_dir_export(p_account bigint, p_group bigint, p_sub boolean, p_format text, p_actor text,
                                p_peer text)
RETURNS TABLE (known boolean, person_id text, person_name text, person_kana text, emails text, regions text,
               group_paths text, addresses_status text, attributes text)
LANGUAGE plpgsql AS $$
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
    SELECT true, p.id, p.name, p.kana,
           coalesce((SELECT string_agg(anpi_dir_mask(pa.address), ';' ORDER BY pa.position, pa.address)
                       FROM person_addresses pa WHERE pa.person_id = p.id), ''),
           concat_ws(';',
               (SELECT string_agg(to_char(r.pref, 'FM00'), ';' ORDER BY r.pref)
                  FROM person_regions r WHERE r.person_id = p.id),
               (SELECT string_agg(to_char(c.city, 'FM00000'), ';' ORDER BY c.city)
                  FROM person_cities c WHERE c.person_id = p.id)),
           coalesce((SELECT string_agg(g.path, ';' ORDER BY g.path)
                       FROM group_members m JOIN groups g ON g.id = m.group_id
                      WHERE m.person_id = p.id AND anpi_dir_in_scope(v_scope, g.id)), ''),
           coalesce((SELECT string_agg(pa.status, ';' ORDER BY pa.position, pa.address)
                       FROM person_addresses pa WHERE pa.person_id = p.id), ''),
           coalesce((SELECT string_agg(a.key || '=' || a.value, ';' ORDER BY a.key)
                       FROM jsonb_each_text(p.attributes) a), '')
      FROM people p
     WHERE p.id IN (SELECT x.person_id FROM anpi_dir_scoped_people(v_scope, p_group, p_sub) x)
     ORDER BY p.id;
    GET DIAGNOSTICS v_rows = ROW_COUNT;
    PERFORM anpi_audit(p_actor, 'directory.export', 'people',
                       jsonb_build_object('format', p_format, 'group', p_group, 'subgroups', p_sub,
                                          'rows', v_rows, 'peer', p_peer));
END;
$$;

-- GET /api/v1/directory/status: registration status at a glance, over the
-- people and groups the caller sees.
--   no_usable_address:        no valid or unverified address (incl. none at all)
--   only_bouncing_or_invalid: has addresses, all of them bouncing or invalid
--   groups:                   the same counts per group, subgroups included
--   groups_short_of_admins:   (system-wide roles only) groups with fewer
--                             than two group-admin accounts that are not
--                             disabled: a group has two or more admins
-- The lists are capped at p_max entries each; the counts are exact.
CREATE FUNCTION anpi_dir_status_json(p_account bigint, p_max int) RETURNS jsonb LANGUAGE sql STABLE AS $$
    WITH s AS (SELECT anpi_dir_scope(p_account) AS scope),
    ppl AS (SELECT x.person_id FROM s, anpi_dir_scoped_people(s.scope, NULL, false) x),
    r AS (SELECT ppl.person_id,
                 CASE WHEN bool_or(pa.status = 'valid') THEN 'valid'
                      WHEN bool_or(pa.status = 'unverified') THEN 'unverified'
                      WHEN bool_or(pa.status = 'bouncing') THEN 'bouncing'
                      WHEN bool_or(pa.status = 'invalid') THEN 'invalid'
                      ELSE 'none' END AS reach
            FROM ppl LEFT JOIN person_addresses pa ON pa.person_id = ppl.person_id
           GROUP BY ppl.person_id),
    vis AS (SELECT g.id, g.path FROM groups g, s WHERE anpi_dir_in_scope(s.scope, g.id)),
    clos AS (
        WITH RECURSIVE c(anc, id) AS (
            SELECT id, id FROM vis
            UNION
            SELECT c.anc, g.id FROM groups g JOIN c ON g.parent_id = c.id
        ) SELECT anc, id FROM c
    ),
    gm AS (SELECT DISTINCT clos.anc AS group_id, m.person_id
             FROM clos JOIN group_members m ON m.group_id = clos.id),
    gs AS (SELECT gm.group_id, count(*) AS members,
                  count(*) FILTER (WHERE r.reach = 'valid') AS valid,
                  count(*) FILTER (WHERE r.reach = 'unverified') AS unverified_only,
                  count(*) FILTER (WHERE r.reach IN ('bouncing', 'invalid')) AS only_bad,
                  count(*) FILTER (WHERE r.reach = 'none') AS no_address,
                  count(*) FILTER (WHERE r.reach IN ('bouncing', 'invalid', 'none')) AS no_usable
             FROM gm JOIN r USING (person_id) GROUP BY gm.group_id),
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
        'no_usable_address', coalesce((SELECT jsonb_agg(anpi_dir_person(s.scope, x.person_id, false)
                                                        || jsonb_build_object('reach', x.reach)
                                                        ORDER BY x.person_id)
              FROM (SELECT * FROM r WHERE reach IN ('bouncing', 'invalid', 'none')
                     ORDER BY person_id LIMIT p_max) x), '[]'),
        'only_bouncing_or_invalid', coalesce((SELECT jsonb_agg(anpi_dir_person(s.scope, x.person_id, false)
                                                               ORDER BY x.person_id)
              FROM (SELECT * FROM r WHERE reach IN ('bouncing', 'invalid')
                     ORDER BY person_id LIMIT p_max) x), '[]'),
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
