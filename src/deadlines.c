/*-------------------------------------------------------------------------
 *
 * deadlines.c
 *	  The deadlines of an order on the intake path, in C: sla_intake() (the
 *	  policy and deadlines of an order dispatched at intake) and the two row
 *	  triggers on workorder.orders that keep next_check_at and
 *	  next_escalation_at (orders_sla_next_check, orders_escalation_next).
 *
 * They were plpgsql (sql/install/85_sla.sql, 86_escalation.sql say what they
 * compute, and the plpgsql functions deadline_after(), sla_warn_at(),
 * sla_extend(), sla_next_check() and escalation_next() remain for the
 * actions and the deadline tasks).  On the intake path they made about ten
 * nested plpgsql calls and four queries per order (callgrind: 0.5 million
 * instructions a submit).  Here the policies come from the reference cache
 * (refcache.c), the working-time arithmetic from calendar.c through its SQL
 * entry points, and the one query left (the next escalation step) is
 * prepared once per backend.
 *
 * The arithmetic is the plpgsql's, operator for operator (interval
 * subtraction, multiplication and addition through the same built-in
 * functions), so that intake and the actions give the same instants.  A
 * policy whose amounts do not fit their clocks (possible only if its
 * checking trigger was bypassed), or a deadline past the last instant a
 * timestamptz holds, is handed to the plpgsql deadline_after(), which
 * raises its WO513.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/pg_type.h"
#include "common/int.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "storage/proc.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "bgworkers.h"
#include "workorder.h"

/* The calendar functions of calendar.c, called through their SQL entry points. */
extern Datum calendar_add_working_time(PG_FUNCTION_ARGS);
extern Datum calendar_working_time_between(PG_FUNCTION_ARGS);
extern Datum calendar_add_working_days(PG_FUNCTION_ARGS);

static SPIPlanPtr escalation_step_plan = NULL;
static SPIPlanPtr escalation_reset_plan = NULL;
static SPIPlanPtr deadline_after_plan = NULL;
static SPIPlanPtr terms_at_plan = NULL;
static SPIPlanPtr order_terms_plan = NULL;

/*
 * The orders whose escalation chain started again (a reopen, an unmerge) in
 * the transaction chains_lxid, kept in its TopTransactionContext.  reopen()
 * and unmerge() change the status, then set the fresh deadline by a second
 * UPDATE, and log their event last: on that second UPDATE the log does not
 * show the new chain's start yet, and the terms were read from it as those in
 * force at receipt.  The first step of a chain after a policy's terms
 * changed was scheduled on the old clock (one working day where the deadline
 * counted elapsed hours: it ran ten hours late).
 */
typedef struct ChainStart
{
	int64		order_id;
	SubTransactionId subxact;	/* where it started: gone if that is rolled back */
} ChainStart;

static LocalTransactionId chains_lxid = InvalidLocalTransactionId;
static List *chains_started = NIL;
static bool chains_callback_registered = false;

static SPIPlanPtr deadline_plan(SPIPlanPtr *plan, const char *query, int nargs, Oid *types);
static bool amount_fits(const char *clock, const Interval *amount);
static bool deadline_past_time(TimestampTz start, const Interval *amount);
static void deadline_refused(TimestampTz start, const char *clock, const Interval *amount, Datum calendar);
static TimestampTz deadline_after(TimestampTz start, const char *clock, const Interval *amount,
								  const char *calendar);
static TimestampTz deadline_warn_at(TimestampTz start, TimestampTz due, const char *clock,
									double fraction, const char *calendar);
static TimestampTz deadline_extend(TimestampTz due, const char *clock, const Interval *extension,
								   const char *calendar);
static Datum interval_as_hours(Datum span);
static bool status_is_open(const char *status);
static void wake_if_soon(TimestampTz at);
static void sla_terms_at(const SlaPolicyInfo *policy, TimestampTz at, SlaPolicyInfo *terms);
static SlaStepLookup escalation_step_query(Datum policy, Datum step, Interval *after);
static void escalation_terms(Datum policy, Datum id, Datum received, char **clock, char **calendar);
static char *column_enum(HeapTuple tuple, TupleDesc desc, const char *name, bool *isnull);
static void chain_started_now(int64 order_id);
static bool chain_starts_now(int64 order_id);
static void chains_subxact_callback(SubXactEvent event, SubTransactionId subxact, SubTransactionId parent, void *arg);
static Datum column_value(HeapTuple tuple, TupleDesc desc, const char *name, bool *isnull);

PG_FUNCTION_INFO_V1(deadlines_sla_intake);
PG_FUNCTION_INFO_V1(deadlines_orders_sla_next_check);
PG_FUNCTION_INFO_V1(deadlines_orders_escalation_next);

/*
 * deadline_plan returns a statement prepared once per backend.  SPI must be
 * connected.
 */
static SPIPlanPtr
deadline_plan(SPIPlanPtr *plan, const char *query, int nargs, Oid *types)
{
	if (*plan == NULL)
	{
		*plan = workorder_keep_plan(query, nargs, types);
	}
	return *plan;
}

/*
 * amount_fits says whether an amount fits its clock, as sla_amount_error()
 * does: no months; whole days, 0 to 1000, on working_days; a positive time
 * without days, at most 10000 hours, on the two hours clocks.
 */
static bool
amount_fits(const char *clock, const Interval *amount)
{
	if (amount->month != 0)
		return false;
	if (strcmp(clock, "working_days") == 0)
		return amount->time == 0 && amount->day >= 0 && amount->day <= 1000;
	if (strcmp(clock, "calendar_hours") == 0 || strcmp(clock, "working_hours") == 0)
		return amount->day == 0 && amount->time > 0 && amount->time <= INT64CONST(10000) * USECS_PER_HOUR;
	return false;
}

/*
 * deadline_past_time says whether start plus an amount of hours (what the
 * calendar_hours clock takes: no days or months) passes the last instant a
 * timestamptz holds, where the addition would fail with a standard 22008.
 */
static bool
deadline_past_time(TimestampTz start, const Interval *amount)
{
	return !TIMESTAMP_NOT_FINITE(start) && amount->time > 0 && start >= END_TIMESTAMP - amount->time;
}

/*
 * deadline_refused hands arguments that deadline_after() refuses to the
 * plpgsql function, which raises the WO513 of the case: its checks and
 * messages stay in one place.
 */
static void
deadline_refused(TimestampTz start, const char *clock, const Interval *amount, Datum calendar)
{
	Oid			types[4] = {TIMESTAMPTZOID, TEXTOID, INTERVALOID, TEXTOID};
	Datum		values[4] = {TimestampTzGetDatum(start), CStringGetTextDatum(clock),
	IntervalPGetDatum(amount), calendar};

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	SPI_execute_plan(deadline_plan(&deadline_after_plan,
								   "SELECT workorder.deadline_after($1, $2, $3, $4)", 4, types),
					 values, NULL, false, 1);
	elog(ERROR, "deadline_after did not refuse %s on clock %s from %s",
		 DatumGetCString(DirectFunctionCall1(interval_out, IntervalPGetDatum(amount))), clock,
		 DatumGetCString(DirectFunctionCall1(timestamptz_out, TimestampTzGetDatum(start))));
}

/*
 * deadline_after is workorder.deadline_after(start, clock, amount, calendar)
 * for a non-NULL start.
 */
static TimestampTz
deadline_after(TimestampTz start, const char *clock, const Interval *amount, const char *calendar)
{
	Datum		cal = CStringGetTextDatum(calendar);
	bool		calendar_hours = strcmp(clock, "calendar_hours") == 0;

	if (!amount_fits(clock, amount) || (calendar_hours && deadline_past_time(start, amount)))
		deadline_refused(start, clock, amount, cal);
	if (calendar_hours)
		return DatumGetTimestampTz(DirectFunctionCall2(timestamptz_pl_interval, TimestampTzGetDatum(start),
													   IntervalPGetDatum(amount)));
	if (strcmp(clock, "working_hours") == 0)
		return DatumGetTimestampTz(DirectFunctionCall3(calendar_add_working_time, TimestampTzGetDatum(start),
													   IntervalPGetDatum(amount), cal));
	return DatumGetTimestampTz(DirectFunctionCall3(calendar_add_working_days, TimestampTzGetDatum(start),
												   Int32GetDatum(amount->day), cal));
}

/*
 * interval_as_hours is workorder.sla_hours(span): the span with its days
 * folded into its time, 24 hours each.  calendar_hours is elapsed time, and
 * the days of an interval added to an instant are calendar days in the
 * session's TimeZone (23 or 25 hours across a change of daylight saving time).
 */
static Datum
interval_as_hours(Datum span)
{
	Interval   *folded = palloc(sizeof(Interval));
	int64		day_time;

	*folded = *DatumGetIntervalP(span);
	if (pg_mul_s64_overflow((int64) folded->day, USECS_PER_DAY, &day_time) ||
		pg_add_s64_overflow(folded->time, day_time, &folded->time))
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("interval out of range")));
	folded->day = 0;
	return IntervalPGetDatum(folded);
}

/*
 * deadline_warn_at is workorder.sla_warn_at(start, due, clock, fraction,
 * calendar) for non-NULL start and due: start + fraction of [start, due) on
 * the clock.
 */
static TimestampTz
deadline_warn_at(TimestampTz start, TimestampTz due, const char *clock, double fraction,
				 const char *calendar)
{
	Datum		cal = CStringGetTextDatum(calendar);
	Datum		span;
	Interval	zero;

	if (strcmp(clock, "calendar_hours") == 0)
	{
		span = DirectFunctionCall2(timestamp_mi, TimestampTzGetDatum(due), TimestampTzGetDatum(start));
		span = DirectFunctionCall2(interval_mul, interval_as_hours(span), Float8GetDatum(fraction));
		return DatumGetTimestampTz(DirectFunctionCall2(timestamptz_pl_interval, TimestampTzGetDatum(start), span));
	}
	span = DirectFunctionCall3(calendar_working_time_between, TimestampTzGetDatum(start),
							   TimestampTzGetDatum(due), cal);
	memset(&zero, 0, sizeof(zero));
	if (DatumGetBool(DirectFunctionCall2(interval_le, span, IntervalPGetDatum(&zero))))
		return due;
	span = DirectFunctionCall2(interval_mul, span, Float8GetDatum(fraction));
	return Min(due, DatumGetTimestampTz(DirectFunctionCall3(calendar_add_working_time,
															 TimestampTzGetDatum(start), span, cal)));
}

/*
 * deadline_extend is workorder.sla_extend(due, clock, extension, calendar)
 * for non-NULL due and extension: as elapsed time on calendar_hours; on the working
 * clocks its days as working days, then the rest as working time.
 */
static TimestampTz
deadline_extend(TimestampTz due, const char *clock, const Interval *extension, const char *calendar)
{
	Datum		cal = CStringGetTextDatum(calendar);
	Interval	rest = *extension;
	Interval	zero;

	if (strcmp(clock, "calendar_hours") == 0)
		return DatumGetTimestampTz(DirectFunctionCall2(timestamptz_pl_interval, TimestampTzGetDatum(due),
													   interval_as_hours(IntervalPGetDatum(extension))));
	rest.day = 0;
	/* From just before the deadline: one at 24:00 is its own day's end. */
	if (extension->day > 0)
		due = DatumGetTimestampTz(DirectFunctionCall3(calendar_add_working_days,
													  TimestampTzGetDatum(TIMESTAMP_NOT_FINITE(due) ? due : due - 1),
													  Int32GetDatum(extension->day), cal));
	memset(&zero, 0, sizeof(zero));
	if (DatumGetBool(DirectFunctionCall2(interval_gt, IntervalPGetDatum(&rest), IntervalPGetDatum(&zero))))
		due = DatumGetTimestampTz(DirectFunctionCall3(calendar_add_working_time, TimestampTzGetDatum(due),
													  IntervalPGetDatum(&rest), cal));
	return due;
}

/*
 * status_is_open says whether a status is new, dispatched or accepted (a NULL
 * one, which the NOT NULL constraint refuses after the triggers, is not).
 */
static bool
status_is_open(const char *status)
{
	return status != NULL &&
		(strcmp(status, "new") == 0 || strcmp(status, "dispatched") == 0 ||
		 strcmp(status, "accepted") == 0);
}

/*
 * wake_if_soon wakes the worker at commit when at falls within its naptime
 * from now, so that no deadline waits for a long sleep (workorder.wake_worker()).
 */
static void
wake_if_soon(TimestampTz at)
{
	TimestampTz soon = TimestampTzPlusMilliseconds(GetCurrentTimestamp(),
												   (int64) workorder_worker_naptime * 1000);

	if (at < soon && WorkorderShared != NULL)
		workorder_wake_at_commit(false, false, true);
}

/* column_value returns the value of a named column of a row. */
static Datum
column_value(HeapTuple tuple, TupleDesc desc, const char *name, bool *isnull)
{
	int			col = SPI_fnumber(desc, name);

	if (col <= 0)
		elog(ERROR, "workorder.orders has no column %s", name);
	return heap_getattr(tuple, col, desc, isnull);
}

/* column_enum returns the label of a named enum column of a row, or NULL. */
static char *
column_enum(HeapTuple tuple, TupleDesc desc, const char *name, bool *isnull)
{
	Datum		v = column_value(tuple, desc, name, isnull);

	return *isnull ? NULL : DatumGetCString(DirectFunctionCall1(enum_out, v));
}

/*
 * sla_terms_at sets *terms to policy's terms in force at instant at, in the
 * caller's memory: the policy as cached when at is after its terms last
 * changed (every report submitted as it arrives), else the version of then,
 * from workorder.sla_terms() (a report received before a change of terms and
 * made an order after it: an inbox row drained late, one dated by its
 * connector).  Counted on the terms as they are, such a report's deadlines
 * were not those the calendar recompute counts, on the terms in force when
 * the clock started (part 93), and a later calendar change moved them.
 */
static void
sla_terms_at(const SlaPolicyInfo *policy, TimestampTz at, SlaPolicyInfo *terms)
{
	MemoryContext caller = CurrentMemoryContext;
	Oid			types[2] = {TEXTOID, TIMESTAMPTZOID};
	Datum		args[2];
	HeapTuple	row;
	TupleDesc	desc;
	bool		isnull;

	*terms = *policy;
	terms->calendar_code = pstrdup(policy->calendar_code);
	terms->accept_clock = pstrdup(policy->accept_clock);
	terms->resolve_clock = pstrdup(policy->resolve_clock);
	if (!policy->has_versions || at >= policy->terms_changed_at)
		return;

	args[0] = CStringGetTextDatum(policy->name);
	args[1] = TimestampTzGetDatum(at);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (SPI_execute_plan(deadline_plan(&terms_at_plan,
									   "SELECT t.calendar_code, t.accept_clock, t.accept_amount, t.resolve_clock, "
									   "t.resolve_amount, t.warn_fraction::pg_catalog.float8 "
									   "FROM workorder.sla_terms($1, $2) t WHERE t.name IS NOT NULL",
									   2, types),
						 args, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "sla_intake: reading the terms of policy %s failed", policy->name);
	if (SPI_processed == 1)
	{
		row = SPI_tuptable->vals[0];
		desc = SPI_tuptable->tupdesc;
		MemoryContextSwitchTo(caller);
		terms->calendar_code = TextDatumGetCString(SPI_getbinval(row, desc, 1, &isnull));
		terms->accept_clock = TextDatumGetCString(SPI_getbinval(row, desc, 2, &isnull));
		memcpy(&terms->accept_amount, DatumGetIntervalP(SPI_getbinval(row, desc, 3, &isnull)), sizeof(Interval));
		terms->resolve_clock = TextDatumGetCString(SPI_getbinval(row, desc, 4, &isnull));
		memcpy(&terms->resolve_amount, DatumGetIntervalP(SPI_getbinval(row, desc, 5, &isnull)), sizeof(Interval));
		terms->warn_fraction = DatumGetFloat8(SPI_getbinval(row, desc, 6, &isnull));
	}
	SPI_finish();
}

/*
 * workorder_sla_intake computes the policy an order dispatched at intake gets
 * (choose_sla_policy) and, when the policy exists and received is given, its
 * deadlines: the resolve deadline and the warning counted from received, the
 * accept deadline from dispatched (NULL: received), the instant the order is
 * made and dispatched.  A report received long before (an inbox row drained
 * after the worker was down) is the unit's to accept from when it can see
 * it: counted from receipt, it was overdue for acceptance before the order
 * existed.  NULL arguments are passed as a NULL rule_id / InvalidOid / NULL.
 */
void
workorder_sla_intake(const int64 *rule_id, Oid priority, const char *category,
					 const TimestampTz *received, const TimestampTz *dispatched,
					 SlaIntake *result)
{
	const char *policy = workorder_choose_sla_policy(rule_id, priority, category);
	const SlaPolicyInfo *p = policy ? workorder_sla_policy_info(policy) : NULL;

	memset(result, 0, sizeof(SlaIntake));
	result->policy = policy ? pstrdup(policy) : NULL;
	if (p != NULL && received != NULL)
	{
		/*
		 * Copies (a cache reload, in a calendar load say, frees the
		 * originals): the terms in force when each clock starts, the resolve
		 * clock at receipt and the accept clock at dispatch.
		 */
		TimestampTz accept_start = dispatched ? *dispatched : *received;
		SlaPolicyInfo resolve_terms;
		SlaPolicyInfo accept_terms;

		if (TIMESTAMP_NOT_FINITE(*received))
			ereport(ERROR,
					(errcode(ERRCODE_WO_INVALID_WORKING_TIME),
					 errmsg("sla_intake needs a finite time of receipt"),
					 errdetail("received is %s.", timestamptz_to_str(*received)),
					 errhint("Pass the time the report was received.")));

		sla_terms_at(p, *received, &resolve_terms);
		if (accept_start == *received)
			accept_terms = resolve_terms;
		else
			sla_terms_at(p, accept_start, &accept_terms);
		result->accept_due_at = deadline_after(accept_start, accept_terms.accept_clock,
											   &accept_terms.accept_amount, accept_terms.calendar_code);
		result->resolve_due_at = deadline_after(*received, resolve_terms.resolve_clock,
												&resolve_terms.resolve_amount, resolve_terms.calendar_code);
		result->warn_at = deadline_warn_at(*received, result->resolve_due_at, resolve_terms.resolve_clock,
										   resolve_terms.warn_fraction, resolve_terms.calendar_code);
		result->has_deadlines = true;
	}
}

/*
 * deadlines_sla_intake is workorder.sla_intake(rule_id, priority, category,
 * received, OUT policy, OUT accept_due_at, OUT resolve_due_at, OUT warn_at):
 * workorder_sla_intake as a row; NULL deadlines when there is no policy.
 */
Datum
deadlines_sla_intake(PG_FUNCTION_ARGS)
{
	int64		rule_id = PG_ARGISNULL(0) ? 0 : PG_GETARG_INT64(0);
	TimestampTz received = PG_ARGISNULL(3) ? 0 : PG_GETARG_TIMESTAMPTZ(3);
	SlaIntake	sla;
	TupleDesc	desc;
	Datum		values[4];
	bool		nulls[4] = {true, true, true, true};

	if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "sla_intake must return a row");
	desc = BlessTupleDesc(desc);
	workorder_sla_intake(PG_ARGISNULL(0) ? NULL : &rule_id,
						 PG_ARGISNULL(1) ? InvalidOid : PG_GETARG_OID(1),
						 PG_ARGISNULL(2) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(2)),
						 PG_ARGISNULL(3) ? NULL : &received, NULL, &sla);
	if (sla.policy != NULL)
	{
		values[0] = CStringGetTextDatum(sla.policy);
		nulls[0] = false;
	}
	if (sla.has_deadlines)
	{
		values[1] = TimestampTzGetDatum(sla.accept_due_at);
		values[2] = TimestampTzGetDatum(sla.resolve_due_at);
		values[3] = TimestampTzGetDatum(sla.warn_at);
		nulls[1] = nulls[2] = nulls[3] = false;
	}
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(desc, values, nulls)));
}

/*
 * deadlines_orders_sla_next_check is the BEFORE INSERT OR UPDATE row trigger
 * orders_sla_next_check: next_check_at is workorder.sla_next_check(NEW), the
 * earliest of warn_at (not yet warned, not overdue), accept_due_at (while
 * dispatched, not yet marked) and resolve_due_at (not yet overdue) while the
 * order is new, dispatched or accepted, else NULL; and the worker is woken
 * when a new value falls within its naptime.
 */
Datum
deadlines_orders_sla_next_check(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	TupleDesc	desc;
	HeapTuple	tuple;
	bool		isnull;
	char	   *status;
	TimestampTz next = 0;
	bool		has_next = false;
	int			col;
	Datum		value;
	bool		null_value;

	if (!CALLED_AS_TRIGGER(fcinfo) || !TRIGGER_FIRED_BEFORE(trigdata->tg_event) ||
		!TRIGGER_FIRED_FOR_ROW(trigdata->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("orders_sla_next_check() must be a BEFORE row trigger")));
	desc = RelationGetDescr(trigdata->tg_relation);
	tuple = TRIGGER_FIRED_BY_UPDATE(trigdata->tg_event) ? trigdata->tg_newtuple : trigdata->tg_trigtuple;

	status = column_enum(tuple, desc, "status", &isnull);
	if (!isnull && status_is_open(status))
	{
		bool		warned = DatumGetBool(column_value(tuple, desc, "warned", &isnull));
		bool		overdue = DatumGetBool(column_value(tuple, desc, "overdue", &isnull));
		bool		accept_overdue = DatumGetBool(column_value(tuple, desc, "accept_overdue", &isnull));
		Datum		v;

		/* LEAST ignores NULLs. */
		if (!warned && !overdue)
		{
			v = column_value(tuple, desc, "warn_at", &isnull);
			if (!isnull && (!has_next || DatumGetTimestampTz(v) < next))
				next = DatumGetTimestampTz(v), has_next = true;
		}
		if (strcmp(status, "dispatched") == 0 && !accept_overdue)
		{
			v = column_value(tuple, desc, "accept_due_at", &isnull);
			if (!isnull && (!has_next || DatumGetTimestampTz(v) < next))
				next = DatumGetTimestampTz(v), has_next = true;
		}
		if (!overdue)
		{
			v = column_value(tuple, desc, "resolve_due_at", &isnull);
			if (!isnull && (!has_next || DatumGetTimestampTz(v) < next))
				next = DatumGetTimestampTz(v), has_next = true;
		}
	}

	col = SPI_fnumber(desc, "next_check_at");
	if (col <= 0)
		elog(ERROR, "workorder.orders has no column next_check_at");
	if (has_next)
	{
		bool		changed = true;

		if (TRIGGER_FIRED_BY_UPDATE(trigdata->tg_event))
		{
			Datum		old = heap_getattr(trigdata->tg_trigtuple, col, desc, &isnull);

			changed = isnull || DatumGetTimestampTz(old) != next;
		}
		if (changed)
			wake_if_soon(next);
	}
	value = TimestampTzGetDatum(next);
	null_value = !has_next;
	tuple = heap_modify_tuple_by_cols(tuple, desc, 1, &col, &value, &null_value);
	return PointerGetDatum(tuple);
}

/*
 * escalation_step_query reads the first step of policy's chain after step
 * from the table, for a database whose chains the reference cache does not
 * hold (see workorder_sla_next_escalation_step), and writes its delay to
 * *after.
 */
static SlaStepLookup
escalation_step_query(Datum policy, Datum step, Interval *after)
{
	Oid			types[2] = {TEXTOID, INT4OID};
	Datum		args[2] = {policy, step};
	SlaStepLookup lookup = SLA_STEP_NONE;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (SPI_execute_plan(deadline_plan(&escalation_step_plan,
									   "SELECT s.after FROM workorder.sla_escalation_steps s "
									   "WHERE s.policy OPERATOR(pg_catalog.=) $1 "
									   "AND s.step OPERATOR(pg_catalog.>) $2 ORDER BY s.step LIMIT 1",
									   2, types),
						 args, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "reading the next escalation step failed");
	if (SPI_processed > 0)
	{
		bool		after_null;
		Datum		value = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &after_null);

		if (!after_null)
		{
			*after = *DatumGetIntervalP(value);
			lookup = SLA_STEP_FOUND;
		}
	}
	SPI_finish();
	return lookup;
}

/*
 * escalation_terms sets *clock and *calendar to the resolve clock and
 * calendar of the terms an order is held to, when it has any: workorder.sla_terms()
 * of its policy at workorder.sla_clock_start() of its row (its last reopen or
 * unmerge, else its receipt; an order being inserted has only its receipt).
 * Asked only for an order received before its policy's terms last changed.
 */
static void
escalation_terms(Datum policy, Datum id, Datum received, char **clock, char **calendar)
{
	MemoryContext caller = CurrentMemoryContext;
	Oid			types[3] = {TEXTOID, INT8OID, TIMESTAMPTZOID};
	Datum		args[3] = {policy, id, received};
	bool		isnull;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (SPI_execute_plan(deadline_plan(&order_terms_plan,
									   "SELECT t.resolve_clock, t.calendar_code FROM workorder.sla_terms($1, "
									   "COALESCE((SELECT (workorder.sla_clock_start(o)).at FROM workorder.orders o "
									   "WHERE o.id OPERATOR(pg_catalog.=) $2), $3)) t WHERE t.name IS NOT NULL",
									   3, types),
						 args, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "reading the terms an order is held to failed");
	if (SPI_processed == 1)
	{
		HeapTuple	row = SPI_tuptable->vals[0];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		MemoryContext old = MemoryContextSwitchTo(caller);

		*clock = TextDatumGetCString(SPI_getbinval(row, desc, 1, &isnull));
		*calendar = TextDatumGetCString(SPI_getbinval(row, desc, 2, &isnull));
		MemoryContextSwitchTo(old);
	}
	SPI_finish();
}

/* chain_started_now records that an order's chain started in this transaction. */
static void
chain_started_now(int64 order_id)
{
	MemoryContext old;
	ChainStart *start;

	if (!chains_callback_registered)
	{
		RegisterSubXactCallback(chains_subxact_callback, NULL);
		chains_callback_registered = true;
	}
	if (chains_lxid != MyProc->lxid)
	{
		chains_lxid = MyProc->lxid;
		chains_started = NIL;	/* the old list went with its transaction */
	}
	old = MemoryContextSwitchTo(TopTransactionContext);
	start = palloc(sizeof(ChainStart));
	start->order_id = order_id;
	start->subxact = GetCurrentSubTransactionId();
	chains_started = lappend(chains_started, start);
	MemoryContextSwitchTo(old);
}

/*
 * chains_subxact_callback forgets the chains started in a subtransaction that
 * is rolled back, or in one below it (their ids are larger): the reopen did
 * not happen.
 */
static void
chains_subxact_callback(SubXactEvent event, SubTransactionId subxact,
						SubTransactionId parent pg_attribute_unused(), void *arg pg_attribute_unused())
{
	ListCell   *lc;

	if (event != SUBXACT_EVENT_ABORT_SUB || chains_lxid != MyProc->lxid)
		return;
	foreach(lc, chains_started)
		if (((ChainStart *) lfirst(lc))->subxact >= subxact)
			chains_started = foreach_delete_current(chains_started, lc);
}

/* chain_starts_now says whether an order's chain started in this transaction. */
static bool
chain_starts_now(int64 order_id)
{
	ListCell   *lc;

	if (chains_lxid != MyProc->lxid)
		return false;
	foreach(lc, chains_started)
		if (((ChainStart *) lfirst(lc))->order_id == order_id)
			return true;
	return false;
}

/*
 * deadlines_orders_escalation_next is the BEFORE INSERT OR UPDATE row
 * trigger orders_escalation_next: an order reopened (from resolved or closed
 * to an open status) or unmerged (from merged to an open status: both get
 * fresh deadlines) starts a new chain (its order_escalations rows go,
 * escalation_step 0, escalated_to NULL); next_escalation_at is the instant of
 * the next step of its policy's chain after escalation_step, counted from
 * resolve_due_at on the resolve clock and calendar of the terms the order is
 * held to, those in force when its clock started (calendar_hours on cn when
 * the policy is gone), or NULL when the order is not open, has no resolve
 * deadline or no step is left; the worker is woken when a new value falls
 * within its naptime.  The chain comes from the reference cache (from the
 * table in a database whose extension is older than 0.5).
 */
Datum
deadlines_orders_escalation_next(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	bool		update;
	TupleDesc	desc;
	HeapTuple	tuple;
	bool		isnull;
	char	   *status;
	Datum		resolve_due;
	bool		resolve_due_null;
	TimestampTz next = 0;
	bool		has_next = false;
	int			cols[3];
	Datum		values[3];
	bool		nulls[3];
	int			ncols = 0;
	bool		new_chain = false;

	if (!CALLED_AS_TRIGGER(fcinfo) || !TRIGGER_FIRED_BEFORE(trigdata->tg_event) ||
		!TRIGGER_FIRED_FOR_ROW(trigdata->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("orders_escalation_next() must be a BEFORE row trigger")));
	update = TRIGGER_FIRED_BY_UPDATE(trigdata->tg_event);
	desc = RelationGetDescr(trigdata->tg_relation);
	tuple = update ? trigdata->tg_newtuple : trigdata->tg_trigtuple;
	status = column_enum(tuple, desc, "status", &isnull);

	if (update)
	{
		char	   *old_status = column_enum(trigdata->tg_trigtuple, desc, "status", &isnull);
		bool		old_redo_null;
		bool		redo_null;
		Datum		old_redo = column_value(trigdata->tg_trigtuple, desc, "redo_count", &old_redo_null);
		Datum		redo = column_value(tuple, desc, "redo_count", &redo_null);

		/*
		 * A new chain only for a reopen, which counts the redo, and for an
		 * unmerge: a failed verification also takes a resolved order back to
		 * work (accepted), but under the same resolve deadline, whose steps
		 * are done.
		 */
		if (old_status != NULL && status_is_open(status) &&
			(((strcmp(old_status, "resolved") == 0 || strcmp(old_status, "closed") == 0) &&
			  !old_redo_null && !redo_null && DatumGetInt32(redo) > DatumGetInt32(old_redo)) ||
			 strcmp(old_status, "merged") == 0))
		{
			Oid			types[1] = {INT8OID};
			Datum		id = column_value(tuple, desc, "id", &isnull);
			int			col;

			new_chain = true;
			chain_started_now(DatumGetInt64(id));
			if (SPI_connect() != SPI_OK_CONNECT)
				elog(ERROR, "SPI_connect failed");
			if (SPI_execute_plan(deadline_plan(&escalation_reset_plan,
											   "DELETE FROM workorder.order_escalations e "
											   "WHERE e.order_id OPERATOR(pg_catalog.=) $1", 1, types),
								 &id, NULL, false, 0) != SPI_OK_DELETE)
				elog(ERROR, "deleting the escalations of a reopened or unmerged order failed");
			SPI_finish();
			col = SPI_fnumber(desc, "escalation_step");
			values[0] = Int32GetDatum(0);
			nulls[0] = false;
			tuple = heap_modify_tuple_by_cols(tuple, desc, 1, &col, &values[0], &nulls[0]);
			col = SPI_fnumber(desc, "escalated_to");
			nulls[0] = true;
			tuple = heap_modify_tuple_by_cols(tuple, desc, 1, &col, &values[0], &nulls[0]);
		}
	}

	resolve_due = column_value(tuple, desc, "resolve_due_at", &resolve_due_null);
	if (!resolve_due_null && status_is_open(status))
	{
		bool		policy_null;
		Datum		policy = column_value(tuple, desc, "sla_policy", &policy_null);
		Datum		step = column_value(tuple, desc, "escalation_step", &isnull);

		/* A NULL step has no next one (the query this was compared with >). */
		if (!policy_null && !isnull)
		{
			Interval	extension;
			const SlaPolicyInfo *p;
			SlaStepLookup lookup = workorder_sla_next_escalation_step(TextDatumGetCString(policy),
																	  DatumGetInt32(step), &extension, &p);

			if (lookup == SLA_STEP_UNCACHED)
				lookup = escalation_step_query(policy, step, &extension);
			if (lookup == SLA_STEP_FOUND)
			{
				char	   *clock = pstrdup(p ? p->resolve_clock : "calendar_hours");
				char	   *calendar = pstrdup(p ? p->calendar_code : "cn");
				bool		received_null;
				Datum		received = column_value(tuple, desc, "received_at", &received_null);

				/*
				 * On the terms the deadline is held to (sla_order_terms(), part
				 * 85), not as the policy is now: a policy moved from working
				 * days to elapsed hours escalated its open orders on a
				 * Saturday and a Sunday while their deadlines counted working
				 * days.  A chain starting now (a reopen, an unmerge) runs on
				 * the terms of now, also on the UPDATE that sets its fresh
				 * deadline, before the log shows its start (chains_started).
				 */
				if (p && p->has_versions && !new_chain && !received_null &&
					DatumGetTimestampTz(received) < p->terms_changed_at &&
					!chain_starts_now(DatumGetInt64(column_value(tuple, desc, "id", &isnull))))
					escalation_terms(policy, column_value(tuple, desc, "id", &isnull), received, &clock, &calendar);
				next = deadline_extend(DatumGetTimestampTz(resolve_due), clock, &extension, calendar);
				has_next = true;
			}
		}
	}

	cols[ncols] = SPI_fnumber(desc, "next_escalation_at");
	values[ncols] = TimestampTzGetDatum(next);
	nulls[ncols] = !has_next;
	ncols++;
	if (has_next)
	{
		bool		changed = true;

		if (update)
		{
			Datum		old = heap_getattr(trigdata->tg_trigtuple, cols[0], desc, &isnull);

			changed = isnull || DatumGetTimestampTz(old) != next;
		}
		if (changed)
			wake_if_soon(next);
	}
	tuple = heap_modify_tuple_by_cols(tuple, desc, ncols, cols, values, nulls);
	return PointerGetDatum(tuple);
}
