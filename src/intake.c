/*-------------------------------------------------------------------------
 *
 * intake.c
 *	  workorder.submit(), the one entry of every report, in C; and
 *	  check_text(), the check of a report's texts, with
 *	  control_character_at(), which action texts are checked with too; and
 *	  time_text_offsets(), which mends the UTC offsets of an event time's
 *	  text that PostgreSQL misreads (the inbox and the detection inbox).
 *
 * submit() was plpgsql (sql/workorder--0.2.sql has it).  Every statement of
 * it was an SPI call with its own plan check, and it called some twenty
 * small functions; on the benchmark's mix its own statements cost about
 * five plain INSERTs.  Here the checks are C, the reference data comes
 * from the per-backend cache (refcache.c), routing and deadlines are called
 * in C (routing.c, deadlines.c), locate() in C (locate.c), and the writes
 * are two prepared statements: the order, and the events of its intake.
 * What stays SQL is called through fmgr: location_point() for a geometry
 * argument (the lon/lat form is checked here) and dedup_decide().  The
 * rules, the order of the checks and the messages are the plpgsql's;
 * README.md documents them.
 *
 * Dedup's decision is carried out here too (it was the plpgsql
 * dedup_apply(), which called the action merge(): some thirty statements
 * for a merged report, three UPDATEs of its row among them).  A duplicate's
 * master is locked before the order is made, and the decision settled on
 * what the master is then; the order is inserted as it leaves intake
 * (merged into its master, or new and suspected), with every event of its
 * intake in one statement: submit, then dispatch, suspect_duplicate, or
 * merge with the master's merged_in.  Merging at intake is the system's
 * doing, not the caller's: an intake login may submit a duplicate of an
 * order of another channel, which merge() would refuse it (WO951).  Only
 * the rare reopen of a resolved master calls the action reopen(), as the
 * system (workorder_act_as_system, access.c).
 *
 * The prepared statements and the looked-up functions and types are kept
 * per backend for the submit() function they were made for (its OID): a
 * dropped and re-created extension has new OIDs and starts afresh.  A
 * change of any function (CREATE OR REPLACE in an update can change its
 * language) drops the looked-up functions, through a syscache callback.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <ctype.h>
#include <math.h>

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_collation.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "nodes/makefuncs.h"
#include "parser/parse_func.h"
#include "storage/proc.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/datetime.h"
#include "utils/float.h"
#include "utils/inval.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"
#include "utils/typcache.h"

#include "workorder.h"

/*
 * The blanks trimmed from a text, as the action texts trim them
 * (workorder.trim_blanks): space, tab, line feed, carriage return, form feed,
 * vertical tab, no-break space (U+00A0), ideographic space (U+3000), the byte
 * order mark (U+FEFF), and the zero-width space, non-joiner, joiner and word
 * joiner (U+200B, U+200C, U+200D, U+2060), in UTF-8.  The zero-width ones
 * come with text pasted from web pages and chat apps; a description of
 * nothing else was taken as text, and made an order that read as empty.
 */
static const char intake_blanks_utf8[] = " \t\n\r\f\v\xc2\xa0\xe3\x80\x80\xef\xbb\xbf"
	"\xe2\x80\x8b\xe2\x80\x8c\xe2\x80\x8d\xe2\x81\xa0";

/* The arguments of submit(), in order. */
enum
{
	ARG_CHANNEL,
	ARG_CHANNEL_REF,
	ARG_CATEGORY,
	ARG_DESCRIPTION,
	ARG_LOCATION,
	ARG_LON,
	ARG_LAT,
	ARG_ADDRESS,
	ARG_REPORTER_NAME,
	ARG_REPORTER_PHONE,
	ARG_OCCURRED_AT,
	ARG_ATTRIBUTES,
	ARG_PRIORITY,
	SUBMIT_NARGS
};

/* The columns of the order the INSERT writes, in the order of its parameters. */
#define ORDER_NPARAMS	32

/* The parameters of the events' INSERTs: with a dispatch, and at most. */
#define EVENT_NPARAMS	12
#define EVENT_MAX_NPARAMS 14

/* The columns of workorder.location and workorder.dedup_decision submit() reads. */
#define LOCATION_AREA_CODE		1
#define LOCATION_AREA_NAME		2
#define LOCATION_CHAIN			4
#define LOCATION_IN_JURISDICTION 6
#define LOCATION_MATCH			9
#define DECISION_DECISION		1
#define DECISION_MASTER_ID		2
#define DECISION_SCORE			3
#define DECISION_HOLDS			4
#define DECISION_REASON			5
#define DECISION_POLICY			6
#define DECISION_CANDIDATES		7
#define CANDIDATE_ORDER_ID		1
#define CANDIDATE_TICKET		2

/* The parameters of dedup_checks' INSERT. */
#define CHECK_NPARAMS	7

/*
 * IntakeState is what submit() looks up once per backend: the types it
 * passes and returns, the statements it runs and the SQL functions it calls.
 */
typedef struct IntakeState
{
	Oid			submit_oid;		/* the submit() these were made for */
	Oid			geometry_type;
	Oid			priority_type;
	Oid			status_type;
	Oid			level_type;
	Oid			ticket_type;
	Oid			location_type;
	Oid			dedup_policy_type;
	Oid			dedup_candidates_type;	/* dedup_candidate[] */
	Datum		priority_normal;
	Datum		status_new;
	Datum		status_dispatched;
	Datum		status_merged;
	TimestampTz earliest_event; /* 2000-01-01 in the session's time zone when computed */
	pg_tz	   *earliest_event_zone;
	SPIPlanPtr	find_plan;		/* the order of a (channel, channel_ref) */
	SPIPlanPtr	insert_plan;	/* the order */
	SPIPlanPtr	submitted_plan; /* its submit event */
	SPIPlanPtr	dispatched_plan;	/* its submit and dispatch events */
	SPIPlanPtr	suspected_plan; /* its submit and suspect_duplicate events */
	SPIPlanPtr	merged_plan;	/* its submit and merge events, the master's merged_in */
	SPIPlanPtr	master_lock_plan;	/* a duplicate's master, locked */
	SPIPlanPtr	master_update_plan; /* the master counts one report more */
	SPIPlanPtr	reopen_plan;	/* a resolved master reopened by a late report */
	SPIPlanPtr	master_resolved_plan;	/* when a master was last resolved */
	SPIPlanPtr	check_plan;		/* what dedup saw and decided */
	bool		dedup_applied_in_sql;	/* a 0.4 schema: dedup_apply() records */
	Oid			decision_relid; /* the relation of the type dedup_decision */
	bool		functions_valid;
	FmgrInfo	location_point;
	FmgrInfo	dedup_decide;
	FmgrInfo	dedup_apply;	/* looked up for a 0.4 schema only */
	FmgrInfo	check_order_access; /* check_order_access(orders, text) */
	FmgrInfo	make_point;		/* PostGIS ST_MakePoint(float8, float8) */
	FmgrInfo	set_srid;		/* PostGIS ST_SetSRID(geometry, integer) */
	FmgrInfo	x;				/* PostGIS ST_X(geometry) */
	FmgrInfo	y;				/* PostGIS ST_Y(geometry) */
} IntakeState;

/*
 * DedupOutcome is dedup's decision on a report, settled on the master as it
 * is once locked (dedup_settle), and what carrying it out needs.
 */
typedef struct DedupOutcome
{
	const char *decision;		/* new, merge, reopen, link, review; NULL: no
								 * candidates, nothing to record */
	bool		apply_in_sql;	/* a 0.4 schema's dedup_apply() carries it out */
	bool		merging;		/* merge, reopen or link: the order is merged */
	bool		has_master;
	int64		master_id;
	char	   *master_ticket;	/* its text */
	Datum		score;
	bool		score_isnull;
	const char *reason;			/* the notes of the events; the order's
								 * status_reason unless it is merged */
	bool		released;		/* a duplicate routed as an order of its own */
	Datum		policy;
	Datum		candidates;
} DedupOutcome;

/* The ticket type's output function (src/ticket.c), for a message. */
extern Datum ticket_out(PG_FUNCTION_ARGS);

static IntakeState intake = {InvalidOid};
static bool intake_callback_registered = false;

static Datum check_text(Datum value, bool isnull, const char *what, int max_length, bool required,
						bool refuse_controls, bool *result_isnull);
static int	control_character_at(text *t, pg_wchar *code);
static void intake_prepare(Oid submit_oid);
static void intake_lookup_functions(void);
static void intake_function_changed(Datum arg, int cacheid, uint32 hashvalue);
static void intake_decision_changed(Datum arg, Oid relid);
static char *text_or_null(Datum value, bool isnull);
static Datum attribute(HeapTupleHeader row, int attnum, bool *isnull);
static Datum intake_point(FunctionCallInfo fcinfo);
static char *geometry_text(Datum geometry, int length);
static char *trimmed_code(FunctionCallInfo fcinfo, int argno);
static Datum blanks_text(void);
static Datum trim_blanks(text *value);
static Datum find_order(Datum channel, Datum channel_ref, bool *found);
static Datum existing_order(Datum order);
static void retry_must_match(FunctionCallInfo fcinfo, Datum order, const char *channel, Datum channel_ref);
static Datum retry_stored_text(HeapTupleHeader stored, const char *column, bool *isnull);
static int	first_difference(Datum a, Datum b);
static bool same_place(Datum a, Datum b);
static const char *retry_text(Datum value, bool isnull);
static void dedup_settle(HeapTupleHeader dup, TimestampTz received, Datum priority, DedupOutcome *outcome);
static char *candidate_ticket(Datum candidates, int64 order_id);
static bool lock_master(int64 master_id, Datum priority, char **status, char **ticket, bool *more_urgent);
static void reopen_master(Datum master_id);
static void dedup_carry_out(const DedupOutcome *outcome, Datum order_id, Datum *master_seq,
							Datum *master_status, Datum *master_unit, bool *master_unit_isnull);
static TimestampTz earliest_event_time(void);
static TimestampTz intake_receipt_time(bool *explicit);
static void intake_require_read_committed(const char *operation, const char *hint);
static bool intake_is_hotspot_channel(const char *channel);
static bool ascii_word_at(const char *s, int len, int i, const char *word);
static bool ascii_letter(char c);
static int	relative_time_word(const char *s, int len, int i);

PG_FUNCTION_INFO_V1(intake_check_text);
PG_FUNCTION_INFO_V1(intake_control_character_at);
PG_FUNCTION_INFO_V1(intake_trim_blanks);
PG_FUNCTION_INFO_V1(intake_time_text_offsets);
PG_FUNCTION_INFO_V1(intake_submit);
PG_FUNCTION_INFO_V1(intake_received_at);
PG_FUNCTION_INFO_V1(intake_require_read_committed_sql);

/*
 * The receipt time that intake_received_at() set for the next submit() of one
 * (sub)transaction of this backend: drain_inbox() gives each row the time it
 * came into the inbox.  Bound to the local transaction and the subtransaction
 * it was set in, so that it can never reach a submit() of another.
 */
static struct
{
	bool		set;
	LocalTransactionId lxid;
	SubTransactionId subxid;
	TimestampTz at;
}			intake_receipt;

/*
 * check_text returns a report's text trimmed of blanks (result_isnull when
 * it is NULL or blank), or raises WO303 when it is required and blank,
 * longer than max_length characters (no limit when max_length < 0), or,
 * with refuse_controls, has a control character (control_character_at()).
 */
static Datum
check_text(Datum value, bool isnull, const char *what, int max_length, bool required, bool refuse_controls,
		   bool *result_isnull)
{
	Datum		trimmed = (Datum) 0;
	bool		blank = true;

	if (!isnull)
	{
		trimmed = trim_blanks(DatumGetTextPP(value));
		blank = (VARSIZE_ANY_EXHDR(DatumGetPointer(trimmed)) == 0);
	}
	if (blank && required)
		ereport(ERROR,
				(errcode(ERRCODE_WO_INVALID_REPORT_TEXT),
				 errmsg("the report has no %s", what),
				 errdetail("The %s is NULL or blank.", what),
				 errhint("Every report needs a %s.", what)));
	*result_isnull = blank;
	if (blank)
		return (Datum) 0;
	if (max_length >= 0)
	{
		int32		length = DatumGetInt32(DirectFunctionCall1(textlen, trimmed));

		if (length > max_length)
			ereport(ERROR,
					(errcode(ERRCODE_WO_INVALID_REPORT_TEXT),
					 errmsg("the report's %s is too long", what),
					 errdetail("It has %d characters; at most %d are accepted. It begins: %s",
							   length, max_length,
							   TextDatumGetCString(DirectFunctionCall2(text_left, trimmed, Int32GetDatum(40)))),
					 errhint("Shorten the %s, or put the rest in attributes.", what)));
	}
	if (refuse_controls)
	{
		pg_wchar	code;
		int			position = control_character_at(DatumGetTextPP(trimmed), &code);

		if (position > 0)
			ereport(ERROR,
					(errcode(ERRCODE_WO_INVALID_REPORT_TEXT),
					 errmsg("the report's %s has a control character", what),
					 errdetail("Character %d of the %s is U+%04X.", position, what, (unsigned int) code),
					 errhint("Remove the control characters from the %s; tabs and line breaks are accepted.",
							 what)));
	}
	return trimmed;
}

/*
 * trimmed_code returns the code in argument argno (the channel's) without
 * the blanks check_text trims ("" when it is blank), or NULL when it is NULL:
 * a channel code typed or pasted with a blank around it, or read from a CSV
 * that begins with a byte order mark, is the code.  trim_blanks returns most
 * codes, ASCII words, as they are.
 */
static char *
trimmed_code(FunctionCallInfo fcinfo, int argno)
{
	if (PG_ARGISNULL(argno))
		return NULL;
	return TextDatumGetCString(trim_blanks(PG_GETARG_TEXT_PP(argno)));
}

/*
 * workorder_quoted_start returns s quoted as a literal, cut to its first 40
 * characters and marked "..." when it is longer: a message names what it
 * refuses, and a connector's value may be megabytes.
 */
char *
workorder_quoted_start(const char *s)
{
	int			bytes = strlen(s);
	int			clipped = pg_mbcharcliplen(s, bytes, 40);

	if (clipped == bytes)
		return quote_literal_cstr(s);
	return psprintf("%s...", quote_literal_cstr(pnstrdup(s, clipped)));
}

/*
 * control_character_at returns the position, counted in characters from 1,
 * of the first control character in t that is not white space, and sets
 * *code to it; or 0 when there is none.  Tab, line feed, vertical tab, form
 * feed and carriage return are white space people type and paste.  The
 * other C0 controls, DEL and (in a UTF-8 database) the C1 controls
 * U+0080..U+009F are no text at all: an escape sequence, a stray byte of a
 * connector's framing.  Stored, they would go out again in the outbox, to
 * channels that cannot carry them (XML 1.0 forbids them; an SMS gateway
 * mangles them).  In any server encoding a byte below 0x80 is ASCII, so the
 * scan is of bytes; only a hit is counted in characters.
 */
static int
control_character_at(text *t, pg_wchar *code)
{
	const unsigned char *data = (const unsigned char *) VARDATA_ANY(t);
	int			length = VARSIZE_ANY_EXHDR(t);
	bool		utf8 = (GetDatabaseEncoding() == PG_UTF8);
	int			i;

	for (i = 0; i < length; i++)
	{
		unsigned char byte = data[i];

		if ((byte < 0x20 && (byte < '\t' || byte > '\r')) || byte == 0x7F)
			*code = byte;
		else if (utf8 && byte == 0xC2 && i + 1 < length && data[i + 1] >= 0x80 && data[i + 1] <= 0x9F)
			*code = data[i + 1];
		else
			continue;
		return pg_mbstrlen_with_len((const char *) data, i) + 1;
	}
	return 0;
}

/* ascii_letter says whether c is an ASCII letter. */
static bool
ascii_letter(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

/*
 * ascii_word_at says whether the three upper-case ASCII letters of word are
 * at s[i], in any case, after no letter.
 */
static bool
ascii_word_at(const char *s, int len, int i, const char *word)
{
	int			k;

	if (i + 3 > len || (i > 0 && ascii_letter(s[i - 1])))
		return false;
	for (k = 0; k < 3; k++)
		if ((s[i + k] & ~0x20) != word[k])
			return false;
	return true;
}

/*
 * The words PostgreSQL reads as times of their own: the moment they are read
 * ('now'), a day from it ('today 08:30') or a fixed one ('epoch').
 */
static const char *const relative_time_words[] = {"now", "today", "tomorrow", "yesterday", "epoch", "allballs"};

/*
 * relative_time_word returns the length of such a word at s[i], in any case and
 * between non-letters, 1 for a Julian day (J, JD or Julian, then a number), or 0.
 */
static int
relative_time_word(const char *s, int len, int i)
{
	int			k;
	char		first = s[i] | 0x20;

	/* Most texts are digits and punctuation: not the first letter of a word. */
	if (first != 'n' && first != 't' && first != 'y' && first != 'e' && first != 'a' && first != 'j')
		return 0;
	if (i > 0 && ascii_letter(s[i - 1]))
		return 0;
	if (first == 'j')
	{
		/* J2461372, J 2461372, JD 2461372, Julian 2461372 */
		int			j = i + 1;

		if (j + 5 <= len && pg_strncasecmp(s + j, "ulian", 5) == 0)
			j += 5;
		else if (j < len && (s[j] | 0x20) == 'd')
			j++;
		if (j == len || ascii_letter(s[j]))
			return 0;
		while (j < len && s[j] == ' ')
			j++;
		return j < len && isdigit((unsigned char) s[j]) ? 1 : 0;
	}
	for (k = 0; k < (int) lengthof(relative_time_words); k++)
	{
		int			n = strlen(relative_time_words[k]);

		if (i + n <= len && pg_strncasecmp(s + i, relative_time_words[k], n) == 0 &&
			(i + n == len || !ascii_letter(s[i + n])))
			return n;
	}
	return 0;
}

/*
 * intake_time_text_offsets is workorder.time_text_offsets(value): the text of
 * a time with the UTC offsets that Chinese servers and cameras write, and
 * PostgreSQL misreads, made ISO offsets:
 *   - CST (a word of its own, or glued to the time: 10:00:00CST; not the
 *     start of a zone name such as CST6CDT) is China Standard Time, +08, not
 *     US Central Time, 14 hours off;
 *   - GMT+8, UTC+8, UTC+08:00, UTC+0800 (a sign, an hour of one or two
 *     digits, minutes with a colon or without) are east of Greenwich, not
 *     the POSIX reading, west: GMT+8 was 16 hours off.
 * A text with a word PostgreSQL reads as a time of its own (now, today,
 * tomorrow, yesterday, epoch, allballs) or a Julian day (J2461372) is refused
 * (22007), as no time of an event: 'now' was the time of the drain or the
 * ingest, 'today 00:30' a time of the day it ran.  Any other text comes back
 * as it is.  C, not regular expressions: the
 * detection ingest runs it on every row (a regular expression cost an eighth
 * of the ingest, and an SQL function that is not inlined a fifth).  The scan
 * is of bytes: in every server encoding a byte below 0x80 is ASCII.
 */
Datum
intake_time_text_offsets(PG_FUNCTION_ARGS)
{
	text	   *value = PG_GETARG_TEXT_PP(0);
	const char *s = VARDATA_ANY(value);
	int			len = VARSIZE_ANY_EXHDR(value);
	StringInfoData out;
	int			copied = 0;
	int			i;

	for (i = 0; i < len; i++)
	{
		int			n = relative_time_word(s, len, i);

		if (n > 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_DATETIME_FORMAT),
					 errmsg("invalid input syntax for a date and time: %s", workorder_quoted_start(text_to_cstring(value))),
					 n == 1 ?
					 errdetail("J and a number is a Julian day, not the time of the event.") :
					 errdetail("\"%.*s\" is read as a time of its own, not as the time of the event.", n, s + i),
					 errhint("Write the date and time the event happened, e.g. 2026-11-25 08:30:00.")));
	}
	out.data = NULL;
	for (i = 0; i + 3 <= len; i++)
	{
		int			next = i + 3;
		char		offset[8];

		if (ascii_word_at(s, len, i, "CST") &&
			(next == len || (!ascii_letter(s[next]) && !isdigit((unsigned char) s[next]))))
			strcpy(offset, "+08");
		else if (ascii_word_at(s, len, i, "GMT") || ascii_word_at(s, len, i, "UTC"))
		{
			int			j = next;
			int			digits = 0;
			char		sign;

			while (j < len && s[j] == ' ')
				j++;
			if (j >= len || (s[j] != '+' && s[j] != '-'))
				continue;
			sign = s[j++];
			while (j + digits < len && digits < 5 && isdigit((unsigned char) s[j + digits]))
				digits++;
			if (digits == 1 || digits == 2)
			{
				/* an hour; minutes after a colon may follow */
				if (j + digits + 2 < len && s[j + digits] == ':' &&
					isdigit((unsigned char) s[j + digits + 1]) && isdigit((unsigned char) s[j + digits + 2]) &&
					(j + digits + 3 == len || !isdigit((unsigned char) s[j + digits + 3])))
				{
					snprintf(offset, sizeof(offset), "%c%.*s:%.2s", sign, digits, s + j, s + j + digits + 1);
					next = j + digits + 3;
				}
				else if (j + digits < len && s[j + digits] == ':')
					continue;
				else
				{
					snprintf(offset, sizeof(offset), "%c%.*s", sign, digits, s + j);
					next = j + digits;
				}
			}
			else if (digits == 3 || digits == 4)
			{
				/* hour and minutes without a colon: 800, 0800 */
				snprintf(offset, sizeof(offset), "%c%.*s:%.2s", sign, digits - 2, s + j, s + j + digits - 2);
				next = j + digits;
			}
			else
				continue;
		}
		else
			continue;

		if (out.data == NULL)
			initStringInfo(&out);
		appendBinaryStringInfo(&out, s + copied, i - copied);
		appendStringInfoString(&out, offset);
		copied = next;
		i = next - 1;
	}
	if (out.data == NULL)
		PG_RETURN_DATUM(PG_GETARG_DATUM(0));
	appendBinaryStringInfo(&out, s + copied, len - copied);
	PG_RETURN_TEXT_P(cstring_to_text_with_len(out.data, out.len));
}

/*
 * intake_is_hotspot_channel says whether channel is the one hotspots raise
 * their orders on: the setting hotspot_channel, else 'hotspot' (part 87).
 */
static bool
intake_is_hotspot_channel(const char *channel)
{
	const char *hotspot_channel = workorder_setting("hotspot_channel");

	return channel != NULL && strcmp(channel, hotspot_channel ? hotspot_channel : "hotspot") == 0;
}

/*
 * blanks_text returns the blanks to trim as a text, made once per backend:
 * intake_blanks_utf8 in a UTF-8 database, its ASCII blanks in any other.  (In
 * SQL_ASCII the bytes of the no-break space were trimmed one by one, from the
 * ends of Chinese text stored as UTF-8; LATIN1 has no ideographic space, and
 * converting the set failed every call.)
 */
static Datum
blanks_text(void)
{
	static text *blanks = NULL;

	if (blanks == NULL)
	{
		MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);

		blanks = GetDatabaseEncoding() == PG_UTF8 ? cstring_to_text(intake_blanks_utf8) : cstring_to_text(" \t\n\r\f\v");
		MemoryContextSwitchTo(old);
	}
	return PointerGetDatum(blanks);
}

/*
 * trim_blanks returns value without the blanks around it (intake_blanks_utf8).
 * In UTF-8 a value whose first byte cannot begin a blank and whose last byte
 * cannot end one is returned as it is, without a call of btrim(): most are.
 */
static Datum
trim_blanks(text *value)
{
	const unsigned char *bytes = (const unsigned char *) VARDATA_ANY(value);
	int			length = VARSIZE_ANY_EXHDR(value);

	if (length == 0)
		return PointerGetDatum(value);
	if (GetDatabaseEncoding() == PG_UTF8 &&
		bytes[0] > ' ' && bytes[0] != 0xC2 && bytes[0] != 0xE2 && bytes[0] != 0xE3 && bytes[0] != 0xEF &&
		bytes[length - 1] > ' ' && bytes[length - 1] != 0xA0 && bytes[length - 1] != 0x80 &&
		bytes[length - 1] != 0xBF && (bytes[length - 1] < 0x8B || bytes[length - 1] > 0x8D))
		return PointerGetDatum(value);
	return DirectFunctionCall2(btrim, PointerGetDatum(value), blanks_text());
}

/*
 * intake_trim_blanks is workorder.trim_blanks(value): value without the blanks
 * around it that people type and paste, the set check_text trims.  In C: as a
 * SQL function it had the pinned search_path of every SQL function (part 99),
 * which keeps it from being inlined, and each call set and reset the setting;
 * the detection ingest, which trims eight columns of every row, ran at half its
 * speed.
 */
Datum
intake_trim_blanks(PG_FUNCTION_ARGS)
{
	PG_RETURN_DATUM(trim_blanks(PG_GETARG_TEXT_PP(0)));
}

/*
 * intake_control_character_at is workorder.control_character_at(value): the
 * position of value's first control character that is not white space, or
 * NULL when it has none (see control_character_at()).  Actions check their
 * texts with it, as submit() does its own.
 */
Datum
intake_control_character_at(PG_FUNCTION_ARGS)
{
	pg_wchar	code;
	int			position = control_character_at(PG_GETARG_TEXT_PP(0), &code);

	if (position == 0)
		PG_RETURN_NULL();
	PG_RETURN_INT32(position);
}

/*
 * intake_check_text is workorder.check_text(value, what, max_length,
 * required): the value trimmed of blanks (NULL when blank), or WO303 when it
 * is required and blank, or longer than max_length characters.
 */
Datum
intake_check_text(PG_FUNCTION_ARGS)
{
	const char *what = PG_ARGISNULL(1) ? "" : text_to_cstring(PG_GETARG_TEXT_PP(1));
	bool		result_isnull;
	Datum		result;

	result = check_text(PG_ARGISNULL(0) ? (Datum) 0 : PG_GETARG_DATUM(0), PG_ARGISNULL(0), what,
						PG_ARGISNULL(2) ? -1 : PG_GETARG_INT32(2),
						!PG_ARGISNULL(3) && PG_GETARG_BOOL(3), true, &result_isnull);
	if (result_isnull)
		PG_RETURN_NULL();
	PG_RETURN_DATUM(result);
}

/*
 * intake_function_changed is the syscache callback on pg_proc: any changed
 * function may be one submit() calls, so all are looked up again.
 */
static void
intake_function_changed(Datum arg pg_attribute_unused(), int cacheid pg_attribute_unused(),
						uint32 hashvalue pg_attribute_unused())
{
	intake.functions_valid = false;
}

/*
 * intake_decision_changed is the relcache callback: when the type
 * dedup_decision changes (ALTER EXTENSION ... UPDATE from 0.4 alters its
 * columns) everything is made again, so that a backend that submitted
 * before the update serves the new schema the way it wants to be served,
 * not through the old schema's dedup_apply().
 */
static void
intake_decision_changed(Datum arg pg_attribute_unused(), Oid relid)
{
	if (!OidIsValid(relid) || relid == intake.decision_relid)
		intake.submit_oid = InvalidOid;
}

/*
 * intake_prepare makes the types and statements of the submit() of this OID,
 * unless they are made already.  Called inside SPI.
 */
static void
intake_prepare(Oid submit_oid)
{
	HeapTuple	proc;
	Form_pg_proc form;
	Oid			types[2];

	if (intake.submit_oid == submit_oid && intake.insert_plan != NULL)
		return;

	if (!intake_callback_registered)
	{
		CacheRegisterSyscacheCallback(PROCOID, intake_function_changed, (Datum) 0);
		CacheRegisterRelcacheCallback(intake_decision_changed, (Datum) 0);
		intake_callback_registered = true;
	}
	{
		SPIPlanPtr	plans[] = {intake.find_plan, intake.insert_plan, intake.submitted_plan,
							   intake.dispatched_plan, intake.suspected_plan, intake.merged_plan,
							   intake.master_lock_plan, intake.master_update_plan, intake.reopen_plan,
							   intake.master_resolved_plan,
		intake.check_plan};

		for (size_t i = 0; i < lengthof(plans); i++)
			if (plans[i] != NULL)
				SPI_freeplan(plans[i]);
	}
	memset(&intake, 0, sizeof(intake));

	/* The geometry and priority types are those of submit()'s own arguments. */
	proc = SearchSysCache1(PROCOID, ObjectIdGetDatum(submit_oid));
	if (!HeapTupleIsValid(proc))
		elog(ERROR, "submit: cache lookup failed for function %u", submit_oid);
	form = (Form_pg_proc) GETSTRUCT(proc);
	if (form->pronargs != SUBMIT_NARGS)
		elog(ERROR, "submit: expected %d arguments, found %d", SUBMIT_NARGS, form->pronargs);
	intake.geometry_type = form->proargtypes.values[ARG_LOCATION];
	intake.priority_type = form->proargtypes.values[ARG_PRIORITY];
	ReleaseSysCache(proc);

	intake.status_type = workorder_type_oid("workorder", "order_status");
	intake.level_type = workorder_type_oid("workorder", "area_level");
	intake.ticket_type = workorder_type_oid("workorder", "ticket");
	intake.location_type = workorder_type_oid("workorder", "location");
	intake.priority_normal = DirectFunctionCall2(enum_in, CStringGetDatum("normal"),
												 ObjectIdGetDatum(intake.priority_type));
	intake.status_new = DirectFunctionCall2(enum_in, CStringGetDatum("new"), ObjectIdGetDatum(intake.status_type));
	intake.status_dispatched = DirectFunctionCall2(enum_in, CStringGetDatum("dispatched"),
												   ObjectIdGetDatum(intake.status_type));
	intake.status_merged = DirectFunctionCall2(enum_in, CStringGetDatum("merged"),
											   ObjectIdGetDatum(intake.status_type));
	intake.dedup_policy_type = workorder_type_oid("workorder", "dedup_policy");
	intake.dedup_candidates_type = get_array_type(workorder_type_oid("workorder", "dedup_candidate"));

	/*
	 * Until 0.5 the decision carried its policy and candidates as jsonb, and
	 * the schema's dedup_apply() recorded them and merged through merge().
	 * This library serves such a schema too, between the installation of its
	 * files and ALTER EXTENSION ... UPDATE, the way it did: through
	 * dedup_apply().
	 */
	{
		Oid			decision_type = workorder_type_oid("workorder", "dedup_decision");
		TupleDesc	decision_desc = lookup_rowtype_tupdesc(decision_type, -1);

		intake.decision_relid = get_typ_typrelid(decision_type);

		intake.dedup_applied_in_sql =
			(TupleDescAttr(decision_desc, DECISION_CANDIDATES - 1)->atttypid != intake.dedup_candidates_type);
		ReleaseTupleDesc(decision_desc);
	}
	types[0] = TEXTOID;
	types[1] = TEXTOID;
	intake.find_plan = workorder_keep_plan("SELECT x FROM workorder.orders x "
								   "WHERE x.channel_code OPERATOR(pg_catalog.=) $1 "
								   "AND x.channel_ref OPERATOR(pg_catalog.=) $2", 2, types);

	/* The order. */
	{
		const Oid	order_types[ORDER_NPARAMS] = {
			intake.ticket_type, TEXTOID, TEXTOID, TEXTOID, TEXTOID, intake.priority_type, TEXTOID, TEXTOID,
			intake.geometry_type, TEXTOID, TEXTARRAYOID, TEXTOID, BOOLOID, TEXTOID, TEXTOID,
			TIMESTAMPTZOID, TIMESTAMPTZOID, JSONBOID, intake.status_type, TEXTOID, intake.level_type,
			TEXTOID, TEXTOID, TEXTARRAYOID, INT8OID, TEXTOID, TIMESTAMPTZOID, TIMESTAMPTZOID,
			TIMESTAMPTZOID, INT4OID, TIMESTAMPTZOID, INT8OID
		};

		intake.insert_plan = workorder_keep_plan(
			"INSERT INTO workorder.orders AS x "
			"(ticket, channel_code, channel_ref, channel_category, category_code, priority, description, address, "
			"location, area_code, area_chain, location_match, in_jurisdiction, reporter_name, reporter_phone, "
			"occurred_at, received_at, attributes, status, status_reason, handling_level, dispatching_unit, "
			"main_unit, assisting_units, route_rule_id, sla_policy, accept_due_at, resolve_due_at, warn_at, "
			"event_count, updated_at, master_id) "
			"VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, "
			"$23, $24, $25, $26, $27, $28, $29, $30, $31, $32) "
			"ON CONFLICT ON CONSTRAINT orders_channel_ref_unique DO NOTHING "
			"RETURNING x", ORDER_NPARAMS, order_types);
	}

	/*
	 * The events of its intake: the report arrives (submit), and is
	 * dispatched when it was routed.  $8 is the submit event's note, $13 the
	 * dispatch event's, $14 its time (the accept clock's start).
	 */
	{
		const Oid	event_types[EVENT_NPARAMS + 2] = {
			INT8OID, TIMESTAMPTZOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID,
			TEXTOID, INT8OID, TEXTOID, intake.level_type, TEXTOID, TIMESTAMPTZOID
		};
		const char *submit_event =
			"INSERT INTO workorder.order_events "
			"(order_id, seq, at, action, actor, old_status, new_status, unit_code, note, details) "
			"VALUES ($1, 1, $2, 'submit', $3, NULL, 'new', NULL, $8, "
			"pg_catalog.jsonb_build_object('channel_category', $4, 'category', $5, 'area', $6, "
			"'location_match', $7))";

		intake.submitted_plan = workorder_keep_plan(submit_event, 8, event_types);
		intake.dispatched_plan = workorder_keep_plan(
			psprintf("%s, ($1, 2, $14, 'dispatch', 'system', 'new', 'dispatched', $9, $13, "
					 "pg_catalog.jsonb_build_object('rule_id', $10, 'rule', $11, 'handling_level', $12))",
					 submit_event),
			EVENT_NPARAMS + 2, event_types);

		/*
		 * A suspected duplicate: $9 its master, $10 the master's ticket, $11
		 * the score.  The events after the first take the time they are
		 * logged, as every action's event does.
		 */
		{
			const Oid	suspected_types[11] = {
				INT8OID, TIMESTAMPTZOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID,
				INT8OID, TEXTOID, FLOAT8OID
			};

			intake.suspected_plan = workorder_keep_plan(
				psprintf("%s, ($1, 2, DEFAULT, 'suspect_duplicate', 'system', 'new', 'new', NULL, $8, "
						 "pg_catalog.jsonb_build_object('master_id', $9, 'master_ticket', $10, "
						 "'score', pg_catalog.round($11::pg_catalog.numeric, 3)))",
						 submit_event),
				11, suspected_types);
		}

		/*
		 * A merged report: $9 its master, $10 the master's ticket, $11 the
		 * seq of the master's merged_in event, $12 the master's status, $13
		 * its main unit, $14 the report's ticket.
		 */
		{
			const Oid	merged_types[EVENT_MAX_NPARAMS] = {
				INT8OID, TIMESTAMPTZOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID,
				INT8OID, TEXTOID, INT4OID, intake.status_type, TEXTOID, intake.ticket_type
			};

			intake.merged_plan = workorder_keep_plan(
				psprintf("%s, ($1, 2, DEFAULT, 'merge', 'system', 'new', 'merged', NULL, $8, "
						 "pg_catalog.jsonb_build_object('master_id', $9, 'master_ticket', $10, 'report_count', 1)), "
						 "($9, $11, DEFAULT, 'merged_in', 'system', $12, $12, $13, $8, "
						 "pg_catalog.jsonb_build_object('order_id', $1, 'ticket', $14::pg_catalog.text, "
						 "'report_count', 1))",
						 submit_event),
				EVENT_MAX_NPARAMS, merged_types);
		}
	}

	/* A duplicate's master, and what dedup records. */
	types[0] = INT8OID;
	types[1] = intake.priority_type;
	intake.master_lock_plan = workorder_keep_plan(
		"SELECT x.status::pg_catalog.text, x.ticket::pg_catalog.text, "
		"x.priority OPERATOR(pg_catalog.<) $2 "
		"FROM workorder.orders x "
		"WHERE x.id OPERATOR(pg_catalog.=) $1 FOR NO KEY UPDATE", 2, types);

	/*
	 * When a locked master was last resolved: a statement of its own, after
	 * the lock, so that it sees a resolve that committed while intake waited
	 * for the row (the locking statement's sub-query would not).
	 */
	intake.master_resolved_plan = workorder_keep_plan(
		"SELECT pg_catalog.max(e.at) FROM workorder.order_events e "
		"WHERE e.order_id OPERATOR(pg_catalog.=) $1 AND e.action OPERATOR(pg_catalog.=) 'resolve'", 1, types);
	intake.master_update_plan = workorder_keep_plan(
		"UPDATE workorder.orders x SET report_count = x.report_count OPERATOR(pg_catalog.+) 1, "
		"event_count = x.event_count OPERATOR(pg_catalog.+) 1, updated_at = pg_catalog.now() "
		"WHERE x.id OPERATOR(pg_catalog.=) $1 RETURNING x.event_count, x.status, x.main_unit", 1, types);
	{
		const Oid	reopen_types[1] = {INT8OID};
		const Oid	check_types[CHECK_NPARAMS] = {
			INT8OID, TIMESTAMPTZOID, TEXTOID, INT8OID, FLOAT8OID, intake.dedup_policy_type,
			intake.dedup_candidates_type
		};

		intake.reopen_plan = workorder_keep_plan(
			"SELECT workorder.reopen($1, 'system', 'a new report after resolution')", 1, reopen_types);
		if (!intake.dedup_applied_in_sql)
			intake.check_plan = workorder_keep_plan(
				"INSERT INTO workorder.dedup_checks (order_id, checked_at, decision, master_id, score, policy, candidates) "
				"VALUES ($1, $2, $3, $4, $5, $6, $7)", CHECK_NPARAMS, check_types);
	}
	intake.submit_oid = submit_oid;
}

/*
 * intake_lookup_functions looks up the SQL functions submit() calls, unless
 * they are looked up already and none has changed since.
 */
static void
intake_lookup_functions(void)
{
	Oid			types[7];
	const char *postgis;

	if (intake.functions_valid)
		return;
	postgis = get_namespace_name(workorder_type_namespace(intake.geometry_type));

	types[0] = intake.geometry_type;
	types[1] = TEXTOID;
	workorder_lookup_function(&intake.location_point, "workorder", "location_point", 2, types);
	types[0] = TEXTOID;
	types[1] = intake.geometry_type;
	types[2] = TIMESTAMPTZOID;
	types[3] = TEXTOID;
	types[4] = TEXTOID;
	types[5] = TEXTOID;
	workorder_lookup_function(&intake.dedup_decide, "workorder", "dedup_decide", 6, types);
	if (intake.dedup_applied_in_sql)
	{
		types[0] = workorder_type_oid("workorder", "orders");
		types[1] = workorder_type_oid("workorder", "dedup_decision");
		workorder_lookup_function(&intake.dedup_apply, "workorder", "dedup_apply", 2, types);
	}
	types[0] = workorder_type_oid("workorder", "orders");
	types[1] = TEXTOID;
	workorder_lookup_function(&intake.check_order_access, "workorder", "check_order_access", 2, types);
	types[0] = FLOAT8OID;
	types[1] = FLOAT8OID;
	workorder_lookup_function(&intake.make_point, postgis, "st_makepoint", 2, types);
	types[0] = intake.geometry_type;
	types[1] = INT4OID;
	workorder_lookup_function(&intake.set_srid, postgis, "st_setsrid", 2, types);
	workorder_lookup_function(&intake.x, postgis, "st_x", 1, types);
	workorder_lookup_function(&intake.y, postgis, "st_y", 1, types);
	intake.functions_valid = true;
}

/* text_or_null returns a text Datum as a string, or NULL. */
static char *
text_or_null(Datum value, bool isnull)
{
	return isnull ? NULL : TextDatumGetCString(value);
}

/* attribute returns a column of a composite value. */
static Datum
attribute(HeapTupleHeader row, int attnum, bool *isnull)
{
	return GetAttributeByNum(row, attnum, isnull);
}

/*
 * geometry_text returns the WKT of a geometry, cut to length characters, for
 * a message (an error path: it asks the database).
 */
static char *
geometry_text(Datum geometry, int length)
{
	Datum		args[2] = {geometry, Int32GetDatum(length)};
	Oid			types[2] = {intake.geometry_type, INT4OID};
	char	   *result = NULL;

	if (SPI_execute_with_args(psprintf("SELECT pg_catalog.left(%s.ST_AsText($1), $2)",
									   quote_identifier(get_namespace_name(workorder_type_namespace(intake.geometry_type)))),
							  2, types, args, NULL, true, 1) == SPI_OK_SELECT && SPI_processed == 1)
		result = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
	return result ? result : "";
}

/*
 * earliest_event_time returns '2000-01-01'::timestamptz, midnight in the
 * session's time zone, as the plpgsql compared with it.
 */
static TimestampTz
earliest_event_time(void)
{
	if (intake.earliest_event_zone != session_timezone)
	{
		intake.earliest_event = DatumGetTimestampTz(DirectFunctionCall3(timestamptz_in, CStringGetDatum("2000-01-01"),
																		ObjectIdGetDatum(InvalidOid),
																		Int32GetDatum(-1)));
		intake.earliest_event_zone = session_timezone;
	}
	return intake.earliest_event;
}

/*
 * intake_point returns the report's location as a point in SRID 4326, or
 * raises WO304/WO101/WO102: the location argument through location_point(),
 * or lon and lat.  Lon and lat that are finite and on the earth make their
 * point here; others go through location_point() too, for its message.
 */
static Datum
intake_point(FunctionCallInfo fcinfo)
{
	bool		has_location = !PG_ARGISNULL(ARG_LOCATION);
	bool		has_lon = !PG_ARGISNULL(ARG_LON);
	bool		has_lat = !PG_ARGISNULL(ARG_LAT);
	Datum		location = has_location ? PG_GETARG_DATUM(ARG_LOCATION) : (Datum) 0;
	Datum		args[2];
	bool		nulls[2] = {false, false};
	bool		isnull;
	Datum		point;

	if (has_location && (has_lon || has_lat))
		ereport(ERROR,
				(errcode(ERRCODE_WO_INVALID_REPORT),
				 errmsg("the report gives its location twice"),
				 errdetail("location is %s and lon/lat are %s/%s.", geometry_text(location, 60),
						   has_lon ? float8out_internal(PG_GETARG_FLOAT8(ARG_LON)) : "",
						   has_lat ? float8out_internal(PG_GETARG_FLOAT8(ARG_LAT)) : ""),
				 errhint("Pass either a point geometry or lon and lat, not both.")));
	if (!has_location && (has_lon || has_lat))
	{
		float8		lon,
					lat;

		if (!has_lon || !has_lat)
			ereport(ERROR,
					(errcode(ERRCODE_WO_INVALID_LOCATION),
					 errmsg("the report's location is incomplete"),
					 errdetail("lon is %s and lat is %s.",
							   has_lon ? float8out_internal(PG_GETARG_FLOAT8(ARG_LON)) : "NULL",
							   has_lat ? float8out_internal(PG_GETARG_FLOAT8(ARG_LAT)) : "NULL"),
					 errhint("Pass both lon and lat, in WGS84 degrees.")));
		lon = PG_GETARG_FLOAT8(ARG_LON);
		lat = PG_GETARG_FLOAT8(ARG_LAT);
		args[0] = Float8GetDatum(lon);
		args[1] = Float8GetDatum(lat);
		point = workorder_call_function(&intake.make_point, 2, args, nulls, &isnull);
		args[0] = point;
		args[1] = Int32GetDatum(4326);
		point = workorder_call_function(&intake.set_srid, 2, args, nulls, &isnull);
		/* What location_point() would accept unchanged: a finite 2D point on the earth. */
		if (lon >= -180 && lon <= 180 && lat >= -90 && lat <= 90)
			return point;
		location = point;
		has_location = true;
	}
	args[0] = location;
	args[1] = CStringGetTextDatum("the report's location");
	nulls[0] = !has_location;
	point = workorder_call_function(&intake.location_point, 2, args, nulls, &isnull);
	if (isnull)
		elog(ERROR, "submit: location_point returned NULL");
	return point;
}

/*
 * find_order returns the order of a (channel, channel_ref) as a
 * workorder.orders value (found says whether there is one).  Called inside
 * SPI; the value is copied out of it.
 */
static Datum
find_order(Datum channel, Datum channel_ref, bool *found)
{
	Datum		args[2] = {channel, channel_ref};
	bool		isnull;
	Datum		row;

	/* Not read-only: under READ COMMITTED it sees what committed until now. */
	if (SPI_execute_plan(intake.find_plan, args, NULL, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "submit: the lookup of the order failed");
	*found = (SPI_processed == 1);
	if (!*found)
		return (Datum) 0;
	row = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	return SPI_datumTransfer(row, false, -1);
}

/*
 * existing_order returns the order a retried report already made, once the
 * caller may read it (check_order_access(), WO951 otherwise).  An intake
 * login may (it is its own channel's); a dispatcher or handler may only if
 * the order is in its scope: a retry used to hand anyone who could call
 * submit() any order, personal data included, by its channel and reference.
 */
static Datum
existing_order(Datum order)
{
	Datum		args[2] = {order, (Datum) 0};
	bool		nulls[2] = {false, true};
	bool		isnull;

	(void) workorder_call_function(&intake.check_order_access, 2, args, nulls, &isnull);
	return order;
}

/*
 * retry_must_match raises WO308 when a report whose channel and reference
 * are those of an existing order is not a retry of the report that made it:
 * another description, category (as the channel gave it), place, or time of
 * the event (when both give one).  Taken for a retry, it came back with the
 * earlier order, and the new report was lost without a trace: a connector
 * whose counter started again after a restart, or that numbers per day,
 * handed in every later report as one it had already sent.
 *
 * A true retry must never be refused, whatever changed since the first
 * attempt in how intake reads a report: so both sides' texts are trimmed by
 * today's rules (an order made before a blank was added to them keeps it),
 * the retry's texts are not checked for control characters or length (an
 * order made before those checks has them), and the places are compared as
 * numbers, within 1e-7 degrees (about a centimetre: a point with a bounding
 * box, -0 for 0, a first attempt in another SRID, a longitude printed with
 * fewer digits).  Called once the caller may read the order
 * (existing_order), since the detail quotes it.
 */
static void
retry_must_match(FunctionCallInfo fcinfo, Datum order, const char *channel, Datum channel_ref)
{
	HeapTupleHeader stored = DatumGetHeapTupleHeader(order);
	bool		isnull;
	bool		category_isnull;
	bool		stored_isnull;
	Datum		description;
	Datum		category;
	Datum		point;
	Datum		stored_value;
	const char *what = NULL;
	const char *theirs = NULL;
	const char *ours = NULL;
	int			differs_at = 0;

	description = check_text(PG_ARGISNULL(ARG_DESCRIPTION) ? (Datum) 0 : PG_GETARG_DATUM(ARG_DESCRIPTION),
							 PG_ARGISNULL(ARG_DESCRIPTION), "description", -1, true, false, &isnull);
	category = check_text(PG_ARGISNULL(ARG_CATEGORY) ? (Datum) 0 : PG_GETARG_DATUM(ARG_CATEGORY),
						  PG_ARGISNULL(ARG_CATEGORY), "category", -1, false, false, &category_isnull);
	point = intake_point(fcinfo);

	stored_value = retry_stored_text(stored, "description", &stored_isnull);
	if (stored_isnull || (differs_at = first_difference(stored_value, description)) > 0)
	{
		what = "description";
		theirs = retry_text(stored_value, stored_isnull);
		ours = retry_text(description, false);
	}
	if (what == NULL)
	{
		stored_value = retry_stored_text(stored, "channel_category", &stored_isnull);
		if (stored_isnull != category_isnull ||
			(!stored_isnull && (differs_at = first_difference(stored_value, category)) > 0))
		{
			what = "category";
			theirs = retry_text(stored_value, stored_isnull);
			ours = retry_text(category, category_isnull);
		}
	}
	if (what == NULL)
	{
		stored_value = GetAttributeByName(stored, "location", &stored_isnull);
		if (stored_isnull || !same_place(stored_value, point))
		{
			what = "location";
			theirs = stored_isnull ? "none" : geometry_text(stored_value, 60);
			ours = geometry_text(point, 60);
		}
	}
	if (what == NULL && !PG_ARGISNULL(ARG_OCCURRED_AT))
	{
		stored_value = GetAttributeByName(stored, "occurred_at", &stored_isnull);
		if (!stored_isnull && DatumGetTimestampTz(stored_value) != PG_GETARG_TIMESTAMPTZ(ARG_OCCURRED_AT))
		{
			what = "event time";
			theirs = DatumGetCString(DirectFunctionCall1(timestamptz_out, stored_value));
			ours = DatumGetCString(DirectFunctionCall1(timestamptz_out, PG_GETARG_DATUM(ARG_OCCURRED_AT)));
		}
	}
	if (what == NULL)
		return;
	stored_value = GetAttributeByName(stored, "ticket", &stored_isnull);
	ereport(ERROR,
			(errcode(ERRCODE_WO_CHANNEL_REF_REUSED),
			 errmsg("reference %s of channel %s was already used for another report",
					workorder_quoted_start(TextDatumGetCString(channel_ref)), channel),
			 differs_at > 0 ?
			 errdetail("Order %s was made from it, with the %s %s; this report's %s is %s (they differ from character %d).",
					   stored_isnull ? "?" : DatumGetCString(DirectFunctionCall1(ticket_out, stored_value)),
					   what, theirs, what, ours, differs_at) :
			 errdetail("Order %s was made from it, with the %s %s; this report's %s is %s.",
					   stored_isnull ? "?" : DatumGetCString(DirectFunctionCall1(ticket_out, stored_value)),
					   what, theirs, what, ours),
			 errhint("Send a retry exactly as the first attempt, and give every new report a reference of its own (has the channel's counter started again?).")));
}

/*
 * retry_stored_text returns a text column of a stored order trimmed by
 * today's rules (trim_blanks), and sets *isnull when it is NULL or blank.
 */
static Datum
retry_stored_text(HeapTupleHeader stored, const char *column, bool *isnull)
{
	Datum		value = GetAttributeByName(stored, column, isnull);

	if (*isnull)
		return (Datum) 0;
	value = trim_blanks(DatumGetTextPP(value));
	*isnull = VARSIZE_ANY_EXHDR(DatumGetPointer(value)) == 0;
	return value;
}

/*
 * first_difference returns 0 when two texts are the same, else the position,
 * counted in characters from 1, of the first character where they differ
 * (one past the shorter one's end when it is the other's beginning): a
 * message quotes only their beginnings, and the difference may be further on
 * or invisible.
 */
static int
first_difference(Datum a, Datum b)
{
	struct varlena *x = PG_DETOAST_DATUM_PACKED(a);
	struct varlena *y = PG_DETOAST_DATUM_PACKED(b);
	const char *p = VARDATA_ANY(x);
	const char *q = VARDATA_ANY(y);
	int			x_length = VARSIZE_ANY_EXHDR(x);
	int			y_length = VARSIZE_ANY_EXHDR(y);
	int			offset = 0;
	int			position = 1;

	if (x_length == y_length && memcmp(p, q, x_length) == 0)
		return 0;
	while (offset < x_length && offset < y_length)
	{
		int			length = pg_mblen(p + offset);

		if (offset + length > y_length || memcmp(p + offset, q + offset, length) != 0)
			break;
		offset += length;
		position++;
	}
	return position;
}

/*
 * same_place says whether two points of SRID 4326 are the same place: their
 * coordinates within 1e-7 degrees of each other (see retry_must_match).
 */
static bool
same_place(Datum a, Datum b)
{
	bool		nulls[1] = {false};
	bool		isnull;
	Datum		ax = workorder_call_function(&intake.x, 1, &a, nulls, &isnull);
	Datum		ay = workorder_call_function(&intake.y, 1, &a, nulls, &isnull);
	Datum		bx = workorder_call_function(&intake.x, 1, &b, nulls, &isnull);
	Datum		by = workorder_call_function(&intake.y, 1, &b, nulls, &isnull);

	return fabs(DatumGetFloat8(ax) - DatumGetFloat8(bx)) <= 1e-7 &&
		fabs(DatumGetFloat8(ay) - DatumGetFloat8(by)) <= 1e-7;
}

/* retry_text returns a text of a report for a message: quoted, cut to 40 characters, or "none". */
static const char *
retry_text(Datum value, bool isnull)
{
	return isnull ? "none" : workorder_quoted_start(TextDatumGetCString(value));
}

/*
 * dedup_settle reads dedup's decision on a report into outcome and settles
 * it.  A merge (or a reopen or link of a resolved master) locks the master
 * first, and decides on what it is now: the neighbourhood's locks keep other
 * reports out, not a dispatcher, so the master may have been resolved,
 * reopened, merged or cancelled since the search.  Intake never fails for
 * that: a master merged or cancelled meanwhile leaves the report new, for a
 * dispatcher, with the reason.  A resolved master is late_policy's for a
 * report received after its last resolve, and linked for one received
 * before, which the resolve answers (an inbox row drained after the unit
 * resolved the master reopened it).  A report more urgent than its master
 * (priority) is routed as an order of its own, its status_reason naming the
 * master: merged, it took the master's deadlines and unit (an urgent flooding
 * report, cars trapped, merged into an earlier normal one kept five working
 * days and the town's unit), and held for review it would wait for a
 * dispatcher, unrouted and with no deadline (the review branch did not ask,
 * and an urgent report beside a normal order of a sibling category, the usual
 * suspected duplicate, waited for the review queue).  Called inside SPI,
 * before the order's INSERT.
 */
static void
dedup_settle(HeapTupleHeader dup, TimestampTz received, Datum priority, DedupOutcome *outcome)
{
	bool		isnull;
	Datum		reason;

	memset(outcome, 0, sizeof(*outcome));
	reason = attribute(dup, DECISION_REASON, &isnull);
	outcome->reason = isnull ? NULL : TextDatumGetCString(reason);
	outcome->candidates = attribute(dup, DECISION_CANDIDATES, &isnull);
	if (isnull)
		return;
	if (intake.dedup_applied_in_sql)
	{
		outcome->apply_in_sql = true;
		return;
	}
	outcome->decision = TextDatumGetCString(attribute(dup, DECISION_DECISION, &isnull));
	outcome->master_id = DatumGetInt64(attribute(dup, DECISION_MASTER_ID, &isnull));
	outcome->has_master = !isnull;
	outcome->score = attribute(dup, DECISION_SCORE, &outcome->score_isnull);
	outcome->policy = attribute(dup, DECISION_POLICY, &isnull);

	if (strcmp(outcome->decision, "merge") == 0 || strcmp(outcome->decision, "reopen") == 0 ||
		strcmp(outcome->decision, "link") == 0)
	{
		Datum		master_args[1] = {Int64GetDatum(outcome->master_id)};
		char	   *status;
		bool		more_urgent;

		if (!lock_master(outcome->master_id, priority, &status, &outcome->master_ticket, &more_urgent))
			elog(ERROR, "submit: the master order " INT64_FORMAT " of a duplicate is gone", outcome->master_id);
		if (strcmp(status, "merged") == 0 || strcmp(status, "cancelled") == 0)
		{
			outcome->reason = psprintf("duplicate of %s, which became %s before the merge: "
									   "a dispatcher must dispatch it", outcome->master_ticket, status);
			outcome->decision = "new";
		}
		else if (more_urgent)
		{
			outcome->reason = psprintf("more urgent than %s, which it duplicates: routed on its own "
									   "(merge that order into this one if it is the same event)",
									   outcome->master_ticket);
			outcome->decision = "new";
			outcome->released = true;
		}
		else if (strcmp(status, "resolved") == 0 || strcmp(status, "closed") == 0)
		{
			bool		resolved_isnull;
			Datum		resolved;

			if (SPI_execute_plan(intake.master_resolved_plan, master_args, NULL, false, 1) != SPI_OK_SELECT ||
				SPI_processed != 1)
				elog(ERROR, "submit: the last resolve of master order " INT64_FORMAT " could not be read",
					 outcome->master_id);
			resolved = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &resolved_isnull);
			if (!resolved_isnull && DatumGetTimestampTz(resolved) > received)
				outcome->decision = "link";
			else
				outcome->decision = TextDatumGetCString(GetAttributeByName(DatumGetHeapTupleHeader(outcome->policy),
																		   "late_policy", &isnull));
		}
		else
			outcome->decision = "merge";
		outcome->merging = (strcmp(outcome->decision, "new") != 0);
	}
	else if (strcmp(outcome->decision, "review") == 0)
	{
		char	   *status;
		char	   *ticket;
		bool		more_urgent;

		outcome->master_ticket = candidate_ticket(outcome->candidates, outcome->master_id);
		/* The suspected master, as a merge's is read (and locked, for as long). */
		if (lock_master(outcome->master_id, priority, &status, &ticket, &more_urgent) && more_urgent)
		{
			outcome->reason = psprintf("more urgent than %s, which it may duplicate: routed on its own, not held "
									   "for review (merge that order into this one if it is the same event)",
									   outcome->master_ticket);
			outcome->decision = "new";
			outcome->released = true;
		}
	}
}

/*
 * lock_master locks the order a duplicate would join (FOR NO KEY UPDATE: the
 * merge changes it) and reads its status, its ticket and whether the report,
 * of the given priority, is more urgent than it; false when there is no such
 * order.  SPI must be connected.
 */
static bool
lock_master(int64 master_id, Datum priority, char **status, char **ticket, bool *more_urgent)
{
	Datum		args[2] = {Int64GetDatum(master_id), priority};
	bool		isnull;

	if (SPI_execute_plan(intake.master_lock_plan, args, NULL, false, 1) != SPI_OK_SELECT ||
		SPI_processed != 1)
		return false;
	*status = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
	*ticket = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2);
	*more_urgent = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3, &isnull)) && !isnull;
	return true;
}

/*
 * candidate_ticket returns the text of the ticket of the candidate order_id
 * among dedup's candidates.
 */
static char *
candidate_ticket(Datum candidates, int64 order_id)
{
	ArrayIterator iterator = array_create_iterator(DatumGetArrayTypeP(candidates), 0, NULL);
	Datum		candidate;
	bool		isnull;
	char	   *ticket = NULL;

	while (ticket == NULL && array_iterate(iterator, &candidate, &isnull))
	{
		HeapTupleHeader row = DatumGetHeapTupleHeader(candidate);
		bool		field_isnull;

		if (!isnull && DatumGetInt64(attribute(row, CANDIDATE_ORDER_ID, &field_isnull)) == order_id)
		{
			Oid			output;
			bool		varlena;

			getTypeOutputInfo(intake.ticket_type, &output, &varlena);
			ticket = OidOutputFunctionCall(output, attribute(row, CANDIDATE_TICKET, &field_isnull));
		}
	}
	array_free_iterator(iterator);
	if (ticket == NULL)
		elog(ERROR, "submit: dedup's master " INT64_FORMAT " is not among its candidates", order_id);
	return ticket;
}

/*
 * reopen_master reopens a resolved master for a late report as the system,
 * whoever submitted the report: reopen() checks the caller's right to reopen
 * the master, which intake's own decision needs not have.  The reason names
 * neither the report's ticket nor its score: it goes out to the channel of
 * every report merged into the master, other citizens' (the merged_in event
 * and dedup_checks keep both).
 */
static void
reopen_master(Datum master_id)
{
	Datum		reopen_args[1] = {master_id};
	char		reopen_nulls[1] = {' '};

	workorder_act_as_system(true);
	PG_TRY();
	{
		if (SPI_execute_plan(intake.reopen_plan, reopen_args, reopen_nulls, false, 0) != SPI_OK_SELECT)
			elog(ERROR, "submit: the reopen of the master order failed");
	}
	PG_FINALLY();
	{
		workorder_act_as_system(false);
	}
	PG_END_TRY();
}

/*
 * dedup_carry_out does what is left of dedup's decision once the order is
 * inserted: a resolved master is reopened (late policy reopen), a master
 * counts the merged report (its seq, status and main unit come back for its
 * merged_in event), and what dedup saw and decided is recorded.  Called
 * inside SPI.
 */
static void
dedup_carry_out(const DedupOutcome *outcome, Datum order_id, Datum *master_seq,
				Datum *master_status, Datum *master_unit, bool *master_unit_isnull)
{
	Datum		master_id = Int64GetDatum(outcome->master_id);

	if (outcome->merging)
	{
		bool		isnull;

		if (strcmp(outcome->decision, "reopen") == 0)
			reopen_master(master_id);
		if (SPI_execute_plan(intake.master_update_plan, &master_id, NULL, false, 0) != SPI_OK_UPDATE_RETURNING ||
			SPI_processed != 1)
			elog(ERROR, "submit: the master order " INT64_FORMAT " of a duplicate is gone", outcome->master_id);
		*master_seq = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
		*master_status = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull);
		*master_unit = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3, master_unit_isnull);
	}
	{
		Datum		check_values[CHECK_NPARAMS] = {
			order_id, TimestampTzGetDatum(GetCurrentTransactionStartTimestamp()),
			CStringGetTextDatum(outcome->decision), master_id, outcome->score, outcome->policy,
			outcome->candidates
		};
		char		check_nulls[CHECK_NPARAMS] = {
			' ', ' ', ' ', outcome->has_master ? ' ' : 'n', outcome->score_isnull ? 'n' : ' ', ' ', ' '
		};

		if (SPI_execute_plan(intake.check_plan, check_values, check_nulls, false, 0) != SPI_OK_INSERT)
			elog(ERROR, "submit: the INSERT of the dedup check failed");
	}
}

/*
 * intake_received_at sets when the next submit() of the calling
 * (sub)transaction was received: drain_inbox() passes each inbox row's
 * received_at, so that a row left waiting (a worker down, a retry after a
 * backoff, a drain after midnight) keeps its deadlines and dedup window from
 * when it came in, not from when it was drained (its ticket is of the day it
 * is made).  A time after the start of the transaction is taken as that
 * start.  Only the owner and admins may call it (part 98): a connector must
 * not date its own reports.
 */
Datum
intake_received_at(PG_FUNCTION_ARGS)
{
	if (PG_ARGISNULL(0))
	{
		intake_receipt.set = false;
		PG_RETURN_VOID();
	}
	intake_receipt.set = true;
	intake_receipt.lxid = MyProc->lxid;
	intake_receipt.subxid = GetCurrentSubTransactionId();
	intake_receipt.at = Min(PG_GETARG_TIMESTAMPTZ(0), GetCurrentTransactionStartTimestamp());
	PG_RETURN_VOID();
}

/*
 * intake_receipt_time returns when the report submit() takes was received:
 * the start of the transaction, or what intake_received_at() set in this very
 * (sub)transaction (*explicit then says so).  Either way the setting is used
 * up.
 */
static TimestampTz
intake_receipt_time(bool *explicit)
{
	TimestampTz received = GetCurrentTransactionStartTimestamp();

	*explicit = false;
	if (intake_receipt.set && intake_receipt.lxid == MyProc->lxid &&
		intake_receipt.subxid == GetCurrentSubTransactionId())
	{
		received = intake_receipt.at;
		*explicit = true;
	}
	intake_receipt.set = false;
	return received;
}

/*
 * intake_require_read_committed refuses intake (operation names it) in a
 * transaction whose snapshot is the transaction's own (REPEATABLE READ,
 * SERIALIZABLE), with hint, or intake's own when it is NULL.  Dedup waits
 * for a concurrent report of the same place to commit and then searches
 * again; with a snapshot taken before the wait it does not see that report,
 * and one event gets two masters.  The reference cache is read with the
 * latest snapshot too, so a unit committed after the transaction's snapshot
 * could be chosen and then fail its foreign key.  (The outbox's claims and
 * redrives, which take turns by a lock, refuse such a transaction too.)
 */
static void
intake_require_read_committed(const char *operation, const char *hint)
{
	if (IsolationUsesXactSnapshot())
		ereport(ERROR,
				(errcode(ERRCODE_WO_INTAKE_ISOLATION),
				 errmsg("%s needs a READ COMMITTED transaction", operation),
				 errdetail("The transaction's isolation level is %s.",
						   IsolationIsSerializable() ? "serializable" : "repeatable read"),
				 errhint("%s", hint ? hint :
						 "Run intake under READ COMMITTED (BEGIN ISOLATION LEVEL READ COMMITTED, or default_transaction_isolation of the connector's role): "
						 "with an older snapshot, reports of one event that arrive together become two orders.")));
}

/*
 * intake_require_read_committed_sql is workorder.require_read_committed(
 * operation, hint): the same refusal, for drain_inbox() and
 * ingest_detections(), which must refuse before they claim a row, and for
 * claim_outbox() and redrive_outbox(), with their own hint.
 */
Datum
intake_require_read_committed_sql(PG_FUNCTION_ARGS)
{
	intake_require_read_committed(PG_ARGISNULL(0) ? "intake" : text_to_cstring(PG_GETARG_TEXT_PP(0)),
								  PG_ARGISNULL(1) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(1)));
	PG_RETURN_VOID();
}

/*
 * intake_submit is workorder.submit(channel, channel_ref, category,
 * description, location, lon, lat, address, reporter_name, reporter_phone,
 * occurred_at, attributes, priority): see the top of this file and README.md.
 */
Datum
intake_submit(PG_FUNCTION_ARGS)
{
	bool		received_explicit;
	TimestampTz received = intake_receipt_time(&received_explicit);
	TimestampTz dispatched_at;
	char	   *channel = trimmed_code(fcinfo, ARG_CHANNEL);
	Datum		channel_ref;
	bool		ref_isnull = PG_ARGISNULL(ARG_CHANNEL_REF);
	Datum		description,
				address,
				reporter_name,
				reporter_phone,
				category;
	bool		address_isnull,
				reporter_name_isnull,
				reporter_phone_isnull,
				category_isnull,
				isnull;
	Datum		priority = PG_ARGISNULL(ARG_PRIORITY) ? (Datum) 0 : PG_GETARG_DATUM(ARG_PRIORITY);
	Datum		point;
	HeapTupleHeader place;
	HeapTupleHeader dup;
	Datum		dup_datum;
	DedupOutcome outcome;
	bool		suspected;
	const char *category_code;
	const char *category_code_for_dedup;
	const char *inactive_category = NULL;
	const char *reason = NULL;
	bool		dispatched = false;
	const char *route_unit = NULL;
	int64		route_rule_id = 0;
	bool		has_rule = false;
	const char *route_rule_name = NULL;
	Oid			route_level = InvalidOid;
	Datum		route_assisting = (Datum) 0;
	const char *route_sla = NULL;
	SlaIntake	sla;
	Datum		order;
	bool		found;
	Datum		area_code,
				area_name,
				chain,
				match;
	bool		area_code_isnull,
				area_name_isnull,
				chain_isnull,
				in_jurisdiction_isnull;
	bool		in_jurisdiction;
	Datum		values[ORDER_NPARAMS];
	char		nulls[ORDER_NPARAMS];
	Datum		args[6];
	bool		arg_nulls[6];

	intake_require_read_committed("submit()", NULL);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	intake_prepare(fcinfo->flinfo->fn_oid);
	intake_lookup_functions();

	/* An intake login: its own channel only (part 96). */
	workorder_check_channel_access(channel, "submit");
	if (!workorder_channel_is_active(channel))
	{
		if (workorder_channel_exists(channel))
			ereport(ERROR,
					(errcode(ERRCODE_WO_INACTIVE_CHANNEL),
					 errmsg("channel %s is not active", quote_literal_cstr(channel)),
					 errdetail("Its row in workorder.channels has active = false."),
					 errhint("Submit through an active channel, or have an admin set the channel active again.")));
		ereport(ERROR,
				(errcode(ERRCODE_WO_UNKNOWN_CHANNEL),
				 errmsg("unknown channel %s", channel ? workorder_quoted_start(channel) : "NULL"),
				 channel && pg_mbstrlen(channel) > 40 ?
				 errdetail("No channel has this code, of %d characters.", pg_mbstrlen(channel)) :
				 errdetail("No channel has this code."),
				 errhint("Use the code of a channel in workorder.channels; a new channel is loaded with workorder.load_channels().")));
	}

	/*
	 * Trimmed of every blank, so that a retry with a trailing CR is the same
	 * report; control characters inside, tabs and line breaks too, are
	 * refused, as WO302.
	 */
	channel_ref = ref_isnull ? (Datum) 0 : check_text(PG_GETARG_DATUM(ARG_CHANNEL_REF), false, "reference", -1,
													  false, false, &ref_isnull);
	if (ref_isnull ||
		DatumGetInt32(DirectFunctionCall1(textlen, channel_ref)) > 128 ||
		DatumGetBool(DirectFunctionCall2Coll(textregexeq, DEFAULT_COLLATION_OID, channel_ref,
											 CStringGetTextDatum("[[:cntrl:]]"))))
		ereport(ERROR,
				(errcode(ERRCODE_WO_INVALID_CHANNEL_REF),
				 errmsg("invalid reference for a report from channel %s", channel),
				 errdetail("channel_ref is %s.",
						   PG_ARGISNULL(ARG_CHANNEL_REF) ? "NULL" :
						   quote_literal_cstr(TextDatumGetCString(DirectFunctionCall2(text_left,
																					  ref_isnull ? CStringGetTextDatum("") : channel_ref,
																					  Int32GetDatum(40))))),
				 errhint("Pass the channel's own reference of the report, 1 to 128 characters; it makes retries safe.")));

	/* A retry returns the order the first attempt made, if it is the same report. */
	order = find_order(CStringGetTextDatum(channel), channel_ref, &found);
	if (found)
	{
		order = existing_order(order);
		retry_must_match(fcinfo, order, channel, channel_ref);
		SPI_finish();
		PG_RETURN_DATUM(order);
	}

	description = check_text(PG_ARGISNULL(ARG_DESCRIPTION) ? (Datum) 0 : PG_GETARG_DATUM(ARG_DESCRIPTION),
							 PG_ARGISNULL(ARG_DESCRIPTION), "description", 4000, true, true, &isnull);
	address = check_text(PG_ARGISNULL(ARG_ADDRESS) ? (Datum) 0 : PG_GETARG_DATUM(ARG_ADDRESS),
						 PG_ARGISNULL(ARG_ADDRESS), "address", 500, false, true, &address_isnull);
	reporter_name = check_text(PG_ARGISNULL(ARG_REPORTER_NAME) ? (Datum) 0 : PG_GETARG_DATUM(ARG_REPORTER_NAME),
							   PG_ARGISNULL(ARG_REPORTER_NAME), "reporter name", 100, false, true, &reporter_name_isnull);
	reporter_phone = check_text(PG_ARGISNULL(ARG_REPORTER_PHONE) ? (Datum) 0 : PG_GETARG_DATUM(ARG_REPORTER_PHONE),
								PG_ARGISNULL(ARG_REPORTER_PHONE), "reporter phone", 40, false, true, &reporter_phone_isnull);
	category = check_text(PG_ARGISNULL(ARG_CATEGORY) ? (Datum) 0 : PG_GETARG_DATUM(ARG_CATEGORY),
						  PG_ARGISNULL(ARG_CATEGORY), "category", 64, false, true, &category_isnull);
	if (!PG_ARGISNULL(ARG_ATTRIBUTES))
	{
		Datum		attributes = PG_GETARG_DATUM(ARG_ATTRIBUTES);
		char	   *kind = TextDatumGetCString(DirectFunctionCall1(jsonb_typeof, attributes));
		char	   *as_text = DatumGetCString(DirectFunctionCall1(jsonb_out, attributes));

		if (strcmp(kind, "object") != 0)
			ereport(ERROR,
					(errcode(ERRCODE_WO_INVALID_REPORT),
					 errmsg("the report's attributes are not a JSON object"),
					 errdetail("They are %s.",
							   TextDatumGetCString(DirectFunctionCall2(text_left, CStringGetTextDatum(as_text),
																	   Int32GetDatum(80)))),
					 errhint("Pass free attributes as a JSON object, e.g. {\"plate\": \"粤E12345\"}.")));
		if (strlen(as_text) > 65536)
			ereport(ERROR,
					(errcode(ERRCODE_WO_INVALID_REPORT),
					 errmsg("the report's attributes are too large"),
					 errdetail("They take %zu bytes; at most 65536 are accepted.", strlen(as_text)),
					 errhint("Keep large content (photos, recordings) outside the database and pass references to it.")));
	}
	if (!PG_ARGISNULL(ARG_OCCURRED_AT))
	{
		TimestampTz occurred_at = PG_GETARG_TIMESTAMPTZ(ARG_OCCURRED_AT);

		if (occurred_at > received + USECS_PER_HOUR || occurred_at < earliest_event_time())
			ereport(ERROR,
					(errcode(ERRCODE_WO_INVALID_REPORT),
					 errmsg("the report's event time is not plausible"),
					 errdetail("occurred_at is %s; it must be after 2000-01-01 and no later than an hour after the report was received.",
							   DatumGetCString(DirectFunctionCall1(timestamptz_out, TimestampTzGetDatum(occurred_at)))),
					 errhint("Pass when the event happened, in the past; leave it NULL when unknown.")));
	}
	if (PG_ARGISNULL(ARG_PRIORITY))
		priority = intake.priority_normal;

	point = intake_point(fcinfo);
	{
		TupleDesc	location_desc = lookup_rowtype_tupdesc(intake.location_type, -1);

		place = workorder_locate_point(point, intake.geometry_type, location_desc);
		ReleaseTupleDesc(location_desc);
	}
	area_code = attribute(place, LOCATION_AREA_CODE, &area_code_isnull);
	area_name = attribute(place, LOCATION_AREA_NAME, &area_name_isnull);
	chain = attribute(place, LOCATION_CHAIN, &chain_isnull);
	in_jurisdiction = DatumGetBool(attribute(place, LOCATION_IN_JURISDICTION, &in_jurisdiction_isnull));
	match = attribute(place, LOCATION_MATCH, &isnull);
	category_code = workorder_map_category(channel, text_or_null(category, category_isnull));
	category_code = category_code ? pstrdup(category_code) : NULL;

	/*
	 * A category taken out of the catalogue (it or an ancestor inactive) is
	 * classified again by a dispatcher, as an unknown one is: it was routed
	 * and dispatched as if still in use.
	 */
	if (category_code != NULL)
	{
		const CategoryInfo *info = workorder_category(category_code);

		if (info != NULL && !info->active)
		{
			inactive_category = category_code;
			category_code = NULL;
		}
	}

	/*
	 * Dedup (part 62): a duplicate is merged after the INSERT, a suspected
	 * one waits for review; neither is routed.  A hotspot's own order (on
	 * the channel of the setting hotspot_channel) is no report of an event:
	 * it sums up the reports it is about, and dedup merged it into one of
	 * them (their place, their words), where nobody dispatched it.  Dedup
	 * does not look at it, as at a report without a category.
	 */
	if (intake_is_hotspot_channel(channel))
		category_code_for_dedup = NULL;
	else
		category_code_for_dedup = category_code;
	args[0] = category_code_for_dedup ? CStringGetTextDatum(category_code_for_dedup) : (Datum) 0;
	args[1] = point;
	args[2] = TimestampTzGetDatum(received);
	args[3] = description;
	args[4] = address;
	args[5] = reporter_phone;
	arg_nulls[0] = (category_code_for_dedup == NULL);
	arg_nulls[1] = arg_nulls[2] = arg_nulls[3] = false;
	arg_nulls[4] = address_isnull;
	arg_nulls[5] = reporter_phone_isnull;
	dup_datum = workorder_call_function(&intake.dedup_decide, 6, args, arg_nulls, &isnull);
	if (isnull)
		elog(ERROR, "submit: dedup_decide returned NULL");
	dup = DatumGetHeapTupleHeader(dup_datum);
	/*
	 * A report submitted directly is received as it is submitted (its
	 * received_at is the transaction's start only to date its deadlines): a
	 * resolve it sees came before it.  One dated by its connector or the inbox
	 * may have come before.
	 */
	dedup_settle(dup, received_explicit ? received : DT_NOEND, priority, &outcome);
	suspected = (outcome.decision != NULL && strcmp(outcome.decision, "review") == 0);

	if (category_code == NULL && inactive_category != NULL)
		reason = psprintf("category %s (channel %s's %s) is not in use: a dispatcher must classify it",
						  inactive_category, channel, TextDatumGetCString(category));
	else if (category_code == NULL)
		reason = psprintf("unknown category %s of channel %s: a dispatcher must classify it",
						  category_isnull ? "(none)" : TextDatumGetCString(category), channel);
	else if (DatumGetBool(attribute(dup, DECISION_HOLDS, &isnull)) && !isnull && !outcome.released)
		reason = outcome.reason;
	else if (!in_jurisdiction_isnull && !in_jurisdiction)
	{
		const char *fallback = workorder_setting("fallback_unit");

		if (fallback != NULL && workorder_unit_is_active(fallback))
			route_unit = pstrdup(fallback);
		route_rule_name = "fallback unit";
		reason = psprintf("out of jurisdiction (%s)",
						  area_name_isnull || area_code_isnull ? "in no known area" :
						  psprintf("%s %s", TextDatumGetCString(area_name), TextDatumGetCString(area_code)));
		if (route_unit != NULL)
			dispatched = true;
		else if (fallback == NULL)
			reason = psprintf("%s, and no fallback_unit is configured", reason);
		else
			reason = psprintf("%s, and fallback_unit %s is not an active unit", reason, fallback);
	}
	else
	{
		List	   *chosen = workorder_route_steps(category_code, channel,
												   chain_isnull ? NULL : DatumGetArrayTypeP(chain),
												   DatumGetObjectId(priority), DatumGetTextPP(description), true);

		if (chosen != NIL)
		{
			RouteStep  *step = (RouteStep *) linitial(chosen);

			dispatched = true;
			route_unit = step->unit_code;
			has_rule = step->has_rule;
			route_rule_id = step->rule_id;
			route_rule_name = step->rule_name;
			route_level = step->handling_level;
			route_assisting = step->assisting_units;
		}
		else
			reason = "no routing rule or category default resolved to a unit: a dispatcher must dispatch it";
	}
	/* A duplicate more urgent than its master says so, routed or not. */
	if (outcome.released)
		reason = reason ? psprintf("%s; %s", reason, outcome.reason) : outcome.reason;

	/*
	 * An order dispatched at intake gets its SLA policy and deadlines (part
	 * 85): the resolve deadline counted from receipt, the accept deadline from
	 * now, when the unit is sent it (a report received earlier, an inbox row
	 * drained late, was overdue for acceptance before the order existed).
	 */
	memset(&sla, 0, sizeof(sla));
	dispatched_at = Max(received, GetCurrentTransactionStartTimestamp());
	if (dispatched)
	{
		workorder_sla_intake(has_rule ? &route_rule_id : NULL, DatumGetObjectId(priority), category_code,
							 &received, &dispatched_at, &sla);
		route_sla = sla.policy;
	}

	/*
	 * The order, with the next ticket of the day in Beijing: the day it is
	 * made, also for a report received earlier (an inbox row drained late).  A
	 * ticket's number counts the global sequence from its day's first number,
	 * so a day long past could have no numbers left (WO003), and its row
	 * would be retried for ever.
	 */
	memset(nulls, ' ', sizeof(nulls));
	values[0] = Int64GetDatum(workorder_next_ticket(
		DatumGetDateADT(DirectFunctionCall1(timestamp_date,
											DirectFunctionCall2(timestamptz_zone,
																CStringGetTextDatum("Asia/Shanghai"),
																TimestampTzGetDatum(GetCurrentTransactionStartTimestamp()))))));
	values[1] = CStringGetTextDatum(channel);
	values[2] = channel_ref;
	values[3] = category;
	nulls[3] = category_isnull ? 'n' : ' ';
	values[4] = category_code ? CStringGetTextDatum(category_code) : (Datum) 0;
	nulls[4] = category_code ? ' ' : 'n';
	values[5] = priority;
	values[6] = description;
	values[7] = address;
	nulls[7] = address_isnull ? 'n' : ' ';
	values[8] = point;
	values[9] = area_code;
	nulls[9] = area_code_isnull ? 'n' : ' ';
	values[10] = chain_isnull ? PointerGetDatum(construct_empty_array(TEXTOID)) : chain;
	values[11] = match;
	values[12] = BoolGetDatum(in_jurisdiction);
	nulls[12] = in_jurisdiction_isnull ? 'n' : ' ';
	values[13] = reporter_name;
	nulls[13] = reporter_name_isnull ? 'n' : ' ';
	values[14] = reporter_phone;
	nulls[14] = reporter_phone_isnull ? 'n' : ' ';
	values[15] = PG_ARGISNULL(ARG_OCCURRED_AT) ? (Datum) 0 : PG_GETARG_DATUM(ARG_OCCURRED_AT);
	nulls[15] = PG_ARGISNULL(ARG_OCCURRED_AT) ? 'n' : ' ';
	values[16] = TimestampTzGetDatum(received);
	values[17] = PG_ARGISNULL(ARG_ATTRIBUTES) ?
		DirectFunctionCall1(jsonb_in, CStringGetDatum("{}")) : PG_GETARG_DATUM(ARG_ATTRIBUTES);
	values[18] = outcome.merging ? intake.status_merged : dispatched ? intake.status_dispatched : intake.status_new;
	values[19] = reason ? CStringGetTextDatum(reason) : (Datum) 0;
	nulls[19] = reason && !outcome.merging ? ' ' : 'n';
	values[20] = ObjectIdGetDatum(route_level);
	nulls[20] = OidIsValid(route_level) ? ' ' : 'n';
	{
		const char *center = workorder_dispatch_center();

		values[21] = center ? CStringGetTextDatum(center) : (Datum) 0;
		nulls[21] = center ? ' ' : 'n';
	}
	values[22] = route_unit ? CStringGetTextDatum(route_unit) : (Datum) 0;
	nulls[22] = route_unit ? ' ' : 'n';
	values[23] = route_assisting != (Datum) 0 ? route_assisting : PointerGetDatum(construct_empty_array(TEXTOID));
	values[24] = Int64GetDatum(route_rule_id);
	nulls[24] = has_rule ? ' ' : 'n';
	values[25] = route_sla ? CStringGetTextDatum(route_sla) : (Datum) 0;
	nulls[25] = route_sla ? ' ' : 'n';
	values[26] = TimestampTzGetDatum(sla.accept_due_at);
	values[27] = TimestampTzGetDatum(sla.resolve_due_at);
	values[28] = TimestampTzGetDatum(sla.warn_at);
	nulls[26] = nulls[27] = nulls[28] = sla.has_deadlines ? ' ' : 'n';
	values[29] = Int32GetDatum(dispatched || outcome.merging || suspected ? 2 : 1);
	values[30] = TimestampTzGetDatum(received);
	values[31] = Int64GetDatum(outcome.master_id);
	nulls[31] = outcome.merging ? ' ' : 'n';
	if (SPI_execute_plan(intake.insert_plan, values, nulls, false, 0) != SPI_OK_INSERT_RETURNING)
		elog(ERROR, "submit: the INSERT of the order failed");
	if (SPI_processed == 0)
	{
		/* A concurrent retry of the same report committed first: return its order. */
		order = find_order(CStringGetTextDatum(channel), channel_ref, &found);
		if (!found)
			elog(ERROR, "submit: the order of channel %s and reference %s is gone", channel,
				 TextDatumGetCString(channel_ref));
		order = existing_order(order);
		retry_must_match(fcinfo, order, channel, channel_ref);
		SPI_finish();
		PG_RETURN_DATUM(order);
	}
	order = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);

	/*
	 * The events of its intake: the report arrives; it is dispatched if it
	 * was routed, suspected, or merged into its master (which logs that it
	 * was).  What dedup saw and decided is recorded first, and the master
	 * counts the report.
	 */
	{
		Datum		event_values[EVENT_MAX_NPARAMS];
		char		event_nulls[EVENT_MAX_NPARAMS];
		Datum		order_id = attribute(DatumGetHeapTupleHeader(order), 1, &isnull);
		Datum		ticket = attribute(DatumGetHeapTupleHeader(order), 2, &isnull);
		SPIPlanPtr	events_plan = intake.submitted_plan;

		memset(event_nulls, ' ', sizeof(event_nulls));
		event_values[0] = order_id;
		event_values[1] = TimestampTzGetDatum(received);
		event_values[2] = CStringGetTextDatum(channel);
		event_values[3] = category;
		event_nulls[3] = category_isnull ? 'n' : ' ';
		event_values[4] = values[4];
		event_nulls[4] = nulls[4];
		event_values[5] = area_code;
		event_nulls[5] = area_code_isnull ? 'n' : ' ';
		event_values[6] = match;
		event_values[7] = reason && !dispatched ? CStringGetTextDatum(reason) : (Datum) 0;
		event_nulls[7] = reason && !dispatched ? ' ' : 'n';
		if (outcome.decision != NULL)
			dedup_carry_out(&outcome, order_id, &event_values[10], &event_values[11],
							&event_values[12], &isnull);
		if (dispatched)
		{
			events_plan = intake.dispatched_plan;
			event_values[8] = values[22];
			event_nulls[8] = nulls[22];
			event_values[9] = Int64GetDatum(route_rule_id);
			event_nulls[9] = nulls[24];
			event_values[10] = route_rule_name ? CStringGetTextDatum(route_rule_name) : (Datum) 0;
			event_nulls[10] = route_rule_name ? ' ' : 'n';
			event_values[11] = values[20];
			event_nulls[11] = nulls[20];
			event_values[12] = values[19];
			event_nulls[12] = nulls[19];
			event_values[13] = TimestampTzGetDatum(dispatched_at);
			event_nulls[13] = ' ';
		}
		else if (suspected || outcome.merging)
		{
			events_plan = suspected ? intake.suspected_plan : intake.merged_plan;
			event_values[8] = Int64GetDatum(outcome.master_id);
			event_values[9] = CStringGetTextDatum(outcome.master_ticket);
			if (suspected)
			{
				event_values[10] = outcome.score;
				event_nulls[10] = outcome.score_isnull ? 'n' : ' ';
			}
			else
			{
				/* $11 to $13 are the master's, from dedup_carry_out. */
				event_nulls[12] = isnull ? 'n' : ' ';
				event_values[13] = ticket;
			}
		}
		if (SPI_execute_plan(events_plan, event_values, event_nulls, false, 0) != SPI_OK_INSERT)
			elog(ERROR, "submit: the INSERT of the order's events failed");
	}
	if (outcome.apply_in_sql)
	{
		bool		apply_nulls[2] = {false, false};
		Datum		apply_args[2] = {order, dup_datum};

		order = workorder_call_function(&intake.dedup_apply, 2, apply_args, apply_nulls, &isnull);
	}
	order = SPI_datumTransfer(order, false, -1);
	SPI_finish();
	PG_RETURN_DATUM(order);
}
