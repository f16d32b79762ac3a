-- workorder 0.4 -> 0.5, part 96: only the detection channel's connector fills the
-- detection inbox (the trigger's function is made by @functions, from
-- install/96_access.sql).
CREATE TRIGGER detection_inbox_check_channel
    BEFORE INSERT ON workorder.detection_inbox
    FOR EACH STATEMENT EXECUTE FUNCTION workorder.detection_inbox_check_channel();
