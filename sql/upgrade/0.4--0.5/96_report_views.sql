-- workorder 0.4 -> 0.5, part 96: the analysts read the report snapshots through
-- bi_daily_briefings and bi_monthly_assessments (part 98 grants every bi_ view to
-- them), and an order's events are shown with it by a correlated EXISTS, probed by
-- the order's key, not a scan of every order the role sees.  As install part 96
-- makes them.
CREATE VIEW workorder.bi_daily_briefings AS
SELECT b.day, b.generated_at, b.time_zone, b.orders_received, b.orders_dispatched, b.orders_accepted,
       b.orders_resolved, b.orders_closed, b.orders_returned, b.orders_reopened, b.overdue_marked,
       b.escalation_steps, b.callbacks, b.callbacks_satisfied, b.satisfaction_rate, b.open_orders,
       b.overdue_open_orders, b.received_by_channel, b.most_overdue_units
  FROM workorder.daily_briefings b;
COMMENT ON VIEW workorder.bi_daily_briefings IS
    'The daily briefings (workorder.daily_briefings), one row per local day, as report_daily_briefing wrote them.';
CREATE VIEW workorder.bi_monthly_assessments AS
SELECT a.month, a.unit_code, a.unit_name, a.unit_kind, a.generated_at, a.orders_assigned,
       a.on_time_accept_rate, a.on_time_completion_rate, a.resolution_rate, a.satisfaction_rate,
       a.return_rate, a.redo_rate, a.extensions, a.overdue_orders, a.composite, a.rank, a.list
  FROM workorder.monthly_assessments a;
COMMENT ON VIEW workorder.bi_monthly_assessments IS
    'The monthly assessments (workorder.monthly_assessments), one row per month and unit, as published.';
ALTER POLICY order_events_with_order ON workorder.order_events
    USING (EXISTS (SELECT 1 FROM workorder.orders o WHERE o.id OPERATOR(pg_catalog.=) order_events.order_id OFFSET 0));
