-- workorder 0.4 -> 0.5, part 62: what a candidate may make of a report at most.
--
-- A candidate that names another place number than the report, or says nothing
-- alike of another category, makes it nothing; one that says nothing alike of
-- the same category, or whose category (or the report's) is only the family's
-- root, holds it for review at most (install/62_dedup.sql, "At most").  The
-- candidate rows that dedup_checks kept before have neither attribute (NULL:
-- no limit was applied to them, as none was).
ALTER TYPE workorder.dedup_candidate
    ADD ATTRIBUTE at_most text,
    ADD ATTRIBUTE at_most_reason text;
