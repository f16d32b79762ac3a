/*-------------------------------------------------------------------------
 *
 * hooks.c
 *	  How ordinary backends keep the background workers out of the way and
 *	  wake them: the ProcessUtility hook that stops a database's worker
 *	  before DROP DATABASE, the object access hook that wakes a worker after
 *	  DROP EXTENSION, and the wakes at commit behind the SQL functions
 *	  workorder.wake_launcher() and workorder.wake_worker().
 *
 * DROP DATABASE fails while another process is connected to the database,
 * and a worker always is.  So before a DROP DATABASE runs, the hook marks the
 * database's slot HELD (taking a slot if the database has none, so that the
 * launcher starts nothing there meanwhile), sends the worker SIGTERM and
 * waits, up to HOLD_WAIT_MS, until it has left.  Then the drop runs.  When it
 * succeeds the slot stays HELD and the launcher frees it once the database
 * is gone from pg_database; when it fails the hook frees the slot at once,
 * and the launcher starts the worker again.  The same is done, with the slot
 * freed right after the statement, for the other statements that need a
 * database without connections: ALTER DATABASE ... RENAME TO, ALTER DATABASE
 * ... SET TABLESPACE and CREATE DATABASE ... TEMPLATE.  A RENAME, the one of
 * them allowed in a transaction block, locks the database until its
 * transaction ends: there the slot stays held until then (freed from the
 * transaction callbacks, or when the subtransaction that ran it aborts).  Freed
 * after the statement, the launcher started a worker at once that waited for
 * that lock, never connecting, and two such renames left open took both of the
 * launcher's turns to start one: no other database got a worker meanwhile.  Only the database's
 * owner (or a superuser) can stop its worker this way: for anyone else the
 * statement goes on unchanged, and fails on its own permission check.
 *
 * ALTER EXTENSION workorder UPDATE first takes the extension's lock in
 * exclusive mode, as DROP EXTENSION does: the worker holds it in share mode
 * for each task (worker.c), so the update waits for the task running, and no
 * task starts until the update commits.  PostgreSQL's own lock of an update
 * does not conflict with the worker's, and the update's script then locked the
 * extension's tables one by one while a task held some of them.
 *
 * After DROP EXTENSION (also by CASCADE) commits, the database's worker is
 * woken: its next pass finds the extension gone, and it exits.  A wake before
 * commit would find the extension still there, so wakes are deferred to
 * commit, and dropped on rollback.  CREATE EXTENSION ends with
 * workorder.wake_launcher(), deferred the same way, so that the worker that
 * the launcher starts finds the extension committed.
 *
 * Without shared memory (the module loaded without preloading) the hooks
 * only pass the statements on and the wake functions do nothing.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

/*
 * Some of PostgreSQL's headers define inline functions with unused
 * parameters, which -Wextra would report.
 */
#include <signal.h>

#include "access/xact.h"
#include "catalog/objectaccess.h"
#include "catalog/pg_extension.h"
#include "commands/dbcommands.h"
#include "commands/defrem.h"
#include "commands/extension.h"
#include "storage/lmgr.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "pgstat.h"
#include "storage/latch.h"
#include "storage/lwlock.h"
#include "storage/procarray.h"
#include "tcop/utility.h"
#include "utils/acl.h"
#include "utils/timestamp.h"

#include "bgworkers.h"
#include "workorder.h"

/* How long a statement waits for a database's worker to leave, in ms. */
#define HOLD_WAIT_MS				10000L

/* How often it looks whether the worker has left, in ms. */
#define HOLD_POLL_MS				10L

static ProcessUtility_hook_type prev_ProcessUtility = NULL;
static object_access_hook_type prev_object_access_hook = NULL;

/*
 * A wake to send when the current transaction commits, and the nesting level
 * of the outermost (sub)transaction that asked for it: when that one aborts,
 * the wake is dropped with the change that asked for it.
 */
typedef struct PendingWake
{
	bool		wanted;
	int			nest_level;
} PendingWake;

/* Wakes to send when the current transaction commits. */
static PendingWake wake_launcher_at_commit;
static PendingWake recheck_at_commit;
static PendingWake wake_worker_at_commit;
static bool xact_callback_registered = false;

/*
 * The databases held until the current transaction ends (renamed in a
 * transaction block), each with the nesting level of the (sub)transaction
 * that holds it.  More than HELD_UNTIL_END_MAX are freed after their
 * statement, as before.
 */
#define HELD_UNTIL_END_MAX 8
typedef struct HeldUntilEnd
{
	Oid			dboid;
	int			nest_level;
} HeldUntilEnd;
static HeldUntilEnd held_until_end[HELD_UNTIL_END_MAX];
static int	held_until_end_count = 0;

static void workorder_ProcessUtility(PlannedStmt *pstmt, const char *queryString,
									 bool readOnlyTree, ProcessUtilityContext context,
									 ParamListInfo params, QueryEnvironment *queryEnv,
									 DestReceiver *dest, QueryCompletion *qc);
static void call_next_ProcessUtility(PlannedStmt *pstmt, const char *queryString,
									 bool readOnlyTree, ProcessUtilityContext context,
									 ParamListInfo params, QueryEnvironment *queryEnv,
									 DestReceiver *dest, QueryCompletion *qc);
static void process_holding_database(Oid dboid, const char *dbname, bool dropping,
									 PlannedStmt *pstmt, const char *queryString,
									 bool readOnlyTree, ProcessUtilityContext context,
									 ParamListInfo params, QueryEnvironment *queryEnv,
									 DestReceiver *dest, QueryCompletion *qc);
static const char *database_to_hold(Node *parsetree, bool *dropping, bool *creating);
static void hold_database(Oid dboid, const char *dbname);
static void release_database(Oid dboid);
static void workorder_object_access(ObjectAccessType access, Oid classId,
									Oid objectId, int subId, void *arg);
static void workorder_xact_callback(XactEvent event, void *arg);
static void hold_extension_for_update(Node *stmt);
static void workorder_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
									   SubTransactionId parentSubid, void *arg);
static void pending_wake_ask(PendingWake *wake, bool wanted);
static void pending_wake_forget(PendingWake *wake);
static void pending_wake_end_subxact(PendingWake *wake, bool committed);
static void register_xact_callbacks(void);
static bool hold_until_end(Oid dboid);
static void release_held_until_end(int from_level);

PG_FUNCTION_INFO_V1(workorder_wake_launcher);
PG_FUNCTION_INFO_V1(workorder_wake_worker);

/* workorder_hooks_init installs the hooks.  It is called from _PG_init. */
void
workorder_hooks_init(void)
{
	prev_ProcessUtility = ProcessUtility_hook;
	ProcessUtility_hook = workorder_ProcessUtility;
	prev_object_access_hook = object_access_hook;
	object_access_hook = workorder_object_access;
}

/*
 * workorder_ProcessUtility stops a database's worker before a statement that
 * needs the database without connections, and lets the launcher start it
 * again afterwards; every other statement it passes on unchanged.
 */
static void
workorder_ProcessUtility(PlannedStmt *pstmt, const char *queryString,
						 bool readOnlyTree, ProcessUtilityContext context,
						 ParamListInfo params, QueryEnvironment *queryEnv,
						 DestReceiver *dest, QueryCompletion *qc)
{
	const char *dbname = NULL;
	Oid			dboid = InvalidOid;
	bool		dropping = false;
	bool		creating = false;

	if (WorkorderShared != NULL)
	{
		dbname = database_to_hold(pstmt->utilityStmt, &dropping, &creating);
		/* These statements fail in a transaction block: leave the worker be. */
		if (dbname != NULL && IsTransactionBlock() &&
			nodeTag(pstmt->utilityStmt) != T_RenameStmt)
			dbname = NULL;
		if (dbname != NULL)
			dboid = get_database_oid(dbname, true);
		if (OidIsValid(dboid) && !pg_database_ownercheck(dboid, GetUserId()))
			dboid = InvalidOid;
	}

	hold_extension_for_update(pstmt->utilityStmt);
	if (!OidIsValid(dboid))
		call_next_ProcessUtility(pstmt, queryString, readOnlyTree, context,
								 params, queryEnv, dest, qc);
	else
		process_holding_database(dboid, dbname, dropping, pstmt, queryString,
								 readOnlyTree, context, params, queryEnv, dest, qc);

	/* A new database may have the extension from its template. */
	if (creating)
		workorder_wake_at_commit(true, false, false);
}

/*
 * hold_extension_for_update takes the extension's lock in exclusive mode
 * before ALTER EXTENSION workorder UPDATE (see the header): the update waits
 * for the worker's running task, and keeps the next one out until it commits.
 * Any other statement passes, and so does the update of a role that does not
 * own the extension, which PostgreSQL refuses: it queued for the lock first,
 * behind the worker's task or another update, and the worker's next step
 * behind it, before it heard that it may not.
 */
static void
hold_extension_for_update(Node *stmt)
{
	Oid			extension_oid;

	if (stmt == NULL || !IsA(stmt, AlterExtensionStmt) ||
		strcmp(((AlterExtensionStmt *) stmt)->extname, "workorder") != 0)
		return;
	extension_oid = get_extension_oid("workorder", true);
	if (OidIsValid(extension_oid) && pg_extension_ownercheck(extension_oid, GetUserId()))
		LockDatabaseObject(ExtensionRelationId, extension_oid, 0, AccessExclusiveLock);
}

/* call_next_ProcessUtility passes a statement on to the next hook or to PostgreSQL. */
static void
call_next_ProcessUtility(PlannedStmt *pstmt, const char *queryString,
						 bool readOnlyTree, ProcessUtilityContext context,
						 ParamListInfo params, QueryEnvironment *queryEnv,
						 DestReceiver *dest, QueryCompletion *qc)
{
	if (prev_ProcessUtility)
		prev_ProcessUtility(pstmt, queryString, readOnlyTree, context,
							params, queryEnv, dest, qc);
	else
		standard_ProcessUtility(pstmt, queryString, readOnlyTree, context,
								params, queryEnv, dest, qc);
}

/*
 * process_holding_database runs a statement with the database held: its
 * worker stopped, and no new one started.  After a DROP DATABASE the slot
 * stays held until the launcher sees the database gone; after any other
 * statement, or when the statement fails, it is freed at once.
 */
static void
process_holding_database(Oid dboid, const char *dbname, bool dropping,
						 PlannedStmt *pstmt, const char *queryString,
						 bool readOnlyTree, ProcessUtilityContext context,
						 ParamListInfo params, QueryEnvironment *queryEnv,
						 DestReceiver *dest, QueryCompletion *qc)
{
	PG_TRY();
	{
		hold_database(dboid, dbname);
		call_next_ProcessUtility(pstmt, queryString, readOnlyTree, context,
								 params, queryEnv, dest, qc);
	}
	PG_CATCH();
	{
		release_database(dboid);
		PG_RE_THROW();
	}
	PG_END_TRY();

	if (dropping)
	{
		workorder_quarantine_forget_database(dboid);
		workorder_wake_at_commit(true, false, false);
	}
	else if (!IsTransactionBlock() || !hold_until_end(dboid))
		release_database(dboid);
}

/*
 * hold_until_end keeps a database held until the current (sub)transaction
 * ends, and says whether it could (see the header).
 */
static bool
hold_until_end(Oid dboid)
{
	if (held_until_end_count >= HELD_UNTIL_END_MAX)
		return false;
	register_xact_callbacks();
	held_until_end[held_until_end_count].dboid = dboid;
	held_until_end[held_until_end_count].nest_level = GetCurrentTransactionNestLevel();
	held_until_end_count++;
	return true;
}

/*
 * release_held_until_end frees the databases held until the end of a
 * (sub)transaction at from_level or deeper.
 */
static void
release_held_until_end(int from_level)
{
	int			i = 0;

	while (i < held_until_end_count)
	{
		if (held_until_end[i].nest_level >= from_level)
		{
			release_database(held_until_end[i].dboid);
			held_until_end[i] = held_until_end[--held_until_end_count];
		}
		else
			i++;
	}
}

/*
 * database_to_hold returns the name of the database that a statement needs
 * without connections, or NULL.  It sets *dropping for DROP DATABASE and
 * *creating for CREATE DATABASE.
 */
static const char *
database_to_hold(Node *parsetree, bool *dropping, bool *creating)
{
	ListCell   *lc;

	switch (nodeTag(parsetree))
	{
		case T_DropdbStmt:
			*dropping = true;
			return ((DropdbStmt *) parsetree)->dbname;

		case T_RenameStmt:
			{
				RenameStmt *stmt = (RenameStmt *) parsetree;

				if (stmt->renameType == OBJECT_DATABASE)
					return stmt->subname;
			}
			break;

		case T_AlterDatabaseStmt:
			{
				AlterDatabaseStmt *stmt = (AlterDatabaseStmt *) parsetree;

				foreach(lc, stmt->options)
				{
					DefElem    *defel = lfirst_node(DefElem, lc);

					if (strcmp(defel->defname, "tablespace") == 0)
						return stmt->dbname;
				}
			}
			break;

		case T_CreatedbStmt:
			{
				CreatedbStmt *stmt = (CreatedbStmt *) parsetree;

				*creating = true;
				foreach(lc, stmt->options)
				{
					DefElem    *defel = lfirst_node(DefElem, lc);

					if (strcmp(defel->defname, "template") == 0 && defel->arg != NULL &&
						IsA(defel->arg, String))
						return strVal(defel->arg);
				}
			}
			break;

		default:
			break;
	}
	return NULL;
}

/*
 * hold_database marks a database's slot HELD by this backend, stops its
 * worker, and waits until the worker has left, or HOLD_WAIT_MS have passed
 * (then the statement itself will report that the database is in use).  If
 * another backend holds the database already, it only waits.
 */
static void
hold_database(Oid dboid, const char *dbname)
{
	WorkerSlot *slot;
	uint32		generation = 0;
	pid_t		pid = 0;
	TimestampTz deadline;

	LWLockAcquire(WorkorderShared->lock, LW_EXCLUSIVE);
	slot = workorder_find_slot(dboid);
	if (slot == NULL)
	{
		slot = workorder_take_slot(dboid, dbname, WSLOT_HELD);
		if (slot != NULL)
			slot->holder_pid = MyProcPid;
	}
	else if (slot->state != WSLOT_HELD || slot->holder_pid == 0)
	{
		/* Also one left held by nobody, its worker still stopping. */
		slot->state = WSLOT_HELD;
		slot->holder_pid = MyProcPid;
	}
	if (slot != NULL)
	{
		generation = slot->generation;
		pid = slot->pid;
		if (pid != 0)
			(void) kill(pid, SIGTERM);
	}
	LWLockRelease(WorkorderShared->lock);

	if (pid == 0)
		return;

	deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), HOLD_WAIT_MS);
	for (;;)
	{
		bool		attached;

		LWLockAcquire(WorkorderShared->lock, LW_SHARED);
		attached = (slot->generation == generation && slot->pid == pid);
		LWLockRelease(WorkorderShared->lock);
		if (!attached && BackendPidGetProc(pid) == NULL)
			break;
		if (GetCurrentTimestamp() >= deadline)
		{
			ereport(WARNING,
					(errcode(ERRCODE_OBJECT_IN_USE),
					 errmsg("the workorder worker of database \"%s\" has not stopped", dbname),
					 errdetail("The worker (PID %d) was sent SIGTERM %ld ms ago.",
							   (int) pid, HOLD_WAIT_MS),
					 errhint("Stop it with pg_terminate_backend(%d).", (int) pid)));
			break;
		}
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 HOLD_POLL_MS, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
	}
}

/*
 * release_database frees a database's slot if this backend holds it, and
 * wakes the launcher to start the database's worker again.  When the worker
 * has not left the slot yet (the statement was cancelled, or timed out,
 * while it waited for the worker to stop), the slot is left to the launcher,
 * held by nobody, to free once the worker is gone: kept held by this
 * backend, it stayed held, and the database without a worker, for as long
 * as this session lasted.  It never raises an error, so it may be called
 * while an error is being handled.
 */
static void
release_database(Oid dboid)
{
	WorkerSlot *slot;

	LWLockAcquire(WorkorderShared->lock, LW_EXCLUSIVE);
	slot = workorder_find_slot(dboid);
	if (slot != NULL && slot->state == WSLOT_HELD && slot->holder_pid == MyProcPid)
	{
		if (slot->pid == 0)
			workorder_free_slot(slot);
		else
			slot->holder_pid = 0;
	}
	LWLockRelease(WorkorderShared->lock);
	workorder_wake_launcher_now(false);
}

/*
 * workorder_object_access wakes this database's worker at commit when an
 * extension is dropped here: if it was ours, the worker then exits.
 */
static void
workorder_object_access(ObjectAccessType access, Oid classId, Oid objectId,
						int subId, void *arg)
{
	if (prev_object_access_hook)
		prev_object_access_hook(access, classId, objectId, subId, arg);

	if (access == OAT_DROP && classId == ExtensionRelationId && WorkorderShared != NULL)
		workorder_wake_at_commit(false, false, true);
}

/*
 * workorder_wake_at_commit arranges for the launcher, this database's worker,
 * or both, to be woken when the current transaction commits.  With recheck,
 * the launcher also looks again at once at the databases where it found no
 * extension.
 */
void
workorder_wake_at_commit(bool launcher, bool recheck, bool worker)
{
	if (WorkorderShared == NULL)
		return;
	register_xact_callbacks();
	pending_wake_ask(&wake_launcher_at_commit, launcher);
	pending_wake_ask(&recheck_at_commit, recheck);
	pending_wake_ask(&wake_worker_at_commit, worker);
}

/* register_xact_callbacks registers the transaction callbacks, once. */
static void
register_xact_callbacks(void)
{
	if (xact_callback_registered)
		return;
	RegisterXactCallback(workorder_xact_callback, NULL);
	RegisterSubXactCallback(workorder_subxact_callback, NULL);
	xact_callback_registered = true;
}

/*
 * pending_wake_ask asks for a wake at commit, if wanted, on behalf of the
 * current (sub)transaction.
 */
static void
pending_wake_ask(PendingWake *wake, bool wanted)
{
	int			level = GetCurrentTransactionNestLevel();

	if (!wanted)
		return;
	if (!wake->wanted || level < wake->nest_level)
		wake->nest_level = level;
	wake->wanted = true;
}

/* pending_wake_forget drops a wake, sent or not. */
static void
pending_wake_forget(PendingWake *wake)
{
	wake->wanted = false;
	wake->nest_level = 0;
}

/*
 * pending_wake_end_subxact settles a wake when the current subtransaction
 * ends: a wake it asked for passes to its parent when it commits, and is
 * dropped when it aborts.  (A task the worker runs takes each order in a
 * subtransaction: the wake that a failed order's rolled-back UPDATE asked for
 * was sent anyway, and the worker ran the failing task again at once, about
 * ninety times a second.)
 */
static void
pending_wake_end_subxact(PendingWake *wake, bool committed)
{
	int			level = GetCurrentTransactionNestLevel();

	if (!wake->wanted || wake->nest_level < level)
		return;
	if (committed)
		wake->nest_level = level - 1;
	else
		pending_wake_forget(wake);
}

/*
 * workorder_xact_callback sends the wakes at commit, and forgets them at its
 * end; and frees the databases held until the transaction's end.
 */
static void
workorder_xact_callback(XactEvent event, void *arg pg_attribute_unused())
{
	if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_PARALLEL_COMMIT ||
		event == XACT_EVENT_ABORT || event == XACT_EVENT_PARALLEL_ABORT ||
		event == XACT_EVENT_PREPARE)
		release_held_until_end(0);
	switch (event)
	{
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PARALLEL_COMMIT:
			if (wake_launcher_at_commit.wanted)
				workorder_wake_launcher_now(recheck_at_commit.wanted);
			if (wake_worker_at_commit.wanted)
				workorder_wake_worker_now(MyDatabaseId);
			pending_wake_forget(&wake_launcher_at_commit);
			pending_wake_forget(&recheck_at_commit);
			pending_wake_forget(&wake_worker_at_commit);
			break;
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
		case XACT_EVENT_PREPARE:
			pending_wake_forget(&wake_launcher_at_commit);
			pending_wake_forget(&recheck_at_commit);
			pending_wake_forget(&wake_worker_at_commit);
			break;
		default:
			break;
	}
}

/*
 * workorder_subxact_callback passes the wakes a committed subtransaction asked
 * for to its parent, and drops those of an aborted one.
 */
static void
workorder_subxact_callback(SubXactEvent event, SubTransactionId mySubid pg_attribute_unused(),
						   SubTransactionId parentSubid pg_attribute_unused(), void *arg pg_attribute_unused())
{
	int			level = GetCurrentTransactionNestLevel();
	int			i;

	if (event != SUBXACT_EVENT_COMMIT_SUB && event != SUBXACT_EVENT_ABORT_SUB)
		return;
	/* A database held by an aborted subtransaction is free; a committed one's parent holds it. */
	if (event == SUBXACT_EVENT_ABORT_SUB)
		release_held_until_end(level);
	else
		for (i = 0; i < held_until_end_count; i++)
			if (held_until_end[i].nest_level >= level)
				held_until_end[i].nest_level = level - 1;
	pending_wake_end_subxact(&wake_launcher_at_commit, event == SUBXACT_EVENT_COMMIT_SUB);
	pending_wake_end_subxact(&recheck_at_commit, event == SUBXACT_EVENT_COMMIT_SUB);
	pending_wake_end_subxact(&wake_worker_at_commit, event == SUBXACT_EVENT_COMMIT_SUB);
}

/*
 * workorder_wake_launcher is the SQL function workorder.wake_launcher(): when
 * the current transaction commits, the launcher looks at every database at
 * once.  CREATE EXTENSION calls it.  It returns whether a launcher is
 * running; without preloading there is none and it does nothing.
 */
Datum
workorder_wake_launcher(PG_FUNCTION_ARGS)
{
	bool		running;

	(void) fcinfo;
	if (WorkorderShared == NULL)
		PG_RETURN_BOOL(false);
	workorder_wake_at_commit(true, true, false);
	LWLockAcquire(WorkorderShared->lock, LW_SHARED);
	running = (WorkorderShared->launcher_pid != 0);
	LWLockRelease(WorkorderShared->lock);
	PG_RETURN_BOOL(running);
}

/*
 * workorder_wake_worker is the SQL function workorder.wake_worker(): when the
 * current transaction commits, this database's worker makes a pass at once.
 * It returns whether the database has a worker; without preloading there is
 * none and it does nothing.
 */
Datum
workorder_wake_worker(PG_FUNCTION_ARGS)
{
	WorkerSlot *slot;
	bool		running;

	(void) fcinfo;
	if (WorkorderShared == NULL)
		PG_RETURN_BOOL(false);
	workorder_wake_at_commit(false, false, true);
	LWLockAcquire(WorkorderShared->lock, LW_SHARED);
	slot = workorder_find_slot(MyDatabaseId);
	running = (slot != NULL && slot->pid != 0);
	LWLockRelease(WorkorderShared->lock);
	PG_RETURN_BOOL(running);
}
