-- workorder 0.4 -> 0.5: a renamed category's children follow it (install part 40),
-- and its trigger checks for a cycle when a code changes too.
ALTER TABLE workorder.categories
    DROP CONSTRAINT categories_parent_code_fkey,
    ADD CONSTRAINT categories_parent_code_fkey FOREIGN KEY (parent_code)
        REFERENCES workorder.categories (code) ON UPDATE CASCADE DEFERRABLE INITIALLY DEFERRED;
DROP TRIGGER categories_before_write ON workorder.categories;
CREATE TRIGGER categories_before_write
    BEFORE INSERT OR UPDATE OF code, parent_code ON workorder.categories
    FOR EACH ROW EXECUTE FUNCTION workorder.categories_before_write();
