-- workorder 0.4 -> 0.5, part 50: the trigger that keeps settled_at from now on (its
-- function comes with @functions; the column with 50_orders_settled_at).
CREATE TRIGGER orders_settled_at
    BEFORE INSERT OR UPDATE OF status ON workorder.orders
    FOR EACH ROW EXECUTE FUNCTION workorder.orders_settled_at();
