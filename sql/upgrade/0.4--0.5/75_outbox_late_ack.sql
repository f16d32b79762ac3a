-- workorder 0.4 -> 0.5, part 75: a connector's ack that comes after its lease ran
-- out is still taken while nobody claimed the message since (ack_outbox), also once
-- outbox_expire gave it back or made it dead.  The column that says the lease ran
-- out; claimed_by keeps the last claimer with it.  Messages given back under 0.4 have
-- lost their claimer, and stay as they are.
ALTER TABLE workorder.outbox ADD COLUMN lease_expired_at timestamptz;
COMMENT ON COLUMN workorder.outbox.claimed_by IS
    'the claimer of the current claim, or of the last one when its lease ran out (lease_expired_at); NULL for an anonymous claimer and after a fail';
COMMENT ON COLUMN workorder.outbox.lease_expired_at IS
    'when the last claim''s lease ran out and the message was given back (pending again, or dead); a late ack of claimed_by is still taken until it is claimed again';
