/*-------------------------------------------------------------------------
 *
 * outbox.c
 *	  The trigger that makes the outbox's messages from the events one
 *	  statement appended to workorder.order_events (see
 *	  sql/install/75_outbox.sql for what makes a message and what it says).
 *
 * It was one plpgsql INSERT ... SELECT over the transition table: a join of
 * the events, their orders, the reports merged into them, the channels and
 * the units, started and ended for every statement that logs an event.  On
 * the intake path (a submit event and a dispatch event) it cost about as
 * much as the rest of the order's INSERT together (callgrind: 0.8 million
 * instructions a submit).  Here:
 *   - events whose action makes no message (submit, suspend, comment, ...,
 *     and a verification that passed) are skipped without a query;
 *   - an event whose message goes only to its own order (dispatch,
 *     reassign, accept, return, merge, unmerge) reads the
 *     order's channel, reference and ticket by primary key, stops there when
 *     the channel does not reply (the reference cache of refcache.c says so),
 *     and inserts the one message with a VALUES statement (a merge first
 *     reads its master's result, which a late report hears);
 *   - an event whose message also goes to the reports merged into its order
 *     (resolve, close, reopen, cancel, a failed verify) runs the original
 *     query for that one event.
 * The statements are prepared once per backend.  Messages are
 * inserted in the order of the events' ids (and, for one event, of the
 * reports' ids), as the original ORDER BY did.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/executor.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"
#include "utils/tuplestore.h"

#include "workorder.h"

/* OutboxEvent is what the trigger needs of one event row. */
typedef struct OutboxEvent
{
	int64		id;
	int64		order_id;
	char	   *action;
	char	   *new_status;
	char	   *old_status;		/* NULL: NULL */
	char	   *unit_code;		/* NULL: NULL */
	char	   *note;			/* NULL: NULL */
	Datum		details;		/* jsonb */
	TimestampTz at;
	bool		to_merged;		/* the merged reports hear of it too */
} OutboxEvent;

/* The statements, prepared once per backend. */
#define OUTBOX_ORDER	0
#define OUTBOX_INSERT	1
#define OUTBOX_MERGED	2
#define OUTBOX_MASTER_RESULT 3
#define OUTBOX_LOCK_MERGED 4
static SPIPlanPtr outbox_plans[5] = {NULL, NULL, NULL, NULL, NULL};

/* The order an event belongs to: its channel, reference and ticket. */
static const char outbox_order_query[] =
"SELECT o.channel_code, o.channel_ref, o.ticket::pg_catalog.text "
"FROM workorder.orders o WHERE o.id OPERATOR(pg_catalog.=) $1";
static const Oid outbox_order_types[] = {INT8OID};

/*
 * The message of an event to its own order: $1 order id, $2 event id,
 * $3 channel, $4 reference, $5 kind (the action), $6 ticket, $7 status,
 * $8 previous status, $9 unit, $10 unit name, $11 reason, $12 details,
 * $13 when, $14 the result.  A report merged into a master that is already
 * resolved (a late report, linked) hears the master's result with its merge
 * message (outbox_master_result_query); merged into an open master it hears
 * none, also when the master keeps the result of a resolve that failed
 * verification: that result was rejected.  The result was a sub-query of this
 * statement, whose plan was started with every message (a tenth of intake's
 * outbox message), though only a merge asks it.
 */
static const char outbox_insert_query[] =
"INSERT INTO workorder.outbox (order_id, event_id, channel_code, channel_ref, kind, payload) "
"VALUES ($1, $2, $3, $4, $5, pg_catalog.jsonb_strip_nulls(pg_catalog.jsonb_build_object("
"'ticket', $6, 'kind', $5, 'status', $7, 'previous_status', $8, 'unit', $9, 'unit_name', $10, "
"'reason', $11, "
"'result', $14, "
"'master_ticket', CASE WHEN $5 OPERATOR(pg_catalog.=) ANY ('{merge,unmerge}'::pg_catalog.text[]) "
"THEN $12 OPERATOR(pg_catalog.->>) 'master_ticket' END, "
"'occurred_at', $13)))";
static const Oid outbox_insert_types[] = {INT8OID, INT8OID, TEXTOID, TEXTOID, TEXTOID, TEXTOID,
	TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, JSONBOID, TIMESTAMPTZOID, TEXTOID};

/*
 * The result of the master of merged report $1, when it is resolved or
 * closed, masked as for any merged report (outbox_merged_query).
 */
static const char outbox_master_result_query[] =
"SELECT workorder.open311_public_text(m.result) FROM workorder.orders d JOIN workorder.orders m ON m.id OPERATOR(pg_catalog.=) d.master_id "
"WHERE d.id OPERATOR(pg_catalog.=) $1 "
"AND m.status OPERATOR(pg_catalog.=) ANY ('{resolved,closed}'::workorder.order_status[])";

/*
 * The messages of one event to its order and the reports merged into it:
 * the query of the plpgsql trigger, for one event given as parameters ($1 id,
 * $2 order id, $3 action, $4 new status, $5 old status, $6 unit, $7 note,
 * $8 details, $9 when).  A merged report's citizen hears the master's result
 * and reason masked as Open311 shows them (open311_public_text): they are
 * written about the master, and quoted its caller's name and phone number to
 * every other citizen who reported the event.  A merged report hears of its master's events once it
 * has events of its own: a late report that reopens its master is already
 * merged into it when the master's reopen is logged, before its own intake
 * events, and is told of its merge, not of a reopen that says it was
 * resolved.
 */
static const char outbox_merged_query[] =
"INSERT INTO workorder.outbox (order_id, event_id, channel_code, channel_ref, kind, payload) "
"SELECT r.id, e.id, r.channel_code, r.channel_ref, e.action, "
"       pg_catalog.jsonb_strip_nulls(pg_catalog.jsonb_build_object("
"           'ticket', r.ticket::pg_catalog.text, 'kind', e.action, 'status', e.new_status, "
"           'previous_status', e.old_status, 'unit', e.unit_code, 'unit_name', u.name, "
"           'result', CASE WHEN e.action OPERATOR(pg_catalog.=) ANY ('{resolve,close}'::pg_catalog.text[]) "
"                          THEN CASE WHEN r.id OPERATOR(pg_catalog.=) o.id THEN o.result "
"                                    ELSE workorder.open311_public_text(o.result) END END, "
"           'reason', CASE WHEN e.action OPERATOR(pg_catalog.=) ANY ('{return,verify,reopen,cancel}'::pg_catalog.text[]) "
"                          THEN CASE WHEN r.id OPERATOR(pg_catalog.=) o.id THEN e.note "
"                                    ELSE workorder.open311_public_text(e.note) END END, "
"           'master_ticket', CASE WHEN r.id OPERATOR(pg_catalog.<>) o.id THEN o.ticket::pg_catalog.text END, "
"           'occurred_at', e.at)) "
"  FROM (SELECT $1 AS id, $2 AS order_id, $3 AS action, $4 AS new_status, $5 AS old_status, "
"               $6 AS unit_code, $7 AS note, $8 AS details, $9 AS at) e "
"  JOIN workorder.orders o ON o.id OPERATOR(pg_catalog.=) e.order_id "
"  CROSS JOIN LATERAL ("
"      SELECT o.id, o.channel_code, o.channel_ref, o.ticket "
"      UNION ALL "
"      SELECT d.id, d.channel_code, d.channel_ref, d.ticket "
"        FROM workorder.orders d WHERE d.master_id OPERATOR(pg_catalog.=) o.id "
"         AND EXISTS (SELECT FROM workorder.order_events x WHERE x.order_id OPERATOR(pg_catalog.=) d.id)) r "
"  JOIN workorder.channels c ON c.code OPERATOR(pg_catalog.=) r.channel_code AND c.replies "
"  LEFT JOIN workorder.units u ON u.code OPERATOR(pg_catalog.=) e.unit_code "
" ORDER BY r.id";
static const Oid outbox_merged_types[] = {INT8OID, INT8OID, TEXTOID, TEXTOID, TEXTOID, TEXTOID,
	TEXTOID, JSONBOID, TIMESTAMPTZOID};

/*
 * The reports merged into order $1, locked for key share (in id order, as
 * every locker of several orders takes them) before their messages are
 * addressed: their order row is what gives a message its channel, and a
 * channel renamed meanwhile (its new code cascading to the reports) re-addresses
 * only the messages it sees.  Unlocked, a rename that committed while the
 * master's action was still open left the report's new message under the old
 * code, where no claim ever found it, and the report's later messages queued
 * behind it for good.  Locked, the rename waits for the action, then finds the
 * message.  (The master itself is locked by its action.)
 */
static const char outbox_lock_merged_query[] =
"SELECT FROM workorder.orders d WHERE d.master_id OPERATOR(pg_catalog.=) $1 ORDER BY d.id FOR KEY SHARE";

static SPIPlanPtr outbox_plan(int which);
static int	outbox_event_cmp(const void *a, const void *b);
static bool outbox_read_events(TriggerData *trigdata, OutboxEvent **events, int *nevents);
static void outbox_own_message(const OutboxEvent *e);
static void outbox_merged_messages(const OutboxEvent *e);

PG_FUNCTION_INFO_V1(outbox_from_events);

/*
 * outbox_plan returns statement which, preparing it on first use.  SPI must
 * be connected.
 */
static SPIPlanPtr
outbox_plan(int which)
{
	if (outbox_plans[which] == NULL)
	{
		const char *query;
		const Oid  *types;
		int			ntypes;
		SPIPlanPtr	plan;

		switch (which)
		{
			case OUTBOX_ORDER:
				query = outbox_order_query;
				types = outbox_order_types;
				ntypes = lengthof(outbox_order_types);
				break;
			case OUTBOX_INSERT:
				query = outbox_insert_query;
				types = outbox_insert_types;
				ntypes = lengthof(outbox_insert_types);
				break;
			case OUTBOX_MASTER_RESULT:
				query = outbox_master_result_query;
				types = outbox_order_types;
				ntypes = lengthof(outbox_order_types);
				break;
			case OUTBOX_LOCK_MERGED:
				query = outbox_lock_merged_query;
				types = outbox_order_types;
				ntypes = lengthof(outbox_order_types);
				break;
			default:
				query = outbox_merged_query;
				types = outbox_merged_types;
				ntypes = lengthof(outbox_merged_types);
				break;
		}
		plan = workorder_keep_plan(query, ntypes, types);
		outbox_plans[which] = plan;
	}
	return outbox_plans[which];
}

/* outbox_event_cmp orders events by id. */
static int
outbox_event_cmp(const void *a, const void *b)
{
	int64		x = ((const OutboxEvent *) a)->id;
	int64		y = ((const OutboxEvent *) b)->id;

	return (x > y) - (x < y);
}

/*
 * outbox_read_events reads the events the statement inserted that make a
 * message (in the caller's memory context), sorted by id.  It returns false
 * when there is none.
 */
static bool
outbox_read_events(TriggerData *trigdata, OutboxEvent **events, int *nevents)
{
	Tuplestorestate *store = trigdata->tg_newtable;
	TupleDesc	desc = RelationGetDescr(trigdata->tg_relation);
	TupleTableSlot *slot;
	int			col_id = SPI_fnumber(desc, "id");
	int			col_order = SPI_fnumber(desc, "order_id");
	int			col_at = SPI_fnumber(desc, "at");
	int			col_action = SPI_fnumber(desc, "action");
	int			col_old = SPI_fnumber(desc, "old_status");
	int			col_new = SPI_fnumber(desc, "new_status");
	int			col_unit = SPI_fnumber(desc, "unit_code");
	int			col_note = SPI_fnumber(desc, "note");
	int			col_details = SPI_fnumber(desc, "details");
	int			readptr;
	int			allocated = 4;

	if (col_id <= 0 || col_order <= 0 || col_at <= 0 || col_action <= 0 || col_old <= 0 ||
		col_new <= 0 || col_unit <= 0 || col_note <= 0 || col_details <= 0)
		elog(ERROR, "outbox_from_events() fired on a table that is not workorder.order_events");

	*events = palloc(sizeof(OutboxEvent) * allocated);
	*nevents = 0;
	slot = MakeSingleTupleTableSlot(desc, &TTSOpsMinimalTuple);
	readptr = tuplestore_alloc_read_pointer(store, EXEC_FLAG_REWIND);
	tuplestore_select_read_pointer(store, readptr);
	tuplestore_rescan(store);
	while (tuplestore_gettupleslot(store, true, false, slot))
	{
		bool		isnull;
		char	   *action = TextDatumGetCString(slot_getattr(slot, col_action, &isnull));
		char	   *new_status = DatumGetCString(DirectFunctionCall1(enum_out, slot_getattr(slot, col_new, &isnull)));
		Datum		old = slot_getattr(slot, col_old, &isnull);
		char	   *old_status = isnull ? NULL : DatumGetCString(DirectFunctionCall1(enum_out, old));
		bool		own = false;
		bool		to_merged = false;
		OutboxEvent *e;
		Datum		v;

		if (strcmp(action, "dispatch") == 0 || strcmp(action, "reassign") == 0 ||
			strcmp(action, "accept") == 0 || strcmp(action, "return") == 0 ||
			strcmp(action, "merge") == 0 || strcmp(action, "unmerge") == 0)
			own = true;
		else if (strcmp(action, "verify") == 0)
		{
			/*
			 * Only a failed verification: the status changes back, and the
			 * result the merged reports were sent is withdrawn, so they hear
			 * of it too (they kept "resolved" with a rejected result).
			 */
			to_merged = (old_status == NULL || strcmp(old_status, new_status) != 0);
		}
		else if (strcmp(action, "resolve") == 0 || strcmp(action, "close") == 0 ||
				 strcmp(action, "reopen") == 0 || strcmp(action, "cancel") == 0)
			to_merged = true;
		if (!own && !to_merged)
			continue;

		if (*nevents == allocated)
		{
			allocated *= 2;
			*events = repalloc(*events, sizeof(OutboxEvent) * allocated);
		}
		e = &(*events)[(*nevents)++];
		e->id = DatumGetInt64(slot_getattr(slot, col_id, &isnull));
		e->order_id = DatumGetInt64(slot_getattr(slot, col_order, &isnull));
		e->action = action;
		e->new_status = new_status;
		e->old_status = old_status;
		v = slot_getattr(slot, col_unit, &isnull);
		e->unit_code = isnull ? NULL : TextDatumGetCString(v);
		v = slot_getattr(slot, col_note, &isnull);
		e->note = isnull ? NULL : TextDatumGetCString(v);
		v = slot_getattr(slot, col_details, &isnull);
		e->details = isnull ? (Datum) 0 : PointerGetDatum(PG_DETOAST_DATUM_COPY(v));
		e->at = DatumGetTimestampTz(slot_getattr(slot, col_at, &isnull));
		e->to_merged = to_merged;
	}
	ExecDropSingleTupleTableSlot(slot);
	if (*nevents > 1)
		qsort(*events, *nevents, sizeof(OutboxEvent), outbox_event_cmp);
	return *nevents > 0;
}

/* outbox_text_arg sets a text parameter from a string (NULL: NULL). */
#define outbox_text_arg(values, nulls, i, s) \
	((values)[i] = (s) ? CStringGetTextDatum(s) : (Datum) 0, (nulls)[i] = (s) ? ' ' : 'n')

/*
 * outbox_own_message makes the message of an event that goes to its own
 * order only, when the order's channel replies.
 */
static void
outbox_own_message(const OutboxEvent *e)
{
	Datum		key[1] = {Int64GetDatum(e->order_id)};
	Datum		values[14];
	char		nulls[14];
	char	   *channel;
	char	   *reference;
	char	   *ticket;
	char	   *result = NULL;
	const char *unit_name;
	bool		reason;
	int			ret;

	ret = SPI_execute_plan(outbox_plan(OUTBOX_ORDER), key, NULL, false, 1);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "outbox: reading order " INT64_FORMAT " failed: %s", e->order_id,
			 SPI_result_code_string(ret));
	if (SPI_processed == 0)
		return;
	channel = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
	reference = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2);
	ticket = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3);
	if (!workorder_channel_replies(channel))
		return;
	unit_name = e->unit_code ? workorder_unit_name(e->unit_code) : NULL;
	reason = (strcmp(e->action, "return") == 0 || strcmp(e->action, "verify") == 0);
	if (strcmp(e->action, "merge") == 0)
	{
		ret = SPI_execute_plan(outbox_plan(OUTBOX_MASTER_RESULT), key, NULL, false, 1);
		if (ret != SPI_OK_SELECT)
			elog(ERROR, "outbox: reading the master of order " INT64_FORMAT " failed: %s", e->order_id,
				 SPI_result_code_string(ret));
		if (SPI_processed == 1)
			result = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
	}

	values[0] = Int64GetDatum(e->order_id);
	nulls[0] = ' ';
	values[1] = Int64GetDatum(e->id);
	nulls[1] = ' ';
	outbox_text_arg(values, nulls, 2, channel);
	outbox_text_arg(values, nulls, 3, reference);
	outbox_text_arg(values, nulls, 4, e->action);
	outbox_text_arg(values, nulls, 5, ticket);
	outbox_text_arg(values, nulls, 6, e->new_status);
	outbox_text_arg(values, nulls, 7, e->old_status);
	outbox_text_arg(values, nulls, 8, e->unit_code);
	outbox_text_arg(values, nulls, 9, unit_name);
	outbox_text_arg(values, nulls, 10, reason ? e->note : NULL);
	values[11] = e->details;
	nulls[11] = e->details ? ' ' : 'n';
	values[12] = TimestampTzGetDatum(e->at);
	nulls[12] = ' ';
	outbox_text_arg(values, nulls, 13, result);
	ret = SPI_execute_plan(outbox_plan(OUTBOX_INSERT), values, nulls, false, 0);
	if (ret != SPI_OK_INSERT)
		elog(ERROR, "outbox: inserting the message of event " INT64_FORMAT " failed: %s", e->id,
			 SPI_result_code_string(ret));
}

/*
 * outbox_merged_messages makes the messages of an event that go to its order
 * and to every report merged into it, each on its own channel if it replies.
 */
static void
outbox_merged_messages(const OutboxEvent *e)
{
	Datum		values[9];
	char		nulls[9];
	int			ret;

	values[0] = Int64GetDatum(e->id);
	nulls[0] = ' ';
	values[1] = Int64GetDatum(e->order_id);
	nulls[1] = ' ';
	outbox_text_arg(values, nulls, 2, e->action);
	outbox_text_arg(values, nulls, 3, e->new_status);
	outbox_text_arg(values, nulls, 4, e->old_status);
	outbox_text_arg(values, nulls, 5, e->unit_code);
	outbox_text_arg(values, nulls, 6, e->note);
	values[7] = e->details;
	nulls[7] = e->details ? ' ' : 'n';
	values[8] = TimestampTzGetDatum(e->at);
	nulls[8] = ' ';
	ret = SPI_execute_plan(outbox_plan(OUTBOX_LOCK_MERGED), &values[1], NULL, false, 0);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "outbox: locking the reports merged into order " INT64_FORMAT " failed: %s", e->order_id,
			 SPI_result_code_string(ret));
	ret = SPI_execute_plan(outbox_plan(OUTBOX_MERGED), values, nulls, false, 0);
	if (ret != SPI_OK_INSERT)
		elog(ERROR, "outbox: inserting the messages of event " INT64_FORMAT " failed: %s", e->id,
			 SPI_result_code_string(ret));
}

/*
 * outbox_from_events is the statement trigger (AFTER INSERT, with the
 * transition table new_events) on workorder.order_events: it makes the
 * messages of the events the statement inserted.
 */
Datum
outbox_from_events(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	MemoryContext pass_context;
	MemoryContext caller_context;
	OutboxEvent *events;
	int			nevents;
	int			i;

	if (!CALLED_AS_TRIGGER(fcinfo) || !TRIGGER_FIRED_FOR_STATEMENT(trigdata->tg_event) ||
		!TRIGGER_FIRED_AFTER(trigdata->tg_event) || trigdata->tg_newtable == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("outbox_from_events() must be an AFTER statement trigger with a NEW TABLE")));

	if (!outbox_read_events(trigdata, &events, &nevents))
		PG_RETURN_POINTER(NULL);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	caller_context = CurrentMemoryContext;
	pass_context = AllocSetContextCreate(caller_context, "outbox event", ALLOCSET_SMALL_SIZES);
	for (i = 0; i < nevents; i++)
	{
		MemoryContextSwitchTo(pass_context);
		if (events[i].to_merged)
			outbox_merged_messages(&events[i]);
		else
			outbox_own_message(&events[i]);
		SPI_freetuptable(SPI_tuptable);
		MemoryContextSwitchTo(caller_context);
		MemoryContextReset(pass_context);
	}
	SPI_finish();
	PG_RETURN_POINTER(NULL);
}
