-- schema_fingerprint.sql: one sorted line per thing the workorder extension defines,
-- so that two databases can be compared with diff (test/scenario/upgrade.t compares
-- a database upgraded from the previous version with a fresh install).  Names and
-- definitions only: no OIDs, and column order is left out on purpose (an upgrade
-- adds columns at the end of a table; a fresh install may place them elsewhere).
\pset format unaligned
\pset tuples_only on
WITH members AS (
    SELECT d.classid, d.objid
      FROM pg_catalog.pg_depend d
      JOIN pg_catalog.pg_extension e ON e.oid = d.refobjid
     WHERE d.refclassid = 'pg_catalog.pg_extension'::regclass
       AND d.deptype = 'e'
       AND e.extname = 'workorder'
), rels AS (
    SELECT c.oid, c.relname, c.relkind
      FROM pg_catalog.pg_class c
      JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = 'workorder'
), lines AS (
    -- every member object, by its description
    SELECT 'member ' || pg_catalog.pg_describe_object(m.classid, m.objid, 0) AS line
      FROM members m
    UNION ALL
    -- relations: kind, row security, options, privileges, comment
    SELECT pg_catalog.format('relation %s kind=%s rls=%s force=%s options=%s acl=%s comment=%s',
                             c.relname, c.relkind, c.relrowsecurity, c.relforcerowsecurity,
                             c.reloptions, c.relacl,
                             pg_catalog.md5(coalesce(pg_catalog.obj_description(c.oid, 'pg_class'), '')))
      FROM pg_catalog.pg_class c JOIN rels r ON r.oid = c.oid
    UNION ALL
    -- columns: type, nullability, default, identity, generation, privileges, comment
    SELECT pg_catalog.format('column %s.%s %s notnull=%s default=%s identity=%s generated=%s acl=%s comment=%s',
                             r.relname, a.attname, pg_catalog.format_type(a.atttypid, a.atttypmod),
                             a.attnotnull, pg_catalog.pg_get_expr(ad.adbin, ad.adrelid),
                             a.attidentity, a.attgenerated, a.attacl,
                             pg_catalog.md5(coalesce(pg_catalog.col_description(r.oid, a.attnum), '')))
      FROM rels r
      JOIN pg_catalog.pg_attribute a ON a.attrelid = r.oid AND a.attnum > 0 AND NOT a.attisdropped
      LEFT JOIN pg_catalog.pg_attrdef ad ON ad.adrelid = r.oid AND ad.adnum = a.attnum
     WHERE r.relkind IN ('r', 'p', 'v', 'm', 'f', 'c')
    UNION ALL
    SELECT pg_catalog.format('constraint %s.%s %s deferrable=%s deferred=%s',
                             r.relname, co.conname, pg_catalog.pg_get_constraintdef(co.oid),
                             co.condeferrable, co.condeferred)
      FROM pg_catalog.pg_constraint co JOIN rels r ON r.oid = co.conrelid
    UNION ALL
    SELECT 'index ' || pg_catalog.pg_get_indexdef(i.indexrelid)
      FROM pg_catalog.pg_index i JOIN rels r ON r.oid = i.indrelid
    UNION ALL
    SELECT pg_catalog.format('trigger %s enabled=%s', pg_catalog.pg_get_triggerdef(t.oid), t.tgenabled)
      FROM pg_catalog.pg_trigger t JOIN rels r ON r.oid = t.tgrelid
     WHERE NOT t.tgisinternal
    UNION ALL
    SELECT pg_catalog.format('policy %s.%s cmd=%s permissive=%s roles=%s using=%s check=%s',
                             r.relname, p.polname, p.polcmd, p.polpermissive,
                             (SELECT pg_catalog.array_agg(pg_catalog.pg_get_userbyid(x) ORDER BY 1)
                                FROM pg_catalog.unnest(p.polroles) x),
                             pg_catalog.pg_get_expr(p.polqual, p.polrelid),
                             pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid))
      FROM pg_catalog.pg_policy p JOIN rels r ON r.oid = p.polrelid
    UNION ALL
    SELECT pg_catalog.format('view %s %s', r.relname, pg_catalog.md5(pg_catalog.pg_get_viewdef(r.oid)))
      FROM rels r WHERE r.relkind IN ('v', 'm')
    UNION ALL
    -- functions: the whole definition (body, volatility, strictness, security,
    -- search_path and other settings), their privileges and comment
    SELECT pg_catalog.format('function %s def=%s acl=%s comment=%s',
                             p.oid::regprocedure,
                             pg_catalog.md5(pg_catalog.pg_get_functiondef(p.oid)), p.proacl,
                             pg_catalog.md5(coalesce(pg_catalog.obj_description(p.oid, 'pg_proc'), '')))
      FROM pg_catalog.pg_proc p
      JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
     WHERE n.nspname = 'workorder' AND p.prokind IN ('f', 'p', 'w')
    UNION ALL
    SELECT pg_catalog.format('enum %s %s', t.typname,
                             (SELECT pg_catalog.string_agg(e.enumlabel, ',' ORDER BY e.enumsortorder)
                                FROM pg_catalog.pg_enum e WHERE e.enumtypid = t.oid))
      FROM pg_catalog.pg_type t
      JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace
     WHERE n.nspname = 'workorder' AND t.typtype = 'e'
    UNION ALL
    SELECT pg_catalog.format('sequence %s %s %s %s %s', r.relname, s.seqtypid::regtype,
                             s.seqincrement, s.seqcache, s.seqcycle)
      FROM pg_catalog.pg_sequence s JOIN rels r ON r.oid = s.seqrelid
    UNION ALL
    -- configuration tables that pg_dump keeps, with their filter
    SELECT pg_catalog.format('config %s %s', c.relname, x.cond)
      FROM pg_catalog.pg_extension e,
           LATERAL unnest(e.extconfig, e.extcondition) AS x(reloid, cond)  -- (the multi-argument form is syntax: not qualifiable)
      JOIN pg_catalog.pg_class c ON c.oid = x.reloid
     WHERE e.extname = 'workorder'
    UNION ALL
    -- how many rows each table holds (in an empty database: the rows the install
    -- script ships, such as calendars, SLA policies and worker tasks); not those the
    -- worker writes in an empty database as soon as it passes (the task ticket_day
    -- makes today's row of ticket_days and logs it), which depend on whether it has
    SELECT pg_catalog.format('rows %s %s', r.relname,
             (pg_catalog.xpath('/row/n/text()',
                 pg_catalog.query_to_xml(pg_catalog.format('SELECT count(*) AS n FROM workorder.%I', r.relname),
                                         false, true, '')))[1])
      FROM rels r WHERE r.relkind IN ('r', 'p') AND r.relname NOT IN ('ticket_days', 'worker_runs')
    UNION ALL
    -- the schema's own privileges
    SELECT pg_catalog.format('schema acl=%s', n.nspacl)
      FROM pg_catalog.pg_namespace n WHERE n.nspname = 'workorder'
)
SELECT line FROM lines ORDER BY line COLLATE "C";
