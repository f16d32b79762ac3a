-- workorder 0.4 -> 0.5, part 95: bi_open_orders and bi_channel_volumes read the
-- district's zone once per query (a scalar sub-select, an initplan: joined as a
-- sub-select, it was pulled up, and score_zone() ran for every row of orders).  The views as install part
-- 95 makes them; bi_category_trends is part 95_bi_overdue_now's, bi_escalations
-- install part 95_bi_escalations'.
CREATE OR REPLACE VIEW workorder.bi_open_orders AS
SELECT o.id AS order_id, o.ticket::text AS ticket, o.status::text AS status, o.priority::text AS priority,
       o.category_code, c.name AS category_name, c.family AS category_family,
       o.channel_code, ch.name AS channel_name,
       o.area_chain[2] AS town_code, town.name AS town_name,
       o.area_chain[3] AS village_code, village.name AS village_name,
       o.main_unit AS unit_code, u.name AS unit_name, u.kind::text AS unit_kind,
       o.handling_level::text AS handling_level,
       o.received_at, (o.received_at AT TIME ZONE (SELECT workorder.score_zone()))::date AS received_day,
       o.accept_due_at, o.resolve_due_at,
       o.overdue, o.accept_overdue, o.warned, o.supervised,
       o.escalation_step, o.escalated_to,
       o.report_count, o.return_count, o.redo_count,
       pg_catalog.now() OPERATOR(pg_catalog.-) o.received_at AS open_for
  FROM workorder.orders o
  LEFT JOIN workorder.category_effective c ON c.code OPERATOR(pg_catalog.=) o.category_code
  LEFT JOIN workorder.channels ch ON ch.code OPERATOR(pg_catalog.=) o.channel_code
  LEFT JOIN workorder.areas town ON town.code OPERATOR(pg_catalog.=) o.area_chain[2]
  LEFT JOIN workorder.areas village ON village.code OPERATOR(pg_catalog.=) o.area_chain[3]
  LEFT JOIN workorder.units u ON u.code OPERATOR(pg_catalog.=) o.main_unit
 WHERE o.status IN ('new', 'dispatched', 'accepted', 'suspended');

CREATE OR REPLACE VIEW workorder.bi_channel_volumes AS
SELECT (o.received_at AT TIME ZONE (SELECT workorder.score_zone()))::date AS day, o.channel_code, ch.name AS channel_name,
       ch.kind AS channel_kind,
       pg_catalog.count(*) AS orders_received,
       pg_catalog.count(*) FILTER (WHERE o.status IN ('new', 'dispatched', 'accepted', 'suspended')) AS still_open,
       pg_catalog.count(*) FILTER (WHERE o.status IN ('resolved', 'closed')) AS resolved_or_closed,
       pg_catalog.count(*) FILTER (WHERE o.status OPERATOR(pg_catalog.=) 'merged') AS merged_duplicates,
       pg_catalog.count(*) FILTER (WHERE o.status OPERATOR(pg_catalog.=) 'cancelled') AS cancelled,
       pg_catalog.count(*) FILTER (WHERE NOT o.in_jurisdiction) AS out_of_jurisdiction
  FROM workorder.orders o
  LEFT JOIN workorder.channels ch ON ch.code OPERATOR(pg_catalog.=) o.channel_code
 GROUP BY 1, o.channel_code, ch.name, ch.kind;
