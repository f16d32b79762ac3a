-- workorder 0.4 -> 0.5, part 30: a unit's parent now serves the unit's area or one
-- above it, and is not below it (units_before_write, part 30).  The update does not
-- refuse a unit already there; it says which ones the check would refuse, since a
-- parent elsewhere gives that unit's staff this unit's orders.
DO $parents$
DECLARE
    u record;
BEGIN
    FOR u IN SELECT c.code, c.parent_code, p.area_code AS parent_area, a.code AS area_code
               FROM workorder.units c
               JOIN workorder.units p ON p.code OPERATOR(pg_catalog.=) c.parent_code
               JOIN workorder.areas a ON a.code OPERATOR(pg_catalog.=) c.area_code
              WHERE NOT p.area_code OPERATOR(pg_catalog.=) ANY (a.path)
              ORDER BY c.code LOOP
        RAISE WARNING 'unit % (area %) has parent % (area %), which serves another place: its staff see this unit''s orders; correct parent_code',
            u.code, u.area_code, u.parent_code, u.parent_area;
    END LOOP;
END
$parents$;
