-- workorder 0.4 -> 0.5, part 70: a rejected inbox row keeps the hint of its error
-- (what to do), beside its code and message; 0.4 kept only those two, so a
-- connector reading its rejections back never saw the hint.  inbox_mine, which
-- shows a connector its rows, shows the new column too.
ALTER TABLE workorder.inbox ADD COLUMN error_hint text;
COMMENT ON COLUMN workorder.inbox.error_hint IS
    'what to do about the error of error_code and error_message: the hint of submit()''s error (for a column that does not convert, which column to correct); NULL when the error has none';
CREATE OR REPLACE VIEW workorder.inbox_mine WITH (security_barrier) AS
SELECT i.* FROM workorder.inbox i
 WHERE (SELECT workorder.caller_unrestricted())
    OR i.channel OPERATOR(pg_catalog.=) (SELECT workorder.caller_channel());
