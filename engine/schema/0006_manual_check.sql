-- 0006_manual_check.sql - a safety check to the travellers in a country,
-- started by hand (an operator's decision: no approval round).  The request
-- is stored as a document of source "api" and an event of type overseas, so
-- the incident looks like every other one.
CREATE FUNCTION anpi_manual_traveller_check(p_country text, p_title text, p_message jsonb,
                                            p_actor text, p_expires_s double precision)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    v_doc bigint;
    v_event bigint;
    v_key text := 'manual:' || p_country || ':' || to_char(clock_timestamp(), 'YYYYMMDDHH24MISSUS');
    v_body jsonb := jsonb_build_object('country', p_country, 'title', p_title, 'by', p_actor);
BEGIN
    INSERT INTO feed_documents (source, doc_id, sha256, body)
    VALUES ('api', v_key, md5(v_key || v_body::text), v_body::text)
    RETURNING id INTO v_doc;
    INSERT INTO events (document_id, type, source, doc_id, status, info_type, event_key, title,
                        issued_at, occurred_at, detail)
    VALUES (v_doc, 'overseas', 'api', v_key, 'actual', 'issue', v_key, p_title, now(), now(),
            jsonb_build_object('country', p_country, 'countries', jsonb_build_array(p_country),
                               'started_by', p_actor))
    RETURNING id INTO v_event;
    PERFORM anpi_audit(p_actor, 'travellers.check', 'country:' || p_country,
                       jsonb_build_object('title', p_title));
    RETURN anpi_incident_open('manual-traveller-check', 'overseas', 'overseas', p_title, false, v_event,
        v_key, now(), '', NULL, NULL, 0, '{}', p_message,
        jsonb_build_object('required', 0, 'group', '', 'timeout_s', 0, 'on_timeout', 'hold'),
        now() + make_interval(secs => p_expires_s), 'started by hand by ' || p_actor);
END;
$$;
