-- workorder install script, part 91: the outbox's background task.
--
-- It comes after part 90, which makes workorder.task_outcome and worker_tasks.

-- task_outbox_expire (a background task, registered below) gives back the
-- messages whose lease ran out, so that a crashed connector's messages come back
-- even before a claim finds them; one claimed outbox_max_attempts times is dead.
-- Each keeps its last claimer in claimed_by, with lease_expired_at, so that a late
-- ack of that claimer is still taken (ack_outbox, part 75).
-- It is next due when the earliest lease runs out, and never for pending messages:
-- the task does nothing for them, and a backlog that no connector claims would
-- otherwise keep the worker busy.
CREATE FUNCTION workorder.task_outbox_expire()
RETURNS workorder.task_outcome
LANGUAGE plpgsql
AS $$
DECLARE
    max_attempts integer := workorder.setting('outbox_max_attempts', '8')::integer;
    outcome workorder.task_outcome;
    dead integer;
BEGIN
    -- A message locked by a transaction still open (a connector acknowledging it,
    -- or claiming it again) is skipped: waiting for it held up every task of the
    -- worker for as long as that transaction lasted.
    WITH due AS (
        SELECT x.id FROM workorder.outbox x
         WHERE x.state OPERATOR(pg_catalog.=) 'claimed'
           AND x.claimed_until OPERATOR(pg_catalog.<=) pg_catalog.now()
           FOR UPDATE SKIP LOCKED
    ), expired AS (
        UPDATE workorder.outbox x
           SET state = CASE WHEN x.attempts OPERATOR(pg_catalog.>=) max_attempts THEN 'dead' ELSE 'pending' END,
               last_error = CASE WHEN x.attempts OPERATOR(pg_catalog.>=) max_attempts
                                 THEN workorder.outbox_lease_expired(x.claimed_by, x.attempts)
                                 ELSE x.last_error END,
               settled_at = CASE WHEN x.attempts OPERATOR(pg_catalog.>=) max_attempts THEN pg_catalog.now() END,
               claimed_until = NULL, lease_expired_at = pg_catalog.now()
          FROM due
         WHERE x.id OPERATOR(pg_catalog.=) due.id
           AND x.state OPERATOR(pg_catalog.=) 'claimed'
           AND x.claimed_until OPERATOR(pg_catalog.<=) pg_catalog.now()
        RETURNING x.state
    )
    SELECT pg_catalog.count(*), pg_catalog.count(*) FILTER (WHERE expired.state OPERATOR(pg_catalog.=) 'dead')
      INTO outcome.rows, dead
      FROM expired;
    outcome.detail := pg_catalog.format('%s expired claims given back, %s of them dead', outcome.rows, dead);
    SELECT pg_catalog.min(x.claimed_until) INTO outcome.next_due
      FROM workorder.outbox x WHERE x.state OPERATOR(pg_catalog.=) 'claimed';
    -- A lease still run out is a skipped one: look again in a second, not at once.
    IF outcome.next_due OPERATOR(pg_catalog.<=) pg_catalog.now() THEN
        outcome.next_due := pg_catalog.clock_timestamp() OPERATOR(pg_catalog.+) interval '1 second';
    END IF;
    RETURN outcome;
END
$$;

REVOKE ALL ON FUNCTION workorder.task_outbox_expire() FROM PUBLIC;

-- Between the inbox drain (100) and the run log trim (1000, which must stay last).
INSERT INTO workorder.worker_tasks (task, position, function, description, shipped) VALUES
    ('outbox_expire', 500, 'workorder.task_outbox_expire',
     'give back outbox messages whose lease ran out (dead after outbox_max_attempts)', true);

-- outbox_dead_notice tells the center of a message that died, however it died (a
-- failure or a lease that ran out after its last attempt; through fail_outbox, a
-- claim or outbox_expire): a row in workorder.notifications (part 92) of kind
-- outbox_dead, and a NOTIFY workorder that names it (workorder.announce).  A dead message is a
-- reporter who was never told (of a result, say); nothing said so, and retention
-- deleted the row a month later.  A dead message that its last claimer's late ack
-- delivers after all is told the same way, of kind outbox_delivered_after_dead: the
-- dead notice stood, and the center would call back a citizen who had been told.
CREATE FUNCTION workorder.outbox_dead_notice()
RETURNS trigger
LANGUAGE plpgsql
AS $$
DECLARE
    kind text := CASE WHEN NEW.state OPERATOR(pg_catalog.=) 'dead' THEN 'outbox_dead' ELSE 'outbox_delivered_after_dead' END;
    payload jsonb := pg_catalog.jsonb_build_object(
        'kind', kind, 'order_id', NEW.order_id,
        'ticket', (SELECT o.ticket::text FROM workorder.orders o WHERE o.id OPERATOR(pg_catalog.=) NEW.order_id),
        'message_id', NEW.id, 'channel', NEW.channel_code, 'message_kind', NEW.kind, 'attempts', NEW.attempts,
        'last_error', pg_catalog.left(NEW.last_error, 200), 'at', pg_catalog.clock_timestamp());
BEGIN
    PERFORM workorder.announce(NEW.order_id, kind, payload);
    RETURN NULL;
END
$$;
CREATE TRIGGER outbox_dead_notice
    AFTER UPDATE OF state ON workorder.outbox
    FOR EACH ROW WHEN ((NEW.state OPERATOR(pg_catalog.=) 'dead' AND OLD.state IS DISTINCT FROM 'dead')
                       OR (OLD.state OPERATOR(pg_catalog.=) 'dead' AND NEW.state OPERATOR(pg_catalog.=) 'delivered'))
    EXECUTE FUNCTION workorder.outbox_dead_notice();
