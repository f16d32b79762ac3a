/*-------------------------------------------------------------------------
 *
 * workorder.c
 *	  Module entry point of the workorder extension.
 *
 * The module is meant to be listed in shared_preload_libraries, so that its
 * background launcher can start with the postmaster.  It also works when it
 * is only loaded on demand by a function call; then no worker runs and
 * workorder.run_due_work() does the periodic work instead.
 *
 * It also holds workorder_keep_plan(), how every C file prepares the
 * statements it keeps for the life of a backend, and
 * workorder_type_namespace(), by which they find PostGIS's schema.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

/*
 * Some of PostgreSQL's headers define inline functions with unused
 * parameters, which -Wextra would report.
 */
#include "executor/spi.h"
#include "fmgr.h"
#include "nodes/parsenodes.h"
#include "utils/guc.h"
#include "utils/syscache.h"
#include "access/htup_details.h"
#include "catalog/pg_type.h"

#include "bgworkers.h"
#include "workorder.h"

PG_MODULE_MAGIC;

/*
 * _PG_init is called when the module is loaded, either by the postmaster
 * (shared_preload_libraries) or by a backend on first use.  It defines the
 * settings and installs the hooks in either case; only when preloading does
 * it ask for shared memory and register the background launcher
 * (launcher.c).  Settings of other parts must be defined before the prefix
 * is reserved.
 */
void
_PG_init(void)
{
	workorder_launcher_init();
	workorder_worker_init();
	workorder_hooks_init();

	MarkGUCPrefixReserved("workorder");
}

/*
 * workorder_keep_plan prepares a statement and keeps it for the life of the
 * backend.  SPI must be connected.
 *
 * The plan is generic: these statements are short, their parameters are
 * keys, and their best plan does not depend on the values.  Left to choose,
 * the plan cache compares the custom plans of the first executions with the
 * generic one and may keep planning every execution anew (the outbox
 * trigger's statements did: about a third of its cost was the planner).
 */
SPIPlanPtr
workorder_keep_plan(const char *query, int nargs, const Oid *types)
{
	SPIPlanPtr	plan = SPI_prepare_cursor(query, nargs, (Oid *) types, CURSOR_OPT_GENERIC_PLAN);

	if (plan == NULL)
		elog(ERROR, "could not prepare \"%s\": %s", query, SPI_result_code_string(SPI_result));
	if (SPI_keepplan(plan) != 0)
		elog(ERROR, "could not keep the plan of \"%s\"", query);
	return plan;
}

/*
 * workorder_type_namespace returns the schema of a type.  PostGIS is
 * relocatable: the statements the C files prepare name its functions with
 * the schema of the geometry type.
 */
Oid
workorder_type_namespace(Oid type)
{
	HeapTuple	tuple = SearchSysCache1(TYPEOID, ObjectIdGetDatum(type));
	Oid			nsp;

	if (!HeapTupleIsValid(tuple))
		elog(ERROR, "cache lookup failed for type %u", type);
	nsp = ((Form_pg_type) GETSTRUCT(tuple))->typnamespace;
	ReleaseSysCache(tuple);
	return nsp;
}
