-- workorder 0.2 -> 0.3: dedup in C (src/dedup.c).
--
-- dedup_policy(), dedup_lock(), dedup_candidates(), dedup_decide() and
-- dedup_phone() keep their signatures and are re-created in C by @functions.
-- dedup_setting() is gone: its checks are dedup_policy()'s, in C.  The dedup
-- policies are resolved from the reference cache, which now holds dedup_rules:
-- the table gets the cache's invalidation trigger, as 87_reference_cache.sql
-- gives it in a fresh install.

DROP FUNCTION workorder.dedup_setting(jsonb, text, text, text, double precision, double precision);

CREATE TRIGGER dedup_rules_reference_cache AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON workorder.dedup_rules
    FOR EACH STATEMENT EXECUTE FUNCTION workorder.reference_cache_invalidate();
ALTER TABLE workorder.dedup_rules ENABLE ALWAYS TRIGGER dedup_rules_reference_cache;
