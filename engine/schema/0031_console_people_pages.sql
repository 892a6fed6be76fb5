-- 0031_console_people_pages.sql - the console's people lists, page by page.
--
-- 0026 showed the first p_limit (100) unanswered and answered people of a
-- broadcast and said how many more there were.  A group admin of a 課 of
-- 300 people calling the ones who have not answered needs all of them: each
-- list now starts at its own offset (the console's ?u= and ?a=), and says
-- where it starts so the page can link to the previous and next pages.
-- Same scope rule and the same NULL outside it.

DROP FUNCTION anpi_console_people_json(bigint, bigint, int);

CREATE FUNCTION anpi_console_people_json(p_account bigint, p_broadcast bigint, p_limit int,
                                         p_unanswered_offset int, p_answered_offset int)
RETURNS jsonb LANGUAGE sql STABLE
    SET jit = off AS $$
    WITH r AS MATERIALIZED (
        SELECT x.id, x.person_id, x.answered_at FROM anpi_scoped_recipients(p_account, p_broadcast) x
    ),
    lim AS (SELECT greatest(least(coalesce(p_limit, 100), 1000), 0) AS n,
                   greatest(coalesce(p_unanswered_offset, 0), 0) AS u,
                   greatest(coalesce(p_answered_offset, 0), 0) AS a),
    pick AS (
        (SELECT r.id, r.person_id, r.answered_at FROM r WHERE r.answered_at IS NULL
          ORDER BY r.person_id COLLATE "C" LIMIT (SELECT n FROM lim) OFFSET (SELECT u FROM lim))
        UNION ALL
        (SELECT r.id, r.person_id, r.answered_at FROM r WHERE r.answered_at IS NOT NULL
          ORDER BY r.person_id COLLATE "C" LIMIT (SELECT n FROM lim) OFFSET (SELECT a FROM lim))
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
                   'offset', (SELECT u FROM lim),
                   'people', coalesce((SELECT jsonb_agg(obj ORDER BY person_id COLLATE "C")
                                         FROM person WHERE NOT answered), '[]'::jsonb)),
               'answered', jsonb_build_object(
                   'total', (SELECT count(*) FROM r WHERE r.answered_at IS NOT NULL),
                   'offset', (SELECT a FROM lim),
                   'people', coalesce((SELECT jsonb_agg(obj ORDER BY person_id COLLATE "C")
                                         FROM person WHERE answered), '[]'::jsonb)))
           END;
$$;
