-- 0016_import_attributes.sql - attributes, city codes and masked addresses in
-- the directory import (anpi_import_people2 of 0013, same signature).
--
-- A row (engine/directory.c) may now carry:
--   "cities":     [13101, ...]  JIS X 0402 5-digit codes; their prefectures
--                 are in "regions" already (the parser adds them);
--   "attributes": {"内線": "1234", ...}  only when the CSV has the column;
--   "line":       the row's line in the CSV, for messages.
-- A key that is absent leaves that part of the person as it is, so a CSV in
-- the spine's format (no attributes column) never wipes attributes; a
-- present key is the whole truth (an empty cell clears).
--
-- An export masks every address ("****@example.jp"), and an export is meant
-- to be edited and imported again.  Taking the masked text as an address
-- would overwrite everyone's real address with it, so a masked address
-- stands for the person's current address with the same mask: the n-th
-- "****@example.jp" of a row is the n-th of the person's addresses at
-- example.jp (by position).  One that matches nothing refuses the import.

-- p_emails with each masked address replaced by the address it stands for,
-- NULL where none; same length and order.
CREATE FUNCTION anpi_import_unmask(p_person text, p_emails text[]) RETURNS text[]
LANGUAGE sql STABLE AS $$
    WITH e AS (
        SELECT u.addr, u.n, row_number() OVER (PARTITION BY u.addr ORDER BY u.n) AS k
          FROM unnest(p_emails) WITH ORDINALITY u(addr, n)),
    cur AS (
        SELECT pa.address, lower(anpi_dir_mask(pa.address)) AS masked,
               row_number() OVER (PARTITION BY lower(anpi_dir_mask(pa.address))
                                  ORDER BY pa.position, pa.address) AS k
          FROM person_addresses pa JOIN people p ON p.id = pa.person_id
         WHERE pa.person_id = p_person AND p.removed_at IS NULL)
    SELECT ARRAY(SELECT CASE WHEN left(e.addr, 5) = '****@' THEN c.address ELSE e.addr END
                   FROM e LEFT JOIN cur c ON left(e.addr, 5) = '****@' AND c.masked = lower(e.addr)
                                         AND c.k = e.k
                  ORDER BY e.n);
$$;

-- p_rows: as anpi_import_people, plus the keys above.  p_mode: 'merge' (the
-- rows are added or updated, nobody else is touched) or 'update' (the rows
-- are the whole directory: everyone else is removed).  p_dry_run: report only.
-- Returns {"mode", "dry_run", "added": [ids], "changed": [{"id", "fields"}],
-- "removed": [ids], "unchanged": n, "errors": [], "rows", "created", "updated"}
-- or, when refused, {"errors": ["..."]} with nothing changed.  fields are
-- among name, kana, emails, regions, cities, groups, attributes.
CREATE OR REPLACE FUNCTION anpi_import_people2(p_rows jsonb, p_mode text, p_dry_run boolean,
                                               p_actor text)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    v_added text[];
    v_removed text[];
    v_changed jsonb;
    v_unchanged int;
    v_total int;
    v_current int;
    v_apply jsonb;
    v_id text;
    v_errors jsonb;
BEGIN
    IF p_mode IS NULL OR p_mode NOT IN ('merge', 'update') THEN
        RETURN jsonb_build_object('errors', jsonb_build_array(
            format('mode must be "merge" or "update", not "%s"', p_mode)));
    END IF;
    -- two imports at once would each diff against the directory the other
    -- is changing
    PERFORM pg_advisory_xact_lock(hashtext('anpi_import_people'));

    CREATE TEMP TABLE imp2_in ON COMMIT DROP AS
    SELECT x->>'id' AS id, (x->>'line')::int AS line, x AS row,
           anpi_import_unmask(x->>'id', ARRAY(
               SELECT e FROM jsonb_array_elements_text(x->'emails') WITH ORDINALITY t(e, n)
                ORDER BY n)) AS emails,
           ARRAY(SELECT e FROM jsonb_array_elements_text(x->'emails') WITH ORDINALITY t(e, n)
                  ORDER BY n) AS given
      FROM jsonb_array_elements(p_rows) x;

    SELECT jsonb_agg(format('line %s: emails: "%s" is masked (as an export writes it) and %s has '
                            'no other current address at %s it could stand for; write the '
                            'address in full',
                            coalesce(i.line::text, '?'), u.given, i.id,
                            substr(u.given, strpos(u.given, '@') + 1))
                     ORDER BY i.line, u.n)
      INTO v_errors
      FROM imp2_in i, unnest(i.given, i.emails) WITH ORDINALITY u(given, resolved, n)
     WHERE u.resolved IS NULL;
    IF v_errors IS NOT NULL THEN
        RETURN jsonb_build_object('errors', v_errors);
    END IF;

    CREATE TEMP TABLE imp2_new ON COMMIT DROP AS
    SELECT i.id, d.row->>'name' AS name, coalesce(d.row->>'kana', '') AS kana, d.emails,
           ARRAY(SELECT r::int FROM jsonb_array_elements_text(coalesce(d.row->'regions', '[]')) r
                  ORDER BY 1) AS regions,
           CASE WHEN d.row ? 'cities' THEN
               ARRAY(SELECT DISTINCT c::int FROM jsonb_array_elements_text(d.row->'cities') c ORDER BY 1)
           END AS cities,
           ARRAY(SELECT g FROM jsonb_array_elements_text(coalesce(d.row->'groups', '[]')) g
                  ORDER BY 1) AS groups,
           CASE WHEN d.row ? 'attributes' THEN d.row->'attributes' END AS attributes,
           d.row
      FROM imp2_in i,
           LATERAL (SELECT ARRAY(SELECT a FROM (
                              -- a masked address and the same address in full
                              -- are one address
                              SELECT DISTINCT ON (lower(a)) a, n
                                FROM unnest(i.emails) WITH ORDINALITY t(a, n)
                               ORDER BY lower(a), n) x ORDER BY n) AS emails) e,
           LATERAL (SELECT e.emails, i.row || jsonb_build_object('emails', to_jsonb(e.emails)) AS row) d;
    v_total := (SELECT count(*) FROM imp2_new);
    v_current := (SELECT count(*) FROM people WHERE removed_at IS NULL);

    -- An empty file in update mode would empty the directory: far more
    -- likely a broken export than a company without staff.
    IF p_mode = 'update' AND v_total = 0 AND v_current > 0 THEN
        RETURN jsonb_build_object('errors', jsonb_build_array(format(
            'the CSV has no people: update mode would remove all %s people; nothing was changed',
            v_current)));
    END IF;

    CREATE TEMP TABLE imp2_old ON COMMIT DROP AS
    SELECT p.id, p.name, p.kana,
           ARRAY(SELECT a.address FROM person_addresses a WHERE a.person_id = p.id
                  ORDER BY a.position, a.address) AS emails,
           ARRAY(SELECT r.pref FROM person_regions r WHERE r.person_id = p.id ORDER BY 1) AS regions,
           ARRAY(SELECT c.city FROM person_cities c WHERE c.person_id = p.id ORDER BY 1) AS cities,
           ARRAY(SELECT g.path FROM group_members m JOIN groups g ON g.id = m.group_id
                  WHERE m.person_id = p.id ORDER BY 1) AS groups,
           p.attributes
      FROM people p
     WHERE p.removed_at IS NULL AND p.id IN (SELECT id FROM imp2_new)
        OR p.removed_at IS NULL AND p_mode = 'update';

    v_added := ARRAY(SELECT n.id FROM imp2_new n
                      WHERE NOT EXISTS (SELECT 1 FROM imp2_old o WHERE o.id = n.id) ORDER BY n.id);
    v_removed := CASE WHEN p_mode = 'update' THEN
                     ARRAY(SELECT o.id FROM imp2_old o
                            WHERE NOT EXISTS (SELECT 1 FROM imp2_new n WHERE n.id = o.id) ORDER BY o.id)
                 ELSE '{}'::text[] END;

    CREATE TEMP TABLE imp2_diff ON COMMIT DROP AS
    SELECT n.id, n.row,
           ARRAY(SELECT f FROM unnest(ARRAY[
                     CASE WHEN n.name <> o.name THEN 'name' END,
                     CASE WHEN n.kana <> o.kana THEN 'kana' END,
                     CASE WHEN n.emails <> o.emails THEN 'emails' END,
                     CASE WHEN n.regions <> o.regions THEN 'regions' END,
                     CASE WHEN n.cities <> o.cities THEN 'cities' END,
                     CASE WHEN n.groups <> o.groups THEN 'groups' END,
                     CASE WHEN n.attributes <> o.attributes THEN 'attributes' END]) f
                  WHERE f IS NOT NULL) AS fields
      FROM imp2_new n JOIN imp2_old o ON o.id = n.id;
    v_changed := coalesce((SELECT jsonb_agg(jsonb_build_object('id', id, 'fields', to_jsonb(fields))
                                            ORDER BY id)
                             FROM imp2_diff WHERE cardinality(fields) > 0), '[]');
    v_unchanged := (SELECT count(*) FROM imp2_diff WHERE cardinality(fields) = 0);

    IF NOT p_dry_run THEN
        -- only what differs: unchanged people keep their rows (and
        -- updated_at) as they are
        v_apply := coalesce((SELECT jsonb_agg(n.row) FROM imp2_new n
                              WHERE n.id = ANY (v_added)
                                 OR n.id IN (SELECT id FROM imp2_diff WHERE cardinality(fields) > 0)),
                            '[]');
        IF jsonb_array_length(v_apply) > 0 THEN
            PERFORM anpi_import_people(v_apply, p_actor);
        END IF;
        UPDATE people SET removed_at = NULL, updated_at = now()
         WHERE id = ANY (v_added) AND removed_at IS NOT NULL;

        -- what anpi_import_people does not know about
        UPDATE people p SET attributes = n.attributes, updated_at = now()
          FROM imp2_new n
         WHERE p.id = n.id AND n.attributes IS NOT NULL AND p.attributes <> n.attributes
           AND (n.id = ANY (v_added)
                OR n.id IN (SELECT id FROM imp2_diff WHERE 'attributes' = ANY (fields)));
        DELETE FROM person_cities pc USING imp2_new n
         WHERE pc.person_id = n.id AND n.cities IS NOT NULL AND NOT pc.city = ANY (n.cities);
        INSERT INTO person_cities (person_id, city)
        SELECT n.id, c FROM imp2_new n, unnest(n.cities) c WHERE n.cities IS NOT NULL
        ON CONFLICT DO NOTHING;
        UPDATE people SET updated_at = now()
         WHERE id IN (SELECT id FROM imp2_diff WHERE 'cities' = ANY (fields));

        DELETE FROM person_addresses WHERE person_id = ANY (v_removed);
        DELETE FROM person_regions WHERE person_id = ANY (v_removed);
        DELETE FROM person_cities WHERE person_id = ANY (v_removed);
        DELETE FROM group_members WHERE person_id = ANY (v_removed);
        DELETE FROM trips WHERE person_id = ANY (v_removed);
        FOREACH v_id IN ARRAY v_removed LOOP
            BEGIN
                DELETE FROM people WHERE id = v_id;
            EXCEPTION WHEN foreign_key_violation THEN
                -- still named in the history: keep the row, marked removed,
                -- without the attributes (personal data nobody needs now)
                UPDATE people SET removed_at = now(), updated_at = now(), attributes = '{}'
                 WHERE id = v_id;
            END;
        END LOOP;

        PERFORM anpi_audit(p_actor, 'directory.' || p_mode, 'people',
            jsonb_build_object('rows', v_total, 'added', cardinality(v_added),
                               'changed', jsonb_array_length(v_changed),
                               'removed', cardinality(v_removed), 'unchanged', v_unchanged));
    END IF;

    RETURN jsonb_build_object(
        'mode', p_mode, 'dry_run', p_dry_run,
        'added', to_jsonb(v_added), 'changed', v_changed, 'removed', to_jsonb(v_removed),
        'unchanged', v_unchanged, 'errors', '[]'::jsonb,
        'rows', v_total, 'created', cardinality(v_added), 'updated', jsonb_array_length(v_changed));
END;
$$;
