-- workorder 0.4 -> 0.5, part 70: the inbox follows a channel's renamed code (its
-- function is made by @functions, from install/70_inbox.sql).
CREATE TRIGGER channels_inbox_follow
    AFTER UPDATE OF code ON workorder.channels
    FOR EACH ROW
    WHEN (OLD.code IS DISTINCT FROM NEW.code)
    EXECUTE FUNCTION workorder.inbox_follow_channel();
