-- upgrade 0.4 -> 0.5, part 96: a login's mapping is bound to the role it was made
-- for (role_oid), so that a role created later under its name does not take it
-- over.  The rows there are bound to the roles that have their names now; the
-- trigger's function is made by @functions.
ALTER TABLE workorder.logins ADD COLUMN role_oid oid;
COMMENT ON COLUMN workorder.logins.role_oid IS
    'The role the mapping was made for (set from role_name as the row is written): the mapping counts only while role_name is still that role''s.';
UPDATE workorder.logins l
   SET role_oid = (SELECT r.oid FROM pg_catalog.pg_roles r WHERE r.rolname OPERATOR(pg_catalog.=) l.role_name);
CREATE TRIGGER logins_bind_role
    BEFORE INSERT OR UPDATE OF role_name ON workorder.logins
    FOR EACH ROW EXECUTE FUNCTION workorder.logins_bind_role();

-- logins_in_force, which the caller functions (made by @functions, which come before
-- this part: their bodies are read when they run) and src/access.c read.
CREATE VIEW workorder.logins_in_force AS
SELECT l.*
  FROM workorder.logins l
  JOIN pg_catalog.pg_roles r ON r.oid OPERATOR(pg_catalog.=) l.role_oid AND r.rolname OPERATOR(pg_catalog.=) l.role_name;
COMMENT ON VIEW workorder.logins_in_force IS
    'The rows of workorder.logins that count: those whose role_name is still the name of the role they were made for (role_oid).';
