-- workorder 0.4 -> 0.5, part 62: a suspected duplicate that an action took out of
-- new without a review (a dispatch, a merge or a cancel by hand) is settled, its
-- dedup check recording the action as its review (action_done, part 65, which
-- @functions makes).  Before, returned to new, such an order was a suspect waiting
-- for review again: listed in suspected_duplicates and passed over by dedup as a
-- candidate, a master with reports merged into it included.
ALTER TABLE workorder.dedup_checks DROP CONSTRAINT dedup_checks_review;
ALTER TABLE workorder.dedup_checks ADD CONSTRAINT dedup_checks_review
    CHECK (review IN ('confirm', 'reject', 'dispatch', 'merge', 'cancel'));

-- The suspects that some action has taken out of new already: settled by the first.
UPDATE workorder.dedup_checks c
   SET review = e.action, reviewed_by = e.actor, reviewed_at = e.at
  FROM (SELECT DISTINCT ON (x.order_id) x.order_id, x.action, x.actor, x.at
          FROM workorder.order_events x
         WHERE x.old_status OPERATOR(pg_catalog.=) 'new'
           AND x.new_status OPERATOR(pg_catalog.<>) 'new'
           AND x.action OPERATOR(pg_catalog.=) ANY ('{dispatch,merge,cancel}'::text[])
         ORDER BY x.order_id, x.seq) e
 WHERE e.order_id OPERATOR(pg_catalog.=) c.order_id
   AND c.decision OPERATOR(pg_catalog.=) 'review' AND c.review IS NULL;
