-- 0032_drop_unused.sql - functions nothing calls any more.
--
-- Each was superseded by a later migration that dropped or rewrote its
-- callers, and PostgreSQL does not track calls from function bodies, so they
-- stayed callable.  Some read people or recipients without naming a scope
-- (0017 removed the unscoped person formatter so that no query could), so
-- they go rather than wait for a caller:
--
--   anpi_scope_recipients   0014/0029; 0018's anpi_scoped_recipients does its job
--   anpi_dir_reach          0011; its caller anpi_dir_status_json(int) was dropped by 0017
--   anpi_dir_present        0011/0022; only anpi_dir_reach still called it
--   anpi_manual_audience    0012; 0018's anpi_manual_broadcast uses anpi_audience_people
--   anpi_broadcast_curve    0012; 0018's anpi_broadcast_json computes the curve itself
--   anpi_answer_times       0012; only anpi_broadcast_curve called it

DROP FUNCTION anpi_scope_recipients(bigint, bigint);
DROP FUNCTION anpi_dir_reach();
DROP FUNCTION anpi_dir_present(people);
DROP FUNCTION anpi_manual_audience(text[], bigint[], boolean, int[]);
DROP FUNCTION anpi_broadcast_curve(bigint);
DROP FUNCTION anpi_answer_times(bigint);
