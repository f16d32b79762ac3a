/*-------------------------------------------------------------------------
 *
 * dedup.c
 *	  Dedup on the intake path: the policy in force for a category, the
 *	  neighbourhood's advisory locks, the candidate search and its scoring,
 *	  and the decision; and the time axis of the dedup index.
 *
 * The rules are sql/install/62_dedup.sql's header and README's ("Dedup: one
 * event, one order").  These are the plpgsql functions they replace,
 * statement for statement, NULLs, errors and the order in which errors are
 * found included: dedup_policy(), dedup_lock(), dedup_candidates() and
 * dedup_decide().  One core serves all four: dedup_policy_for() resolves a
 * policy, dedup_lock_cells() takes the locks, dedup_search() finds and
 * scores the candidates.  The arithmetic is done with the functions the SQL
 * operators call (float.h's checked operations, the timestamp and interval
 * functions), so that every score and every error is the one the SQL gave;
 * since 0.5 with two exceptions: the distance of a candidate is computed
 * here (dedup_distance), within 10 micrometres of PostGIS's, and
 * dedup_decide() records the policy and the candidates as rows of their
 * types, not as jsonb (the entry point of 0.2 to 0.4 still does).
 *
 * Why.  The plpgsql cost about half of a submit(): a dozen dedup_setting()
 * calls and three queries for the policy, a loop of queries for the locks,
 * an EXECUTE planned for every report and a scoring query for the search.
 * Here the policy comes from the reference cache (refcache.c, which holds
 * the settings, category_effective and dedup_rules), resolved once per
 * category until one of those tables changes; the locks are the
 * extension's own (locks.c), taken directly; and the search is one
 * query, prepared once per backend.
 *
 * The search query has the quals of one index only, orders_location_idx, a
 * GiST index on (location, received_at, COALESCE(settled_at, 'infinity'))
 * (the times by btree_gist): the location overlaps the circle's bounding box
 * (&&), the order was received within dedup_open_window before the report
 * (dedup_open_window()) and no later than the window after it, and it is
 * open or settled no earlier than closed_window before the report
 * (src/settled.c).  An order still open is a candidate past the window: a
 * second call about a lamp still broken after a week is the same event (its
 * time score is 0, and the rest decides); a resolved one, until
 * closed_window after its resolution (the reopen window), however long it
 * was open.  So even a generic plan can only be a scan of that index, and
 * since the index checks the times before any row is read, its cost follows
 * the orders of the last dedup_open_window in the box that are open or were
 * settled within closed_window, not the years of history at that place.  It
 * is planned once, generic, with sequential scans off (so that a plan made
 * while the table is small is the index scan too); test/scenario/dedup_plan.t
 * checks the plans.
 * The family and the statuses that are never candidates (merged, cancelled)
 * are filters of that scan, written as "(...) IS TRUE" so that no index can
 * take them (orders_category_received_idx would otherwise serve the
 * family): a row of another family is dropped where it is read, not
 * returned, copied and looked at here (in a box that holds 50 of them that
 * halved what they cost, 1.1 to 1.6 us a row against 0.7 to 0.8).  The
 * excluded order and the check for a suspected duplicate waiting for review
 * are applied here.  Whether it waits for review is read here too, by the
 * key of dedup_checks, with the search's snapshot, and only for a new order
 * still a candidate after the cheaper tests (the time, the distance): a
 * suspected duplicate waits for review while it is new, as
 * suspected_duplicates and review_duplicate() have it.  It was a sub-query
 * of the search (and so was when an order was last resolved, now its
 * settled_at), and a sub-query's plan is started with every search, run or
 * not: 63,000 instructions a submit() in bench/submit, where few reports
 * have a candidate.
 * PostGIS is relocatable: the query and the PostGIS functions called here
 * are those of the schema of the geometry type, found when they are first
 * needed, so the caller's search_path does not matter.
 *
 * The time axis.  Until 0.4 the search read orders_dedup_idx, an
 * n-dimensional PostGIS index on the point (lon, lat, time), the time a
 * coordinate computed by workorder.dedup_time_axis() (time_axis() here: a
 * day weighing DEDUP_DEGREES_PER_DAY, about 100 m of latitude, so that the
 * R-tree's pages were commensurate with the boxes searched).  It kept the
 * cost flat as the history grew, but each search read two to three times the
 * pages of a two-dimensional index and paid more for each entry: 92 us a
 * search at a million orders against 19 us for the index on (location,
 * received_at), whose pages are split by location and whose entries carry
 * the time (bench/dedup).  The C function stays: the install scripts of 0.2
 * and 0.3 create dedup_time_axis() from it, and 0.4 keeps that SQL function
 * for backends that still run 0.3's library until the server restarts.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_collation.h"
#include "access/transam.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_type.h"
#include "common/int.h"
#include "common/shortest_dec.h"
#include "datatype/timestamp.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "nodes/params.h"
#include "nodes/value.h"
#include "parser/parse_coerce.h"
#include "parser/parse_func.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/datum.h"
#include "utils/float.h"
#include "utils/fmgroids.h"
#include "utils/guc.h"
#include "utils/hsearch.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/numeric.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"
#include "utils/tuplestore.h"
#include "utils/typcache.h"

#include "workorder.h"

/* What one day weighs on the time axis, in degrees of the spatial axes. */
#define DEDUP_DEGREES_PER_DAY	0.001

/* At most this many candidates (the LIMIT of the SQL). */
#define DEDUP_MAX_CANDIDATES	50

/* A category code longer than this is in no catalogue (codes are at most 32). */
#define DEDUP_KEY_LEN			160

/* A double precision value that may be NULL, as SQL computes with it. */
typedef struct NDouble
{
	double		v;
	bool		null;
} NDouble;

/* The numbers of a policy, in the order of the composite type's columns. */
enum
{
	P_RADIUS,
	P_WEIGHT_DISTANCE,
	P_WEIGHT_TIME,
	P_WEIGHT_TEXT,
	P_WEIGHT_ADDRESS,
	P_WEIGHT_REPORTER,
	P_MERGE,
	P_REVIEW,
	P_NUMBERS
};

/* The columns of workorder.dedup_policy. */
enum
{
	PC_CATEGORY_CODE,
	PC_FAMILY,
	PC_PATH,
	PC_RADIUS_M,
	PC_TIME_WINDOW,
	PC_CLOSED_WINDOW,
	PC_WEIGHT_DISTANCE,
	PC_WEIGHT_TIME,
	PC_WEIGHT_TEXT,
	PC_WEIGHT_ADDRESS,
	PC_WEIGHT_REPORTER,
	PC_MERGE_THRESHOLD,
	PC_REVIEW_THRESHOLD,
	PC_LATE_POLICY,
	PC_ENABLED,
	PC_COLUMNS
};

/* The columns of workorder.dedup_candidate. */
enum
{
	CC_ORDER_ID,
	CC_TICKET,
	CC_STATUS,
	CC_CATEGORY_CODE,
	CC_SAME_CATEGORY,
	CC_RESOLVED_AT,
	CC_DISTANCE_M,
	CC_TIME_GAP,
	CC_DISTANCE_SCORE,
	CC_TIME_SCORE,
	CC_TEXT_SCORE,
	CC_ADDRESS_SCORE,
	CC_REPORTER_SCORE,
	CC_SCORE,
	CC_AT_MOST,
	CC_AT_MOST_REASON,
	CC_COLUMNS
};

/* The columns of workorder.dedup_decision. */
enum
{
	DC_DECISION,
	DC_MASTER_ID,
	DC_SCORE,
	DC_HOLDS,
	DC_REASON,
	DC_POLICY,
	DC_CANDIDATES,
	DC_COLUMNS
};

/* The columns of the search query (dedup_search_plan). */
enum
{
	SQ_ID = 1,
	SQ_TICKET,
	SQ_STATUS,
	SQ_CATEGORY_CODE,
	SQ_RECEIVED_AT,
	SQ_DESCRIPTION,
	SQ_ADDRESS,
	SQ_PHONE,
	SQ_LOCATION,
	SQ_SETTLED_AT
};

/*
 * DedupPolicy is a value of workorder.dedup_policy: a NULL pointer, or a
 * NULL NDouble, is NULL.
 */
typedef struct DedupPolicy
{
	char	   *category_code;
	char	   *family;
	Datum		path;			/* text[]; (Datum) 0 is NULL */
	Interval   *time_window;
	Interval   *closed_window;
	NDouble		number[P_NUMBERS];
	char	   *late_policy;
	bool		has_enabled;
	bool		enabled;
} DedupPolicy;

/* A report as dedup_search() looks for its candidates; NULL pointers are NULL. */
typedef struct DedupReport
{
	Datum		point;
	bool		point_null;
	TimestampTz received;
	bool		received_null;
	text	   *description;
	text	   *address;
	text	   *phone;
	bool		has_exclude;
	int64		exclude;
} DedupReport;

/*
 * What a candidate may make of the report at most, whatever its score
 * (dedup_candidate.at_most): merge it, hold it for review, or nothing.
 */
typedef enum DedupAtMost
{
	AT_MOST_MERGE,				/* NULL: as its score and category say */
	AT_MOST_REVIEW,
	AT_MOST_NEW
} DedupAtMost;

/* A candidate with its components: a row of workorder.dedup_candidate. */
typedef struct DedupCandidate
{
	Datum		values[CC_COLUMNS];
	bool		nulls[CC_COLUMNS];
	int64		order_id;
	NDouble		score;
	bool		same_category;	/* true (not NULL, not false) */
	DedupAtMost at_most;		/* what it may make of the report at most */
	bool		open;			/* its status is neither resolved nor closed */
	bool		resolved_after_report;	/* last resolved after the report came */
	Datum		ticket;
} DedupCandidate;

/* What the extension's catalogue gives dedup, found again when it changes. */
typedef struct DedupTypes
{
	bool		valid;			/* looked up, for candidate_type */
	Oid			policy_type;
	Oid			candidate_type;
	Oid			candidate_array_type;
	int16		candidate_typlen;
	bool		candidate_typbyval;
	char		candidate_typalign;
	Oid			merged;
	Oid			cancelled;
	Oid			resolved;
	Oid			closed;
	Oid			new_order;		/* the status new */
	Oid			ticket_output;
} DedupTypes;

/* PostGIS as dedup calls it, found again when the geometry type changes. */
typedef struct DedupPostgis
{
	Oid			geometry_type;
	FmgrInfo	as_text;		/* ST_AsText(geometry) */
	FmgrInfo	x;				/* ST_X(geometry) */
	FmgrInfo	y;				/* ST_Y(geometry) */
	FmgrInfo	to_geography;	/* the cast geometry -> geography */
	FmgrInfo	distance;		/* ST_Distance(geography, geography, boolean) */
	SPIPlanPtr	search_plan;
	SPIPlanPtr	search_plan_04; /* the same for a schema of 0.4, without settled_at */
} DedupPostgis;

/* What dedup_search() keeps while it looks at the rows of the search box. */
typedef struct DedupSearch
{
	DedupPostgis *pg;
	const DedupTypes *types;
	const DedupPolicy *p;
	const DedupReport *r;
	MemoryContext caller;		/* where the candidates go */
	NDouble		window_s;		/* the time window in seconds */
	bool		spans;			/* orders have settled_at (else a 0.4 schema) */
	TimestampTz settled_bound;	/* received - closed_window (received without one) */
	TimestampTz received_bound; /* received - dedup_open_window, or the window if longer
								 * (in a 0.4 schema, the window) */
	TimestampTz upper;			/* received + the time window */
	text	   *new_phone;		/* the report's phone, reduced */
	bool		report_geography_known; /* point::geography, computed when first needed */
	bool		report_geography_null;
	Datum		report_geography;
	bool		path_known;		/* the policy's path, deconstructed when first needed */
	Datum	   *path_elems;
	bool	   *path_nulls;
	int			path_length;
	bool		report_on_wgs84;	/* the report's point (of SRID 4326 or 0) is on the earth */
	double		report_x;		/* its longitude and latitude */
	double		report_y;
	void	   *text_cache;		/* the report's description's profile */
	void	   *address_cache;	/* the report's address's profile */
	bool		report_numbers_known;	/* report_numbers read, when first needed */
	PlaceNumbers report_numbers;	/* the place numbers of its description and address */
} DedupSearch;

/*
 * DedupReceiver takes the rows of the search query one at a time, as the
 * executor makes them, and scores each into its candidates.  SPI's own
 * receiver copied every row into a tuple table first: with 50 candidates,
 * forming and copying those rows was a quarter of the search.
 */
typedef struct DedupReceiver
{
	DestReceiver pub;			/* must be first */
	DedupSearch *s;
	MemoryContext row_context;	/* reset after each row */
	DedupCandidate *candidates; /* in s->caller's memory */
	int			ncandidates;
	int			allocated;
} DedupReceiver;

/* The types of the search query's parameters: the box, the two times, the family's codes. */
static const Oid dedup_search_arg_types[8] = {
	FLOAT8OID, FLOAT8OID, FLOAT8OID, FLOAT8OID, TIMESTAMPTZOID, TIMESTAMPTZOID, TEXTARRAYOID, TIMESTAMPTZOID
};

/* How one column of a composite becomes JSON, as to_jsonb() makes it. */
typedef enum DedupJsonKind
{
	DJ_BOOL,					/* true / false */
	DJ_INTEGER,					/* an int2, int4 or int8: a JSON number */
	DJ_FLOAT8,					/* as DJ_NUMBER, made without the text when it can be */
	DJ_NUMBER,					/* the output text as a JSON number (NaN, Infinity: a string) */
	DJ_TIMESTAMPTZ,				/* JsonEncodeDateTime() */
	DJ_TEXT_ARRAY,				/* an array of strings */
	DJ_STRING					/* the output text as a string */
} DedupJsonKind;

/* The columns of a composite type, as dedup_rows_to_jsonb() writes them. */
typedef struct DedupJsonColumn
{
	char	   *name;
	int			attno;			/* its index in the row */
	DedupJsonKind kind;
	Oid			type;
	FmgrInfo	output;
} DedupJsonColumn;

/* A resolved policy in the cache, by category code ("" for no category). */
typedef struct DedupPolicyEntry
{
	char		key[DEDUP_KEY_LEN];	/* hash key; must be first */
	DedupPolicy policy;
} DedupPolicyEntry;

static DedupTypes dedup_types;
static DedupPostgis dedup_postgis;
static bool dedup_postgis_ready = false;
static HTAB *dedup_policy_cache = NULL;
static MemoryContext dedup_policy_context = NULL;
static uint64 dedup_policy_version = 0;
static int	dedup_policy_datestyle = -1;
static int	dedup_policy_dateorder = -1;
static int	dedup_policy_intervalstyle = -1;

static inline NDouble nd(double v);
static NDouble nd_pl(NDouble a, NDouble b);
static NDouble nd_mi(NDouble a, NDouble b);
static NDouble nd_mul(NDouble a, NDouble b);
static NDouble nd_div(NDouble a, NDouble b);
static NDouble nd_greatest(NDouble a, NDouble b);
static NDouble nd_least(NDouble a, NDouble b);
static bool nd_le(NDouble a, NDouble b);
static bool nd_ge(NDouble a, NDouble b);
static int	nd_cmp(NDouble a, NDouble b, bool nulls_first);
static double time_axis(TimestampTz t);
static double interval_epoch(Interval *span);
static const DedupTypes *dedup_catalog(void);
static Oid	dedup_enum_oid(Oid type, const char *label);
static Oid	dedup_geometry_type(FunctionCallInfo fcinfo, int argno);
static DedupPostgis *dedup_postgis_for(Oid geometry_type);
static Datum dedup_call(FmgrInfo *f, int nargs, Datum a0, Datum a1, Datum a2, bool *isnull);
static SPIPlanPtr dedup_search_plan(DedupPostgis *pg, bool spans);
static Interval *dedup_open_window(void);
static bool dedup_orders_have_spans(void);
static SysScanDesc dedup_scan_order(const char *relname, const char *indexname, int64 id, int ncolumns,
									const char *const *columns, AttrNumber *attnums, Relation *rel);
static void dedup_scan_order_end(SysScanDesc scan, Relation rel);
static bool dedup_waits_for_review(int64 id);
static Datum dedup_last_resolved(int64 id, bool *isnull);
static char *dedup_arg_text(FunctionCallInfo fcinfo, int argno);
static const char *dedup_setting(const char *name, const char *default_value, const char *kind,
								 double low, double high);
static bool dedup_parse_interval(const char *value, Interval *span);
static Interval *dedup_interval(const char *value);
static double dedup_number(const char *value);
static NDouble dedup_district_radius(void);
static void dedup_policy_resolve(const char *code, DedupPolicy *p);
static const DedupPolicy *dedup_policy_for(const char *code);
static Datum dedup_policy_datum(const DedupPolicy *p, TupleDesc desc, Datum *values, bool *nulls);
static void dedup_policy_from_datum(HeapTupleHeader row, DedupPolicy *p);
static void dedup_check_point(DedupPostgis *pg, Datum point, bool point_null, const char *message);
static void dedup_check_srid(Datum point, bool point_null);
static NDouble dedup_point_coordinate(FmgrInfo *f, Datum point, bool point_null);
static NDouble dedup_half_width(NDouble dlat, NDouble y);
static int64 dedup_cell(NDouble coordinate, NDouble cell);
static void dedup_lock_cells(DedupPostgis *pg, const char *family, Datum point, bool point_null,
							 NDouble radius_m);
static int	dedup_int32_cmp(const void *a, const void *b);
static text *dedup_phone_digits(text *phone);
static bool dedup_text_eq(text *a, text *b);
static bool dedup_text_is(Datum a, const char *b, size_t len);
static text *dedup_concat_ws(text *a, text *b);
static bool dedup_path_has(DedupSearch *s, const char *code, bool *null);
static Datum dedup_family_codes(const char *family);
static NDouble dedup_distance(DedupSearch *s, Datum location);
static bool dedup_candidate_from_row(DedupSearch *s, const Datum *v, const bool *n, TupleDesc desc,
									 DedupCandidate *c);
static bool dedup_receive_row(TupleTableSlot *slot, DestReceiver *self);
static void dedup_receive_startup(DestReceiver *self, int operation, TupleDesc typeinfo);
static void dedup_receive_nothing(DestReceiver *self);
static int	dedup_search(DedupPostgis *pg, const DedupTypes *types, const DedupPolicy *p,
						 const DedupReport *r, DedupCandidate ***found);
static int	dedup_candidate_order(const void *a, const void *b);
static void dedup_report_args(FunctionCallInfo fcinfo, int point_arg, DedupReport *r);
static Datum dedup_decide(FunctionCallInfo fcinfo, bool as_json);
static void dedup_check_decision_type(TupleDesc desc, Oid policy_type, Oid candidates_type);
static Datum dedup_to_jsonb(Datum value, Oid type);
static Numeric dedup_float8_numeric(double value);
static bool dedup_json_columns(TupleDesc desc, DedupJsonColumn *columns);
static int	dedup_json_key_order(const void *a, const void *b);
static void dedup_json_push(JsonbParseState **state, JsonbIteratorToken token, JsonbValue *value);
static void dedup_json_value(JsonbParseState **state, DedupJsonColumn *column, Datum value, bool isnull);
static Datum dedup_rows_to_jsonb(TupleDesc desc, int nrows, Datum **values, bool **nulls, bool as_array,
								 Oid type);
static char *dedup_score_text(double score);

PG_FUNCTION_INFO_V1(workorder_dedup_time_axis);
PG_FUNCTION_INFO_V1(workorder_dedup_phone);
PG_FUNCTION_INFO_V1(workorder_dedup_policy);
PG_FUNCTION_INFO_V1(workorder_dedup_lock);
PG_FUNCTION_INFO_V1(workorder_dedup_candidates);
PG_FUNCTION_INFO_V1(workorder_dedup_decide);
PG_FUNCTION_INFO_V1(workorder_dedup_decide_0_5);

/* nd makes a non-NULL NDouble. */
static inline NDouble
nd(double v)
{
	NDouble		r;

	r.v = v;
	r.null = false;
	return r;
}

/* nd_null is the NULL NDouble. */
static const NDouble nd_null = {0.0, true};

/* nd_pl is float8 +: NULL in, NULL out; overflow is an error. */
static NDouble
nd_pl(NDouble a, NDouble b)
{
	return (a.null || b.null) ? nd_null : nd(float8_pl(a.v, b.v));
}

/* nd_mi is float8 -. */
static NDouble
nd_mi(NDouble a, NDouble b)
{
	return (a.null || b.null) ? nd_null : nd(float8_mi(a.v, b.v));
}

/* nd_mul is float8 *. */
static NDouble
nd_mul(NDouble a, NDouble b)
{
	return (a.null || b.null) ? nd_null : nd(float8_mul(a.v, b.v));
}

/* nd_div is float8 /: division by zero is an error, as in SQL. */
static NDouble
nd_div(NDouble a, NDouble b)
{
	return (a.null || b.null) ? nd_null : nd(float8_div(a.v, b.v));
}

/*
 * nd_greatest is GREATEST(a, b): NULLs ignored, NaN above every number, the
 * first of equal values.
 */
static NDouble
nd_greatest(NDouble a, NDouble b)
{
	if (a.null)
		return b;
	if (b.null)
		return a;
	return float8_lt(a.v, b.v) ? b : a;
}

/* nd_least is LEAST(a, b), as nd_greatest. */
static NDouble
nd_least(NDouble a, NDouble b)
{
	if (a.null)
		return b;
	if (b.null)
		return a;
	return float8_gt(a.v, b.v) ? b : a;
}

/* nd_le is a <= b where NULL is false. */
static bool
nd_le(NDouble a, NDouble b)
{
	return !a.null && !b.null && float8_le(a.v, b.v);
}

/* nd_ge is a >= b where NULL is false. */
static bool
nd_ge(NDouble a, NDouble b)
{
	return !a.null && !b.null && float8_ge(a.v, b.v);
}

/*
 * nd_cmp orders as ORDER BY x ASC: NaN above every number, NULL last unless
 * nulls_first.
 */
static int
nd_cmp(NDouble a, NDouble b, bool nulls_first)
{
	if (a.null || b.null)
	{
		if (a.null && b.null)
			return 0;
		return (a.null != nulls_first) ? 1 : -1;
	}
	return float8_cmp_internal(a.v, b.v);
}

/*
 * time_axis is the instant on the index's time axis, DEDUP_DEGREES_PER_DAY
 * per day since 2000-01-01 00:00 UTC; +-infinity stay infinite.
 */
static double
time_axis(TimestampTz t)
{
	if (TIMESTAMP_IS_NOBEGIN(t))
		return -get_float8_infinity();
	if (TIMESTAMP_IS_NOEND(t))
		return get_float8_infinity();
	return (double) t / (double) USECS_PER_DAY * DEDUP_DEGREES_PER_DAY;
}

/*
 * interval_epoch is EXTRACT(epoch FROM span)::double precision: exact in
 * numeric, then rounded once.
 */
static double
interval_epoch(Interval *span)
{
	Datum		epoch = DirectFunctionCall2(extract_interval, CStringGetTextDatum("epoch"),
											IntervalPGetDatum(span));

	return DatumGetFloat8(DirectFunctionCall1(numeric_float8, epoch));
}

/*
 * workorder_dedup_time_axis is workorder.dedup_time_axis(timestamptz): see
 * time_axis.
 */
Datum
workorder_dedup_time_axis(PG_FUNCTION_ARGS)
{
	PG_RETURN_FLOAT8(time_axis(PG_GETARG_TIMESTAMPTZ(0)));
}

/* dedup_enum_oid returns the OID of a label of an enum. */
static Oid
dedup_enum_oid(Oid type, const char *label)
{
	return DatumGetObjectId(DirectFunctionCall2(enum_in, CStringGetDatum(label), ObjectIdGetDatum(type)));
}

/*
 * dedup_catalog returns the types and labels dedup needs, looked up again
 * when workorder.dedup_candidate is another type than last time (the
 * extension was dropped and created again).  The schema is no key: it
 * outlives the extension when it was there before it, and then the types
 * are new in the same schema (test/submit_session_test.sql).
 */
static const DedupTypes *
dedup_catalog(void)
{
	Oid			candidate = workorder_type_oid("workorder", "dedup_candidate");
	Oid			status;
	Oid			ticket;
	bool		varlena;

	if (dedup_types.valid && candidate == dedup_types.candidate_type)
		return &dedup_types;
	dedup_types.valid = false;
	dedup_types.policy_type = workorder_type_oid("workorder", "dedup_policy");
	dedup_types.candidate_type = candidate;
	dedup_types.candidate_array_type = get_array_type(dedup_types.candidate_type);
	if (!OidIsValid(dedup_types.candidate_array_type))
		elog(ERROR, "type workorder.dedup_candidate has no array type");
	get_typlenbyvalalign(dedup_types.candidate_type, &dedup_types.candidate_typlen,
						 &dedup_types.candidate_typbyval, &dedup_types.candidate_typalign);
	status = workorder_type_oid("workorder", "order_status");
	dedup_types.merged = dedup_enum_oid(status, "merged");
	dedup_types.cancelled = dedup_enum_oid(status, "cancelled");
	dedup_types.resolved = dedup_enum_oid(status, "resolved");
	dedup_types.closed = dedup_enum_oid(status, "closed");
	dedup_types.new_order = dedup_enum_oid(status, "new");
	ticket = workorder_type_oid("workorder", "ticket");
	getTypeOutputInfo(ticket, &dedup_types.ticket_output, &varlena);
	dedup_types.valid = true;
	return &dedup_types;
}

/*
 * dedup_geometry_type returns the type of a geometry argument: from the
 * call's expression, else (a call through fmgr without one) from the
 * function's declaration.
 */
static Oid
dedup_geometry_type(FunctionCallInfo fcinfo, int argno)
{
	Oid			type = get_fn_expr_argtype(fcinfo->flinfo, argno);
	HeapTuple	tuple;

	if (OidIsValid(type))
		return type;
	tuple = SearchSysCache1(PROCOID, ObjectIdGetDatum(fcinfo->flinfo->fn_oid));
	if (!HeapTupleIsValid(tuple))
		elog(ERROR, "cache lookup failed for function %u", fcinfo->flinfo->fn_oid);
	type = ((Form_pg_proc) GETSTRUCT(tuple))->proargtypes.values[argno];
	ReleaseSysCache(tuple);
	return type;
}

/*
 * dedup_postgis_for returns the PostGIS functions (and the search query) for
 * this geometry type, finding them on first use and again when the type
 * changed (PostGIS was dropped and created).
 */
static DedupPostgis *
dedup_postgis_for(Oid geometry_type)
{
	char	   *schema;
	Oid			geography_type;
	Oid			types[3];
	Oid			cast;
	CoercionPathType path;

	if (dedup_postgis_ready && dedup_postgis.geometry_type == geometry_type)
		return &dedup_postgis;
	if (dedup_postgis.search_plan != NULL)
	{
		SPI_freeplan(dedup_postgis.search_plan);
		dedup_postgis.search_plan = NULL;
	}
	if (dedup_postgis.search_plan_04 != NULL)
	{
		SPI_freeplan(dedup_postgis.search_plan_04);
		dedup_postgis.search_plan_04 = NULL;
	}
	dedup_postgis_ready = false;

	schema = get_namespace_name(workorder_type_namespace(geometry_type));
	geography_type = workorder_type_oid(schema, "geography");

	types[0] = geometry_type;
	workorder_lookup_function(&dedup_postgis.as_text, schema, "st_astext", 1, types);
	workorder_lookup_function(&dedup_postgis.x, schema, "st_x", 1, types);
	workorder_lookup_function(&dedup_postgis.y, schema, "st_y", 1, types);
	path = find_coercion_pathway(geography_type, geometry_type, COERCION_EXPLICIT, &cast);
	if (path != COERCION_PATH_FUNC)
		elog(ERROR, "no cast function from geometry to geography");
	fmgr_info_cxt(cast, &dedup_postgis.to_geography, TopMemoryContext);
	types[0] = geography_type;
	types[1] = geography_type;
	types[2] = BOOLOID;
	workorder_lookup_function(&dedup_postgis.distance, schema, "st_distance", 3, types);
	dedup_postgis.geometry_type = geometry_type;
	dedup_postgis_ready = true;
	return &dedup_postgis;
}

/*
 * dedup_call calls f with nargs (at most 3) non-NULL arguments and says
 * whether it returned NULL: workorder_call_function with the arguments in
 * line, as the scoring passes them.
 */
static Datum
dedup_call(FmgrInfo *f, int nargs, Datum a0, Datum a1, Datum a2, bool *isnull)
{
	Datum		args[3] = {a0, a1, a2};
	bool		nulls[3] = {false, false, false};

	return workorder_call_function(f, nargs, args, nulls, isnull);
}

/*
 * dedup_search_plan returns the search query, prepared once per backend and
 * PostGIS schema: the orders whose location overlaps the box from ($1, $2)
 * to ($3, $4), that were received from $8 to $6 and are open or settled no
 * earlier than $5, the quals of orders_location_idx and the only indexable
 * ones, so that every plan of it is a scan of that index, and that are of the
 * family $7 (the category codes of the family) and not merged or cancelled,
 * filters of that scan.  In a 0.4 schema, without settled_at, $5 bounds the
 * receipt instead.  The
 * plan is generic (made once, the box a runtime key of the index scan): a
 * custom plan would be planned again for every report, and the planner's
 * estimate of the box's selectivity reads the index column's statistics,
 * whose size grows with the table.  Whether an order waits for review is
 * read by dedup_waits_for_review(), for the rows that need it.
 */
static SPIPlanPtr
dedup_search_plan(DedupPostgis *pg, bool spans)
{
	SPIPlanPtr *kept = spans ? &pg->search_plan : &pg->search_plan_04;
	const char *postgis;
	char	   *query;

	if (*kept != NULL)
		return *kept;
	postgis = quote_identifier(get_namespace_name(workorder_type_namespace(pg->geometry_type)));
	query = psprintf("SELECT o.id, o.ticket, o.status, o.category_code, o.received_at, o.description, "
					 "o.address, o.reporter_phone, o.location, %s "
					 "FROM workorder.orders o "
					 "WHERE o.location OPERATOR(%s.&&) %s.st_makeenvelope($1, $2, $3, $4, 4326) "
					 "AND o.received_at OPERATOR(pg_catalog.>=) $8 AND o.received_at OPERATOR(pg_catalog.<=) $6 "
					 "AND %s OPERATOR(pg_catalog.>=) $5 "
					 "AND (o.category_code OPERATOR(pg_catalog.=) ANY ($7)) IS TRUE "
					 "AND (o.status OPERATOR(pg_catalog.<>) ALL ('{merged,cancelled}'::workorder.order_status[])) IS TRUE",
					 spans ? "o.settled_at" : "NULL::timestamptz", postgis, postgis,
					 spans ? "COALESCE(o.settled_at, 'infinity'::timestamptz)" : "o.received_at");
	*kept = workorder_keep_plan(query, lengthof(dedup_search_arg_types), (Oid *) dedup_search_arg_types);
	return *kept;
}

/*
 * dedup_orders_have_spans says whether workorder.orders has settled_at and
 * its index: not while the database is still at 0.4, whose intake runs this
 * library from the moment the server loads it until ALTER EXTENSION ...
 * UPDATE.  There the search is 0.4's: orders received within the window
 * either side of the report, resolved ones by their log.  Asked at every
 * search (three catalogue cache lookups), since the update may come in the
 * middle of a session.
 */
static bool
dedup_orders_have_spans(void)
{
	Oid			orders = get_relname_relid("orders", get_namespace_oid("workorder", false));

	return OidIsValid(orders) && get_attnum(orders, "settled_at") != InvalidAttrNumber;
}

/*
 * dedup_scan_order starts a scan of the rows of order id in table relname of
 * the workorder schema, by its index indexname (whose first column is
 * columns[0], the order's id), with the active snapshot: the search's, when
 * called from its receiver.  It sets *rel to the table (locked
 * AccessShareLock until the transaction ends) and attnums to the numbers of
 * the columns named.  End it with dedup_scan_order_end().
 */
static SysScanDesc
dedup_scan_order(const char *relname, const char *indexname, int64 id, int ncolumns,
				 const char *const *columns, AttrNumber *attnums, Relation *rel)
{
	Oid			nsp = get_namespace_oid("workorder", false);
	Oid			relid = get_relname_relid(relname, nsp);
	Oid			index = get_relname_relid(indexname, nsp);
	ScanKeyData key;
	int			i;

	if (!OidIsValid(relid) || !OidIsValid(index))
		elog(ERROR, "table workorder.%s or its index %s is missing", relname, indexname);
	for (i = 0; i < ncolumns; i++)
	{
		attnums[i] = get_attnum(relid, columns[i]);
		if (attnums[i] == InvalidAttrNumber)
			elog(ERROR, "column %s of workorder.%s is missing", columns[i], relname);
	}
	*rel = table_open(relid, AccessShareLock);
	ScanKeyInit(&key, attnums[0], BTEqualStrategyNumber, F_INT8EQ, Int64GetDatum(id));
	return systable_beginscan(*rel, index, true, GetActiveSnapshot(), 1, &key);
}

/* dedup_scan_order_end ends a scan of dedup_scan_order(), keeping the lock. */
static void
dedup_scan_order_end(SysScanDesc scan, Relation rel)
{
	systable_endscan(scan);
	table_close(rel, NoLock);
}

/*
 * dedup_waits_for_review says whether order id is a suspected duplicate
 * waiting for review: its dedup_checks row, read by its key with the search's
 * snapshot, has decision review and no review.  This was the search's
 * sub-query
 *   COALESCE((SELECT k.decision = 'review' AND k.review IS NULL
 *             FROM workorder.dedup_checks k WHERE k.order_id = o.id), false)
 * asked of its new orders (the caller checks the status).
 */
static bool
dedup_waits_for_review(int64 id)
{
	static const char *const columns[] = {"order_id", "decision", "review"};
	AttrNumber	attnums[3];
	Relation	rel;
	SysScanDesc scan = dedup_scan_order("dedup_checks", "dedup_checks_pkey", id, 3, columns, attnums, &rel);
	HeapTuple	tuple = systable_getnext(scan);
	bool		waits = false;

	if (HeapTupleIsValid(tuple))
	{
		bool		decision_null;
		bool		review_null;
		Datum		decision = heap_getattr(tuple, attnums[1], RelationGetDescr(rel), &decision_null);

		(void) heap_getattr(tuple, attnums[2], RelationGetDescr(rel), &review_null);
		waits = !decision_null && review_null &&
			dedup_text_is(PointerGetDatum(PG_DETOAST_DATUM_PACKED(decision)), "review", strlen("review"));
	}
	dedup_scan_order_end(scan, rel);
	return waits;
}

/*
 * dedup_last_resolved returns when order id was last resolved, the latest
 * time of its resolve events (its events read by the key (order_id, seq) of
 * order_events, with the search's snapshot), and sets *isnull when it has
 * none.  This was the search's sub-query
 *   (SELECT max(e.at) FROM workorder.order_events e
 *     WHERE e.order_id = o.id AND e.action = 'resolve')
 * asked of its resolved and closed orders (the caller checks the status).
 * It is asked now only of one without settled_at: a row written while its
 * trigger was bypassed.
 */
static Datum
dedup_last_resolved(int64 id, bool *isnull)
{
	static const char *const columns[] = {"order_id", "action", "at"};
	AttrNumber	attnums[3];
	Relation	rel;
	SysScanDesc scan = dedup_scan_order("order_events", "order_events_seq_unique", id, 3, columns, attnums, &rel);
	HeapTuple	tuple;
	TimestampTz latest = 0;

	*isnull = true;
	while (HeapTupleIsValid(tuple = systable_getnext(scan)))
	{
		bool		action_null;
		bool		at_null;
		Datum		action = heap_getattr(tuple, attnums[1], RelationGetDescr(rel), &action_null);
		Datum		at;

		if (action_null ||
			!dedup_text_is(PointerGetDatum(PG_DETOAST_DATUM_PACKED(action)), "resolve", strlen("resolve")))
			continue;
		at = heap_getattr(tuple, attnums[2], RelationGetDescr(rel), &at_null);
		if (at_null)
			continue;
		if (*isnull || DatumGetTimestampTz(at) > latest)
			latest = DatumGetTimestampTz(at);
		*isnull = false;
	}
	dedup_scan_order_end(scan, rel);
	return TimestampTzGetDatum(latest);
}

/* dedup_arg_text returns text argument argno as a string, or NULL. */
static char *
dedup_arg_text(FunctionCallInfo fcinfo, int argno)
{
	if (PG_ARGISNULL(argno))
		return NULL;
	return text_to_cstring(PG_GETARG_TEXT_PP(argno));
}

/*
 * dedup_parse_interval is value::interval for a value that may be wrong:
 * false when the input function fails with a data exception (class 22), as
 * the SQL's EXCEPTION WHEN data_exception caught it.  Other errors are
 * raised.  The parse runs in a subtransaction, as that handler's did.
 */
static bool
dedup_parse_interval(const char *value, Interval *span)
{
	MemoryContext caller = CurrentMemoryContext;
	ResourceOwner owner = CurrentResourceOwner;
	volatile bool ok = true;

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(caller);
	PG_TRY();
	{
		Datum		v = DirectFunctionCall3(interval_in, CStringGetDatum(value),
											ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1));

		memcpy(span, DatumGetIntervalP(v), sizeof(Interval));
		ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(caller);
		CurrentResourceOwner = owner;
	}
	PG_CATCH();
	{
		ErrorData  *error;

		MemoryContextSwitchTo(caller);
		error = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(caller);
		CurrentResourceOwner = owner;
		if (ERRCODE_TO_CATEGORY(error->sqlerrcode) != ERRCODE_DATA_EXCEPTION)
			ReThrowError(error);
		FreeErrorData(error);
		ok = false;
	}
	PG_END_TRY();
	return ok;
}

/*
 * dedup_setting is the SQL's dedup_setting(): the value of a district-wide
 * dedup setting, or its default, checked.  kind is number (a number in
 * [low, high]), interval (an interval of low to high days), switch (on or
 * off) or word (reopen or link); anything else is WO701.
 */
static const char *
dedup_setting(const char *name, const char *default_value, const char *kind, double low, double high)
{
	const char *row = workorder_setting(name);
	const char *value = row ? row : default_value;
	bool		bad = false;
	double		number = 0;
	const char *hint;

	if (strcmp(kind, "number") == 0)
	{
		bool		have_error = false;

		number = float8in_internal_opt_error(unconstify(char *, value), NULL, "double precision",
											 value, &have_error);
		bad = have_error;
	}
	else if (strcmp(kind, "interval") == 0)
	{
		Interval	span;

		/* A default is well-formed: only a setting's row needs the handler. */
		if (row == NULL)
			memcpy(&span, DatumGetIntervalP(DirectFunctionCall3(interval_in, CStringGetDatum(value),
																ObjectIdGetDatum(InvalidOid),
																Int32GetDatum(-1))), sizeof(Interval));
		else if (!dedup_parse_interval(value, &span))
			bad = true;
		if (!bad)
		{
			/* EXTRACT(epoch FROM span) / 86400.0, in numeric, as the SQL divided. */
			Datum		epoch = DirectFunctionCall2(extract_interval, CStringGetTextDatum("epoch"),
													IntervalPGetDatum(&span));
			Datum		day = DirectFunctionCall3(numeric_in, CStringGetDatum("86400.0"),
												  ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1));

			number = DatumGetFloat8(DirectFunctionCall1(numeric_float8,
														DirectFunctionCall2(numeric_div, epoch, day)));
		}
	}
	else if (strcmp(kind, "switch") == 0)
		bad = !(strcmp(value, "on") == 0 || strcmp(value, "off") == 0);
	else
		bad = !(strcmp(value, "reopen") == 0 || strcmp(value, "link") == 0);

	if (!bad && (strcmp(kind, "number") == 0 || strcmp(kind, "interval") == 0))
		bad = isnan(number) || float8_lt(number, low) || float8_gt(number, high);
	if (!bad)
		return value;

	if (strcmp(kind, "number") == 0)
		hint = psprintf("Set a number from %s to %s.",
						DatumGetCString(DirectFunctionCall1(float8out, Float8GetDatum(low))),
						DatumGetCString(DirectFunctionCall1(float8out, Float8GetDatum(high))));
	else if (strcmp(kind, "interval") == 0)
		hint = psprintf("Set an interval from %s to %s days.",
						DatumGetCString(DirectFunctionCall1(float8out, Float8GetDatum(low))),
						DatumGetCString(DirectFunctionCall1(float8out, Float8GetDatum(high))));
	else if (strcmp(kind, "switch") == 0)
		hint = "Set on or off.";
	else
		hint = "Set reopen or link.";
	ereport(ERROR,
			(errcode(ERRCODE_WO_INVALID_DEDUP_SETTING),
			 errmsg("invalid dedup setting %s", name),
			 errdetail("The value is %s.",
					   TextDatumGetCString(DirectFunctionCall1(quote_literal, CStringGetTextDatum(value)))),
			 errhint("%s", hint)));
	return NULL;				/* not reached */
}

/* dedup_interval is value::interval for a value dedup_setting() checked. */
static Interval *
dedup_interval(const char *value)
{
	return DatumGetIntervalP(DirectFunctionCall3(interval_in, CStringGetDatum(value),
												 ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1)));
}

/* dedup_number is value::double precision for a value dedup_setting() checked. */
static double
dedup_number(const char *value)
{
	return DatumGetFloat8(DirectFunctionCall1(float8in, CStringGetDatum(value)));
}

/*
 * dedup_open_window is the setting dedup_open_window: how long after its
 * receipt an order takes reports, open or resolved within closed_window (a
 * category's window, when longer, counts instead).  Without it an order left
 * open, returned to the dispatchers and never settled, took every report at
 * its place for years, and every search in its box read it.  Its value is
 * parsed again only when the setting's text changes.
 */
static Interval *
dedup_open_window(void)
{
	static bool parsed_known = false;
	static char *parsed_row = NULL; /* the setting's row as parsed; NULL: none */
	static Interval parsed;
	const char *row = workorder_setting("dedup_open_window");

	if (!parsed_known || (row == NULL) != (parsed_row == NULL) ||
		(row != NULL && strcmp(row, parsed_row) != 0))
	{
		memcpy(&parsed, dedup_interval(dedup_setting("dedup_open_window", "30 days", "interval", 0, 365)),
			   sizeof(Interval));
		if (parsed_row != NULL)
			pfree(parsed_row);
		parsed_row = row ? MemoryContextStrdup(TopMemoryContext, row) : NULL;
		parsed_known = true;
	}
	return &parsed;
}

/*
 * dedup_district_radius is the district-wide search radius, the setting
 * dedup_radius_m: a category's when it has none of its own, for its policy and
 * for the family's lock grid alike.
 */
static NDouble
dedup_district_radius(void)
{
	return nd(dedup_number(dedup_setting("dedup_radius_m", "100", "number", 1, 5000)));
}

/*
 * dedup_policy_resolve computes the policy in force for a category, into p
 * (in the current memory context): the category's row of category_effective
 * (none for a NULL or unknown code: no family), for each rule column the
 * deepest rule along its path that sets it, and the district-wide settings
 * for the rest, each checked only when it is needed, in the SQL's order.
 */
static void
dedup_policy_resolve(const char *code, DedupPolicy *p)
{
	const CategoryInfo *c = code ? workorder_category(code) : NULL;
	NDouble		own[DEDUP_RULE_NUMBERS];
	Interval   *own_closed = NULL;
	char	   *own_late = NULL;
	char	  **path;
	int			path_length;
	int			i;
	int			k;

	memset(p, 0, sizeof(DedupPolicy));
	for (k = 0; k < DEDUP_RULE_NUMBERS; k++)
		own[k] = nd_null;
	p->number[P_RADIUS] = nd_null;
	if (c != NULL)
	{
		p->category_code = pstrdup(c->code);
		p->family = pstrdup(c->family);
		p->path = datumCopy(c->path, false, -1);
		if (c->has_dedup_radius)
			p->number[P_RADIUS] = nd(c->dedup_radius_m);
		if (c->dedup_window)
		{
			p->time_window = palloc(sizeof(Interval));
			memcpy(p->time_window, c->dedup_window, sizeof(Interval));
		}
		path_length = c->path_length;
		path = palloc(sizeof(char *) * Max(path_length, 1));
		for (i = 0; i < path_length; i++)
			path[i] = TextDatumGetCString(c->path_elems[i]);
		/* The deepest rule that sets each column. */
		for (i = path_length - 1; i >= 0; i--)
		{
			const DedupRuleInfo *rule = workorder_dedup_rule(path[i]);

			if (rule == NULL)
				continue;
			for (k = 0; k < DEDUP_RULE_NUMBERS; k++)
				if (own[k].null && rule->has_number[k])
					own[k] = nd(rule->number[k]);
			if (own_closed == NULL && rule->closed_window != NULL)
			{
				own_closed = palloc(sizeof(Interval));
				memcpy(own_closed, rule->closed_window, sizeof(Interval));
			}
			if (own_late == NULL && rule->late_policy != NULL)
				own_late = pstrdup(rule->late_policy);
		}
	}
	if (p->number[P_RADIUS].null)
		p->number[P_RADIUS] = dedup_district_radius();
	if (p->time_window == NULL)
		p->time_window = dedup_interval(dedup_setting("dedup_window", "3 days", "interval", 0.0007, 90));
	p->closed_window = own_closed ? own_closed
		: dedup_interval(dedup_setting("dedup_closed_window", "3 days", "interval", 0, 90));
	p->number[P_WEIGHT_DISTANCE] = !own[0].null ? own[0]
		: nd(dedup_number(dedup_setting("dedup_weight_distance", "2", "number", 0, 100)));
	p->number[P_WEIGHT_TIME] = !own[1].null ? own[1]
		: nd(dedup_number(dedup_setting("dedup_weight_time", "1", "number", 0, 100)));
	p->number[P_WEIGHT_TEXT] = !own[2].null ? own[2]
		: nd(dedup_number(dedup_setting("dedup_weight_text", "4", "number", 0, 100)));
	p->number[P_WEIGHT_ADDRESS] = !own[3].null ? own[3]
		: nd(dedup_number(dedup_setting("dedup_weight_address", "1", "number", 0, 100)));
	p->number[P_WEIGHT_REPORTER] = !own[4].null ? own[4]
		: nd(dedup_number(dedup_setting("dedup_weight_reporter", "1", "number", 0, 100)));
	p->number[P_MERGE] = !own[5].null ? own[5]
		: nd(dedup_number(dedup_setting("dedup_merge_threshold", "0.50", "number", 0.01, 1)));
	/* Thresholds that cross leave no review band. */
	p->number[P_REVIEW] = nd_least(!own[6].null ? own[6]
								   : nd(dedup_number(dedup_setting("dedup_review_threshold", "0.40", "number", 0.01, 1))),
								   p->number[P_MERGE]);
	p->late_policy = own_late ? own_late : pstrdup(dedup_setting("dedup_late_policy", "link", "word", 0, 0));
	p->has_enabled = true;
	p->enabled = DatumGetBool(DirectFunctionCall1(boolin,
												  CStringGetDatum(dedup_setting("dedup_enabled", "on", "switch", 0, 0))));
}

/*
 * dedup_policy_for returns the policy in force for a category code (NULL:
 * none), from the cache of resolved policies.  The cache is emptied when the
 * reference cache was loaded again (a setting, a category or a dedup rule
 * changed) or the date and interval styles that parse the settings changed.
 * A policy whose settings are invalid raises WO701 and is not kept, so it
 * raises again next time.
 */
static const DedupPolicy *
dedup_policy_for(const char *code)
{
	uint64		version;
	char		key[DEDUP_KEY_LEN];
	DedupPolicyEntry *entry;
	DedupPolicy resolved;
	MemoryContext old;
	bool		found;

	/* The reference cache takes in other sessions' changes first. */
	version = workorder_reference_version();

	if (dedup_policy_cache == NULL || version != dedup_policy_version ||
		DateStyle != dedup_policy_datestyle || DateOrder != dedup_policy_dateorder ||
		IntervalStyle != dedup_policy_intervalstyle)
	{
		HASHCTL		ctl;

		if (dedup_policy_context == NULL)
			dedup_policy_context = AllocSetContextCreate(CacheMemoryContext, "workorder dedup policies",
														 ALLOCSET_SMALL_SIZES);
		else
			MemoryContextReset(dedup_policy_context);
		memset(&ctl, 0, sizeof(ctl));
		ctl.keysize = DEDUP_KEY_LEN;
		ctl.entrysize = sizeof(DedupPolicyEntry);
		ctl.hcxt = dedup_policy_context;
		dedup_policy_cache = hash_create("workorder dedup policies", 64, &ctl,
										 HASH_ELEM | HASH_STRINGS | HASH_CONTEXT);
		dedup_policy_version = version;
		dedup_policy_datestyle = DateStyle;
		dedup_policy_dateorder = DateOrder;
		dedup_policy_intervalstyle = IntervalStyle;
	}

	/* Every code that is not a category has the district-wide policy: key "". */
	if (code == NULL || strlen(code) >= DEDUP_KEY_LEN - 1 || workorder_category(code) == NULL)
		strlcpy(key, "", sizeof(key));
	else
		snprintf(key, sizeof(key), "K%s", code);
	entry = (DedupPolicyEntry *) hash_search(dedup_policy_cache, key, HASH_FIND, NULL);
	if (entry != NULL)
		return &entry->policy;

	old = MemoryContextSwitchTo(dedup_policy_context);
	dedup_policy_resolve(key[0] ? code : NULL, &resolved);
	MemoryContextSwitchTo(old);
	entry = (DedupPolicyEntry *) hash_search(dedup_policy_cache, key, HASH_ENTER, &found);
	entry->policy = resolved;
	return &entry->policy;
}

/*
 * dedup_policy_datum makes the composite value of a policy; its columns are
 * left in values and nulls (PC_COLUMNS each).
 */
static Datum
dedup_policy_datum(const DedupPolicy *p, TupleDesc desc, Datum *values, bool *nulls)
{
	int			k;

	memset(values, 0, sizeof(Datum) * PC_COLUMNS);
	memset(nulls, true, sizeof(bool) * PC_COLUMNS);
	if (p->category_code)
	{
		values[PC_CATEGORY_CODE] = CStringGetTextDatum(p->category_code);
		nulls[PC_CATEGORY_CODE] = false;
	}
	if (p->family)
	{
		values[PC_FAMILY] = CStringGetTextDatum(p->family);
		nulls[PC_FAMILY] = false;
	}
	if (p->path != (Datum) 0)
	{
		values[PC_PATH] = p->path;
		nulls[PC_PATH] = false;
	}
	if (p->time_window)
	{
		values[PC_TIME_WINDOW] = IntervalPGetDatum(p->time_window);
		nulls[PC_TIME_WINDOW] = false;
	}
	if (p->closed_window)
	{
		values[PC_CLOSED_WINDOW] = IntervalPGetDatum(p->closed_window);
		nulls[PC_CLOSED_WINDOW] = false;
	}
	for (k = 0; k < P_NUMBERS; k++)
	{
		int			col = (k == P_RADIUS) ? PC_RADIUS_M : PC_WEIGHT_DISTANCE + (k - P_WEIGHT_DISTANCE);

		if (!p->number[k].null)
		{
			values[col] = Float8GetDatum(p->number[k].v);
			nulls[col] = false;
		}
	}
	if (p->late_policy)
	{
		values[PC_LATE_POLICY] = CStringGetTextDatum(p->late_policy);
		nulls[PC_LATE_POLICY] = false;
	}
	if (p->has_enabled)
	{
		values[PC_ENABLED] = BoolGetDatum(p->enabled);
		nulls[PC_ENABLED] = false;
	}
	return HeapTupleGetDatum(heap_form_tuple(desc, values, nulls));
}

/*
 * dedup_policy_from_datum reads a composite workorder.dedup_policy (an
 * argument of dedup_candidates; NULL for a NULL one) into p.
 */
static void
dedup_policy_from_datum(HeapTupleHeader row, DedupPolicy *p)
{
	TupleDesc	desc;
	HeapTupleData tuple;
	Datum		values[PC_COLUMNS];
	bool		nulls[PC_COLUMNS];
	int			k;

	memset(p, 0, sizeof(DedupPolicy));
	for (k = 0; k < P_NUMBERS; k++)
		p->number[k] = nd_null;
	if (row == NULL)
		return;
	desc = lookup_rowtype_tupdesc(HeapTupleHeaderGetTypeId(row), HeapTupleHeaderGetTypMod(row));
	if (desc->natts != PC_COLUMNS)
		elog(ERROR, "workorder.dedup_policy has %d columns, not %d", desc->natts, PC_COLUMNS);
	tuple.t_len = HeapTupleHeaderGetDatumLength(row);
	ItemPointerSetInvalid(&(tuple.t_self));
	tuple.t_tableOid = InvalidOid;
	tuple.t_data = row;
	heap_deform_tuple(&tuple, desc, values, nulls);
	ReleaseTupleDesc(desc);
	if (!nulls[PC_CATEGORY_CODE])
		p->category_code = TextDatumGetCString(values[PC_CATEGORY_CODE]);
	if (!nulls[PC_FAMILY])
		p->family = TextDatumGetCString(values[PC_FAMILY]);
	if (!nulls[PC_PATH])
		p->path = PointerGetDatum(PG_DETOAST_DATUM_COPY(values[PC_PATH]));
	if (!nulls[PC_TIME_WINDOW])
	{
		p->time_window = palloc(sizeof(Interval));
		memcpy(p->time_window, DatumGetIntervalP(values[PC_TIME_WINDOW]), sizeof(Interval));
	}
	if (!nulls[PC_CLOSED_WINDOW])
	{
		p->closed_window = palloc(sizeof(Interval));
		memcpy(p->closed_window, DatumGetIntervalP(values[PC_CLOSED_WINDOW]), sizeof(Interval));
	}
	for (k = 0; k < P_NUMBERS; k++)
	{
		int			col = (k == P_RADIUS) ? PC_RADIUS_M : PC_WEIGHT_DISTANCE + (k - P_WEIGHT_DISTANCE);

		if (!nulls[col])
			p->number[k] = nd(DatumGetFloat8(values[col]));
	}
	if (!nulls[PC_LATE_POLICY])
		p->late_policy = TextDatumGetCString(values[PC_LATE_POLICY]);
	if (!nulls[PC_ENABLED])
	{
		p->has_enabled = true;
		p->enabled = DatumGetBool(values[PC_ENABLED]);
	}
}

/*
 * dedup_check_point is WO101 for a geometry that is not a point or is empty
 * (ST_GeometryType(point) <> 'ST_Point' OR ST_IsEmpty(point)); a NULL one
 * passes, as the SQL's test was NULL for it.  So does a point whose type is
 * NULL unless it is empty, and a point whose emptiness is NULL.
 */
static void
dedup_check_point(DedupPostgis *pg, Datum point, bool point_null, const char *message)
{
	bool		isnull;
	char	   *kind;
	bool		empty;
	bool		empty_null;
	Datum		as_text;
	char	   *shown;

	if (point_null)
		return;
	workorder_geometry_shape(point, pg->geometry_type, &kind, &empty, &empty_null);
	if (kind == NULL || strcmp(kind, "ST_Point") == 0)
	{
		if (empty_null || !empty)
			return;
	}
	as_text = dedup_call(&pg->as_text, 1, point, 0, 0, &isnull);
	shown = isnull ? "" : TextDatumGetCString(DirectFunctionCall2(text_left, as_text, Int32GetDatum(60)));
	ereport(ERROR,
			(errcode(ERRCODE_WO_INVALID_LOCATION),
			 errmsg("%s", message),
			 errdetail("The geometry is %s.", shown),
			 errhint("Pass the report's location as checked by workorder.location_point().")));
}

/*
 * dedup_check_srid is WO102 for a point of a SRID other than 4326 (or 0,
 * which geography takes for 4326).  The orders' locations are of SRID 4326
 * and the search box is made in it; a point of another SRID was searched
 * as if it were of 4326, and then, only when the box held a candidate,
 * refused by PostGIS (which does not measure between two SRIDs) with an
 * internal error.  submit() transforms every location to 4326 first.
 */
static void
dedup_check_srid(Datum point, bool point_null)
{
	int32		srid;

	if (point_null)
		return;
	srid = workorder_geometry_srid(point);
	if (srid != 4326 && srid != 0)
		ereport(ERROR,
				(errcode(ERRCODE_WO_INVALID_SRID),
				 errmsg("dedup_candidates needs a point of SRID 4326"),
				 errdetail("The point's SRID is %d.", srid),
				 errhint("Transform it with ST_Transform(point, 4326), as submit() does.")));
}

/* dedup_point_coordinate is ST_X(point) or ST_Y(point), NULL for a NULL point. */
static NDouble
dedup_point_coordinate(FmgrInfo *f, Datum point, bool point_null)
{
	bool		isnull;
	Datum		v;

	if (point_null)
		return nd_null;
	v = dedup_call(f, 1, point, 0, 0, &isnull);
	return isnull ? nd_null : nd(DatumGetFloat8(v));
}

/*
 * dedup_half_width is the search circle's half width in degrees of longitude
 * at latitude y: dlat / GREATEST(cosd(LEAST(abs(y) + dlat, 89.0)), 0.01).
 */
static NDouble
dedup_half_width(NDouble dlat, NDouble y)
{
	NDouble		lat = nd_least(y.null ? nd_null : nd_pl(nd(fabs(y.v)), dlat), nd(89.0));
	NDouble		cosine = nd(DatumGetFloat8(DirectFunctionCall1(dcosd, Float8GetDatum(lat.v))));

	return nd_div(dlat, nd_greatest(cosine, nd(0.01)));
}

/*
 * dedup_cell is floor(coordinate / cell)::bigint: division by zero and a
 * value out of bigint's range are errors.  The caller checks for NULLs.
 */
static int64
dedup_cell(NDouble coordinate, NDouble cell)
{
	double		v = floor(nd_div(coordinate, cell).v);

	return DatumGetInt64(DirectFunctionCall1(dtoi8, Float8GetDatum(v)));
}

/* dedup_int32_cmp orders int32 values ascending, for qsort. */
static int
dedup_int32_cmp(const void *a, const void *b)
{
	int32		x = *(const int32 *) a;
	int32		y = *(const int32 *) b;

	return (x > y) - (x < y);
}

/*
 * dedup_lock_cells takes the locks of the neighbourhood (see
 * sql/install/62_dedup.sql): one per grid cell of the family (side: twice
 * the family's largest radius, a category without one counting the
 * district's, the setting dedup_radius_m, as its policy does) that the circle
 * of radius_m around point touches, in key order; or, when
 * that is more than 16 cells, one for the whole family.  They are the
 * extension's own advisory locks (locks.c), which no SQL session can hold
 * to stall a neighbourhood's reports; their keys are
 * (hashtext('workorder.dedup'), hashtext(concat_ws('/', family, x, y))) and
 * (hashtext('workorder.dedup'), hashtext(family)).  NULLs lock nothing.
 *
 * The grid must be the family's whoever asks: a category without a radius
 * used to count the caller's, so that a report of the family's root (the
 * district's 100 m) and one of a child with 30 m of its own locked grids of
 * different sides, never waited for each other, and two reports of one event
 * became two masters.
 */
static void
dedup_lock_cells(DedupPostgis *pg, const char *family, Datum point, bool point_null, NDouble radius_m)
{
	NDouble		dlat = nd_div(radius_m, nd(110000.0));
	NDouble		family_radius = nd_null;
	NDouble		district_radius = nd_null;
	NDouble		cell;
	NDouble		dlon;
	NDouble		x;
	NDouble		y;
	ListCell   *lc;
	int64		x0,
				x1,
				y0,
				y1,
				width,
				height,
				cells;
	int32		keys[16];
	int			nkeys = 0;
	int			i;
	int32		dedup_key;
	int64		cx,
				cy;

	dedup_check_point(pg, point, point_null, "dedup_lock needs a point");

	/* max(COALESCE(e.dedup_radius_m, the setting dedup_radius_m)) over the family's categories */
	foreach(lc, workorder_family_categories(family))
	{
		const CategoryInfo *c = (const CategoryInfo *) lfirst(lc);
		NDouble		r;

		if (c->has_dedup_radius)
			r = nd(c->dedup_radius_m);
		else
		{
			if (district_radius.null)
				district_radius = dedup_district_radius();
			r = district_radius;
		}
		if (!r.null && (family_radius.null || float8_gt(r.v, family_radius.v)))
			family_radius = r;
	}
	cell = nd_div(nd_mul(nd(2.0), nd_greatest(family_radius, radius_m)), nd(110000.0));
	y = dedup_point_coordinate(&pg->y, point, point_null);
	dlon = dedup_half_width(dlat, y);
	x = dedup_point_coordinate(&pg->x, point, point_null);
	if (x.null || dlon.null || cell.null)
		return;
	x0 = dedup_cell(nd_mi(x, dlon), cell);
	x1 = dedup_cell(nd_pl(x, dlon), cell);
	if (y.null || dlat.null)
		return;
	y0 = dedup_cell(nd_mi(y, dlat), cell);
	y1 = dedup_cell(nd_pl(y, dlat), cell);
	if (pg_sub_s64_overflow(x1, x0, &width) || pg_add_s64_overflow(width, 1, &width) ||
		pg_sub_s64_overflow(y1, y0, &height) || pg_add_s64_overflow(height, 1, &height) ||
		pg_mul_s64_overflow(width, height, &cells))
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("bigint out of range")));
	if (cells > 16)
	{
		if (family != NULL)
			(void) workorder_lock_acquire(workorder_lock_hash("workorder.dedup"), workorder_lock_hash(family),
										 ExclusiveLock, false);
		return;
	}
	if (x1 < x0 || y1 < y0)
		return;
	for (cx = x0; cx <= x1; cx++)
		for (cy = y0; cy <= y1; cy++)
		{
			char	   *key = family ? psprintf("%s/" INT64_FORMAT "/" INT64_FORMAT, family, cx, cy)
				: psprintf(INT64_FORMAT "/" INT64_FORMAT, cx, cy);

			keys[nkeys++] = workorder_lock_hash(key);
			pfree(key);
		}
	qsort(keys, nkeys, sizeof(int32), dedup_int32_cmp);
	dedup_key = workorder_lock_hash("workorder.dedup");
	for (i = 0; i < nkeys; i++)
		if (i == 0 || keys[i] != keys[i - 1])
			(void) workorder_lock_acquire(dedup_key, keys[i], ExclusiveLock, false);
}

/*
 * dedup_phone_digits is the SQL's dedup_phone(): the digits of a phone
 * number (the last 11: a leading +86 or 0086 is the same phone), NULL for
 * NULL or fewer than 5 digits.
 */
static text *
dedup_phone_digits(text *phone)
{
	const char *s;
	int			len;
	char	   *digits;
	int			n = 0;
	int			i;

	if (phone == NULL)
		return NULL;
	s = VARDATA_ANY(phone);
	len = VARSIZE_ANY_EXHDR(phone);
	digits = palloc(len + 1);
	/* Server encodings are ASCII-safe: no byte of another character is a digit. */
	for (i = 0; i < len; i++)
		if (s[i] >= '0' && s[i] <= '9')
			digits[n++] = s[i];
	if (n < 5)
		return NULL;
	return n > 11 ? cstring_to_text_with_len(digits + n - 11, 11) : cstring_to_text_with_len(digits, n);
}

/* dedup_text_eq is a = b for texts (equality is bytewise: the default collation is deterministic). */
static bool
dedup_text_eq(text *a, text *b)
{
	return VARSIZE_ANY_EXHDR(a) == VARSIZE_ANY_EXHDR(b) &&
		memcmp(VARDATA_ANY(a), VARDATA_ANY(b), VARSIZE_ANY_EXHDR(a)) == 0;
}

/* dedup_text_is is a = b for a text and a string of len bytes, bytewise as dedup_text_eq. */
static bool
dedup_text_is(Datum a, const char *b, size_t len)
{
	return VARSIZE_ANY_EXHDR(DatumGetPointer(a)) == len && memcmp(VARDATA_ANY(DatumGetPointer(a)), b, len) == 0;
}

/* dedup_concat_ws is concat_ws(' ', a, b): NULLs left out. */
static text *
dedup_concat_ws(text *a, text *b)
{
	StringInfoData s;

	initStringInfo(&s);
	if (a)
		appendBinaryStringInfo(&s, VARDATA_ANY(a), VARSIZE_ANY_EXHDR(a));
	if (a && b)
		appendStringInfoChar(&s, ' ');
	if (b)
		appendBinaryStringInfo(&s, VARDATA_ANY(b), VARSIZE_ANY_EXHDR(b));
	return cstring_to_text_with_len(s.data, s.len);
}

/*
 * dedup_path_has is code = ANY (path) for the policy's path: true when an
 * element is code; else false, with *null set when the path is NULL or has
 * a NULL element.  The path is deconstructed once for a search, not for
 * each candidate.
 */
static bool
dedup_path_has(DedupSearch *s, const char *code, bool *null)
{
	size_t		len = strlen(code);
	int			i;

	*null = false;
	if (s->p->path == (Datum) 0)
	{
		*null = true;
		return false;
	}
	if (!s->path_known)
	{
		MemoryContext old = MemoryContextSwitchTo(s->caller);

		deconstruct_array(DatumGetArrayTypeP(s->p->path), TEXTOID, -1, false, TYPALIGN_INT,
						  &s->path_elems, &s->path_nulls, &s->path_length);
		MemoryContextSwitchTo(old);
		s->path_known = true;
	}
	for (i = 0; i < s->path_length; i++)
	{
		if (s->path_nulls[i])
		{
			*null = true;
			continue;
		}
		if (dedup_text_is(s->path_elems[i], code, len))
		{
			*null = false;
			return true;
		}
	}
	return false;
}

/* dedup_family_codes is the codes of a family's categories, as text[]. */
static Datum
dedup_family_codes(const char *family)
{
	List	   *members = workorder_family_categories(family);
	Datum	   *codes = palloc(sizeof(Datum) * Max(list_length(members), 1));
	ListCell   *lc;
	int			n = 0;

	foreach(lc, members)
		codes[n++] = CStringGetTextDatum(((const CategoryInfo *) lfirst(lc))->code);
	return PointerGetDatum(construct_array(codes, n, TEXTOID, -1, false, TYPALIGN_INT));
}

/*
 * dedup_candidate_order is the order of dedup_candidates(): the best score
 * first, NULL scores last, ties to the earlier order.
 */
static int
dedup_candidate_order(const void *a, const void *b)
{
	const DedupCandidate *x = *(DedupCandidate *const *) a;
	const DedupCandidate *y = *(DedupCandidate *const *) b;
	int			c = nd_cmp(y->score, x->score, true);

	if (c != 0)
		return c;
	return (x->order_id > y->order_id) - (x->order_id < y->order_id);
}

/*
 * dedup_distance is ST_Distance(location::geography, point::geography) of a
 * candidate's location and the report's point, NULL when either is empty.
 * Both points of SRID 4326 (the report's may be of SRID 0, which geography
 * takes for 4326) and on the earth: Vincenty's geodesic on WGS 84
 * (geodesic.c), which agrees with PostGIS's within 10 micrometres at a
 * fraction of its cost (PostGIS casts both points to geography and builds a
 * tree for each, for every candidate); otherwise, and should the iteration
 * not converge, PostGIS itself, with its errors.
 */
static NDouble
dedup_distance(DedupSearch *s, Datum location)
{
	NDouble		x;
	NDouble		y;
	double		metres;
	bool		isnull;
	Datum		geography;
	MemoryContext old;

	if (s->report_on_wgs84)
	{
		x = dedup_point_coordinate(&s->pg->x, location, false);
		y = dedup_point_coordinate(&s->pg->y, location, false);
		if (x.null || y.null)
			return nd_null;		/* an empty point */
		if (fabs(x.v) <= 180.0 && fabs(y.v) <= 90.0 &&
			workorder_geodesic_distance(s->report_x, s->report_y, x.v, y.v, &metres))
			return nd(metres);
	}
	geography = dedup_call(&s->pg->to_geography, 1, location, 0, 0, &isnull);
	if (isnull)
		return nd_null;
	if (!s->report_geography_known)
	{
		old = MemoryContextSwitchTo(s->caller);
		s->report_geography = dedup_call(&s->pg->to_geography, 1, s->r->point, 0, 0, &s->report_geography_null);
		MemoryContextSwitchTo(old);
		s->report_geography_known = true;
	}
	if (s->report_geography_null)
		return nd_null;
	metres = DatumGetFloat8(dedup_call(&s->pg->distance, 3, geography, s->report_geography,
									   BoolGetDatum(true), &isnull));
	return isnull ? nd_null : nd(metres);
}

/*
 * dedup_candidate_from_row looks at one order of the search box (row of the
 * search query) and, when it is a candidate, scores it into *c (the values
 * in memory of the search's caller) and returns true.  Its filters are the
 * SQL's quals: the family, received from dedup_open_window (or the window)
 * before the report to the window after it, then neither merged nor
 * cancelled, not the excluded order, not a suspected duplicate waiting for
 * review, open or resolved no longer than closed_window before the report,
 * within the radius.
 */
static bool
dedup_candidate_from_row(DedupSearch *s, const Datum *v, const bool *n, TupleDesc desc, DedupCandidate *c)
{
	const DedupPolicy *p = s->p;
	const DedupReport *r = s->r;
	int64		id = DatumGetInt64(v[SQ_ID - 1]);
	Oid			status = DatumGetObjectId(v[SQ_STATUS - 1]);
	Datum		category = v[SQ_CATEGORY_CODE - 1];
	TimestampTz received_at;
	const CategoryInfo *info;
	char	   *code;
	Datum		resolved;
	bool		resolved_null;
	bool		open;
	Datum		location;
	NDouble		metres;
	Interval   *gap;
	NDouble		gap_s;
	int64		gap_us;
	text	   *description;
	text	   *address;
	NDouble		s_distance;
	NDouble		s_time;
	NDouble		s_text = nd_null;
	NDouble		s_address = nd_null;
	NDouble		s_reporter = nd_null;
	NDouble		sum;
	NDouble		weights;
	NDouble		part;
	bool		related_null;
	bool		related;
	bool		same_code;
	DedupAtMost at_most;
	char	   *at_most_reason;
	MemoryContext old;

	if (n[SQ_CATEGORY_CODE - 1])
		return false;
	code = TextDatumGetCString(category);
	info = workorder_category(code);
	if (info == NULL || strcmp(info->family, p->family) != 0)
		return false;
	received_at = DatumGetTimestampTz(v[SQ_RECEIVED_AT - 1]);
	if (received_at > s->upper || received_at < s->received_bound)
		return false;
	if (status == s->types->merged || status == s->types->cancelled)
		return false;
	if (r->has_exclude && id == r->exclude)
		return false;
	open = status != s->types->resolved && status != s->types->closed;

	/* The gap in seconds: EXTRACT(epoch ...) is exact, so is a double of it below 2^53 microseconds. */
	gap = DatumGetIntervalP(DirectFunctionCall2(timestamp_mi, TimestampTzGetDatum(r->received),
												TimestampTzGetDatum(received_at)));
	if (!pg_sub_s64_overflow(received_at, r->received, &gap_us) &&
		gap_us > -(INT64CONST(1) << 53) && gap_us < (INT64CONST(1) << 53))
		gap_s = nd((double) gap_us / 1000000.0);
	else
		gap_s = nd(interval_epoch(DatumGetIntervalP(DirectFunctionCall2(timestamp_mi,
																		TimestampTzGetDatum(received_at),
																		TimestampTzGetDatum(r->received)))));
	/*
	 * Received no later than the window after the report (gap_s: its receipt
	 * less the report's); in a 0.4 schema, within the window either side.
	 */
	if (!nd_le(s->spans ? gap_s : nd(fabs(gap_s.v)), s->window_s))
		return false;

	/* The distance on the spheroid: ST_Distance(location::geography, point::geography). */
	location = v[SQ_LOCATION - 1];
	if (n[SQ_LOCATION - 1])
		return false;
	metres = dedup_distance(s, location);
	if (!nd_le(metres, p->number[P_RADIUS]))
		return false;

	/*
	 * Read for the rows still in the running (see dedup_waits_for_review): a
	 * suspected duplicate waiting for review is none, and a resolved or
	 * closed order is one only when it was resolved within closed_window
	 * before the report: settled_at, which the search's index bounds too
	 * (src/settled.c; the log is read only for an order without one, whose
	 * trigger was bypassed).
	 */
	if (status == s->types->new_order && dedup_waits_for_review(id))
		return false;
	resolved = (Datum) 0;
	resolved_null = true;
	if (!open)
	{
		resolved = v[SQ_SETTLED_AT - 1];
		resolved_null = n[SQ_SETTLED_AT - 1];
		if (resolved_null)
			resolved = dedup_last_resolved(id, &resolved_null);
		if (resolved_null || p->closed_window == NULL || DatumGetTimestampTz(resolved) < s->settled_bound)
			return false;
	}

	/* The components. */
	s_distance = nd_greatest(nd(0.0), nd_mi(nd(1.0), nd_div(metres, p->number[P_RADIUS])));
	s_time = nd_greatest(nd(0.0), nd_mi(nd(1.0), nd_div(nd(fabs(gap_s.v)), s->window_s)));
	description = n[SQ_DESCRIPTION - 1] ? NULL : (text *) PG_DETOAST_DATUM_PACKED(v[SQ_DESCRIPTION - 1]);
	address = n[SQ_ADDRESS - 1] ? NULL : (text *) PG_DETOAST_DATUM_PACKED(v[SQ_ADDRESS - 1]);
	if (r->description != NULL && description != NULL)
		s_text = nd(sqrt(similarity_text_ignoring(&s->text_cache, s->caller, r->description, description,
												  dedup_concat_ws(r->address, address))));
	if (r->address != NULL && address != NULL)
		s_address = nd(similarity_address(&s->address_cache, s->caller, r->address, address));
	if (s->new_phone != NULL)
	{
		text	   *old_phone = n[SQ_PHONE - 1] ? NULL : dedup_phone_digits(DatumGetTextPP(v[SQ_PHONE - 1]));

		if (old_phone != NULL && dedup_text_eq(s->new_phone, old_phone))
			s_reporter = nd(1.0);
	}

	/*
	 * The weighted mean of the components it has, added up in the SQL's
	 * order: an address or a reporter that does not count adds 0 to both.
	 */
	sum = nd_pl(nd_pl(nd_mul(p->number[P_WEIGHT_DISTANCE], s_distance),
					  nd_mul(p->number[P_WEIGHT_TIME], s_time)),
				nd_mul(p->number[P_WEIGHT_TEXT], s_text));
	part = nd_mul(p->number[P_WEIGHT_ADDRESS], s_address);
	sum = nd_pl(sum, part.null ? nd(0.0) : part);
	part = nd_mul(p->number[P_WEIGHT_REPORTER], s_reporter);
	sum = nd_pl(sum, part.null ? nd(0.0) : part);
	weights = nd_pl(nd_pl(nd_pl(nd_pl(p->number[P_WEIGHT_DISTANCE], p->number[P_WEIGHT_TIME]),
								p->number[P_WEIGHT_TEXT]),
						  s_address.null ? nd(0.0) : p->number[P_WEIGHT_ADDRESS]),
					s_reporter.null ? nd(0.0) : p->number[P_WEIGHT_REPORTER]);
	if (!weights.null && weights.v == 0.0)
		weights = nd_null;		/* NULLIF(weights, 0.0) */

	/*
	 * Related: its category on the report's path, or the report's category
	 * on its path (code = ANY (p.path) OR p.category_code = ANY (its path)).
	 */
	related = dedup_path_has(s, code, &related_null);
	if (!related)
	{
		bool		other = false;
		size_t		len = p->category_code ? strlen(p->category_code) : 0;
		int			i;

		for (i = 0; p->category_code != NULL && i < info->path_length; i++)
			if (dedup_text_is(info->path_elems[i], p->category_code, len))
				other = true;
		if (other)
		{
			related = true;
			related_null = false;
		}
		else if (p->category_code == NULL)
			related_null = true;
	}

	/*
	 * What it may make of the report at most, whatever its score (see
	 * sql/install/62_dedup.sql, "at most"): nothing when the two name their
	 * spots by different numbers of one kind, or are of two categories and
	 * say nothing alike; review when of one category they say nothing
	 * alike, or when one of the two is only the family (a report of ROAD
	 * beside an order of ROAD_MANHOLE).
	 */
	at_most = AT_MOST_MERGE;
	at_most_reason = NULL;
	same_code = p->category_code != NULL && strcmp(code, p->category_code) == 0;
	/* The report's, once a search has a candidate: most reports have none. */
	if (!s->report_numbers_known)
	{
		place_numbers_of(r->description, &s->report_numbers);
		place_numbers_of(r->address, &s->report_numbers);
		s->report_numbers_known = true;
	}
	if (s->report_numbers.count > 0)
	{
		PlaceNumbers numbers;
		int			marker;
		uint32		report_value;
		uint32		order_value;

		numbers.count = 0;
		place_numbers_of(description, &numbers);
		place_numbers_of(address, &numbers);
		if (place_numbers_conflict(&s->report_numbers, &numbers, &marker, &report_value, &order_value))
		{
			at_most = AT_MOST_NEW;
			at_most_reason = psprintf("another place: the report names %s, this order %s",
									  place_number_text(marker, report_value),
									  place_number_text(marker, order_value));
		}
	}
	if (at_most == AT_MOST_MERGE && !s_text.null && s_text.v == 0.0)
	{
		at_most = same_code ? AT_MOST_REVIEW : AT_MOST_NEW;
		at_most_reason = same_code ?
			pstrdup("nothing alike in what the two say happened (their addresses left out): suspected at most") :
			pstrdup("another category, and nothing alike in what the two say happened (their addresses left out)");
	}
	if (at_most == AT_MOST_MERGE && related && !related_null && !same_code &&
		(strcmp(code, p->family) == 0 || (p->category_code != NULL && strcmp(p->category_code, p->family) == 0)))
	{
		at_most = AT_MOST_REVIEW;
		at_most_reason = psprintf("%s is the whole family, not the kind of problem: suspected at most",
								  strcmp(code, p->family) == 0 ? "the order's category" : "the report's category");
	}

	/* The row of dedup_candidate, in the caller's memory. */
	old = MemoryContextSwitchTo(s->caller);
	memset(c->nulls, false, sizeof(c->nulls));
	c->at_most = at_most;
	c->values[CC_AT_MOST] = at_most == AT_MOST_MERGE ? (Datum) 0 :
		CStringGetTextDatum(at_most == AT_MOST_REVIEW ? "review" : "new");
	c->nulls[CC_AT_MOST] = at_most == AT_MOST_MERGE;
	c->values[CC_AT_MOST_REASON] = at_most_reason ? CStringGetTextDatum(at_most_reason) : (Datum) 0;
	c->nulls[CC_AT_MOST_REASON] = at_most_reason == NULL;
	c->order_id = id;
	c->values[CC_ORDER_ID] = Int64GetDatum(id);
	c->ticket = datumCopy(v[SQ_TICKET - 1], TupleDescAttr(desc, SQ_TICKET - 1)->attbyval,
						  TupleDescAttr(desc, SQ_TICKET - 1)->attlen);
	c->values[CC_TICKET] = c->ticket;
	c->values[CC_STATUS] = ObjectIdGetDatum(status);
	c->values[CC_CATEGORY_CODE] = datumCopy(category, false, -1);
	c->values[CC_SAME_CATEGORY] = BoolGetDatum(related);
	c->nulls[CC_SAME_CATEGORY] = related_null;
	c->same_category = related && !related_null;
	c->open = open;
	c->resolved_after_report = !open && !resolved_null && DatumGetTimestampTz(resolved) > r->received;
	c->values[CC_RESOLVED_AT] = resolved;
	c->nulls[CC_RESOLVED_AT] = resolved_null;
	c->values[CC_DISTANCE_M] = Float8GetDatum(metres.v);
	c->values[CC_TIME_GAP] = datumCopy(IntervalPGetDatum(gap), false, sizeof(Interval));
	c->values[CC_DISTANCE_SCORE] = Float8GetDatum(s_distance.v);
	c->nulls[CC_DISTANCE_SCORE] = s_distance.null;
	c->values[CC_TIME_SCORE] = Float8GetDatum(s_time.v);
	c->nulls[CC_TIME_SCORE] = s_time.null;
	c->values[CC_TEXT_SCORE] = Float8GetDatum(s_text.v);
	c->nulls[CC_TEXT_SCORE] = s_text.null;
	c->values[CC_ADDRESS_SCORE] = Float8GetDatum(s_address.v);
	c->nulls[CC_ADDRESS_SCORE] = s_address.null;
	c->values[CC_REPORTER_SCORE] = Float8GetDatum(s_reporter.v);
	c->nulls[CC_REPORTER_SCORE] = s_reporter.null;
	c->score = nd_div(sum, weights);
	c->values[CC_SCORE] = Float8GetDatum(c->score.v);
	c->nulls[CC_SCORE] = c->score.null;
	MemoryContextSwitchTo(old);
	return true;
}

/*
 * dedup_receive_row is the search's receiver: it scores one row of the
 * search query, in its own memory that is reset after it, into the next
 * candidate when the row is one.  The row's values are read where the
 * executor left them; what a candidate keeps is copied.
 */
static bool
dedup_receive_row(TupleTableSlot *slot, DestReceiver *self)
{
	DedupReceiver *receiver = (DedupReceiver *) self;
	MemoryContext old;

	slot_getallattrs(slot);
	if (receiver->ncandidates == receiver->allocated)
	{
		receiver->allocated *= 2;
		receiver->candidates = repalloc(receiver->candidates, sizeof(DedupCandidate) * receiver->allocated);
	}
	old = MemoryContextSwitchTo(receiver->row_context);
	if (dedup_candidate_from_row(receiver->s, slot->tts_values, slot->tts_isnull, slot->tts_tupleDescriptor,
								 &receiver->candidates[receiver->ncandidates]))
		receiver->ncandidates++;
	MemoryContextSwitchTo(old);
	MemoryContextReset(receiver->row_context);
	return true;
}

/*
 * dedup_receive_startup checks, once before the rows, that they have the
 * columns dedup_candidate_from_row reads.
 */
static void
dedup_receive_startup(DestReceiver *self pg_attribute_unused(), int operation pg_attribute_unused(),
					  TupleDesc typeinfo)
{
	if (typeinfo->natts != SQ_SETTLED_AT)
		elog(ERROR, "the dedup search returned %d columns, not %d", typeinfo->natts, SQ_SETTLED_AT);
}

/* dedup_receive_nothing: nor at the end, nor to be freed (it is on the stack). */
static void
dedup_receive_nothing(DestReceiver *self pg_attribute_unused())
{
}

/*
 * dedup_search finds and scores the candidates of a report under a policy
 * and returns their number (at most 50) and pointers to them in *found, best
 * first (as dedup_candidate_order), in the caller's memory: see dedup_candidates in
 * sql/install/62_dedup.sql for what a candidate is and how it is scored.
 * The values are computed in the order and with the functions of that SQL,
 * so that a hostile argument fails with the error it failed with there.
 */
static int
dedup_search(DedupPostgis *pg, const DedupTypes *types, const DedupPolicy *p, const DedupReport *r,
			 DedupCandidate ***found)
{
	DedupSearch s;
	NDouble		dlat = nd_div(p->number[P_RADIUS], nd(110000.0));
	bool		has_window = !r->received_null && p->time_window != NULL;
	NDouble		x;
	NDouble		y;
	NDouble		dlon;
	NDouble		box[4];
	Datum		args[8];
	Interval   *longer;
	Datum		family_codes;
	DedupCandidate *candidates;
	DedupCandidate **ranked;
	int			ncandidates;
	int			guc_level;
	ParamListInfo params;
	SPIExecuteOptions options;
	DedupReceiver receiver;
	int			ret;
	int			k;

	memset(&s, 0, sizeof(s));
	s.pg = pg;
	s.types = types;
	s.p = p;
	s.r = r;
	s.caller = CurrentMemoryContext;
	s.window_s = p->time_window ? nd(interval_epoch(p->time_window)) : nd_null;
	if (has_window)
		s.upper = DatumGetTimestampTz(DirectFunctionCall2(timestamptz_pl_interval, TimestampTzGetDatum(r->received),
														  IntervalPGetDatum(p->time_window)));
	s.new_phone = dedup_phone_digits(r->phone);
	*found = NULL;

	dedup_check_point(pg, r->point, r->point_null, "dedup_candidates needs a point");
	dedup_check_srid(r->point, r->point_null);
	if (p->family == NULL)
		return 0;
	y = dedup_point_coordinate(&pg->y, r->point, r->point_null);
	dlon = dedup_half_width(dlat, y);
	family_codes = dedup_family_codes(p->family);
	x = dedup_point_coordinate(&pg->x, r->point, r->point_null);
	if (!x.null && !y.null && fabs(x.v) <= 180.0 && fabs(y.v) <= 90.0)
	{
		s.report_on_wgs84 = true;
		s.report_x = x.v;
		s.report_y = y.v;
	}
	box[0] = nd_mi(x, dlon);
	box[1] = nd_mi(y, dlat);
	box[2] = nd_pl(x, dlon);
	box[3] = nd_pl(y, dlat);
	if (has_window)
	{
		s.spans = dedup_orders_have_spans();
		s.settled_bound = p->closed_window == NULL ? r->received
			: DatumGetTimestampTz(DirectFunctionCall2(timestamptz_mi_interval, TimestampTzGetDatum(r->received),
													  IntervalPGetDatum(p->closed_window)));
		/* The longer of dedup_open_window and the window; a 0.4 schema has the window only. */
		longer = p->time_window;
		if (s.spans)
		{
			Interval   *open_window = dedup_open_window();

			if (DatumGetBool(DirectFunctionCall2(interval_gt, IntervalPGetDatum(open_window),
												 IntervalPGetDatum(p->time_window))))
				longer = open_window;
		}
		s.received_bound = DatumGetTimestampTz(DirectFunctionCall2(timestamptz_mi_interval,
																   TimestampTzGetDatum(r->received),
																   IntervalPGetDatum(longer)));
	}
	for (k = 0; k < 4; k++)
	{
		if (box[k].null)
			return 0;
		args[k] = Float8GetDatum(box[k].v);
	}
	args[4] = TimestampTzGetDatum(s.spans ? s.settled_bound : s.received_bound);
	args[5] = TimestampTzGetDatum(s.upper);
	if (!has_window || ArrayGetNItems(ARR_NDIM(DatumGetArrayTypeP(family_codes)),
									  ARR_DIMS(DatumGetArrayTypeP(family_codes))) == 0)
		return 0;
	args[6] = family_codes;
	args[7] = TimestampTzGetDatum(s.received_bound);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");

	/*
	 * Not read-only: a new snapshot, which sees what the reports we waited
	 * for committed.  Planned (when the plan cache plans it) without
	 * sequential scans, so that on a table still small a plan is no scan
	 * of the whole table either, and stays the index scan as it grows.
	 */
	params = makeParamList((int) lengthof(args));
	for (k = 0; k < (int) lengthof(args); k++)
	{
		params->params[k].value = args[k];
		params->params[k].isnull = false;
		params->params[k].pflags = PARAM_FLAG_CONST;
		params->params[k].ptype = dedup_search_arg_types[k];
	}
	memset(&options, 0, sizeof(options));
	options.params = params;
	options.read_only = false;
	options.dest = &receiver.pub;
	memset(&receiver, 0, sizeof(receiver));
	receiver.pub.receiveSlot = dedup_receive_row;
	receiver.pub.rStartup = dedup_receive_startup;
	receiver.pub.rShutdown = dedup_receive_nothing;
	receiver.pub.rDestroy = dedup_receive_nothing;
	receiver.pub.mydest = DestNone;
	receiver.s = &s;
	receiver.row_context = AllocSetContextCreate(CurrentMemoryContext, "dedup candidate", ALLOCSET_DEFAULT_SIZES);
	receiver.allocated = 8;
	receiver.candidates = MemoryContextAlloc(s.caller, sizeof(DedupCandidate) * receiver.allocated);

	guc_level = NewGUCNestLevel();
	(void) set_config_option("enable_seqscan", "off", PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
	/*
	 * SPI says SPI_OK_UTILITY, not SPI_OK_SELECT, for a SELECT whose rows go
	 * to a receiver of type DestNone, as ours is: only an error is negative.
	 */
	ret = SPI_execute_plan_extended(dedup_search_plan(pg, s.spans), &options);
	if (ret < 0)
		elog(ERROR, "the dedup search failed: %s", SPI_result_code_string(ret));
	AtEOXact_GUC(true, guc_level);
	MemoryContextDelete(receiver.row_context);
	SPI_finish();
	candidates = receiver.candidates;
	ncandidates = receiver.ncandidates;

	/* Sorted by pointer: a candidate's values are too many to move about. */
	ranked = MemoryContextAlloc(s.caller, sizeof(DedupCandidate *) * Max(ncandidates, 1));
	for (k = 0; k < ncandidates; k++)
		ranked[k] = &candidates[k];
	qsort(ranked, ncandidates, sizeof(DedupCandidate *), dedup_candidate_order);
	*found = ranked;
	return Min(ncandidates, DEDUP_MAX_CANDIDATES);
}

/*
 * dedup_report_args reads the report's arguments of dedup_candidates() and
 * dedup_decide(): point, received, description, address, reporter_phone,
 * from argument point_arg on.
 */
static void
dedup_report_args(FunctionCallInfo fcinfo, int point_arg, DedupReport *r)
{
	memset(r, 0, sizeof(DedupReport));
	r->point_null = PG_ARGISNULL(point_arg);
	if (!r->point_null)
		r->point = PG_GETARG_DATUM(point_arg);
	r->received_null = PG_ARGISNULL(point_arg + 1);
	if (!r->received_null)
		r->received = PG_GETARG_TIMESTAMPTZ(point_arg + 1);
	r->description = PG_ARGISNULL(point_arg + 2) ? NULL : PG_GETARG_TEXT_PP(point_arg + 2);
	r->address = PG_ARGISNULL(point_arg + 3) ? NULL : PG_GETARG_TEXT_PP(point_arg + 3);
	r->phone = PG_ARGISNULL(point_arg + 4) ? NULL : PG_GETARG_TEXT_PP(point_arg + 4);
}

/*
 * dedup_check_decision_type makes sure that the decision's row type is the
 * one this entry point fills: DC_COLUMNS columns, and (unless policy_type
 * is InvalidOid) the policy and the candidates of the types given.  The C and the SQL of a version go
 * together; a library newer (or older) than the SQL must not put one type's
 * value in another's column.
 */
static void
dedup_check_decision_type(TupleDesc desc, Oid policy_type, Oid candidates_type)
{
	Oid			policy = desc->natts == DC_COLUMNS ? TupleDescAttr(desc, DC_POLICY)->atttypid : InvalidOid;
	Oid			candidates = desc->natts == DC_COLUMNS ? TupleDescAttr(desc, DC_CANDIDATES)->atttypid : InvalidOid;

	if (desc->natts != DC_COLUMNS)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("workorder.dedup_decision does not match the library"),
				 errdetail("It has %d columns, not %d.", desc->natts, DC_COLUMNS),
				 errhint("Run ALTER EXTENSION workorder UPDATE.")));
	if (OidIsValid(policy_type) && (policy != policy_type || candidates != candidates_type))
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("workorder.dedup_decision does not match the library"),
				 errdetail("Its policy and candidates are of types %s and %s, not %s and %s.",
						   format_type_be(policy), format_type_be(candidates),
						   format_type_be(policy_type), format_type_be(candidates_type)),
				 errhint("Run ALTER EXTENSION workorder UPDATE.")));
}

/*
 * dedup_to_jsonb is to_jsonb(value) for a value of a type: the function
 * itself, told the argument's type as a call from SQL tells it, so that
 * what dedup_checks stores is byte for byte what the SQL stored.
 */
static Datum
dedup_to_jsonb(Datum value, Oid type)
{
	FmgrInfo	flinfo;
	FuncExpr   *call;

	fmgr_info(F_TO_JSONB, &flinfo);
	call = makeFuncExpr(F_TO_JSONB, JSONBOID, list_make1(makeNullConst(type, -1, InvalidOid)),
						InvalidOid, InvalidOid, COERCE_EXPLICIT_CALL);
	fmgr_info_set_expr((Node *) call, &flinfo);
	return FunctionCall1(&flinfo, value);
}

/*
 * dedup_float8_numeric is numeric_in(float8out(value)), the JSON number that
 * to_jsonb() makes of a double, made from the digits of float8out without
 * parsing them back as text: a candidate has seven doubles, and the text
 * round trip was a tenth of a dedup check with 50 candidates.  It returns
 * NULL when it cannot (extra_float_digits of 0 or less, which float8out
 * answers with fewer digits; NaN or an infinity, which JSON cannot hold as a
 * number; digits that do not fit in an int64): the caller then takes the
 * text's way.  The numeric has the text's value and its scale, and so is the
 * same datum.
 */
static Numeric
dedup_float8_numeric(double value)
{
	char		digits[32];
	const char *c = digits;
	int64		mantissa = 0;
	bool		negative = false;
	int			fraction_digits = 0;
	int			exponent = 0;
	int			scale;

	if (extra_float_digits <= 0 || isnan(value) || isinf(value))
		return NULL;
	(void) double_to_shortest_decimal_buf(value, digits);
	if (*c == '-')
	{
		negative = true;
		c++;
	}
	for (; isdigit((unsigned char) *c); c++)
		if (pg_mul_s64_overflow(mantissa, 10, &mantissa) || pg_add_s64_overflow(mantissa, *c - '0', &mantissa))
			return NULL;
	if (*c == '.')
		for (c++; isdigit((unsigned char) *c); c++, fraction_digits++)
			if (pg_mul_s64_overflow(mantissa, 10, &mantissa) || pg_add_s64_overflow(mantissa, *c - '0', &mantissa))
				return NULL;
	if (*c == 'e' || *c == 'E')
	{
		char	   *end;
		long		e = strtol(c + 1, &end, 10);

		if (end == c + 1 || e < -400 || e > 400)
			return NULL;
		exponent = (int) e;
		c = end;
	}
	if (*c != '\0')
		return NULL;
	if (negative)
		mantissa = -mantissa;
	scale = fraction_digits - exponent;
	if (scale <= 0)
	{
		/* A whole number: mantissa * 10^-scale, scale 0. */
		for (; scale < 0; scale++)
			if (pg_mul_s64_overflow(mantissa, 10, &mantissa))
				return NULL;
		return int64_to_numeric(mantissa);
	}
	else
	{
		/*
		 * mantissa / 10^scale.  int64_div_fast_to_numeric() first multiplies
		 * by what brings the scale to a multiple of four; past int64 it takes
		 * a slower way that is not the text's, so that case goes the text's
		 * way here.
		 */
		int64		widened;
		static const int64 pad[4] = {1, 1000, 100, 10};

		if (pg_mul_s64_overflow(mantissa, pad[scale % 4], &widened))
			return NULL;
		return int64_div_fast_to_numeric(mantissa, scale);
	}
}

/*
 * dedup_json_columns decides how each column of a composite type becomes
 * JSON, as to_jsonb() decides it (jsonb_categorize_type): bool, the number
 * types, timestamptz, text[], and any other type by its output function
 * unless it has a cast to json or jsonb.  It returns false for a column of
 * another kind (a domain, another array, a composite, json, a date, a type
 * with such a cast), for which the caller uses to_jsonb() itself.
 */
static bool
dedup_json_columns(TupleDesc desc, DedupJsonColumn *columns)
{
	int			i;

	for (i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);
		Oid			type = att->atttypid;
		Oid			output;
		Oid			cast;
		bool		varlena;

		if (att->attisdropped || getBaseType(type) != type)
			return false;
		columns[i].name = NameStr(att->attname);
		columns[i].attno = i;
		columns[i].type = type;
		switch (type)
		{
			case BOOLOID:
				columns[i].kind = DJ_BOOL;
				continue;
			case INT2OID:
			case INT4OID:
			case INT8OID:
				columns[i].kind = DJ_INTEGER;
				continue;
			case FLOAT8OID:
				columns[i].kind = DJ_FLOAT8;
				break;
			case FLOAT4OID:
			case NUMERICOID:
				columns[i].kind = DJ_NUMBER;
				break;
			case TIMESTAMPTZOID:
				columns[i].kind = DJ_TIMESTAMPTZ;
				continue;
			case TEXTARRAYOID:
				columns[i].kind = DJ_TEXT_ARRAY;
				type = TEXTOID;
				break;
			case DATEOID:
			case TIMESTAMPOID:
			case JSONOID:
			case JSONBOID:
				return false;
			default:
				if (OidIsValid(get_element_type(type)) || type_is_rowtype(type))
					return false;
				if (type >= FirstNormalObjectId &&
					(find_coercion_pathway(JSONOID, type, COERCION_EXPLICIT, &cast) == COERCION_PATH_FUNC ||
					 find_coercion_pathway(JSONBOID, type, COERCION_EXPLICIT, &cast) == COERCION_PATH_FUNC))
					return false;
				columns[i].kind = DJ_STRING;
				break;
		}
		getTypeOutputInfo(type, &output, &varlena);
		fmgr_info(output, &columns[i].output);
	}
	qsort(columns, desc->natts, sizeof(DedupJsonColumn), dedup_json_key_order);
	return true;
}

/*
 * dedup_json_key_order is the order of the keys of a JSONB object: shorter
 * first, then bytewise.  Pushed in that order, the keys of an object need no
 * reordering when it ends (the sort finds them sorted), and the object is
 * the same.
 */
static int
dedup_json_key_order(const void *a, const void *b)
{
	const DedupJsonColumn *x = (const DedupJsonColumn *) a;
	const DedupJsonColumn *y = (const DedupJsonColumn *) b;
	size_t		xlen = strlen(x->name);
	size_t		ylen = strlen(y->name);

	if (xlen != ylen)
		return xlen < ylen ? -1 : 1;
	return memcmp(x->name, y->name, xlen);
}

/* dedup_json_push adds a token to the JSONB being built. */
static void
dedup_json_push(JsonbParseState **state, JsonbIteratorToken token, JsonbValue *value)
{
	(void) pushJsonbValue(state, token, value);
}

/*
 * dedup_json_value adds one column's value to the object being built, as
 * to_jsonb()'s datum_to_jsonb() adds it.
 */
static void
dedup_json_value(JsonbParseState **state, DedupJsonColumn *column, Datum value, bool isnull)
{
	JsonbValue	v;
	char	   *text;

	if (isnull)
	{
		v.type = jbvNull;
		dedup_json_push(state, WJB_VALUE, &v);
		return;
	}
	switch (column->kind)
	{
		case DJ_BOOL:
			v.type = jbvBool;
			v.val.boolean = DatumGetBool(value);
			break;
		case DJ_INTEGER:
			v.type = jbvNumeric;
			v.val.numeric = int64_to_numeric(column->type == INT8OID ? DatumGetInt64(value)
											 : column->type == INT4OID ? DatumGetInt32(value)
											 : DatumGetInt16(value));
			break;
		case DJ_FLOAT8:
			v.type = jbvNumeric;
			v.val.numeric = dedup_float8_numeric(DatumGetFloat8(value));
			if (v.val.numeric != NULL)
				break;
			/* FALLTHROUGH */
		case DJ_NUMBER:
			text = OutputFunctionCall(&column->output, value);
			/* As to_jsonb(): NaN and the infinities, not JSON numbers, are strings. */
			if (strchr(text, 'N') == NULL && strchr(text, 'n') == NULL)
			{
				v.type = jbvNumeric;
				v.val.numeric = DatumGetNumeric(DirectFunctionCall3(numeric_in, CStringGetDatum(text),
																	ObjectIdGetDatum(InvalidOid),
																	Int32GetDatum(-1)));
			}
			else
			{
				v.type = jbvString;
				v.val.string.val = text;
				v.val.string.len = strlen(text);
			}
			break;
		case DJ_TIMESTAMPTZ:
			v.type = jbvString;
			v.val.string.val = JsonEncodeDateTime(NULL, value, TIMESTAMPTZOID, NULL);
			v.val.string.len = strlen(v.val.string.val);
			break;
		case DJ_TEXT_ARRAY:
			{
				ArrayType  *array = DatumGetArrayTypeP(value);
				Datum	   *elems;
				bool	   *elem_nulls;
				int			n;
				int			i;

				deconstruct_array(array, TEXTOID, -1, false, TYPALIGN_INT, &elems, &elem_nulls, &n);
				dedup_json_push(state, WJB_BEGIN_ARRAY, NULL);
				for (i = 0; i < n; i++)
				{
					if (elem_nulls[i])
						v.type = jbvNull;
					else
					{
						v.type = jbvString;
						v.val.string.val = OutputFunctionCall(&column->output, elems[i]);
						v.val.string.len = strlen(v.val.string.val);
					}
					dedup_json_push(state, WJB_ELEM, &v);
				}
				dedup_json_push(state, WJB_END_ARRAY, NULL);
				return;
			}
		default:
			v.type = jbvString;
			v.val.string.val = OutputFunctionCall(&column->output, value);
			v.val.string.len = strlen(v.val.string.val);
			if (v.val.string.len > JENTRY_OFFLENMASK)
				ereport(ERROR,
						(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
						 errmsg("string too long to represent as jsonb string")));
			break;
	}
	dedup_json_push(state, WJB_VALUE, &v);
}

/*
 * dedup_rows_to_jsonb is to_jsonb() of nrows values of a composite type
 * whose columns are in values and nulls: one object (as_array false, one
 * row) or an array of them.  It builds what to_jsonb() builds, the same
 * conversions in the same order, but decides how each column converts
 * once, not for every row, and pushing the keys in the order a JSONB
 * object keeps them; a type whose columns it does not know is left to
 * to_jsonb() itself (of the row, or of the array of rows).
 */
static Datum
dedup_rows_to_jsonb(TupleDesc desc, int nrows, Datum **values, bool **nulls, bool as_array, Oid type)
{
	DedupJsonColumn *columns = palloc(sizeof(DedupJsonColumn) * Max(desc->natts, 1));
	JsonbParseState *state = NULL;
	JsonbValue	key;
	JsonbValue *result = NULL;
	bool		known = dedup_json_columns(desc, columns);
	int			r;
	int			i;

	for (i = 0; known && i < desc->natts; i++)
		if (columns[i].kind == DJ_TEXT_ARRAY)
			for (r = 0; r < nrows; r++)
				if (!nulls[r][columns[i].attno] &&
					ARR_NDIM(DatumGetArrayTypeP(values[r][columns[i].attno])) > 1)
					known = false;
	if (!known)
	{
		Datum	   *rows = palloc(sizeof(Datum) * Max(nrows, 1));

		for (r = 0; r < nrows; r++)
			rows[r] = HeapTupleGetDatum(heap_form_tuple(desc, values[r], nulls[r]));
		if (!as_array)
			return dedup_to_jsonb(rows[0], type);
		return dedup_to_jsonb(PointerGetDatum(construct_array(rows, nrows, type, -1, false, TYPALIGN_DOUBLE)),
							  get_array_type(type));
	}

	if (as_array)
		dedup_json_push(&state, WJB_BEGIN_ARRAY, NULL);
	for (r = 0; r < nrows; r++)
	{
		dedup_json_push(&state, WJB_BEGIN_OBJECT, NULL);
		for (i = 0; i < desc->natts; i++)
		{
			key.type = jbvString;
			key.val.string.val = columns[i].name;
			key.val.string.len = strlen(columns[i].name);
			dedup_json_push(&state, WJB_KEY, &key);
			dedup_json_value(&state, &columns[i], values[r][columns[i].attno], nulls[r][columns[i].attno]);
		}
		result = pushJsonbValue(&state, WJB_END_OBJECT, NULL);
	}
	if (as_array)
		result = pushJsonbValue(&state, WJB_END_ARRAY, NULL);
	return JsonbPGetDatum(JsonbValueToJsonb(result));
}

/* dedup_score_text is round(score::numeric, 3)::text. */
static char *
dedup_score_text(double score)
{
	Datum		n = DirectFunctionCall1(float8_numeric, Float8GetDatum(score));

	n = DirectFunctionCall2(numeric_round, n, Int32GetDatum(3));
	return DatumGetCString(DirectFunctionCall1(numeric_out, n));
}

/*
 * workorder_dedup_phone is workorder.dedup_phone(phone): see
 * dedup_phone_digits.
 */
Datum
workorder_dedup_phone(PG_FUNCTION_ARGS)
{
	text	   *digits = dedup_phone_digits(PG_ARGISNULL(0) ? NULL : PG_GETARG_TEXT_PP(0));

	if (digits == NULL)
		PG_RETURN_NULL();
	PG_RETURN_TEXT_P(digits);
}

/*
 * workorder_dedup_policy is workorder.dedup_policy(category): the dedup
 * configuration in force for a category; a NULL or unknown category gets the
 * district-wide values, with no family.  WO701 for an invalid setting that
 * it needs.
 */
Datum
workorder_dedup_policy(PG_FUNCTION_ARGS)
{
	TupleDesc	desc;
	const DedupPolicy *p;
	Datum		values[PC_COLUMNS];
	bool		nulls[PC_COLUMNS];

	if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "dedup_policy must return a row");
	desc = BlessTupleDesc(desc);
	p = dedup_policy_for(dedup_arg_text(fcinfo, 0));
	PG_RETURN_DATUM(dedup_policy_datum(p, desc, values, nulls));
}

/*
 * workorder_dedup_lock is workorder.dedup_lock(family, point, radius_m): see
 * dedup_lock_cells.  WO101 for a geometry that is not a point.
 */
Datum
workorder_dedup_lock(PG_FUNCTION_ARGS)
{
	DedupPostgis *pg = dedup_postgis_for(dedup_geometry_type(fcinfo, 1));

	dedup_lock_cells(pg, dedup_arg_text(fcinfo, 0), PG_ARGISNULL(1) ? (Datum) 0 : PG_GETARG_DATUM(1),
					 PG_ARGISNULL(1), PG_ARGISNULL(2) ? nd_null : nd(PG_GETARG_FLOAT8(2)));
	PG_RETURN_VOID();
}

/*
 * workorder_dedup_candidates is workorder.dedup_candidates(p, point,
 * received, description, address, reporter_phone, exclude_order): the
 * candidates of a report under a policy, best first (NULL scores last, ties
 * to the earlier order), at most 50.  WO101 for a geometry that is not a
 * point.
 */
Datum
workorder_dedup_candidates(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	DedupPostgis *pg = dedup_postgis_for(dedup_geometry_type(fcinfo, 1));
	const DedupTypes *types = dedup_catalog();
	DedupPolicy p;
	DedupReport r;
	DedupCandidate **found;
	int			n;
	int			i;

	InitMaterializedSRF(fcinfo, 0);
	dedup_policy_from_datum(PG_ARGISNULL(0) ? NULL : PG_GETARG_HEAPTUPLEHEADER(0), &p);
	dedup_report_args(fcinfo, 1, &r);
	r.has_exclude = !PG_ARGISNULL(6);
	if (r.has_exclude)
		r.exclude = PG_GETARG_INT64(6);
	n = dedup_search(pg, types, &p, &r, &found);
	for (i = 0; i < n; i++)
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, found[i]->values, found[i]->nulls);
	return (Datum) 0;
}

/*
 * workorder_dedup_decide_0_5 is workorder.dedup_decide(category, point,
 * received, description, address, reporter_phone) since 0.5: see
 * dedup_decide.  The policy and the candidates go into the decision as
 * values of their types, workorder.dedup_policy and an array of
 * workorder.dedup_candidate.
 */
Datum
workorder_dedup_decide_0_5(PG_FUNCTION_ARGS)
{
	return dedup_decide(fcinfo, false);
}

/*
 * workorder_dedup_decide is dedup_decide() of 0.2 to 0.4, whose install
 * scripts name it: the policy and the candidates go into the decision as
 * to_jsonb() made them in SQL, byte for byte.  It stays for a database not
 * yet updated to 0.5 (and its tests in test/dedup_test.sql).
 */
Datum
workorder_dedup_decide(PG_FUNCTION_ARGS)
{
	return dedup_decide(fcinfo, true);
}

/*
 * dedup_decide takes the neighbourhood's locks, finds and scores the
 * candidates of a report, and decides (see sql/install/62_dedup.sql).  A
 * report with no category, or of a category in no family, or with
 * dedup_enabled off, is new without a look.  The policy and the candidates
 * go into the decision for dedup_apply() to store and explain_dedup() to
 * show: as jsonb when as_json (until 0.4), else as values of their types.
 * Building the JSON of 50 candidates cost more than scoring them: since
 * 0.5 the record is the candidates' own rows.
 */
static Datum
dedup_decide(FunctionCallInfo fcinfo, bool as_json)
{
	TupleDesc	desc;
	Datum		values[DC_COLUMNS];
	bool		nulls[DC_COLUMNS];
	DedupPostgis *pg;
	const DedupTypes *types;
	const DedupPolicy *p;
	DedupReport r;
	DedupCandidate **found;
	DedupCandidate *best;
	DedupCandidate *best_related = NULL;
	DedupCandidate *best_reviewable = NULL;
	Datum		policy_values[PC_COLUMNS];
	bool		policy_nulls[PC_COLUMNS];
	TupleDesc	candidate_desc;
	TupleDesc	policy_desc;
	char	   *category = dedup_arg_text(fcinfo, 0);
	int			n;
	int			i;

	if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "dedup_decide must return a row");
	desc = BlessTupleDesc(desc);
	dedup_check_decision_type(desc, InvalidOid, InvalidOid);	/* the arrays below hold DC_COLUMNS */
	memset(values, 0, sizeof(values));
	memset(nulls, true, sizeof(nulls));
	values[DC_DECISION] = CStringGetTextDatum("new");
	nulls[DC_DECISION] = false;
	values[DC_HOLDS] = BoolGetDatum(false);
	nulls[DC_HOLDS] = false;
	if (category == NULL)
		PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(desc, values, nulls)));
	p = dedup_policy_for(category);
	if (p->family == NULL || !p->enabled)
		PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(desc, values, nulls)));

	/*
	 * From here on the policy and the candidates may be filled: checked
	 * before the locks, not for a report that dedup does not look at (a
	 * submit with dedup off pays nothing for it).
	 */
	types = dedup_catalog();
	dedup_check_decision_type(desc, as_json ? JSONBOID : types->policy_type,
							  as_json ? JSONBOID : types->candidate_array_type);

	pg = dedup_postgis_for(dedup_geometry_type(fcinfo, 1));
	dedup_report_args(fcinfo, 1, &r);
	dedup_lock_cells(pg, p->family, r.point, r.point_null, p->number[P_RADIUS]);
	n = dedup_search(pg, types, p, &r, &found);
	if (n == 0)
		PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(desc, values, nulls)));

	/*
	 * The best score first, NULL scores last: a candidate with no score (its
	 * category weighs nothing it has) is no evidence.  They came first (the
	 * order of the SQL's ORDER BY score DESC), and one stood before a
	 * candidate scoring 1, which was neither merged nor suspected.
	 */
	qsort(found, n, sizeof(DedupCandidate *), dedup_candidate_order);
	best = found[0];
	for (i = 0; i < n && best_related == NULL; i++)
		if (found[i]->same_category && found[i]->at_most == AT_MOST_MERGE)
			best_related = found[i];
	/* The best that may hold the report for review (NULL: none may). */
	for (i = 0; i < n; i++)
		if (found[i]->at_most != AT_MOST_NEW)
		{
			best_reviewable = found[i];
			break;
		}

	candidate_desc = lookup_rowtype_tupdesc_copy(types->candidate_type, -1);
	policy_desc = lookup_rowtype_tupdesc_copy(types->policy_type, -1);
	if (as_json)
	{
		Datum	  **row_values = palloc(sizeof(Datum *) * n);
		bool	  **row_nulls = palloc(sizeof(bool *) * n);

		for (i = 0; i < n; i++)
		{
			row_values[i] = found[i]->values;
			row_nulls[i] = found[i]->nulls;
		}
		values[DC_CANDIDATES] = dedup_rows_to_jsonb(candidate_desc, n, row_values, row_nulls, true,
													types->candidate_type);
		(void) dedup_policy_datum(p, policy_desc, policy_values, policy_nulls);
		row_values[0] = policy_values;
		row_nulls[0] = policy_nulls;
		values[DC_POLICY] = dedup_rows_to_jsonb(policy_desc, 1, row_values, row_nulls, false, types->policy_type);
	}
	else
	{
		Datum	   *rows = palloc(sizeof(Datum) * n);

		for (i = 0; i < n; i++)
			rows[i] = HeapTupleGetDatum(heap_form_tuple(candidate_desc, found[i]->values, found[i]->nulls));
		values[DC_CANDIDATES] = PointerGetDatum(construct_array(rows, n, types->candidate_type, -1, false,
																TYPALIGN_DOUBLE));
		values[DC_POLICY] = dedup_policy_datum(p, policy_desc, policy_values, policy_nulls);
	}
	nulls[DC_CANDIDATES] = false;
	nulls[DC_POLICY] = false;
	values[DC_SCORE] = Float8GetDatum(best->score.v);
	nulls[DC_SCORE] = best->score.null;

	/*
	 * Only a candidate of the same category (or of an ancestor or
	 * descendant) is merged automatically; another category's is at most
	 * suspected; and none beyond what its at_most allows.
	 */
	if (best_related != NULL && nd_ge(best_related->score, p->number[P_MERGE]))
	{
		best = best_related;
		values[DC_SCORE] = Float8GetDatum(best->score.v);
		nulls[DC_SCORE] = false;
		values[DC_MASTER_ID] = Int64GetDatum(best->order_id);
		nulls[DC_MASTER_ID] = false;
		/*
		 * A resolved master is reopened for a late report (late_policy), but a
		 * report that came before the resolve is answered by it: linked.  (It
		 * waited in the inbox while the unit resolved the master, and reopened
		 * it, a redo for the problem the unit had just fixed.)
		 */
		values[DC_DECISION] = CStringGetTextDatum(best->open ? "merge"
												  : best->resolved_after_report ? "link" : p->late_policy);
		values[DC_HOLDS] = BoolGetDatum(true);
		values[DC_REASON] = CStringGetTextDatum(psprintf("duplicate of %s (score %s)",
														 OidOutputFunctionCall(types->ticket_output, best->ticket),
														 dedup_score_text(best->score.v)));
		nulls[DC_REASON] = false;
	}
	else if (best_reviewable != NULL && nd_ge(best_reviewable->score, p->number[P_REVIEW]))
	{
		best = best_reviewable;
		values[DC_SCORE] = Float8GetDatum(best->score.v);
		nulls[DC_SCORE] = false;
		values[DC_MASTER_ID] = Int64GetDatum(best->order_id);
		nulls[DC_MASTER_ID] = false;
		values[DC_DECISION] = CStringGetTextDatum("review");
		values[DC_HOLDS] = BoolGetDatum(true);
		values[DC_REASON] = CStringGetTextDatum(psprintf("suspected duplicate of %s (score %s): confirm or reject it with workorder.review_duplicate()",
														 OidOutputFunctionCall(types->ticket_output, best->ticket),
														 dedup_score_text(best->score.v)));
		nulls[DC_REASON] = false;
	}
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(desc, values, nulls)));
}
