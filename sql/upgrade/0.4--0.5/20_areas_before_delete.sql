-- workorder 0.4 -> 0.5, part 20: an area that units serve or orders lie in stays,
-- with WO201 (see part 20).  After @functions, which makes the trigger's function.
CREATE TRIGGER areas_before_delete
    BEFORE DELETE ON workorder.areas
    FOR EACH ROW EXECUTE FUNCTION workorder.areas_before_delete();
