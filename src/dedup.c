/*-------------------------------------------------------------------------
 *
 * dedup.c
 *	  The time axis of the dedup index.
 *
 * Dedup looks for earlier reports near a new one in space and in time.  The
 * index that finds them (orders_dedup_idx, sql/install/62_dedup.sql) is an
 * n-dimensional GiST index on the point (lon, lat, day), so that one index
 * scan bounds all three at once and its cost follows the number of reports in
 * the searched box, not the length of the history.  The day of an instant must
 * be IMMUTABLE for an index expression; extract(epoch FROM timestamptz) is only
 * STABLE (other fields of it depend on the time zone), so the day is computed
 * here, from the instant's microseconds since 2000-01-01 00:00 UTC.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "datatype/timestamp.h"
#include "utils/float.h"
#include "utils/timestamp.h"

#include "workorder.h"

PG_FUNCTION_INFO_V1(workorder_dedup_day);

/*
 * workorder_dedup_day is workorder.dedup_day(timestamptz): the instant in
 * days since 2000-01-01 00:00 UTC, with a fraction; +-infinity stay infinite.
 */
Datum
workorder_dedup_day(PG_FUNCTION_ARGS)
{
	TimestampTz t = PG_GETARG_TIMESTAMPTZ(0);

	if (TIMESTAMP_IS_NOBEGIN(t))
		PG_RETURN_FLOAT8(-get_float8_infinity());
	if (TIMESTAMP_IS_NOEND(t))
		PG_RETURN_FLOAT8(get_float8_infinity());
	PG_RETURN_FLOAT8((double) t / (double) USECS_PER_DAY);
}
