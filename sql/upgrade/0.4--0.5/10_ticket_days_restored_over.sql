-- workorder 0.4 -> 0.5, part 10: a restored row of ticket_days takes the place of
-- the row of its day the database has (install part 10 says why); after
-- @functions, which makes the trigger's function.
CREATE TRIGGER ticket_days_restored_over
    BEFORE INSERT ON workorder.ticket_days
    FOR EACH ROW EXECUTE FUNCTION workorder.ticket_days_restored_over();
