-- 0013_import.sql - directory import with a diff: dry run, update mode, daily sync.
--
-- anpi_import_people (0003) upserts every row it is given.  HR wants to see
-- what an import WOULD do before it does it, and the daily sync treats the
-- file as the whole directory: people missing from it leave.  So the import
-- first compares the rows with the directory, reports additions, changes
-- (which fields) and removals, and only then, unless it is a dry run, applies
-- exactly that difference in the same transaction.

-- A person who left but still appears in the history (recipients of past
-- broadcasts reference them) cannot be deleted: their addresses, regions,
-- groups and trips are, so no audience reaches them, and removed_at marks the
-- row as gone from the directory.  Importing the id again brings them back.
ALTER TABLE people ADD COLUMN removed_at timestamptz;

-- p_rows: as anpi_import_people.  p_mode: 'merge' (the rows are added or
-- updated, nobody else is touched) or 'update' (the rows are the whole
-- directory: everyone else is removed).  p_dry_run: report only.
-- Returns {"mode", "dry_run", "added": [ids], "changed": [{"id", "fields"}],
-- "removed": [ids], "unchanged": n, "errors": [], "rows", "created", "updated"}
-- or, when refused, {"errors": ["..."]} with nothing changed.
CREATE FUNCTION anpi_import_people2(p_rows jsonb, p_mode text, p_dry_run boolean, p_actor text)
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
BEGIN
    IF p_mode IS NULL OR p_mode NOT IN ('merge', 'update') THEN
        RETURN jsonb_build_object('errors', jsonb_build_array(
            format('mode must be "merge" or "update", not "%s"', p_mode)));
    END IF;
    -- two imports at once would each diff against the directory the other
    -- is changing
    PERFORM pg_advisory_xact_lock(hashtext('anpi_import_people'));

    CREATE TEMP TABLE imp2_new ON COMMIT DROP AS
    SELECT x->>'id' AS id, x->>'name' AS name, coalesce(x->>'kana', '') AS kana,
           ARRAY(SELECT e FROM jsonb_array_elements_text(x->'emails') WITH ORDINALITY t(e, n)
                  ORDER BY n) AS emails,
           ARRAY(SELECT r::int FROM jsonb_array_elements_text(coalesce(x->'regions', '[]')) r
                  ORDER BY 1) AS regions,
           ARRAY(SELECT g FROM jsonb_array_elements_text(coalesce(x->'groups', '[]')) g
                  ORDER BY 1) AS groups,
           x AS row
      FROM jsonb_array_elements(p_rows) x;
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
           ARRAY(SELECT g.path FROM group_members m JOIN groups g ON g.id = m.group_id
                  WHERE m.person_id = p.id ORDER BY 1) AS groups
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
                     CASE WHEN n.groups <> o.groups THEN 'groups' END]) f
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

        DELETE FROM person_addresses WHERE person_id = ANY (v_removed);
        DELETE FROM person_regions WHERE person_id = ANY (v_removed);
        DELETE FROM group_members WHERE person_id = ANY (v_removed);
        DELETE FROM trips WHERE person_id = ANY (v_removed);
        FOREACH v_id IN ARRAY v_removed LOOP
            BEGIN
                DELETE FROM people WHERE id = v_id;
            EXCEPTION WHEN foreign_key_violation THEN
                -- still named in the history: keep the row, marked removed
                UPDATE people SET removed_at = now(), updated_at = now() WHERE id = v_id;
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

-- The daily sync's outcome: an audit entry, and the report mailed (a kind
-- 'info' broadcast) to the members of p_group.  p_report is what
-- anpi_import_people2 returned, or {"errors": [...]} when the file could not
-- be fetched or parsed (then nothing was imported).  Returns the broadcast
-- id, or NULL when the group has nobody to mail.
CREATE FUNCTION anpi_directory_sync_report(p_report jsonb, p_source text, p_group text, p_actor text)
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    v_ok boolean := jsonb_array_length(coalesce(p_report->'errors', '[]')) = 0;
    v_subject text;
    v_body text;
    v_bid bigint;
    v_changed text;
BEGIN
    PERFORM anpi_audit(p_actor, CASE WHEN v_ok THEN 'directory.sync' ELSE 'directory.sync_failed' END,
                       'people', jsonb_build_object('source', p_source,
                           'added', jsonb_array_length(coalesce(p_report->'added', '[]')),
                           'changed', jsonb_array_length(coalesce(p_report->'changed', '[]')),
                           'removed', jsonb_array_length(coalesce(p_report->'removed', '[]')),
                           'unchanged', coalesce((p_report->>'unchanged')::int, 0),
                           'errors', jsonb_array_length(coalesce(p_report->'errors', '[]'))));

    SELECT string_agg(format('  %s: %s', c->>'id',
                             (SELECT string_agg(f, ', ') FROM jsonb_array_elements_text(c->'fields') f)),
                      E'\n')
      INTO v_changed FROM jsonb_array_elements(coalesce(p_report->'changed', '[]')) c;
    IF v_ok THEN
        v_subject := format('【名簿同期】追加 %s / 変更 %s / 削除 %s',
                            jsonb_array_length(p_report->'added'),
                            jsonb_array_length(p_report->'changed'),
                            jsonb_array_length(p_report->'removed'));
        v_body := format(E'名簿の自動同期が完了しました (directory sync done).\n取込元 (source): %s\n\n'
                         || E'追加 (added): %s\n%s\n変更 (changed): %s\n%s\n削除 (removed): %s\n%s\n'
                         || E'変更なし (unchanged): %s\n',
            p_source,
            jsonb_array_length(p_report->'added'),
            coalesce((SELECT string_agg('  ' || a, E'\n') FROM jsonb_array_elements_text(p_report->'added') a), '  -'),
            jsonb_array_length(p_report->'changed'), coalesce(v_changed, '  -'),
            jsonb_array_length(p_report->'removed'),
            coalesce((SELECT string_agg('  ' || r, E'\n') FROM jsonb_array_elements_text(p_report->'removed') r), '  -'),
            coalesce(p_report->>'unchanged', '0'));
    ELSE
        v_subject := '【名簿同期】失敗: 何も変更していません (directory sync failed)';
        v_body := format(E'名簿の自動同期に失敗しました。名簿は変更していません。\n'
                         || E'The directory sync failed; nothing was changed.\n取込元 (source): %s\n\n%s\n',
            p_source,
            (SELECT string_agg('  ' || e, E'\n')
               FROM (SELECT e FROM jsonb_array_elements_text(p_report->'errors') e LIMIT 200) x));
    END IF;

    -- The report is data, not a template: it goes in as a variable so a
    -- "{{" in a name is shown, never expanded.
    v_bid := anpi_create_broadcast('info', NULL, NULL, NULL, 'directory-sync', false,
        '{{sync_subject}}', '{{sync_body}}',
        jsonb_build_object('sync_subject', v_subject, 'sync_body', v_body), '[]', NULL, 0,
        now() + interval '1 day', NULL, ARRAY[p_group], NULL, NULL, p_actor);
    IF NOT EXISTS (SELECT 1 FROM recipients WHERE broadcast_id = v_bid) THEN
        RETURN NULL;
    END IF;
    RETURN v_bid;
END;
$$;

-- One node runs a given day's scheduled sync: the first to move the marker
-- to p_day ('YYYY-MM-DD', Japan time) gets true; everyone else NULL.
CREATE FUNCTION anpi_directory_sync_claim(p_day text) RETURNS boolean LANGUAGE sql AS $$
    INSERT INTO settings (name, value) VALUES ('directory.sync.last_day', p_day)
    ON CONFLICT (name) DO UPDATE SET value = excluded.value WHERE settings.value < excluded.value
    RETURNING true;
$$;
