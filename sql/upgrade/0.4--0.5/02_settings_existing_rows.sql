-- workorder 0.4 -> 0.5, part 02: the rows written before settings were checked.
-- The trigger checks rows as they are written; the update does not refuse a row
-- already there (the parts that read it still check it, as before), but it says
-- which ones the check would refuse, so that the district corrects them.
DO $existing$
DECLARE
    s record;
    problem text;
    problem_detail text;
BEGIN
    FOR s IN SELECT x.name, x.value FROM workorder.settings x ORDER BY x.name LOOP
        BEGIN
            PERFORM workorder.check_setting(s.name, s.value);
        EXCEPTION WHEN SQLSTATE 'WO010' THEN
            GET STACKED DIAGNOSTICS problem = MESSAGE_TEXT, problem_detail = PG_EXCEPTION_DETAIL;
            RAISE WARNING 'settings row % = % would now be refused: % (%); correct or delete it (workorder.setting_definitions lists the settings)',
                s.name, pg_catalog.quote_literal(s.value), problem, problem_detail;
        END;
    END LOOP;
END
$existing$;
