-- workorder install script, part 01: how the SQL parts raise errors.
--
-- Every error on bad input carries a project SQLSTATE of class WO (listed in
-- README.md and src/workorder.h), an errmsg that names the object, an errdetail
-- with the offending value and an errhint that says what to do.

-- raise_error raises one such error.  It exists so that the many checks in the SQL
-- parts read as one line each and cannot forget the detail or the hint.
CREATE FUNCTION workorder.raise_error(sqlstate text, message text, detail text, hint text)
RETURNS void
LANGUAGE plpgsql VOLATILE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RAISE EXCEPTION USING ERRCODE = sqlstate, MESSAGE = message,
                          DETAIL = detail, HINT = hint;
END
$$;
