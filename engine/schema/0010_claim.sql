-- 0010_claim.sql - claiming that stays fast when the queue is deep, and
-- leases of dead nodes given back quickly.
--
-- The claim used to sweep expired broadcasts and look for expired leases
-- itself; both made every claim slower as the queue grew (62 ms per claim
-- at 100,000 queued).  Now the housekeeping tick does both, and the claim
-- is one index range scan over due rows.

DROP INDEX deliveries_due;
CREATE INDEX deliveries_due ON deliveries (next_attempt_at, id) WHERE status IN ('queued', 'deferred');
CREATE INDEX deliveries_leased ON deliveries (lease_until) WHERE status = 'sending';

DROP FUNCTION anpi_claim(text, int, interval);
CREATE FUNCTION anpi_claim(p_owner text, p_limit int, p_lease interval)
RETURNS TABLE (delivery_id bigint, address text, message_id text, round int, recipient_id bigint,
               person_name text, kind text, broadcast_id bigint, incident_id bigint, approval_id bigint,
               drill boolean, subject text, body text, vars jsonb, attempts int, sender text)
LANGUAGE sql AS $$
    WITH c AS (
        SELECT d.id FROM deliveries d
         WHERE d.status IN ('queued', 'deferred') AND d.next_attempt_at <= now()
         ORDER BY d.next_attempt_at, d.id
         LIMIT p_limit
         FOR UPDATE SKIP LOCKED
    ), u AS (
        UPDATE deliveries d SET status = 'sending', lease_owner = p_owner,
               lease_until = now() + p_lease, attempts = d.attempts + 1
          FROM c WHERE d.id = c.id
        RETURNING d.id, d.address, d.message_id, d.round, d.recipient_id, d.broadcast_id, d.attempts
    )
    SELECT u.id, u.address, u.message_id, u.round, u.recipient_id, p.name, b.kind, b.id,
           b.incident_id, b.approval_id, b.drill, b.subject, b.body, b.vars, u.attempts, b.sender
      FROM u
      JOIN recipients r ON r.id = u.recipient_id
      JOIN people p ON p.id = r.person_id
      JOIN broadcasts b ON b.id = u.broadcast_id
     WHERE b.expires_at > now()
     ORDER BY u.id;
$$;

-- Queue maintenance, run by the housekeeping tick of every node:
--   - nothing stale is mailed: queued deliveries of expired broadcasts close;
--   - a lease whose time ran out goes back to the queue;
--   - a node whose heartbeat stopped (killed, host gone) has its leases given
--     back at once instead of after the lease time.
CREATE FUNCTION anpi_queue_maintenance(p_node text) RETURNS int LANGUAGE plpgsql AS $$
DECLARE
    v_done int := 0;
    v_n int;
BEGIN
    UPDATE deliveries d SET status = 'expired', lease_owner = NULL, lease_until = NULL
      FROM broadcasts b
     WHERE b.id = d.broadcast_id AND b.expires_at <= now()
       AND d.status IN ('queued', 'deferred', 'sending');
    GET DIAGNOSTICS v_n = ROW_COUNT;
    v_done := v_done + v_n;
    UPDATE deliveries SET status = 'deferred', lease_owner = NULL, lease_until = NULL
     WHERE status = 'sending'
       AND (lease_until < now()
            OR (lease_owner <> p_node
                AND NOT EXISTS (SELECT 1 FROM nodes n WHERE n.node_id = deliveries.lease_owner
                                 AND n.seen_at > now() - interval '30 seconds')));
    GET DIAGNOSTICS v_n = ROW_COUNT;
    RETURN v_done + v_n;
END;
$$;
