-- workorder 0.4 -> 0.5, part 87: detect_hotspots takes raise_orders (a look at the
-- past raises no proactive orders unless told to).  A new argument is a new
-- signature, which CREATE OR REPLACE cannot give the old function: it is dropped
-- here, and @functions makes the new one.  Nothing depends on it but by name.
DROP FUNCTION workorder.detect_hotspots(timestamptz);
