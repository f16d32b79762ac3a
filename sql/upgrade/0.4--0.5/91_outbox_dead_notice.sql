-- workorder 0.4 -> 0.5, part 91: a message that dies is told to the center (see
-- part 91).  After @functions, which makes the trigger's function.  Messages that
-- died before are not announced.
CREATE TRIGGER outbox_dead_notice
    AFTER UPDATE OF state ON workorder.outbox
    FOR EACH ROW WHEN ((NEW.state OPERATOR(pg_catalog.=) 'dead' AND OLD.state IS DISTINCT FROM 'dead')
                       OR (OLD.state OPERATOR(pg_catalog.=) 'dead' AND NEW.state OPERATOR(pg_catalog.=) 'delivered'))
    EXECUTE FUNCTION workorder.outbox_dead_notice();
COMMENT ON TABLE workorder.notifications IS
    'Deadline warnings and overdue marks (payload: kind, order_id, ticket, due_at, at), and outbox messages that died (kind outbox_dead: message_id, channel, message_kind, attempts, last_error) or were delivered after all (kind outbox_delivered_after_dead), as sent on NOTIFY channel workorder.';
