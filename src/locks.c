/*-------------------------------------------------------------------------
 *
 * locks.c
 *	  The extension's own heavyweight locks: the advisory locks by which its
 *	  sessions take turns (a dedup neighbourhood, a callback reference, a
 *	  worker task, a day's briefing, the calendars), in a lock space that
 *	  SQL's pg_advisory_* functions cannot reach.
 *
 * Why not pg_advisory_xact_lock().  Every role that can connect may call it,
 * with any keys, and ours are no secret (hashtext of a fixed name).  A
 * login with no right on the extension at all held the calendars' key and
 * every submit() waited for it without end, or held a task's key and the
 * worker skipped that task for ever, writing nothing to its run log.  So
 * the locks here are advisory locks whose fourth field is
 * WORKORDER_LOCK_CLASS, where SQL's are 1 (one bigint key) or 2 (two
 * integer keys): no SQL call makes that tag.  They show in pg_locks as
 * locktype 'advisory' with classid and objid the two keys and objsubid
 * WORKORDER_LOCK_CLASS (22351).  The SQL functions below, which take them
 * from the extension's plpgsql, are the admins' only (part 98), as every
 * function of the schema is unless granted on: the SECURITY DEFINER
 * functions that call them run as the owner.
 *
 * The keys of a named lock are (hashtext(what), hashtext(detail)), computed
 * as SQL computes them for a text of the default collation.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_collation.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "storage/lmgr.h"
#include "storage/lock.h"
#include "utils/builtins.h"

#include "workorder.h"

PG_FUNCTION_INFO_V1(workorder_lock_xact);
PG_FUNCTION_INFO_V1(workorder_lock_xact_shared);
PG_FUNCTION_INFO_V1(workorder_try_lock_xact);

static void workorder_lock_tag(LOCKTAG *tag, int32 key1, int32 key2);
static void workorder_lock_keys(FunctionCallInfo fcinfo, int32 *key1, int32 *key2);

/*
 * workorder_lock_tag fills tag with the extension's lock of the two keys in
 * the current database.
 */
static void
workorder_lock_tag(LOCKTAG *tag, int32 key1, int32 key2)
{
	SET_LOCKTAG_ADVISORY(*tag, MyDatabaseId, (uint32) key1, (uint32) key2, WORKORDER_LOCK_CLASS);
}

/*
 * workorder_lock_hash is hashtext(s), as SQL computes it for a text of the
 * default collation: the key of a lock named by s.
 */
int32
workorder_lock_hash(const char *s)
{
	return DatumGetInt32(DirectFunctionCall1Coll(hashtext, DEFAULT_COLLATION_OID, CStringGetTextDatum(s)));
}

/*
 * workorder_lock_acquire takes the extension's lock of the two keys in mode
 * until the transaction ends, waiting for it unless dont_wait; it returns
 * whether it got it.
 */
bool
workorder_lock_acquire(int32 key1, int32 key2, int mode, bool dont_wait)
{
	LOCKTAG		tag;

	workorder_lock_tag(&tag, key1, key2);
	return LockAcquire(&tag, mode, false, dont_wait) != LOCKACQUIRE_NOT_AVAIL;
}

/*
 * workorder_lock_keys reads the keys of workorder.lock_xact(what, detail):
 * hashtext of each (a NULL detail is the empty text, as is the one left out).
 */
static void
workorder_lock_keys(FunctionCallInfo fcinfo, int32 *key1, int32 *key2)
{
	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_WO_LOCK_WITHOUT_NAME),
				 errmsg("the name of a workorder lock is NULL"),
				 errdetail("workorder.lock_xact(), lock_xact_shared() or try_lock_xact() was called with what = NULL."),
				 errhint("Name the lock, e.g. 'workorder.detect_hotspots'.")));
	*key1 = DatumGetInt32(DirectFunctionCall1Coll(hashtext, DEFAULT_COLLATION_OID, PG_GETARG_DATUM(0)));
	*key2 = PG_ARGISNULL(1) ? workorder_lock_hash("")
		: DatumGetInt32(DirectFunctionCall1Coll(hashtext, DEFAULT_COLLATION_OID, PG_GETARG_DATUM(1)));
}

/*
 * workorder_lock_xact is workorder.lock_xact(what, detail): it takes the
 * extension's lock named so, exclusive, until the transaction ends, waiting
 * for a session that holds it.
 */
Datum
workorder_lock_xact(PG_FUNCTION_ARGS)
{
	int32		key1;
	int32		key2;

	workorder_lock_keys(fcinfo, &key1, &key2);
	(void) workorder_lock_acquire(key1, key2, ExclusiveLock, false);
	PG_RETURN_VOID();
}

/*
 * workorder_lock_xact_shared is workorder.lock_xact_shared(what, detail): the
 * same lock in share mode, which any number of sessions hold at once and
 * lock_xact() waits for (and they for it): the many that may run side by side
 * against the one that must run alone (claims of a channel's outbox against
 * its redrive).
 */
Datum
workorder_lock_xact_shared(PG_FUNCTION_ARGS)
{
	int32		key1;
	int32		key2;

	workorder_lock_keys(fcinfo, &key1, &key2);
	(void) workorder_lock_acquire(key1, key2, ShareLock, false);
	PG_RETURN_VOID();
}

/*
 * workorder_try_lock_xact is workorder.try_lock_xact(what, detail): the
 * same without waiting; false when another session holds the lock.
 */
Datum
workorder_try_lock_xact(PG_FUNCTION_ARGS)
{
	int32		key1;
	int32		key2;

	workorder_lock_keys(fcinfo, &key1, &key2);
	PG_RETURN_BOOL(workorder_lock_acquire(key1, key2, ExclusiveLock, true));
}
