-- workorder 0.4 -> 0.5, part 75: the outbox's messages and the inbox's rows follow a
-- channel's renamed code (the trigger's function is made by @functions, from
-- install/75_outbox.sql).
CREATE TRIGGER channels_rows_follow
    AFTER UPDATE OF code ON workorder.channels
    FOR EACH ROW
    WHEN (OLD.code IS DISTINCT FROM NEW.code)
    EXECUTE FUNCTION workorder.channel_rows_follow_code();
