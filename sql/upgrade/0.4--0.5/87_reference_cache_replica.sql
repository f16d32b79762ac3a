-- workorder 0.4 -> 0.5, parts 80 and 87: a row trigger on each cached table,
-- enabled REPLICA, so that a logical replication subscriber's apply worker, which
-- fires no statement trigger, invalidates the caches too (see part 87).
DO $cache$
DECLARE
    cached text;
BEGIN
    FOREACH cached IN ARRAY ARRAY['settings', 'channels', 'channel_categories', 'category_effective', 'units',
                                  'areas', 'routing_rules', 'sla_policies', 'sla_priority_policies',
                                  'dedup_rules', 'sla_escalation_steps', 'area_pieces'] LOOP
        EXECUTE pg_catalog.format(
            'CREATE TRIGGER %I AFTER INSERT OR UPDATE OR DELETE ON workorder.%I '
            'FOR EACH ROW EXECUTE FUNCTION workorder.reference_cache_invalidate()',
            cached OPERATOR(pg_catalog.||) '_reference_cache_replica', cached);
        EXECUTE pg_catalog.format('ALTER TABLE workorder.%I ENABLE REPLICA TRIGGER %I',
                                  cached, cached OPERATOR(pg_catalog.||) '_reference_cache_replica');
    END LOOP;
    FOREACH cached IN ARRAY ARRAY['calendars', 'calendar_hours', 'calendar_days'] LOOP
        EXECUTE pg_catalog.format(
            'CREATE TRIGGER %I AFTER INSERT OR UPDATE OR DELETE ON workorder.%I '
            'FOR EACH ROW EXECUTE FUNCTION workorder.calendar_cache_invalidate()',
            cached OPERATOR(pg_catalog.||) '_cache_invalidate_replica', cached);
        EXECUTE pg_catalog.format('ALTER TABLE workorder.%I ENABLE REPLICA TRIGGER %I',
                                  cached, cached OPERATOR(pg_catalog.||) '_cache_invalidate_replica');
    END LOOP;
END
$cache$;
