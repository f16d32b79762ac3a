/*-------------------------------------------------------------------------
 *
 * bgworkers.h
 *	  The state the background launcher, the per-database workers and the
 *	  hooks of ordinary backends share: a table of worker slots in shared
 *	  memory, one per database that a worker serves, checks or is kept out of.
 *
 * launcher.c owns the shared memory and the launcher process, worker.c the
 * per-database worker, and hooks.c the hooks by which backends keep workers
 * out of the way of DROP DATABASE and wake them after CREATE and DROP
 * EXTENSION.  Everything here is used only when the module was loaded through
 * shared_preload_libraries; otherwise WorkorderShared is NULL and every entry
 * point below does nothing.
 *
 * A slot's life:
 *
 *	 FREE -> STARTING		the launcher has registered a worker for the database
 *	 STARTING -> CHECKING	the worker process has attached to the slot
 *	 CHECKING -> RUNNING	the database has the extension; the worker serves it
 *			  -> DISABLED	... but workorder.worker_enabled is off, so it idles
 *			  -> NO_EXTENSION	the database has no extension; the worker exits
 *	 any -> EXITED			the worker process ended some other way
 *	 any -> HELD			a DROP DATABASE (or a RENAME, a SET TABLESPACE, a
 *							CREATE DATABASE ... TEMPLATE) needs the database
 *							to itself: its worker is stopped and none starts
 *
 * The worker clears pid when it exits; the launcher frees slots whose worker
 * is gone (NO_EXTENSION, EXITED) and HELD slots once the holder is gone or
 * the database is.  Every field is read and written under the lock, except
 * that a worker may read its own slot's dboid and generation without it.
 *
 *-------------------------------------------------------------------------
 */
#ifndef WORKORDER_BGWORKERS_H
#define WORKORDER_BGWORKERS_H

#include "postgres.h"

#include "datatype/timestamp.h"
#include "storage/latch.h"
#include "storage/lwlock.h"

/* The bgw_type of the launcher and of the workers, as pg_stat_activity shows it. */
#define WORKORDER_LAUNCHER_TYPE		"workorder launcher"
#define WORKORDER_WORKER_TYPE		"workorder worker"

/* How much of a worker's last error its slot keeps. */
#define WORKER_ERROR_LEN			256

typedef enum WorkerSlotState
{
	WSLOT_FREE = 0,
	WSLOT_STARTING,
	WSLOT_CHECKING,
	WSLOT_RUNNING,
	WSLOT_DISABLED,
	WSLOT_NO_EXTENSION,
	WSLOT_EXITED,
	WSLOT_HELD
} WorkerSlotState;

typedef struct WorkerSlot
{
	WorkerSlotState state;
	uint32		generation;		/* changes each time the slot is taken */
	Oid			dboid;
	NameData	dbname;
	pid_t		pid;			/* the worker process, 0 when there is none */
	Latch	   *latch;			/* its latch, NULL when there is none */
	uint32		wake_requests;	/* bumped by every wake; see worker_main */
	pid_t		holder_pid;		/* the backend holding the database (HELD) */
	bool		connected;		/* the worker has connected to its database */
	TimestampTz started_at;
	TimestampTz last_pass_at;
	int64		passes;
	int64		failures;
	TimestampTz last_error_at;
	char		last_error[WORKER_ERROR_LEN];
} WorkerSlot;

typedef struct WorkorderSharedState
{
	LWLock	   *lock;
	pid_t		launcher_pid;	/* 0 while no launcher runs */
	Latch	   *launcher_latch;
	uint32		recheck_requests;	/* bumped to make the launcher check every
									 * database again at once */
	uint32		next_generation;
	int			nslots;
	WorkerSlot	slots[FLEXIBLE_ARRAY_MEMBER];
} WorkorderSharedState;

/*
 * What the launcher passes a worker in bgw_extra; bgw_main_arg is the number
 * of its slot.  A worker whose slot no longer has this generation and
 * database was started for a slot since freed, and exits.
 */
typedef struct WorkerStartArgs
{
	Oid			dboid;
	uint32		generation;
} WorkerStartArgs;

/* NULL unless the module was preloaded. */
extern PGDLLIMPORT WorkorderSharedState *WorkorderShared;

/* Settings (see workorder_launcher_init and workorder_worker_init). */
extern PGDLLIMPORT int workorder_launcher_naptime;
extern PGDLLIMPORT int workorder_max_workers;
extern PGDLLIMPORT int workorder_worker_naptime;
extern PGDLLIMPORT bool workorder_worker_enabled;
extern PGDLLIMPORT int workorder_task_timeout;
extern PGDLLIMPORT int workorder_task_lock_timeout;

/* launcher.c */
extern void workorder_launcher_init(void);
extern WorkerSlot *workorder_find_slot(Oid dboid);
extern WorkerSlot *workorder_take_slot(Oid dboid, const char *dbname, WorkerSlotState state);
extern void workorder_free_slot(WorkerSlot *slot);
extern void workorder_wake_launcher_now(bool recheck);
extern void workorder_wake_worker_now(Oid dboid);
extern PGDLLEXPORT void workorder_launcher_main(Datum main_arg);

/* worker.c */
extern void workorder_worker_init(void);
extern PGDLLEXPORT void workorder_worker_main(Datum main_arg);

/* quarantine.c */
extern void workorder_quarantine_start(Oid dboid);
extern void workorder_quarantine_refresh(void);
extern bool workorder_quarantine_holds(const char *task, char **detail);
extern void workorder_quarantine_task_begins(const char *task);
extern void workorder_quarantine_task_ends(const char *task);
extern void workorder_quarantine_forget_marker(void);
extern void workorder_quarantine_forget_database(Oid dboid);

/* hooks.c */
extern void workorder_hooks_init(void);
extern void workorder_wake_at_commit(bool launcher, bool recheck, bool worker);

#endif							/* WORKORDER_BGWORKERS_H */
