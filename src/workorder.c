/*-------------------------------------------------------------------------
 *
 * workorder.c
 *	  Module entry point of the workorder extension.
 *
 * The module is meant to be listed in shared_preload_libraries, so that its
 * background launcher can start with the postmaster.  It also works when it
 * is only loaded on demand by a function call; then no worker runs and
 * workorder.run_due_work() does the periodic work instead.
 *
 * It also holds workorder_keep_plan(), how every C file prepares the
 * statements it keeps for the life of a backend, and how they find and call
 * the types and functions they use by name: workorder_type_namespace(),
 * workorder_type_oid(), workorder_lookup_function(),
 * workorder_call_function(); and workorder_geometry_srid() and
 * workorder_geometry_shape(), what a PostGIS geometry is, for the C files
 * that refuse what is not a point of SRID 4326.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

/*
 * Some of PostgreSQL's headers define inline functions with unused
 * parameters, which -Wextra would report.
 */
#include "catalog/namespace.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "nodes/makefuncs.h"
#include "nodes/parsenodes.h"
#include "parser/parse_func.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/syscache.h"
#include "access/htup_details.h"
#include "catalog/pg_type.h"

#include "bgworkers.h"
#include "workorder.h"

PG_MODULE_MAGIC;

/*
 * _PG_init is called when the module is loaded, either by the postmaster
 * (shared_preload_libraries) or by a backend on first use.  It defines the
 * settings and installs the hooks in either case; only when preloading does
 * it ask for shared memory and register the background launcher
 * (launcher.c).  Settings of other parts must be defined before the prefix
 * is reserved.
 */
void
_PG_init(void)
{
	workorder_launcher_init();
	workorder_worker_init();
	workorder_hooks_init();
	workorder_areamap_init();

	MarkGUCPrefixReserved("workorder");
}

/*
 * workorder_keep_plan prepares a statement and keeps it for the life of the
 * backend.  SPI must be connected.
 *
 * The plan is generic: these statements are short, their parameters are
 * keys, and their best plan does not depend on the values.  Left to choose,
 * the plan cache compares the custom plans of the first executions with the
 * generic one and may keep planning every execution anew (the outbox
 * trigger's statements did: about a third of its cost was the planner).
 */
SPIPlanPtr
workorder_keep_plan(const char *query, int nargs, const Oid *types)
{
	SPIPlanPtr	plan = SPI_prepare_cursor(query, nargs, (Oid *) types, CURSOR_OPT_GENERIC_PLAN);

	if (plan == NULL)
		elog(ERROR, "could not prepare \"%s\": %s", query, SPI_result_code_string(SPI_result));
	if (SPI_keepplan(plan) != 0)
		elog(ERROR, "could not keep the plan of \"%s\"", query);
	return plan;
}

/*
 * workorder_type_namespace returns the schema of a type.  PostGIS is
 * relocatable: the statements the C files prepare name its functions with
 * the schema of the geometry type.
 */
Oid
workorder_type_namespace(Oid type)
{
	HeapTuple	tuple = SearchSysCache1(TYPEOID, ObjectIdGetDatum(type));
	Oid			nsp;

	if (!HeapTupleIsValid(tuple))
		elog(ERROR, "cache lookup failed for type %u", type);
	nsp = ((Form_pg_type) GETSTRUCT(tuple))->typnamespace;
	ReleaseSysCache(tuple);
	return nsp;
}

/*
 * workorder_type_oid returns the OID of a type by schema and name, or raises
 * an error: the caller cannot work without it.
 */
Oid
workorder_type_oid(const char *schema, const char *name)
{
	Oid			type = GetSysCacheOid2(TYPENAMENSP, Anum_pg_type_oid, CStringGetDatum(name),
									   ObjectIdGetDatum(get_namespace_oid(schema, false)));

	if (!OidIsValid(type))
		elog(ERROR, "type %s.%s does not exist", schema, name);
	return type;
}

/*
 * workorder_lookup_function finds a function by schema, name and argument
 * types and keeps its call information in finfo, for the life of the
 * backend.
 */
void
workorder_lookup_function(FmgrInfo *finfo, const char *schema, const char *name, int nargs, const Oid *types)
{
	Oid			fn = LookupFuncName(list_make2(makeString(pstrdup(schema)), makeString(pstrdup(name))),
									nargs, (Oid *) types, false);

	fmgr_info_cxt(fn, finfo, TopMemoryContext);
}

/*
 * workorder_call_function calls a looked-up function with NULL arguments
 * allowed (the fmgr macros refuse them), and says whether its result is
 * NULL.
 */
Datum
workorder_call_function(FmgrInfo *finfo, int nargs, const Datum *args, const bool *nulls, bool *isnull)
{
	LOCAL_FCINFO(fcinfo, FUNC_MAX_ARGS);
	Datum		result;
	int			i;

	InitFunctionCallInfoData(*fcinfo, finfo, nargs, InvalidOid, NULL, NULL);
	for (i = 0; i < nargs; i++)
	{
		fcinfo->args[i].value = args[i];
		fcinfo->args[i].isnull = nulls[i];
	}
	result = FunctionCallInvoke(fcinfo);
	*isnull = fcinfo->isnull;
	return result;
}

/*
 * workorder_geometry_srid reads the SRID of a PostGIS geometry from its
 * serialized header (the varlena length, then three bytes of SRID, in every
 * serialization PostGIS has used since 2.0), without a call into PostGIS.
 * Queries that compare geometries fail with PostGIS's internal error on a
 * point of another SRID; locate_point and dedup refuse it cleanly first.
 */
int32
workorder_geometry_srid(Datum geometry)
{
	struct varlena *g = PG_DETOAST_DATUM_SLICE(geometry, 0, 4);
	const uint8 *srid = (const uint8 *) VARDATA(g);
	int32		value = ((int32) srid[0] << 16) | ((int32) srid[1] << 8) | (int32) srid[2];

	/* 21 bits, signed */
	return (int32) ((uint32) value << 11) >> 11;
}

/*
 * GeometryFunctions are the PostGIS functions that tell what a geometry is,
 * found in PostGIS's schema once per geometry type (again after PostGIS was
 * dropped and created).
 */
typedef struct GeometryFunctions
{
	Oid			geometry_type;
	FmgrInfo	kind_of;		/* ST_GeometryType */
	FmgrInfo	is_empty;		/* ST_IsEmpty */
	FmgrInfo	x;				/* ST_X */
	FmgrInfo	y;				/* ST_Y */
} GeometryFunctions;

/*
 * geometry_functions returns the PostGIS functions for geometry_type.
 */
static GeometryFunctions *
geometry_functions(Oid geometry_type)
{
	static GeometryFunctions functions = {InvalidOid};

	if (functions.geometry_type != geometry_type)
	{
		const char *schema = get_namespace_name(workorder_type_namespace(geometry_type));

		functions.geometry_type = InvalidOid;
		workorder_lookup_function(&functions.kind_of, schema, "st_geometrytype", 1, &geometry_type);
		workorder_lookup_function(&functions.is_empty, schema, "st_isempty", 1, &geometry_type);
		workorder_lookup_function(&functions.x, schema, "st_x", 1, &geometry_type);
		workorder_lookup_function(&functions.y, schema, "st_y", 1, &geometry_type);
		functions.geometry_type = geometry_type;
	}
	return &functions;
}

/*
 * workorder_geometry_shape tells what a PostGIS geometry of geometry_type is:
 * ST_GeometryType(geometry) into *kind (NULL when that is NULL) and
 * ST_IsEmpty(geometry) into *empty and *empty_null.  dedup and locate_point
 * refuse what is not a point with it.
 */
void
workorder_geometry_shape(Datum geometry, Oid geometry_type, char **kind, bool *empty, bool *empty_null)
{
	GeometryFunctions *functions = geometry_functions(geometry_type);
	bool		arg_null = false;
	bool		kind_null;
	Datum		value;

	value = workorder_call_function(&functions->kind_of, 1, &geometry, &arg_null, &kind_null);
	*kind = kind_null ? NULL : TextDatumGetCString(value);
	*empty = DatumGetBool(workorder_call_function(&functions->is_empty, 1, &geometry, &arg_null, empty_null));
}

/*
 * workorder_point_xy returns the coordinates of a point with ST_X and ST_Y,
 * or false when either is NULL (an empty point).  Not a point is PostGIS's
 * error.
 */
bool
workorder_point_xy(Datum point, Oid geometry_type, double *x, double *y)
{
	GeometryFunctions *functions = geometry_functions(geometry_type);
	bool		arg_null = false;
	bool		x_null;
	bool		y_null;

	*x = DatumGetFloat8(workorder_call_function(&functions->x, 1, &point, &arg_null, &x_null));
	*y = DatumGetFloat8(workorder_call_function(&functions->y, 1, &point, &arg_null, &y_null));
	return !x_null && !y_null;
}
