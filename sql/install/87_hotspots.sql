-- workorder install script, part 87: hotspots (issue 6).
--
-- A hotspot is a place where the orders of one category cluster, in the most
-- recent window of time, well beyond that same place's usual rate: the road
-- section that floods every time it rains, the market with repeated noise
-- complaints this week.  A place that is always busy is not a hotspot.
--
-- How a place is found: the orders of a group (below) in the window
-- [as_of - window, as_of) are projected into the metric SRID of the setting
-- grid_srid (default 4547, CGCS2000 / 3-degree Gauss-Kruger CM 114E, which suits
-- Foshan; choose your district's zone) and clustered with ST_ClusterDBSCAN (eps =
-- radius_m, minpoints 3): orders chained by hops of at most radius_m, each link
-- between points that have 2 others that close.  The place of a cluster is its
-- convex hull grown by radius_m.  DBSCAN rather than fixed grid cells, so that a
-- cluster on a cell border is not cut in two; the place is still comparable over
-- time, because its baseline counts the orders that fell inside that same area.
--
-- The rule: with n the cluster's orders and c_1..c_N the orders of the group inside
-- its area in each of the N preceding windows of the same length
-- (baseline_windows; a window without orders counts 0), mean = sum(c_i)/N and sd
-- the population standard deviation, the cluster is a hotspot when
--     n >= min_count  and  n > mean + k * sd  and  n >= min_ratio * mean.
-- The last condition keeps a place that is always busy (a steady 10 a week, sd
-- near 0) from becoming a hotspot on its 11th order.
--
-- Orders counted: their event time is COALESCE(occurred_at, received_at); merged
-- orders (duplicates of one event) and cancelled ones do not count, nor do
-- suspected duplicates waiting for review (seven reports of one flooded underpass
-- made a hotspot until a dispatcher confirmed them, and it ended then), nor do
-- orders that hotspots raised themselves (the channel of the setting hotspot_channel).
-- But a report merged into a hotspot's own order counts, as it did before the
-- merge: its master counts nowhere, and a dispatcher who gathered a hotspot's
-- reports into its order ended the hotspot (and the next reports started it
-- again, without them).
--
-- Policies: workorder.hotspot_policies, one row per category that is a hotspot
-- group.  A group counts the orders of its category's subtree, except the subtrees
-- of descendants that have rows of their own (they are groups of their own).  A
-- column left NULL inherits the nearest ancestor row's value, else the default:
--     enabled true, radius_m 100, window '7 days', baseline_windows 8, k 2,
--     min_count 5, min_ratio 2, raise_order false.
-- workorder.hotspot_settings shows the values in force for every category.
--
-- Records: workorder.hotspots.  A hotspot found where an active hotspot of the same
-- group lies (their areas intersect), or one that ended within a window before,
-- updates it: its area, count, baseline, ratio, window and last_seen_at (and an
-- ended one is active again).  Otherwise a new active hotspot is made.  An active
-- hotspot not found again is ended.  So an ongoing hotspot is one row, not one per
-- run, nor one each time its count dips under min_count and rises again.
--
-- Proactive orders: when the group's raise_order is true, each hotspot raises ONE
-- order through submit(), on the channel of the setting hotspot_channel (default
-- 'hotspot'), with channel_ref 'hotspot-<id>', the group's category, the centroid of
-- the window's orders as its location, and attributes naming the hotspot and the
-- orders.  The extension does not make that channel (channels is a configuration
-- table, and its rows are the operator's): create it, e.g.
--     SELECT workorder.load_channel('{"code": "hotspot", "name": "热点预警", "kind": "other", "replies": false}');
-- Without it, the hotspot is still recorded, with the error in order_error, and the
-- order is tried again on the next run.
--
-- The task detect_hotspots (part 93) runs detect_hotspots(now()) every
-- hotspot_interval (setting, default '1 hour').
--
-- SQLSTATEs: WO861 an invalid hotspot policy; WO862 an invalid detect_hotspots()
-- argument.

CREATE TABLE workorder.hotspot_policies (
    category_code    text PRIMARY KEY REFERENCES workorder.categories (code) ON UPDATE CASCADE ON DELETE CASCADE,
    enabled          boolean,
    radius_m         double precision,
    "window"         interval,
    baseline_windows integer,
    k                double precision,
    min_count        integer,
    min_ratio        double precision,
    raise_order      boolean
);
SELECT pg_catalog.pg_extension_config_dump('workorder.hotspot_policies', '');
REVOKE ALL ON workorder.hotspot_policies FROM PUBLIC;
COMMENT ON TABLE workorder.hotspot_policies IS
    'Hotspot detection per category group; NULL columns inherit from the nearest ancestor row, else the defaults. See workorder.hotspot_settings.';

-- hotspot_policies_before_write checks a policy row (WO861).
CREATE FUNCTION workorder.hotspot_policies_before_write()
RETURNS trigger
LANGUAGE plpgsql
AS $$
DECLARE
    why text;
BEGIN
    why := CASE
        WHEN NEW.radius_m IS NOT NULL AND NOT (NEW.radius_m OPERATOR(pg_catalog.>=) 5 AND NEW.radius_m OPERATOR(pg_catalog.<=) 5000)
            THEN pg_catalog.format('radius_m is %s; it must be from 5 to 5000 metres', NEW.radius_m)
        WHEN NEW."window" IS NOT NULL AND (pg_catalog.date_part('month', NEW."window") OPERATOR(pg_catalog.<>) 0
                                           OR pg_catalog.date_part('year', NEW."window") OPERATOR(pg_catalog.<>) 0
                                           OR NEW."window" OPERATOR(pg_catalog.<) '1 hour'::interval
                                           OR NEW."window" OPERATOR(pg_catalog.>) '90 days'::interval)
            THEN pg_catalog.format('window is %s; it must be from 1 hour to 90 days, without months', NEW."window")
        WHEN NEW.baseline_windows IS NOT NULL AND NOT (NEW.baseline_windows OPERATOR(pg_catalog.>=) 1
                                                       AND NEW.baseline_windows OPERATOR(pg_catalog.<=) 52)
            THEN pg_catalog.format('baseline_windows is %s; it must be from 1 to 52', NEW.baseline_windows)
        WHEN NEW.k IS NOT NULL AND NOT (NEW.k OPERATOR(pg_catalog.>=) 0 AND NEW.k OPERATOR(pg_catalog.<=) 10)
            THEN pg_catalog.format('k is %s; it must be from 0 to 10', NEW.k)
        WHEN NEW.min_count IS NOT NULL AND NOT (NEW.min_count OPERATOR(pg_catalog.>=) 2
                                                AND NEW.min_count OPERATOR(pg_catalog.<=) 100000)
            THEN pg_catalog.format('min_count is %s; it must be from 2 to 100000', NEW.min_count)
        WHEN NEW.min_ratio IS NOT NULL AND NOT (NEW.min_ratio OPERATOR(pg_catalog.>=) 1
                                                AND NEW.min_ratio OPERATOR(pg_catalog.<=) 100)
            THEN pg_catalog.format('min_ratio is %s; it must be from 1 to 100', NEW.min_ratio)
    END;
    IF why IS NOT NULL THEN
        PERFORM workorder.raise_error('WO861',
            pg_catalog.format('invalid hotspot policy for category %s', NEW.category_code),
            why OPERATOR(pg_catalog.||) '.',
            'Leave a column NULL to inherit it from the parent category''s policy or the default.');
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER hotspot_policies_before_write
    BEFORE INSERT OR UPDATE ON workorder.hotspot_policies
    FOR EACH ROW EXECUTE FUNCTION workorder.hotspot_policies_before_write();

-- hotspot_settings shows, for every category under a policy row, its group (the
-- nearest category on its path with a row) and the values in force.
CREATE VIEW workorder.hotspot_settings AS
SELECT e.code, s.group_code,
       COALESCE(s.enabled, true) AS enabled,
       COALESCE(s.radius_m, 100) AS radius_m,
       COALESCE(s."window", '7 days'::interval) AS "window",
       COALESCE(s.baseline_windows, 8) AS baseline_windows,
       COALESCE(s.k, 2) AS k,
       COALESCE(s.min_count, 5) AS min_count,
       COALESCE(s.min_ratio, 2) AS min_ratio,
       COALESCE(s.raise_order, false) AS raise_order
  FROM workorder.category_effective e
  CROSS JOIN LATERAL (
        SELECT (pg_catalog.array_agg(p.category_code ORDER BY u.depth DESC))[1] AS group_code,
               (pg_catalog.array_agg(p.enabled ORDER BY u.depth DESC) FILTER (WHERE p.enabled IS NOT NULL))[1] AS enabled,
               (pg_catalog.array_agg(p.radius_m ORDER BY u.depth DESC) FILTER (WHERE p.radius_m IS NOT NULL))[1] AS radius_m,
               (pg_catalog.array_agg(p."window" ORDER BY u.depth DESC) FILTER (WHERE p."window" IS NOT NULL))[1] AS "window",
               (pg_catalog.array_agg(p.baseline_windows ORDER BY u.depth DESC) FILTER (WHERE p.baseline_windows IS NOT NULL))[1] AS baseline_windows,
               (pg_catalog.array_agg(p.k ORDER BY u.depth DESC) FILTER (WHERE p.k IS NOT NULL))[1] AS k,
               (pg_catalog.array_agg(p.min_count ORDER BY u.depth DESC) FILTER (WHERE p.min_count IS NOT NULL))[1] AS min_count,
               (pg_catalog.array_agg(p.min_ratio ORDER BY u.depth DESC) FILTER (WHERE p.min_ratio IS NOT NULL))[1] AS min_ratio,
               (pg_catalog.array_agg(p.raise_order ORDER BY u.depth DESC) FILTER (WHERE p.raise_order IS NOT NULL))[1] AS raise_order
          FROM pg_catalog.unnest(e.path) WITH ORDINALITY AS u(code, depth)
          JOIN workorder.hotspot_policies p ON p.category_code OPERATOR(pg_catalog.=) u.code) s
 WHERE s.group_code IS NOT NULL;
REVOKE ALL ON workorder.hotspot_settings FROM PUBLIC;
COMMENT ON VIEW workorder.hotspot_settings IS
    'Every category under a hotspot policy: its group and the policy values in force after inheritance.';

CREATE TABLE workorder.hotspots (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    category_code  text NOT NULL REFERENCES workorder.categories (code) ON UPDATE CASCADE,
    status         text NOT NULL DEFAULT 'active',
    -- The place: the cluster's convex hull grown by radius_m, and its orders' centroid.
    geom           geometry(Polygon, 4326) NOT NULL,
    center         geometry(Point, 4326) NOT NULL,
    radius_m       double precision NOT NULL,
    -- The latest window in which it was hot, and how hot.
    window_start   timestamptz NOT NULL,
    window_end     timestamptz NOT NULL,
    order_count    integer NOT NULL,
    baseline_mean  double precision NOT NULL,
    baseline_sd    double precision NOT NULL,
    ratio          double precision,
    order_ids      bigint[] NOT NULL,
    first_seen_at  timestamptz NOT NULL,
    last_seen_at   timestamptz NOT NULL,
    ended_at       timestamptz,
    -- The proactive order, if the policy raises one.
    order_id       bigint REFERENCES workorder.orders (id),
    order_error    text,
    CONSTRAINT hotspots_status CHECK (status IN ('active', 'ended')),
    CONSTRAINT hotspots_ended CHECK ((status OPERATOR(pg_catalog.=) 'ended') OPERATOR(pg_catalog.=) (ended_at IS NOT NULL))
);
CREATE INDEX hotspots_active_idx ON workorder.hotspots (category_code) WHERE status OPERATOR(pg_catalog.=) 'active';
CREATE INDEX hotspots_geom_idx ON workorder.hotspots USING gist (geom);
SELECT pg_catalog.pg_extension_config_dump('workorder.hotspots', '');
SELECT pg_catalog.pg_extension_config_dump('workorder.hotspots_id_seq', '');
REVOKE ALL ON workorder.hotspots FROM PUBLIC;
COMMENT ON TABLE workorder.hotspots IS
    'Places where one category''s orders cluster beyond their baseline; one row per ongoing hotspot, updated by detect_hotspots().';
COMMENT ON COLUMN workorder.hotspots.ratio IS 'order_count / baseline_mean; NULL when the place had no orders in the baseline';
COMMENT ON COLUMN workorder.hotspots.order_ids IS 'the orders of the latest hot window (at most 100)';
COMMENT ON COLUMN workorder.hotspots.order_error IS 'why the proactive order could not be raised (retried on the next run)';

-- hotspot_runs records each run of detect_hotspots(); the task reads the last one
-- to know when it is next due.
CREATE TABLE workorder.hotspot_runs (
    as_of     timestamptz PRIMARY KEY,
    ran_at    timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
    hot       integer NOT NULL,
    started   integer NOT NULL,
    ended     integer NOT NULL,
    orders    integer NOT NULL
);
REVOKE ALL ON workorder.hotspot_runs FROM PUBLIC;
COMMENT ON TABLE workorder.hotspot_runs IS 'One row per run of workorder.detect_hotspots(): hot places, new, ended, orders raised.';

-- detect_hotspots finds the hot places of every enabled group in the window ending
-- at as_of, records them in workorder.hotspots (updating ongoing ones, ending those
-- not found again) and raises the proactive orders the policies ask for.  It
-- returns the hotspots that are active after the run.  Two runs never overlap: the
-- second waits for the first (a transaction-level advisory lock).
--
-- raise_orders says whether the run raises those orders.  NULL (the default) raises
-- them for a window that ends within one of its length of now: a look further back
-- (what was hot last month?) records what it finds but sends nobody out to a place
-- that was hot then; the next run at now raises the order if the place still is.
-- true raises them whatever the window (a backfill that should), false never.
CREATE FUNCTION workorder.detect_hotspots(as_of timestamptz DEFAULT pg_catalog.now(),
                                          raise_orders boolean DEFAULT NULL)
RETURNS SETOF workorder.hotspots
LANGUAGE plpgsql
SECURITY DEFINER
AS $$
DECLARE
    srid integer := workorder.setting('grid_srid', '4547')::integer;
    own_channel text := workorder.setting('hotspot_channel', 'hotspot');
    earliest timestamptz;
    latest_run timestamptz;
    found_place record;
    place geometry;
    match bigint;
    seen bigint[] := '{}';
    n_hot integer := 0;
    n_started integer := 0;
    n_ended integer;
    n_orders integer := 0;
    spot workorder.hotspots;
    made workorder.orders;
BEGIN
    -- Not before 2000: the windows before it (a year, a baseline of years) ran out of
    -- the range of timestamps for one in 4713 BC (22008).
    IF as_of IS NULL OR NOT pg_catalog.isfinite(as_of)
       OR as_of OPERATOR(pg_catalog.>) pg_catalog.now() OR as_of OPERATOR(pg_catalog.<) '2000-01-01'::timestamptz THEN
        PERFORM workorder.raise_error('WO862', 'invalid as_of for detect_hotspots',
            pg_catalog.format('as_of is %s.', COALESCE(as_of::text, 'NULL')),
            'Pass the end of the window to examine: now() or an instant in the past, after 2000.');
    END IF;
    PERFORM workorder.lock_xact('workorder.detect_hotspots');
    -- A look before the latest run reports what it finds and changes no hotspot
    -- that run judged: one it had ended came back active at the past look, until
    -- the next run ended it again.  (A run recorded ahead of the clock, which was
    -- set back since, is not the latest: every run would have been a look back.)
    SELECT pg_catalog.max(r.as_of) INTO latest_run FROM workorder.hotspot_runs r
     WHERE r.as_of OPERATOR(pg_catalog.<=) pg_catalog.now();
    SELECT pg_catalog.min(as_of OPERATOR(pg_catalog.-) s."window")
      INTO earliest
      FROM workorder.hotspot_settings s WHERE s.enabled;

    -- Without an enabled policy there is nothing to look at (earliest is NULL).
    FOR found_place IN
        WITH counted AS MATERIALIZED (
            -- The orders of the current window, projected.
            SELECT s.group_code, s.radius_m, s.min_count, o.id, o.location, ST_Transform(o.location, srid) AS p
              FROM workorder.hotspot_settings s
              JOIN workorder.orders o ON o.category_code OPERATOR(pg_catalog.=) s.code
             WHERE s.enabled
               -- occurred_at is at most an hour after receipt (submit() checks it).
               AND earliest IS NOT NULL
               AND o.received_at OPERATOR(pg_catalog.>=) (earliest OPERATOR(pg_catalog.-) '1 hour'::interval)
               AND COALESCE(o.occurred_at, o.received_at) OPERATOR(pg_catalog.<) as_of
               AND COALESCE(o.occurred_at, o.received_at) OPERATOR(pg_catalog.>=) (as_of OPERATOR(pg_catalog.-) s."window")
               AND o.status OPERATOR(pg_catalog.<>) 'cancelled'
               AND (o.status OPERATOR(pg_catalog.<>) 'merged'
                    OR (SELECT m.channel_code FROM workorder.orders m WHERE m.id OPERATOR(pg_catalog.=) o.master_id)
                       OPERATOR(pg_catalog.=) own_channel)
               AND NOT workorder.awaits_review(o)
               AND o.channel_code OPERATOR(pg_catalog.<>) own_channel
        ), clustered AS (
            -- A core point has two neighbours (minpoints 3), or one where the group's
            -- min_count is 2: with 3, two reports at one spot were never a cluster,
            -- and min_count 2 acted as 3.  min_count is the same across a group.
            SELECT c.*, ST_ClusterDBSCAN(c.p, c.radius_m, LEAST(c.min_count, 3)) OVER (PARTITION BY c.group_code) AS cluster
              FROM counted c
        ), clusters AS MATERIALIZED (
            SELECT k.group_code, k.cluster, pg_catalog.count(*)::integer AS n,
                   pg_catalog.array_agg(k.id ORDER BY k.id) AS ids,
                   ST_Buffer(ST_ConvexHull(ST_Collect(k.p)), pg_catalog.max(k.radius_m)) AS area,
                   ST_Transform(ST_Buffer(ST_ConvexHull(ST_Collect(k.p)), pg_catalog.max(k.radius_m)), 4326) AS area_wgs,
                   ST_Centroid(ST_Collect(k.location)) AS center
              FROM clustered k
             WHERE k.cluster IS NOT NULL
             GROUP BY k.group_code, k.cluster
        ), baseline AS (
            -- The group's orders inside each cluster's place in each preceding window
            -- (w = 1 .. baseline_windows), found through the GiST index on location.
            -- Window w is [as_of - (w + 1) * window, as_of - w * window): an order on
            -- its lower edge belongs to it (floor would put it in w + 1, beyond the last).
            SELECT k.group_code, k.cluster,
                   (pg_catalog.ceil(pg_catalog.date_part('epoch', as_of OPERATOR(pg_catalog.-) COALESCE(o.occurred_at, o.received_at))
                                    OPERATOR(pg_catalog./) pg_catalog.date_part('epoch', g."window")) OPERATOR(pg_catalog.-) 1)::integer AS w,
                   pg_catalog.count(*)::double precision AS c
              FROM clusters k
              JOIN workorder.hotspot_settings g ON g.code OPERATOR(pg_catalog.=) k.group_code
              JOIN workorder.orders o ON ST_Intersects(o.location, k.area_wgs)
              JOIN workorder.hotspot_settings s ON s.code OPERATOR(pg_catalog.=) o.category_code
                                               AND s.group_code OPERATOR(pg_catalog.=) k.group_code
             WHERE o.received_at OPERATOR(pg_catalog.>=)
                   (as_of OPERATOR(pg_catalog.-) (g."window" OPERATOR(pg_catalog.*) (g.baseline_windows OPERATOR(pg_catalog.+) 1))
                    OPERATOR(pg_catalog.-) '1 hour'::interval)
               AND COALESCE(o.occurred_at, o.received_at) OPERATOR(pg_catalog.<) (as_of OPERATOR(pg_catalog.-) g."window")
               AND COALESCE(o.occurred_at, o.received_at) OPERATOR(pg_catalog.>=)
                   (as_of OPERATOR(pg_catalog.-) (g."window" OPERATOR(pg_catalog.*) (g.baseline_windows OPERATOR(pg_catalog.+) 1)))
               AND o.status OPERATOR(pg_catalog.<>) 'cancelled'
               AND (o.status OPERATOR(pg_catalog.<>) 'merged'
                    OR (SELECT m.channel_code FROM workorder.orders m WHERE m.id OPERATOR(pg_catalog.=) o.master_id)
                       OPERATOR(pg_catalog.=) own_channel)
               AND NOT workorder.awaits_review(o)
               AND o.channel_code OPERATOR(pg_catalog.<>) own_channel
             GROUP BY k.group_code, k.cluster, 3
        ), judged AS (
            SELECT k.group_code, k.n, k.ids, k.area, k.center, g."window", g.k, g.min_count, g.min_ratio, g.radius_m,
                   COALESCE(b.s1, 0) OPERATOR(pg_catalog./) g.baseline_windows AS mean,
                   pg_catalog.sqrt(GREATEST(COALESCE(b.s2, 0) OPERATOR(pg_catalog./) g.baseline_windows
                                            OPERATOR(pg_catalog.-) ((COALESCE(b.s1, 0) OPERATOR(pg_catalog./) g.baseline_windows) OPERATOR(pg_catalog.^) 2), 0)) AS sd
              FROM clusters k
              JOIN workorder.hotspot_settings g ON g.code OPERATOR(pg_catalog.=) k.group_code
              LEFT JOIN (SELECT x.group_code, x.cluster, pg_catalog.sum(x.c) AS s1, pg_catalog.sum(x.c OPERATOR(pg_catalog.*) x.c) AS s2
                           FROM baseline x GROUP BY x.group_code, x.cluster) b
                     ON b.group_code OPERATOR(pg_catalog.=) k.group_code AND b.cluster OPERATOR(pg_catalog.=) k.cluster
        )
        -- The clusters that share the most orders with a hotspot of theirs come
        -- first, then the nearest to one, then the bigger: a place goes on with
        -- its own hotspot, and a bigger cluster beside it (whose area reaches the
        -- hotspot's) no longer takes that hotspot over, leaving the place a second
        -- one and a second proactive order; also when no order is shared (a window
        -- no longer than the runs' interval, a worker down for a window).
        -- shared_with is the hotspot a cluster shares the most orders with, as the
        -- hotspots were before this run.
        SELECT j.*, h.shared_with, h.shared, h.distance FROM judged j
          LEFT JOIN LATERAL (
              SELECT pg_catalog.max(t.shared) AS shared, pg_catalog.min(t.distance) AS distance,
                     (pg_catalog.array_agg(t.id ORDER BY t.shared DESC, t.distance, t.id)
                          FILTER (WHERE t.shared OPERATOR(pg_catalog.>) 0))[1] AS shared_with
                FROM (SELECT x.id,
                             pg_catalog.cardinality(ARRAY(SELECT pg_catalog.unnest(x.order_ids)
                                                          INTERSECT SELECT pg_catalog.unnest(j.ids))) AS shared,
                             ST_Distance(x.center, j.center) AS distance
                        FROM workorder.hotspots x
                       WHERE x.category_code OPERATOR(pg_catalog.=) j.group_code
                         AND (x.status OPERATOR(pg_catalog.=) 'active'
                              OR x.ended_at OPERATOR(pg_catalog.>=) (as_of OPERATOR(pg_catalog.-) j."window"))
                         AND ST_Intersects(x.geom, ST_Transform(j.area, 4326))) t) h ON true
         WHERE j.n OPERATOR(pg_catalog.>=) j.min_count
           AND j.n::double precision OPERATOR(pg_catalog.>) (j.mean OPERATOR(pg_catalog.+) (j.k OPERATOR(pg_catalog.*) j.sd))
           AND j.n::double precision OPERATOR(pg_catalog.>=) (j.min_ratio OPERATOR(pg_catalog.*) j.mean)
         ORDER BY j.group_code, h.shared DESC NULLS LAST, h.distance NULLS LAST, j.n DESC, j.ids[1]
    LOOP
        place := ST_Transform(found_place.area, 4326);
        -- A part of a place whose hotspot another part took in this run (its chain
        -- of reports broke: a report in the middle left the window, or was
        -- cancelled) is that hotspot's too: it made a second hotspot and a second
        -- proactive order for one place.
        IF found_place.shared_with OPERATOR(pg_catalog.=) ANY (seen) THEN
            UPDATE workorder.hotspots x
               SET geom = ST_ConvexHull(ST_Collect(x.geom, place)),
                   order_count = x.order_count OPERATOR(pg_catalog.+) found_place.n,
                   order_ids = (ARRAY(SELECT DISTINCT pg_catalog.unnest(x.order_ids OPERATOR(pg_catalog.||) found_place.ids) ORDER BY 1))[1:100]
             WHERE x.id OPERATOR(pg_catalog.=) found_place.shared_with
               AND (latest_run IS NULL OR as_of OPERATOR(pg_catalog.>=) latest_run);
            CONTINUE;
        END IF;
        n_hot := n_hot OPERATOR(pg_catalog.+) 1;
        -- The hotspot of the group that lies there: the one that shares the most
        -- orders with the place, then the active one, then the oldest; unless
        -- another cluster of this run has taken it already.  For a look at the
        -- past, an ended hotspot that had not ended by as_of is the place's too,
        -- also one first seen after as_of (a second hotspot was made for the
        -- place, active, and a second proactive order).  So is one that ended
        -- within a window before as_of, which goes on: a count that hovers
        -- around min_count ended the hotspot and made a second one, with a second
        -- proactive order, each time it rose again.
        SELECT x.id INTO match FROM workorder.hotspots x
         WHERE x.category_code OPERATOR(pg_catalog.=) found_place.group_code
           AND (x.status OPERATOR(pg_catalog.=) 'active'
                OR x.ended_at OPERATOR(pg_catalog.>=) (as_of OPERATOR(pg_catalog.-) found_place."window"))
           AND ST_Intersects(x.geom, place) AND NOT (x.id OPERATOR(pg_catalog.=) ANY (seen))
         ORDER BY pg_catalog.cardinality(ARRAY(SELECT pg_catalog.unnest(x.order_ids)
                                               INTERSECT SELECT pg_catalog.unnest(found_place.ids))) DESC,
                  x.status OPERATOR(pg_catalog.<>) 'active', ST_Distance(x.center, found_place.center), x.id
         LIMIT 1;
        IF match IS NOT NULL THEN
            -- A look at the past (as_of before the hotspot was last seen, or before
            -- the latest run) leaves the hotspot as the later run found it.  A
            -- hotspot that had ended by as_of is active again.
            UPDATE workorder.hotspots x
               SET status = CASE WHEN x.ended_at OPERATOR(pg_catalog.<=) as_of THEN 'active' ELSE x.status END,
                   ended_at = CASE WHEN x.ended_at OPERATOR(pg_catalog.<=) as_of THEN NULL ELSE x.ended_at END,
                   geom = place, center = found_place.center, radius_m = found_place.radius_m,
                   window_start = as_of OPERATOR(pg_catalog.-) found_place."window", window_end = as_of,
                   order_count = found_place.n, baseline_mean = found_place.mean, baseline_sd = found_place.sd,
                   ratio = found_place.n OPERATOR(pg_catalog./) NULLIF(found_place.mean, 0::pg_catalog.float8),
                   order_ids = found_place.ids[1:100], last_seen_at = as_of
             WHERE x.id OPERATOR(pg_catalog.=) match AND x.last_seen_at OPERATOR(pg_catalog.<=) as_of
               AND (latest_run IS NULL OR as_of OPERATOR(pg_catalog.>=) latest_run);
        ELSE
            -- A place hot at a look before the latest run, which found no hotspot
            -- there, had stopped being hot by that run: recorded as ended then, so
            -- that a backfill keeps it, and no unit is sent there (it was made
            -- active, and raised a proactive order for a place the latest run had
            -- found not hot); unless the caller asks for the orders of the past
            -- (raise_orders => true, a backfill that should).
            INSERT INTO workorder.hotspots
                (category_code, status, ended_at, geom, center, radius_m, window_start, window_end, order_count,
                 baseline_mean, baseline_sd, ratio, order_ids, first_seen_at, last_seen_at)
            VALUES (found_place.group_code,
                    CASE WHEN as_of OPERATOR(pg_catalog.<) latest_run AND raise_orders IS NOT TRUE THEN 'ended' ELSE 'active' END,
                    CASE WHEN as_of OPERATOR(pg_catalog.<) latest_run AND raise_orders IS NOT TRUE THEN latest_run END,
                    place, found_place.center, found_place.radius_m,
                    as_of OPERATOR(pg_catalog.-) found_place."window", as_of, found_place.n, found_place.mean,
                    found_place.sd, found_place.n OPERATOR(pg_catalog./) NULLIF(found_place.mean, 0::pg_catalog.float8),
                    found_place.ids[1:100], as_of, as_of)
            RETURNING id INTO match;
            n_started := n_started OPERATOR(pg_catalog.+) 1;
        END IF;
        seen := seen OPERATOR(pg_catalog.||) match;
    END LOOP;

    -- End the active hotspots not found again; not those a later run saw (a look
    -- at the past ended a live hotspot before its start, and the next run raised a
    -- second order for the same place).
    UPDATE workorder.hotspots x
       SET status = 'ended', ended_at = as_of
     WHERE x.status OPERATOR(pg_catalog.=) 'active' AND NOT (x.id OPERATOR(pg_catalog.=) ANY (seen))
       AND x.last_seen_at OPERATOR(pg_catalog.<=) as_of;
    GET DIAGNOSTICS n_ended = ROW_COUNT;

    -- One proactive order per hotspot whose policy asks for it; a failure (no such
    -- channel, ...) is kept on the hotspot and tried again next run.
    FOR spot IN SELECT x.* FROM workorder.hotspots x
                  JOIN workorder.hotspot_settings g ON g.code OPERATOR(pg_catalog.=) x.category_code
                 WHERE x.id OPERATOR(pg_catalog.=) ANY (seen) AND x.order_id IS NULL AND g.raise_order
                   AND x.status OPERATOR(pg_catalog.=) 'active'
                   AND COALESCE(raise_orders,
                                as_of OPERATOR(pg_catalog.>=) (pg_catalog.now() OPERATOR(pg_catalog.-) g."window"))
                 ORDER BY x.id
    LOOP
        BEGIN
            -- A hotspot whose link to its order was lost has its order by the
            -- reference: taken as it is, not submitted again (its counts have
            -- moved since, and submit() refuses another report under a reference
            -- it used, WO308).
            SELECT x.* INTO made FROM workorder.orders x
             WHERE x.channel_code OPERATOR(pg_catalog.=) workorder.trim_blanks(own_channel)
               AND x.channel_ref OPERATOR(pg_catalog.=) ('hotspot-' OPERATOR(pg_catalog.||) spot.id);
            IF NOT FOUND THEN
                made := workorder.submit(
                    channel => own_channel,
                    channel_ref => 'hotspot-' OPERATOR(pg_catalog.||) spot.id,
                    category => spot.category_code,
                    description => pg_catalog.format('热点预警: %s %s 单 (%s 至 %s), 平常每期 %s 单',
                        (SELECT c.name FROM workorder.categories c WHERE c.code OPERATOR(pg_catalog.=) spot.category_code),
                        spot.order_count,
                        pg_catalog.to_char(spot.window_start AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM-DD HH24:MI'),
                        pg_catalog.to_char(spot.window_end AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM-DD HH24:MI'),
                        pg_catalog.round(spot.baseline_mean::numeric, 1)),
                    location => spot.center,
                    attributes => pg_catalog.jsonb_build_object('hotspot_id', spot.id, 'order_count', spot.order_count,
                        'baseline_mean', spot.baseline_mean, 'ratio', spot.ratio, 'window_start', spot.window_start,
                        'window_end', spot.window_end, 'order_ids', pg_catalog.to_jsonb(spot.order_ids)));
            END IF;
            UPDATE workorder.hotspots x SET order_id = made.id, order_error = NULL WHERE x.id OPERATOR(pg_catalog.=) spot.id;
            n_orders := n_orders OPERATOR(pg_catalog.+) 1;
        EXCEPTION WHEN OTHERS THEN
            UPDATE workorder.hotspots x
               SET order_error = pg_catalog.format('%s (SQLSTATE %s)', SQLERRM, SQLSTATE)
             WHERE x.id OPERATOR(pg_catalog.=) spot.id;
        END;
    END LOOP;

    INSERT INTO workorder.hotspot_runs (as_of, hot, started, ended, orders)
    VALUES (as_of, n_hot, n_started, n_ended, n_orders)
    ON CONFLICT ON CONSTRAINT hotspot_runs_pkey DO UPDATE
       SET ran_at = EXCLUDED.ran_at, hot = EXCLUDED.hot, started = EXCLUDED.started,
           ended = EXCLUDED.ended, orders = EXCLUDED.orders;

    RETURN QUERY SELECT x.* FROM workorder.hotspots x WHERE x.status OPERATOR(pg_catalog.=) 'active' ORDER BY x.id;
END
$$;
REVOKE ALL ON FUNCTION workorder.detect_hotspots(timestamptz, boolean) FROM PUBLIC;
COMMENT ON FUNCTION workorder.detect_hotspots(timestamptz, boolean) IS
    'Finds the places where a category''s orders cluster beyond their baseline in the window ending at as_of; records, updates and ends workorder.hotspots; raises proactive orders (by default only for a window ending within one of its length of now).';
