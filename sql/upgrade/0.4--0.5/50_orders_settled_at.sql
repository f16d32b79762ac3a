-- workorder 0.4 -> 0.5, part 50: when an order was settled (install part 50,
-- src/settled.c), and dedup's index on it.  Until 0.5 dedup took as candidates only
-- orders received within the window of a report: a call about a lamp still broken
-- after a week became a second order, and an order open for a week and resolved an
-- hour ago took no late report, whatever closed_window said.
--
-- settled_at of the orders there are: the time of the event that last took each
-- settled one from an open status to a settled one, else (a row without such an
-- event) its receipt.  The index is built again on the new key, one scan of the
-- table: on a large history this update takes a while, and holds orders locked.
ALTER TABLE workorder.orders ADD COLUMN settled_at timestamptz;
UPDATE workorder.orders x
   SET settled_at = COALESCE((SELECT pg_catalog.max(e.at) FROM workorder.order_events e
                               WHERE e.order_id OPERATOR(pg_catalog.=) x.id
                                 AND e.new_status OPERATOR(pg_catalog.=) ANY ('{resolved,closed,merged,cancelled}'::workorder.order_status[])
                                 AND (e.old_status IS NULL
                                      OR e.old_status OPERATOR(pg_catalog.=) ANY ('{new,dispatched,accepted,suspended}'::workorder.order_status[]))),
                             x.received_at)
 WHERE x.status OPERATOR(pg_catalog.=) ANY ('{resolved,closed,merged,cancelled}'::workorder.order_status[]);
DROP INDEX workorder.orders_location_idx;
CREATE INDEX orders_location_idx ON workorder.orders
    USING gist (location, received_at, (COALESCE(settled_at, 'infinity'::timestamptz)));
