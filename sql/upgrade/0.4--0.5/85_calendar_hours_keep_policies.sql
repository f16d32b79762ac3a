-- workorder 0.4 -> 0.5, part 85: a calendar that SLA policies use is not left
-- without working hours, nor with too few for a policy on it (see part 85).  After
-- @functions, which makes the trigger's function.
CREATE CONSTRAINT TRIGGER calendar_hours_keep_policies
    AFTER INSERT OR DELETE OR UPDATE ON workorder.calendar_hours
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION workorder.calendar_hours_keep_policies();
