-- workorder install script, part 45: loaders for the reference data.
--
-- Each loader takes a JSON array of objects, one per row, inserts new rows and
-- updates existing ones (by code), and returns how many it loaded.  A batch
-- loads whole or not at all, and an error names the element that failed.  From a
-- CSV file, the usual path is \copy into a temporary table, then
--     SELECT workorder.load_units(jsonb_agg(t)) FROM staged_units t;

-- batch_depths numbers the elements of a batch and gives each its depth below the
-- elements whose parent is not in the batch.  Elements on a cycle of parents are
-- never reached from such a root, so they are missing from the answer.
CREATE FUNCTION workorder.batch_depths(batch jsonb, parent_key text)
RETURNS TABLE (element_number integer, item jsonb, depth integer)
LANGUAGE sql IMMUTABLE
AS $$
    WITH RECURSIVE elements AS (
        SELECT e.ordinality::integer AS element_number, e.value AS item
          FROM pg_catalog.jsonb_array_elements(batch) WITH ORDINALITY AS e
    ), tree AS (
        SELECT el.element_number, el.item, 0 AS depth
          FROM elements el
         WHERE NOT EXISTS (SELECT 1 FROM elements p
                            WHERE (p.item OPERATOR(pg_catalog.->>) 'code')
                                  OPERATOR(pg_catalog.=) (el.item OPERATOR(pg_catalog.->>) parent_key))
        UNION ALL
        SELECT el.element_number, el.item, tree.depth OPERATOR(pg_catalog.+) 1
          FROM elements el
          JOIN tree ON (el.item OPERATOR(pg_catalog.->>) parent_key)
                       OPERATOR(pg_catalog.=) (tree.item OPERATOR(pg_catalog.->>) 'code')
         WHERE tree.depth OPERATOR(pg_catalog.<) 100
    )
    SELECT t.element_number, t.item, pg_catalog.max(t.depth)::integer
      FROM tree t
     GROUP BY t.element_number, t.item
$$;

-- batch_in_order returns the elements of a batch so that an element whose parent
-- is in the same batch comes after that parent.  A cycle inside the batch is an
-- error, since no order could load it.
CREATE FUNCTION workorder.batch_in_order(batch jsonb, what text, parent_key text)
RETURNS TABLE (element_number integer, item jsonb)
LANGUAGE plpgsql IMMUTABLE
AS $$
DECLARE
    reached integer;
    total integer;
BEGIN
    IF batch IS NULL OR pg_catalog.jsonb_typeof(batch) OPERATOR(pg_catalog.<>) 'array' THEN
        PERFORM workorder.raise_error('WO210',
            pg_catalog.format('%s batch is not a JSON array', what),
            pg_catalog.format('It begins %s.', pg_catalog.left(COALESCE(batch::text, 'NULL'), 80)),
            'Pass a JSON array with one object per row, e.g. SELECT jsonb_agg(t) FROM staged t.');
    END IF;
    total := pg_catalog.jsonb_array_length(batch);
    SELECT pg_catalog.count(*) INTO reached FROM workorder.batch_depths(batch, parent_key) d
     WHERE d.depth OPERATOR(pg_catalog.<) 100;
    IF reached OPERATOR(pg_catalog.<>) total THEN
        PERFORM workorder.raise_error('WO210',
            pg_catalog.format('%s batch has a cycle of parents', what),
            pg_catalog.format('%s of its %s elements are not below an element without a parent in the batch.',
                              total OPERATOR(pg_catalog.-) reached, total),
            pg_catalog.format('Check %s: following it upwards must end.', parent_key));
    END IF;
    RETURN QUERY SELECT d.element_number, d.item FROM workorder.batch_depths(batch, parent_key) d
                  ORDER BY d.depth, d.element_number;
END
$$;

-- loader_keys returns the keys an element of a batch of what may have (the row
-- loaders below say what each means).
CREATE FUNCTION workorder.loader_keys(what text)
RETURNS text[]
LANGUAGE sql IMMUTABLE
AS $$
    SELECT CASE what
        WHEN 'department kind' THEN ARRAY['code', 'name']
        WHEN 'unit' THEN ARRAY['code', 'name', 'kind', 'level', 'department_kind', 'parent_code', 'area_code',
                               'phone', 'active']
        WHEN 'category' THEN ARRAY['code', 'name', 'parent_code', 'handling_level', 'department_kind', 'sla_policy',
                                   'dedup_radius_m', 'dedup_window', 'description', 'active']
        WHEN 'channel' THEN ARRAY['code', 'name', 'kind', 'replies', 'active', 'categories']
        -- an element of a channel's categories
        WHEN 'category mapping' THEN ARRAY['code', 'name', 'category']
    END
$$;

-- load_batch loads every element of a batch with load_one, a function that loads
-- one element (a JSON object) and is called parents first.  An error met on one
-- element is raised again naming that element: a workorder SQLSTATE is kept, any
-- other becomes WO210.  The batch runs in the caller's transaction, so an error
-- leaves nothing of it behind.  Before any is loaded, an element that is not an
-- object, has a key a row of its kind does not have (loader_keys), has a JSON
-- object or array as a value (but a channel's categories), a blank name, a
-- category mapping with a key a mapping does not have, or repeats the code of an
-- earlier one is WO210: a misspelt key ("parnet_code") was ignored, and the unit
-- loaded without its parent; a name in several languages was stored as its JSON
-- text; a repeated code loaded the last one.
CREATE FUNCTION workorder.load_batch(batch jsonb, what text, parent_key text, load_one regprocedure)
RETURNS integer
LANGUAGE plpgsql
AS $$
DECLARE
    element record;
    loaded integer := 0;
    err_state text; err_message text; err_detail text; err_hint text;
    allowed text[] := workorder.loader_keys(what);
    bad record;
BEGIN
    IF batch IS NOT NULL AND pg_catalog.jsonb_typeof(batch) OPERATOR(pg_catalog.=) 'array' THEN
        SELECT e.n, e.item,
               CASE WHEN pg_catalog.jsonb_typeof(e.item) OPERATOR(pg_catalog.<>) 'object' THEN 'is not a JSON object'
                    WHEN e.unknown IS NOT NULL
                    THEN pg_catalog.format('has the key %s, which a %s does not have', e.unknown, what)
                    WHEN e.structured IS NOT NULL
                    THEN pg_catalog.format('has a JSON %s as %s, where a %s takes a plain value', e.structured_kind,
                                           e.structured, what)
                    WHEN e.blank_name THEN 'has a blank name'
                    WHEN e.unknown_mapping_key IS NOT NULL
                    THEN pg_catalog.format('has a category mapping with the key %s, which a mapping (%s) does not have',
                                           e.unknown_mapping_key,
                                           pg_catalog.array_to_string(workorder.loader_keys('category mapping'), ', '))
                    ELSE 'repeats the code of an earlier element' END AS why
          INTO bad
          FROM (SELECT x.ordinality AS n, x.value AS item,
                       CASE WHEN allowed IS NOT NULL AND pg_catalog.jsonb_typeof(x.value) OPERATOR(pg_catalog.=) 'object'
                            THEN (SELECT pg_catalog.string_agg(pg_catalog.quote_literal(k), ', ')
                                    FROM pg_catalog.jsonb_object_keys(x.value) k
                                   WHERE NOT k OPERATOR(pg_catalog.=) ANY (allowed)) END AS unknown,
                       -- A JSON object or array was stored as its JSON text (a name in
                       -- several languages, a list of phones); only a channel's
                       -- categories are a list.
                       s.key AS structured, s.kind AS structured_kind,
                       -- Blank as submit() trims: an ideographic space is blank too.
                       (pg_catalog.jsonb_typeof(x.value) OPERATOR(pg_catalog.=) 'object'
                        AND pg_catalog.jsonb_typeof(x.value OPERATOR(pg_catalog.->) 'name') OPERATOR(pg_catalog.=) 'string'
                        AND workorder.trim_blanks(x.value OPERATOR(pg_catalog.->>) 'name') OPERATOR(pg_catalog.=) '') AS blank_name,
                       -- A mapping's misspelt key ("nmae") loaded it without its name.
                       (SELECT pg_catalog.quote_literal(mk)
                          FROM pg_catalog.jsonb_array_elements(
                                   CASE WHEN pg_catalog.jsonb_typeof(x.value) OPERATOR(pg_catalog.=) 'object'
                                             AND pg_catalog.jsonb_typeof(x.value OPERATOR(pg_catalog.->) 'categories') OPERATOR(pg_catalog.=) 'array'
                                        THEN x.value OPERATOR(pg_catalog.->) 'categories' ELSE '[]'::jsonb END) AS m,
                               pg_catalog.jsonb_object_keys(CASE WHEN pg_catalog.jsonb_typeof(m) OPERATOR(pg_catalog.=) 'object'
                                                                 THEN m ELSE '{}'::jsonb END) AS mk
                         WHERE NOT mk OPERATOR(pg_catalog.=) ANY (workorder.loader_keys('category mapping'))
                         LIMIT 1) AS unknown_mapping_key,
                       pg_catalog.row_number() OVER (PARTITION BY x.value OPERATOR(pg_catalog.->>) 'code'
                                                     ORDER BY x.ordinality) AS nth
                  FROM pg_catalog.jsonb_array_elements(batch) WITH ORDINALITY AS x
                  LEFT JOIN LATERAL (
                      SELECT pg_catalog.quote_literal(k.key) AS key, pg_catalog.jsonb_typeof(k.value) AS kind
                        FROM pg_catalog.jsonb_each(CASE WHEN pg_catalog.jsonb_typeof(x.value) OPERATOR(pg_catalog.=) 'object'
                                                        THEN x.value ELSE '{}'::jsonb END) AS k
                       WHERE k.key OPERATOR(pg_catalog.<>) 'categories'
                         AND pg_catalog.jsonb_typeof(k.value) OPERATOR(pg_catalog.=) ANY ('{object,array}'::text[])
                       ORDER BY k.key LIMIT 1) s ON true) e
         WHERE pg_catalog.jsonb_typeof(e.item) OPERATOR(pg_catalog.<>) 'object'
            OR e.unknown IS NOT NULL
            OR e.structured IS NOT NULL
            OR e.blank_name
            OR e.unknown_mapping_key IS NOT NULL
            OR (e.nth OPERATOR(pg_catalog.>) 1 AND e.item OPERATOR(pg_catalog.->>) 'code' IS NOT NULL)
         ORDER BY e.n LIMIT 1;
        IF FOUND THEN
            PERFORM workorder.raise_error('WO210',
                pg_catalog.format('%s %s (element %s of the batch) was not loaded: it %s', what,
                                  COALESCE(CASE WHEN pg_catalog.jsonb_typeof(bad.item) OPERATOR(pg_catalog.=) 'object'
                                                THEN bad.item OPERATOR(pg_catalog.->>) 'code' END, '(no code)'),
                                  bad.n, bad.why),
                pg_catalog.format('The element is %s; a %s has the keys %s.', pg_catalog.left(bad.item::text, 300), what,
                                  pg_catalog.array_to_string(allowed, ', ')),
                'Correct the element and load the batch again; nothing of it was loaded.');
        END IF;
    END IF;
    FOR element IN SELECT * FROM workorder.batch_in_order(batch, what, parent_key) LOOP
        BEGIN
            EXECUTE pg_catalog.format('SELECT %s($1)', load_one::regproc) USING element.item;
        EXCEPTION WHEN others THEN
            GET STACKED DIAGNOSTICS err_state = RETURNED_SQLSTATE, err_message = MESSAGE_TEXT,
                                    err_detail = PG_EXCEPTION_DETAIL, err_hint = PG_EXCEPTION_HINT;
            PERFORM workorder.raise_error(
                CASE WHEN err_state OPERATOR(pg_catalog.~~) 'WO%' THEN err_state ELSE 'WO210' END,
                pg_catalog.format('%s %s (element %s of the batch) was not loaded: %s', what,
                                  COALESCE(element.item OPERATOR(pg_catalog.->>) 'code', '(no code)'),
                                  element.element_number, err_message),
                COALESCE(NULLIF(err_detail, ''),
                         pg_catalog.format('The element is %s.', pg_catalog.left(element.item::text, 300))),
                COALESCE(NULLIF(err_hint, ''), 'Correct the element and load the batch again; nothing of it was loaded.'));
        END;
        loaded := loaded OPERATOR(pg_catalog.+) 1;
    END LOOP;
    RETURN loaded;
END
$$;

-- loader_lock makes the loads of one code of one kind of row take turns, until
-- the transaction ends.  A row loader reads the row there (FOR NO KEY UPDATE,
-- waiting for a load that changes it) and lays its object over it; but a row that
-- another load has inserted and not yet committed can be neither read nor waited
-- for, so two loads of one new code both read nothing, and the second's insert,
-- after waiting for the first's, overwrote every key the first had set (a unit it
-- created out of use was in use again, without its phone).  Taken before the read,
-- this lock makes that read come after the other load has committed.  One of the
-- extension's own locks (part 03), named ('workorder.loader', what/code); two codes
-- whose keys collide only wait for each other.
CREATE FUNCTION workorder.loader_lock(what text, code text)
RETURNS void
LANGUAGE sql
AS $$
    SELECT workorder.lock_xact('workorder.loader', what OPERATOR(pg_catalog.||) '/' OPERATOR(pg_catalog.||) COALESCE(code, ''))
$$;

-- load_department_kind_row inserts or updates one department kind: {"code", "name"}.
CREATE FUNCTION workorder.load_department_kind_row(item jsonb)
RETURNS void
LANGUAGE sql
AS $$
    INSERT INTO workorder.department_kinds AS d (code, name)
    VALUES (item OPERATOR(pg_catalog.->>) 'code', item OPERATOR(pg_catalog.->>) 'name')
    ON CONFLICT (code) DO UPDATE SET name = EXCLUDED.name
$$;

-- load_department_kinds loads [{"code": "urban_management", "name": "城市管理"}, ...].
CREATE FUNCTION workorder.load_department_kinds(kinds jsonb)
RETURNS integer
LANGUAGE sql
AS $$
    SELECT workorder.load_batch(kinds, 'department kind', 'no parent',
                                'workorder.load_department_kind_row(jsonb)'::regprocedure)
$$;

-- load_unit_row inserts or updates one unit: {"code", "name", "kind": center|department|
-- branch, "level": district|town|village, "department_kind", "parent_code",
-- "area_code", "phone", "active"}.  The trigger on units checks that it fits.  An
-- update changes the keys the object has, and keeps the others (a key given as null
-- clears its column): the object is read over the row there (jsonb_populate_record
-- with that row as its base).  A reload of the staged list, which has no "active",
-- made every unit taken out of use active again, and cleared the phones it did not
-- list.  The row there is read FOR NO KEY UPDATE, as it is now (submits' key
-- checks on it go on): read with the statement's snapshot, a load beside another (a
-- phone set while the unit was taken out of use) wrote the other's keys back as they
-- had been, and the unit was active again.  Loads of one code take turns
-- (loader_lock), so that a load beside one that creates the unit reads it too.
CREATE FUNCTION workorder.load_unit_row(item jsonb)
RETURNS void
LANGUAGE sql
AS $$
    SELECT workorder.loader_lock('unit', item OPERATOR(pg_catalog.->>) 'code');
    INSERT INTO workorder.units AS t
    SELECT u.code, u.name, u.kind, u.level, u.department_kind, u.parent_code, u.area_code,
           u.phone, COALESCE(u.active, true)
      FROM pg_catalog.jsonb_populate_record(
               (SELECT x FROM workorder.units x WHERE x.code OPERATOR(pg_catalog.=) (item OPERATOR(pg_catalog.->>) 'code') FOR NO KEY UPDATE),
               item) u
    ON CONFLICT (code) DO UPDATE
       SET name = EXCLUDED.name, kind = EXCLUDED.kind, level = EXCLUDED.level,
           department_kind = EXCLUDED.department_kind, parent_code = EXCLUDED.parent_code,
           area_code = EXCLUDED.area_code, phone = EXCLUDED.phone, active = EXCLUDED.active
$$;

-- load_units loads a batch of units; parents in the same batch may come in any order.
CREATE FUNCTION workorder.load_units(units jsonb)
RETURNS integer
LANGUAGE sql
AS $$
    SELECT workorder.load_batch(units, 'unit', 'parent_code', 'workorder.load_unit_row(jsonb)'::regprocedure)
$$;

-- load_category_row inserts or updates one catalogue node: {"code", "name",
-- "parent_code", "handling_level", "department_kind", "sla_policy",
-- "dedup_radius_m", "dedup_window", "description", "active"}.  An update changes
-- the keys the object has and keeps the others, as load_unit_row does: a reload of
-- data/demo-categories.csv, which has no "active", made every category taken out of
-- use active again, and cleared the handling levels and SLA policies it did not list.
-- Loads of one code take turns (loader_lock).  A parent_code that names no category is refused (WO210, naming the element):
-- the batch loads parents first, and the deferred key of categories said so only
-- at COMMIT, with a bare 23503 naming no element.
CREATE FUNCTION workorder.load_category_row(item jsonb)
RETURNS void
LANGUAGE plpgsql
AS $$
BEGIN
    PERFORM workorder.loader_lock('category', item OPERATOR(pg_catalog.->>) 'code');
    IF (item OPERATOR(pg_catalog.->>) 'parent_code') IS NOT NULL
       AND NOT EXISTS (SELECT 1 FROM workorder.categories x
                        WHERE x.code OPERATOR(pg_catalog.=) (item OPERATOR(pg_catalog.->>) 'parent_code')) THEN
        PERFORM workorder.raise_error('WO210',
            pg_catalog.format('its parent_code %s names no category',
                              pg_catalog.quote_literal(pg_catalog.left(item OPERATOR(pg_catalog.->>) 'parent_code', 64))),
            pg_catalog.format('The element is %s.', pg_catalog.left(item::text, 300)),
            'Load the parent first (in the same batch, or before), or correct parent_code.');
    END IF;
    INSERT INTO workorder.categories AS t
    SELECT c.code, c.name, c.parent_code, c.handling_level, c.department_kind, c.sla_policy,
           c.dedup_radius_m, c.dedup_window, c.description, COALESCE(c.active, true)
      FROM pg_catalog.jsonb_populate_record(
               (SELECT x FROM workorder.categories x WHERE x.code OPERATOR(pg_catalog.=) (item OPERATOR(pg_catalog.->>) 'code') FOR NO KEY UPDATE),
               item) c
    ON CONFLICT (code) DO UPDATE
       SET name = EXCLUDED.name, parent_code = EXCLUDED.parent_code,
           handling_level = EXCLUDED.handling_level, department_kind = EXCLUDED.department_kind,
           sla_policy = EXCLUDED.sla_policy, dedup_radius_m = EXCLUDED.dedup_radius_m,
           dedup_window = EXCLUDED.dedup_window, description = EXCLUDED.description,
           active = EXCLUDED.active;
END
$$;

-- load_categories loads a batch of catalogue nodes, parents in any order.
CREATE FUNCTION workorder.load_categories(categories jsonb)
RETURNS integer
LANGUAGE sql
AS $$
    SELECT workorder.load_batch(categories, 'category', 'parent_code',
                                'workorder.load_category_row(jsonb)'::regprocedure)
$$;

-- load_channel_row inserts or updates one channel: {"code", "name", "kind", "replies",
-- "active", "categories": [{"code": its own code, "name": its own name,
-- "category": catalogue code}, ...]}.  When "categories" is given, it replaces the
-- channel's mappings.  An update keeps the keys the object does not have, as
-- load_unit_row does (a reload without "active" reactivated a channel taken out of use),
-- and loads of one code take turns (loader_lock).
-- A mapping's code and name are trimmed of the blanks submit() trims from the code
-- it is given (a '0701 ' from a spreadsheet was stored as it was, and never matched:
-- every report of it waited for a dispatcher as of an unknown category); a code
-- blank or with a control character is refused (WO210), a blank name is none.
CREATE FUNCTION workorder.load_channel_row(item jsonb)
RETURNS void
LANGUAGE plpgsql
AS $$
DECLARE
    ch workorder.channels;
    bad text;
BEGIN
    PERFORM workorder.loader_lock('channel', item OPERATOR(pg_catalog.->>) 'code');
    -- The keys item has over the row there (if any): see load_unit_row.
    ch := pg_catalog.jsonb_populate_record(
        (SELECT x FROM workorder.channels x WHERE x.code OPERATOR(pg_catalog.=) (item OPERATOR(pg_catalog.->>) 'code') FOR NO KEY UPDATE), item);
    SELECT m OPERATOR(pg_catalog.->>) 'code' INTO bad
      FROM pg_catalog.jsonb_array_elements(CASE WHEN pg_catalog.jsonb_typeof(item OPERATOR(pg_catalog.->) 'categories')
                                                     OPERATOR(pg_catalog.=) 'array'
                                                THEN item OPERATOR(pg_catalog.->) 'categories' ELSE '[]'::jsonb END) AS m
     WHERE COALESCE(workorder.trim_blanks(m OPERATOR(pg_catalog.->>) 'code'), '') OPERATOR(pg_catalog.=) ''
        OR workorder.control_character_at(m OPERATOR(pg_catalog.->>) 'code') IS NOT NULL
        OR workorder.control_character_at(m OPERATOR(pg_catalog.->>) 'name') IS NOT NULL
     LIMIT 1;
    IF FOUND THEN
        PERFORM workorder.raise_error('WO210',
            pg_catalog.format('a category mapping of channel %s has a blank code or a control character', ch.code),
            pg_catalog.format('The mapping''s code is %s.', COALESCE(pg_catalog.quote_literal(pg_catalog.left(bad, 64)), 'missing')),
            'Give each mapping the code the channel sends, in printable characters, and a name without control characters.');
    END IF;
    INSERT INTO workorder.channels AS t (code, name, kind, replies, active)
    VALUES (ch.code, ch.name, ch.kind, COALESCE(ch.replies, true), COALESCE(ch.active, true))
    ON CONFLICT (code) DO UPDATE
       SET name = EXCLUDED.name, kind = EXCLUDED.kind, replies = EXCLUDED.replies,
           active = EXCLUDED.active;
    IF item OPERATOR(pg_catalog.?) 'categories' THEN
        DELETE FROM workorder.channel_categories m WHERE m.channel_code OPERATOR(pg_catalog.=) ch.code;
        INSERT INTO workorder.channel_categories (channel_code, channel_category_code, channel_category_name, category_code)
        SELECT ch.code, workorder.trim_blanks(m OPERATOR(pg_catalog.->>) 'code'),
               NULLIF(workorder.trim_blanks(m OPERATOR(pg_catalog.->>) 'name'), ''),
               m OPERATOR(pg_catalog.->>) 'category'
          FROM pg_catalog.jsonb_array_elements(item OPERATOR(pg_catalog.->) 'categories') AS m;
    END IF;
END
$$;

-- load_channels loads a batch of channels with their category mappings.
CREATE FUNCTION workorder.load_channels(channels jsonb)
RETURNS integer
LANGUAGE sql
AS $$
    SELECT workorder.load_batch(channels, 'channel', 'no parent', 'workorder.load_channel_row(jsonb)'::regprocedure)
$$;

-- The single-row loaders load one object as a batch of one, so that whatever is
-- wrong with it (not an object, a missing code, a value of the wrong type) is
-- refused as in a batch: WO210 naming the object, or the SQLSTATE of the check that
-- refused it.  (Before 0.2 they ran the row function directly, and a bad object met
-- PostgreSQL's own errors: 22023, 22P02, 23502.)
CREATE FUNCTION workorder.load_department_kind(item jsonb)
RETURNS void
LANGUAGE sql
AS $$
    SELECT workorder.load_batch(pg_catalog.jsonb_build_array(item), 'department kind', 'no parent',
                                'workorder.load_department_kind_row(jsonb)'::regprocedure)
$$;

CREATE FUNCTION workorder.load_unit(item jsonb)
RETURNS void
LANGUAGE sql
AS $$
    SELECT workorder.load_batch(pg_catalog.jsonb_build_array(item), 'unit', 'parent_code',
                                'workorder.load_unit_row(jsonb)'::regprocedure)
$$;

CREATE FUNCTION workorder.load_category(item jsonb)
RETURNS void
LANGUAGE sql
AS $$
    SELECT workorder.load_batch(pg_catalog.jsonb_build_array(item), 'category', 'parent_code',
                                'workorder.load_category_row(jsonb)'::regprocedure)
$$;

CREATE FUNCTION workorder.load_channel(item jsonb)
RETURNS void
LANGUAGE sql
AS $$
    SELECT workorder.load_batch(pg_catalog.jsonb_build_array(item), 'channel', 'no parent',
                                'workorder.load_channel_row(jsonb)'::regprocedure)
$$;
