-- workorder 0.4 -> 0.5, part 95: overdue_now of bi_category_trends counts only
-- open orders (it counted every order ever marked overdue, resolved, closed and
-- cancelled ones too, against bi_overdue_orders and bi_backlog); with_verdict and
-- satisfied count every verdict of the log (orders.satisfaction holds the last, and
-- a redo clears it: the unsatisfied verdicts that sent orders back were lost).  The view as
-- install part 95 makes it.  (bi_escalations, which had the same fault, is made by
-- install part 95_bi_escalations, which the update runs whole.)
CREATE OR REPLACE VIEW workorder.bi_category_trends AS
SELECT pg_catalog.date_trunc('month', o.received_at AT TIME ZONE z.zone)::date AS month,
       c.family AS category_family, o.category_code, c.name AS category_name,
       pg_catalog.count(*) AS orders_received,
       pg_catalog.count(*) FILTER (WHERE o.status IN ('new', 'dispatched', 'accepted', 'suspended')) AS still_open,
       pg_catalog.count(*) FILTER (WHERE o.overdue AND o.status IN ('new', 'dispatched', 'accepted', 'suspended')) AS overdue_now,
       pg_catalog.count(*) FILTER (WHERE o.status IN ('resolved', 'closed')) AS resolved_or_closed,
       pg_catalog.count(*) FILTER (WHERE o.redo_count OPERATOR(pg_catalog.>) 0) AS redone,
       pg_catalog.sum(v.verdicts)::bigint AS with_verdict,
       pg_catalog.sum(v.satisfied)::bigint AS satisfied,
       pg_catalog.sum(o.report_count) AS reports
  FROM workorder.orders o
 CROSS JOIN (SELECT workorder.score_zone() AS zone OFFSET 0) z
  LEFT JOIN workorder.category_effective c ON c.code OPERATOR(pg_catalog.=) o.category_code
 -- Every verdict, from the log: orders.satisfaction holds the last one, and a redo
 -- clears it, so an unsatisfied verdict that sent the order back was not counted.
 CROSS JOIN LATERAL (
        SELECT pg_catalog.count(*) AS verdicts,
               pg_catalog.count(*) FILTER (WHERE (e.details OPERATOR(pg_catalog.->>) 'satisfaction')
                                                 OPERATOR(pg_catalog.=) ANY ('{satisfied,basically_satisfied}'::text[])) AS satisfied
          FROM workorder.order_events e
         WHERE e.order_id OPERATOR(pg_catalog.=) o.id AND e.action OPERATOR(pg_catalog.=) 'callback') v
 WHERE o.status OPERATOR(pg_catalog.<>) 'merged'
 GROUP BY 1, c.family, o.category_code, c.name;
COMMENT ON COLUMN workorder.bi_category_trends.overdue_now IS 'orders open and past their deadline now';
COMMENT ON COLUMN workorder.bi_category_trends.with_verdict IS 'callback verdicts on these orders, every one (an unsatisfied verdict that sent an order back to be redone too)';
COMMENT ON COLUMN workorder.bi_category_trends.satisfied IS 'of with_verdict, the satisfied and basically satisfied ones';
