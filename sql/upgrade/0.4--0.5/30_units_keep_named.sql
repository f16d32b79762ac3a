-- workorder 0.4 -> 0.5, part 30: a unit that orders or the event log name is not
-- deleted (install part 30 says why).  The function is made with the others
-- (@functions); its trigger here.
CREATE TRIGGER units_before_delete
    BEFORE DELETE ON workorder.units
    FOR EACH ROW EXECUTE FUNCTION workorder.units_before_delete();
