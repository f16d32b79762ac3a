-- workorder 0.4 -> 0.5, part 94: the red list's threshold may not be below the
-- black list's (install part 94 says why).  The function is made with the others
-- (@functions); its trigger here.  A database whose rows are crossed already keeps
-- them until one of the two is written.
CREATE CONSTRAINT TRIGGER settings_score_lists
    AFTER INSERT OR UPDATE ON workorder.settings
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW WHEN (NEW.name OPERATOR(pg_catalog.=) ANY ('{score_red_at_least,score_black_below}'::text[]))
    EXECUTE FUNCTION workorder.settings_score_lists();
-- A row deleted puts its default back, which may cross the other's value.
CREATE CONSTRAINT TRIGGER settings_score_lists_delete
    AFTER DELETE ON workorder.settings
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW WHEN (OLD.name OPERATOR(pg_catalog.=) ANY ('{score_red_at_least,score_black_below}'::text[]))
    EXECUTE FUNCTION workorder.settings_score_lists();
