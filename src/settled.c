/*-------------------------------------------------------------------------
 *
 * settled.c
 *	  When an order was settled: orders_settled_at, the row trigger on
 *	  workorder.orders that keeps its column settled_at.
 *
 * An order is open while it is new, dispatched, accepted or suspended, and
 * settled once it is resolved, closed, merged or cancelled.  settled_at is
 * when it last went from the first kind to the second, NULL while it is
 * open: set by the action that resolves, merges or cancels it, kept when a
 * resolved order is closed, cleared when it is reopened, unmerged or sent
 * back to work by a failed verification.
 *
 * Why a column.  Dedup (src/dedup.c) takes as candidates the orders still
 * open, however long ago they came in (a second call about a lamp still
 * broken after a week is the same event), and those resolved within
 * closed_window before the report.  Its index, orders_location_idx
 * (sql/install/50_orders.sql), bounds both in one scan by the end of each
 * order's span, COALESCE(settled_at, 'infinity'): the open ones always, the
 * settled ones only for the window after they settled.  Read from the event
 * log, that end could be in no index.
 *
 * An order inserted already settled (submit() merging a report on intake, a
 * migration loading old orders, a restore) keeps the settled_at it is given,
 * else is taken to have settled when it was received.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_enum.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

#include "workorder.h"

static bool status_is_settled(HeapTuple tuple, TupleDesc desc, int status_column);

PG_FUNCTION_INFO_V1(workorder_orders_settled_at);

/*
 * status_is_settled says whether the status of a row of orders is resolved,
 * closed, merged or cancelled.  A NULL status (refused by the NOT NULL
 * constraint after the triggers) is not.  The label is read from the enum's
 * syscache entry, so no OID of the type is kept across a DROP EXTENSION.
 */
static bool
status_is_settled(HeapTuple tuple, TupleDesc desc, int status_column)
{
	bool		isnull;
	Datum		status = heap_getattr(tuple, status_column, desc, &isnull);
	HeapTuple	entry;
	const char *label;
	bool		settled;

	if (isnull)
		return false;
	entry = SearchSysCache1(ENUMOID, status);
	if (!HeapTupleIsValid(entry))
		elog(ERROR, "cache lookup failed for enum value %u", DatumGetObjectId(status));
	label = NameStr(((Form_pg_enum) GETSTRUCT(entry))->enumlabel);
	settled = strcmp(label, "resolved") == 0 || strcmp(label, "closed") == 0 ||
		strcmp(label, "merged") == 0 || strcmp(label, "cancelled") == 0;
	ReleaseSysCache(entry);
	return settled;
}

/*
 * workorder_orders_settled_at is the BEFORE INSERT OR UPDATE OF status row
 * trigger that keeps settled_at (see the header): on an update it compares
 * the old status with the new one; on an insert it checks the value given.
 * The time of a settling action is its transaction's, as the actions'
 * updated_at is.
 */
Datum
workorder_orders_settled_at(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	TupleDesc	desc;
	HeapTuple	tuple;
	int			status_column;
	int			settled_column;
	bool		settled;
	bool		given_null;
	Datum		value = (Datum) 0;
	bool		null = true;

	if (!CALLED_AS_TRIGGER(fcinfo) || !TRIGGER_FIRED_BEFORE(trigdata->tg_event) ||
		!TRIGGER_FIRED_FOR_ROW(trigdata->tg_event) || TRIGGER_FIRED_BY_DELETE(trigdata->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("orders_settled_at() must be a BEFORE INSERT OR UPDATE row trigger")));
	desc = RelationGetDescr(trigdata->tg_relation);
	status_column = SPI_fnumber(desc, "status");
	settled_column = SPI_fnumber(desc, "settled_at");
	if (status_column <= 0 || settled_column <= 0)
		elog(ERROR, "workorder.orders has no column status or settled_at");
	tuple = TRIGGER_FIRED_BY_UPDATE(trigdata->tg_event) ? trigdata->tg_newtuple : trigdata->tg_trigtuple;
	settled = status_is_settled(tuple, desc, status_column);
	if (settled && TRIGGER_FIRED_BY_UPDATE(trigdata->tg_event))
	{
		if (status_is_settled(trigdata->tg_trigtuple, desc, status_column))
			value = heap_getattr(trigdata->tg_trigtuple, settled_column, desc, &null);
		if (null)
		{
			value = TimestampTzGetDatum(GetCurrentTransactionStartTimestamp());
			null = false;
		}
	}
	else if (settled)
	{
		value = heap_getattr(tuple, settled_column, desc, &given_null);
		null = false;
		if (given_null)
			value = heap_getattr(tuple, SPI_fnumber(desc, "received_at"), desc, &null);
	}
	else
	{
		(void) heap_getattr(tuple, settled_column, desc, &given_null);
		if (given_null)
			return PointerGetDatum(tuple);
	}
	tuple = heap_modify_tuple_by_cols(tuple, desc, 1, &settled_column, &value, &null);
	return PointerGetDatum(tuple);
}
