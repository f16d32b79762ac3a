/*-------------------------------------------------------------------------
 *
 * worker.c
 *	  The per-database background worker: it runs the database's due work,
 *	  task by task, and sleeps until the next task is due.
 *
 * The launcher (launcher.c) starts one worker per database.  The worker
 * connects to the database and first looks for the extension: where it is
 * not installed, the worker says so in its slot and exits, and the launcher
 * looks again later.  Where it is, the worker makes passes:
 *
 *	 1. In one transaction it checks that the extension is still there (if
 *		not, it exits, and the launcher is told through its slot), whether it
 *		is enabled (the setting workorder.worker_enabled, and the database's
 *		settings row worker_enabled; when not, it idles), and reads the list
 *		of tasks, workorder.due_tasks().
 *	 2. Each task then runs in a transaction of its own:
 *		SELECT ... FROM workorder.run_task(task).  It says whether the task
 *		failed, and returns the task's next due instant, or NULL when the task
 *		has nothing scheduled.
 *	 3. The worker sleeps until the earliest of those instants, but at most
 *		workorder.worker_naptime and at least WORKER_MIN_SLEEP_MS.  Setting
 *		its latch (workorder.wake_worker(), DROP EXTENSION, a reload) starts
 *		the next pass at once.  The wakes are also counted in the slot, so
 *		that one arriving during a pass is not lost when a wait inside the
 *		pass (a sleep, a lock wait) resets the latch.
 *
 * Every step of a pass first takes a share lock on the extension, held
 * until the step's transaction ends.  DROP EXTENSION locks the extension
 * before any of its objects, so it waits for the step to end before it
 * locks anything the step may go on to use.  Without the lock, the drop
 * could lock some tables, wait on one the task holds, and have the task
 * wait on the others: a deadlock, which the drop, waiting first, would be
 * the one to lose.  Once the drop commits, the worker's next step is
 * granted its lock, finds the extension gone, and the worker exits.
 *
 * run_task() catches the errors of the task itself and logs them in
 * workorder.worker_runs; the worker counts them in its slot, which
 * workorder.worker_status shows.  An error that escapes it (a missing function, a
 * cancelled statement) is caught here: it is reported to the server log,
 * the transaction is rolled back, the failure is written to the run log in a
 * new transaction, and the pass goes on with the next task.  One bad task
 * never stops the others and never kills the worker.
 *
 * Running each task in its own transaction, rather than the whole pass in
 * one, means a task's work is committed as soon as it is done, each task
 * sees what the ones before it committed, and a later task that fails or a
 * worker that crashes takes nothing done before it back.  A worker that
 * crashes and is restarted catches up at its first pass; the tasks
 * themselves make sure that nothing is done twice.
 *
 * A task the worker keeps dying in (a crash resets the whole cluster, and
 * the restarted worker would run the task again) is quarantined: see
 * quarantine.c.
 *
 * SIGTERM (die) ends the worker at the next interrupt check, also in the
 * middle of a task; SIGHUP reloads the configuration; SIGQUIT (the
 * postmaster stopping everyone after another process crashed) removes the
 * marker of the task running, which did not kill the worker, unless the
 * task had parallel workers (one of them may be the process that crashed).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

/*
 * Some of PostgreSQL's headers define inline functions with unused
 * parameters, which -Wextra would report.
 */
#include "access/htup.h"
#include "access/parallel.h"
#include "access/xact.h"
#include "catalog/pg_extension.h"
#include "catalog/pg_type.h"
#include "commands/dbcommands.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lmgr.h"
#include "storage/lwlock.h"
#include "storage/proc.h"
#include "tcop/tcopprot.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timeout.h"
#include "utils/timestamp.h"

#include "bgworkers.h"
#include "workorder.h"

/* The worker never sleeps less than this between passes, in milliseconds. */
#define WORKER_MIN_SLEEP_MS			10L

/* What a step of a pass is handed and hands back. */
typedef struct PassStart
{
	const char *dbname;			/* the database's name (in the pass context) */
	bool		extension;		/* the extension is installed */
	bool		enabled;		/* the worker is enabled, here and in general */
	List	   *tasks;			/* task names, in order (in the pass context) */
} PassStart;

typedef struct TaskRun
{
	const char *task;
	bool		extension;		/* the extension was still installed */
	bool		failed;			/* run_task() says the task failed ... */
	char	   *detail;			/* ... with this error (in the pass context) */
	bool		has_next_due;
	TimestampTz next_due;
} TaskRun;

typedef struct FailureRecord
{
	const char *task;
	TimestampTz started_at;
	const char *detail;
} FailureRecord;

typedef void (*WorkerStepFunction) (void *arg);

int			workorder_worker_naptime = 10;
bool		workorder_worker_enabled = true;
int			workorder_task_timeout = 300000;
int			workorder_task_lock_timeout = 10000;

static WorkerSlot *MySlot = NULL;
static uint32 MySlotGeneration = 0;
static MemoryContext pass_cxt = NULL;

static bool worker_attach(int slotno, const WorkerStartArgs *args);
static void worker_detach(int code, Datum arg);
static void worker_set_state(WorkerSlotState state);
static uint32 worker_wake_requests(void);
static void worker_note_pass(void);
static void worker_note_failure(const char *task, const char *message);
static void worker_exit_no_extension(bool served);
static bool worker_lock_extension(void);
static long worker_pass(void);
static bool worker_step(const char *activity, const char *task,
						WorkerStepFunction fn, void *arg);
static void step_start_pass(void *arg);
static void step_run_task(void *arg);
static void step_record_failure(void *arg);
static void worker_record_failure(const char *task, TimestampTz started_at, const char *detail);
static void worker_quit(SIGNAL_ARGS);
static void worker_session_settings(void);

/*
 * workorder_worker_init defines the workers' settings.  It is called from
 * _PG_init, in every process that loads the module.
 */
void
workorder_worker_init(void)
{
	DefineCustomIntVariable("workorder.worker_naptime",
							"The longest a workorder worker sleeps between two passes.",
							"A worker wakes sooner when a task is due sooner, or when it is woken.",
							&workorder_worker_naptime,
							10, 1, 3600,
							PGC_SIGHUP,
							GUC_UNIT_S,
							NULL, NULL, NULL);
	DefineCustomIntVariable("workorder.task_timeout",
							"The longest one step of a workorder worker (a task) may run.",
							"A step that runs longer is cancelled, logged as failed, and the pass goes on "
							"(statement_timeout does not apply: the worker runs no statements of a client). 0 turns it off.",
							&workorder_task_timeout,
							300000, 0, INT_MAX,
							PGC_SIGHUP,
							GUC_UNIT_MS,
							NULL, NULL, NULL);
	DefineCustomIntVariable("workorder.task_lock_timeout",
							"The longest a workorder worker's task waits for a lock.",
							"The worker's lock_timeout: a task that waits longer fails, and the pass goes on "
							"(a transaction left open elsewhere stopped every task of the database). 0 turns it off.",
							&workorder_task_lock_timeout,
							10000, 0, INT_MAX,
							PGC_SIGHUP,
							GUC_UNIT_MS,
							NULL, NULL, NULL);
	DefineCustomBoolVariable("workorder.worker_enabled",
							 "Whether the workorder workers run the due work.",
							 "When off, every worker idles; workorder.run_due_work() still works. "
							 "A database can also turn its own worker off with the settings row worker_enabled.",
							 &workorder_worker_enabled,
							 true,
							 PGC_SIGHUP,
							 0,
							 NULL, NULL, NULL);
}

/*
 * workorder_worker_main is a worker process.  bgw_main_arg is its slot's
 * number and bgw_extra its database and the slot's generation.
 */
void
workorder_worker_main(Datum main_arg)
{
	WorkerStartArgs args;
	PassStart	start;
	char	   *appname;

	memcpy(&args, MyBgworkerEntry->bgw_extra, sizeof(args));

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	pqsignal(SIGQUIT, worker_quit);
	BackgroundWorkerUnblockSignals();

	before_shmem_exit(worker_detach, (Datum) 0);
	if (!worker_attach(DatumGetInt32(main_arg), &args))
		proc_exit(0);

	BackgroundWorkerInitializeConnectionByOid(args.dboid, InvalidOid, 0);
	worker_session_settings();
	/* Its start is over: the launcher may start another (launcher_count_slots). */
	LWLockAcquire(WorkorderShared->lock, LW_EXCLUSIVE);
	MySlot->connected = true;
	LWLockRelease(WorkorderShared->lock);

	pass_cxt = AllocSetContextCreate(TopMemoryContext, "workorder worker pass",
									 ALLOCSET_DEFAULT_SIZES);

	/* A database without the extension: say so, and leave. */
	memset(&start, 0, sizeof(start));
	start.extension = true;
	if (worker_step("checking for the extension", NULL, step_start_pass, &start) &&
		!start.extension)
		worker_exit_no_extension(false);

	/* Did the worker before this one die in a task? */
	workorder_quarantine_start(MyDatabaseId);

	appname = psprintf("%s %s", WORKORDER_WORKER_TYPE,
					   start.dbname ? start.dbname : NameStr(MySlot->dbname));
	SetConfigOption("application_name", appname, PGC_USERSET, PGC_S_SESSION);
	ereport(DEBUG1, (errmsg("%s started", appname)));

	/* Connecting set the latch; the first pass is now, not a second one. */
	ResetLatch(MyLatch);

	for (;;)
	{
		long		timeout;
		uint32		wakes_before = worker_wake_requests();

		timeout = worker_pass();

		/*
		 * A wake that came during the pass set the latch, but a wait inside
		 * the pass (a sleep, a lock wait) may have reset it since: then only
		 * the slot's count of wakes remembers it, and the next pass is now.
		 */
		if (worker_wake_requests() != wakes_before)
			timeout = 0;
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 timeout, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);

		/*
		 * A cancel (pg_cancel_backend()) cancels the task running, whose
		 * error worker_step() catches; one that finds the worker asleep has
		 * nothing to cancel, and raised here, outside any step, it would end
		 * the worker.
		 */
		QueryCancelPending = false;
		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
			worker_session_settings();
		}
	}
}

/*
 * worker_session_settings makes the worker's session what its tasks are
 * written for, whatever the database's or the role's defaults say (ALTER
 * DATABASE ... SET reaches the worker too):
 *   - READ COMMITTED: dedup's locks hold an event to one master because
 *	   the search after a lock wait sees what the lock's holder committed; a
 *	   REPEATABLE READ default made the inbox drain search with a snapshot
 *	   from before the wait, and one event two masters;
 *   - writes allowed, and triggers firing (session_replication_role origin:
 *	   under replica the event log's outbox trigger would not fire);
 *   - lock_timeout from workorder.task_lock_timeout: a task waiting on a lock
 *	   that a transaction left open elsewhere holds stopped every task of the
 *	   database for as long.
 */
static void
worker_session_settings(void)
{
	char		lock_timeout[32];

	SetConfigOption("default_transaction_isolation", "read committed", PGC_SUSET, PGC_S_OVERRIDE);
	SetConfigOption("default_transaction_read_only", "off", PGC_SUSET, PGC_S_OVERRIDE);
	SetConfigOption("session_replication_role", "origin", PGC_SUSET, PGC_S_OVERRIDE);
	snprintf(lock_timeout, sizeof(lock_timeout), "%d", workorder_task_lock_timeout);
	SetConfigOption("lock_timeout", lock_timeout, PGC_SUSET, PGC_S_OVERRIDE);
}

/*
 * worker_quit is the SIGQUIT handler: the postmaster stops every process at
 * once, because another one crashed or for an immediate shutdown.  The task
 * running did not kill the worker, so its marker goes; then the process
 * exits as every backend does on SIGQUIT.
 */
static void
worker_quit(SIGNAL_ARGS)
{
	/*
	 * Unless the crash was one of the task's own parallel workers: then the
	 * task killed the cluster as surely as if it had crashed this process.
	 * ParallelContextActive() only reads a list head.
	 */
	if (!ParallelContextActive())
		workorder_quarantine_forget_marker();
	SignalHandlerForCrashExit(postgres_signal_arg);
}

/*
 * worker_attach puts this process's pid and latch into its slot and returns
 * true, or returns false when the slot is no longer the one the launcher took
 * for it (it was freed, or the database is held), and then the worker must
 * exit without connecting.
 */
static bool
worker_attach(int slotno, const WorkerStartArgs *args)
{
	WorkerSlot *slot;
	bool		attached = false;

	if (WorkorderShared == NULL || slotno < 0 || slotno >= WorkorderShared->nslots)
		return false;
	slot = &WorkorderShared->slots[slotno];

	LWLockAcquire(WorkorderShared->lock, LW_EXCLUSIVE);
	if (slot->state == WSLOT_STARTING && slot->generation == args->generation &&
		slot->dboid == args->dboid)
	{
		slot->pid = MyProcPid;
		slot->latch = MyLatch;
		slot->state = WSLOT_CHECKING;
		slot->started_at = GetCurrentTimestamp();
		MySlot = slot;
		MySlotGeneration = slot->generation;
		attached = true;
	}
	LWLockRelease(WorkorderShared->lock);
	return attached;
}

/*
 * worker_detach runs when the worker exits, however it exits: it clears the
 * slot's pid and wakes the launcher.  A slot that says why the worker left
 * (no extension, held) keeps its state; any other becomes EXITED.
 */
static void
worker_detach(int code pg_attribute_unused(), Datum arg pg_attribute_unused())
{
	Latch	   *launcher_latch;

	/* A task interrupted by SIGTERM or an error that ended the worker. */
	workorder_quarantine_forget_marker();
	if (MySlot == NULL)
		return;
	if (LWLockHeldByMe(WorkorderShared->lock))
		LWLockRelease(WorkorderShared->lock);
	LWLockAcquire(WorkorderShared->lock, LW_EXCLUSIVE);
	if (MySlot->pid == MyProcPid && MySlot->generation == MySlotGeneration)
	{
		MySlot->pid = 0;
		MySlot->latch = NULL;
		if (MySlot->state != WSLOT_HELD && MySlot->state != WSLOT_NO_EXTENSION)
			MySlot->state = WSLOT_EXITED;
	}
	launcher_latch = WorkorderShared->launcher_latch;
	LWLockRelease(WorkorderShared->lock);
	MySlot = NULL;
	if (launcher_latch != NULL)
		SetLatch(launcher_latch);
}

/*
 * worker_set_state sets the state of the worker's slot, unless a backend
 * holds the database: then the worker is being stopped and the slot stays
 * HELD.
 */
static void
worker_set_state(WorkerSlotState state)
{
	LWLockAcquire(WorkorderShared->lock, LW_EXCLUSIVE);
	if (MySlot->pid == MyProcPid && MySlot->state != WSLOT_HELD)
		MySlot->state = state;
	LWLockRelease(WorkorderShared->lock);
}

/*
 * worker_wake_requests returns how many times the worker's slot has been
 * woken (workorder_wake_worker_now), a count that only goes up.
 */
static uint32
worker_wake_requests(void)
{
	uint32		wakes;

	LWLockAcquire(WorkorderShared->lock, LW_SHARED);
	wakes = MySlot->wake_requests;
	LWLockRelease(WorkorderShared->lock);
	return wakes;
}

/* worker_note_pass counts a finished pass in the worker's slot. */
static void
worker_note_pass(void)
{
	TimestampTz now = GetCurrentTimestamp();

	LWLockAcquire(WorkorderShared->lock, LW_EXCLUSIVE);
	MySlot->passes++;
	MySlot->last_pass_at = now;
	LWLockRelease(WorkorderShared->lock);
}

/*
 * worker_note_failure counts a failed task, or a failed step of a pass, with
 * its error, in the worker's slot, for workorder.worker_status.
 */
static void
worker_note_failure(const char *task, const char *message)
{
	TimestampTz now = GetCurrentTimestamp();

	LWLockAcquire(WorkorderShared->lock, LW_EXCLUSIVE);
	MySlot->failures++;
	MySlot->last_error_at = now;
	snprintf(MySlot->last_error, WORKER_ERROR_LEN, "%s: %s",
			 task ? task : "pass", message ? message : "unknown error");
	LWLockRelease(WorkorderShared->lock);
}

/*
 * worker_exit_no_extension leaves a database that has no extension (any
 * more): the slot says so, and the launcher looks at the database again only
 * after launcher_naptime, or when CREATE EXTENSION wakes it.
 */
static void
worker_exit_no_extension(bool served)
{
	worker_set_state(WSLOT_NO_EXTENSION);
	ereport(served ? LOG : DEBUG1,
			(errmsg("workorder worker for database \"%s\" is exiting: the extension is not installed",
					NameStr(MySlot->dbname))));
	proc_exit(0);
}

/*
 * worker_lock_extension returns whether the extension is installed, and when
 * it is, locks it in share mode until the end of the transaction (see the
 * header for why).  A drop that committed while it waited for the lock is
 * seen by the check after it: locking takes in the invalidations the drop
 * sent.  An extension dropped and created again meanwhile is locked anew.
 */
static bool
worker_lock_extension(void)
{
	for (;;)
	{
		Oid			extension_oid = get_extension_oid("workorder", true);

		if (!OidIsValid(extension_oid))
			return false;
		LockDatabaseObject(ExtensionRelationId, extension_oid, 0, AccessShareLock);
		if (get_extension_oid("workorder", true) == extension_oid)
			return true;
		UnlockDatabaseObject(ExtensionRelationId, extension_oid, 0, AccessShareLock);
	}
}

/*
 * worker_pass makes one pass: checks that the worker has work here, runs
 * every task in its own transaction, and returns how long to sleep, in
 * milliseconds.
 */
static long
worker_pass(void)
{
	long		naptime_ms = workorder_worker_naptime * 1000L;
	PassStart	start;
	TimestampTz next_due = 0;
	bool		any_due = false;
	ListCell   *lc;

	MemoryContextReset(pass_cxt);
	MemoryContextSwitchTo(pass_cxt);

	memset(&start, 0, sizeof(start));
	start.extension = true;
	if (!worker_step("checking for due tasks", NULL, step_start_pass, &start))
		return naptime_ms;
	if (!start.extension)
		worker_exit_no_extension(true);
	if (!start.enabled)
	{
		worker_set_state(WSLOT_DISABLED);
		return naptime_ms;
	}
	worker_set_state(WSLOT_RUNNING);
	workorder_quarantine_refresh();

	foreach(lc, start.tasks)
	{
		TaskRun		run;
		char	   *activity;
		char	   *held;
		bool		done;

		memset(&run, 0, sizeof(run));
		run.task = lfirst(lc);
		run.extension = true;
		if (workorder_quarantine_holds(run.task, &held))
		{
			if (held != NULL)
				worker_record_failure(run.task, GetCurrentTimestamp(), held);
			continue;
		}
		activity = psprintf("SELECT workorder.run_task(%s)", quote_literal_cstr(run.task));
		workorder_quarantine_task_begins(run.task);
		done = worker_step(activity, run.task, step_run_task, &run);
		workorder_quarantine_task_ends(run.task);
		if (!done)
			continue;
		if (!run.extension)
			worker_exit_no_extension(true);
		if (run.failed)
			worker_note_failure(run.task, run.detail);
		if (run.has_next_due && (!any_due || run.next_due < next_due))
		{
			next_due = run.next_due;
			any_due = true;
		}
	}
	worker_note_pass();

	if (!any_due)
		return naptime_ms;
	return Max(WORKER_MIN_SLEEP_MS,
			   Min(naptime_ms, TimestampDifferenceMilliseconds(GetCurrentTimestamp(), next_due)));
}

/*
 * worker_step runs fn in a transaction of its own, with SPI connected and a
 * snapshot set, and returns true when it committed.  When fn raises an error,
 * the error is reported to the server log, the transaction is rolled back,
 * the slot counts the failure, and (for a task or a pass) the failure is
 * written to workorder.worker_runs in a new transaction; then it returns
 * false.  Any other step that fails only reports its error.
 */
static bool
worker_step(const char *activity, const char *task, WorkerStepFunction fn, void *arg)
{
	TimestampTz started_at = GetCurrentTimestamp();
	volatile bool ok = true;
	char	   *message = NULL;

	PG_TRY();
	{
		SetCurrentStatementStartTimestamp();
		StartTransactionCommand();
		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "SPI_connect failed");
		PushActiveSnapshot(GetTransactionSnapshot());
		debug_query_string = activity;
		pgstat_report_activity(STATE_RUNNING, activity);

		/*
		 * statement_timeout is armed for a client's statements only
		 * (postgres.c): the step's own, as its SIGINT cancels the step.  A
		 * cancel that arrived before the step was meant for the one before.
		 */
		QueryCancelPending = false;
		if (workorder_task_timeout > 0)
			enable_timeout_after(STATEMENT_TIMEOUT, workorder_task_timeout);

		fn(arg);

		disable_timeout(STATEMENT_TIMEOUT, false);
		SPI_finish();
		PopActiveSnapshot();
		CommitTransactionCommand();
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		HOLD_INTERRUPTS();
		disable_timeout(STATEMENT_TIMEOUT, false);
		QueryCancelPending = false;
		MemoryContextSwitchTo(pass_cxt);
		edata = CopyErrorData();
		EmitErrorReport();
		FlushErrorState();
		AbortCurrentTransaction();
		/* The abort leaves TopMemoryContext current: build the message in the pass's. */
		MemoryContextSwitchTo(pass_cxt);
		RESUME_INTERRUPTS();
		message = psprintf("%s (SQLSTATE %s)", edata->message,
						   unpack_sql_state(edata->sqlerrcode));
		FreeErrorData(edata);
		ok = false;
	}
	PG_END_TRY();

	MemoryContextSwitchTo(pass_cxt);
	debug_query_string = NULL;
	pgstat_report_stat(false);
	pgstat_report_activity(STATE_IDLE, NULL);

	if (!ok && fn != step_record_failure)
		worker_record_failure(task, started_at, message);
	return ok;
}

/*
 * worker_record_failure counts a failed task (NULL: the pass) in the slot and
 * writes it to workorder.worker_runs, in a transaction of its own: a task that
 * raised an error, or one the quarantine held back.
 */
static void
worker_record_failure(const char *task, TimestampTz started_at, const char *detail)
{
	FailureRecord record;

	worker_note_failure(task, detail);
	record.task = task ? task : "pass";
	record.started_at = started_at;
	record.detail = detail;
	(void) worker_step("recording a failed task in workorder.worker_runs", NULL,
					   step_record_failure, &record);
}

/*
 * step_start_pass reads the database's name, checks that the extension is
 * installed and the worker enabled, and reads the task list.
 */
static void
step_start_pass(void *arg)
{
	PassStart  *start = arg;
	char	   *dbname = get_database_name(MyDatabaseId);
	bool		isnull;
	Datum		d;
	uint64		i;

	/* The name the launcher saw may have changed since (ALTER DATABASE RENAME). */
	if (dbname != NULL)
	{
		start->dbname = MemoryContextStrdup(pass_cxt, dbname);
		LWLockAcquire(WorkorderShared->lock, LW_EXCLUSIVE);
		namestrcpy(&MySlot->dbname, dbname);
		LWLockRelease(WorkorderShared->lock);
	}
	start->extension = worker_lock_extension();
	start->enabled = false;
	start->tasks = NIL;
	if (!start->extension || !workorder_worker_enabled)
		return;

	/*
	 * An installed version without the background tasks (one older than this
	 * library) leaves the worker idle, rather than failing at every pass.
	 */
	if (SPI_execute("SELECT pg_catalog.to_regprocedure('workorder.due_tasks()') IS NOT NULL"
					" AND workorder.setting('worker_enabled', 'on')::boolean",
					true, 1) != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "could not read the setting worker_enabled");
	d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	start->enabled = !isnull && DatumGetBool(d);
	if (!start->enabled)
		return;

	if (SPI_execute("SELECT task FROM workorder.due_tasks() AS task", true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read the worker's tasks");
	for (i = 0; i < SPI_processed; i++)
	{
		char	   *task = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1);
		MemoryContext oldcxt;

		if (task == NULL)
			continue;
		oldcxt = MemoryContextSwitchTo(pass_cxt);
		start->tasks = lappend(start->tasks, pstrdup(task));
		MemoryContextSwitchTo(oldcxt);
	}
}

/*
 * step_run_task runs one task through workorder.run_task() and keeps whether
 * it failed and the instant it is next due, unless the extension has gone
 * meanwhile.
 */
static void
step_run_task(void *arg)
{
	TaskRun    *run = arg;
	Oid			argtypes[1] = {TEXTOID};
	Datum		values[1];
	bool		isnull;
	Datum		d;
	HeapTuple	tuple;
	TupleDesc	tupdesc;

	run->extension = worker_lock_extension();
	if (!run->extension)
		return;

	values[0] = CStringGetTextDatum(run->task);
	if (SPI_execute_with_args("SELECT r.ok, r.detail, r.next_due FROM workorder.run_task($1) AS r",
							  1, argtypes, values, NULL, false, 1) != SPI_OK_SELECT ||
		SPI_processed != 1)
		elog(ERROR, "workorder.run_task(%s) returned no row", quote_literal_cstr(run->task));
	tuple = SPI_tuptable->vals[0];
	tupdesc = SPI_tuptable->tupdesc;

	d = SPI_getbinval(tuple, tupdesc, 1, &isnull);
	run->failed = !isnull && !DatumGetBool(d);
	if (run->failed)
	{
		char	   *detail = SPI_getvalue(tuple, tupdesc, 2);

		run->detail = MemoryContextStrdup(pass_cxt, detail ? detail : "failed");
	}
	d = SPI_getbinval(tuple, tupdesc, 3, &isnull);
	run->has_next_due = !isnull;
	if (!isnull)
		run->next_due = DatumGetTimestampTz(d);
}

/*
 * step_record_failure writes a failed task (or pass) to workorder.worker_runs,
 * unless the extension has gone.
 */
static void
step_record_failure(void *arg)
{
	FailureRecord *record = arg;
	Oid			argtypes[3] = {TIMESTAMPTZOID, TEXTOID, TEXTOID};
	Datum		values[3];

	if (!worker_lock_extension())
		return;
	values[0] = TimestampTzGetDatum(record->started_at);
	values[1] = CStringGetTextDatum(record->task);
	values[2] = CStringGetTextDatum(record->detail);
	if (SPI_execute_with_args("INSERT INTO workorder.worker_runs (started_at, finished_at, task, ok, detail) "
							  "VALUES ($1, pg_catalog.clock_timestamp(), $2, false, $3)",
							  3, argtypes, values, NULL, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "could not record a failed task in workorder.worker_runs");
}
