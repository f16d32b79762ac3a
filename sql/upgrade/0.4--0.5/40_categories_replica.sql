-- workorder 0.4 -> 0.5: category_effective is rebuilt under session_replication_role
-- = replica and on a logical replication subscriber too (install part 40).
ALTER TABLE workorder.categories ENABLE ALWAYS TRIGGER categories_after_change;
CREATE TRIGGER categories_after_change_replica
    AFTER INSERT OR UPDATE OR DELETE ON workorder.categories
    FOR EACH ROW EXECUTE FUNCTION workorder.categories_after_change();
ALTER TABLE workorder.categories ENABLE REPLICA TRIGGER categories_after_change_replica;
