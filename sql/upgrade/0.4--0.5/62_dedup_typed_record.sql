-- workorder 0.4 -> 0.5, part 62: what dedup saw at intake is kept as rows of their
-- types, not as jsonb.
--
-- dedup_decide() returned, and dedup_checks kept, the policy and the candidates as
-- to_jsonb() of them.  Making that JSON (every number and ticket as text, 14 keys
-- for each of up to 50 candidates) cost more than scoring the candidates
-- (bench/dedup).  From 0.5 the decision and the check hold a workorder.dedup_policy
-- and an array of workorder.dedup_candidate; explain_dedup() reads them with
-- unnest().  The rows already in dedup_checks are converted in place, in their
-- order (best first); jsonb_populate_record() reads back each value to_jsonb()
-- wrote.
ALTER TYPE workorder.dedup_decision
    ALTER ATTRIBUTE policy TYPE workorder.dedup_policy,
    ALTER ATTRIBUTE candidates TYPE workorder.dedup_candidate[];

-- dedup_candidates_of_jsonb turns 0.4's candidates into 0.5's, for the ALTER below
-- only (its USING takes no sub-query).
CREATE FUNCTION workorder.dedup_candidates_of_jsonb(candidates pg_catalog.jsonb)
RETURNS workorder.dedup_candidate[]
LANGUAGE sql STABLE STRICT
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT COALESCE(pg_catalog.array_agg(c ORDER BY e.n), '{}')
      FROM pg_catalog.jsonb_array_elements(candidates) WITH ORDINALITY AS e(v, n),
           pg_catalog.jsonb_populate_record(NULL::workorder.dedup_candidate, e.v) AS c
$$;
-- 0.4 wrote the intervals of the JSON (time_gap, the windows) in the session's
-- IntervalStyle, which is postgres unless a district changed it; under
-- sql_standard a negative gap would read back otherwise.  The setting lasts until
-- the end of this script.
SET LOCAL intervalstyle TO postgres;
ALTER TABLE workorder.dedup_checks
    ALTER COLUMN policy TYPE workorder.dedup_policy
        USING pg_catalog.jsonb_populate_record(NULL::workorder.dedup_policy, policy),
    ALTER COLUMN candidates TYPE workorder.dedup_candidate[]
        USING workorder.dedup_candidates_of_jsonb(candidates);
DROP FUNCTION workorder.dedup_candidates_of_jsonb(pg_catalog.jsonb);
