-- workorder 0.4 -> 0.5: a unit whose area, level, kind or department kind changes is
-- checked against the units under it (install part 30; the function comes with
-- @functions).
CREATE CONSTRAINT TRIGGER units_children_fit
    AFTER UPDATE OF area_code, level, kind, department_kind ON workorder.units
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW
    WHEN ((OLD.area_code, OLD.level, OLD.kind, OLD.department_kind)
          IS DISTINCT FROM (NEW.area_code, NEW.level, NEW.kind, NEW.department_kind))
    EXECUTE FUNCTION workorder.units_children_fit();
