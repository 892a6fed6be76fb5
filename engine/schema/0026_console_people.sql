-- 0026_console_people.sql - the people of one broadcast, for the console.
--
-- The console's broadcast page lists who has answered and who has not, with
-- each person's latest answer and the last message written back to them, so
-- a group admin can write back from a phone.  The rows are the recipients
-- the account may count (anpi_scoped_recipients of 0018: the rule of
-- anpi_scope_recipients, resolved once instead of per recipient), and the
-- broadcast must be visible to the account (anpi_scoped_visible): outside
-- the scope the answer is NULL, exactly as for an unknown broadcast.
--
-- At 11,500 recipients the page must stay small: each list is capped at
-- p_limit rows (ordered by person id), and the totals say how many there
-- are, so the page can tell that it shows only the first ones.

CREATE FUNCTION anpi_console_people_json(p_account bigint, p_broadcast bigint, p_limit int)
RETURNS jsonb LANGUAGE sql STABLE
    SET jit = off AS $$
    WITH r AS MATERIALIZED (
        SELECT x.id, x.person_id, x.answered_at FROM anpi_scoped_recipients(p_account, p_broadcast) x
    ),
    lim AS (SELECT greatest(least(coalesce(p_limit, 100), 1000), 0) AS n),
    pick AS (
        (SELECT r.id, r.person_id, r.answered_at FROM r WHERE r.answered_at IS NULL
          ORDER BY r.person_id COLLATE "C" LIMIT (SELECT n FROM lim))
        UNION ALL
        (SELECT r.id, r.person_id, r.answered_at FROM r WHERE r.answered_at IS NOT NULL
          ORDER BY r.person_id COLLATE "C" LIMIT (SELECT n FROM lim))
    ),
    rows AS (
        SELECT pk.person_id, pk.answered_at, p.name, p.kana,
               (SELECT coalesce(jsonb_object_agg(a.question_id, a.choice), '{}'::jsonb)
                  FROM (SELECT DISTINCT ON (s.question_id) s.question_id, s.choice
                          FROM responses s WHERE s.recipient_id = pk.id
                         ORDER BY s.question_id, s.id DESC) a) AS answers,
               (SELECT w.text FROM write_backs w WHERE w.recipient_id = pk.id ORDER BY w.id DESC LIMIT 1)
                   AS written_back
          FROM pick pk JOIN people p ON p.id = pk.person_id
    ),
    person AS (
        SELECT rows.answered_at IS NOT NULL AS answered, rows.person_id,
               jsonb_build_object('id', rows.person_id, 'name', rows.name, 'kana', rows.kana,
                                  'answered_at', rows.answered_at, 'answers', rows.answers,
                                  'written_back', rows.written_back) AS obj
          FROM rows
    )
    SELECT CASE WHEN NOT anpi_scoped_visible(p_account, p_broadcast, (SELECT count(*) FROM r)) THEN NULL
           ELSE jsonb_build_object(
               'limit', (SELECT n FROM lim),
               'unanswered', jsonb_build_object(
                   'total', (SELECT count(*) FROM r WHERE r.answered_at IS NULL),
                   'people', coalesce((SELECT jsonb_agg(obj ORDER BY person_id COLLATE "C")
                                         FROM person WHERE NOT answered), '[]'::jsonb)),
               'answered', jsonb_build_object(
                   'total', (SELECT count(*) FROM r WHERE r.answered_at IS NOT NULL),
                   'people', coalesce((SELECT jsonb_agg(obj ORDER BY person_id COLLATE "C")
                                         FROM person WHERE answered), '[]'::jsonb)))
           END;
$$;
