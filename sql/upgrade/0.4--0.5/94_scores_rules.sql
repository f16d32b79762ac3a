-- workorder 0.4 -> 0.5, part 94: the scores' rules changed (an assignment that a
-- merge or a cancel ends leaves orders_assigned; an overdue mark that an approved
-- extension withdrew is taken back).  The rows of past periods were counted by 0.4's
-- rules, and the task score_update only adds the facts of new events; a full
-- recompute is minutes on a large log, too long to hold the update's locks, so the
-- update says so and leaves it to the district.
DO $scores$
BEGIN
    IF EXISTS (SELECT 1 FROM workorder.unit_scores) THEN
        RAISE WARNING 'the unit scores of past periods follow 0.4''s rules: run SELECT workorder.recompute_scores(); to count them as 0.5 does (merged and cancelled assignments, withdrawn overdue marks)';
    END IF;
END
$scores$;
