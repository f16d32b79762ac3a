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

#include "fmgr.h"

#include "workorder.h"

PG_MODULE_MAGIC;

/*
 * _PG_init is called when the module is loaded, either by the postmaster
 * (shared_preload_libraries) or by a backend on first use.
 */
void
_PG_init(void)
{
}
