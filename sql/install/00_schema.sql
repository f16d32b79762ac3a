-- workorder install script, part 00: the schema's settings table.
--
-- The install script is assembled from sql/install/*.sql in name order.  Every
-- object is schema-qualified and every operator is written OPERATOR(pg_catalog.x),
-- so that installing under a hostile search_path cannot be hijacked.

\echo Use "CREATE EXTENSION workorder" to load this file. \quit

-- The database must be UTF8 (WO004).  Reports are Chinese text that the
-- similarity and the place numbers read as UTF-8: in a SQL_ASCII database a
-- connector could store GBK bytes, and then every later report near one of them
-- failed in dedup on the bytes it could not convert.  (A multibyte encoding such
-- as EUC_CN or GBK stops earlier, on the script's own UTF-8 characters.)
DO $$
BEGIN
    IF pg_catalog.getdatabaseencoding() OPERATOR(pg_catalog.<>) 'UTF8' THEN
        RAISE EXCEPTION USING ERRCODE = 'WO004',
            MESSAGE = pg_catalog.format('workorder needs a UTF8 database, and database %s is %s',
                                        pg_catalog.current_database(), pg_catalog.getdatabaseencoding()),
            DETAIL = pg_catalog.format('Its encoding is %s.', pg_catalog.getdatabaseencoding()),
            HINT = 'Create the database with ENCODING ''UTF8'' (CREATE DATABASE ... TEMPLATE template0 ENCODING ''UTF8'') and create the extension there.';
    END IF;
END
$$;

COMMENT ON SCHEMA workorder IS 'workorder: a city work-order center';

-- settings holds the district's tunable values, one row per name.  It is a
-- configuration table: pg_dump keeps its rows.
CREATE TABLE workorder.settings (
    name        text PRIMARY KEY,
    value       text NOT NULL,
    description text NOT NULL
);
SELECT pg_catalog.pg_extension_config_dump('workorder.settings', '');

-- setting returns the value of a workorder setting, or the given default when the
-- setting has no row.  It is C, answering from the per-backend reference cache
-- (src/refcache.c; the cache's invalidation triggers are in part 87): it sits on
-- the hot path of locate() and submit().
CREATE FUNCTION workorder.setting(setting_name text, default_value text)
RETURNS text
AS 'MODULE_PATHNAME', 'reference_setting'
LANGUAGE C STABLE PARALLEL SAFE;
