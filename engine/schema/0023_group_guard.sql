-- 0023_group_guard.sql - the group tree stays a tree.
--
-- Imports name groups by path, so they cannot describe a cycle; but rows can
-- also be changed by hand or by a later API, and a cycle would make every
-- recursive walk of the tree (scope, audience, tally) loop until the
-- recursive CTE's UNION stopped it with wrong answers.  This trigger refuses
-- a parent that is the group itself or one of its descendants, naming both.
CREATE FUNCTION anpi_groups_no_cycle() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    v_cur bigint := NEW.parent_id;
    v_depth int := 0;
BEGIN
    WHILE v_cur IS NOT NULL LOOP
        IF v_cur = NEW.id THEN
            RAISE EXCEPTION 'group cycle: % (id %) cannot be placed under % (id %), which is inside it',
                NEW.path, NEW.id, (SELECT path FROM groups WHERE id = NEW.parent_id), NEW.parent_id
                USING ERRCODE = 'integrity_constraint_violation';
        END IF;
        SELECT parent_id INTO v_cur FROM groups WHERE id = v_cur;
        v_depth := v_depth + 1;
        IF v_depth > 10000 THEN
            RAISE EXCEPTION 'group cycle: the tree above % (id %) does not end', NEW.path, NEW.id;
        END IF;
    END LOOP;
    RETURN NEW;
END;
$$;
CREATE TRIGGER groups_no_cycle BEFORE INSERT OR UPDATE OF parent_id ON groups
    FOR EACH ROW EXECUTE FUNCTION anpi_groups_no_cycle();
