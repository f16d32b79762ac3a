-- workorder install script, part 00: the schema's settings table.
--
-- The install script is assembled from sql/install/*.sql in name order.  Every
-- object is schema-qualified and every operator is written OPERATOR(pg_catalog.x),
-- so that installing under a hostile search_path cannot be hijacked.

\echo Use "CREATE EXTENSION workorder" to load this file. \quit

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
