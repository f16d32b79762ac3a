-- workorder 0.4 -> 0.5, part 85: the terms of each SLA policy from each change on
-- (install part 85 says why).  Before the functions (sla_terms returns a row of the
-- table): the table, with one row per policy valid from -infinity, its terms as
-- they are now (0.4 kept no history).  Its trigger comes after the functions
-- (85_sla_policy_versions_trigger).
CREATE TABLE workorder.sla_policy_versions (
    name           text NOT NULL REFERENCES workorder.sla_policies (name) ON UPDATE CASCADE ON DELETE CASCADE,
    valid_from     timestamptz NOT NULL,
    calendar_code  text NOT NULL,
    accept_clock   text NOT NULL,
    accept_amount  interval NOT NULL,
    resolve_clock  text NOT NULL,
    resolve_amount interval NOT NULL,
    warn_fraction  numeric NOT NULL,
    -- The version of a policy as the extension shipped it, made again by CREATE
    -- EXTENSION: pg_dump leaves it out, as it leaves out the shipped policies.
    shipped        boolean NOT NULL DEFAULT false,
    PRIMARY KEY (name, valid_from)
);
SELECT pg_catalog.pg_extension_config_dump('workorder.sla_policy_versions', 'WHERE NOT shipped');
REVOKE ALL ON workorder.sla_policy_versions FROM PUBLIC;
COMMENT ON TABLE workorder.sla_policy_versions IS
    'The terms of each SLA policy from each change on; an order is held to those in force when its clock started.';
INSERT INTO workorder.sla_policy_versions
    (name, valid_from, calendar_code, accept_clock, accept_amount, resolve_clock, resolve_amount, warn_fraction, shipped)
SELECT p.name, '-infinity', p.calendar_code, p.accept_clock, p.accept_amount, p.resolve_clock, p.resolve_amount,
       p.warn_fraction, p.shipped
  FROM workorder.sla_policies p;
