/*-------------------------------------------------------------------------
 *
 * eventlog.c
 *	  The hash chain of the event log: each event of an order carries the
 *	  SHA-256 of its predecessor's hash and its own content, so that an event
 *	  edited, deleted or slipped in afterwards no longer fits the chain.
 *
 * For every order the events form one chain, in seq order:
 *
 *	  hash(1) = SHA-256(32 zero bytes || fields(event 1))
 *	  hash(n) = SHA-256(hash(n - 1)   || fields(event n))
 *
 * prev_hash stores what the event was chained to (its predecessor's hash, or
 * the 32 zero bytes), hash its own hash.  fields() is an unambiguous
 * serialisation of the row's content: for each of the columns id, order_id,
 * seq, at, action, actor, db_user, old_status, new_status, unit_code,
 * old_unit, note and details, in this order, one byte 0x00 for NULL, or one
 * byte 0x01, the length of the value's text as 4 bytes big-endian, and the
 * text (in the database encoding).  The text of a number is its decimal
 * form; of a status its enum label; of details its jsonb text (which is
 * canonical: jsonb keeps keys sorted and without duplicates); of the time
 * `at` the decimal number of microseconds since 2000-01-01 00:00 UTC, so that
 * neither DateStyle nor TimeZone can change a hash.
 *
 * order_events_chain, a BEFORE INSERT row trigger, computes both columns of a
 * new event.  Its predecessor (order_id, seq - 1) is read by the unique
 * index with SnapshotSelf, which also sees an event inserted earlier by the
 * same statement (submit() writes the submit and dispatch events in one
 * INSERT).  Writers of one order are serialised by the lock on the order's
 * row that every action takes, so the predecessor is always committed or the
 * writer's own.  A row that arrives with its hash already set (pg_restore's
 * COPY) keeps it: workorder.verify_log() checks every row the same way,
 * whoever wrote it.
 *
 * refuse_direct_change, the trigger that keeps the log append-only and the
 * orders changed only by the extension's functions, is here too: it fires on
 * every UPDATE of an order (every action), and as plpgsql it read pg_class
 * and pg_roles each time.
 *
 * loaded_by_restore tells a trigger that its rows are being restored, not
 * written by actions: so that the outbox makes no messages for history, and
 * reference data checked when it was written is not checked again.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "common/cryptohash.h"
#include "common/sha2.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "nodes/plannodes.h"
#include "parser/parsetree.h"
#include "tcop/pquery.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/portal.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"
#include "utils/typcache.h"

#include "workorder.h"

/* The columns that make an event's content, in the order they are hashed. */
static const char *const event_hashed_columns[] = {
	"id", "order_id", "seq", "at", "action", "actor", "db_user",
	"old_status", "new_status", "unit_code", "old_unit", "note", "details"
};

#define EVENT_HASHED_COLUMNS	lengthof(event_hashed_columns)

/*
 * Where the hashed columns are in the event log's row type, and how each is
 * written as text: found once per backend, and again when the row type is not
 * the one it was found for (another table, a column added or renamed).
 */
typedef struct EventLayout
{
	Oid			rowtype;		/* InvalidOid until found */
	int			natts;
	int			attnums[EVENT_HASHED_COLUMNS];
	Oid			typids[EVENT_HASHED_COLUMNS];
	FmgrInfo	output[EVENT_HASHED_COLUMNS];	/* for types other than text and timestamptz */
	int			prev_hash_attnum;
	int			hash_attnum;
} EventLayout;

/* Indexes into EventLayout.attnums of the columns that find a predecessor. */
#define EVENT_ORDER_ID			1
#define EVENT_SEQ				2

static EventLayout event_layout;

/* The unique index on (order_id, seq) by which a predecessor is found. */
#define EVENT_SEQ_INDEX			"order_events_seq_unique"

PG_FUNCTION_INFO_V1(order_events_chain);
PG_FUNCTION_INFO_V1(eventlog_event_hash);
PG_FUNCTION_INFO_V1(eventlog_loaded_by_restore);
PG_FUNCTION_INFO_V1(eventlog_loaded_by_copy);
PG_FUNCTION_INFO_V1(eventlog_refuse_direct_change);

static int	eventlog_attnum(TupleDesc tupdesc, const char *column);
static EventLayout *eventlog_layout(TupleDesc tupdesc);
static void eventlog_append_field(StringInfo buf, const char *bytes, int len);
static void eventlog_hash(HeapTuple tuple, TupleDesc tupdesc, const uint8 *prev,
						  uint8 *result);
static bytea *eventlog_bytea(const uint8 *hash);
static bool eventlog_predecessor_hash(Relation rel, EventLayout *layout, int64 order_id,
									  int32 seq, uint8 *prev);

/*
 * eventlog_attnum returns the attribute number of a column of the event log,
 * by name (nothing relies on the order of the columns, which ALTER TABLE may
 * change), or raises an error when the column is missing.
 */
static int
eventlog_attnum(TupleDesc tupdesc, const char *column)
{
	int			attnum = SPI_fnumber(tupdesc, column);

	if (attnum <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("the event log has no column \"%s\"", column)));
	return attnum;
}

/*
 * eventlog_layout returns the layout of the hashed columns in tupdesc, from
 * the backend's cache when it still fits (same row type, same names and types
 * at the same places).
 */
static EventLayout *
eventlog_layout(TupleDesc tupdesc)
{
	EventLayout *layout = &event_layout;
	bool		fits = OidIsValid(layout->rowtype)
		&& layout->rowtype == tupdesc->tdtypeid
		&& layout->natts == tupdesc->natts
		&& strcmp(NameStr(TupleDescAttr(tupdesc, layout->prev_hash_attnum - 1)->attname), "prev_hash") == 0
		&& strcmp(NameStr(TupleDescAttr(tupdesc, layout->hash_attnum - 1)->attname), "hash") == 0;
	int			i;

	for (i = 0; fits && i < (int) EVENT_HASHED_COLUMNS; i++)
	{
		Form_pg_attribute att = TupleDescAttr(tupdesc, layout->attnums[i] - 1);

		fits = !att->attisdropped && att->atttypid == layout->typids[i]
			&& strcmp(NameStr(att->attname), event_hashed_columns[i]) == 0;
	}
	if (fits)
		return layout;

	layout->rowtype = InvalidOid;
	for (i = 0; i < (int) EVENT_HASHED_COLUMNS; i++)
	{
		int			attnum = eventlog_attnum(tupdesc, event_hashed_columns[i]);
		Oid			typid = TupleDescAttr(tupdesc, attnum - 1)->atttypid;

		layout->attnums[i] = attnum;
		layout->typids[i] = typid;
		if (typid != TEXTOID && typid != TIMESTAMPTZOID)
		{
			Oid			output;
			bool		varlena;

			getTypeOutputInfo(typid, &output, &varlena);
			fmgr_info_cxt(output, &layout->output[i], TopMemoryContext);
		}
	}
	layout->prev_hash_attnum = eventlog_attnum(tupdesc, "prev_hash");
	layout->hash_attnum = eventlog_attnum(tupdesc, "hash");
	layout->natts = tupdesc->natts;
	layout->rowtype = tupdesc->tdtypeid;
	return layout;
}

/*
 * eventlog_append_field appends one field of the serialisation: 0x00 for
 * NULL (bytes == NULL), else 0x01, the length as 4 bytes big-endian, and the
 * bytes.
 */
static void
eventlog_append_field(StringInfo buf, const char *bytes, int len)
{
	uint8		header[5];

	if (bytes == NULL)
	{
		appendStringInfoCharMacro(buf, '\0');
		return;
	}
	header[0] = 1;
	header[1] = (uint8) ((uint32) len >> 24);
	header[2] = (uint8) ((uint32) len >> 16);
	header[3] = (uint8) ((uint32) len >> 8);
	header[4] = (uint8) len;
	appendBinaryStringInfo(buf, (const char *) header, sizeof(header));
	appendBinaryStringInfo(buf, bytes, len);
}

/*
 * eventlog_hash computes the hash of one event row chained to prev (32
 * bytes) into result (32 bytes).
 */
static void
eventlog_hash(HeapTuple tuple, TupleDesc tupdesc, const uint8 *prev, uint8 *result)
{
	EventLayout *layout = eventlog_layout(tupdesc);
	StringInfoData buf;
	pg_cryptohash_ctx *ctx;
	int			i;

	initStringInfo(&buf);
	for (i = 0; i < (int) EVENT_HASHED_COLUMNS; i++)
	{
		bool		isnull;
		Datum		value = heap_getattr(tuple, layout->attnums[i], tupdesc, &isnull);

		if (isnull)
			eventlog_append_field(&buf, NULL, 0);
		else if (layout->typids[i] == TEXTOID)
		{
			text	   *t = DatumGetTextPP(value);

			eventlog_append_field(&buf, VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t));
		}
		else if (layout->typids[i] == TIMESTAMPTZOID)
		{
			char		micros[32];

			snprintf(micros, sizeof(micros), INT64_FORMAT, DatumGetTimestampTz(value));
			eventlog_append_field(&buf, micros, strlen(micros));
		}
		else
		{
			char	   *field = OutputFunctionCall(&layout->output[i], value);

			eventlog_append_field(&buf, field, strlen(field));
			pfree(field);
		}
	}

	ctx = pg_cryptohash_create(PG_SHA256);
	if (pg_cryptohash_init(ctx) < 0
		|| pg_cryptohash_update(ctx, prev, PG_SHA256_DIGEST_LENGTH) < 0
		|| pg_cryptohash_update(ctx, (const uint8 *) buf.data, buf.len) < 0
		|| pg_cryptohash_final(ctx, result, PG_SHA256_DIGEST_LENGTH) < 0)
		elog(ERROR, "could not compute the SHA-256 of an event: %s",
			 pg_cryptohash_error(ctx));
	pg_cryptohash_free(ctx);
	pfree(buf.data);
}

/* eventlog_bytea returns a 32-byte hash as a bytea. */
static bytea *
eventlog_bytea(const uint8 *hash)
{
	bytea	   *result = palloc(VARHDRSZ + PG_SHA256_DIGEST_LENGTH);

	SET_VARSIZE(result, VARHDRSZ + PG_SHA256_DIGEST_LENGTH);
	memcpy(VARDATA(result), hash, PG_SHA256_DIGEST_LENGTH);
	return result;
}

/*
 * eventlog_predecessor_hash reads the hash of event (order_id, seq - 1) into
 * prev, by the unique index, with SnapshotSelf (which sees what this
 * statement inserted).  It returns false when there is no such event or it
 * has no usable hash.
 */
static bool
eventlog_predecessor_hash(Relation rel, EventLayout *layout, int64 order_id, int32 seq,
						  uint8 *prev)
{
	TupleDesc	tupdesc = RelationGetDescr(rel);
	Oid			indexid = get_relname_relid(EVENT_SEQ_INDEX, RelationGetNamespace(rel));
	ScanKeyData keys[2];
	SysScanDesc scan;
	HeapTuple	found;
	bool		ok = false;

	if (!OidIsValid(indexid))
		elog(ERROR, "index workorder.%s is missing", EVENT_SEQ_INDEX);
	ScanKeyInit(&keys[0], layout->attnums[EVENT_ORDER_ID], BTEqualStrategyNumber,
				F_INT8EQ, Int64GetDatum(order_id));
	ScanKeyInit(&keys[1], layout->attnums[EVENT_SEQ], BTEqualStrategyNumber,
				F_INT4EQ, Int32GetDatum(seq - 1));
	scan = systable_beginscan(rel, indexid, true, SnapshotSelf, 2, keys);
	found = systable_getnext(scan);
	if (HeapTupleIsValid(found))
	{
		bool		isnull;
		Datum		hash = heap_getattr(found, layout->hash_attnum, tupdesc, &isnull);

		if (!isnull && VARSIZE_ANY_EXHDR(DatumGetPointer(hash)) == PG_SHA256_DIGEST_LENGTH)
		{
			bytea	   *bytes = DatumGetByteaPP(hash);

			memcpy(prev, VARDATA_ANY(bytes), PG_SHA256_DIGEST_LENGTH);
			ok = true;
		}
	}
	systable_endscan(scan);
	return ok;
}

/*
 * order_events_chain is the BEFORE INSERT row trigger of the event log: it
 * sets prev_hash and hash of a new event, unless the row comes with its hash
 * (a restore), and refuses an event whose predecessor is missing (WO971).
 */
Datum
order_events_chain(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	Relation	rel;
	TupleDesc	tupdesc;
	HeapTuple	tuple;
	EventLayout *layout;
	int			columns[2];
	Datum		values[2];
	bool		nulls[2] = {false, false};
	bool		isnull;
	int64		order_id;
	int32		seq;
	uint8		prev[PG_SHA256_DIGEST_LENGTH];
	uint8		hash[PG_SHA256_DIGEST_LENGTH];

	if (!CALLED_AS_TRIGGER(fcinfo)
		|| !TRIGGER_FIRED_BEFORE(trigdata->tg_event)
		|| !TRIGGER_FIRED_FOR_ROW(trigdata->tg_event)
		|| !TRIGGER_FIRED_BY_INSERT(trigdata->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("order_events_chain() must be a BEFORE INSERT row trigger")));
	rel = trigdata->tg_relation;
	tupdesc = RelationGetDescr(rel);
	tuple = trigdata->tg_trigtuple;

	layout = eventlog_layout(tupdesc);
	(void) heap_getattr(tuple, layout->hash_attnum, tupdesc, &isnull);
	if (!isnull)
		return PointerGetDatum(tuple);

	order_id = DatumGetInt64(heap_getattr(tuple, layout->attnums[EVENT_ORDER_ID], tupdesc, &isnull));
	if (isnull)
		return PointerGetDatum(tuple);	/* NOT NULL refuses it */
	seq = DatumGetInt32(heap_getattr(tuple, layout->attnums[EVENT_SEQ], tupdesc, &isnull));
	if (isnull)
		return PointerGetDatum(tuple);

	if (seq == 1)
		memset(prev, 0, sizeof(prev));
	else if (!eventlog_predecessor_hash(rel, layout, order_id, seq, prev))
		ereport(ERROR,
				(errcode(ERRCODE_WO_EVENT_CHAIN),
				 errmsg("event %d of order %lld has no predecessor in the event log",
						seq, (long long) order_id),
				 errdetail("No event %d of order %lld with a hash exists.",
						   seq - 1, (long long) order_id),
				 errhint("Events are numbered from 1 without gaps; write them through the action functions.")));

	eventlog_hash(tuple, tupdesc, prev, hash);
	columns[0] = layout->prev_hash_attnum;
	columns[1] = layout->hash_attnum;
	values[0] = PointerGetDatum(eventlog_bytea(prev));
	values[1] = PointerGetDatum(eventlog_bytea(hash));
	return PointerGetDatum(heap_modify_tuple_by_cols(tuple, tupdesc, 2, columns, values, nulls));
}

/*
 * eventlog_event_hash is workorder.event_hash(prev bytea, e order_events):
 * the hash of event e chained to prev (32 bytes).  verify_log() and the
 * upgrade's backfill use it.
 */
Datum
eventlog_event_hash(PG_FUNCTION_ARGS)
{
	bytea	   *prev = PG_GETARG_BYTEA_PP(0);
	HeapTupleHeader row = PG_GETARG_HEAPTUPLEHEADER(1);
	TupleDesc	tupdesc;
	HeapTupleData tuple;
	uint8		hash[PG_SHA256_DIGEST_LENGTH];

	if (VARSIZE_ANY_EXHDR(prev) != PG_SHA256_DIGEST_LENGTH)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("the previous hash of an event must be 32 bytes"),
				 errdetail("It has %d bytes.", (int) VARSIZE_ANY_EXHDR(prev)),
				 errhint("Pass the hash of the event before, or 32 zero bytes for an order's first event.")));
	tupdesc = lookup_rowtype_tupdesc(HeapTupleHeaderGetTypeId(row), HeapTupleHeaderGetTypMod(row));
	tuple.t_len = HeapTupleHeaderGetDatumLength(row);
	ItemPointerSetInvalid(&tuple.t_self);
	tuple.t_tableOid = InvalidOid;
	tuple.t_data = row;
	eventlog_hash(&tuple, tupdesc, (const uint8 *) VARDATA_ANY(prev), hash);
	ReleaseTupleDesc(tupdesc);
	PG_RETURN_BYTEA_P(eventlog_bytea(hash));
}

/*
 * eventlog_loaded_by_restore is workorder.loaded_by_restore(regclass): true
 * when the statement running at top level loads rows into that table, a COPY
 * FROM or an INSERT, in a session with check_function_bodies off.
 *
 * That is how pg_dump's scripts and pg_restore load data: both begin each
 * session with SET check_function_bodies = false, and load a table with COPY,
 * or with INSERT under --inserts (which this used not to see: such a restore
 * made an outbox message of every event of the history, whose ids then
 * collided with the restored messages, and delivered messages came back
 * pending).  A load of history by a migration does the same.  The top-level
 * statement is what counts: an action run by someone who turned
 * check_function_bodies off is a SELECT (or CALL) at top level, and its
 * events still make their messages; only whoever may write the table directly
 * (its owner) can load it.  A COPY in an ordinary session, which this once
 * took for a restore, now goes through every check (a routing rule's
 * keywords, a policy's name) as an INSERT does.
 */
Datum
eventlog_loaded_by_restore(PG_FUNCTION_ARGS)
{
	Oid			relid = PG_GETARG_OID(0);
	Portal		portal = ActivePortal;
	ListCell   *lc;

	if (check_function_bodies || portal == NULL)
		PG_RETURN_BOOL(false);
	if (portal->commandTag != CMDTAG_COPY && portal->commandTag != CMDTAG_INSERT)
		PG_RETURN_BOOL(false);
	foreach(lc, portal->stmts)
	{
		PlannedStmt *planned = lfirst_node(PlannedStmt, lc);

		if (planned->commandType == CMD_INSERT)
		{
			ListCell   *target;

			foreach(target, planned->resultRelations)
			{
				RangeTblEntry *rte = rt_fetch(lfirst_int(target), planned->rtable);

				if (rte->relid == relid)
					PG_RETURN_BOOL(true);
			}
		}
		else if (planned->commandType == CMD_UTILITY && IsA(planned->utilityStmt, CopyStmt))
		{
			CopyStmt   *copy = (CopyStmt *) planned->utilityStmt;

			if (!copy->is_from || copy->relation == NULL)
				continue;

			/*
			 * The COPY's target, resolved as here: by the search_path of
			 * whoever inserts into relid now.  A COPY into relid itself
			 * resolves to it; a COPY into another table of the same name (a
			 * temporary one, or one in another schema) whose trigger takes an
			 * action is not the log being loaded, and the action's events,
			 * inserted under the pinned search_path of the action, must make
			 * their messages.
			 */
			if (RangeVarGetRelid(copy->relation, NoLock, true) == relid)
				PG_RETURN_BOOL(true);
		}
	}
	PG_RETURN_BOOL(false);
}

/*
 * eventlog_loaded_by_copy is workorder.loaded_by_copy(regclass) of 0.1 to 0.4,
 * which ALTER EXTENSION ... UPDATE to 0.5 replaces by loaded_by_restore(): it
 * answers as loaded_by_restore() does, so that a database not yet updated
 * keeps inserting events with this library.
 */
Datum
eventlog_loaded_by_copy(PG_FUNCTION_ARGS)
{
	return eventlog_loaded_by_restore(fcinfo);
}

/*
 * eventlog_refuse_direct_change is the trigger refuse_direct_change: on
 * workorder.order_events it refuses every UPDATE, DELETE and TRUNCATE (the
 * log is append-only); on workorder.orders it refuses an UPDATE or DELETE
 * unless the current user owns the table, which is the case inside the
 * extension's SECURITY DEFINER functions and for the owner.  WO405.
 */
Datum
eventlog_refuse_direct_change(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	Relation	rel;
	const char *table;
	const char *operation;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("refuse_direct_change() was not called as a trigger")));
	rel = trigdata->tg_relation;
	table = RelationGetRelationName(rel);
	if (strcmp(table, "order_events") == 0 || rel->rd_rel->relowner != GetUserId())
	{
		if (TRIGGER_FIRED_BY_UPDATE(trigdata->tg_event))
			operation = "UPDATE";
		else if (TRIGGER_FIRED_BY_DELETE(trigdata->tg_event))
			operation = "DELETE";
		else if (TRIGGER_FIRED_BY_TRUNCATE(trigdata->tg_event))
			operation = "TRUNCATE";
		else
			operation = "INSERT";
		ereport(ERROR,
				(errcode(ERRCODE_WO_DIRECT_CHANGE),
				 errmsg("%s on workorder.%s is not allowed", operation, table),
				 errdetail("The statement was run by %s.", GetUserNameFromId(GetUserId(), false)),
				 strcmp(table, "order_events") == 0 ?
				 errhint("The event log is append-only.") :
				 errhint("Change orders through workorder.submit() and the action functions (accept, resolve, ...).")));
	}
	if (!TRIGGER_FIRED_FOR_ROW(trigdata->tg_event))
		PG_RETURN_POINTER(NULL);
	if (TRIGGER_FIRED_BY_UPDATE(trigdata->tg_event))
		PG_RETURN_POINTER(trigdata->tg_newtuple);
	PG_RETURN_POINTER(trigdata->tg_trigtuple);
}
