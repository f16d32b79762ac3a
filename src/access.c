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
 * It also holds check_channel_access(), the check that an intake login
 * acts only for its own channel, in C because submit() makes it for every
 * report: as plpgsql (with caller()) it cost two pinned-search_path calls
 * and three queries a report, where for a caller that is not an intake
 * login it needs none.
 *
 * One exception to "the outer user": while intake itself takes an action
 * that dedup decided (reopening a resolved master for a late report), the
 * caller is the system, and calling_role() answers the current user, the
 * owner (workorder_act_as_system).  A connector may submit a late report;
 * it may not reopen orders.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/namespace.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"

#include "workorder.h"

/*
 * The statement that reads a login's channel, prepared once per backend, and
 * whether it reads the mappings in force (workorder.logins_in_force, 0.5): a
 * database not yet updated from 0.4 has only workorder.logins.
 */
static SPIPlanPtr login_channel_plan = NULL;
static bool login_channel_plan_binds_role = false;

/*
 * While intake takes an action itself (dedup reopening a resolved master for
 * a late report), the action is the system's, not the caller's: the calling
 * role is then the current user, the extension's owner inside submit().
 */
static bool acting_as_system = false;

static bool role_has_privs_of(Oid role, const char *group);
static char *login_channel(const char *role_name);
static char *shown_code(const char *code);

PG_FUNCTION_INFO_V1(workorder_calling_role);
PG_FUNCTION_INFO_V1(access_check_channel_access);

/*
 * workorder_act_as_system makes the actions that follow the system's (on) or
 * the caller's again (off).  The caller turns it off in PG_FINALLY, so that
 * an error cannot leave it on.
 */
void
workorder_act_as_system(bool on)
{
	acting_as_system = on;
}

/*
 * workorder_calling_role returns the name of the outer user: the role in
 * effect outside any SECURITY DEFINER function (SET ROLE respected); or,
 * while intake acts as the system, the current user.
 */
Datum
workorder_calling_role(PG_FUNCTION_ARGS)
{
	Oid			outer_role = acting_as_system ? GetUserId() : GetOuterUserId();
	char	   *name = GetUserNameFromId(outer_role, false);
	Name		result = (Name) palloc0(NAMEDATALEN);

	namestrcpy(result, name);
	PG_RETURN_NAME(result);
}

/*
 * role_has_privs_of says whether a role has the privileges of a group role
 * (pg_has_role(role, group, 'USAGE')); false when the group does not exist.
 */
static bool
role_has_privs_of(Oid role, const char *group)
{
	Oid			group_oid = get_role_oid(group, true);

	return OidIsValid(group_oid) && has_privs_of_role(role, group_oid);
}

/*
 * login_channel returns the channel a login is mapped to (workorder.logins),
 * or NULL.
 */
static char *
login_channel(const char *role_name)
{
	Datum		arg = CStringGetTextDatum(role_name);
	char	   *channel = NULL;
	bool		binds_role = OidIsValid(get_relname_relid("logins_in_force", get_namespace_oid("workorder", false)));

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (login_channel_plan != NULL && login_channel_plan_binds_role != binds_role)
	{
		/* The schema was updated (or went back) since the statement was made. */
		SPI_freeplan(login_channel_plan);
		login_channel_plan = NULL;
	}
	if (login_channel_plan == NULL)
	{
		Oid			type = TEXTOID;

		/* A mapping counts while its name is still its role's (part 96). */
		if (binds_role)
			login_channel_plan = workorder_keep_plan("SELECT l.channel_code FROM workorder.logins_in_force l "
													 "WHERE l.role_name OPERATOR(pg_catalog.=) $1::pg_catalog.name",
													 1, &type);
		else
			login_channel_plan = workorder_keep_plan("SELECT l.channel_code FROM workorder.logins l "
													 "WHERE l.role_name OPERATOR(pg_catalog.=) $1::pg_catalog.name",
													 1, &type);
		login_channel_plan_binds_role = binds_role;
	}
	if (SPI_execute_plan(login_channel_plan, &arg, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "check_channel_access: the login's query failed");
	if (SPI_processed == 1)
	{
		char	   *value = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);

		if (value != NULL)
		{
			channel = SPI_palloc(strlen(value) + 1);
			strcpy(channel, value);
		}
	}
	SPI_finish();
	return channel;
}

/*
 * workorder_check_channel_access raises WO952 when the calling role is an
 * intake login (a member of workorder_intake that is neither a superuser nor
 * an admin) and channel is not the channel its login is mapped to; what
 * names what it tried ("submit", "read the outbox", ...).
 */
/*
 * shown_code is a code as an error names one a caller sent: as submit() names
 * an unknown code (workorder_quoted_start), with its control characters as
 * '?'.  (An intake login's channel was quoted whole: a code of a million
 * characters made an error of a megabyte, in the client and in the server
 * log.)
 */
static char *
shown_code(const char *code)
{
	char	   *masked = pstrdup(code);
	char	   *c;

	for (c = masked; *c; c++)
		if ((unsigned char) *c < 0x20 || *c == 0x7f)
			*c = '?';
	return workorder_quoted_start(masked);
}

void
workorder_check_channel_access(const char *channel, const char *what)
{
	Oid			role = GetOuterUserId();
	char	   *role_name;
	char	   *own;

	if (superuser_arg(role) || role_has_privs_of(role, "workorder_admin") ||
		!role_has_privs_of(role, "workorder_intake"))
		return;
	role_name = GetUserNameFromId(role, false);
	own = login_channel(role_name);
	if (own == NULL || channel == NULL || strcmp(channel, own) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_WO_CHANNEL_ACCESS),
				 errmsg("intake role %s may not %s for channel %s", role_name, what,
						channel ? shown_code(channel) : "NULL"),
				 errdetail("The role is mapped to channel %s.", own ? own : "none"),
				 own == NULL ?
				 errhint("Map the login to its channel with workorder.map_login(role_name, channel_code => ...).") :
				 errhint("A connector works only for its own channel.")));
}

/*
 * access_check_channel_access is workorder.check_channel_access(channel,
 * what): workorder_check_channel_access.
 */
Datum
access_check_channel_access(PG_FUNCTION_ARGS)
{
	workorder_check_channel_access(PG_ARGISNULL(0) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(0)),
								   PG_ARGISNULL(1) ? "" : text_to_cstring(PG_GETARG_TEXT_PP(1)));
	PG_RETURN_VOID();
}
