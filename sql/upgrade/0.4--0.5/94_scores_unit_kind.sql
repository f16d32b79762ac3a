-- workorder 0.4 -> 0.5, part 94: a unit's score rows follow its kind (rank is among
-- the units of one kind), so that score_update and recompute_scores agree after a
-- unit changes kind.  The trigger; @functions makes its function.
CREATE TRIGGER units_kind_scores
    AFTER UPDATE ON workorder.units
    REFERENCING OLD TABLE AS old_units NEW TABLE AS new_units
    FOR EACH STATEMENT EXECUTE FUNCTION workorder.units_kind_scores();
