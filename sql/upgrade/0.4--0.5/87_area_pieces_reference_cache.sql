-- workorder 0.4 -> 0.5, part 87: a change of area_pieces reloads the map of areas in
-- every backend, as a change of any reference table does (see part 87).
CREATE TRIGGER area_pieces_reference_cache
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON workorder.area_pieces
    FOR EACH STATEMENT EXECUTE FUNCTION workorder.reference_cache_invalidate();
ALTER TABLE workorder.area_pieces ENABLE ALWAYS TRIGGER area_pieces_reference_cache;
