/*-------------------------------------------------------------------------
 *
 * launcher.c
 *	  The background launcher: one process for the whole cluster that starts
 *	  a worker in every database that has the extension installed.
 *
 * No setting lists the databases.  The launcher connects to no database and
 * reads pg_database.  For every database that allows connections, is not a
 * template and has no worker, it starts a dynamic background worker
 * (worker.c).  The worker connects to the database and looks for the
 * extension; where there is none it says so in its slot and exits, and the
 * launcher looks at that database again after workorder.launcher_naptime
 * seconds, then after twice that, and so on, at most every
 * LAUNCHER_MAX_RECHECK_MS: a cluster of many databases without the extension
 * would otherwise have a process started, connected and ended for each of
 * them every few seconds, forever.  CREATE EXTENSION ends with
 * workorder.wake_launcher(), which wakes the launcher at commit and makes it
 * look at every database again at once, so a new installation is served
 * within moments; the rechecks are the fallback for a wake that was lost.
 *
 * The launcher is the bgw_notify_pid of every worker it starts, so the
 * postmaster wakes it when one starts or ends.  A worker that ended (an
 * error, pg_terminate_backend) is started again, but not sooner than
 * launcher_naptime after its previous start, so a worker that cannot start
 * does not spin.  A crashed worker makes the postmaster reinitialize shared
 * memory and restart the launcher, which then starts every worker afresh.
 * Those times are wall-clock times; one ahead of now (the clock was set
 * back) counts as now.
 *
 * At most LAUNCHER_MAX_STARTING workers start (are registered and not yet
 * connected) at once, so a cluster of many databases does not have its
 * background worker processes taken by checks at the launcher's start.
 *
 * This file also owns the shared memory (bgworkers.h describes the slot
 * table) and the SQL function workorder.worker_slots() behind the view
 * workorder.worker_status.
 *
 * The launcher starts only once recovery has finished, so a standby runs no
 * launcher and no worker.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

/*
 * Some of PostgreSQL's headers define inline functions with unused
 * parameters, which -Wextra would report.
 */
#include <signal.h>

#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/pg_database.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lwlock.h"
#include "storage/proc.h"
#include "storage/procarray.h"
#include "storage/shmem.h"
#include "tcop/tcopprot.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"
#include "utils/tuplestore.h"

#include "bgworkers.h"
#include "workorder.h"

/* The name of the shared memory area and of its lock's tranche. */
#define WORKORDER_SHMEM_NAME		"workorder"

/* Slots beyond max_worker_processes, for databases held without a worker. */
#define WORKORDER_EXTRA_SLOTS		16

/* Seconds the postmaster waits before it starts a launcher that died. */
#define LAUNCHER_RESTART_SECONDS	5

/* The launcher never sleeps less than this, in milliseconds. */
#define LAUNCHER_MIN_SLEEP_MS		100L

/*
 * The most workers that may be starting or checking their database at once
 * (or be ending: a worker that found no extension frees its slot before its
 * process is gone).  At its start the launcher has every database to look
 * at; registering a
 * worker for each in one pass took every free background worker process of a
 * cluster of many databases, and parallel queries and pg_cron's jobs got none
 * until the checks were over.  A check takes a connection and a catalog
 * lookup, so the rest follow within moments.
 */
#define LAUNCHER_MAX_STARTING		2

/*
 * The longest wait, in milliseconds, before the launcher looks again at a
 * database where a worker found no extension (launcher_naptime, if that is
 * longer).
 */
#define LAUNCHER_MAX_RECHECK_MS		(10 * 60 * 1000L)

/* A database as pg_database lists it. */
typedef struct LauncherDatabase
{
	Oid			dboid;
	NameData	dbname;
	bool		servable;		/* allows connections and is no template */
} LauncherDatabase;

/* What the launcher remembers of a database between passes. */
typedef struct LauncherDbEntry
{
	Oid			dboid;			/* hash key */
	TimestampTz no_extension_at;	/* when a worker last found no extension */
	int			no_extension_checks;	/* checks in a row that found none */
	TimestampTz last_start;		/* when the launcher last started a worker */
	bool		ended;			/* the last worker ended without being asked */
	bool		start_failure_logged;
	bool		over_max_logged;	/* told that max_workers left it without one */
	bool		listed;			/* in the latest read of pg_database */
} LauncherDbEntry;

/* The launcher's handle on the worker it started in a slot. */
typedef struct LauncherHandle
{
	uint32		generation;
	BackgroundWorkerHandle *handle;
} LauncherHandle;

WorkorderSharedState *WorkorderShared = NULL;
int			workorder_launcher_naptime = 5;
int			workorder_max_workers = 8;

static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

/* The launcher process's own state. */
static HTAB *launcher_dbs = NULL;
static LauncherHandle *launcher_handles = NULL;

/*
 * Handles of workers whose slot is free but whose process the postmaster may
 * not have let go of yet (a worker clears its slot, then exits): they count
 * against LAUNCHER_MAX_STARTING until GetBackgroundWorkerPid says stopped.
 */
static List *launcher_exiting = NIL;
static MemoryContext launcher_pass_cxt = NULL;
static uint32 launcher_recheck_seen = 0;

static int	workorder_slot_count(void);
static Size workorder_shmem_size(void);
static void workorder_shmem_request(void);
static void workorder_shmem_startup(void);
static void launcher_register(void);
static void launcher_attach(void);
static void launcher_detach(int code, Datum arg);
static long launcher_pass(void);
static long launcher_scan(void);
static long launcher_recheck_wait(const LauncherDbEntry *entry, long naptime_ms);
static void launcher_count_slots(int *starting, int *with_process);
static int	launcher_count_exiting(void);
static void launcher_let_go(BackgroundWorkerHandle *handle);
static List *launcher_read_databases(void);
static LauncherDatabase *launcher_find_database(List *databases, Oid dboid);
static void launcher_reap(List *databases, TimestampTz now);
static void launcher_stop_unservable(List *databases);
static int	launcher_start_worker(LauncherDatabase *db, LauncherDbEntry *entry,
								  TimestampTz now);
static const char *slot_state_name(WorkerSlotState state);

PG_FUNCTION_INFO_V1(workorder_worker_slots);

/*
 * workorder_launcher_init defines the launcher's setting and, when the module
 * is being preloaded, asks for the shared memory and registers the launcher.
 * It is called from _PG_init.
 */
void
workorder_launcher_init(void)
{
	DefineCustomIntVariable("workorder.launcher_naptime",
							"How soon the workorder launcher looks again at a database without the extension.",
							"Each further look waits twice as long, at most ten minutes. CREATE EXTENSION wakes the launcher at once; this is the fallback.",
							&workorder_launcher_naptime,
							5, 1, 3600,
							PGC_SIGHUP,
							GUC_UNIT_S,
							NULL, NULL, NULL);
	DefineCustomIntVariable("workorder.max_workers",
							"The most workorder workers that run at once, one per database.",
							"A database beyond them gets no worker (the launcher logs it once): run its tasks with pg_cron, CALL workorder.run_due_tasks(). "
							"Lowering it stops no running worker. Each worker is a background worker process (max_worker_processes).",
							&workorder_max_workers,
							8, 1, 1024,
							PGC_SIGHUP,
							0,
							NULL, NULL, NULL);

	if (!process_shared_preload_libraries_in_progress)
		return;
	/* pg_upgrade's server must not run background work. */
	if (IsBinaryUpgrade)
		return;

	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = workorder_shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = workorder_shmem_startup;

	launcher_register();
}

/*
 * workorder_slot_count is the size of the slot table: one slot for every
 * process that could be a worker, and a few for databases held while they
 * have none.
 */
static int
workorder_slot_count(void)
{
	return max_worker_processes + WORKORDER_EXTRA_SLOTS;
}

/* workorder_shmem_size is the size of the shared state with its slot table. */
static Size
workorder_shmem_size(void)
{
	return add_size(offsetof(WorkorderSharedState, slots),
					mul_size(workorder_slot_count(), sizeof(WorkerSlot)));
}

/* workorder_shmem_request asks for the shared memory and its lock. */
static void
workorder_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();

	RequestAddinShmemSpace(workorder_shmem_size());
	RequestNamedLWLockTranche(WORKORDER_SHMEM_NAME, 1);
}

/*
 * workorder_shmem_startup creates the shared state, or attaches to it.  After
 * a crash the postmaster creates shared memory anew and calls this again, so
 * every slot starts free.
 */
static void
workorder_shmem_startup(void)
{
	bool		found;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	WorkorderShared = ShmemInitStruct(WORKORDER_SHMEM_NAME, workorder_shmem_size(), &found);
	if (!found)
	{
		memset(WorkorderShared, 0, workorder_shmem_size());
		WorkorderShared->lock = &(GetNamedLWLockTranche(WORKORDER_SHMEM_NAME))->lock;
		WorkorderShared->nslots = workorder_slot_count();
	}
	LWLockRelease(AddinShmemInitLock);
}

/* launcher_register registers the launcher with the postmaster. */
static void
launcher_register(void)
{
	BackgroundWorker bgw;

	memset(&bgw, 0, sizeof(bgw));
	bgw.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	bgw.bgw_start_time = BgWorkerStart_RecoveryFinished;
	bgw.bgw_restart_time = LAUNCHER_RESTART_SECONDS;
	strlcpy(bgw.bgw_library_name, "workorder", BGW_MAXLEN);
	strlcpy(bgw.bgw_function_name, "workorder_launcher_main", BGW_MAXLEN);
	strlcpy(bgw.bgw_name, WORKORDER_LAUNCHER_TYPE, BGW_MAXLEN);
	strlcpy(bgw.bgw_type, WORKORDER_LAUNCHER_TYPE, BGW_MAXLEN);
	bgw.bgw_main_arg = (Datum) 0;
	bgw.bgw_notify_pid = 0;
	RegisterBackgroundWorker(&bgw);
}

/*
 * workorder_find_slot returns the slot of a database, or NULL when it has
 * none.  The caller holds the lock.
 */
WorkerSlot *
workorder_find_slot(Oid dboid)
{
	int			i;

	for (i = 0; i < WorkorderShared->nslots; i++)
	{
		WorkerSlot *slot = &WorkorderShared->slots[i];

		if (slot->state != WSLOT_FREE && slot->dboid == dboid)
			return slot;
	}
	return NULL;
}

/*
 * workorder_take_slot takes a free slot for a database, in the given state,
 * and returns it, or NULL when every slot is taken.  The caller holds the
 * lock exclusively and has made sure that the database has no slot yet.
 */
WorkerSlot *
workorder_take_slot(Oid dboid, const char *dbname, WorkerSlotState state)
{
	int			i;

	for (i = 0; i < WorkorderShared->nslots; i++)
	{
		WorkerSlot *slot = &WorkorderShared->slots[i];

		if (slot->state != WSLOT_FREE)
			continue;
		memset(slot, 0, sizeof(WorkerSlot));
		slot->state = state;
		slot->generation = ++WorkorderShared->next_generation;
		slot->dboid = dboid;
		namestrcpy(&slot->dbname, dbname);
		return slot;
	}
	return NULL;
}

/* workorder_free_slot frees a slot.  The caller holds the lock exclusively. */
void
workorder_free_slot(WorkerSlot *slot)
{
	slot->state = WSLOT_FREE;
	slot->dboid = InvalidOid;
	slot->pid = 0;
	slot->latch = NULL;
	slot->holder_pid = 0;
}

/*
 * workorder_wake_launcher_now sets the launcher's latch; with recheck, the
 * launcher also looks at once at the databases where it found no extension.
 * It never raises an error, so it may be called after commit.
 */
void
workorder_wake_launcher_now(bool recheck)
{
	Latch	   *latch;

	if (WorkorderShared == NULL)
		return;
	LWLockAcquire(WorkorderShared->lock, LW_EXCLUSIVE);
	if (recheck)
		WorkorderShared->recheck_requests++;
	latch = WorkorderShared->launcher_latch;
	LWLockRelease(WorkorderShared->lock);
	if (latch != NULL)
		SetLatch(latch);
}

/*
 * workorder_wake_worker_now sets the latch of a database's worker, if it has
 * one, so that it makes a pass at once.  It also counts the wake in the slot:
 * a worker in the middle of a pass can lose its latch to a wait inside it
 * (a sleep, a lock wait: each resets the latch it waits on), and the count
 * tells it to make another pass rather than sleep.  It never raises an error.
 */
void
workorder_wake_worker_now(Oid dboid)
{
	WorkerSlot *slot;

	if (WorkorderShared == NULL)
		return;
	LWLockAcquire(WorkorderShared->lock, LW_EXCLUSIVE);
	slot = workorder_find_slot(dboid);
	if (slot != NULL)
	{
		slot->wake_requests++;
		if (slot->latch != NULL)
			SetLatch(slot->latch);
	}
	LWLockRelease(WorkorderShared->lock);
}

/*
 * workorder_launcher_main is the launcher process.  It connects to no
 * database, and then reads pg_database and starts workers whenever it is
 * woken: by a worker starting or ending, by wake_launcher(), or after
 * launcher_naptime.
 */
void
workorder_launcher_main(Datum main_arg pg_attribute_unused())
{
	HASHCTL		ctl;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	/*
	 * Nothing the launcher runs is anyone's statement to cancel: a cancel
	 * would only make it exit, to be started again 5 s later.
	 */
	pqsignal(SIGINT, SIG_IGN);
	BackgroundWorkerUnblockSignals();

	if (WorkorderShared == NULL)
		ereport(FATAL,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("workorder launcher started without its shared memory"),
				 errhint("List workorder in shared_preload_libraries.")));

	launcher_attach();
	before_shmem_exit(launcher_detach, (Datum) 0);

	BackgroundWorkerInitializeConnection(NULL, NULL, 0);
	pgstat_report_appname(WORKORDER_LAUNCHER_TYPE);

	launcher_pass_cxt = AllocSetContextCreate(TopMemoryContext,
											  "workorder launcher pass",
											  ALLOCSET_DEFAULT_SIZES);
	launcher_handles = MemoryContextAllocZero(TopMemoryContext,
											  sizeof(LauncherHandle) * WorkorderShared->nslots);
	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = sizeof(Oid);
	ctl.entrysize = sizeof(LauncherDbEntry);
	ctl.hcxt = TopMemoryContext;
	launcher_dbs = hash_create("workorder launcher databases", 64, &ctl,
							   HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);

	ereport(DEBUG1, (errmsg("workorder launcher started")));

	for (;;)
	{
		long		timeout;

		timeout = launcher_pass();
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 timeout, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}
	}
}

/*
 * launcher_attach makes this process the launcher in shared memory.  The
 * workers of an earlier launcher that are running stay, and the new launcher
 * watches them through their slots; a slot of a worker that an earlier
 * launcher registered but that has not started yet is freed, and that worker
 * exits when it starts and finds its slot taken by no one.
 */
static void
launcher_attach(void)
{
	int			i;

	LWLockAcquire(WorkorderShared->lock, LW_EXCLUSIVE);
	WorkorderShared->launcher_pid = MyProcPid;
	WorkorderShared->launcher_latch = MyLatch;
	for (i = 0; i < WorkorderShared->nslots; i++)
	{
		WorkerSlot *slot = &WorkorderShared->slots[i];

		if (slot->state == WSLOT_STARTING && slot->pid == 0)
			workorder_free_slot(slot);
	}
	LWLockRelease(WorkorderShared->lock);
}

/* launcher_detach says in shared memory that the launcher is gone. */
static void
launcher_detach(int code pg_attribute_unused(), Datum arg pg_attribute_unused())
{
	if (LWLockHeldByMe(WorkorderShared->lock))
		LWLockRelease(WorkorderShared->lock);
	LWLockAcquire(WorkorderShared->lock, LW_EXCLUSIVE);
	if (WorkorderShared->launcher_pid == MyProcPid)
	{
		WorkorderShared->launcher_pid = 0;
		WorkorderShared->launcher_latch = NULL;
	}
	LWLockRelease(WorkorderShared->lock);
}

/*
 * launcher_pass makes a pass (launcher_scan) and returns how long to sleep,
 * in milliseconds.  An error is reported and the pass is tried again after
 * launcher_naptime: the launcher does not die of it.
 */
static long
launcher_pass(void)
{
	volatile long timeout = 0;

	MemoryContextReset(launcher_pass_cxt);
	PG_TRY();
	{
		timeout = launcher_scan();
	}
	PG_CATCH();
	{
		HOLD_INTERRUPTS();
		MemoryContextSwitchTo(TopMemoryContext);
		EmitErrorReport();
		AbortCurrentTransaction();
		FlushErrorState();
		LWLockReleaseAll();
		RESUME_INTERRUPTS();
		timeout = workorder_launcher_naptime * 1000L;
	}
	PG_END_TRY();

	return timeout;
}

/*
 * launcher_scan reads pg_database, frees the slots of workers that have
 * ended, starts the workers that are due, and returns how long to sleep, in
 * milliseconds: until the next database is due, at most launcher_naptime.
 */
static long
launcher_scan(void)
{
	long		naptime_ms = workorder_launcher_naptime * 1000L;
	List	   *databases;
	ListCell   *lc;
	TimestampTz now;
	TimestampTz next_due = 0;
	HASH_SEQ_STATUS seq;
	LauncherDbEntry *entry;
	bool		recheck;
	int			starting;
	int			with_process;
	int			started;
	bool		waiting_for_turn = false;
	bool		start_failed = false;
	bool		over_max = false;

	databases = launcher_read_databases();
	now = GetCurrentTimestamp();

	/* Every listed database gets an entry before the lock is taken. */
	hash_seq_init(&seq, launcher_dbs);
	while ((entry = hash_seq_search(&seq)) != NULL)
		entry->listed = false;
	foreach(lc, databases)
	{
		LauncherDatabase *db = lfirst(lc);
		bool		found;

		entry = hash_search(launcher_dbs, &db->dboid, HASH_ENTER, &found);
		if (!found)
		{
			entry->no_extension_at = 0;
			entry->no_extension_checks = 0;
			entry->last_start = 0;
			entry->ended = false;
			entry->start_failure_logged = false;
			entry->over_max_logged = false;
		}
		entry->listed = true;

		/*
		 * A time ahead of now is a clock that was set back since: waiting
		 * for it would leave the database without a worker for as long as
		 * the clock went back.  Count from now instead.
		 */
		if (entry->last_start > now)
			entry->last_start = now;
		if (entry->no_extension_at > now)
			entry->no_extension_at = now;
	}
	hash_seq_init(&seq, launcher_dbs);
	while ((entry = hash_seq_search(&seq)) != NULL)
	{
		if (!entry->listed)
			(void) hash_search(launcher_dbs, &entry->dboid, HASH_REMOVE, NULL);
	}

	LWLockAcquire(WorkorderShared->lock, LW_EXCLUSIVE);
	recheck = (WorkorderShared->recheck_requests != launcher_recheck_seen);
	launcher_recheck_seen = WorkorderShared->recheck_requests;
	launcher_reap(databases, now);
	launcher_stop_unservable(databases);
	launcher_count_slots(&starting, &with_process);
	LWLockRelease(WorkorderShared->lock);
	starting += launcher_count_exiting();

	foreach(lc, databases)
	{
		LauncherDatabase *db = lfirst(lc);
		TimestampTz due = 0;
		WorkerSlot *slot;
		bool		has_slot;
		bool		serving;

		if (!db->servable)
			continue;
		entry = hash_search(launcher_dbs, &db->dboid, HASH_FIND, NULL);
		Assert(entry != NULL);
		if (recheck)
		{
			entry->no_extension_at = 0;
			entry->no_extension_checks = 0;
		}

		LWLockAcquire(WorkorderShared->lock, LW_SHARED);
		slot = workorder_find_slot(db->dboid);
		has_slot = (slot != NULL);
		serving = (slot != NULL && slot->state == WSLOT_RUNNING);
		LWLockRelease(WorkorderShared->lock);
		/* A database served again starts its rechecks afresh once it is not. */
		if (serving)
			entry->no_extension_checks = 0;
		if (has_slot)
			continue;

		if (entry->no_extension_at != 0)
			due = TimestampTzPlusMilliseconds(entry->no_extension_at,
											  launcher_recheck_wait(entry, naptime_ms));
		else if (entry->ended)
			due = TimestampTzPlusMilliseconds(entry->last_start, naptime_ms);
		if (due > now)
		{
			if (next_due == 0 || due < next_due)
				next_due = due;
			continue;
		}
		if (with_process >= workorder_max_workers)
		{
			/*
			 * Every worker process the setting allows is taken.  A worker's
			 * end wakes the launcher; so does a reload that raises it.
			 */
			if (!entry->over_max_logged)
				ereport(LOG,
						(errmsg("workorder launcher: database \"%s\" gets no worker: workorder.max_workers (%d) workers run",
								NameStr(db->dbname), workorder_max_workers),
						 errhint("Raise workorder.max_workers (and max_worker_processes), or run the database's tasks with pg_cron: CALL workorder.run_due_tasks().")));
			entry->over_max_logged = true;
			over_max = true;
			continue;
		}
		if (starting >= LAUNCHER_MAX_STARTING)
		{
			waiting_for_turn = true;
			continue;
		}
		started = launcher_start_worker(db, entry, now);
		if (started > 0)
		{
			starting++;
			with_process++;
			entry->over_max_logged = false;
		}
		else if (started < 0)
		{
			/*
			 * No process or slot was free: the others would fail alike, each
			 * at once.  The next pass tries again (a worker's end wakes it).
			 */
			start_failed = true;
			break;
		}
	}

	/*
	 * A worker's start and end wake the launcher (it is their
	 * bgw_notify_pid), but not its finding the extension, which also frees a
	 * turn: look again soon.
	 */
	if (start_failed || over_max)
		return naptime_ms;
	if (waiting_for_turn)
		return LAUNCHER_MIN_SLEEP_MS;
	if (next_due == 0)
		return naptime_ms;
	return Max(LAUNCHER_MIN_SLEEP_MS,
			   Min(naptime_ms, TimestampDifferenceMilliseconds(now, next_due)));
}

/*
 * launcher_recheck_wait returns how long, in milliseconds, the launcher waits
 * before it looks again at a database where no_extension_checks checks in a
 * row found no extension: launcher_naptime, doubled for each check after the
 * first, at most LAUNCHER_MAX_RECHECK_MS (or launcher_naptime, if longer).
 */
static long
launcher_recheck_wait(const LauncherDbEntry *entry, long naptime_ms)
{
	long		cap_ms = Max(naptime_ms, LAUNCHER_MAX_RECHECK_MS);
	long		wait_ms = naptime_ms;
	int			doublings;

	for (doublings = 1; doublings < entry->no_extension_checks && wait_ms < cap_ms; doublings++)
		wait_ms *= 2;
	return Min(wait_ms, cap_ms);
}

/*
 * launcher_read_databases returns every database in pg_database, each
 * marked servable or not, allocated in the pass's memory context.
 */
static List *
launcher_read_databases(void)
{
	List	   *databases = NIL;
	Relation	rel;
	TableScanDesc scan;
	HeapTuple	tup;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	(void) GetTransactionSnapshot();

	rel = table_open(DatabaseRelationId, AccessShareLock);
	scan = table_beginscan_catalog(rel, 0, NULL);
	while ((tup = heap_getnext(scan, ForwardScanDirection)) != NULL)
	{
		Form_pg_database pgdb = (Form_pg_database) GETSTRUCT(tup);
		MemoryContext oldcxt = MemoryContextSwitchTo(launcher_pass_cxt);
		LauncherDatabase *db = palloc(sizeof(LauncherDatabase));

		db->dboid = pgdb->oid;
		namestrcpy(&db->dbname, NameStr(pgdb->datname));
		db->servable = pgdb->datallowconn && !pgdb->datistemplate;
#ifdef DATCONNLIMIT_INVALID_DB
		/* A DROP DATABASE that was interrupted leaves an invalid database. */
		if (pgdb->datconnlimit == DATCONNLIMIT_INVALID_DB)
			db->servable = false;
#endif
		databases = lappend(databases, db);
		MemoryContextSwitchTo(oldcxt);
	}
	table_endscan(scan);
	table_close(rel, AccessShareLock);

	CommitTransactionCommand();
	return databases;
}

/* launcher_find_database returns a listed database, or NULL. */
static LauncherDatabase *
launcher_find_database(List *databases, Oid dboid)
{
	ListCell   *lc;

	foreach(lc, databases)
	{
		LauncherDatabase *db = lfirst(lc);

		if (db->dboid == dboid)
			return db;
	}
	return NULL;
}

/*
 * launcher_stop_unservable stops the workers of databases that no longer
 * take a worker: made a template, or closed to connections (ALTER DATABASE).
 * Only the start was checked before, so such a worker stayed connected: it
 * kept a template busy for CREATE DATABASE ... TEMPLATE by anyone who is not
 * its owner (the hook that stops the worker for the owner does not act for
 * others), and a database closed to connections connected.  The worker ends
 * as on SIGTERM and is reaped at a later pass; it is started again once the
 * database takes one.  The caller holds the lock exclusively.
 */
static void
launcher_stop_unservable(List *databases)
{
	for (int i = 0; i < WorkorderShared->nslots; i++)
	{
		WorkerSlot *slot = &WorkorderShared->slots[i];
		LauncherDatabase *db;

		if (slot->pid == 0 ||
			(slot->state != WSLOT_RUNNING && slot->state != WSLOT_CHECKING && slot->state != WSLOT_DISABLED))
			continue;
		db = launcher_find_database(databases, slot->dboid);
		if (db != NULL && !db->servable)
			(void) kill(slot->pid, SIGTERM);
	}
}

/*
 * launcher_let_go keeps the handle of a worker whose slot was freed until its
 * process is gone (launcher_count_exiting), then frees it.
 */
static void
launcher_let_go(BackgroundWorkerHandle *handle)
{
	MemoryContext oldcxt = MemoryContextSwitchTo(TopMemoryContext);

	launcher_exiting = lappend(launcher_exiting, handle);
	MemoryContextSwitchTo(oldcxt);
}

/*
 * launcher_count_exiting returns how many workers whose slot is free still
 * hold a background worker process, and forgets those that are gone.  The
 * postmaster wakes the launcher when one is (it is their bgw_notify_pid).
 */
static int
launcher_count_exiting(void)
{
	ListCell   *lc;
	int			exiting = 0;

	foreach(lc, launcher_exiting)
	{
		BackgroundWorkerHandle *handle = (BackgroundWorkerHandle *) lfirst(lc);
		pid_t		pid;

		if (GetBackgroundWorkerPid(handle, &pid) == BGWH_STOPPED)
		{
			launcher_exiting = foreach_delete_current(launcher_exiting, lc);
			pfree(handle);
		}
		else
			exiting++;
	}
	return exiting;
}

/*
 * launcher_count_slots counts, in one pass over the slots, the workers that
 * are starting (registered and not yet connected to their database: what
 * LAUNCHER_MAX_STARTING bounds) and those that have a worker process, or are
 * about to (starting, checking, running or disabled: what
 * workorder.max_workers bounds; one that found no extension, or has exited,
 * no longer counts).  The caller holds the lock.
 *
 * A worker that has connected no longer counts as starting, though it is
 * checking its database until its first step succeeds: one that waits on a
 * lock there (an ALTER EXTENSION ... UPDATE left open) or fails it again and
 * again stays checking for as long, and two of them kept every other
 * database from getting a worker, while the launcher, waiting for a turn,
 * read pg_database ten times a second.
 */
static void
launcher_count_slots(int *starting, int *with_process)
{
	int			i;

	*starting = 0;
	*with_process = 0;
	for (i = 0; i < WorkorderShared->nslots; i++)
	{
		const WorkerSlot *slot = &WorkorderShared->slots[i];

		if (slot->state == WSLOT_STARTING || (slot->state == WSLOT_CHECKING && !slot->connected))
			(*starting)++;
		if (slot->state == WSLOT_STARTING || slot->state == WSLOT_CHECKING ||
			slot->state == WSLOT_RUNNING || slot->state == WSLOT_DISABLED)
			(*with_process)++;
	}
}

/*
 * launcher_reap frees the slots of workers that have ended, and of held
 * databases whose holder or database is gone, and notes in each database's
 * entry why its worker ended.  The caller holds the lock exclusively.
 */
static void
launcher_reap(List *databases, TimestampTz now)
{
	int			i;

	for (i = 0; i < WorkorderShared->nslots; i++)
	{
		WorkerSlot *slot = &WorkorderShared->slots[i];
		LauncherHandle *h = &launcher_handles[i];
		LauncherDbEntry *entry;
		bool		have_handle;

		/* A handle of an earlier use of the slot is of no more use. */
		if (h->handle != NULL &&
			(slot->state == WSLOT_FREE || slot->generation != h->generation))
		{
			launcher_let_go(h->handle);
			h->handle = NULL;
		}
		if (slot->state == WSLOT_FREE || slot->pid != 0)
			continue;
		have_handle = (h->handle != NULL);

		entry = hash_search(launcher_dbs, &slot->dboid, HASH_FIND, NULL);
		switch (slot->state)
		{
			case WSLOT_STARTING:
				{
					pid_t		pid;

					/* Registered, not attached: has it ended without attaching? */
					if (have_handle &&
						GetBackgroundWorkerPid(h->handle, &pid) != BGWH_STOPPED)
						break;
					if (entry != NULL)
						entry->ended = true;
					workorder_free_slot(slot);
				}
				break;
			case WSLOT_NO_EXTENSION:
				if (entry != NULL)
				{
					entry->no_extension_at = now;
					if (entry->no_extension_checks < INT_MAX)
						entry->no_extension_checks++;
					entry->ended = false;
				}
				workorder_free_slot(slot);
				break;
			case WSLOT_EXITED:
				if (entry != NULL)
					entry->ended = true;
				workorder_free_slot(slot);
				break;
			case WSLOT_HELD:
				if (launcher_find_database(databases, slot->dboid) == NULL ||
					slot->holder_pid == 0 ||
					BackendPidGetProc(slot->holder_pid) == NULL)
					workorder_free_slot(slot);
				break;
			case WSLOT_CHECKING:
			case WSLOT_RUNNING:
			case WSLOT_DISABLED:
			case WSLOT_FREE:
				/* pid 0 in these states does not happen; leave them be. */
				break;
		}
		if (slot->state == WSLOT_FREE && h->handle != NULL)
		{
			launcher_let_go(h->handle);
			h->handle = NULL;
		}
	}
}

/*
 * launcher_start_worker takes a slot for a database and starts its worker,
 * and returns 1 when it did, 0 when a backend holds the database since, and
 * -1 when no slot or no background worker process is free (logged once; the
 * database is tried again after launcher_naptime).
 */
static int
launcher_start_worker(LauncherDatabase *db, LauncherDbEntry *entry, TimestampTz now)
{
	BackgroundWorker bgw;
	BackgroundWorkerHandle *handle;
	WorkerSlot *slot;
	WorkerStartArgs args;
	int			slotno = -1;
	bool		started;
	MemoryContext oldcxt;

	entry->last_start = now;
	entry->no_extension_at = 0;
	entry->ended = false;
	memset(&args, 0, sizeof(args));

	LWLockAcquire(WorkorderShared->lock, LW_EXCLUSIVE);
	slot = workorder_find_slot(db->dboid);
	if (slot != NULL)
	{
		/* Held by a backend since we looked. */
		LWLockRelease(WorkorderShared->lock);
		return 0;
	}
	slot = workorder_take_slot(db->dboid, NameStr(db->dbname), WSLOT_STARTING);
	if (slot != NULL)
	{
		slotno = slot - WorkorderShared->slots;
		args.dboid = db->dboid;
		args.generation = slot->generation;
	}
	LWLockRelease(WorkorderShared->lock);

	if (slot == NULL)
	{
		entry->ended = true;
		if (!entry->start_failure_logged)
			ereport(LOG,
					(errmsg("workorder launcher: no free worker slot for database \"%s\"",
							NameStr(db->dbname)),
					 errhint("Raise max_worker_processes.")));
		entry->start_failure_logged = true;
		return -1;
	}

	memset(&bgw, 0, sizeof(bgw));
	bgw.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	bgw.bgw_start_time = BgWorkerStart_RecoveryFinished;
	bgw.bgw_restart_time = BGW_NEVER_RESTART;
	strlcpy(bgw.bgw_library_name, "workorder", BGW_MAXLEN);
	strlcpy(bgw.bgw_function_name, "workorder_worker_main", BGW_MAXLEN);
	snprintf(bgw.bgw_name, BGW_MAXLEN, "%s %s", WORKORDER_WORKER_TYPE, NameStr(db->dbname));
	strlcpy(bgw.bgw_type, WORKORDER_WORKER_TYPE, BGW_MAXLEN);
	bgw.bgw_main_arg = Int32GetDatum(slotno);
	StaticAssertStmt(sizeof(WorkerStartArgs) <= BGW_EXTRALEN, "WorkerStartArgs does not fit bgw_extra");
	memcpy(bgw.bgw_extra, &args, sizeof(args));
	bgw.bgw_notify_pid = MyProcPid;

	oldcxt = MemoryContextSwitchTo(TopMemoryContext);
	started = RegisterDynamicBackgroundWorker(&bgw, &handle);
	MemoryContextSwitchTo(oldcxt);

	if (!started)
	{
		LWLockAcquire(WorkorderShared->lock, LW_EXCLUSIVE);
		if (slot->generation == args.generation && slot->state == WSLOT_STARTING)
			workorder_free_slot(slot);
		LWLockRelease(WorkorderShared->lock);
		entry->ended = true;
		if (!entry->start_failure_logged)
			ereport(LOG,
					(errmsg("workorder launcher: could not start a worker for database \"%s\"",
							NameStr(db->dbname)),
					 errdetail("No background worker process is free."),
					 errhint("Raise max_worker_processes.")));
		entry->start_failure_logged = true;
		return -1;
	}
	entry->start_failure_logged = false;

	/*
	 * The slot may have been held and freed by a backend (ALTER DATABASE, DROP
	 * DATABASE) and reused in this pass before the pass looked at the handle of
	 * its earlier worker, not started yet: let that one go as a freed slot's is,
	 * so that its process is counted while it exits, and its handle not lost.
	 */
	if (launcher_handles[slotno].handle != NULL)
		launcher_let_go(launcher_handles[slotno].handle);
	launcher_handles[slotno].generation = args.generation;
	launcher_handles[slotno].handle = handle;
	return 1;
}

/* slot_state_name is the state of a slot as workorder.worker_status shows it. */
static const char *
slot_state_name(WorkerSlotState state)
{
	switch (state)
	{
		case WSLOT_FREE:
			return "free";
		case WSLOT_STARTING:
			return "starting";
		case WSLOT_CHECKING:
			return "checking";
		case WSLOT_RUNNING:
			return "running";
		case WSLOT_DISABLED:
			return "disabled";
		case WSLOT_NO_EXTENSION:
			return "no extension";
		case WSLOT_EXITED:
			return "exited";
		case WSLOT_HELD:
			return "held";
	}
	return "unknown";
}

/*
 * workorder_worker_slots returns the taken slots of the slot table, one row
 * each: the database, the worker's pid (NULL when none runs), the state,
 * when the worker started and made its last pass, its passes and failed
 * steps, and its last error.  Without shared memory (the module was not
 * preloaded) it returns no rows.
 */
Datum
workorder_worker_slots(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	WorkerSlot *copy;
	int			nslots;
	int			i;

	InitMaterializedSRF(fcinfo, 0);
	if (WorkorderShared == NULL)
		PG_RETURN_VOID();

	nslots = WorkorderShared->nslots;
	copy = palloc(sizeof(WorkerSlot) * nslots);
	LWLockAcquire(WorkorderShared->lock, LW_SHARED);
	memcpy(copy, WorkorderShared->slots, sizeof(WorkerSlot) * nslots);
	LWLockRelease(WorkorderShared->lock);

	for (i = 0; i < nslots; i++)
	{
		WorkerSlot *slot = &copy[i];
		Datum		values[10];
		bool		nulls[10];

		if (slot->state == WSLOT_FREE)
			continue;
		memset(nulls, 0, sizeof(nulls));
		slot->last_error[WORKER_ERROR_LEN - 1] = '\0';

		values[0] = ObjectIdGetDatum(slot->dboid);
		values[1] = NameGetDatum(&slot->dbname);
		values[2] = Int32GetDatum(slot->pid);
		nulls[2] = (slot->pid == 0);
		values[3] = CStringGetTextDatum(slot_state_name(slot->state));
		values[4] = TimestampTzGetDatum(slot->started_at);
		nulls[4] = (slot->started_at == 0);
		values[5] = TimestampTzGetDatum(slot->last_pass_at);
		nulls[5] = (slot->last_pass_at == 0);
		values[6] = Int64GetDatum(slot->passes);
		values[7] = Int64GetDatum(slot->failures);
		values[8] = CStringGetTextDatum(slot->last_error);
		nulls[8] = (slot->last_error[0] == '\0');
		values[9] = TimestampTzGetDatum(slot->last_error_at);
		nulls[9] = (slot->last_error_at == 0);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	PG_RETURN_VOID();
}
