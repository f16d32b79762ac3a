-- workorder 0.4 -> 0.5, part 95: overdue_now of bi_category_trends counts only
-- open orders (it counted every order ever marked overdue, resolved, closed and
-- cancelled ones too, against bi_overdue_orders and bi_backlog); with_verdict and
-- satisfied count every verdict of the log (orders.satisfaction holds the last, and
-- a redo clears it: the unsatisfied verdicts that sent orders back were lost).  The view as
-- install part 95 makes it.  (bi_escalations, which had the same fault, is made by
-- install part 95_bi_escalations, which the update runs whole.)  reports counts every
-- report in its own month and category, merged ones too (it was the masters'
-- report_count, in the master's month).
CREATE OR REPLACE VIEW workorder.bi_category_trends AS
SELECT pg_catalog.date_trunc('month', o.received_at AT TIME ZONE (SELECT workorder.score_zone()))::date AS month,
       c.family AS category_family, o.category_code, c.name AS category_name,
       pg_catalog.count(*) FILTER (WHERE o.status OPERATOR(pg_catalog.<>) 'merged') AS orders_received,
       pg_catalog.count(*) FILTER (WHERE o.status IN ('new', 'dispatched', 'accepted', 'suspended')) AS still_open,
       pg_catalog.count(*) FILTER (WHERE o.overdue AND o.status IN ('new', 'dispatched', 'accepted', 'suspended')) AS overdue_now,
       pg_catalog.count(*) FILTER (WHERE o.status IN ('resolved', 'closed')) AS resolved_or_closed,
       pg_catalog.count(*) FILTER (WHERE o.redo_count OPERATOR(pg_catalog.>) 0
                                     AND o.status OPERATOR(pg_catalog.<>) 'merged') AS redone,
       pg_catalog.sum(v.verdicts)::bigint AS with_verdict,
       pg_catalog.sum(v.satisfied)::bigint AS satisfied,
       -- Every report in its own month and category, a merged one too: counted as
       -- its master's report_count, it went to the master's month (a report of 1
       -- November merged into an order of 31 October counted in October), and a
       -- past month changed with every late merge and unmerge.
       pg_catalog.count(*) AS reports
  FROM workorder.orders o
  LEFT JOIN workorder.category_effective c ON c.code OPERATOR(pg_catalog.=) o.category_code
 -- Every verdict, from the log: orders.satisfaction holds the last one, and a redo
 -- clears it, so an unsatisfied verdict that sent the order back was not counted.
 CROSS JOIN LATERAL (
        SELECT pg_catalog.count(*) AS verdicts,
               pg_catalog.count(*) FILTER (WHERE (e.details OPERATOR(pg_catalog.->>) 'satisfaction')
                                                 OPERATOR(pg_catalog.=) ANY ('{satisfied,basically_satisfied}'::text[])) AS satisfied
          FROM workorder.order_events e
         WHERE e.order_id OPERATOR(pg_catalog.=) o.id AND e.action OPERATOR(pg_catalog.=) 'callback') v
 GROUP BY 1, c.family, o.category_code, c.name;
COMMENT ON VIEW workorder.bi_category_trends IS
    'Orders per local month and category (merged duplicates left out; reports counts every report in its own month, merged ones too), with open, overdue, resolved, redone and satisfied counts; NULL category: not mapped.';
COMMENT ON COLUMN workorder.bi_category_trends.overdue_now IS 'orders open and past their deadline now';
COMMENT ON COLUMN workorder.bi_category_trends.reports IS 'reports received that month in the category, each once, merged duplicates too (in their own month, not their master''s)';
COMMENT ON COLUMN workorder.bi_category_trends.with_verdict IS 'callback verdicts on these orders, every one (an unsatisfied verdict that sent an order back to be redone too)';
COMMENT ON COLUMN workorder.bi_category_trends.satisfied IS 'of with_verdict, the satisfied and basically satisfied ones';
