-- workorder install script, part 95: stable views for BI tools (workorder.bi_*).
--
-- Each view answers a common question without joins: names next to codes, local
-- days and months (the district's zone, the setting district_time_zone) next to
-- instants.  None of them shows personal data: no reporter name or phone, no
-- description or address (free text a citizen may have put a name or number in),
-- no coordinates; places are the administrative areas (town, village) the order
-- was located in.  Columns are only ever added, never renamed or dropped, so
-- dashboards keep working across versions.  The roles issue grants SELECT on them
-- to the analyst role, and adds workorder.bi_orders, the order list with personal
-- data masked.
--
-- The district's zone is a scalar sub-select, (SELECT score_zone()): an initplan, run
-- once per query.  Joined as (SELECT score_zone() AS zone) z, the planner pulled it up
-- into the query, and score_zone() (plpgsql, a subtransaction for its setting) ran
-- once for every row of orders, about nine tenths of a whole-history view's time.

-- bi_open_orders: every open order (new, dispatched, accepted, suspended).
CREATE VIEW workorder.bi_open_orders AS
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
COMMENT ON VIEW workorder.bi_open_orders IS
    'Open orders (new, dispatched, accepted, suspended), one row each, with names, local receipt day, deadlines and marks; no personal data.';
COMMENT ON COLUMN workorder.bi_open_orders.town_code IS 'the town (street) the order was located in (area_chain[2])';
COMMENT ON COLUMN workorder.bi_open_orders.village_code IS 'the village (community) the order was located in (area_chain[3]), when located that deep';
COMMENT ON COLUMN workorder.bi_open_orders.received_day IS 'the local day of receipt in the district''s zone (setting district_time_zone)';
COMMENT ON COLUMN workorder.bi_open_orders.overdue IS 'the resolve deadline passed while the order was open (marked by the deadline task)';
COMMENT ON COLUMN workorder.bi_open_orders.open_for IS 'how long since receipt, at query time';

-- bi_overdue_orders: the open orders past their resolve deadline, latest first.
CREATE VIEW workorder.bi_overdue_orders AS
SELECT b.order_id, b.ticket, b.status, b.priority, b.category_code, b.category_name, b.category_family,
       b.channel_code, b.channel_name, b.town_code, b.town_name, b.village_code, b.village_name,
       b.unit_code, b.unit_name, b.unit_kind, b.received_at, b.received_day, b.resolve_due_at,
       pg_catalog.now() OPERATOR(pg_catalog.-) b.resolve_due_at AS overdue_for,
       b.supervised, b.escalation_step, b.escalated_to
  FROM workorder.bi_open_orders b
 WHERE b.overdue;
COMMENT ON VIEW workorder.bi_overdue_orders IS
    'Open orders marked overdue, with how long past the deadline; no personal data.';
COMMENT ON COLUMN workorder.bi_overdue_orders.overdue_for IS 'time past the resolve deadline, at query time';

-- bi_backlog: open and overdue orders counted by unit and town.
CREATE VIEW workorder.bi_backlog AS
SELECT b.unit_code, b.unit_name, b.unit_kind, b.town_code, b.town_name,
       pg_catalog.count(*) AS open_orders,
       pg_catalog.count(*) FILTER (WHERE b.status OPERATOR(pg_catalog.=) 'new') AS new_orders,
       pg_catalog.count(*) FILTER (WHERE b.status OPERATOR(pg_catalog.=) 'dispatched') AS awaiting_acceptance,
       pg_catalog.count(*) FILTER (WHERE b.status OPERATOR(pg_catalog.=) 'accepted') AS in_hand,
       pg_catalog.count(*) FILTER (WHERE b.status OPERATOR(pg_catalog.=) 'suspended') AS suspended,
       pg_catalog.count(*) FILTER (WHERE b.overdue) AS overdue_orders,
       pg_catalog.count(*) FILTER (WHERE b.accept_overdue) AS accept_overdue_orders,
       pg_catalog.count(*) FILTER (WHERE b.supervised) AS supervised_orders,
       pg_catalog.count(*) FILTER (WHERE b.escalation_step OPERATOR(pg_catalog.>) 0) AS escalated_orders,
       pg_catalog.min(b.received_at) AS oldest_received_at,
       pg_catalog.min(b.resolve_due_at) AS earliest_resolve_due_at
  FROM workorder.bi_open_orders b
 GROUP BY b.unit_code, b.unit_name, b.unit_kind, b.town_code, b.town_name;
COMMENT ON VIEW workorder.bi_backlog IS
    'Open and overdue orders by main unit and town: counts per status, overdue, supervised, escalated; NULL unit: not yet dispatched.';

-- bi_escalations: part 95_bi_escalations.

-- bi_unit_scores: the scores with the unit's name, level and parent.
CREATE VIEW workorder.bi_unit_scores AS
SELECT s.period_kind, s.period_start, s.unit_code, u.name AS unit_name, s.unit_kind::text AS unit_kind,
       u.level::text AS unit_level, u.parent_code AS parent_unit_code,
       s.orders_assigned, s.on_time_accept_rate, s.on_time_completion_rate, s.resolution_rate,
       s.satisfaction_rate, s.return_rate, s.redo_rate, s.extensions, s.overdue AS overdue_orders,
       s.composite, s.rank, s.list,
       s.accepts_on_time, s.accepts_judged, s.resolves_on_time, s.resolves_judged, s.resolves,
       s.cohort_resolved, s.cohort_returned, s.redone, s.callbacks, s.callbacks_satisfied
  FROM workorder.unit_scores s
  LEFT JOIN workorder.units u ON u.code OPERATOR(pg_catalog.=) s.unit_code;
COMMENT ON VIEW workorder.bi_unit_scores IS
    'Unit scores per local day, week and month (README "Scores" defines every rate and its denominator), with the unit''s name; rank among units of the same kind; list red (红榜) or black (黑榜).';

-- bi_unit_rankings: the ranked rows only, best first within each period and kind.
CREATE VIEW workorder.bi_unit_rankings AS
SELECT s.period_kind, s.period_start, s.unit_kind, s.rank, s.unit_code, s.unit_name,
       s.composite, s.list, s.orders_assigned,
       s.on_time_accept_rate, s.resolution_rate, s.satisfaction_rate
  FROM workorder.bi_unit_scores s
 WHERE s.rank IS NOT NULL;
COMMENT ON VIEW workorder.bi_unit_rankings IS
    'Rankings: units with a composite, by period and unit kind; order by period_start, unit_kind, rank.';

-- bi_channel_volumes: orders received per local day and channel, and where they are now.
CREATE VIEW workorder.bi_channel_volumes AS
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
COMMENT ON VIEW workorder.bi_channel_volumes IS
    'Orders received per local day and channel, with how many are open, resolved or closed, merged, cancelled, out of jurisdiction now.';

-- bi_category_trends: orders received per local month and category, with outcomes.
CREATE VIEW workorder.bi_category_trends AS
SELECT pg_catalog.date_trunc('month', o.received_at AT TIME ZONE (SELECT workorder.score_zone()))::date AS month,
       c.family AS category_family, o.category_code, c.name AS category_name,
       pg_catalog.count(*) FILTER (WHERE o.status OPERATOR(pg_catalog.<>) 'merged') AS orders_received,
       pg_catalog.count(*) FILTER (WHERE o.status IN ('new', 'dispatched', 'accepted', 'suspended')) AS still_open,
       pg_catalog.count(*) FILTER (WHERE o.overdue AND o.status IN ('new', 'dispatched', 'accepted', 'suspended')) AS overdue_now,
       pg_catalog.count(*) FILTER (WHERE o.status IN ('resolved', 'closed')) AS resolved_or_closed,
       pg_catalog.count(*) FILTER (WHERE o.redo_count OPERATOR(pg_catalog.>) 0
                                     AND o.status OPERATOR(pg_catalog.<>) 'merged') AS redone,
       -- Every callback of the log once, on its own order's row: a merged order's
       -- too (one resolved, called back, redone, then merged into another report of
       -- its event: left out, its verdict counted nowhere, and a month of merged
       -- reports only said NULL).  A callback on a merged report is logged on its
       -- master, so none counts twice.
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
COMMENT ON COLUMN workorder.bi_category_trends.with_verdict IS 'callback verdicts on these orders, every one (an unsatisfied verdict that sent an order back to be redone too)';
COMMENT ON COLUMN workorder.bi_category_trends.satisfied IS 'of with_verdict, the satisfied and basically satisfied ones';
COMMENT ON COLUMN workorder.bi_category_trends.overdue_now IS 'orders open and past their deadline now';
COMMENT ON COLUMN workorder.bi_category_trends.reports IS 'reports received that month in the category, each once, merged duplicates too (in their own month, not their master''s)';

REVOKE ALL ON workorder.bi_open_orders, workorder.bi_overdue_orders, workorder.bi_backlog,
              workorder.bi_unit_scores, workorder.bi_unit_rankings,
              workorder.bi_channel_volumes, workorder.bi_category_trends FROM PUBLIC;
