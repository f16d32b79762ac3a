-- workorder 0.1 -> 0.2: a report merged into a resolved master (a late report that
-- dedup links to it) carries the master's result in its merge message.  The body is
-- that of sql/install/75_outbox.sql.

CREATE OR REPLACE FUNCTION workorder.outbox_from_events()
RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    INSERT INTO workorder.outbox (order_id, event_id, channel_code, channel_ref, kind, payload)
    SELECT r.id, e.id, r.channel_code, r.channel_ref, e.action,
           pg_catalog.jsonb_strip_nulls(pg_catalog.jsonb_build_object(
               'ticket', r.ticket::text,
               'kind', e.action,
               'status', e.new_status,
               'previous_status', e.old_status,
               'unit', e.unit_code,
               'unit_name', u.name,
               -- A report merged into a resolved master (late, linked) hears its result.
               'result', CASE WHEN e.action IN ('resolve', 'close') THEN o.result
                              WHEN e.action OPERATOR(pg_catalog.=) 'merge' THEN
                                   (SELECT m.result FROM workorder.orders m WHERE m.id OPERATOR(pg_catalog.=) o.master_id) END,
               'reason', CASE WHEN e.action IN ('return', 'verify', 'reopen', 'cancel') THEN e.note END,
               'master_ticket', CASE WHEN r.id OPERATOR(pg_catalog.<>) o.id THEN o.ticket::text
                                     WHEN e.action IN ('merge', 'unmerge') THEN e.details OPERATOR(pg_catalog.->>) 'master_ticket' END,
               'occurred_at', e.at))
      FROM new_events e
      JOIN workorder.orders o ON o.id OPERATOR(pg_catalog.=) e.order_id
      CROSS JOIN LATERAL (
          SELECT o.id, o.channel_code, o.channel_ref, o.ticket
          UNION ALL
          -- The reports merged into this one hear its outcome.
          SELECT d.id, d.channel_code, d.channel_ref, d.ticket
            FROM workorder.orders d
           WHERE e.action IN ('resolve', 'close', 'reopen', 'cancel')
             AND d.master_id OPERATOR(pg_catalog.=) o.id) r
      JOIN workorder.channels c ON c.code OPERATOR(pg_catalog.=) r.channel_code AND c.replies
      LEFT JOIN workorder.units u ON u.code OPERATOR(pg_catalog.=) e.unit_code
     WHERE e.action IN ('dispatch', 'reassign', 'accept', 'return', 'resolve', 'verify', 'close',
                        'reopen', 'cancel', 'merge', 'unmerge')
       AND (e.action OPERATOR(pg_catalog.<>) 'verify' OR e.new_status OPERATOR(pg_catalog.<>) e.old_status)
     ORDER BY e.id, r.id;
    RETURN NULL;
END
$$;
