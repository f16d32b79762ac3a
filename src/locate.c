/*-------------------------------------------------------------------------
 *
 * locate.c
 *	  workorder.locate_point(): locate() for a point already checked, the
 *	  form submit() calls on every report.
 *
 * The rules are locate()'s (sql/install/25_locate.sql and README): the
 * deepest area whose pieces contain the point, ties to the smaller code;
 * else the nearest area within the tolerance, flagged approximate; and down
 * the tree while the area has children, the nearest child within the
 * tolerance.  This is the plpgsql it replaces, statement for statement: the
 * common case (a point inside a leaf area) is one query, prepared once per
 * backend; gaps and slivers call the plpgsql nearest_area() and
 * area_summary() as before.  What it saves is the plpgsql around the query
 * (callgrind: about 0.15 million instructions a submit).  Since then the
 * common case asks the per-backend map of areamap.c instead of the query,
 * which stays for when the map is off (workorder.locate_map) or too large.
 *
 * PostGIS is relocatable: the query names its functions with the schema of
 * the geometry type, found when the query is prepared, so that the caller's
 * search_path does not matter.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/float.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"

#include "workorder.h"

/* The columns of workorder.location. */
enum
{
	LOC_AREA_CODE,
	LOC_AREA_NAME,
	LOC_LEVEL,
	LOC_CHAIN,
	LOC_CHAIN_NAMES,
	LOC_IN_JURISDICTION,
	LOC_APPROXIMATE,
	LOC_DISTANCE_M,
	LOC_MATCH,
	LOC_COLUMNS
};

/* An area as the queries return it: code, name, level, in_jurisdiction, path, path_names, has_children. */
typedef struct LocatedArea
{
	bool		found;
	Datum		code;
	Datum		name;
	Datum		level;
	Datum		in_jurisdiction;
	Datum		path;
	Datum		path_names;
	bool		has_children;
} LocatedArea;

static SPIPlanPtr locate_plans[3] = {NULL, NULL, NULL};
static Oid	locate_geometry_type = InvalidOid;

#define LOCATE_CONTAINING	0
#define LOCATE_NEAREST		1
#define LOCATE_SUMMARY		2

static SPIPlanPtr locate_plan(int which, Oid geometry_type);
static void locate_read_area(LocatedArea *area, MemoryContext caller);
static int	locate_in_map(Datum point, Oid geometry_type, LocatedArea *area, MemoryContext caller);
static bool locate_nearest(Datum point, Datum parent, bool no_parent, float8 tolerance, Oid geometry_type,
						   Datum *code, float8 *distance, MemoryContext caller);

static float8 locate_default_tolerance(void);
static HeapTuple locate_point_tuple(TupleDesc desc, Datum point, bool point_is_null, Oid geometry_type,
									 float8 tolerance, bool checked);
static void locate_check_point(Datum point, Oid geometry_type);

PG_FUNCTION_INFO_V1(locate_locate_point);

/*
 * locate_plan returns the prepared query which, preparing it on first use
 * (again when the geometry type changed: PostGIS was dropped and created).
 */
static SPIPlanPtr
locate_plan(int which, Oid geometry_type)
{
	if (geometry_type != locate_geometry_type)
	{
		int			i;

		for (i = 0; i < (int) lengthof(locate_plans); i++)
			if (locate_plans[i] != NULL)
			{
				SPI_freeplan(locate_plans[i]);
				locate_plans[i] = NULL;
			}
		locate_geometry_type = geometry_type;
	}
	if (locate_plans[which] == NULL)
	{
		const char *postgis = quote_identifier(get_namespace_name(workorder_type_namespace(geometry_type)));
		char	   *query;
		Oid			types[3] = {geometry_type, TEXTOID, FLOAT8OID};
		int			ntypes;
		SPIPlanPtr	plan;

		switch (which)
		{
			case LOCATE_CONTAINING:
				query = psprintf("SELECT a.code, a.name, a.level, a.in_jurisdiction, a.path, a.path_names, "
								 "EXISTS (SELECT 1 FROM workorder.areas c WHERE c.parent_code OPERATOR(pg_catalog.=) a.code) "
								 "FROM workorder.area_pieces p "
								 "JOIN workorder.areas a ON a.code OPERATOR(pg_catalog.=) p.area_code "
								 "WHERE %s.ST_Intersects(p.geom, $1) "
								 "ORDER BY p.depth DESC, p.area_code LIMIT 1", postgis);
				ntypes = 1;
				break;
			case LOCATE_NEAREST:
				query = "SELECT n.area_code, n.distance_m FROM workorder.nearest_area($1, $2, $3) n";
				ntypes = 3;
				break;
			default:
				query = "SELECT s.code, s.name, s.level, s.in_jurisdiction, s.path, s.path_names, s.has_children "
					"FROM workorder.area_summary($1) s";
				types[0] = TEXTOID;
				ntypes = 1;
				break;
		}
		plan = workorder_keep_plan(query, ntypes, types);
		locate_plans[which] = plan;
	}
	return locate_plans[which];
}

/*
 * locate_in_map finds the area containing a point in the map of areamap.c,
 * as the containing query would: it returns -1 when there is no map to ask,
 * else 1 or 0 with the area (or none) in *area, copied into caller.
 */
static int
locate_in_map(Datum point, Oid geometry_type, LocatedArea *area, MemoryContext caller)
{
	const MapArea *found;
	double		x,
				y;
	int			result;
	MemoryContext old;

	if (!workorder_point_xy(point, geometry_type, &x, &y))
		return -1;
	result = workorder_areamap_locate(x, y, &found);
	area->found = (result == 1);
	if (result != 1)
		return result;
	old = MemoryContextSwitchTo(caller);
	area->code = datumCopy(found->code, false, -1);
	area->name = datumCopy(found->name, false, -1);
	area->level = found->level;
	area->in_jurisdiction = found->in_jurisdiction;
	area->path = datumCopy(found->path, false, -1);
	area->path_names = datumCopy(found->path_names, false, -1);
	area->has_children = found->has_children;
	MemoryContextSwitchTo(old);
	return 1;
}

/*
 * locate_read_area reads the area of the last query (its first row, if any;
 * a row with a NULL code counts as none), copying it into caller's memory.
 */
static void
locate_read_area(LocatedArea *area, MemoryContext caller)
{
	HeapTuple	t;
	TupleDesc	desc = SPI_tuptable->tupdesc;
	bool		isnull;
	MemoryContext old;

	area->found = false;
	if (SPI_processed == 0)
		return;
	t = SPI_tuptable->vals[0];
	old = MemoryContextSwitchTo(caller);
	area->code = SPI_getbinval(t, desc, 1, &isnull);
	if (!isnull)
	{
		area->found = true;
		area->code = datumCopy(area->code, false, -1);
		area->name = datumCopy(SPI_getbinval(t, desc, 2, &isnull), false, -1);
		area->level = SPI_getbinval(t, desc, 3, &isnull);
		area->in_jurisdiction = SPI_getbinval(t, desc, 4, &isnull);
		area->path = datumCopy(SPI_getbinval(t, desc, 5, &isnull), false, -1);
		area->path_names = datumCopy(SPI_getbinval(t, desc, 6, &isnull), false, -1);
		area->has_children = DatumGetBool(SPI_getbinval(t, desc, 7, &isnull));
	}
	MemoryContextSwitchTo(old);
}

/*
 * locate_nearest is workorder.nearest_area(point, parent, tolerance): it
 * returns false when no area (child of parent) lies within the tolerance,
 * else its code (in caller's memory) and distance.
 */
static bool
locate_nearest(Datum point, Datum parent, bool no_parent, float8 tolerance, Oid geometry_type,
			   Datum *code, float8 *distance, MemoryContext caller)
{
	Datum		args[3] = {point, parent, Float8GetDatum(tolerance)};
	char		nulls[3] = {' ', no_parent ? 'n' : ' ', ' '};
	bool		isnull;
	Datum		v;
	MemoryContext old;

	if (SPI_execute_plan(locate_plan(LOCATE_NEAREST, geometry_type), args, nulls, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "locate: nearest_area failed");
	if (SPI_processed == 0)
		return false;
	v = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	if (isnull)
		return false;
	old = MemoryContextSwitchTo(caller);
	*code = datumCopy(v, false, -1);
	MemoryContextSwitchTo(old);
	v = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull);
	*distance = DatumGetFloat8(v);
	return true;
}

/*
 * locate_locate_point is workorder.locate_point(point, tolerance_m): see the
 * top of this file.  tolerance_m NULL is the setting locate_tolerance_m, else
 * 200; one that is not finite and zero or more is WO103.
 */
Datum
locate_locate_point(PG_FUNCTION_ARGS)
{
	Oid			geometry_type = get_fn_expr_argtype(fcinfo->flinfo, 0);
	TupleDesc	desc;
	float8		tolerance;

	if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "locate_point must return a row");
	desc = BlessTupleDesc(desc);
	if (!OidIsValid(geometry_type))
		elog(ERROR, "locate_point: cannot tell the type of its point");
	tolerance = PG_ARGISNULL(1) ? locate_default_tolerance() : PG_GETARG_FLOAT8(1);
	PG_RETURN_DATUM(HeapTupleGetDatum(locate_point_tuple(desc, PG_ARGISNULL(0) ? (Datum) 0 : PG_GETARG_DATUM(0),
														 PG_ARGISNULL(0), geometry_type, tolerance, false)));
}

/*
 * workorder_locate_point is locate_point(point) (the default tolerance) for
 * C callers: submit() (intake.c).  location_desc is workorder.location's.
 */
HeapTupleHeader
workorder_locate_point(Datum point, Oid geometry_type, TupleDesc location_desc)
{
	return locate_point_tuple(location_desc, point, false, geometry_type, locate_default_tolerance(), true)->t_data;
}

/*
 * locate_default_tolerance returns the setting locate_tolerance_m, else 200
 * (the tolerance of a call that passes none).
 */
static float8
locate_default_tolerance(void)
{
	const char *setting = workorder_setting("locate_tolerance_m");

	return DatumGetFloat8(DirectFunctionCall1(float8in, CStringGetDatum(setting ? setting : "200")));
}

/*
 * locate_check_point is WO101 for a geometry that is not a point, or an
 * empty one: what locate_point's queries cannot take (PostGIS fails on a
 * polyhedral surface with an internal error).  submit() passes the point
 * location_point() made, and skips it; a direct call of locate_point() gets
 * it.
 */
static void
locate_check_point(Datum point, Oid geometry_type)
{
	char	   *kind;
	bool		empty;
	bool		empty_null;

	workorder_geometry_shape(point, geometry_type, &kind, &empty, &empty_null);
	if (kind != NULL && strcmp(kind, "ST_Point") == 0 && !empty_null && !empty)
		return;
	ereport(ERROR,
			(errcode(ERRCODE_WO_INVALID_LOCATION),
			 errmsg("locate_point needs a point"),
			 errdetail("The geometry is %s%s.", kind ? kind : "of no type", !empty_null && empty ? ", empty" : ""),
			 errhint("Call workorder.locate(), which checks a location and takes its point.")));
}

/*
 * locate_point_tuple locates a point (see the top of this file) and returns
 * the workorder.location row, of descriptor desc.  The tolerance must be
 * finite and zero or more (WO103).  Unless checked, the point must be a point
 * (locate_check_point).
 */
static HeapTuple
locate_point_tuple(TupleDesc desc, Datum point, bool point_is_null, Oid geometry_type, float8 tolerance,
				   bool checked)
{
	MemoryContext caller = CurrentMemoryContext;
	Datum		values[LOC_COLUMNS];
	bool		nulls[LOC_COLUMNS];
	LocatedArea found;
	bool		approximate = false;
	float8		distance = 0;
	Datum		nearest_code;
	float8		nearest_distance;

	if (!(tolerance >= 0 && tolerance < get_float8_infinity()))
		ereport(ERROR,
				(errcode(ERRCODE_WO_INVALID_TOLERANCE),
				 errmsg("invalid tolerance for locate"),
				 errdetail("tolerance_m is %s.", DatumGetCString(DirectFunctionCall1(float8out, Float8GetDatum(tolerance)))),
				 errhint("Give a finite tolerance of zero or more metres.")));

	memset(nulls, true, sizeof(nulls));
	values[LOC_APPROXIMATE] = BoolGetDatum(false);
	nulls[LOC_APPROXIMATE] = false;
	if (point_is_null)
	{
		/* No point: no area contains or is near it (as ST_Intersects(NULL) finds none). */
		values[LOC_IN_JURISDICTION] = BoolGetDatum(false);
		nulls[LOC_IN_JURISDICTION] = false;
		values[LOC_MATCH] = CStringGetTextDatum("outside");
		nulls[LOC_MATCH] = false;
		return heap_form_tuple(desc, values, nulls);
	}
	if (workorder_geometry_srid(point) != 4326)
		ereport(ERROR,
				(errcode(ERRCODE_WO_INVALID_SRID),
				 errmsg("locate_point needs a point in SRID 4326"),
				 errdetail("The point's SRID is %d.", workorder_geometry_srid(point)),
				 errhint("Call workorder.locate(), which takes a point in any SRID and transforms it.")));
	if (!checked)
		locate_check_point(point, geometry_type);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");

	/* The common case, a point inside a leaf area: the map, else this one query. */
	if (locate_in_map(point, geometry_type, &found, caller) < 0)
	{
		if (SPI_execute_plan(locate_plan(LOCATE_CONTAINING, geometry_type), &point, NULL, true, 1) != SPI_OK_SELECT)
			elog(ERROR, "locate: the containing area query failed");
		locate_read_area(&found, caller);
	}

	if (!found.found)
	{
		if (!locate_nearest(point, (Datum) 0, true, tolerance, geometry_type, &nearest_code,
							&nearest_distance, caller))
		{
			SPI_finish();
			values[LOC_IN_JURISDICTION] = BoolGetDatum(false);
			nulls[LOC_IN_JURISDICTION] = false;
			values[LOC_MATCH] = CStringGetTextDatum("outside");
			nulls[LOC_MATCH] = false;
			return heap_form_tuple(desc, values, nulls);
		}
		approximate = true;
		distance = nearest_distance;
		if (SPI_execute_plan(locate_plan(LOCATE_SUMMARY, geometry_type), &nearest_code, NULL, true, 1) != SPI_OK_SELECT)
			elog(ERROR, "locate: area_summary failed");
		locate_read_area(&found, caller);
	}

	/*
	 * Inside (or near) an area whose children do not cover the point: take
	 * the nearest child within the tolerance, and so on down.
	 */
	while (found.found && found.has_children)
	{
		if (!locate_nearest(point, found.code, false, tolerance, geometry_type, &nearest_code,
							&nearest_distance, caller))
			break;
		approximate = true;
		distance = nearest_distance;
		if (SPI_execute_plan(locate_plan(LOCATE_SUMMARY, geometry_type), &nearest_code, NULL, true, 1) != SPI_OK_SELECT)
			elog(ERROR, "locate: area_summary failed");
		locate_read_area(&found, caller);
	}
	SPI_finish();

	if (found.found)
	{
		values[LOC_AREA_CODE] = found.code;
		values[LOC_AREA_NAME] = found.name;
		values[LOC_LEVEL] = found.level;
		values[LOC_CHAIN] = found.path;
		values[LOC_CHAIN_NAMES] = found.path_names;
		values[LOC_IN_JURISDICTION] = found.in_jurisdiction;
		nulls[LOC_AREA_CODE] = nulls[LOC_AREA_NAME] = nulls[LOC_LEVEL] = false;
		nulls[LOC_CHAIN] = nulls[LOC_CHAIN_NAMES] = nulls[LOC_IN_JURISDICTION] = false;
	}
	values[LOC_APPROXIMATE] = BoolGetDatum(approximate);
	values[LOC_DISTANCE_M] = Float8GetDatum(distance);
	nulls[LOC_DISTANCE_M] = false;
	values[LOC_MATCH] = CStringGetTextDatum(approximate ? "nearest" : "contained");
	nulls[LOC_MATCH] = false;
	return heap_form_tuple(desc, values, nulls);
}
