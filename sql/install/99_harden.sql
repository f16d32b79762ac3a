-- workorder install script, part 99: pin the search_path of every function.
--
-- Function bodies call PostGIS by its unqualified names, because PostGIS is
-- relocatable and its schema is only known at install time.  Pinning each
-- function's search_path to pg_catalog, the PostGIS schema and pg_temp (last)
-- means a caller's search_path, however hostile, cannot change what a body calls.
-- C functions name what they call themselves and are left alone, except those
-- that run as the owner (SECURITY DEFINER), which are pinned all the same.

DO $harden$
DECLARE
    postgis_schema text := (SELECT n.nspname FROM pg_catalog.pg_extension e
                              JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) e.extnamespace
                             WHERE e.extname OPERATOR(pg_catalog.=) 'postgis');
    fn regprocedure;
BEGIN
    FOR fn IN
        SELECT p.oid::regprocedure
          FROM pg_catalog.pg_proc p
          JOIN pg_catalog.pg_depend d ON d.objid OPERATOR(pg_catalog.=) p.oid
           AND d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_proc'::regclass
           AND d.refclassid OPERATOR(pg_catalog.=) 'pg_catalog.pg_extension'::regclass
           AND d.deptype OPERATOR(pg_catalog.=) 'e'
          JOIN pg_catalog.pg_extension e ON e.oid OPERATOR(pg_catalog.=) d.refobjid
         WHERE e.extname OPERATOR(pg_catalog.=) 'workorder'
           AND p.prokind OPERATOR(pg_catalog.=) 'f'
           AND (p.prolang OPERATOR(pg_catalog.<>) (SELECT l.oid FROM pg_catalog.pg_language l
                                                    WHERE l.lanname OPERATOR(pg_catalog.=) 'c')
                OR p.prosecdef)
    LOOP
        EXECUTE pg_catalog.format('ALTER FUNCTION %s SET search_path = pg_catalog, %I, pg_temp',
                                  fn, postgis_schema);
    END LOOP;
END
$harden$;
