/*-------------------------------------------------------------------------
 *
 * dedup.c
 *	  The time axis of the dedup index.
 *
 * Dedup looks for earlier reports near a new one in space and in time.  The
 * index that finds them (orders_dedup_idx, sql/install/62_dedup.sql) is an
 * n-dimensional GiST index on the point (lon, lat, time), so that one index
 * scan bounds all three at once and its cost follows the number of reports in
 * the searched box, not the length of the history.  The time coordinate must
 * be IMMUTABLE for an index expression; extract(epoch FROM timestamptz) is only
 * STABLE (other fields of it depend on the time zone), so it is computed here,
 * from the instant's microseconds since 2000-01-01 00:00 UTC.
 *
 * The scale matters: an R-tree splits its pages along the axis of largest
 * extent, so the three axes must be commensurate with the boxes searched (a
 * radius of tens to hundreds of metres, a window of days).  With days as the
 * unit, against degrees of longitude, the pages would be slabs of time that
 * each span the whole district, and a search would read every report of the
 * window.  One day counts as DEDUP_DEGREES_PER_DAY, about 100 m of latitude.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "datatype/timestamp.h"
#include "utils/float.h"
#include "utils/timestamp.h"

#include "workorder.h"

/* What one day weighs on the time axis, in degrees of the spatial axes. */
#define DEDUP_DEGREES_PER_DAY	0.001

PG_FUNCTION_INFO_V1(workorder_dedup_time_axis);

/*
 * workorder_dedup_time_axis is workorder.dedup_time_axis(timestamptz): the
 * instant on the index's time axis, DEDUP_DEGREES_PER_DAY per day since
 * 2000-01-01 00:00 UTC; +-infinity stay infinite.
 */
Datum
workorder_dedup_time_axis(PG_FUNCTION_ARGS)
{
	TimestampTz t = PG_GETARG_TIMESTAMPTZ(0);

	if (TIMESTAMP_IS_NOBEGIN(t))
		PG_RETURN_FLOAT8(-get_float8_infinity());
	if (TIMESTAMP_IS_NOEND(t))
		PG_RETURN_FLOAT8(get_float8_infinity());
	PG_RETURN_FLOAT8((double) t / (double) USECS_PER_DAY * DEDUP_DEGREES_PER_DAY);
}
