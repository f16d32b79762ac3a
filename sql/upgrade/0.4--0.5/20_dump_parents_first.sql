-- workorder 0.4 -> 0.5, parts 20 and 30: pg_dump copies areas and units parents
-- first (see parts 20 and 30).  After @functions, which makes unit_depth.
SELECT pg_catalog.pg_extension_config_dump('workorder.areas', 'ORDER BY pg_catalog.cardinality(path), code');
SELECT pg_catalog.pg_extension_config_dump('workorder.units', 'ORDER BY workorder.unit_depth(code), code');
