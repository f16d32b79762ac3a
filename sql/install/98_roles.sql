-- workorder install script, part 98: privileges, granted per group role.
--
-- Nothing is PUBLIC but the ticket type's own functions (its operators and casts
-- check EXECUTE on them, and a ticket is no secret) and raise_error (the triggers
-- that refuse a change call it as whoever made the change, so that anyone refused
-- gets the project's SQLSTATE, not a permission error).  Every other function and
-- every table is revoked from PUBLIC and granted to the group roles of part 96
-- explicitly.  The part is re-runnable, and the upgrade script runs it again
-- (just before part 99), so that a function added by a later part or version is
-- never PUBLIC by accident: it is the admins' until this part grants it on.
--
-- The action functions are recognised by their shape: SECURITY DEFINER functions
-- whose first argument is order_id and that return workorder.orders.  Each locks
-- its order through workorder.order_for_action(), whose access check decides who
-- may act on which order, so a new action is granted with them safely.

DO $grants$
DECLARE
    fn regprocedure;
    grantees text;
    rel regclass;
    everyone constant text := 'workorder_admin, workorder_dispatcher, workorder_handler, workorder_supervisor, workorder_analyst, workorder_intake';
    staff constant text := 'workorder_dispatcher, workorder_handler, workorder_supervisor';
BEGIN
    EXECUTE pg_catalog.format('GRANT USAGE ON SCHEMA workorder TO %s', everyone);

    -- Functions: every function of the schema is the extension's.  None for PUBLIC;
    -- admins run everything.
    FOR fn IN
        SELECT p.oid::regprocedure FROM pg_catalog.pg_proc p
         WHERE p.pronamespace OPERATOR(pg_catalog.=) 'workorder'::regnamespace
         ORDER BY p.oid
    LOOP
        -- From the group roles too: what they may run is granted below, afresh
        -- each time this part runs (an update takes back what a version before
        -- granted by mistake).
        -- (ROUTINE: procedures too.)
        EXECUTE pg_catalog.format('REVOKE ALL ON ROUTINE %s FROM PUBLIC, %s', fn, everyone);
        EXECUTE pg_catalog.format('GRANT EXECUTE ON ROUTINE %s TO workorder_admin', fn);
    END LOOP;

    -- Then, by function name, to whom else:
    --   the ticket type's I/O, operator and support functions and helpers,
    --     raise_error, which triggers call as whoever fires them, and unit_depth,
    --     which pg_dump calls as whoever dumps (the units' dump condition): PUBLIC;
    --   who is calling (the row-level security policies call these as the reader),
    --     and what the functions below call with the caller's privileges: everyone;
    --   what the staff read with;
    --   submit: dispatchers (who take reports by phone) and connectors, who also
    --     settle their channel's outbox (check_channel_access holds them to it);
    --   the functions the bi_* views call (a view checks EXECUTE on its functions
    --     as the reader): the masking ones and score_zone, analysts.
    FOR fn, grantees IN
        SELECT p.oid::regprocedure, g.grantees
          FROM pg_catalog.pg_proc p
          JOIN (VALUES ('^(ticket_.*|make_ticket|raise_error|unit_depth)$', 'PUBLIC'),
                       ('^(calling_role|caller|caller_(unrestricted|unit|channel|units|area|may_read)|order_in_scope|check_channel_access|setting'
                        '|wgs84|location_point|nearest_area|area_summary|trim_blanks)$', everyone),
                       ('^(explain_route|order_history|allowed_actions|locate'
                        '|add_working_time|working_time_between|add_working_days'
                        '|explain_dedup|text_similarity|address_similarity|similarity_normalize|locate_point)$', staff),
                       ('^submit$', 'workorder_dispatcher, workorder_intake'),
                       ('^(claim_outbox|ack_outbox|fail_outbox|locate|locate_point)$', 'workorder_intake'),
                       -- callbacks (回访) come through a channel's connector, or the staff
                       ('^callback$', pg_catalog.concat('workorder_intake, ', staff)),
                       -- Open311: what a GeoReport front end calls, as a connector
                       -- (a POST is a submit on the connector's own channel).
                       ('^open311_(services|service_definition|requests|request|error)$',
                        pg_catalog.concat('workorder_intake, ', staff)),
                       -- ... and a POST makes an order: those who may submit.
                       ('^open311_post_request$', 'workorder_dispatcher, workorder_intake'),
                       ('^(mask_phone|mask_name|coarsen_location|score_zone)$', 'workorder_analyst'))
               AS g (pattern, grantees) ON p.proname OPERATOR(pg_catalog.~) g.pattern
         WHERE p.pronamespace OPERATOR(pg_catalog.=) 'workorder'::regnamespace
         ORDER BY p.oid, g.pattern
    LOOP
        EXECUTE pg_catalog.format('GRANT EXECUTE ON FUNCTION %s TO %s', fn, grantees);
    END LOOP;

    -- The actions, for the staff: the check in order_for_action decides which order
    -- and which action.
    FOR fn IN
        SELECT p.oid::regprocedure FROM pg_catalog.pg_proc p
         WHERE p.pronamespace OPERATOR(pg_catalog.=) 'workorder'::regnamespace
           AND p.prosecdef AND p.prorettype OPERATOR(pg_catalog.=) 'workorder.orders'::pg_catalog.regtype
           AND p.proargnames[1] OPERATOR(pg_catalog.=) 'order_id'
         ORDER BY p.oid
    LOOP
        EXECUTE pg_catalog.format('GRANT EXECUTE ON FUNCTION %s TO %s', fn, staff);
    END LOOP;

    -- Tables and views: none for PUBLIC; admins read everything.
    FOR rel IN
        SELECT c.oid::regclass FROM pg_catalog.pg_class c
         WHERE c.relnamespace OPERATOR(pg_catalog.=) 'workorder'::regnamespace
           AND c.relkind IN ('r', 'v', 'm', 'p', 'f')
         ORDER BY c.oid
    LOOP
        EXECUTE pg_catalog.format('REVOKE ALL ON TABLE %s FROM PUBLIC', rel);
        EXECUTE pg_catalog.format('GRANT SELECT ON TABLE %s TO workorder_admin', rel);
    END LOOP;

    -- Reference data (no personal data): the staff and connectors read it; admins
    -- write it (the loaders run with the caller's privileges, and the triggers they
    -- set off write the derived tables).
    FOR rel IN
        SELECT c.oid::regclass FROM pg_catalog.pg_class c
         WHERE c.relnamespace OPERATOR(pg_catalog.=) 'workorder'::regnamespace
           AND c.relname IN ('settings', 'areas', 'area_pieces', 'area_repairs', 'department_kinds', 'units',
                             'categories', 'category_effective', 'category_defaults', 'channels', 'channel_categories',
                             'routing_rules', 'order_actions', 'role_actions', 'calendars', 'calendar_hours',
                             'calendar_days', 'calendar_coverage', 'calendar_changes', 'sla_policies', 'sla_policy_versions', 'sla_priority_policies',
                             'sla_escalation_steps', 'sla_escalation_steps_removed', 'sla_policies_removed', 'dedup_rules', 'dedup_policies', 'hotspot_policies', 'hotspot_settings', 'detection_rules',
                             'callback_redo_policies')
         ORDER BY c.oid
    LOOP
        EXECUTE pg_catalog.format('GRANT SELECT ON TABLE %s TO %s, workorder_intake', rel, staff);
        IF (SELECT c.relkind FROM pg_catalog.pg_class c WHERE c.oid OPERATOR(pg_catalog.=) rel) OPERATOR(pg_catalog.=) 'r'
           AND rel OPERATOR(pg_catalog.<>) 'workorder.role_actions'::pg_catalog.regclass THEN
            EXECUTE pg_catalog.format('GRANT INSERT, UPDATE, DELETE ON TABLE %s TO workorder_admin', rel);
        END IF;
    END LOOP;
    GRANT INSERT, UPDATE, DELETE ON TABLE workorder.logins, workorder.worker_tasks, workorder.worker_tasks_removed TO workorder_admin;

    -- Orders and their log: read under row-level security (part 96), changed only
    -- through the functions.  The outbox and the inbox: the connectors' own rows.
    -- A connector reads its channel's orders, not their log: the log holds what is
    -- internal to the center (comments, a leader's supervise note, the staff's
    -- logins), which the outbox leaves out; the outbox is what a channel hears.
    -- (Granted to it until 0.5: taken back here, as this part runs at every update.)
    EXECUTE pg_catalog.format('GRANT SELECT ON TABLE workorder.orders TO %s, workorder_intake', staff);
    EXECUTE pg_catalog.format('GRANT SELECT ON TABLE workorder.order_events TO %s', staff);
    REVOKE SELECT ON TABLE workorder.order_events FROM workorder_intake;
    GRANT SELECT ON TABLE workorder.outbox, workorder.inbox_mine TO workorder_intake;
    -- What waits for a dispatcher's review, of its own scope (the view filters).
    GRANT SELECT ON TABLE workorder.suspected_duplicates TO workorder_dispatcher;
    -- What the worker finds and the scores and reports (no personal data): the
    -- staff read them.  Cameras' connectors
    -- COPY their detections into the detection inbox.
    EXECUTE pg_catalog.format('GRANT SELECT ON TABLE workorder.hotspots, workorder.hotspot_runs, '
                              'workorder.detections, workorder.detection_aggregates, workorder.detection_rejects, '
                              'workorder.order_detections, workorder.unit_scores, workorder.daily_briefings, '
                              'workorder.monthly_assessments TO %s', staff);
    GRANT INSERT (camera_id, kind, detected_at, lon, lat, confidence, attributes, detection_ref)
       ON TABLE workorder.detection_inbox TO workorder_intake, workorder_admin;
    GRANT INSERT (channel, channel_ref, category, description, lon, lat, address, reporter_name, reporter_phone,
                  occurred_at, attributes, priority)
       ON TABLE workorder.inbox TO workorder_intake, workorder_admin;

    -- Analysts: every masked view, including those other parts add.
    FOR rel IN
        SELECT c.oid::regclass FROM pg_catalog.pg_class c
         WHERE c.relnamespace OPERATOR(pg_catalog.=) 'workorder'::regnamespace
           AND c.relkind IN ('v', 'm')
           AND c.relname OPERATOR(pg_catalog.~~) 'bi\_%'
         ORDER BY c.oid
    LOOP
        EXECUTE pg_catalog.format('GRANT SELECT ON TABLE %s TO workorder_analyst', rel);
    END LOOP;
END
$grants$;
