/*-------------------------------------------------------------------------
 *
 * intake.c
 *	  Checks of a report's arguments on the intake path, in C:
 *	  check_text(), which submit() calls for each of a report's five texts.
 *
 * It was a plpgsql function; each call paid for a function call with a
 * pinned search_path and a few expressions (callgrind: about 25 thousand
 * instructions a call, five calls a submit).  The rules and the messages
 * are the plpgsql's (sql/install/60_submit.sql).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "mb/pg_wchar.h"
#include "utils/builtins.h"

#include "workorder.h"

/*
 * The blanks trimmed from a text, as the action texts trim them: space, tab,
 * line feed, carriage return, form feed, vertical tab, no-break space
 * (U+00A0) and ideographic space (U+3000), in UTF-8.
 */
static const char intake_blanks_utf8[] = " \t\n\r\f\v\xc2\xa0\xe3\x80\x80";

PG_FUNCTION_INFO_V1(intake_check_text);

/*
 * intake_check_text is workorder.check_text(value, what, max_length,
 * required): the value trimmed of blanks (NULL when blank), or WO303 when it
 * is required and blank, or longer than max_length characters.
 */
Datum
intake_check_text(PG_FUNCTION_ARGS)
{
	const char *what = PG_ARGISNULL(1) ? "" : text_to_cstring(PG_GETARG_TEXT_PP(1));
	Datum		trimmed = (Datum) 0;
	bool		blank = true;

	if (!PG_ARGISNULL(0))
	{
		char	   *blanks = pg_any_to_server(intake_blanks_utf8, strlen(intake_blanks_utf8), PG_UTF8);

		trimmed = DirectFunctionCall2(btrim, PG_GETARG_DATUM(0), CStringGetTextDatum(blanks));
		blank = (VARSIZE_ANY_EXHDR(DatumGetPointer(trimmed)) == 0);
	}
	if (blank && !PG_ARGISNULL(3) && PG_GETARG_BOOL(3))
		ereport(ERROR,
				(errcode(ERRCODE_WO_INVALID_REPORT_TEXT),
				 errmsg("the report has no %s", what),
				 errdetail("The %s is NULL or blank.", what),
				 errhint("Every report needs a %s.", what)));
	if (blank)
		PG_RETURN_NULL();
	if (!PG_ARGISNULL(2))
	{
		int32		max_length = PG_GETARG_INT32(2);
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
	PG_RETURN_DATUM(trimmed);
}
