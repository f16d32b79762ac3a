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
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

/*
 * Some of PostgreSQL's headers define inline functions with unused
 * parameters, which -Wextra would report.
 */
#include "fmgr.h"
#include "utils/guc.h"

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
