-- workorder 0.4 -> 0.5, part 75: a settled message (delivered, or dead after its
-- last attempt) says when it settled, and retention (part 97) counts from then:
-- counted from created_at, a message that was retried for a month was deleted the
-- moment it died, and nobody saw the dead letter.  0.4 kept no time of death: the
-- dead messages it left settle at the upgrade, and are kept a whole retention
-- period from it.
ALTER TABLE workorder.outbox ADD COLUMN settled_at timestamptz;
UPDATE workorder.outbox x
   SET settled_at = CASE x.state WHEN 'delivered' THEN x.delivered_at ELSE pg_catalog.now() END
 WHERE x.state IN ('delivered', 'dead');
