-- 0004_delivery.sql - delivery results in batches; suppression of dead
-- addresses; bounces and mail replies from the inbound LMTP listener.

-- Results of many delivery attempts in one statement.  Only the lease
-- owner's results count (a result arriving after the lease was taken over
-- by another node is dropped: that node will report its own).  A
-- synchronous "user unknown" (status 'bounced') marks the address invalid at
-- once, so the next broadcast does not try it (carriers throttle senders
-- whose lists hold many unknown addresses).
CREATE FUNCTION anpi_deliveries_done(p_ids bigint[], p_owner text, p_status text[], p_replies jsonb,
                                     p_retry_s int[])
RETURNS int LANGUAGE plpgsql AS $$
DECLARE
    v_n int;
BEGIN
    WITH r AS (
        SELECT u.id, u.status, p_replies->>((u.ord - 1)::int) AS reply, u.retry
          FROM unnest(p_ids, p_status, p_retry_s) WITH ORDINALITY AS u(id, status, retry, ord)
    ), upd AS (
        UPDATE deliveries d
           SET status = r.status,
               last_reply = r.reply,
               sent_at = CASE WHEN r.status = 'sent' THEN now() ELSE d.sent_at END,
               next_attempt_at = CASE WHEN r.status = 'deferred'
                                      THEN now() + make_interval(secs => r.retry) ELSE d.next_attempt_at END,
               lease_owner = NULL, lease_until = NULL
          FROM r
         WHERE d.id = r.id AND d.lease_owner = p_owner AND d.status = 'sending'
        RETURNING d.person_id, d.address, r.status
    ), bad AS (
        UPDATE person_addresses pa SET status = 'invalid'
          FROM upd WHERE upd.status = 'bounced' AND pa.person_id = upd.person_id AND pa.address = upd.address
        RETURNING 1
    )
    SELECT count(*) INTO v_n FROM upd;
    RETURN v_n;
END;
$$;

DROP FUNCTION anpi_delivery_done(bigint, text, text, text, int);

-- mail replies name the delivery by its Message-ID
CREATE INDEX deliveries_message_id ON deliveries (message_id);

ALTER TABLE person_addresses ADD COLUMN hard_bounces int NOT NULL DEFAULT 0;
ALTER TABLE person_addresses ADD COLUMN last_bounce text;

-- A DSN for a delivery (mapped from the VERP envelope sender).  Hard: the
-- delivery is bounced and the address counts a hard bounce (invalid after
-- the second); soft: the delivery is marked deferred with the reason.
CREATE FUNCTION anpi_bounce(p_delivery bigint, p_class text, p_status text, p_diag text)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    d deliveries%ROWTYPE;
    v_state text;
BEGIN
    SELECT * INTO d FROM deliveries WHERE id = p_delivery FOR UPDATE;
    IF NOT FOUND THEN
        RETURN jsonb_build_object('result', 'not_found');
    END IF;
    IF p_class = 'hard' THEN
        UPDATE deliveries SET status = 'bounced', last_reply = left(p_status || ' ' || p_diag, 600)
         WHERE id = d.id AND status IN ('sent', 'deferred', 'sending');
        UPDATE person_addresses
           SET hard_bounces = hard_bounces + 1, last_bounce = left(p_status || ' ' || p_diag, 600),
               status = CASE WHEN hard_bounces + 1 >= 2 THEN 'invalid' ELSE 'bouncing' END
         WHERE person_id = d.person_id AND address = d.address
        RETURNING status INTO v_state;
    ELSE
        UPDATE deliveries SET last_reply = left('delayed: ' || p_status || ' ' || p_diag, 600)
         WHERE id = d.id;
        v_state := 'unchanged';
    END IF;
    PERFORM anpi_audit('inbound', 'delivery.bounce', 'delivery:' || d.id,
                       jsonb_build_object('class', p_class, 'status', p_status));
    RETURN jsonb_build_object('result', 'recorded', 'address_status', v_state);
END;
$$;

-- A plain mail reply to a safety check (phones that cannot open links): the
-- In-Reply-To Message-ID (its "anpi.<id>@" part, p_message_id) names the delivery; the first line is a choice of
-- the broadcast's first question.
CREATE FUNCTION anpi_mail_reply(p_message_id text, p_choice_index int, p_line text)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    d deliveries%ROWTYPE;
    b broadcasts%ROWTYPE;
    q jsonb;
BEGIN
    SELECT * INTO d FROM deliveries WHERE message_id = p_message_id;
    IF NOT FOUND THEN
        RETURN jsonb_build_object('result', 'not_found');
    END IF;
    SELECT * INTO b FROM broadcasts WHERE id = d.broadcast_id;
    q := b.questions->0;
    IF b.kind <> 'safety' OR q IS NULL THEN
        RETURN jsonb_build_object('result', 'not_found');
    END IF;
    IF p_choice_index < 0 OR p_choice_index >= jsonb_array_length(q->'choices') THEN
        RETURN jsonb_build_object('result', 'invalid', 'error', 'no choice in: ' || left(p_line, 80));
    END IF;
    RETURN anpi_answer(d.recipient_id, jsonb_build_object(q->>'id', q->'choices'->>p_choice_index),
                       '', 'mail', '');
END;
$$;

-- The broadcast's first question's choices, for parsing a reply.
CREATE FUNCTION anpi_reply_choices(p_message_id text) RETURNS text[] LANGUAGE sql STABLE AS $$
    SELECT ARRAY(SELECT jsonb_array_elements_text(b.questions->0->'choices'))
      FROM deliveries d JOIN broadcasts b ON b.id = d.broadcast_id
     WHERE d.message_id = p_message_id
     LIMIT 1;
$$;
