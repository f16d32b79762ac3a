-- workorder 0.4 -> 0.5: since when a channel has been out of use (install part 40),
-- which the inbox's retirement of a report reads (part 70).  A channel already out
-- of use counts from the update: how long it has been off is not known.
ALTER TABLE workorder.channels ADD COLUMN inactive_since timestamptz;
UPDATE workorder.channels SET inactive_since = pg_catalog.now() WHERE NOT active;
CREATE TRIGGER channels_inactive_since
    BEFORE INSERT OR UPDATE ON workorder.channels
    FOR EACH ROW EXECUTE FUNCTION workorder.channels_inactive_since();
