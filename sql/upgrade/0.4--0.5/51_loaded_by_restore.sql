-- upgrade 0.4 -> 0.5, part 51: the triggers that skip what a restore loads ask
-- loaded_by_restore() (made by @functions), which also sees a restore by INSERT
-- (pg_dump --inserts) and no longer takes an ordinary session's COPY for one;
-- loaded_by_copy() goes.
DROP TRIGGER routing_rules_check ON workorder.routing_rules;
CREATE TRIGGER routing_rules_check
    BEFORE INSERT OR UPDATE OF keywords, assisting_units ON workorder.routing_rules
    FOR EACH ROW WHEN (NOT workorder.loaded_by_restore('workorder.routing_rules'))
    EXECUTE FUNCTION workorder.routing_rules_check();

DROP TRIGGER order_events_outbox ON workorder.order_events;
CREATE TRIGGER order_events_outbox
    AFTER INSERT ON workorder.order_events
    REFERENCING NEW TABLE AS new_events
    FOR EACH STATEMENT
    WHEN (NOT workorder.loaded_by_restore('workorder.order_events'))
    EXECUTE FUNCTION workorder.outbox_from_events();

DROP TRIGGER sla_policies_keep_version ON workorder.sla_policies;
CREATE TRIGGER sla_policies_keep_version
    AFTER INSERT OR UPDATE ON workorder.sla_policies
    FOR EACH ROW WHEN (NOT workorder.loaded_by_restore('workorder.sla_policies'))
    EXECUTE FUNCTION workorder.sla_policies_keep_version();

DROP TRIGGER routing_rules_sla_policy ON workorder.routing_rules;
CREATE TRIGGER routing_rules_sla_policy
    BEFORE INSERT OR UPDATE OF sla_policy ON workorder.routing_rules
    FOR EACH ROW WHEN (NEW.sla_policy IS NOT NULL AND NOT workorder.loaded_by_restore('workorder.routing_rules'))
    EXECUTE FUNCTION workorder.sla_policy_must_exist('routing rule', 'name');

DROP TRIGGER categories_sla_policy ON workorder.categories;
CREATE TRIGGER categories_sla_policy
    BEFORE INSERT OR UPDATE OF sla_policy ON workorder.categories
    FOR EACH ROW WHEN (NEW.sla_policy IS NOT NULL AND NOT workorder.loaded_by_restore('workorder.categories'))
    EXECUTE FUNCTION workorder.sla_policy_must_exist('category', 'code');

DROP TRIGGER sla_priority_policies_policy ON workorder.sla_priority_policies;
CREATE TRIGGER sla_priority_policies_policy
    BEFORE INSERT OR UPDATE OF policy ON workorder.sla_priority_policies
    FOR EACH ROW WHEN (NEW.policy IS NOT NULL AND NOT workorder.loaded_by_restore('workorder.sla_priority_policies'))
    EXECUTE FUNCTION workorder.sla_policy_must_exist('priority', 'priority', 'policy');

DROP TRIGGER sla_escalation_steps_policy ON workorder.sla_escalation_steps;
CREATE TRIGGER sla_escalation_steps_policy
    BEFORE INSERT OR UPDATE OF policy ON workorder.sla_escalation_steps
    FOR EACH ROW WHEN (NEW.policy IS NOT NULL AND NOT workorder.loaded_by_restore('workorder.sla_escalation_steps'))
    EXECUTE FUNCTION workorder.sla_policy_must_exist('escalation step', 'step', 'policy');

DROP FUNCTION workorder.loaded_by_copy(regclass);
