/*-------------------------------------------------------------------------
 *
 * ticket.c
 *	  The workorder.ticket base type: the order number a citizen reads out
 *	  over the phone.
 *
 * A ticket is written YYYYMMDD-NNNNNN-C: the day the order was issued, a
 * sequence number within that day (000001 to 999999) and a check digit.
 * The check digit is computed with the Damm algorithm over the 14 digits
 * before it, which catches every single-digit error and every transposition
 * of two adjacent digits, the two mistakes people make most when they read
 * or type a number.  Input also accepts the same 15 digits without dashes,
 * as typed on a phone keypad, and ignores surrounding whitespace.
 *
 * Internally a ticket is the int64 yyyymmdd * 1000000 + seq, stored by
 * value in 8 bytes.  The check digit is not stored; it is recomputed on
 * output.  Comparing the int64s orders tickets by (day, seq), so btree and
 * hash support reduce to integer comparison and hashing.
 *
 * Days run from 2000-01-01 to 2099-12-31.  The four-digit year would allow
 * more, but a ticket outside this century is far more likely to be a typing
 * mistake than a real order, and the narrow range keeps such mistakes out.
 *
 * Input errors carry ERRCODE_WO_INVALID_TICKET (WO001) when the text cannot
 * be a ticket at all and ERRCODE_WO_TICKET_CHECK_DIGIT (WO002) when it is
 * well formed but its check digit does not match, which almost always means
 * a digit was misheard or mistyped.  Binary input and make_ticket() raise
 * WO001 too for values that are not tickets.  The check digit is verified
 * before the date and sequence number, so that a mistyped digit that happens to turn
 * the date into, say, the 31st of April is still reported as a typo.
 *
 * This file also holds the support functions of the comparison operators,
 * the btree and hash operator classes, and the helpers make_ticket,
 * ticket_day, ticket_seq and ticket_check_digit, and next_ticket(), which
 * issues the next ticket of a day (sql/install/10_ticket.sql says how; it
 * was plpgsql there, and is C because submit() issues one for every
 * report).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "commands/sequence.h"
#include "common/hashfn.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "libpq/pqformat.h"
#include "mb/pg_wchar.h"
#include "parser/scansup.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/datetime.h"
#include "utils/lsyscache.h"
#include "utils/sortsupport.h"

#include "workorder.h"

/*
 * The type is declared PASSEDBYVALUE with INTERNALLENGTH 8, which
 * PostgreSQL only allows where a Datum holds 8 bytes.
 */
#if SIZEOF_DATUM < 8
#error "workorder.ticket is an 8-byte pass-by-value type and needs a 64-bit Datum"
#endif

/* A ticket's internal value: yyyymmdd * TICKET_SEQ_RADIX + seq. */
typedef int64 Ticket;

#define DatumGetTicket(X)		DatumGetInt64(X)
#define TicketGetDatum(X)		Int64GetDatum(X)
#define PG_GETARG_TICKET(n)		DatumGetTicket(PG_GETARG_DATUM(n))
#define PG_RETURN_TICKET(x)		return TicketGetDatum(x)

#define TICKET_SEQ_RADIX		INT64CONST(1000000)
#define TICKET_SEQ_MIN			1
#define TICKET_SEQ_MAX			999999
#define TICKET_YEAR_MIN			2000
#define TICKET_YEAR_MAX			2099

/* Digits of date and sequence number, and with the check digit. */
#define TICKET_PAYLOAD_DIGITS	14
#define TICKET_DIGITS			15
/* Length of the text form YYYYMMDD-NNNNNN-C, and where its dashes are. */
#define TICKET_TEXT_LEN			17
#define TICKET_DASH1			8
#define TICKET_DASH2			15

#define TICKET_FORMAT_DETAIL \
	"A ticket number is written YYYYMMDD-NNNNNN-C (issue date, sequence number, check digit), or as the same 15 digits without dashes."
#define TICKET_FORMAT_HINT \
	"Enter the number as printed on the receipt, for example 20210928-000123-7."

/*
 * damm_table is the totally anti-symmetric quasigroup of order 10 given by
 * H. Michael Damm (2004).  Running a number's digits through it, starting
 * from 0, ends in 0 exactly when the number's last digit is its check digit.
 */
static const uint8 damm_table[10][10] = {
	{0, 3, 1, 7, 5, 9, 8, 6, 4, 2},
	{7, 0, 9, 2, 1, 5, 4, 8, 6, 3},
	{4, 2, 0, 6, 8, 7, 1, 3, 5, 9},
	{1, 7, 5, 0, 9, 8, 3, 4, 2, 6},
	{6, 1, 2, 3, 0, 4, 5, 9, 7, 8},
	{3, 6, 7, 4, 2, 0, 9, 5, 8, 1},
	{5, 8, 6, 9, 7, 2, 0, 1, 3, 4},
	{8, 9, 4, 5, 3, 6, 2, 0, 1, 7},
	{9, 4, 3, 8, 6, 1, 7, 2, 0, 5},
	{2, 5, 8, 1, 4, 3, 6, 7, 9, 0},
};

static int	damm_digit(const int *digits, int ndigits);
static void ticket_payload_digits(Ticket t, int *digits);
static bool ticket_day_is_valid(int year, int month, int day);
static const char *ticket_value_problem(Ticket t);
static Ticket ticket_parse(const char *str);
static const char *ticket_shown(const char *str, int len);

PG_FUNCTION_INFO_V1(ticket_in);
PG_FUNCTION_INFO_V1(ticket_out);
PG_FUNCTION_INFO_V1(ticket_recv);
PG_FUNCTION_INFO_V1(ticket_send);
PG_FUNCTION_INFO_V1(ticket_eq);
PG_FUNCTION_INFO_V1(ticket_ne);
PG_FUNCTION_INFO_V1(ticket_lt);
PG_FUNCTION_INFO_V1(ticket_le);
PG_FUNCTION_INFO_V1(ticket_gt);
PG_FUNCTION_INFO_V1(ticket_ge);
PG_FUNCTION_INFO_V1(ticket_cmp);
PG_FUNCTION_INFO_V1(ticket_sortsupport);
PG_FUNCTION_INFO_V1(ticket_hash);
PG_FUNCTION_INFO_V1(ticket_hash_extended);
PG_FUNCTION_INFO_V1(ticket_make);
PG_FUNCTION_INFO_V1(ticket_next);
PG_FUNCTION_INFO_V1(ticket_day);
PG_FUNCTION_INFO_V1(ticket_seq);
PG_FUNCTION_INFO_V1(ticket_check_digit);

/*
 * damm_digit returns the Damm check digit of the given digits (each 0..9).
 * Given a number that ends in its own check digit, it returns 0.
 */
static int
damm_digit(const int *digits, int ndigits)
{
	int			interim = 0;
	int			i;

	for (i = 0; i < ndigits; i++)
		interim = damm_table[interim][digits[i]];
	return interim;
}

/*
 * ticket_payload_digits writes the 14 digits of date and sequence number of
 * a ticket into digits[0..13], most significant first.
 */
static void
ticket_payload_digits(Ticket t, int *digits)
{
	int			i;

	for (i = TICKET_PAYLOAD_DIGITS - 1; i >= 0; i--)
	{
		digits[i] = (int) (t % 10);
		t /= 10;
	}
}

/*
 * ticket_day_is_valid says whether year-month-day is a calendar date within
 * the ticket range 2000-01-01 .. 2099-12-31.
 */
static bool
ticket_day_is_valid(int year, int month, int day)
{
	if (year < TICKET_YEAR_MIN || year > TICKET_YEAR_MAX)
		return false;
	if (month < 1 || month > 12)
		return false;
	return day >= 1 && day <= day_tab[isleap(year) ? 1 : 0][month - 1];
}

/*
 * ticket_value_problem checks an internal value, as received in binary form,
 * and returns what is wrong with it, or NULL when it is a ticket.
 */
static const char *
ticket_value_problem(Ticket t)
{
	int64		ymd;
	int			seq;

	if (t < 0)
		return "it is negative";
	ymd = t / TICKET_SEQ_RADIX;
	seq = (int) (t % TICKET_SEQ_RADIX);
	if (!ticket_day_is_valid((int) (ymd / 10000), (int) (ymd / 100 % 100),
							 (int) (ymd % 100)))
		return "its date part is not a day between 2000-01-01 and 2099-12-31";
	if (seq < TICKET_SEQ_MIN)
		return "its sequence number is 0";
	return NULL;
}

/*
 * ticket_shown returns the first characters of an input of len bytes, as an
 * error message shows it: whole up to TICKET_SHOWN_MAX bytes, else clipped on
 * a character boundary with "..." appended, so that a megabyte of input does
 * not become a megabyte of error message (and of server log).
 */
#define TICKET_SHOWN_MAX		80

static const char *
ticket_shown(const char *str, int len)
{
	int			clipped;

	if (len <= TICKET_SHOWN_MAX)
		return pnstrdup(str, len);
	clipped = pg_mbcliplen(str, len, TICKET_SHOWN_MAX);
	return psprintf("%s...", pnstrdup(str, clipped));
}

/*
 * ticket_parse turns the text form of a ticket into its internal value, or
 * raises WO001 (not a ticket) or WO002 (check digit mismatch).
 */
static Ticket
ticket_parse(const char *str)
{
	const char *start = str;
	const char *end;
	int			digits[TICKET_DIGITS];
	int			ndigits = 0;
	bool		dashed;
	const char *p;
	int			i;
	int			year,
				month,
				day,
				seq;

	/* Strip surrounding whitespace. */
	while (*start != '\0' && scanner_isspace(*start))
		start++;
	end = start + strlen(start);
	while (end > start && scanner_isspace(end[-1]))
		end--;

	/*
	 * YYYYMMDD-NNNNNN without the check digit is a common slip (the last
	 * digit stands apart and gets left off), so it gets its own detail.
	 */
	if (end - start == TICKET_DASH2 && start[TICKET_DASH1] == '-' &&
		strspn(start, "0123456789") == TICKET_DASH1 &&
		strspn(start + TICKET_DASH1 + 1, "0123456789") == TICKET_DASH2 - TICKET_DASH1 - 1)
		ereport(ERROR,
				(errcode(ERRCODE_WO_INVALID_TICKET),
				 errmsg("invalid ticket number \"%s\"", ticket_shown(str, strlen(str))),
				 errdetail("The check digit, the last digit of YYYYMMDD-NNNNNN-C, is missing."),
				 errhint("Ask for the whole number, including its last digit.")));

	/* Either YYYYMMDD-NNNNNN-C or 15 digits in a row. */
	if (end - start == TICKET_TEXT_LEN &&
		start[TICKET_DASH1] == '-' && start[TICKET_DASH2] == '-')
		dashed = true;
	else if (end - start == TICKET_DIGITS)
		dashed = false;
	else
		ereport(ERROR,
				(errcode(ERRCODE_WO_INVALID_TICKET),
				 errmsg("invalid ticket number \"%s\"", ticket_shown(str, strlen(str))),
				 errdetail(TICKET_FORMAT_DETAIL),
				 errhint(TICKET_FORMAT_HINT)));

	for (p = start; p < end; p++)
	{
		if (dashed && (p - start == TICKET_DASH1 || p - start == TICKET_DASH2))
			continue;
		if (*p < '0' || *p > '9')
			ereport(ERROR,
					(errcode(ERRCODE_WO_INVALID_TICKET),
					 errmsg("invalid ticket number \"%s\"", ticket_shown(str, strlen(str))),
					 errdetail("It holds a character other than a digit where a digit belongs. "
							   TICKET_FORMAT_DETAIL),
					 errhint(TICKET_FORMAT_HINT)));
		digits[ndigits++] = *p - '0';
	}
	Assert(ndigits == TICKET_DIGITS);

	/*
	 * The check digit comes first: a number whose check digit does not match
	 * was mistyped, whatever its date part now looks like.  The expected
	 * digit is deliberately not shown, lest someone "correct" the check digit
	 * instead of the digit that is actually wrong.
	 */
	if (damm_digit(digits, TICKET_DIGITS) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_WO_TICKET_CHECK_DIGIT),
				 errmsg("invalid ticket number \"%s\"", ticket_shown(str, strlen(str))),
				 errdetail("The check digit %d does not match the 14 digits before it, so the number was probably mistyped or misheard.",
						   digits[TICKET_DIGITS - 1]),
				 errhint("Read the number again, or ask the citizen to repeat it digit by digit.")));

	year = digits[0] * 1000 + digits[1] * 100 + digits[2] * 10 + digits[3];
	month = digits[4] * 10 + digits[5];
	day = digits[6] * 10 + digits[7];
	seq = 0;
	for (i = 8; i < TICKET_PAYLOAD_DIGITS; i++)
		seq = seq * 10 + digits[i];

	if (year < TICKET_YEAR_MIN || year > TICKET_YEAR_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_WO_INVALID_TICKET),
				 errmsg("invalid ticket number \"%s\"", ticket_shown(str, strlen(str))),
				 errdetail("Its date part is in the year %04d; tickets are issued from 2000 to 2099.",
						   year),
				 errhint("The first eight digits are the issue date, YYYYMMDD; check them.")));
	if (!ticket_day_is_valid(year, month, day))
		ereport(ERROR,
				(errcode(ERRCODE_WO_INVALID_TICKET),
				 errmsg("invalid ticket number \"%s\"", ticket_shown(str, strlen(str))),
				 errdetail("Its date part %04d%02d%02d is not a calendar date.",
						   year, month, day),
				 errhint("The first eight digits are the issue date, YYYYMMDD; check them.")));
	if (seq < TICKET_SEQ_MIN)
		ereport(ERROR,
				(errcode(ERRCODE_WO_INVALID_TICKET),
				 errmsg("invalid ticket number \"%s\"", ticket_shown(str, strlen(str))),
				 errdetail("Its sequence number is 000000; sequence numbers run from 000001 to 999999."),
				 errhint("Digits 9 to 14 are the sequence number within the day; check them.")));

	return (Ticket) (year * 10000 + month * 100 + day) * TICKET_SEQ_RADIX + seq;
}

/*
 * ticket_in is the type's input function: text form to ticket.
 */
Datum
ticket_in(PG_FUNCTION_ARGS)
{
	char	   *str = PG_GETARG_CSTRING(0);

	PG_RETURN_TICKET(ticket_parse(str));
}

/*
 * ticket_out is the type's output function: YYYYMMDD-NNNNNN-C, with the
 * check digit computed afresh.
 */
Datum
ticket_out(PG_FUNCTION_ARGS)
{
	Ticket		t = PG_GETARG_TICKET(0);
	int			digits[TICKET_PAYLOAD_DIGITS];
	char	   *result = palloc(TICKET_TEXT_LEN + 1);

	ticket_payload_digits(t, digits);
	snprintf(result, TICKET_TEXT_LEN + 1, "%08d-%06d-%d",
			 (int) (t / TICKET_SEQ_RADIX), (int) (t % TICKET_SEQ_RADIX),
			 damm_digit(digits, TICKET_PAYLOAD_DIGITS));
	PG_RETURN_CSTRING(result);
}

/*
 * ticket_recv is the type's binary input function: an int8 holding the
 * internal value.  The value is checked like text input is, since a client
 * can send any eight bytes.
 */
Datum
ticket_recv(PG_FUNCTION_ARGS)
{
	StringInfo	buf = (StringInfo) PG_GETARG_POINTER(0);
	Ticket		t = (Ticket) pq_getmsgint64(buf);
	const char *problem = ticket_value_problem(t);

	if (problem != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_WO_INVALID_TICKET),
				 errmsg("invalid ticket number in binary input"),
				 errdetail("The value " INT64_FORMAT " is not a ticket: %s.",
						   t, problem),
				 errhint("Binary tickets are the int8 yyyymmdd * 1000000 + seq; check the client's encoder.")));
	PG_RETURN_TICKET(t);
}

/*
 * ticket_send is the type's binary output function: the internal value as
 * an int8, without the check digit.
 */
Datum
ticket_send(PG_FUNCTION_ARGS)
{
	Ticket		t = PG_GETARG_TICKET(0);
	StringInfoData buf;

	pq_begintypsend(&buf);
	pq_sendint64(&buf, (uint64) t);
	PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
}

/* ticket_eq implements ticket = ticket. */
Datum
ticket_eq(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(PG_GETARG_TICKET(0) == PG_GETARG_TICKET(1));
}

/* ticket_ne implements ticket <> ticket. */
Datum
ticket_ne(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(PG_GETARG_TICKET(0) != PG_GETARG_TICKET(1));
}

/* ticket_lt implements ticket < ticket: earlier day, or same day and lower seq. */
Datum
ticket_lt(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(PG_GETARG_TICKET(0) < PG_GETARG_TICKET(1));
}

/* ticket_le implements ticket <= ticket. */
Datum
ticket_le(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(PG_GETARG_TICKET(0) <= PG_GETARG_TICKET(1));
}

/* ticket_gt implements ticket > ticket. */
Datum
ticket_gt(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(PG_GETARG_TICKET(0) > PG_GETARG_TICKET(1));
}

/* ticket_ge implements ticket >= ticket. */
Datum
ticket_ge(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(PG_GETARG_TICKET(0) >= PG_GETARG_TICKET(1));
}

/*
 * ticket_cmp is btree support function 1: it returns -1, 0 or 1 as the first
 * ticket sorts before, with or after the second.
 */
Datum
ticket_cmp(PG_FUNCTION_ARGS)
{
	Ticket		a = PG_GETARG_TICKET(0);
	Ticket		b = PG_GETARG_TICKET(1);

	PG_RETURN_INT32(a < b ? -1 : (a > b ? 1 : 0));
}

/*
 * ticket_sortsupport is btree support function 2.  A ticket Datum is the
 * signed int64 itself, so the sort can use the core's signed Datum
 * comparator, which tuplesort recognises and runs on its fast path.
 */
Datum
ticket_sortsupport(PG_FUNCTION_ARGS)
{
	SortSupport ssup = (SortSupport) PG_GETARG_POINTER(0);

	ssup->comparator = ssup_datum_signed_cmp;
	PG_RETURN_VOID();
}

/*
 * ticket_hash is hash support function 1.  It hashes the internal value as
 * int8 does, so the hash of a ticket does not depend on the platform's byte
 * order (which matters for hash partitioning).
 */
Datum
ticket_hash(PG_FUNCTION_ARGS)
{
	return DirectFunctionCall1(hashint8, Int64GetDatum(PG_GETARG_TICKET(0)));
}

/*
 * ticket_hash_extended is hash support function 2: the 64-bit, seeded
 * variant of ticket_hash.
 */
Datum
ticket_hash_extended(PG_FUNCTION_ARGS)
{
	return DirectFunctionCall2(hashint8extended,
							   Int64GetDatum(PG_GETARG_TICKET(0)),
							   PG_GETARG_DATUM(1));
}

/*
 * ticket_make implements workorder.make_ticket(day date, seq integer): the
 * ticket with that issue day and sequence number.  Bad arguments raise WO001,
 * as bad text does.
 */
Datum
ticket_make(PG_FUNCTION_ARGS)
{
	DateADT		date = PG_GETARG_DATEADT(0);
	int32		seq = PG_GETARG_INT32(1);
	int			year,
				month,
				day;

	/* The day is shown as YYYY-MM-DD whatever the DateStyle. */
	if (DATE_NOT_FINITE(date))
		ereport(ERROR,
				(errcode(ERRCODE_WO_INVALID_TICKET),
				 errmsg("cannot make a ticket number for day %s",
						DATE_IS_NOBEGIN(date) ? "-infinity" : "infinity"),
				 errdetail("Tickets are issued for days from 2000-01-01 to 2099-12-31."),
				 errhint("Pass a finite date in that range.")));

	j2date(date + POSTGRES_EPOCH_JDATE, &year, &month, &day);
	if (!ticket_day_is_valid(year, month, day))
		ereport(ERROR,
				(errcode(ERRCODE_WO_INVALID_TICKET),
				 errmsg("cannot make a ticket number for day %04d-%02d-%02d",
						year, month, day),
				 errdetail("Tickets are issued for days from 2000-01-01 to 2099-12-31."),
				 errhint("Pass a date in that range.")));
	if (seq < TICKET_SEQ_MIN || seq > TICKET_SEQ_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_WO_INVALID_TICKET),
				 errmsg("cannot make a ticket number with sequence number %d", seq),
				 errdetail("Sequence numbers run from 1 to 999999 within a day."),
				 errhint("Pass a sequence number in that range.")));

	PG_RETURN_TICKET((Ticket) (year * 10000 + month * 100 + day) * TICKET_SEQ_RADIX + seq);
}

/*
 * ticket_day implements workorder.ticket_day(ticket): the day the ticket
 * was issued for.
 */
Datum
ticket_day(PG_FUNCTION_ARGS)
{
	Ticket		t = PG_GETARG_TICKET(0);
	int			ymd = (int) (t / TICKET_SEQ_RADIX);

	PG_RETURN_DATEADT(date2j(ymd / 10000, ymd / 100 % 100, ymd % 100) -
					  POSTGRES_EPOCH_JDATE);
}

/*
 * ticket_seq implements workorder.ticket_seq(ticket): the ticket's sequence
 * number within its day.
 */
Datum
ticket_seq(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT32((int32) (PG_GETARG_TICKET(0) % TICKET_SEQ_RADIX));
}

/*
 * ticket_check_digit implements workorder.ticket_check_digit(text): the Damm
 * check digit of 14 digits, given as YYYYMMDDNNNNNN or YYYYMMDD-NNNNNN.  It
 * only computes the digit, and does not ask whether the date is real; a
 * phone menu or a form can use it to validate as the digits come in.
 */
Datum
ticket_check_digit(PG_FUNCTION_ARGS)
{
	text	   *arg = PG_GETARG_TEXT_PP(0);
	const char *s = VARDATA_ANY(arg);
	int			len = VARSIZE_ANY_EXHDR(arg);
	int			digits[TICKET_PAYLOAD_DIGITS];
	int			ndigits = 0;
	bool		dashed = (len == TICKET_PAYLOAD_DIGITS + 1 && s[TICKET_DASH1] == '-');
	bool		ok = (len == TICKET_PAYLOAD_DIGITS || dashed);
	int			i;

	for (i = 0; ok && i < len; i++)
	{
		if (dashed && i == TICKET_DASH1)
			continue;
		if (s[i] < '0' || s[i] > '9')
			ok = false;
		else
			digits[ndigits++] = s[i] - '0';
	}
	if (!ok)
		ereport(ERROR,
				(errcode(ERRCODE_WO_INVALID_TICKET),
				 errmsg("invalid ticket number prefix \"%s\"", ticket_shown(s, len)),
				 errdetail("A check digit is computed over 14 digits, YYYYMMDDNNNNNN or YYYYMMDD-NNNNNN."),
				 errhint("Pass the date and sequence number without the check digit.")));

	PG_RETURN_INT32(damm_digit(digits, TICKET_PAYLOAD_DIGITS));
}

/* ticket_day_text returns a finite day as YYYY-MM-DD, whatever the DateStyle. */
static char *
ticket_day_text(DateADT day)
{
	int			year,
				month,
				mday;

	j2date(day + POSTGRES_EPOCH_JDATE, &year, &month, &mday);
	return psprintf("%04d-%02d-%02d", year, month, mday);
}

/*
 * How many times next_ticket draws again for a number past the day's first
 * one: once suffices with CACHE 1; a sequence that caches values (an owner
 * tuning it) may need as many draws as its cache holds.
 */
#define TICKET_MAX_REDRAWS		10000

/* The statements of next_ticket, prepared once per backend. */
static SPIPlanPtr ticket_day_first_plan = NULL;
static SPIPlanPtr ticket_day_insert_plan = NULL;

/*
 * ticket_day_first returns the first_number of a day's row in
 * workorder.ticket_days: the one there, or, when there is none, n, which it
 * inserts; a concurrent creator of the row may win, and then its number is
 * returned (a new statement, so under READ COMMITTED it sees the row).
 * SPI must be connected.
 */
static int64
ticket_day_first(DateADT day, int64 n)
{
	Oid			types[2] = {DATEOID, INT8OID};
	Datum		args[2] = {DateADTGetDatum(day), Int64GetDatum(n)};
	bool		isnull;
	int			attempt;

	if (ticket_day_first_plan == NULL)
		ticket_day_first_plan = workorder_keep_plan(
			"SELECT d.first_number FROM workorder.ticket_days d WHERE d.day OPERATOR(pg_catalog.=) $1", 1, types);
	if (ticket_day_insert_plan == NULL)
		ticket_day_insert_plan = workorder_keep_plan(
			"INSERT INTO workorder.ticket_days AS d (day, first_number) VALUES ($1, $2) "
			"ON CONFLICT ON CONSTRAINT ticket_days_pkey DO NOTHING RETURNING d.first_number", 2, types);

	for (attempt = 0; attempt < 2; attempt++)
	{
		if (SPI_execute_plan(ticket_day_first_plan, args, NULL, false, 1) != SPI_OK_SELECT)
			elog(ERROR, "next_ticket: the day's query failed");
		if (SPI_processed == 1)
			return DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
		if (attempt == 0)
		{
			if (SPI_execute_plan(ticket_day_insert_plan, args, NULL, false, 1) != SPI_OK_INSERT_RETURNING)
				elog(ERROR, "next_ticket: the day's insert failed");
			if (SPI_processed == 1)
				return DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
		}
	}
	elog(ERROR, "next_ticket: the row of day %s is gone", ticket_day_text(day));
	return 0;					/* not reached */
}

/*
 * workorder_next_ticket issues the next ticket of a day: the next number of
 * workorder.ticket_number_seq, counted from the day's first_number.  The
 * first caller of a day creates the day's row; callers that race it wait for
 * that one insert to commit, once a day.  A caller may have drawn its number
 * before the row's creator drew the first_number; its sequence number would
 * then be below 1, and it draws again: the sequence is increasing, so the
 * second number is above first_number.  That holds while every session draws
 * from the sequence itself (CACHE 1, as part 10 makes it); with a cache, a
 * session's numbers lag behind, so it draws until it passes first_number, at
 * most TICKET_MAX_REDRAWS times, and then says what is wrong (a sequence
 * number of -47 and a hint to pass one from 1 to 999999 came out of submit()).
 * WO001 for a day outside the ticket range, WO003 when the day has no numbers
 * left.
 */
Ticket
workorder_next_ticket(DateADT day)
{
	Oid			seq_oid;
	int64		n;
	int64		first;
	int64		seq;
	int			redraws;

	/* Reject days outside the ticket range before touching anything. */
	(void) DirectFunctionCall2(ticket_make, DateADTGetDatum(day), Int32GetDatum(1));

	seq_oid = get_relname_relid("ticket_number_seq", get_namespace_oid("workorder", false));
	if (!OidIsValid(seq_oid))
		elog(ERROR, "next_ticket: workorder.ticket_number_seq does not exist");
	n = nextval_internal(seq_oid, true);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	first = ticket_day_first(day, n);
	SPI_finish();

	seq = n - first + 1;
	for (redraws = 0; seq < 1; redraws++)
	{
		if (redraws >= TICKET_MAX_REDRAWS)
			ereport(ERROR,
					(errcode(ERRCODE_WO_TICKETS_EXHAUSTED),
					 errmsg("cannot issue a ticket for %s: workorder.ticket_number_seq runs behind the day's first number",
							ticket_day_text(day)),
					 errdetail("The day's numbers start at sequence value " INT64_FORMAT "; this session drew " INT64_FORMAT
							   " after %d draws.", first, n, redraws + 1),
					 errhint("The sequence must not cache values: ALTER SEQUENCE workorder.ticket_number_seq CACHE 1.")));
		n = nextval_internal(seq_oid, true);
		seq = n - first + 1;
	}
	if (seq > TICKET_SEQ_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_WO_TICKETS_EXHAUSTED),
				 errmsg("no ticket numbers left for %s", ticket_day_text(day)),
				 errdetail("The next sequence number would be " INT64_FORMAT "; a day has at most 999999.", seq),
				 errhint("Issue the ticket for another day, or widen the ticket format.")));
	return DatumGetTicket(DirectFunctionCall2(ticket_make, DateADTGetDatum(day), Int32GetDatum((int32) seq)));
}

/*
 * ticket_next implements workorder.next_ticket(day date): the next ticket of
 * the day; WO001 for a NULL day.
 */
Datum
ticket_next(PG_FUNCTION_ARGS)
{
	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_WO_INVALID_TICKET),
				 errmsg("cannot issue a ticket for a null day"),
				 errdetail("workorder.next_ticket was called with day => NULL."),
				 errhint("Pass the issue day, or omit it for today.")));
	PG_RETURN_TICKET(workorder_next_ticket(PG_GETARG_DATEADT(0)));
}
