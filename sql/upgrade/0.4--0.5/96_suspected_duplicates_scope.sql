-- workorder 0.4 -> 0.5, part 96: suspected_duplicates shows a reader the suspected
-- duplicates it may read, the master only when it may read it too, and dispatchers
-- may read it (part 98 grants it); it was the admins' only, though it lists what
-- waits for a dispatcher.  After @functions, which makes caller_may_read().
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
