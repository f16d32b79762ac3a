/*-------------------------------------------------------------------------
 *
 * workorder.h
 *	  Declarations shared by the C files of the workorder extension: the
 *	  project's SQLSTATEs and the entry points one file offers another.
 *
 * Every error the extension raises on bad input carries one of the SQLSTATEs
 * below, so that a channel connector can tell "your input is wrong" from
 * "the database is unwell".  The same codes are listed in README.md and are
 * used, as strings, by the SQL parts of the extension.
 *
 *-------------------------------------------------------------------------
 */
#ifndef WORKORDER_H
#define WORKORDER_H

#include "postgres.h"

#include "datatype/timestamp.h"
#include "fmgr.h"
#include "nodes/pg_list.h"
#include "access/htup.h"
#include "access/tupdesc.h"
#include "utils/array.h"

/* Class WO: workorder input errors. */

/* WO001: a ticket's text is not of the form YYYYMMDD-NNNNNN-C. */
#define ERRCODE_WO_INVALID_TICKET			MAKE_SQLSTATE('W','O','0','0','1')
/* WO002: a ticket's check digit does not match: probably mistyped. */
#define ERRCODE_WO_TICKET_CHECK_DIGIT		MAKE_SQLSTATE('W','O','0','0','2')
/* WO003: a day has run out of ticket numbers (sequence number over 999999). */
#define ERRCODE_WO_TICKETS_EXHAUSTED		MAKE_SQLSTATE('W','O','0','0','3')

/* WO005: the extension's lock named NULL (lock_xact, try_lock_xact). */
#define ERRCODE_WO_LOCK_WITHOUT_NAME		MAKE_SQLSTATE('W','O','0','0','5')

/* WO101: a location that is not a usable point (NULL, empty, incomplete, not a point, not on the earth). */
#define ERRCODE_WO_INVALID_LOCATION		MAKE_SQLSTATE('W','O','1','0','1')
/* WO102: a geometry with no SRID, an unknown one, or (locate_point, the dedup functions) not 4326. */
#define ERRCODE_WO_INVALID_SRID			MAKE_SQLSTATE('W','O','1','0','2')
/* WO103: an invalid locate() tolerance. */
#define ERRCODE_WO_INVALID_TOLERANCE		MAKE_SQLSTATE('W','O','1','0','3')
/* WO301: submit(): an unknown channel. */
#define ERRCODE_WO_UNKNOWN_CHANNEL			MAKE_SQLSTATE('W','O','3','0','1')
/* WO305: submit(): a channel that is not active (the inbox keeps its rows pending). */
#define ERRCODE_WO_INACTIVE_CHANNEL		MAKE_SQLSTATE('W','O','3','0','5')
/* WO302: submit(): a missing or malformed channel reference. */
#define ERRCODE_WO_INVALID_CHANNEL_REF		MAKE_SQLSTATE('W','O','3','0','2')
/* WO304: submit(): other bad arguments of a report (attributes, event time, location twice). */
#define ERRCODE_WO_INVALID_REPORT			MAKE_SQLSTATE('W','O','3','0','4')
/* WO303: submit(): a blank or oversized text of a report. */
#define ERRCODE_WO_INVALID_REPORT_TEXT		MAKE_SQLSTATE('W','O','3','0','3')
/* WO307: submit() or drain_inbox() in a transaction that is not READ COMMITTED. */
#define ERRCODE_WO_INTAKE_ISOLATION		MAKE_SQLSTATE('W','O','3','0','7')
/* WO308: submit(): a channel reference already used for another report (not a retry of it). */
#define ERRCODE_WO_CHANNEL_REF_REUSED		MAKE_SQLSTATE('W','O','3','0','8')

/* WO405: a direct UPDATE, DELETE or TRUNCATE of orders or of the event log. */
#define ERRCODE_WO_DIRECT_CHANGE			MAKE_SQLSTATE('W','O','4','0','5')

/* WO501: an unknown (or NULL) calendar code. */
#define ERRCODE_WO_UNKNOWN_CALENDAR			MAKE_SQLSTATE('W','O','5','0','1')
/* WO502: an invalid calendar definition: a bad row, no working hours, an unknown time zone. */
#define ERRCODE_WO_INVALID_CALENDAR			MAKE_SQLSTATE('W','O','5','0','2')
/* WO503: an invalid argument of a calendar function: a duration with days, an infinite time, ... */
#define ERRCODE_WO_INVALID_WORKING_TIME		MAKE_SQLSTATE('W','O','5','0','3')
/* WO504: calendar data that cannot be loaded (raised in SQL by the loaders). */
#define ERRCODE_WO_CALENDAR_LOAD			MAKE_SQLSTATE('W','O','5','0','4')
/* WO513: an invalid deadline_after() argument (also raised in SQL). */
#define ERRCODE_WO_INVALID_DEADLINE			MAKE_SQLSTATE('W','O','5','1','3')

/* WO952: an intake login acting for a channel other than its own. */
#define ERRCODE_WO_CHANNEL_ACCESS			MAKE_SQLSTATE('W','O','9','5','2')
/* WO701: an invalid dedup setting. */
#define ERRCODE_WO_INVALID_DEDUP_SETTING	MAKE_SQLSTATE('W','O','7','0','1')

/* WO971: an event whose predecessor in its order's hash chain is missing. */
#define ERRCODE_WO_EVENT_CHAIN				MAKE_SQLSTATE('W','O','9','7','1')

extern void _PG_init(void);

/* workorder.c: a statement prepared (generic plan) and kept for the backend's life. */
struct _SPI_plan;
extern struct _SPI_plan *workorder_keep_plan(const char *query, int nargs, const Oid *types);
/* workorder.c: the schema of a type (of geometry: PostGIS's). */
extern Oid	workorder_type_namespace(Oid type);
/* workorder.c: types and functions found by name, and called with NULLs allowed. */
extern Oid	workorder_type_oid(const char *schema, const char *name);
extern void workorder_lookup_function(FmgrInfo *finfo, const char *schema, const char *name, int nargs,
									  const Oid *types);
extern Datum workorder_call_function(FmgrInfo *finfo, int nargs, const Datum *args, const bool *nulls,
									 bool *isnull);
extern int32 workorder_geometry_srid(Datum geometry);
extern void workorder_geometry_shape(Datum geometry, Oid geometry_type, char **kind, bool *empty,
									 bool *empty_null);
extern bool workorder_point_xy(Datum point, Oid geometry_type, double *x, double *y);
/* intake.c: a value a caller sent, as a message names it (quoted, 40 characters). */
extern char *workorder_quoted_start(const char *s);

/*
 * locks.c: the extension's own advisory locks, out of reach of SQL's
 * pg_advisory_* functions (their fourth field: SQL's are 1 and 2).
 */
#define WORKORDER_LOCK_CLASS	0x574F
extern int32 workorder_lock_hash(const char *s);
extern bool workorder_lock_acquire(int32 key1, int32 key2, int lockmode, bool dont_wait);

/* SlaEscalationStep is one row of workorder.sla_escalation_steps. */
typedef struct SlaEscalationStep
{
	int32		step;
	Interval	after;
} SlaEscalationStep;

/*
 * SlaPolicyInfo is one row of workorder.sla_policies, with when its terms
 * last changed and its escalation chain in the order of the steps, as
 * refcache.c keeps it.
 */
typedef struct SlaPolicyInfo
{
	char	   *name;
	char	   *calendar_code;
	char	   *accept_clock;
	Interval	accept_amount;
	char	   *resolve_clock;
	Interval	resolve_amount;
	double		warn_fraction;
	bool		has_versions;	/* terms_changed_at is known (sla_policy_versions) */
	TimestampTz terms_changed_at;	/* when the terms above came into force */
	int			nsteps;
	SlaEscalationStep *steps;
} SlaPolicyInfo;

/* CategoryInfo is one row of workorder.category_effective, as refcache.c keeps it. */
typedef struct CategoryInfo
{
	char	   *code;
	char	   *family;
	Datum		path;			/* text[] */
	Datum	   *path_elems;		/* its elements */
	int			path_length;
	Oid			handling_level; /* InvalidOid: NULL */
	char	   *department_kind;
	char	   *sla_policy;
	bool		has_dedup_radius;
	double		dedup_radius_m;
	Interval   *dedup_window;	/* NULL: NULL */
	bool		active;			/* it and every ancestor are active */
} CategoryInfo;

/*
 * DedupRuleInfo is one row of workorder.dedup_rules, as refcache.c keeps it.
 * The numbers are weight_distance, weight_time, weight_text, weight_address,
 * weight_reporter, merge_threshold and review_threshold, in that order;
 * has_number false, or a NULL pointer, is NULL.
 */
#define DEDUP_RULE_NUMBERS	7
typedef struct DedupRuleInfo
{
	char	   *category_code;
	bool		has_number[DEDUP_RULE_NUMBERS];
	double		number[DEDUP_RULE_NUMBERS];
	Interval   *closed_window;
	char	   *late_policy;
} DedupRuleInfo;

/* RouteTarget is workorder.route_target (a NULL target resolves as department). */
typedef enum RouteTarget
{
	ROUTE_TARGET_CENTER,
	ROUTE_TARGET_DEPARTMENT,
	ROUTE_TARGET_UNIT
} RouteTarget;

/* RouteRule is one active row of workorder.routing_rules, as refcache.c keeps it. */
typedef struct RouteRule
{
	int64		id;
	char	   *name;
	char	   *category_code;	/* NULL: any */
	char	   *channel_code;	/* NULL: any */
	char	   *area_code;		/* NULL: any */
	Oid			priority;		/* InvalidOid: any */
	int			nkeywords;		/* -1: NULL (any) */
	Datum	   *keywords;		/* lower-cased */
	char	   *keywords_text;	/* array_to_string(keywords, ', ') */
	Oid			handling_level; /* InvalidOid: NULL */
	char	   *target;			/* center, department, unit */
	char	   *department_kind;
	char	   *unit_code;
	Datum		assisting_units;	/* text[] */
	char	   *sla_policy;
} RouteRule;

/* refcache.c: the per-backend cache of reference data. */
extern bool workorder_channel_replies(const char *code);
extern const char *workorder_unit_name(const char *code);
extern const char *workorder_choose_sla_policy(const int64 *rule_id, Oid priority, const char *category);
extern const SlaPolicyInfo *workorder_sla_policy_info(const char *name);
/* What workorder_sla_next_escalation_step found. */
typedef enum SlaStepLookup
{
	SLA_STEP_NONE,				/* no step after it, or no such policy */
	SLA_STEP_FOUND,
	SLA_STEP_UNCACHED			/* the chains are not in the cache: ask the table */
} SlaStepLookup;

extern SlaStepLookup workorder_sla_next_escalation_step(const char *policy, int32 step, Interval *after,
														 const SlaPolicyInfo **info);
extern Datum reference_setting(PG_FUNCTION_ARGS);
extern const CategoryInfo *workorder_category(const char *code);
extern const RouteRule *workorder_route_rules(int *n);
extern const char *workorder_resolve_unit(RouteTarget target, const char *kind, Oid level,
										  ArrayType *chain, const char *fixed_unit);
extern const char *workorder_setting(const char *name);
extern bool workorder_channel_is_active(const char *code);
extern bool workorder_channel_exists(const char *code);
extern const char *workorder_map_category(const char *channel, const char *category);
extern bool workorder_unit_is_active(const char *code);
extern const char *workorder_dispatch_center(void);

/* RouteStep is one row of workorder.route_steps(): a rule, or the category's default. */
typedef struct RouteStep
{
	int			step;
	int64		rule_id;		/* 0 with has_rule false: the category's default */
	bool		has_rule;
	const char *rule_name;
	bool		matched;
	bool		chosen;
	char	   *reason;			/* NULL for a rule when only the choice was asked */
	Oid			handling_level; /* InvalidOid: NULL */
	const char *unit_code;		/* NULL: none */
	Datum		assisting_units;	/* text[]; (Datum) 0: NULL */
	const char *sla_policy;		/* NULL: none */
} RouteStep;

/* routing.c: the rules evaluated for a report, or only the step chosen. */
extern List *workorder_route_steps(const char *category, const char *channel, ArrayType *chain,
								   Oid priority, text *description, bool stop_at_choice);

/* SlaIntake is what workorder.sla_intake() returns. */
typedef struct SlaIntake
{
	const char *policy;			/* NULL: none */
	bool		has_deadlines;
	TimestampTz accept_due_at;
	TimestampTz resolve_due_at;
	TimestampTz warn_at;
} SlaIntake;

/* deadlines.c: the SLA policy and deadlines of an order dispatched at intake. */
extern void workorder_sla_intake(const int64 *rule_id, Oid priority, const char *category,
								 const TimestampTz *received, const TimestampTz *dispatched,
								 SlaIntake *result);

/* ticket.c: the next ticket of a day (an int64 yyyymmdd * 1000000 + seq). */
extern int64 workorder_next_ticket(int32 day);

/* access.c: an intake login acts only for its own channel (WO952); intake acting as the system. */
extern void workorder_check_channel_access(const char *channel, const char *what);
extern void workorder_act_as_system(bool on);

/* areamap.c: the jurisdiction map, per backend, for locate_point(). */
typedef struct MapArea
{
	Datum		code;			/* text */
	Datum		name;			/* text */
	Datum		level;			/* workorder.area_level */
	Datum		in_jurisdiction;	/* bool */
	Datum		path;			/* text[] */
	Datum		path_names;		/* text[] */
	bool		has_children;
} MapArea;
extern void workorder_areamap_init(void);
extern int	workorder_areamap_locate(double x, double y, const MapArea **area);

/* locate.c: locate_point() of a point in SRID 4326, as a workorder.location row. */
extern HeapTupleHeader workorder_locate_point(Datum point, Oid geometry_type, TupleDesc location_desc);
extern List *workorder_family_categories(const char *family);
extern const DedupRuleInfo *workorder_dedup_rule(const char *code);
extern uint64 workorder_reference_version(void);
struct SnapshotData;
extern uint64 workorder_cache_query(const char *query, struct SnapshotData *snapshot);

/*
 * CacheLoad says what snapshot a cache (refcache.c's, the area map's, a
 * calendar's) was read with, when it had to be the active one: in parallel
 * mode, where no new snapshot may be taken.  Such a load is good only as long
 * as that snapshot is the active one (workorder_cache_load_current).
 */
typedef struct CacheLoad
{
	LocalTransactionId lxid;	/* InvalidLocalTransactionId: read with the latest snapshot */
	TransactionId xmin;
	TransactionId xmax;
	CommandId	curcid;
	uint64		completion_count;
} CacheLoad;
extern void workorder_cache_load_mark(CacheLoad *load, bool provisional);
extern bool workorder_cache_load_current(const CacheLoad *load);

/*
 * similarity.c: the scores dedup computes, as text_similarity(a, b, ignore)
 * and address_similarity(a, b) compute them.  *cache keeps the profile of a
 * and the buffers that each b is normalised into (start with NULL; they live
 * in cxt), since one report is compared with each candidate in turn.
 */
extern double similarity_text_ignoring(void **cache, MemoryContext cxt, text *a, text *b, text *ignore);
extern double similarity_address(void **cache, MemoryContext cxt, text *a, text *b);
extern text *similarity_fold_width(text *t);

/*
 * placenumbers.c: the place numbers a text names (12号, 3栋, 西三巷), which tell
 * two spots of one street apart.  A PlaceNumbers starts with count 0.
 */
#define PLACE_NUMBERS_MAX	16
typedef struct PlaceNumbers
{
	int			count;
	int			marker[PLACE_NUMBERS_MAX];
	uint32		value[PLACE_NUMBERS_MAX];
} PlaceNumbers;
extern void place_numbers_of(text *t, PlaceNumbers *numbers);
extern bool place_numbers_conflict(const PlaceNumbers *a, const PlaceNumbers *b, int *marker,
								   uint32 *value_a, uint32 *value_b);
extern char *place_number_text(int marker, uint32 value);

/* geodesic.c: the length of the geodesic between two points of SRID 4326, on WGS 84. */
extern bool workorder_geodesic_distance(double lon1, double lat1, double lon2, double lat2, double *metres);

#endif							/* WORKORDER_H */
