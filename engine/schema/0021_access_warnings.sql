-- 0021_access_warnings.sql - warnings on unusual access to personal data.
--
-- The admin API notes every read of people records (lists, one person,
-- exports, the registration status) with the number of people rows it
-- returned (admin-api/endpoints/access.c).  Two things raise a warning entry
-- in the audit log:
--
--   access.bulk_read     an account read more than bulk_read_rows people rows
--                        in the last 10 minutes (rolling, by the minute);
--                        at most once per account per 10 minutes
--   access.unusual_hour  an account read people outside office hours, Japan
--                        time; at most once per account per hour
--
-- The bootstrap token (account 0) has no accounts row, so neither table
-- refers to accounts.

-- Rows read per account per minute; only the last 10 minutes are kept (the
-- account's older minutes are deleted on its next read).
CREATE TABLE access_reads (
    account_id  bigint NOT NULL,
    minute      timestamptz NOT NULL,
    rows        bigint NOT NULL CHECK (rows >= 0),
    PRIMARY KEY (account_id, minute)
);

-- One row per account that read people: when each warning was last given.
-- Notes of one account serialise on this row (the upsert locks it), so two
-- concurrent reads cannot both decide to warn.
CREATE TABLE access_watch (
    account_id         bigint PRIMARY KEY,
    bulk_warned_at     timestamptz,
    unusual_warned_at  timestamptz
);

-- Is p_at within office hours (minutes after midnight, Japan time)?  The
-- range is [start, end); end < start wraps midnight (22:00-06:00); start =
-- end means no office hours are set, so no hour is unusual.
CREATE FUNCTION anpi_office_hours(p_at timestamptz, p_start_min int, p_end_min int) RETURNS boolean
LANGUAGE sql STABLE AS $$
    WITH t(m) AS (SELECT (extract(hour FROM p_at AT TIME ZONE 'Asia/Tokyo') * 60
                          + extract(minute FROM p_at AT TIME ZONE 'Asia/Tokyo'))::int)
    SELECT CASE WHEN p_start_min = p_end_min THEN true
                WHEN p_start_min < p_end_min THEN m >= p_start_min AND m < p_end_min
                ELSE m >= p_start_min OR m < p_end_min END
      FROM t;
$$;

-- Note that account p_account (login p_login, from p_peer) read p_rows
-- people rows through p_what; writes the warning entries described above.
-- Returns whether each warning was given now and the rows read in the last
-- 10 minutes (the caller logs the warnings).  A read of no rows reads no
-- personal data and is not counted or warned about.
CREATE FUNCTION anpi_note_read(p_account bigint, p_login text, p_what text, p_rows bigint, p_peer text,
                               p_bulk_threshold int, p_office_start_min int, p_office_end_min int)
RETURNS TABLE (bulk_warned boolean, unusual_warned boolean, window_rows bigint)
LANGUAGE plpgsql AS $$
DECLARE
    v_now timestamptz := now();
    v_minute timestamptz := date_trunc('minute', now());
    v_total bigint := 0;
    v_bulk boolean := false;
    v_unusual boolean := false;
    v_jst text := to_char(now() AT TIME ZONE 'Asia/Tokyo', 'HH24:MI');
BEGIN
    IF p_rows IS NULL OR p_rows <= 0 THEN
        RETURN QUERY SELECT false, false, 0::bigint;
        RETURN;
    END IF;
    INSERT INTO access_watch AS w (account_id) VALUES (p_account)
        ON CONFLICT (account_id) DO UPDATE SET account_id = w.account_id;
    INSERT INTO access_reads AS r (account_id, minute, rows) VALUES (p_account, v_minute, p_rows)
        ON CONFLICT (account_id, minute) DO UPDATE SET rows = r.rows + EXCLUDED.rows;
    DELETE FROM access_reads r WHERE r.account_id = p_account AND r.minute <= v_minute - interval '10 minutes';
    SELECT coalesce(sum(r.rows), 0) INTO v_total
      FROM access_reads r WHERE r.account_id = p_account AND r.minute > v_minute - interval '10 minutes';

    IF v_total > p_bulk_threshold THEN
        UPDATE access_watch w SET bulk_warned_at = v_now
         WHERE w.account_id = p_account
           AND (w.bulk_warned_at IS NULL OR w.bulk_warned_at <= v_now - interval '10 minutes');
        v_bulk := FOUND;
    END IF;
    IF NOT anpi_office_hours(v_now, p_office_start_min, p_office_end_min) THEN
        UPDATE access_watch w SET unusual_warned_at = v_now
         WHERE w.account_id = p_account
           AND (w.unusual_warned_at IS NULL OR w.unusual_warned_at <= v_now - interval '1 hour');
        v_unusual := FOUND;
    END IF;

    IF v_bulk THEN
        PERFORM anpi_audit(p_login, 'access.bulk_read', 'account:' || p_account,
                           jsonb_build_object('severity', 'warning', 'login', p_login, 'what', p_what,
                                              'rows', p_rows, 'window_rows', v_total, 'window_minutes', 10,
                                              'threshold', p_bulk_threshold, 'peer', p_peer));
    END IF;
    IF v_unusual THEN
        PERFORM anpi_audit(p_login, 'access.unusual_hour', 'account:' || p_account,
                           jsonb_build_object('severity', 'warning', 'login', p_login, 'what', p_what,
                                              'rows', p_rows, 'window_rows', v_total, 'peer', p_peer,
                                              'japan_time', v_jst,
                                              'office_hours', to_char(make_time(p_office_start_min / 60,
                                                                      p_office_start_min % 60, 0), 'HH24:MI')
                                                              || '-' ||
                                                              to_char(make_time(p_office_end_min / 60,
                                                                      p_office_end_min % 60, 0), 'HH24:MI')));
    END IF;
    RETURN QUERY SELECT v_bulk, v_unusual, v_total;
END;
$$;
