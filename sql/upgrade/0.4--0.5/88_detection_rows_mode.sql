-- workorder 0.4 -> 0.5: ingest_detection_rows takes a mode (install part 88:
-- bad rows found by probes, the rest taken in with one statement); @functions
-- creates it with its new argument, which the old one would make ambiguous.
DROP FUNCTION workorder.ingest_detection_rows(bigint[], integer, interval, double precision, real);
