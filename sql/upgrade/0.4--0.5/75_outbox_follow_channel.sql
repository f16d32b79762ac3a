-- workorder 0.4 -> 0.5, part 75: the outbox follows a channel's renamed code (its
-- function is made by @functions, from install/75_outbox.sql).
CREATE TRIGGER channels_outbox_follow
    AFTER UPDATE OF code ON workorder.channels
    FOR EACH ROW
    WHEN (OLD.code IS DISTINCT FROM NEW.code)
    EXECUTE FUNCTION workorder.outbox_follow_channel();
