-- workorder 0.4 -> 0.5: a category in use, or with children, is kept with a WO221
-- that names what uses it (install part 40); after @functions, which makes the
-- triggers' functions.
CREATE TRIGGER categories_before_delete
    BEFORE DELETE ON workorder.categories
    FOR EACH ROW EXECUTE FUNCTION workorder.categories_before_delete();
CREATE TRIGGER categories_after_delete
    AFTER DELETE ON workorder.categories REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION workorder.categories_after_delete();
