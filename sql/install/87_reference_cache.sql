-- workorder install script, part 87: invalidation of the reference cache.
--
-- setting(), channel_is_active(), map_category(), category_settings(),
-- resolve_unit(), dispatch_center(), choose_sla_policy(), sla_intake(), the dedup
-- functions (dedup_policy(), dedup_lock(), dedup_candidates(), dedup_decide()) and
-- the C triggers of the order's deadlines and of the outbox answer from a
-- per-backend cache of the tables below (src/refcache.c).  A statement trigger on
-- each of them tells every backend that its copy is out of date: a relcache
-- invalidation of the changed table, sent at commit (the backend that made the
-- change sees it at its next command, and a rollback undoes it).  The triggers
-- fire in every session_replication_role, so that a restore cannot leave stale
-- copies behind.  A logical replication subscriber's apply worker fires no
-- statement trigger, only row triggers enabled for replicas: so each table has a
-- row trigger too, enabled REPLICA (it fires only under session_replication_role
-- replica, as the apply worker runs), which sends the same invalidation (merged
-- into one per table and command).  Without it, a backend already connected to a
-- subscriber kept its copy for good: a replicated rule, a channel disabled at the
-- publisher, reached only new sessions.  The calendar tables have the same pair
-- (part 80).

CREATE FUNCTION workorder.reference_cache_invalidate()
RETURNS trigger
AS 'MODULE_PATHNAME', 'reference_cache_invalidate'
LANGUAGE C;

DO $cache$
DECLARE
    cached text;
BEGIN
    FOREACH cached IN ARRAY ARRAY['settings', 'channels', 'channel_categories', 'category_effective', 'units',
                                  'areas', 'routing_rules', 'sla_policies', 'sla_priority_policies',
                                  'dedup_rules', 'sla_escalation_steps',
                                  -- when each policy's terms last changed (src/deadlines.c)
                                  'sla_policy_versions',
                                  -- read by the map of areas, which reloads with the cache
                                  'area_pieces'] LOOP
        EXECUTE pg_catalog.format(
            'CREATE TRIGGER %I AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON workorder.%I '
            'FOR EACH STATEMENT EXECUTE FUNCTION workorder.reference_cache_invalidate()',
            cached OPERATOR(pg_catalog.||) '_reference_cache', cached);
        EXECUTE pg_catalog.format('ALTER TABLE workorder.%I ENABLE ALWAYS TRIGGER %I',
                                  cached, cached OPERATOR(pg_catalog.||) '_reference_cache');
        EXECUTE pg_catalog.format(
            'CREATE TRIGGER %I AFTER INSERT OR UPDATE OR DELETE ON workorder.%I '
            'FOR EACH ROW EXECUTE FUNCTION workorder.reference_cache_invalidate()',
            cached OPERATOR(pg_catalog.||) '_reference_cache_replica', cached);
        EXECUTE pg_catalog.format('ALTER TABLE workorder.%I ENABLE REPLICA TRIGGER %I',
                                  cached, cached OPERATOR(pg_catalog.||) '_reference_cache_replica');
    END LOOP;
END
$cache$;
