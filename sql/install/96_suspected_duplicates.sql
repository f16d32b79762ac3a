-- workorder install script, part 96 (after 96_access, whose caller_may_read() it
-- calls): the view of the suspected duplicates waiting for review.
--
-- It has a part of its own so that the update from 0.4 runs it as it is: 0.4 had
-- the view (the admins' only), so it is CREATE OR REPLACE.
--
-- suspected_duplicates lists the orders waiting for a dispatcher's review, oldest
-- first, with the suspected master: those the reader may read (a dispatcher, its
-- area's; part 96), the master's id, ticket, status and description only when the
-- reader may read it too (another town's master, as explain_dedup shows it).  The
-- view is the owner's, so it reads past row-level security: it filters itself
-- (security_barrier: a reader's function cannot see the rows it leaves out).
CREATE OR REPLACE VIEW workorder.suspected_duplicates WITH (security_barrier) AS
SELECT c.order_id, o.ticket, o.received_at, o.channel_code, o.description,
       CASE WHEN v.master_readable THEN c.master_id END AS master_id,
       CASE WHEN v.master_readable THEN m.ticket END AS master_ticket,
       CASE WHEN v.master_readable THEN m.status END AS master_status,
       CASE WHEN v.master_readable THEN m.description END AS master_description,
       pg_catalog.round(c.score::numeric, 3) AS score
  FROM workorder.dedup_checks c
  JOIN workorder.orders o ON o.id OPERATOR(pg_catalog.=) c.order_id
  JOIN workorder.orders m ON m.id OPERATOR(pg_catalog.=) c.master_id
  CROSS JOIN LATERAL (SELECT workorder.caller_may_read(m) AS master_readable) v
 WHERE c.decision OPERATOR(pg_catalog.=) 'review' AND c.review IS NULL
   AND o.status OPERATOR(pg_catalog.=) 'new'
   AND workorder.caller_may_read(o)
 ORDER BY c.checked_at, c.order_id;
COMMENT ON VIEW workorder.suspected_duplicates IS
    'Orders flagged as suspected duplicates at intake and not reviewed yet, of those the caller may read, the master shown when the caller may read it too (confirm or reject with workorder.review_duplicate()).';
