-- 0027_rule_audit.sql - rule changes in the audit log.
--
-- anpid hashes its rule files and their templates at every start
-- (engine/rules_audit.c) and calls anpi_rules_seen with {"path": "sha256"}.
-- Against what the last start recorded, each new file is a rules.added
-- entry, each different digest a rules.changed entry (old and new digest)
-- and each file no longer loaded a rules.removed entry.  The advisory lock
-- keeps two nodes starting together from both recording one change.
CREATE TABLE rule_files (
    path     text PRIMARY KEY,
    sha256   text NOT NULL,
    node     text NOT NULL,
    seen_at  timestamptz NOT NULL DEFAULT now()
);

CREATE FUNCTION anpi_rules_seen(p_files jsonb, p_node text) RETURNS int LANGUAGE plpgsql AS $$
DECLARE
    r record;
    n int := 0;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('anpi_rules_seen'));
    FOR r IN SELECT f.key AS path, f.value #>> '{}' AS sha256, rf.sha256 AS old
               FROM jsonb_each(p_files) f LEFT JOIN rule_files rf ON rf.path = f.key
              WHERE rf.sha256 IS DISTINCT FROM f.value #>> '{}'
              ORDER BY f.key LOOP
        PERFORM anpi_audit('node:' || p_node, CASE WHEN r.old IS NULL THEN 'rules.added' ELSE 'rules.changed' END,
                           'rules:' || r.path,
                           jsonb_build_object('sha256', r.sha256, 'previous_sha256', r.old, 'node', p_node));
        INSERT INTO rule_files (path, sha256, node) VALUES (r.path, r.sha256, p_node)
        ON CONFLICT (path) DO UPDATE SET sha256 = EXCLUDED.sha256, node = EXCLUDED.node, seen_at = now();
        n := n + 1;
    END LOOP;
    FOR r IN SELECT rf.path, rf.sha256 FROM rule_files rf WHERE NOT p_files ? rf.path ORDER BY rf.path LOOP
        PERFORM anpi_audit('node:' || p_node, 'rules.removed', 'rules:' || r.path,
                           jsonb_build_object('previous_sha256', r.sha256, 'node', p_node));
        DELETE FROM rule_files WHERE path = r.path;
        n := n + 1;
    END LOOP;
    RETURN n;
END;
$$;
