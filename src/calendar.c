/*-------------------------------------------------------------------------
 *
 * calendar.c
 *	  Working calendars: working time and working days, for deadlines such as
 *	  "accept within 4 working hours" or "resolve within 5 working days,
 *	  counted from the next working day".
 *
 * A calendar (sql/install/80_calendar.sql) has a time zone, weekly working
 * hours (spans of local wall-clock time per ISO weekday) and exception days:
 * a holiday has no working hours, a make-up workday has the hours of the
 * calendar's makeup_isodow (Monday unless the calendar says otherwise).
 *
 * Working time is counted on instants.  Each local span [day + starts,
 * day + ends) becomes the instants it covers in the calendar's time zone,
 * read the way PostgreSQL reads a timestamp as a timestamptz: a wall-clock
 * time in a spring-forward gap takes the offset before the change, one in a
 * fall-back overlap the offset after it.  So 09:00-17:00 in Europe/Berlin is
 * eight hours on every day, the day of a switch included, while the instants
 * move by an hour.  Spans that a switch folds onto each other count once.
 *
 * The functions walk forward (or backward) day by day and span by span, not
 * minute by minute: 200 working hours on the cn calendar are about 40 days
 * of the walk.  A walk stops after 100 years (CALENDAR_HORIZON_DAYS) with
 * WO503, so that a calendar without working time ahead, or an absurd
 * duration, cannot run away.
 *
 * The cache.  A backend loads each calendar it uses once, into a hash table
 * keyed by code in a memory context under CacheMemoryContext: the pg_tz, the
 * weekly spans merged and sorted, and the exception days sorted for binary
 * search.  A statement trigger on the three tables (calendar_cache_invalidate,
 * below) registers a relcache invalidation of the changed table.  It reaches
 * every backend when the change commits, and the changing backend at its next
 * command; it is undone locally if the change rolls back.  A relcache callback
 * bumps calendar_generation when it sees one of the three tables (or a reset
 * of the whole relcache), and the next call empties the cache.  While the
 * calendars do not change, a call thus reads no table and no catalog.  The
 * alternative, comparing a version column with one SPI query per call, was
 * measured at about 7 microseconds a call, ten to twenty times the cost of
 * a typical computation (0.3 to 0.5 microseconds for a few working hours).
 *
 * The calendars' lock.  A deadline counted on a calendar as it was before a
 * change committed must be counted again (calendar_recompute, part 93), but
 * an order still being made when the change commits is not yet visible to
 * the recompute.  So every computation takes, for its transaction, an
 * advisory lock of the extension's own (locks.c) in share mode
 * (calendar_lock_shared); the recompute waits until the transactions that
 * held it when the change was first seen have ended (it reads them from
 * pg_locks: keys CALENDAR_LOCK_KEY, 0, objsubid WORKORDER_LOCK_CLASS), and only
 * then chooses its orders.  Nothing ever takes the lock in a stronger mode,
 * so a computation never waits for it.  A transaction that takes the lock
 * after the change committed reads the invalidation first, so it counts on
 * the new calendar.
 *
 * A calendar is loaded with the latest snapshot, as the system caches are,
 * not with the transaction's: whatever change an invalidation announced is
 * committed before the invalidation is sent, so a load that follows the
 * invalidation sees it, and an invalidation that arrives during the load
 * bumps the generation again, so that the next call loads again.  In
 * parallel mode no new snapshot may be taken: a calendar loaded then is read
 * with the active snapshot and kept only until the end of the transaction.
 *
 * Time zone conversion goes through DetermineTimeZoneOffset() and
 * timestamp2tm(), which cost a search of the zone's transitions.  Each
 * calendar therefore also keeps a window of instants in which its zone's
 * UTC offset is constant and that lies at least two days from any transition
 * (found with pg_next_dst_boundary), and converts inside it with one
 * addition.  Inside such a window every wall-clock time has exactly one
 * instant, so the shortcut gives what DetermineTimeZoneOffset would.  For
 * Asia/Shanghai the window is open-ended from 1991 on.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

/*
 * PostgreSQL's headers are not written for -Wextra: some inline functions
 * (bufpage.h, ilist.h, pulled in by executor/spi.h) leave parameters unused.
 */
#include "access/parallel.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "datatype/timestamp.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "pgtime.h"
#include "storage/lock.h"
#include "storage/proc.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/datetime.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "workorder.h"

/* Calendar codes are at most this long (CHECK calendars_code_format). */
#define CALENDAR_CODE_MAXLEN	64

/* How far a walk goes before it gives up: 100 years of days. */
#define CALENDAR_HORIZON_DAYS	36525
#define CALENDAR_HORIZON_TEXT	"100 years"

/*
 * The first key of the calendars' lock ("WOCL"; the second is 0), one of the
 * extension's own advisory locks (locks.c: no SQL session can take it, so
 * none can keep a computation waiting).  sql/install/93_escalation_tasks.sql
 * reads it from pg_locks: keep them equal.
 */
#define CALENDAR_LOCK_KEY		0x574F434C

/* A zone window keeps this far from the nearest transition of the zone. */
#define ZONE_WINDOW_MARGIN		(2 * USECS_PER_DAY)

/* The local days whose midnights are valid timestamps. */
#define CALENDAR_MIN_DAY		(DATETIME_MIN_JULIAN - POSTGRES_EPOCH_JDATE + 1)
#define CALENDAR_MAX_DAY		(TIMESTAMP_END_JULIAN - POSTGRES_EPOCH_JDATE - 2)

/*
 * WorkSpan is one span of working hours of a day: microseconds after local
 * midnight, end exclusive and at most 24:00.
 */
typedef struct WorkSpan
{
	int64		start;
	int64		end;
} WorkSpan;

/* ExceptionDay is one row of calendar_days. */
typedef struct ExceptionDay
{
	DateADT		day;
	bool		holiday;		/* else a make-up workday */
} ExceptionDay;

/* Calendar is one cached calendar: an entry of calendar_cache. */
typedef struct Calendar
{
	char		code[CALENDAR_CODE_MAXLEN + 1]; /* hash key; must be first */
	pg_tz	   *tz;
	int			makeup_isodow;

	/*
	 * The spans of ISO weekday d (1..7) are spans[week_first[d]] up to
	 * spans[week_first[d + 1] - 1], sorted and not overlapping.
	 */
	int			week_first[9];
	WorkSpan   *spans;
	ExceptionDay *days;			/* sorted by day */
	int			ndays;

	/*
	 * Set when the calendar was loaded in parallel mode, with a snapshot that
	 * may miss changes: the entry then holds only while that snapshot is the
	 * active one (workorder_cache_load_current).
	 */
	CacheLoad	loaded_with;	/* the snapshot it was read with (parallel mode) */

	/* The zone window: offset is local time minus UTC on [lo, hi). */
	bool		window_valid;
	TimestampTz window_lo;
	TimestampTz window_hi;
	int64		window_offset;
} Calendar;

/* The cache, its memory, and the generation it was built in. */
static HTAB *calendar_cache = NULL;
static MemoryContext calendar_context = NULL;
static uint64 calendar_generation = 0;
static uint64 calendar_cache_generation = 0;
static bool calendar_callback_registered = false;

/* OIDs of workorder.calendars, calendar_hours and calendar_days. */
static Oid	calendar_relids[3] = {InvalidOid, InvalidOid, InvalidOid};

/* The three queries that load a calendar, prepared once per backend. */
static SPIPlanPtr calendar_plans[3] = {NULL, NULL, NULL};
static const char *const calendar_queries[3] = {
	"SELECT c.time_zone, c.makeup_isodow FROM workorder.calendars c "
	"WHERE c.code OPERATOR(pg_catalog.=) $1",
	"SELECT h.isodow, h.starts, h.ends FROM workorder.calendar_hours h "
	"WHERE h.calendar_code OPERATOR(pg_catalog.=) $1 ORDER BY h.isodow, h.starts",
	"SELECT d.day, d.kind OPERATOR(pg_catalog.=) 'holiday' FROM workorder.calendar_days d "
	"WHERE d.calendar_code OPERATOR(pg_catalog.=) $1 ORDER BY d.day",
};

static void calendar_relcache_callback(Datum arg, Oid relid);
static void calendar_cache_reset(void);
static void calendar_lock_shared(void);
static Calendar *calendar_get(FunctionCallInfo fcinfo, int argno, const char *function);
static Calendar *calendar_load(const char *code);
static SPIPlanPtr calendar_plan(int which);
static void calendar_unknown(const char *code) pg_attribute_noreturn();
static int	calendar_day_spans(const Calendar *cal, DateADT day, const WorkSpan **spans);
static TimestampTz calendar_to_instant(Calendar *cal, DateADT day, int64 usec);
static void calendar_to_local(Calendar *cal, TimestampTz t, DateADT *day, int64 *usec);
static void calendar_window_update(Calendar *cal, TimestampTz t, int64 offset);
static void calendar_out_of_range(const Calendar *cal) pg_attribute_noreturn();
static void calendar_check_finite(TimestampTz t, const char *argument, const char *function);
static void calendar_horizon_error(const Calendar *cal, TimestampTz start,
								   const char *what) pg_attribute_noreturn();
static TimestampTz calendar_forward(Calendar *cal, TimestampTz start, int64 amount);
static TimestampTz calendar_backward(Calendar *cal, TimestampTz start, int64 amount);
static int64 calendar_between(Calendar *cal, TimestampTz a, TimestampTz b);
static TimestampTz calendar_working_day_end(Calendar *cal, TimestampTz start, int32 days);

PG_FUNCTION_INFO_V1(calendar_add_working_time);
PG_FUNCTION_INFO_V1(calendar_working_time_between);
PG_FUNCTION_INFO_V1(calendar_add_working_days);
PG_FUNCTION_INFO_V1(calendar_cache_invalidate);

/*
 * calendar_relcache_callback notes that the cache is out of date when the
 * relcache entry of one of the calendar tables is invalidated, or all are.
 * It runs inside invalidation processing, so it only bumps a counter.
 */
static void
calendar_relcache_callback(Datum arg pg_attribute_unused(), Oid relid)
{
	if (!OidIsValid(relid) ||
		relid == calendar_relids[0] ||
		relid == calendar_relids[1] ||
		relid == calendar_relids[2])
		calendar_generation++;
}

/*
 * calendar_cache_reset empties the cache and looks up the tables' OIDs
 * again (the extension may have been dropped and created since).
 */
static void
calendar_cache_reset(void)
{
	HASHCTL		ctl;
	Oid			nsp;

	if (calendar_context == NULL)
		calendar_context = AllocSetContextCreate(CacheMemoryContext,
												 "workorder calendars",
												 ALLOCSET_SMALL_SIZES);
	else
		MemoryContextReset(calendar_context);
	calendar_cache = NULL;

	/* From here on, an invalidation means another reset. */
	calendar_cache_generation = calendar_generation;

	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = CALENDAR_CODE_MAXLEN + 1;
	ctl.entrysize = sizeof(Calendar);
	ctl.hcxt = calendar_context;
	calendar_cache = hash_create("workorder calendars", 8, &ctl,
								 HASH_ELEM | HASH_STRINGS | HASH_CONTEXT);

	nsp = get_namespace_oid("workorder", true);
	calendar_relids[0] = OidIsValid(nsp) ? get_relname_relid("calendars", nsp) : InvalidOid;
	calendar_relids[1] = OidIsValid(nsp) ? get_relname_relid("calendar_hours", nsp) : InvalidOid;
	calendar_relids[2] = OidIsValid(nsp) ? get_relname_relid("calendar_days", nsp) : InvalidOid;
}

/*
 * calendar_unknown raises WO501 for a code that names no calendar.
 */
static void
calendar_unknown(const char *code)
{
	ereport(ERROR,
			(errcode(ERRCODE_WO_UNKNOWN_CALENDAR),
			 errmsg("unknown calendar \"%s\"", code),
			 errdetail("No row of workorder.calendars has the code \"%s\".", code),
			 errhint("Use a code of workorder.calendars, such as cn, or create the calendar first.")));
}

/*
 * calendar_lock_shared takes the calendars' lock in share mode for the
 * transaction (see the header); calendar_get then reads the invalidations
 * that came meanwhile, so that a change committed before it is seen by this
 * computation.  A parallel worker takes none (the lock would end with the
 * worker): parallel plans run only queries that write nothing, and what the
 * extension stores (deadlines, escalation instants) is computed outside
 * them; a caller that stores values computed by a parallel query (CREATE
 * TABLE AS) is not waited for by the recompute.
 */
static void
calendar_lock_shared(void)
{
	if (IsParallelWorker())
		return;
	(void) workorder_lock_acquire((int32) CALENDAR_LOCK_KEY, 0, ShareLock, false);
}

/*
 * calendar_get returns the calendar whose code is argument argno of the
 * calling function, from the cache or loaded into it.  A NULL or unknown
 * code is WO501; function names the SQL function in the message.
 */
static Calendar *
calendar_get(FunctionCallInfo fcinfo, int argno, const char *function)
{
	text	   *code_text;
	char		code[CALENDAR_CODE_MAXLEN + 1];
	int			len;
	Calendar   *cal;

	if (PG_ARGISNULL(argno))
		ereport(ERROR,
				(errcode(ERRCODE_WO_UNKNOWN_CALENDAR),
				 errmsg("calendar is NULL"),
				 errdetail("%s() was called with calendar => NULL.", function),
				 errhint("Pass a code of workorder.calendars, or leave the argument out for the default calendar cn.")));
	code_text = PG_GETARG_TEXT_PP(argno);
	len = VARSIZE_ANY_EXHDR(code_text);
	if (len > CALENDAR_CODE_MAXLEN)
		calendar_unknown(text_to_cstring(code_text));
	memcpy(code, VARDATA_ANY(code_text), len);
	code[len] = '\0';

	if (!calendar_callback_registered)
	{
		CacheRegisterRelcacheCallback(calendar_relcache_callback, (Datum) 0);
		calendar_callback_registered = true;
	}
	calendar_lock_shared();

	/*
	 * The changes other sessions committed, on every call, as the reference
	 * cache takes them (refcache.c): taken only when the transaction first
	 * took the lock, a holiday committed since was missed by the rest of the
	 * transaction, and two statements of it disagreed about the calendar.
	 * With nothing pending this reads a flag.
	 */
	AcceptInvalidationMessages();
	if (calendar_cache == NULL || calendar_cache_generation != calendar_generation)
		calendar_cache_reset();

	cal = (Calendar *) hash_search(calendar_cache, code, HASH_FIND, NULL);
	if (cal != NULL && !workorder_cache_load_current(&cal->loaded_with))
	{
		pfree(cal->spans);
		pfree(cal->days);
		hash_search(calendar_cache, code, HASH_REMOVE, NULL);
		cal = NULL;
	}
	if (cal == NULL)
		cal = calendar_load(code);
	return cal;
}

/*
 * calendar_plan returns the prepared plan of calendar_queries[which],
 * preparing it on first use.  SPI must be connected.
 */
static SPIPlanPtr
calendar_plan(int which)
{
	if (calendar_plans[which] == NULL)
	{
		Oid			argtypes[1] = {TEXTOID};
		calendar_plans[which] = workorder_keep_plan(calendar_queries[which], 1, argtypes);
	}
	return calendar_plans[which];
}

/*
 * calendar_load reads calendar code from the three tables, checks it, and
 * enters it in the cache.  An unknown code is WO501; a calendar that cannot
 * be used (no working hours, an unknown time zone, a bad row that slipped
 * past the triggers) is WO502.
 */
static Calendar *
calendar_load(const char *code)
{
	MemoryContext caller_context = CurrentMemoryContext;
	bool		provisional = IsInParallelMode();
	Snapshot	snapshot = InvalidSnapshot;
	Datum		arg = CStringGetTextDatum(code);
	char	   *zone_name = NULL;
	int			makeup_isodow = 1;
	WorkSpan   *spans = NULL;
	int		   *span_isodow = NULL;
	int			nspans = 0;
	ExceptionDay *days = NULL;
	int			ndays = 0;
	const char *problem = NULL;
	pg_tz	   *tz = NULL;
	Calendar   *cal;
	bool		found;
	int			which;
	uint64		i;
	int			d;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (!provisional)
		snapshot = RegisterSnapshot(GetLatestSnapshot());

	for (which = 0; which < 3 && problem == NULL; which++)
	{
		int			ret = SPI_execute_snapshot(calendar_plan(which), &arg, NULL,
											   snapshot, InvalidSnapshot,
											   true, false, 0);
		TupleDesc	desc;

		if (ret != SPI_OK_SELECT)
			elog(ERROR, "loading calendar \"%s\" failed: %s", code, SPI_result_code_string(ret));
		desc = SPI_tuptable->tupdesc;

		if (which == 0)
		{
			bool		isnull;
			Datum		v;

			if (SPI_processed == 0)
				break;
			v = SPI_getbinval(SPI_tuptable->vals[0], desc, 1, &isnull);
			if (!isnull)
				zone_name = MemoryContextStrdup(caller_context, TextDatumGetCString(v));
			v = SPI_getbinval(SPI_tuptable->vals[0], desc, 2, &isnull);
			if (!isnull)
				makeup_isodow = DatumGetInt16(v);
		}
		else if (which == 1)
		{
			/* Merge overlapping or touching spans of one weekday. */
			spans = MemoryContextAlloc(caller_context, sizeof(WorkSpan) * Max(SPI_processed, 1));
			span_isodow = MemoryContextAlloc(caller_context, sizeof(int) * Max(SPI_processed, 1));
			for (i = 0; i < SPI_processed; i++)
			{
				HeapTuple	tuple = SPI_tuptable->vals[i];
				bool		n1,
							n2,
							n3;
				int			isodow = DatumGetInt16(SPI_getbinval(tuple, desc, 1, &n1));
				int64		start = DatumGetTimeADT(SPI_getbinval(tuple, desc, 2, &n2));
				int64		end = DatumGetTimeADT(SPI_getbinval(tuple, desc, 3, &n3));

				if (n1 || n2 || n3 || isodow < 1 || isodow > 7 ||
					start < 0 || end > USECS_PER_DAY || start >= end)
				{
					problem = "a row of its weekly hours is not a span of one weekday";
					break;
				}
				if (nspans > 0 && span_isodow[nspans - 1] == isodow &&
					start <= spans[nspans - 1].end)
				{
					spans[nspans - 1].end = Max(spans[nspans - 1].end, end);
					continue;
				}
				span_isodow[nspans] = isodow;
				spans[nspans].start = start;
				spans[nspans].end = end;
				nspans++;
			}
			if (problem == NULL && nspans == 0)
				problem = "it has no working hours";
		}
		else
		{
			days = MemoryContextAlloc(caller_context, sizeof(ExceptionDay) * Max(SPI_processed, 1));
			for (i = 0; i < SPI_processed; i++)
			{
				bool		n1,
							n2;

				days[ndays].day = DatumGetDateADT(SPI_getbinval(SPI_tuptable->vals[i], desc, 1, &n1));
				days[ndays].holiday = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[i], desc, 2, &n2));
				if (n1 || n2 || DATE_NOT_FINITE(days[ndays].day))
				{
					problem = "a row of its exception days has no day or no kind";
					break;
				}
				ndays++;
			}
		}
	}

	if (snapshot != InvalidSnapshot)
		UnregisterSnapshot(snapshot);
	SPI_finish();

	if (zone_name == NULL && problem == NULL)
		calendar_unknown(code);
	if (problem == NULL)
	{
		tz = pg_tzset(zone_name);
		if (tz == NULL || !pg_tz_acceptable(tz))
			ereport(ERROR,
					(errcode(ERRCODE_WO_INVALID_CALENDAR),
					 errmsg("calendar \"%s\" has an unknown time zone \"%s\"", code, zone_name),
					 errdetail("PostgreSQL does not know the time zone \"%s\", or cannot use it.", zone_name),
					 errhint("Set workorder.calendars.time_zone to a name in pg_timezone_names, such as Asia/Shanghai.")));
		if (makeup_isodow < 1 || makeup_isodow > 7)
			problem = "its makeup_isodow is not an ISO weekday";
	}
	if (problem != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_WO_INVALID_CALENDAR),
				 errmsg("calendar \"%s\" cannot be used: %s", code, problem),
				 errdetail("The calendar's rows in workorder.calendars, calendar_hours and calendar_days define no usable working time."),
				 errhint("Give the calendar weekly working hours in workorder.calendar_hours, e.g. 09:00-12:00 and 14:00-18:00 on isodow 1 to 5.")));

	/* Everything checked: copy it into the cache. */
	cal = (Calendar *) hash_search(calendar_cache, code, HASH_ENTER, &found);
	cal->tz = tz;
	cal->makeup_isodow = makeup_isodow;
	cal->spans = MemoryContextAlloc(calendar_context, sizeof(WorkSpan) * nspans);
	memcpy(cal->spans, spans, sizeof(WorkSpan) * nspans);
	cal->days = MemoryContextAlloc(calendar_context, sizeof(ExceptionDay) * Max(ndays, 1));
	if (ndays > 0)
		memcpy(cal->days, days, sizeof(ExceptionDay) * ndays);
	cal->ndays = ndays;
	for (d = 1, i = 0; d <= 8; d++)
	{
		while (i < (uint64) nspans && span_isodow[i] < d)
			i++;
		cal->week_first[d] = (int) i;
	}
	cal->week_first[0] = 0;
	workorder_cache_load_mark(&cal->loaded_with, provisional);
	cal->window_valid = false;
	cal->window_lo = cal->window_hi = 0;
	cal->window_offset = 0;
	return cal;
}

/*
 * calendar_day_spans sets *spans to the working spans of a local day and
 * returns how many there are: none on a holiday, those of makeup_isodow on a
 * make-up workday, else those of the day's weekday.
 */
static int
calendar_day_spans(const Calendar *cal, DateADT day, const WorkSpan **spans)
{
	int			isodow = 0;
	int			lo = 0;
	int			hi = cal->ndays - 1;

	if (cal->ndays > 0 && day >= cal->days[0].day && day <= cal->days[hi].day)
	{
		while (lo <= hi)
		{
			int			mid = lo + (hi - lo) / 2;

			if (cal->days[mid].day < day)
				lo = mid + 1;
			else if (cal->days[mid].day > day)
				hi = mid - 1;
			else
			{
				if (cal->days[mid].holiday)
				{
					*spans = NULL;
					return 0;
				}
				isodow = cal->makeup_isodow;
				break;
			}
		}
	}
	if (isodow == 0)
	{
		isodow = j2day(day + POSTGRES_EPOCH_JDATE);
		if (isodow == 0)
			isodow = 7;
	}
	*spans = cal->spans + cal->week_first[isodow];
	return cal->week_first[isodow + 1] - cal->week_first[isodow];
}

/*
 * calendar_out_of_range raises WO503 for a walk that leaves the range of
 * timestamps.
 */
static void
calendar_out_of_range(const Calendar *cal)
{
	ereport(ERROR,
			(errcode(ERRCODE_WO_INVALID_WORKING_TIME),
			 errmsg("working time on calendar \"%s\" runs out of the range of timestamps", cal->code),
			 errdetail("Timestamps run from 4713 BC to 294276 AD."),
			 errhint("Check the start and the duration.")));
}

/*
 * calendar_to_instant returns the instant of local time usec (microseconds
 * after midnight, up to 24:00) on a local day, in the calendar's zone.
 */
static TimestampTz
calendar_to_instant(Calendar *cal, DateADT day, int64 usec)
{
	Timestamp	local;
	struct pg_tm tm;
	fsec_t		fsec;
	int			tz;
	TimestampTz result;

	if (day < CALENDAR_MIN_DAY || day > CALENDAR_MAX_DAY)
		calendar_out_of_range(cal);
	local = (Timestamp) day * USECS_PER_DAY + usec;
	if (cal->window_valid)
	{
		result = local - cal->window_offset;
		if (result >= cal->window_lo && result < cal->window_hi)
			return result;
	}
	if (timestamp2tm(local, NULL, &tm, &fsec, NULL, NULL) != 0)
		calendar_out_of_range(cal);
	tz = DetermineTimeZoneOffset(&tm, cal->tz);
	if (tm2timestamp(&tm, fsec, &tz, &result) != 0)
		calendar_out_of_range(cal);
	calendar_window_update(cal, result, local - result);
	return result;
}

/*
 * calendar_to_local splits instant t into its local day and the
 * microseconds after that day's midnight, in the calendar's zone.
 */
static void
calendar_to_local(Calendar *cal, TimestampTz t, DateADT *day, int64 *usec)
{
	Timestamp	local;
	int64		days;

	if (cal->window_valid && t >= cal->window_lo && t < cal->window_hi)
		local = t + cal->window_offset;
	else
	{
		struct pg_tm tm;
		fsec_t		fsec;
		int			tz;

		if (timestamp2tm(t, &tz, &tm, &fsec, NULL, cal->tz) != 0 ||
			tm2timestamp(&tm, fsec, NULL, &local) != 0)
			calendar_out_of_range(cal);
		calendar_window_update(cal, t, local - t);
	}
	days = local / USECS_PER_DAY;
	if (local < 0 && local % USECS_PER_DAY != 0)
		days--;
	*day = (DateADT) days;
	*usec = local - days * USECS_PER_DAY;
}

/*
 * calendar_window_update tries to widen the calendar's zone window with the
 * instants from t on whose offset (local minus UTC) is offset, as far as two
 * days before the zone's next transition.  Near a transition it leaves the
 * window as it was.
 */
static void
calendar_window_update(Calendar *cal, TimestampTz t, int64 offset)
{
	pg_time_t	probe;
	long int	before_gmtoff;
	long int	after_gmtoff;
	int			before_isdst;
	int			after_isdst;
	pg_time_t	boundary;
	TimestampTz hi;
	int			found;

	if (t < MIN_TIMESTAMP + ZONE_WINDOW_MARGIN)
		return;
	probe = timestamptz_to_time_t(t - ZONE_WINDOW_MARGIN);
	found = pg_next_dst_boundary(&probe, &before_gmtoff, &before_isdst, &boundary,
								 &after_gmtoff, &after_isdst, cal->tz);
	if (found < 0 || (int64) before_gmtoff * USECS_PER_SEC != offset)
		return;
	if (found == 0)
		hi = DT_NOEND;
	else
	{
		hi = time_t_to_timestamptz(boundary) - ZONE_WINDOW_MARGIN;
		if (hi <= t)
			return;
	}

	/* Overlapping windows of one offset make one window. */
	if (cal->window_valid && cal->window_offset == offset &&
		cal->window_lo <= hi && t <= cal->window_hi)
	{
		cal->window_lo = Min(cal->window_lo, t);
		cal->window_hi = Max(cal->window_hi, hi);
		return;
	}
	cal->window_valid = true;
	cal->window_lo = t;
	cal->window_hi = hi;
	cal->window_offset = offset;
}

/*
 * calendar_check_finite raises WO503 for an infinite timestamp argument.
 */
static void
calendar_check_finite(TimestampTz t, const char *argument, const char *function)
{
	if (TIMESTAMP_NOT_FINITE(t))
		ereport(ERROR,
				(errcode(ERRCODE_WO_INVALID_WORKING_TIME),
				 errmsg("%s of %s() is infinite", argument, function),
				 errdetail("%s is %s.", argument, timestamptz_to_str(t)),
				 errhint("Working time is counted between finite instants.")));
}

/*
 * calendar_horizon_error raises WO503 for a walk that found no end within
 * CALENDAR_HORIZON_DAYS of start.
 */
static void
calendar_horizon_error(const Calendar *cal, TimestampTz start, const char *what)
{
	ereport(ERROR,
			(errcode(ERRCODE_WO_INVALID_WORKING_TIME),
			 errmsg("%s does not end within " CALENDAR_HORIZON_TEXT " of %s on calendar \"%s\"",
					what, timestamptz_to_str(start), cal->code),
			 errdetail("The calendar functions look at most " CALENDAR_HORIZON_TEXT " ahead or back."),
			 errhint("Check the duration, and that the calendar has working days in that time.")));
}

/*
 * calendar_forward returns the instant when amount (> 0) microseconds of
 * working time have elapsed after start: inside a span, or at its end.
 */
static TimestampTz
calendar_forward(Calendar *cal, TimestampTz start, int64 amount)
{
	DateADT		first;
	DateADT		day;
	int64		usec;
	TimestampTz cursor = start;

	calendar_to_local(cal, start, &first, &usec);
	for (day = first - 1; day <= first + CALENDAR_HORIZON_DAYS; day++)
	{
		const WorkSpan *spans;
		int			n = calendar_day_spans(cal, day, &spans);
		int			i;

		CHECK_FOR_INTERRUPTS();
		for (i = 0; i < n; i++)
		{
			TimestampTz end = calendar_to_instant(cal, day, spans[i].end);
			TimestampTz begin;

			if (end <= cursor)
				continue;
			begin = Max(calendar_to_instant(cal, day, spans[i].start), cursor);
			if (amount <= end - begin)
				return begin + amount;
			amount -= end - begin;
			cursor = end;
		}
	}
	calendar_horizon_error(cal, start, "the working time");
}

/*
 * calendar_backward returns the latest instant from which amount (> 0)
 * microseconds of working time lead up to start: inside a span, or at its
 * start.
 */
static TimestampTz
calendar_backward(Calendar *cal, TimestampTz start, int64 amount)
{
	DateADT		last;
	DateADT		day;
	int64		usec;
	TimestampTz cursor = start;

	calendar_to_local(cal, start, &last, &usec);
	for (day = last + 1; day >= last - CALENDAR_HORIZON_DAYS; day--)
	{
		const WorkSpan *spans;
		int			n = calendar_day_spans(cal, day, &spans);
		int			i;

		CHECK_FOR_INTERRUPTS();
		for (i = n - 1; i >= 0; i--)
		{
			TimestampTz begin = calendar_to_instant(cal, day, spans[i].start);
			TimestampTz end;

			if (begin >= cursor)
				continue;
			end = Min(calendar_to_instant(cal, day, spans[i].end), cursor);
			if (amount <= end - begin)
				return end - amount;
			amount -= end - begin;
			cursor = begin;
		}
	}
	calendar_horizon_error(cal, start, "the working time counted back");
}

/*
 * calendar_between returns the working time in [a, b), a < b, in
 * microseconds.
 */
static int64
calendar_between(Calendar *cal, TimestampTz a, TimestampTz b)
{
	DateADT		first;
	DateADT		last;
	DateADT		day;
	int64		usec;
	int64		total = 0;
	TimestampTz cursor = a;

	calendar_to_local(cal, a, &first, &usec);
	calendar_to_local(cal, b, &last, &usec);
	if (last - first > CALENDAR_HORIZON_DAYS)
		ereport(ERROR,
				(errcode(ERRCODE_WO_INVALID_WORKING_TIME),
				 errmsg("working time between %s and %s is not counted",
						pstrdup(timestamptz_to_str(a)), pstrdup(timestamptz_to_str(b))),
				 errdetail("They are more than " CALENDAR_HORIZON_TEXT " apart."),
				 errhint("Count working time over at most " CALENDAR_HORIZON_TEXT ".")));
	for (day = first - 1; day <= last + 1; day++)
	{
		const WorkSpan *spans;
		int			n = calendar_day_spans(cal, day, &spans);
		int			i;

		CHECK_FOR_INTERRUPTS();
		for (i = 0; i < n; i++)
		{
			TimestampTz end = calendar_to_instant(cal, day, spans[i].end);
			TimestampTz begin;

			if (end <= cursor)
				continue;
			begin = Max(calendar_to_instant(cal, day, spans[i].start), cursor);
			if (begin >= b)
				return total;
			total += Min(end, b) - begin;
			if (end >= b)
				return total;
			cursor = end;
		}
	}
	return total;
}

/*
 * calendar_working_day_end returns the end of the working hours of the
 * days-th working day after the local day of start; for days = 0, of the
 * first working day whose working hours end after start.
 */
static TimestampTz
calendar_working_day_end(Calendar *cal, TimestampTz start, int32 days)
{
	DateADT		first;
	DateADT		day;
	int64		usec;
	int32		count = 0;

	calendar_to_local(cal, start, &first, &usec);

	/*
	 * For days = 0 the day before start's own is looked at too, as
	 * calendar_forward does: where the clock goes back across midnight
	 * (America/Havana, 01:00 to 00:00), start in the first 00:00 to 00:59 lies
	 * on its day while the day before ends at the second midnight, after it,
	 * and the working time left then was skipped.
	 */
	for (day = (days == 0 ? first - 1 : first + 1); day <= first + CALENDAR_HORIZON_DAYS; day++)
	{
		const WorkSpan *spans;
		int			n = calendar_day_spans(cal, day, &spans);
		TimestampTz end;

		CHECK_FOR_INTERRUPTS();
		if (n == 0)
			continue;
		if (days == 0)
		{
			end = calendar_to_instant(cal, day, spans[n - 1].end);
			if (end > start)
				return end;
		}
		else if (++count == days)
			return calendar_to_instant(cal, day, spans[n - 1].end);
	}
	calendar_horizon_error(cal, start, "the working days");
}

/*
 * calendar_add_working_time implements workorder.add_working_time(start,
 * duration, calendar): the instant when duration of working time has
 * elapsed after start (before it, for a negative duration).  A zero
 * duration returns start unmoved.  The duration has no days or months.
 */
Datum
calendar_add_working_time(PG_FUNCTION_ARGS)
{
	Calendar   *cal = calendar_get(fcinfo, 2, "add_working_time");
	TimestampTz start;
	Interval   *duration;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		PG_RETURN_NULL();
	start = PG_GETARG_TIMESTAMPTZ(0);
	duration = PG_GETARG_INTERVAL_P(1);
	calendar_check_finite(start, "start", "add_working_time");
	if (duration->month != 0 || duration->day != 0)
		ereport(ERROR,
				(errcode(ERRCODE_WO_INVALID_WORKING_TIME),
				 errmsg("working time must be given in hours, minutes and seconds"),
				 errdetail("The duration %s has a part in %s.",
						   DatumGetCString(DirectFunctionCall1(interval_out, IntervalPGetDatum(duration))),
						   duration->month != 0 ? "months or years" : "days"),
				 errhint("Write '24 hours' for 24 hours of working time; for working days use workorder.add_working_days().")));
	if (duration->time == 0)
		PG_RETURN_TIMESTAMPTZ(start);
	if (duration->time > 0)
		PG_RETURN_TIMESTAMPTZ(calendar_forward(cal, start, duration->time));
	if (duration->time == PG_INT64_MIN)
		calendar_horizon_error(cal, start, "the working time counted back");
	PG_RETURN_TIMESTAMPTZ(calendar_backward(cal, start, -duration->time));
}

/*
 * calendar_working_time_between implements workorder.working_time_between(a,
 * b, calendar): the working time in [a, b), negative when b < a.
 */
Datum
calendar_working_time_between(PG_FUNCTION_ARGS)
{
	Calendar   *cal = calendar_get(fcinfo, 2, "working_time_between");
	TimestampTz a;
	TimestampTz b;
	Interval   *result;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		PG_RETURN_NULL();
	a = PG_GETARG_TIMESTAMPTZ(0);
	b = PG_GETARG_TIMESTAMPTZ(1);
	calendar_check_finite(a, "a", "working_time_between");
	calendar_check_finite(b, "b", "working_time_between");

	result = (Interval *) palloc0(sizeof(Interval));
	if (a < b)
		result->time = calendar_between(cal, a, b);
	else if (b < a)
		result->time = -calendar_between(cal, b, a);
	PG_RETURN_INTERVAL_P(result);
}

/*
 * calendar_add_working_days implements workorder.add_working_days(start,
 * days, calendar): the end of the working hours of the days-th working day
 * after the local day of start.
 */
Datum
calendar_add_working_days(PG_FUNCTION_ARGS)
{
	Calendar   *cal = calendar_get(fcinfo, 2, "add_working_days");
	TimestampTz start;
	int32		days;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		PG_RETURN_NULL();
	start = PG_GETARG_TIMESTAMPTZ(0);
	days = PG_GETARG_INT32(1);
	calendar_check_finite(start, "start", "add_working_days");
	if (days < 0)
		ereport(ERROR,
				(errcode(ERRCODE_WO_INVALID_WORKING_TIME),
				 errmsg("the number of working days must not be negative"),
				 errdetail("days is %d.", days),
				 errhint("Pass 0 for the end of the current working day, 1 for the end of the next working day, and so on.")));
	PG_RETURN_TIMESTAMPTZ(calendar_working_day_end(cal, start, days));
}

/*
 * calendar_cache_invalidate is the statement trigger on calendars,
 * calendar_hours and calendar_days.  It registers a relcache invalidation of
 * the changed table, which every backend's calendar_relcache_callback sees:
 * at once in this backend (at the next command), at commit in the others.
 */
Datum
calendar_cache_invalidate(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("calendar_cache_invalidate() was not called as a trigger")));
	CacheInvalidateRelcache(trigdata->tg_relation);
	PG_RETURN_POINTER(NULL);
}
