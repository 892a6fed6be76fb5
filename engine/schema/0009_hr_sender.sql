-- 0009_hr_sender.sql - HR mail: its own sender address and RFC 8058
-- one-click unsubscribe.  Safety mail never carries List-Unsubscribe (staff
-- must not opt out of safety checks); an HR rule's mail does, and a person
-- who unsubscribed is left out of that rule's later mail.

ALTER TABLE broadcasts ADD COLUMN sender text NOT NULL DEFAULT 'safety'
    CHECK (sender IN ('safety', 'hr'));

CREATE TABLE hr_optouts (
    person_id  text NOT NULL REFERENCES people(id) ON DELETE CASCADE,
    rule_id    text NOT NULL,
    at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (person_id, rule_id)
);

DROP FUNCTION anpi_create_broadcast(text, bigint, bigint, text, text, boolean, text, text, jsonb, jsonb,
    interval, int, timestamptz, int[], text[], text[], bigint, text, text[]);

CREATE FUNCTION anpi_create_broadcast(
    p_kind text, p_incident bigint, p_approval bigint, p_dedupe text, p_rule text,
    p_drill boolean, p_subject text, p_body text, p_vars jsonb, p_questions jsonb,
    p_resend_after interval, p_max_resends int, p_expires timestamptz,
    p_prefs int[], p_groups text[], p_people text[], p_exclude_incident bigint, p_created_by text,
    p_countries text[] DEFAULT NULL, p_sender text DEFAULT 'safety')
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    v_id bigint;
BEGIN
    INSERT INTO broadcasts (kind, incident_id, approval_id, dedupe_key, rule_id, drill, subject,
                            body, vars, questions, resend_after, max_resends, expires_at, created_by, sender)
    VALUES (p_kind, p_incident, p_approval, p_dedupe, coalesce(p_rule, ''), p_drill, p_subject,
            p_body, coalesce(p_vars, '{}'), coalesce(p_questions, '[]'), p_resend_after,
            coalesce(p_max_resends, 0), p_expires, coalesce(p_created_by, 'engine'), coalesce(p_sender, 'safety'))
    ON CONFLICT DO NOTHING
    RETURNING id INTO v_id;
    IF v_id IS NULL THEN
        RETURN NULL;
    END IF;

    INSERT INTO recipients (broadcast_id, person_id)
    SELECT v_id, a.person_id
      FROM (SELECT person_id FROM anpi_audience(coalesce(p_prefs, '{}'), coalesce(p_groups, '{}'), p_countries)
            UNION SELECT unnest(coalesce(p_people, '{}'))) a
      JOIN people p ON p.id = a.person_id
     WHERE (coalesce(p_sender, 'safety') <> 'hr'
            OR NOT EXISTS (SELECT 1 FROM hr_optouts o WHERE o.person_id = a.person_id AND o.rule_id = p_rule))
       AND (p_exclude_incident IS NULL
        OR NOT EXISTS (SELECT 1 FROM recipients r JOIN broadcasts b ON b.id = r.broadcast_id
                        WHERE b.incident_id = p_exclude_incident AND b.kind = 'safety'
                          AND r.person_id = a.person_id));

    INSERT INTO deliveries (broadcast_id, recipient_id, person_id, address, message_id)
    SELECT v_id, r.id, r.person_id, pa.address,
           v_id || '.' || r.id || '.' || substr(md5(pa.address), 1, 12) || '.0'
      FROM recipients r
      JOIN person_addresses pa ON pa.person_id = r.person_id AND pa.status <> 'invalid'
     WHERE r.broadcast_id = v_id;

    PERFORM pg_notify('anpi_deliveries', v_id::text);
    RETURN v_id;
END;
$$;

-- The one-click unsubscribe of one HR delivery (RFC 8058 POST).
CREATE FUNCTION anpi_hr_unsubscribe(p_delivery bigint) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    d deliveries%ROWTYPE;
    b broadcasts%ROWTYPE;
BEGIN
    SELECT * INTO d FROM deliveries WHERE id = p_delivery;
    IF NOT FOUND THEN
        RETURN jsonb_build_object('result', 'not_found');
    END IF;
    SELECT * INTO b FROM broadcasts WHERE id = d.broadcast_id;
    IF b.sender <> 'hr' THEN
        RETURN jsonb_build_object('result', 'not_found');
    END IF;
    INSERT INTO hr_optouts (person_id, rule_id) VALUES (d.person_id, b.rule_id) ON CONFLICT DO NOTHING;
    PERFORM anpi_audit('person:' || d.person_id, 'hr.unsubscribe', 'rule:' || b.rule_id, '{}');
    RETURN jsonb_build_object('result', 'unsubscribed', 'rule', b.rule_id);
END;
$$;
