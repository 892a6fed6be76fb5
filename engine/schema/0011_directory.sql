-- 0011_directory.sql - read side of the directory: the group tree, people
-- lists, one person, the export rows and the registration status.
--
-- Every query the directory endpoints (admin-api/endpoints/directory.c) run
-- is one of these functions, so a later access-scope layer (group admins see
-- their own subtree) can wrap them in one place.  All functions are prefixed
-- anpi_dir_ so they cannot collide with other migrations.

-- The local part of an address is never exported: "****@example.jp".  An
-- address without '@' (none should exist) masks to "****" rather than
-- leaking through substr(x, 0).
CREATE FUNCTION anpi_dir_mask(p_address text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN strpos(p_address, '@') > 0
                THEN '****' || substr(p_address, strpos(p_address, '@'))
                ELSE '****' END;
$$;

-- A group and, when p_sub, all groups below it (any depth).
CREATE FUNCTION anpi_dir_subtree(p_group bigint, p_sub boolean)
RETURNS TABLE (group_id bigint) LANGUAGE sql STABLE AS $$
    WITH RECURSIVE t(id) AS (
        SELECT id FROM groups WHERE id = p_group
        UNION
        SELECT c.id FROM groups c JOIN t ON c.parent_id = t.id WHERE p_sub
    )
    SELECT id FROM t;
$$;

-- People who left the directory keep their row (people.removed_at, added by
-- a later migration, 0013) for the history; they are not listed, exported or
-- counted.  to_jsonb(p)->>'removed_at' reads the column when it exists and is
-- NULL before it does, so these functions work on either side of 0013.
CREATE FUNCTION anpi_dir_present(p people) RETURNS boolean LANGUAGE sql STABLE AS $$
    SELECT to_jsonb(p)->>'removed_at' IS NULL;
$$;

-- The people a list or export covers: everyone when p_group is NULL, else the
-- members of the group (and of its subgroups when p_sub).
CREATE FUNCTION anpi_dir_people_in(p_group bigint, p_sub boolean)
RETURNS TABLE (person_id text) LANGUAGE sql STABLE AS $$
    SELECT p.id FROM people p WHERE p_group IS NULL AND anpi_dir_present(p)
    UNION
    SELECT m.person_id FROM group_members m
     WHERE p_group IS NOT NULL AND m.group_id IN (SELECT group_id FROM anpi_dir_subtree(p_group, p_sub))
       AND EXISTS (SELECT 1 FROM people p WHERE p.id = m.person_id AND anpi_dir_present(p));
$$;

-- How a person can be reached: 'valid' (a valid address), 'unverified' (no
-- valid one but an unverified one), 'bouncing' (only bouncing/invalid
-- addresses, at least one bouncing), 'invalid' (only invalid ones), 'none'
-- (no address at all).
CREATE FUNCTION anpi_dir_reach()
RETURNS TABLE (person_id text, reach text) LANGUAGE sql STABLE AS $$
    SELECT p.id,
           CASE WHEN bool_or(pa.status = 'valid') THEN 'valid'
                WHEN bool_or(pa.status = 'unverified') THEN 'unverified'
                WHEN bool_or(pa.status = 'bouncing') THEN 'bouncing'
                WHEN bool_or(pa.status = 'invalid') THEN 'invalid'
                ELSE 'none' END
      FROM people p LEFT JOIN person_addresses pa ON pa.person_id = p.id
     WHERE anpi_dir_present(p)
     GROUP BY p.id;
$$;

-- One person as the admin API shows them (full addresses: only exports mask).
-- p_full adds the delivery details of each address and the timestamps.
CREATE FUNCTION anpi_dir_person(p_id text, p_full boolean) RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
        'id', p.id, 'name', p.name, 'kana', p.kana,
        'regions', coalesce((SELECT jsonb_agg(to_char(r.pref, 'FM00') ORDER BY r.pref)
                               FROM person_regions r WHERE r.person_id = p.id), '[]'),
        'groups', coalesce((SELECT jsonb_agg(g.path ORDER BY g.path)
                              FROM group_members m JOIN groups g ON g.id = m.group_id
                             WHERE m.person_id = p.id), '[]'),
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

-- One node of the group tree with its children, recursively (plpgsql so the
-- self-reference resolves at run time).  members: direct members;
-- members_total: distinct people in the group and all its subgroups.
CREATE FUNCTION anpi_dir_group_node(p_id bigint) RETURNS jsonb LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN (SELECT jsonb_build_object(
        'id', g.id, 'name', g.name, 'path', g.path,
        'members', (SELECT count(*) FROM group_members m WHERE m.group_id = g.id),
        'members_total', (SELECT count(*) FROM anpi_dir_people_in(g.id, true)),
        'children', coalesce((SELECT jsonb_agg(anpi_dir_group_node(c.id) ORDER BY c.name, c.id)
                                FROM groups c WHERE c.parent_id = g.id), '[]'))
      FROM groups g WHERE g.id = p_id);
END;
$$;

-- GET /api/v1/groups: {"groups": [root nodes]}.
CREATE FUNCTION anpi_dir_groups_json() RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object('groups', coalesce(
        (SELECT jsonb_agg(anpi_dir_group_node(g.id) ORDER BY g.name, g.id) FROM groups g
          WHERE g.parent_id IS NULL), '[]'));
$$;

-- GET /api/v1/people: one page of a list.  NULL when p_group names no group.
CREATE FUNCTION anpi_dir_people_json(p_group bigint, p_sub boolean, p_limit int, p_offset int)
RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT CASE WHEN p_group IS NOT NULL AND NOT EXISTS (SELECT 1 FROM groups WHERE id = p_group)
           THEN NULL
           ELSE jsonb_build_object(
               'group', p_group, 'subgroups', p_sub, 'limit', p_limit, 'offset', p_offset,
               'total', (SELECT count(*) FROM anpi_dir_people_in(p_group, p_sub)),
               'people', coalesce((SELECT jsonb_agg(anpi_dir_person(x.person_id, false) ORDER BY x.person_id)
                                     FROM (SELECT person_id FROM anpi_dir_people_in(p_group, p_sub)
                                            ORDER BY person_id LIMIT p_limit OFFSET p_offset) x), '[]'))
           END;
$$;

-- GET /api/v1/people/{id}: NULL when unknown.
CREATE FUNCTION anpi_dir_person_json(p_id text) RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT anpi_dir_person(p_id, true);
$$;

-- GET /api/v1/people/export: the rows in the import format (multi-valued
-- cells joined with ';') plus addresses_status (the status of each address,
-- in the same order), every address masked.  Writes the audit entry (who,
-- what, how many rows) in the same transaction as the read.  known is true on
-- every row; when p_group names no group the one row is (false, NULL...) and
-- nothing is audited (an empty group gives no rows at all).
CREATE FUNCTION anpi_dir_export(p_group bigint, p_sub boolean, p_format text, p_actor text, p_peer text)
RETURNS TABLE (known boolean, person_id text, person_name text, person_kana text, emails text, regions text,
               group_paths text, addresses_status text)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    v_rows bigint;
BEGIN
    IF p_group IS NOT NULL AND NOT EXISTS (SELECT 1 FROM groups g WHERE g.id = p_group) THEN
        RETURN QUERY SELECT false, NULL::text, NULL::text, NULL::text, NULL::text, NULL::text,
                            NULL::text, NULL::text;
        RETURN;
    END IF;
    RETURN QUERY
    SELECT true, p.id, p.name, p.kana,
           coalesce((SELECT string_agg(anpi_dir_mask(pa.address), ';' ORDER BY pa.position, pa.address)
                       FROM person_addresses pa WHERE pa.person_id = p.id), ''),
           coalesce((SELECT string_agg(to_char(r.pref, 'FM00'), ';' ORDER BY r.pref)
                       FROM person_regions r WHERE r.person_id = p.id), ''),
           coalesce((SELECT string_agg(g.path, ';' ORDER BY g.path)
                       FROM group_members m JOIN groups g ON g.id = m.group_id
                      WHERE m.person_id = p.id), ''),
           coalesce((SELECT string_agg(pa.status, ';' ORDER BY pa.position, pa.address)
                       FROM person_addresses pa WHERE pa.person_id = p.id), '')
      FROM people p
     WHERE p.id IN (SELECT x.person_id FROM anpi_dir_people_in(p_group, p_sub) x)
     ORDER BY p.id;
    GET DIAGNOSTICS v_rows = ROW_COUNT;
    PERFORM anpi_audit(p_actor, 'directory.export', 'people',
                       jsonb_build_object('format', p_format, 'group', p_group, 'subgroups', p_sub,
                                          'rows', v_rows, 'peer', p_peer));
END;
$$;

-- GET /api/v1/directory/status: registration status at a glance.
--   no_usable_address:        no valid or unverified address (incl. none at all)
--   only_bouncing_or_invalid: has addresses, all of them bouncing or invalid
--   groups:                   the same counts per group, subgroups included
-- The two lists are capped at p_max entries each; the counts are exact.
CREATE FUNCTION anpi_dir_status_json(p_max int) RETURNS jsonb LANGUAGE sql STABLE AS $$
    WITH r AS (SELECT * FROM anpi_dir_reach()),
    clos AS (
        WITH RECURSIVE c(anc, id) AS (
            SELECT id, id FROM groups
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
             FROM gm JOIN r USING (person_id) GROUP BY gm.group_id)
    SELECT jsonb_build_object(
        'counts', (SELECT jsonb_build_object(
                'people', count(*),
                'valid', count(*) FILTER (WHERE reach = 'valid'),
                'unverified_only', count(*) FILTER (WHERE reach = 'unverified'),
                'only_bouncing_or_invalid', count(*) FILTER (WHERE reach IN ('bouncing', 'invalid')),
                'no_address', count(*) FILTER (WHERE reach = 'none'),
                'no_usable_address', count(*) FILTER (WHERE reach IN ('bouncing', 'invalid', 'none')))
            FROM r),
        'no_usable_address', coalesce((SELECT jsonb_agg(anpi_dir_person(x.person_id, false) || jsonb_build_object('reach', x.reach)
                                                        ORDER BY x.person_id)
              FROM (SELECT * FROM r WHERE reach IN ('bouncing', 'invalid', 'none')
                     ORDER BY person_id LIMIT p_max) x), '[]'),
        'only_bouncing_or_invalid', coalesce((SELECT jsonb_agg(anpi_dir_person(x.person_id, false) ORDER BY x.person_id)
              FROM (SELECT * FROM r WHERE reach IN ('bouncing', 'invalid')
                     ORDER BY person_id LIMIT p_max) x), '[]'),
        'list_cap', p_max,
        'groups', coalesce((SELECT jsonb_agg(jsonb_build_object(
                'id', g.id, 'path', g.path,
                'members', coalesce(gs.members, 0),
                'valid', coalesce(gs.valid, 0),
                'unverified_only', coalesce(gs.unverified_only, 0),
                'only_bouncing_or_invalid', coalesce(gs.only_bad, 0),
                'no_address', coalesce(gs.no_address, 0),
                'no_usable_address', coalesce(gs.no_usable, 0))
              ORDER BY g.path) FROM groups g LEFT JOIN gs ON gs.group_id = g.id), '[]'));
$$;
