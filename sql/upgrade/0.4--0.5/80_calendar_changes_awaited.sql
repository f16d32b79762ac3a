-- workorder 0.4 -> 0.5, part 80: the recompute waits for the transactions that were
-- counting deadlines when a calendar change was first seen (see parts 80 and 93).
ALTER TABLE workorder.calendar_changes ADD COLUMN awaited text[];
COMMENT ON COLUMN workorder.calendar_changes.awaited IS
    'The transactions (virtual ids) that were counting deadlines when the recompute first saw the change; it waits for them to end (NULL: not seen yet).';
