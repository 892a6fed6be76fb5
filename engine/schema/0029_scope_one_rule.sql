-- 0029_scope_one_rule.sql - one rule for "the people and recipients an
-- account sees".
--
-- 0014 defined anpi_scope_people and anpi_scope_recipients; 0018 wrote the
-- same rule again in an indexed form (anpi_scoped_people,
-- anpi_scoped_recipients) because the 0014 form made the planner scan every
-- membership.  The 0014 names stay (anpi_scope_broadcast uses them) but now
-- read the 0018 form, so the group-admin rule is written once and both
-- paths are as fast.
CREATE OR REPLACE FUNCTION anpi_scope_people(p_account bigint) RETURNS TABLE (person_id text)
LANGUAGE sql STABLE AS $$
    SELECT p.id FROM people p WHERE anpi_scope_all(p_account)
    UNION
    SELECT sp.person_id FROM anpi_scoped_people(p_account) sp;
$$;

CREATE OR REPLACE FUNCTION anpi_scope_recipients(p_account bigint, p_broadcast bigint)
RETURNS TABLE (recipient_id bigint) LANGUAGE sql STABLE AS $$
    SELECT r.id FROM anpi_scoped_recipients(p_account, p_broadcast) r;
$$;
