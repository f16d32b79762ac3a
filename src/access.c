/*-------------------------------------------------------------------------
 *
 * access.c
 *	  Who is calling: the role on whose behalf a workorder function runs.
 *
 * The action functions, submit() and the outbox API are SECURITY DEFINER:
 * they run as the extension's owner, so inside them current_user is the
 * owner and tells nothing about the caller.  The permission checks of
 * sql/install/96_access.sql need the role in effect outside every definer
 * function: the session user, or the role it took with SET ROLE.  That is
 * PostgreSQL's "outer user", which SECURITY DEFINER does not change
 * (fmgr_security_definer only changes the current user), and which nested
 * definer calls leave alone too.  Only C can read it.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "miscadmin.h"
#include "utils/builtins.h"

#include "workorder.h"

PG_FUNCTION_INFO_V1(workorder_calling_role);

/*
 * workorder_calling_role returns the name of the outer user: the role in
 * effect outside any SECURITY DEFINER function (SET ROLE respected).
 */
Datum
workorder_calling_role(PG_FUNCTION_ARGS)
{
	Oid			outer_role = GetOuterUserId();
	char	   *name = GetUserNameFromId(outer_role, false);
	Name		result = (Name) palloc0(NAMEDATALEN);

	namestrcpy(result, name);
	PG_RETURN_NAME(result);
}
