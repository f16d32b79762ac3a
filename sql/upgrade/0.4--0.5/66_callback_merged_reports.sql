-- workorder 0.4 -> 0.5, part 66: a callback on a report merged into a resolved
-- master is the master's (install part 66, callback_order): its event is in the
-- master's log, which the column's comment now says.
COMMENT ON COLUMN workorder.callbacks.event_seq IS 'the seq of the callback event in the order''s log (its master''s, for a merged report)';
