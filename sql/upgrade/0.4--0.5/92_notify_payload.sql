-- upgrade 0.4 -> 0.5, part 92: NOTIFY workorder carries only a notice's kind and
-- id (workorder.announce, made by @functions); the table's comment says so.
COMMENT ON TABLE workorder.notifications IS
    'Deadline warnings and overdue marks (payload: kind, order_id, ticket, due_at, at), escalation steps, and outbox messages that died (kind outbox_dead: message_id, channel, message_kind, attempts, last_error) or were delivered after all (kind outbox_delivered_after_dead); NOTIFY channel workorder carries only each row''s kind and id (workorder.announce).';
