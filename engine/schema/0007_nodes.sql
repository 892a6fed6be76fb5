-- 0007_nodes.sql - live anpid nodes.  Every node writes its heartbeat on
-- the housekeeping tick; a node counts the live ones to take its share of
-- each destination's rate limit (the limits hold across nodes).
CREATE TABLE nodes (
    node_id  text PRIMARY KEY,
    seen_at  timestamptz NOT NULL DEFAULT now()
);

CREATE FUNCTION anpi_heartbeat(p_node text) RETURNS int LANGUAGE plpgsql AS $$
DECLARE
    v_n int;
BEGIN
    INSERT INTO nodes (node_id, seen_at) VALUES (p_node, now())
    ON CONFLICT (node_id) DO UPDATE SET seen_at = now();
    DELETE FROM nodes WHERE seen_at < now() - interval '1 day';
    SELECT count(*) INTO v_n FROM nodes WHERE seen_at > now() - interval '15 seconds';
    RETURN greatest(v_n, 1);
END;
$$;
