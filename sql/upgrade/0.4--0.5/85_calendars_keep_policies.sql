-- workorder 0.4 -> 0.5, part 85: a renamed calendar takes its SLA policies with it,
-- and a calendar a policy uses is not deleted (WO502); every submit() under such a
-- policy used to fail with "unknown calendar".  The triggers; @functions makes
-- their function.
CREATE TRIGGER calendars_rename_policies
    AFTER UPDATE OF code ON workorder.calendars
    FOR EACH ROW WHEN (OLD.code IS DISTINCT FROM NEW.code)
    EXECUTE FUNCTION workorder.calendars_keep_policies();
-- Checked at commit, as a deferred key would be: restoring a changed copy of a
-- shipped calendar deletes the shipped one and inserts the copy (part 80).
CREATE CONSTRAINT TRIGGER calendars_delete_policies
    AFTER DELETE ON workorder.calendars
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION workorder.calendars_keep_policies();
