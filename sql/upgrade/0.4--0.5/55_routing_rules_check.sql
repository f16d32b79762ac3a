-- workorder 0.4 -> 0.5, part 55: a routing rule's keywords are trimmed and none is
-- blank, and its assisting units exist (WO231, see part 55).  After @functions,
-- which makes the trigger's function.  Rules written before are not checked again.
CREATE TRIGGER routing_rules_check
    BEFORE INSERT OR UPDATE OF keywords, assisting_units ON workorder.routing_rules
    FOR EACH ROW WHEN (NOT workorder.loaded_by_copy('workorder.routing_rules'))
    EXECUTE FUNCTION workorder.routing_rules_check();
