-- workorder 0.4 -> 0.5: an order's area_chain follows an area given a new code, as
-- its area_code does (install part 50; the function comes with @functions).
CREATE TRIGGER areas_orders_follow_code
    AFTER UPDATE OF code ON workorder.areas
    FOR EACH ROW WHEN (OLD.code IS DISTINCT FROM NEW.code)
    EXECUTE FUNCTION workorder.orders_follow_area_code();
