-- workorder install script, part 40: the event catalogue and the channels.
--
-- A category is a node in the hierarchical event catalogue.  Its defaults (the
-- handling level, the department kind, the SLA policy, the dedup radius and time
-- window) may be left NULL, in which case the nearest ancestor's value applies;
-- workorder.category_defaults shows the values in force.
--
-- A channel is where reports come from and where results go back to.  Each channel
-- has its own category codes, mapped onto the catalogue by channel_categories.

CREATE TABLE workorder.categories (
    code            text PRIMARY KEY,
    name            text NOT NULL,
    -- A renamed category's children follow it (they made the COMMIT fail with a bare
    -- 23503, as orders, rules and mappings followed).
    parent_code     text REFERENCES workorder.categories (code) ON UPDATE CASCADE DEFERRABLE INITIALLY DEFERRED,
    handling_level  workorder.area_level,
    department_kind text REFERENCES workorder.department_kinds (code),
    sla_policy      text,
    dedup_radius_m  double precision,
    dedup_window    interval,
    description     text,
    active          boolean NOT NULL DEFAULT true,
    CONSTRAINT categories_code_format CHECK (code OPERATOR(pg_catalog.~) '^[A-Z][A-Z0-9_]{0,31}$'),
    CONSTRAINT categories_name_length CHECK (pg_catalog.length(name) OPERATOR(pg_catalog.>=) 1
                                             AND pg_catalog.length(name) OPERATOR(pg_catalog.<=) 100),
    CONSTRAINT categories_parent_not_self CHECK (parent_code OPERATOR(pg_catalog.<>) code),
    CONSTRAINT categories_level CHECK (handling_level OPERATOR(pg_catalog.<>) 'grid'),
    CONSTRAINT categories_dedup_radius CHECK (dedup_radius_m OPERATOR(pg_catalog.>) 0
                                              AND dedup_radius_m OPERATOR(pg_catalog.<=) 5000),
    CONSTRAINT categories_dedup_window CHECK (dedup_window OPERATOR(pg_catalog.>) '0'::interval
                                              AND dedup_window OPERATOR(pg_catalog.<=) '90 days'::interval)
);
CREATE INDEX categories_parent_idx ON workorder.categories (parent_code);
SELECT pg_catalog.pg_extension_config_dump('workorder.categories', '');
COMMENT ON TABLE workorder.categories IS
    'The event catalogue. NULL defaults inherit from the parent; see workorder.category_defaults. Load with workorder.load_categories().';

-- categories_before_write refuses a parent that would make the catalogue a cycle:
-- also through a new code, which an ancestor names as its parent (A under a code
-- not loaded yet, Z, and then its child B renamed Z: A and B were each other's
-- ancestors, and both left category_effective, so intake knew neither).
CREATE FUNCTION workorder.categories_before_write()
RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    IF NEW.parent_code IS NOT NULL AND EXISTS (
        WITH RECURSIVE up AS (
            SELECT c.code, c.parent_code FROM workorder.categories c
             WHERE c.code OPERATOR(pg_catalog.=) NEW.parent_code
            UNION
            SELECT c.code, c.parent_code FROM workorder.categories c
              JOIN up ON c.code OPERATOR(pg_catalog.=) up.parent_code)
        SELECT 1 FROM up WHERE up.code OPERATOR(pg_catalog.=) NEW.code
                            OR up.parent_code OPERATOR(pg_catalog.=) NEW.code) THEN
        PERFORM workorder.raise_error('WO221',
            pg_catalog.format('category %s cannot be placed under %s', NEW.code, NEW.parent_code),
            pg_catalog.format('%s is %s itself or one of its descendants.', NEW.parent_code, NEW.code),
            'Choose a parent outside the category''s own subtree.');
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER categories_before_write
    BEFORE INSERT OR UPDATE OF code, parent_code ON workorder.categories
    FOR EACH ROW EXECUTE FUNCTION workorder.categories_before_write();

-- categories_before_delete keeps a category that orders, hotspots, channel
-- mappings or routing rules name (WO221, naming them, with what to do), as units
-- and areas are kept: the deletion failed with a bare foreign-key error.  Its
-- dedup, callback and hotspot policies go with it (ON DELETE CASCADE).
CREATE FUNCTION workorder.categories_before_delete()
RETURNS trigger
LANGUAGE plpgsql
AS $$
DECLARE
    users text;
BEGIN
    SELECT pg_catalog.concat_ws('; ',
               CASE WHEN EXISTS (SELECT 1 FROM workorder.orders o
                                  WHERE o.category_code OPERATOR(pg_catalog.=) OLD.code) THEN 'orders' END,
               CASE WHEN EXISTS (SELECT 1 FROM workorder.hotspots h
                                  WHERE h.category_code OPERATOR(pg_catalog.=) OLD.code) THEN 'hotspots' END,
               (SELECT 'the mappings ' OPERATOR(pg_catalog.||)
                       pg_catalog.string_agg(m.channel_code OPERATOR(pg_catalog.||) '/' OPERATOR(pg_catalog.||) m.channel_category_code,
                                             ', ' ORDER BY m.channel_code, m.channel_category_code)
                  FROM workorder.channel_categories m WHERE m.category_code OPERATOR(pg_catalog.=) OLD.code),
               (SELECT 'the routing rules ' OPERATOR(pg_catalog.||)
                       pg_catalog.string_agg(pg_catalog.format('%s (%s)', r.id, r.name), ', ' ORDER BY r.id)
                  FROM workorder.routing_rules r WHERE r.category_code OPERATOR(pg_catalog.=) OLD.code))
      INTO users;
    IF users OPERATOR(pg_catalog.<>) '' THEN
        PERFORM workorder.raise_error('WO221',
            pg_catalog.format('category %s (%s) is in use and stays', OLD.code, OLD.name),
            pg_catalog.format('It is named by %s.', users),
            'Deactivate it (active = false): its orders stay, and new reports of it wait for a dispatcher. To delete it, map the channels'' codes and the rules to another category first; a category that orders name stays.');
    END IF;
    RETURN OLD;
END
$$;

CREATE TRIGGER categories_before_delete
    BEFORE DELETE ON workorder.categories
    FOR EACH ROW EXECUTE FUNCTION workorder.categories_before_delete();

-- categories_after_delete refuses to leave a category without its parent (WO221,
-- naming the children): the key is deferred, so the deletion failed only at
-- COMMIT, with a bare 23503, and until then the children were missing from
-- category_effective and intake took them for unknown.  A parent and its children
-- deleted by one statement go together.
CREATE FUNCTION workorder.categories_after_delete()
RETURNS trigger
LANGUAGE plpgsql
AS $$
DECLARE
    orphans text;
BEGIN
    SELECT pg_catalog.string_agg(pg_catalog.format('%s (under %s)', c.code, c.parent_code), ', ' ORDER BY c.code)
      INTO orphans
      FROM workorder.categories c
     WHERE c.parent_code OPERATOR(pg_catalog.=) ANY (SELECT o.code FROM old_rows o);
    IF orphans IS NOT NULL THEN
        PERFORM workorder.raise_error('WO221',
            'a category with child categories cannot be deleted without them',
            pg_catalog.format('The children are %s.', orphans),
            'Delete the children first, or in the same statement, or move them under another parent; or deactivate the category (active = false), which its children follow.');
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER categories_after_delete
    AFTER DELETE ON workorder.categories REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION workorder.categories_after_delete();

-- category_defaults shows, for every category, its root family, its path and the
-- defaults in force: its own value or else its nearest ancestor's.
CREATE VIEW workorder.category_defaults AS
WITH RECURSIVE tree AS (
    SELECT c.code, c.name, c.code AS family, ARRAY[c.code] AS path,
           c.handling_level, c.department_kind, c.sla_policy, c.dedup_radius_m, c.dedup_window, c.active
      FROM workorder.categories c
     WHERE c.parent_code IS NULL
    UNION ALL
    SELECT c.code, c.name, t.family, t.path OPERATOR(pg_catalog.||) c.code,
           COALESCE(c.handling_level, t.handling_level),
           COALESCE(c.department_kind, t.department_kind),
           COALESCE(c.sla_policy, t.sla_policy),
           COALESCE(c.dedup_radius_m, t.dedup_radius_m),
           COALESCE(c.dedup_window, t.dedup_window),
           c.active AND t.active
      FROM workorder.categories c
      JOIN tree t ON c.parent_code OPERATOR(pg_catalog.=) t.code
)
SELECT code, name, family, path, handling_level, department_kind, sla_policy,
       dedup_radius_m, dedup_window, active
  FROM tree;
COMMENT ON VIEW workorder.category_defaults IS
    'Every category with its family (root), path and the defaults in force after inheritance.';

-- category_effective holds category_defaults as a table, so that intake reads a
-- category's defaults with one primary-key lookup instead of walking the tree.  A
-- statement trigger on categories rebuilds it; it is derived, so pg_dump leaves it
-- out and a restore rebuilds it.
CREATE TABLE workorder.category_effective (
    code            text PRIMARY KEY,
    name            text NOT NULL,
    family          text NOT NULL,
    path            text[] NOT NULL,
    handling_level  workorder.area_level,
    department_kind text,
    sla_policy      text,
    dedup_radius_m  double precision,
    dedup_window    interval,
    active          boolean NOT NULL
);
COMMENT ON TABLE workorder.category_effective IS
    'workorder.category_defaults kept as a table for intake (derived from categories, kept by trigger).';

-- categories_after_change rebuilds category_effective.  The catalogue has tens of
-- nodes and changes rarely, so a full rebuild is simplest and cheap.  Rebuilds
-- take turns (a lock that conflicts with itself, not with readers), and each reads
-- after the one before it has committed: two transactions changing two different
-- categories at once made the second one's rebuild delete only the rows it could
-- see, and its insert then met the first one's rows (a bare 23505 on
-- category_effective_pkey, and the second change was lost).
CREATE FUNCTION workorder.categories_after_change()
RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    LOCK TABLE workorder.category_effective IN SHARE ROW EXCLUSIVE MODE;
    DELETE FROM workorder.category_effective;
    INSERT INTO workorder.category_effective
    SELECT d.code, d.name, d.family, d.path, d.handling_level, d.department_kind, d.sla_policy,
           d.dedup_radius_m, d.dedup_window, d.active
      FROM workorder.category_defaults d;
    RETURN NULL;
END
$$;

CREATE TRIGGER categories_after_change
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON workorder.categories
    FOR EACH STATEMENT EXECUTE FUNCTION workorder.categories_after_change();
-- Enabled ALWAYS, with a row twin enabled REPLICA, as the reference cache's own
-- triggers are (part 87): under session_replication_role = replica (a data load)
-- the rebuild did not run, and on a logical replication subscriber, whose apply
-- worker fires no statement trigger, category_effective stayed as it was (empty
-- after the initial copy): the reference cache, which reads it, kept routing a
-- category the publisher had taken out of use.
ALTER TABLE workorder.categories ENABLE ALWAYS TRIGGER categories_after_change;
CREATE TRIGGER categories_after_change_replica
    AFTER INSERT OR UPDATE OR DELETE ON workorder.categories
    FOR EACH ROW EXECUTE FUNCTION workorder.categories_after_change();
ALTER TABLE workorder.categories ENABLE REPLICA TRIGGER categories_after_change_replica;

CREATE TYPE workorder.channel_kind AS ENUM
    ('hotline', 'mailbox', 'inspection', 'platform', 'opinion', 'video_ai', 'department', 'open311', 'other');

CREATE TABLE workorder.channels (
    code        text PRIMARY KEY,
    name        text NOT NULL,
    kind        workorder.channel_kind NOT NULL,
    -- replies: whether results go back to the reporter through this channel.
    replies     boolean NOT NULL DEFAULT true,
    active      boolean NOT NULL DEFAULT true,
    CONSTRAINT channels_code_format CHECK (code OPERATOR(pg_catalog.~) '^[a-z][a-z0-9_]{0,31}$'),
    CONSTRAINT channels_name_length CHECK (pg_catalog.length(name) OPERATOR(pg_catalog.>=) 1
                                           AND pg_catalog.length(name) OPERATOR(pg_catalog.<=) 100),
    -- since when the channel has been out of use (NULL while active), kept by
    -- channels_inactive_since: the inbox retires a report of a channel out of use
    -- for longer than retention_inbox (part 70)
    inactive_since timestamptz
);
SELECT pg_catalog.pg_extension_config_dump('workorder.channels', '');
COMMENT ON TABLE workorder.channels IS 'Where reports come from and results go back to. Load with workorder.load_channels().';

-- channels_inactive_since keeps inactive_since: NULL while the channel is active,
-- the instant it went out of use after.  A restored row keeps its own.  (The inbox
-- judged a channel retired by the age of the report: a report pending a month,
-- its channel off for a minute, was rejected as of a channel "not active all that
-- time".)
CREATE FUNCTION workorder.channels_inactive_since()
RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    IF NEW.active THEN
        NEW.inactive_since := NULL;
    ELSIF TG_OP OPERATOR(pg_catalog.=) 'INSERT' THEN
        NEW.inactive_since := COALESCE(NEW.inactive_since, pg_catalog.now());
    ELSIF OLD.active THEN
        NEW.inactive_since := pg_catalog.now();
    ELSE
        -- (An admin may correct it: a channel off before the update from 0.4.)
        NEW.inactive_since := COALESCE(NEW.inactive_since, pg_catalog.now());
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER channels_inactive_since
    BEFORE INSERT OR UPDATE ON workorder.channels
    FOR EACH ROW EXECUTE FUNCTION workorder.channels_inactive_since();

CREATE TABLE workorder.channel_categories (
    channel_code          text NOT NULL REFERENCES workorder.channels (code) ON DELETE CASCADE ON UPDATE CASCADE,
    channel_category_code text NOT NULL,
    channel_category_name text,
    category_code         text NOT NULL REFERENCES workorder.categories (code) ON UPDATE CASCADE,
    PRIMARY KEY (channel_code, channel_category_code),
    CONSTRAINT channel_categories_code_length CHECK (
        pg_catalog.length(channel_category_code) OPERATOR(pg_catalog.>=) 1
        AND pg_catalog.length(channel_category_code) OPERATOR(pg_catalog.<=) 64)
);
CREATE INDEX channel_categories_category_idx ON workorder.channel_categories (category_code);
SELECT pg_catalog.pg_extension_config_dump('workorder.channel_categories', '');
COMMENT ON TABLE workorder.channel_categories IS 'Each channel''s own category codes, mapped onto the catalogue.';

-- map_category returns the catalogue code for a channel's category code: the
-- channel's own mapping first, then the code itself if it is a catalogue code.
-- NULL means the code is unknown; intake sends such a report to a dispatcher.
-- (C, from the per-backend reference cache of src/refcache.c: it runs on every
-- submit.)
CREATE FUNCTION workorder.map_category(channel text, category text)
RETURNS text
AS 'MODULE_PATHNAME', 'reference_map_category'
LANGUAGE C STABLE PARALLEL SAFE;

-- channel_is_active says whether an active channel has this code (from the
-- reference cache: submit() asks it first on every report).
CREATE FUNCTION workorder.channel_is_active(channel text)
RETURNS boolean
AS 'MODULE_PATHNAME', 'reference_channel_is_active'
LANGUAGE C STABLE PARALLEL SAFE;
