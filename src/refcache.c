/*-------------------------------------------------------------------------
 *
 * refcache.c
 *	  The reference data that intake reads on every report, cached per
 *	  backend: settings, channels and their category mappings, the
 *	  catalogue's defaults in force (category_effective), units, the
 *	  dispatch center, routing rules' SLA policies, SLA policies and the
 *	  priorities' policies (for deadlines.c and outbox.c too), and the dedup
 *	  rules (for dedup.c).  And the SQL functions that answer from it:
 *	  setting(), channel_is_active(), map_category(), category_settings(),
 *	  resolve_unit(), dispatch_center() and choose_sla_policy().
 *
 * Why.  Each of these was a plpgsql function running one or two queries;
 * a submit() made about a dozen such calls, and each query paid for an
 * executor start and end, a plan cache check and the pinned search_path of
 * its function (measured with callgrind: 60 to 100 thousand instructions a
 * call, about a quarter of a submit()).  From the cache a call is a hash
 * lookup.
 *
 * Invalidation works as for the calendars (calendar.c).  A statement trigger
 * on each cached table (reference_cache_invalidate, installed by
 * sql/install/87_reference_cache.sql) registers a relcache invalidation of
 * the table; it reaches every backend when the change commits and the
 * changing backend at its next command, and is undone locally if the change
 * rolls back.  A relcache callback bumps ref_generation when it sees one of
 * the tables (or a reset of the whole relcache), and the next lookup
 * reloads everything: the tables are small (hundreds of rows) and change
 * rarely.  Each lookup first takes in the invalidations other sessions have
 * sent (AcceptInvalidationMessages(), a read of one flag when there are
 * none): a backend otherwise takes them in only when it locks a relation
 * anew, and answering from the cache locks nothing, so a transaction would
 * have kept answering from data another session had changed and committed,
 * where the query the cache replaces, with the next statement's snapshot,
 * saw the change.
 *
 * A reload does not free the cache it replaces until the transaction ends
 * (ref_retire): a caller may hold what an earlier lookup returned (a
 * category, a rule's name) across a call that reloads, since any lookup,
 * and any new lock, can take in an invalidation.
 *
 * The data is read with the latest snapshot, as the system caches
 * are: what an invalidation announced is committed before it is sent, and
 * the transaction's own earlier changes are in it.  In parallel mode no new
 * snapshot may be taken: the data is then read with the active snapshot and
 * kept only while that snapshot is the active one (workorder_cache_load_current).
 * While one of the tables does
 * not exist yet (during CREATE EXTENSION), nothing is kept.
 *
 * The functions keep the semantics of the SQL they replace, NULLs included;
 * the comment above each says what that was.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/indexing.h"
#include "catalog/pg_collation.h"
#include "catalog/pg_extension.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "storage/proc.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/fmgroids.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"

#include "workorder.h"

/*
 * Keys are short codes joined with a separator, and almost all fit this:
 * the codes of units, channels, categories, department kinds and policies are
 * ASCII and bounded by their CHECK constraints.  A key that does not fit (a
 * channel's own category code may be 64 Chinese characters, 192 bytes; a
 * setting's name is not bounded) is kept in ref_long_entries instead.
 */
#define REF_KEY_LEN		160

/*
 * The cached tables, in the order of ref_table_names.  area_pieces is not read
 * here but by the map of areas (areamap.c), which reloads with this cache: an
 * admin may write it, and a change made that way left every other backend's
 * map as it was.
 */
#define REF_NTABLES		12
static const char *const ref_table_names[REF_NTABLES] = {
	"settings", "channels", "channel_categories", "category_effective", "units",
	"areas", "routing_rules", "sla_policies", "sla_priority_policies", "dedup_rules",
	"sla_escalation_steps", "area_pieces",
};

/*
 * RefEntry is one entry of the cache's hash table.  The first character of
 * the key says what it is:
 *   S<name>               a setting: value
 *   C<channel>            a channel: flag = active, replies = replies
 *   M<channel>|<code>     a channel's category code: value = catalogue code
 *   K<code>               a category of the catalogue: category
 *   U<code>               an active unit: value = its code
 *   N<code>               any unit: value = its name
 *   c<area>               the active center of an area: value = unit code
 *   d<kind>|<area>        the active department or branch of a kind in an area
 *   R<rule id>            a routing rule: value = its sla_policy (may be NULL)
 *   P<name>               an SLA policy: policy
 *   Q<priority oid>       a priority's policy: value (may be NULL: no override)
 *   F<family>             a category family: members = its categories (CategoryInfo *)
 *   D<category>           a category's dedup rule: rule
 */
typedef struct RefEntry
{
	char		key[REF_KEY_LEN];	/* hash key; must be first */
	char	   *value;
	bool		flag;
	bool		replies;
	CategoryInfo *category;
	SlaPolicyInfo *policy;
	List	   *members;
	DedupRuleInfo *rule;
} RefEntry;

/*
 * RefLongEntry is an entry whose key is too long for the hash table, with
 * that key.  They are rare, and looked for one by one.
 */
typedef struct RefLongEntry
{
	char	   *key;
	RefEntry	entry;			/* its key is left empty */
} RefLongEntry;

/* The cache, its memory, and the generation it was built in. */
static HTAB *ref_cache = NULL;
static MemoryContext ref_context = NULL;
static uint64 ref_generation = 0;
static uint64 ref_cache_generation = 0;
static uint64 ref_loads = 0;		/* counts the loads: what dedup.c's policies are built from */
static bool ref_valid = false;
static bool ref_callback_registered = false;
static CacheLoad ref_load_snapshot;	/* how the cache was read */
static bool ref_steps_cached = false;	/* the escalation chains are on the policies */
static Oid	ref_relids[REF_NTABLES];

/*
 * sla_policy_versions: the instant of each policy's last change of terms is
 * cached, for intake (workorder_sla_intake), when the table has its trigger
 * (from 0.5 on); a schema before 0.5, which this library serves until ALTER
 * EXTENSION ... UPDATE, has no such table, and the cache is complete without it.
 */
static Oid	ref_versions_relid = InvalidOid;

/*
 * Caches replaced in this transaction, freed when it ends.  At most
 * REF_MAX_RETIRED are kept, the oldest freed first: a transaction that
 * changes the reference tables and looks them up by turns (a loader, row by
 * row) must not keep a copy of every version; what a caller holds is from
 * the last reload or two.
 */
#define REF_MAX_RETIRED 8
static List *ref_retired = NIL;
static bool ref_xact_callback_registered = false;

/* Derived values kept with the cache. */
static char *ref_dispatch_center = NULL;
static RouteRule *ref_rules = NULL;	/* the active routing rules, in order */
static int	ref_nrules = 0;
static List *ref_long_entries = NIL;	/* RefLongEntry *, keys too long for the table */
static Oid	ref_levels[8];		/* workorder.area_level in sort order */
static int	ref_nlevels = 0;
static Oid	ref_target_unit = InvalidOid;
static Oid	ref_target_center = InvalidOid;
static Oid	ref_priority_urgent = InvalidOid;

static void ref_relcache_callback(Datum arg, Oid relid);
static void ref_retire(void);
static void ref_xact_callback(XactEvent event, void *arg);
static void ref_ensure(void);
static Oid ref_extension_owner(void);
static void ref_load(void);
static void ref_cache_triggers(Snapshot snapshot, bool *steps, bool *versions);
static char *ref_text(HeapTuple tuple, TupleDesc desc, int col);
static Oid	ref_enum_oid(const char *type_name, const char *label);
static bool ref_key(char *key, char kind, const char *a, const char *b);
static RefEntry *ref_put(char kind, const char *a, const char *b);
static char *ref_long_key(char kind, const char *a, const char *b);
static RefEntry *ref_long_find(const char *key);
static RefEntry *ref_find(char kind, const char *a, const char *b);
static char *ref_arg(FunctionCallInfo fcinfo, int argno);
static const char *ref_setting(const char *name);
static CategoryInfo *ref_category(const char *code);
static bool ref_policy_exists(const char *name);

PG_FUNCTION_INFO_V1(reference_cache_invalidate);
PG_FUNCTION_INFO_V1(reference_setting);
PG_FUNCTION_INFO_V1(reference_channel_is_active);
PG_FUNCTION_INFO_V1(reference_map_category);
PG_FUNCTION_INFO_V1(reference_category_settings);
PG_FUNCTION_INFO_V1(reference_resolve_unit);
PG_FUNCTION_INFO_V1(reference_dispatch_center);
PG_FUNCTION_INFO_V1(reference_choose_sla_policy);

/*
 * ref_relcache_callback notes that the cache is out of date when the
 * relcache entry of a cached table is invalidated, or all are.  It runs
 * inside invalidation processing, so it only bumps a counter.
 */
static void
ref_relcache_callback(Datum arg pg_attribute_unused(), Oid relid)
{
	int			i;

	if (!OidIsValid(relid))
	{
		ref_generation++;
		return;
	}
	for (i = 0; i < REF_NTABLES; i++)
		if (relid == ref_relids[i])
		{
			ref_generation++;
			return;
		}
	if (OidIsValid(ref_versions_relid) && relid == ref_versions_relid)
		ref_generation++;
}

/*
 * ref_retire keeps the current cache's memory until the end of the
 * transaction, for what callers still hold of it, and leaves ref_context
 * NULL for the load to make a new one.
 */
static void
ref_retire(void)
{
	MemoryContext old;

	if (ref_context == NULL)
		return;
	if (!ref_xact_callback_registered)
	{
		RegisterXactCallback(ref_xact_callback, NULL);
		ref_xact_callback_registered = true;
	}
	if (list_length(ref_retired) >= REF_MAX_RETIRED)
	{
		MemoryContextDelete((MemoryContext) linitial(ref_retired));
		ref_retired = list_delete_first(ref_retired);
	}
	old = MemoryContextSwitchTo(TopMemoryContext);
	ref_retired = lappend(ref_retired, ref_context);
	MemoryContextSwitchTo(old);
	ref_context = NULL;
}

/*
 * ref_xact_callback frees the caches replaced during the transaction when
 * it ends, whether it commits or aborts.
 */
static void
ref_xact_callback(XactEvent event, void *arg pg_attribute_unused())
{
	ListCell   *lc;

	if (event != XACT_EVENT_COMMIT && event != XACT_EVENT_ABORT && event != XACT_EVENT_PREPARE &&
		event != XACT_EVENT_PARALLEL_COMMIT && event != XACT_EVENT_PARALLEL_ABORT)
		return;
	foreach(lc, ref_retired)
		MemoryContextDelete((MemoryContext) lfirst(lc));
	list_free(ref_retired);
	ref_retired = NIL;
}

/*
 * ref_ensure makes sure the cache holds the current data: it takes in the
 * invalidations other sessions sent, and loads the data when it was never
 * loaded, was invalidated since, was loaded in parallel mode with a snapshot
 * that is no longer the active one (workorder_cache_load_current), or was
 * incomplete.
 */
static void
ref_ensure(void)
{
	if (!ref_callback_registered)
	{
		CacheRegisterRelcacheCallback(ref_relcache_callback, (Datum) 0);
		ref_callback_registered = true;
	}
	AcceptInvalidationMessages();
	if (ref_valid && ref_cache_generation == ref_generation &&
		workorder_cache_load_current(&ref_load_snapshot))
		return;
	ref_load();
}

/*
 * ref_extension_owner returns the owner of the extension workorder, or
 * InvalidOid when it is not there (during CREATE EXTENSION it is).
 */
static Oid
ref_extension_owner(void)
{
	Relation	rel;
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tuple;
	Oid			owner = InvalidOid;

	rel = table_open(ExtensionRelationId, AccessShareLock);
	ScanKeyInit(&key, Anum_pg_extension_extname, BTEqualStrategyNumber, F_NAMEEQ,
				CStringGetDatum("workorder"));
	scan = systable_beginscan(rel, ExtensionNameIndexId, true, NULL, 1, &key);
	tuple = systable_getnext(scan);
	if (HeapTupleIsValid(tuple))
		owner = ((Form_pg_extension) GETSTRUCT(tuple))->extowner;
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	return owner;
}

/*
 * workorder_cache_query runs a query of a cache's loader (this one's,
 * areamap.c's) with the given snapshot and returns the number of rows (in
 * SPI_tuptable).  SPI must be connected.
 *
 * The query runs as the extension's owner.  A cache serves every role of the
 * backend, whoever loaded it: loaded with the caller's rights, setting() gave
 * workorder_analyst (who may not read the settings) an error or an answer
 * depending on what the backend had run before.
 */
uint64
workorder_cache_query(const char *query, Snapshot snapshot)
{
	SPIPlanPtr	plan = SPI_prepare(query, 0, NULL);
	Oid			owner = ref_extension_owner();
	Oid			save_userid;
	int			save_sec_context;
	volatile int ret = 0;

	if (plan == NULL)
		elog(ERROR, "could not prepare \"%s\": %s", query, SPI_result_code_string(SPI_result));
	GetUserIdAndSecContext(&save_userid, &save_sec_context);
	if (OidIsValid(owner))
		SetUserIdAndSecContext(owner, save_sec_context | SECURITY_LOCAL_USERID_CHANGE |
							   SECURITY_RESTRICTED_OPERATION);
	PG_TRY();
	{
		ret = SPI_execute_snapshot(plan, NULL, NULL, snapshot, InvalidSnapshot, true, false, 0);
	}
	PG_FINALLY();
	{
		SetUserIdAndSecContext(save_userid, save_sec_context);
	}
	PG_END_TRY();
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "a cache's loading query failed: %s", SPI_result_code_string(ret));
	SPI_freeplan(plan);
	return SPI_processed;
}

/*
 * ref_cache_triggers says which of the two tables whose rows the cache holds
 * only from 0.5 on have their cache trigger (part 87), so that a change of
 * them reaches the cache: sla_escalation_steps (*steps) and
 * sla_policy_versions (*versions).  A schema before 0.5, which this library
 * serves until ALTER EXTENSION ... UPDATE, has neither (nor the second table).
 */
static void
ref_cache_triggers(Snapshot snapshot, bool *steps, bool *versions)
{
	uint64		n = workorder_cache_query("SELECT t.tgname::pg_catalog.text FROM pg_catalog.pg_trigger t "
										  "WHERE t.tgrelid OPERATOR(pg_catalog.=) ANY (ARRAY["
										  "pg_catalog.to_regclass('workorder.sla_escalation_steps'), "
										  "pg_catalog.to_regclass('workorder.sla_policy_versions')]::pg_catalog.oid[]) "
										  "AND t.tgname OPERATOR(pg_catalog.=) ANY ('{sla_escalation_steps_reference_cache,"
										  "sla_policy_versions_reference_cache}'::pg_catalog.name[]) "
										  "AND t.tgenabled OPERATOR(pg_catalog.<>) 'D'", snapshot);
	uint64		i;

	*steps = *versions = false;
	for (i = 0; i < n; i++)
	{
		char	   *name = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1);

		if (strcmp(name, "sla_escalation_steps_reference_cache") == 0)
			*steps = true;
		else
			*versions = true;
	}
}

/*
 * workorder_cache_load_mark records how a cache was just read: with the
 * latest snapshot, or, provisional, in parallel mode with the active one.
 */
void
workorder_cache_load_mark(CacheLoad *load, bool provisional)
{
	memset(load, 0, sizeof(CacheLoad));
	load->lxid = InvalidLocalTransactionId;
	if (provisional && ActiveSnapshotSet())
	{
		Snapshot	active = GetActiveSnapshot();

		load->lxid = MyProc->lxid;
		load->xmin = active->xmin;
		load->xmax = active->xmax;
		load->curcid = active->curcid;
		load->completion_count = active->snapXactCompletionCount;
	}
}

/*
 * workorder_cache_load_current says whether a cache read as load says may
 * still be used: one read with the latest snapshot may (the invalidations say
 * when it is stale); one read in parallel mode only while the same snapshot
 * is the active one, in the same parallel query.  Kept for the rest of the
 * transaction, as it was, such a load hid from every later statement the
 * changes committed meanwhile (read with the latest snapshot, they are seen),
 * and under REPEATABLE READ the changes committed since the transaction
 * began.  Two snapshots with the same horizons, command and count of
 * completed transactions see the same rows.
 */
bool
workorder_cache_load_current(const CacheLoad *load)
{
	Snapshot	active;

	if (load->lxid == InvalidLocalTransactionId)
		return true;
	if (!IsInParallelMode() || load->lxid != MyProc->lxid || !ActiveSnapshotSet())
		return false;
	active = GetActiveSnapshot();
	return active->xmin == load->xmin && active->xmax == load->xmax && active->curcid == load->curcid &&
		active->snapXactCompletionCount == load->completion_count;
}

/*
 * ref_text returns column col of a loader row as a string in the cache's
 * memory, or NULL.
 */
static char *
ref_text(HeapTuple tuple, TupleDesc desc, int col)
{
	bool		isnull;
	Datum		v = SPI_getbinval(tuple, desc, col, &isnull);

	if (isnull)
		return NULL;
	return MemoryContextStrdup(ref_context, TextDatumGetCString(v));
}

/*
 * ref_enum_oid returns the OID of a label of one of the extension's enums.
 */
static Oid
ref_enum_oid(const char *type_name, const char *label)
{
	Oid			typid = workorder_type_oid("workorder", type_name);

	return DatumGetObjectId(DirectFunctionCall2(enum_in, CStringGetDatum(label),
												ObjectIdGetDatum(typid)));
}

/*
 * ref_key writes the hash key of kind and one or two parts into key (of
 * REF_KEY_LEN bytes): the kind, the first part, and "|" and the second when
 * there is one.  It returns false when the key does not fit.  Put together
 * by hand, not with snprintf, which was most of a lookup (dedup looks up
 * the category of every candidate).
 */
static bool
ref_key(char *key, char kind, const char *a, const char *b)
{
	size_t		alen = strlen(a);
	size_t		blen = b ? strlen(b) : 0;
	size_t		len = 1 + alen + (b ? 1 + blen : 0);

	if (len >= REF_KEY_LEN)
		return false;
	key[0] = kind;
	memcpy(key + 1, a, alen);
	if (b)
	{
		key[1 + alen] = '|';
		memcpy(key + 2 + alen, b, blen);
	}
	key[len] = '\0';
	return true;
}

/*
 * ref_long_key returns, palloc'd, the key of kind and one or two parts
 * however long it is.
 */
static char *
ref_long_key(char kind, const char *a, const char *b)
{
	return b ? psprintf("%c%s|%s", kind, a, b) : psprintf("%c%s", kind, a);
}

/* ref_long_find returns the entry of a key too long for the table, or NULL. */
static RefEntry *
ref_long_find(const char *key)
{
	ListCell   *lc;

	foreach(lc, ref_long_entries)
	{
		RefLongEntry *l = (RefLongEntry *) lfirst(lc);

		if (strcmp(l->key, key) == 0)
			return &l->entry;
	}
	return NULL;
}

/*
 * ref_put adds (or finds) the entry of kind and one or two parts.  A key too
 * long for the table goes to ref_long_entries: one such row (a channel's own
 * category code in Chinese) made every load fail, and with it every submit
 * and every action of every session, until the row was found and deleted.
 */
static RefEntry *
ref_put(char kind, const char *a, const char *b)
{
	char		key[REF_KEY_LEN];
	bool		found;
	RefEntry   *entry;

	if (ref_key(key, kind, a, b))
		entry = (RefEntry *) hash_search(ref_cache, key, HASH_ENTER, &found);
	else
	{
		MemoryContext old = MemoryContextSwitchTo(ref_context);
		char	   *long_key = ref_long_key(kind, a, b);

		entry = ref_long_find(long_key);
		found = (entry != NULL);
		if (!found)
		{
			RefLongEntry *l = (RefLongEntry *) palloc0(sizeof(RefLongEntry));

			l->key = long_key;
			ref_long_entries = lappend(ref_long_entries, l);
			entry = &l->entry;
		}
		else
			pfree(long_key);
		MemoryContextSwitchTo(old);
	}
	if (!found)
	{
		entry->value = NULL;
		entry->flag = false;
		entry->replies = false;
		entry->category = NULL;
		entry->policy = NULL;
		entry->members = NIL;
		entry->rule = NULL;
	}
	return entry;
}

/*
 * ref_find returns the entry of kind and one or two parts, or NULL.  A NULL
 * part finds nothing (the SQL compared it with =).
 */
static RefEntry *
ref_find(char kind, const char *a, const char *b)
{
	char		key[REF_KEY_LEN];

	/* The first part of a two-part key never holds the separator. */
	if (a == NULL || (b != NULL && strchr(a, '|') != NULL))
		return NULL;
	if (!ref_key(key, kind, a, b))
	{
		char	   *long_key;
		RefEntry   *entry;

		if (ref_long_entries == NIL)
			return NULL;
		long_key = ref_long_key(kind, a, b);
		entry = ref_long_find(long_key);
		pfree(long_key);
		return entry;
	}
	return (RefEntry *) hash_search(ref_cache, key, HASH_FIND, NULL);
}

/*
 * ref_load reads every cached table into a fresh cache.
 */
static void
ref_load(void)
{
	bool		provisional = IsInParallelMode();
	Snapshot	snapshot;
	HASHCTL		ctl;
	Oid			nsp;
	bool		complete = true;
	uint64		generation = ref_generation;
	bool		versions_cached;
	int			i,
				n;

	/* Until the load is complete, the cache is not to be used. */
	ref_valid = false;
	ref_steps_cached = false;

	ref_retire();
	ref_context = AllocSetContextCreate(CacheMemoryContext, "workorder reference cache",
										ALLOCSET_DEFAULT_SIZES);
	ref_cache = NULL;
	ref_dispatch_center = NULL;
	ref_long_entries = NIL;
	ref_rules = NULL;
	ref_nrules = 0;

	nsp = get_namespace_oid("workorder", true);
	for (i = 0; i < REF_NTABLES; i++)
	{
		ref_relids[i] = OidIsValid(nsp) ? get_relname_relid(ref_table_names[i], nsp) : InvalidOid;
		if (!OidIsValid(ref_relids[i]))
			complete = false;
	}
	ref_versions_relid = OidIsValid(nsp) ? get_relname_relid("sla_policy_versions", nsp) : InvalidOid;

	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = REF_KEY_LEN;
	ctl.entrysize = sizeof(RefEntry);
	ctl.hcxt = ref_context;
	ref_cache = hash_create("workorder reference cache", 1024, &ctl,
							HASH_ELEM | HASH_STRINGS | HASH_CONTEXT);
	if (!complete)
	{
		/*
		 * During CREATE EXTENSION: answer from the empty cache (the tables
		 * that exist are still empty), and load again next time.
		 */
		return;
	}

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	snapshot = RegisterSnapshot(provisional ? GetActiveSnapshot() : GetLatestSnapshot());

	n = (int) workorder_cache_query("SELECT s.name, s.value FROM workorder.settings s", snapshot);
	for (i = 0; i < n; i++)
	{
		HeapTuple	t = SPI_tuptable->vals[i];
		char	   *name = ref_text(t, SPI_tuptable->tupdesc, 1);

		ref_put('S', name, NULL)->value = ref_text(t, SPI_tuptable->tupdesc, 2);
	}

	n = (int) workorder_cache_query("SELECT c.code, c.active, c.replies FROM workorder.channels c", snapshot);
	for (i = 0; i < n; i++)
	{
		HeapTuple	t = SPI_tuptable->vals[i];
		RefEntry   *e = ref_put('C', ref_text(t, SPI_tuptable->tupdesc, 1), NULL);
		bool		isnull;

		e->flag = DatumGetBool(SPI_getbinval(t, SPI_tuptable->tupdesc, 2, &isnull));
		e->replies = DatumGetBool(SPI_getbinval(t, SPI_tuptable->tupdesc, 3, &isnull));
	}

	n = (int) workorder_cache_query("SELECT m.channel_code, m.channel_category_code, m.category_code "
				  "FROM workorder.channel_categories m", snapshot);
	for (i = 0; i < n; i++)
	{
		HeapTuple	t = SPI_tuptable->vals[i];

		ref_put('M', ref_text(t, SPI_tuptable->tupdesc, 1), ref_text(t, SPI_tuptable->tupdesc, 2))->value =
			ref_text(t, SPI_tuptable->tupdesc, 3);
	}

	n = (int) workorder_cache_query("SELECT e.code, e.family, e.path, e.handling_level, e.department_kind, e.sla_policy, "
				  "e.dedup_radius_m, e.dedup_window, e.active FROM workorder.category_effective e", snapshot);
	for (i = 0; i < n; i++)
	{
		HeapTuple	t = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		CategoryInfo *c = MemoryContextAllocZero(ref_context, sizeof(CategoryInfo));
		bool		isnull;
		Datum		v;
		MemoryContext old;

		c->code = ref_text(t, desc, 1);
		c->family = ref_text(t, desc, 2);
		v = SPI_getbinval(t, desc, 3, &isnull);
		old = MemoryContextSwitchTo(ref_context);
		c->path = datumCopy(v, false, -1);
		deconstruct_array(DatumGetArrayTypeP(c->path), TEXTOID, -1, false, TYPALIGN_INT,
						  &c->path_elems, NULL, &c->path_length);
		MemoryContextSwitchTo(old);
		v = SPI_getbinval(t, desc, 4, &isnull);
		c->handling_level = isnull ? InvalidOid : DatumGetObjectId(v);
		c->department_kind = ref_text(t, desc, 5);
		c->sla_policy = ref_text(t, desc, 6);
		v = SPI_getbinval(t, desc, 7, &isnull);
		c->has_dedup_radius = !isnull;
		c->dedup_radius_m = isnull ? 0 : DatumGetFloat8(v);
		v = SPI_getbinval(t, desc, 8, &isnull);
		if (!isnull)
		{
			c->dedup_window = MemoryContextAlloc(ref_context, sizeof(Interval));
			memcpy(c->dedup_window, DatumGetIntervalP(v), sizeof(Interval));
		}
		v = SPI_getbinval(t, desc, 9, &isnull);
		c->active = !isnull && DatumGetBool(v);
		ref_put('K', c->code, NULL)->category = c;
		{
			RefEntry   *family = ref_put('F', c->family, NULL);

			old = MemoryContextSwitchTo(ref_context);
			family->members = lappend(family->members, c);
			MemoryContextSwitchTo(old);
		}
	}

	n = (int) workorder_cache_query("SELECT r.category_code, r.weight_distance, r.weight_time, r.weight_text, r.weight_address, "
				  "r.weight_reporter, r.merge_threshold, r.review_threshold, r.closed_window, r.late_policy "
				  "FROM workorder.dedup_rules r", snapshot);
	for (i = 0; i < n; i++)
	{
		HeapTuple	t = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		DedupRuleInfo *r = MemoryContextAllocZero(ref_context, sizeof(DedupRuleInfo));
		bool		isnull;
		Datum		v;
		int			k;

		r->category_code = ref_text(t, desc, 1);
		for (k = 0; k < DEDUP_RULE_NUMBERS; k++)
		{
			v = SPI_getbinval(t, desc, 2 + k, &isnull);
			r->has_number[k] = !isnull;
			r->number[k] = isnull ? 0 : DatumGetFloat8(v);
		}
		v = SPI_getbinval(t, desc, 2 + DEDUP_RULE_NUMBERS, &isnull);
		if (!isnull)
		{
			r->closed_window = MemoryContextAlloc(ref_context, sizeof(Interval));
			memcpy(r->closed_window, DatumGetIntervalP(v), sizeof(Interval));
		}
		r->late_policy = ref_text(t, desc, 3 + DEDUP_RULE_NUMBERS);
		ref_put('D', r->category_code, NULL)->rule = r;
	}

	n = (int) workorder_cache_query("SELECT u.code, u.kind OPERATOR(pg_catalog.=) 'center', u.department_kind, u.area_code, "
				  "u.active, u.name FROM workorder.units u", snapshot);
	for (i = 0; i < n; i++)
	{
		HeapTuple	t = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		char	   *code = ref_text(t, desc, 1);
		bool		isnull;
		bool		center = DatumGetBool(SPI_getbinval(t, desc, 2, &isnull));
		char	   *kind = ref_text(t, desc, 3);
		char	   *area = ref_text(t, desc, 4);

		ref_put('N', code, NULL)->value = ref_text(t, desc, 6);
		if (!DatumGetBool(SPI_getbinval(t, desc, 5, &isnull)))
			continue;
		ref_put('U', code, NULL)->value = code;
		if (center)
			ref_put('c', area, NULL)->value = code;
		else if (kind != NULL)
			ref_put('d', kind, area)->value = code;
	}

	/* The query of the plpgsql dispatch_center() it replaces, once. */
	n = (int) workorder_cache_query("SELECT u.code FROM workorder.units u "
				  "WHERE u.kind OPERATOR(pg_catalog.=) 'center' AND u.active "
				  "AND u.area_code OPERATOR(pg_catalog.=) ANY (ARRAY("
				  "SELECT a.code FROM workorder.areas a WHERE a.parent_code IS NULL AND a.in_jurisdiction)) "
				  "ORDER BY u.code LIMIT 1", snapshot);
	if (n > 0)
		ref_dispatch_center = ref_text(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);

	n = (int) workorder_cache_query("SELECT r.id::pg_catalog.text, r.sla_policy FROM workorder.routing_rules r", snapshot);
	for (i = 0; i < n; i++)
	{
		HeapTuple	t = SPI_tuptable->vals[i];

		ref_put('R', ref_text(t, SPI_tuptable->tupdesc, 1), NULL)->value =
			ref_text(t, SPI_tuptable->tupdesc, 2);
	}

	n = (int) workorder_cache_query("SELECT r.id, r.name, r.category_code, r.channel_code, r.area_code, r.priority, "
				  "r.keywords, pg_catalog.array_to_string(r.keywords, ', '), r.handling_level, "
				  "r.target::pg_catalog.text, r.department_kind, r.unit_code, r.assisting_units, r.sla_policy "
				  "FROM workorder.routing_rules r WHERE r.active ORDER BY r.position, r.id", snapshot);
	ref_rules = MemoryContextAllocZero(ref_context, sizeof(RouteRule) * Max(n, 1));
	ref_nrules = n;
	for (i = 0; i < n; i++)
	{
		HeapTuple	t = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		RouteRule  *r = &ref_rules[i];
		bool		isnull;
		Datum		v;
		MemoryContext old;

		r->id = DatumGetInt64(SPI_getbinval(t, desc, 1, &isnull));
		r->name = ref_text(t, desc, 2);
		r->category_code = ref_text(t, desc, 3);
		r->channel_code = ref_text(t, desc, 4);
		r->area_code = ref_text(t, desc, 5);
		v = SPI_getbinval(t, desc, 6, &isnull);
		r->priority = isnull ? InvalidOid : DatumGetObjectId(v);
		v = SPI_getbinval(t, desc, 7, &isnull);
		r->nkeywords = -1;
		old = MemoryContextSwitchTo(ref_context);
		if (!isnull)
		{
			Datum	   *elems;
			int			k;

			deconstruct_array(DatumGetArrayTypeP(v), TEXTOID, -1, false, TYPALIGN_INT,
							  &elems, NULL, &r->nkeywords);
			r->keywords = palloc(sizeof(Datum) * Max(r->nkeywords, 1));
			for (k = 0; k < r->nkeywords; k++)
				r->keywords[k] = DirectFunctionCall1Coll(lower, DEFAULT_COLLATION_OID,
														 PointerGetDatum(similarity_fold_width(DatumGetTextPP(elems[k]))));
		}
		MemoryContextSwitchTo(old);
		r->keywords_text = ref_text(t, desc, 8);
		v = SPI_getbinval(t, desc, 9, &isnull);
		r->handling_level = isnull ? InvalidOid : DatumGetObjectId(v);
		r->target = ref_text(t, desc, 10);
		r->department_kind = ref_text(t, desc, 11);
		r->unit_code = ref_text(t, desc, 12);
		v = SPI_getbinval(t, desc, 13, &isnull);
		old = MemoryContextSwitchTo(ref_context);
		r->assisting_units = datumCopy(v, false, -1);
		MemoryContextSwitchTo(old);
		r->sla_policy = ref_text(t, desc, 14);
	}

	n = (int) workorder_cache_query("SELECT p.name, p.calendar_code, p.accept_clock, p.accept_amount, p.resolve_clock, "
				  "p.resolve_amount, p.warn_fraction::pg_catalog.float8 FROM workorder.sla_policies p", snapshot);
	for (i = 0; i < n; i++)
	{
		HeapTuple	t = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		SlaPolicyInfo *p = MemoryContextAllocZero(ref_context, sizeof(SlaPolicyInfo));
		bool		isnull;

		p->name = ref_text(t, desc, 1);
		p->calendar_code = ref_text(t, desc, 2);
		p->accept_clock = ref_text(t, desc, 3);
		memcpy(&p->accept_amount, DatumGetIntervalP(SPI_getbinval(t, desc, 4, &isnull)), sizeof(Interval));
		p->resolve_clock = ref_text(t, desc, 5);
		memcpy(&p->resolve_amount, DatumGetIntervalP(SPI_getbinval(t, desc, 6, &isnull)), sizeof(Interval));
		p->warn_fraction = DatumGetFloat8(SPI_getbinval(t, desc, 7, &isnull));
		ref_put('P', p->name, NULL)->policy = p;
	}

	/* Which of the tables read only from 0.5 on the cache is told of. */
	ref_cache_triggers(snapshot, &ref_steps_cached, &versions_cached);

	/*
	 * When each policy's terms last changed (sla_policy_versions): a report
	 * received before that is held to the terms of then.  Only when a change
	 * of the table reaches the cache, through its trigger (part 87, from 0.5
	 * on); without it every report is counted on the terms as they are.
	 */
	n = !versions_cached ? 0 :
		(int) workorder_cache_query("SELECT v.name, pg_catalog.max(v.valid_from) "
									"FROM workorder.sla_policy_versions v GROUP BY v.name", snapshot);
	for (i = 0; i < n; i++)
	{
		HeapTuple	t = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		RefEntry   *e = ref_find('P', ref_text(t, desc, 1), NULL);
		bool		isnull;

		/* None without its policy: the foreign key cascades. */
		if (e == NULL)
			continue;
		e->policy->has_versions = true;
		e->policy->terms_changed_at = DatumGetTimestampTz(SPI_getbinval(t, desc, 2, &isnull));
	}

	/*
	 * The escalation chains, in the order of their steps, on their policies.
	 * Every order's insert and update asks for the next step
	 * (deadlines_orders_escalation_next): a query each time was 3 % of a
	 * submit().  Only when a change of the table reaches the cache, through
	 * its trigger (not in a schema before 0.5 that runs this library).
	 */
	n = !ref_steps_cached ? 0 :
		(int) workorder_cache_query("SELECT s.policy, s.step, s.after, "
									"pg_catalog.count(*) OVER (PARTITION BY s.policy) "
									"FROM workorder.sla_escalation_steps s ORDER BY s.policy, s.step", snapshot);
	for (i = 0; i < n; i++)
	{
		HeapTuple	t = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		RefEntry   *e = ref_find('P', ref_text(t, desc, 1), NULL);
		SlaPolicyInfo *p;
		bool		isnull;

		/* None without its policy: the foreign key cascades. */
		if (e == NULL)
			continue;
		p = e->policy;
		if (p->steps == NULL)
			p->steps = MemoryContextAllocZero(ref_context, sizeof(SlaEscalationStep) *
											  DatumGetInt64(SPI_getbinval(t, desc, 4, &isnull)));
		p->steps[p->nsteps].step = DatumGetInt32(SPI_getbinval(t, desc, 2, &isnull));
		memcpy(&p->steps[p->nsteps].after, DatumGetIntervalP(SPI_getbinval(t, desc, 3, &isnull)), sizeof(Interval));
		p->nsteps++;
	}

	n = (int) workorder_cache_query("SELECT e.oid::pg_catalog.text, m.policy FROM workorder.sla_priority_policies m "
				  "JOIN pg_catalog.pg_enum e ON e.enumtypid OPERATOR(pg_catalog.=) 'workorder.order_priority'::pg_catalog.regtype "
				  "AND e.enumlabel OPERATOR(pg_catalog.=) m.priority::pg_catalog.text", snapshot);
	for (i = 0; i < n; i++)
	{
		HeapTuple	t = SPI_tuptable->vals[i];

		ref_put('Q', ref_text(t, SPI_tuptable->tupdesc, 1), NULL)->value =
			ref_text(t, SPI_tuptable->tupdesc, 2);
	}

	n = (int) workorder_cache_query("SELECT e.oid FROM pg_catalog.pg_enum e "
				  "WHERE e.enumtypid OPERATOR(pg_catalog.=) 'workorder.area_level'::pg_catalog.regtype "
				  "ORDER BY e.enumsortorder", snapshot);
	ref_nlevels = Min(n, (int) lengthof(ref_levels));
	for (i = 0; i < ref_nlevels; i++)
	{
		bool		isnull;

		ref_levels[i] = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull));
	}
	ref_target_unit = ref_enum_oid("route_target", "unit");
	ref_target_center = ref_enum_oid("route_target", "center");
	ref_priority_urgent = ref_enum_oid("order_priority", "urgent");

	UnregisterSnapshot(snapshot);
	SPI_finish();
	workorder_cache_load_mark(&ref_load_snapshot, provisional);
	ref_cache_generation = generation;
	ref_loads++;
	ref_valid = true;
}

/*
 * ref_arg returns text argument argno as a string, or NULL.
 */
static char *
ref_arg(FunctionCallInfo fcinfo, int argno)
{
	if (PG_ARGISNULL(argno))
		return NULL;
	return text_to_cstring(PG_GETARG_TEXT_PP(argno));
}

/* ref_setting returns the value of a setting row, or NULL when it has none. */
static const char *
ref_setting(const char *name)
{
	RefEntry   *e = ref_find('S', name, NULL);

	return e ? e->value : NULL;
}

/* ref_category returns a category of category_effective, or NULL. */
static CategoryInfo *
ref_category(const char *code)
{
	RefEntry   *e = ref_find('K', code, NULL);

	return e ? e->category : NULL;
}

/* ref_policy_exists says whether an SLA policy of that name exists. */
static bool
ref_policy_exists(const char *name)
{
	return ref_find('P', name, NULL) != NULL;
}

/*
 * workorder_channel_replies says whether the channel of this code exists and
 * hears back (channels.replies), for the outbox trigger (outbox.c).
 */
bool
workorder_channel_replies(const char *code)
{
	RefEntry   *e;

	ref_ensure();
	e = ref_find('C', code, NULL);
	return e != NULL && e->replies;
}

/*
 * workorder_unit_name returns the name of the unit of this code, active or
 * not, or NULL when there is none.  The string belongs to the cache: copy it
 * before the next lookup.
 */
const char *
workorder_unit_name(const char *code)
{
	RefEntry   *e;

	ref_ensure();
	e = ref_find('N', code, NULL);
	return e ? e->value : NULL;
}

/*
 * workorder_setting returns the value of a setting, or NULL when it has none
 * (workorder.setting(name, NULL)), for submit() (intake.c) and dedup
 * (dedup.c).  The string belongs to the cache: copy it before the next
 * lookup.
 */
const char *
workorder_setting(const char *name)
{
	ref_ensure();
	return ref_setting(name);
}

/*
 * workorder_channel_is_active says whether an active channel has this code
 * (workorder.channel_is_active()).
 */
bool
workorder_channel_is_active(const char *code)
{
	RefEntry   *e;

	ref_ensure();
	e = code ? ref_find('C', code, NULL) : NULL;
	return e != NULL && e->flag;
}

/*
 * workorder_channel_exists says whether a channel has this code, active or
 * not: what an error about an unusable channel tells apart.
 */
bool
workorder_channel_exists(const char *code)
{
	ref_ensure();
	return code != NULL && ref_find('C', code, NULL) != NULL;
}

/*
 * workorder_map_category returns the catalogue code of a channel's category
 * code (workorder.map_category()), or NULL.  The string belongs to the cache.
 */
const char *
workorder_map_category(const char *channel, const char *category)
{
	RefEntry   *e;
	CategoryInfo *c;

	ref_ensure();
	e = (channel && category) ? ref_find('M', channel, category) : NULL;
	if (e != NULL && e->value != NULL)
		return e->value;
	c = category ? ref_category(category) : NULL;
	return c ? c->code : NULL;
}

/* workorder_unit_is_active says whether an active unit has this code. */
bool
workorder_unit_is_active(const char *code)
{
	ref_ensure();
	return code != NULL && ref_find('U', code, NULL) != NULL;
}

/*
 * workorder_dispatch_center returns the unit that receives what cannot be
 * routed (workorder.dispatch_center()), or NULL.  The string belongs to the
 * cache.  The setting dispatch_unit counts only when it names an active unit:
 * every order records its dispatching unit, so a mistyped code failed every
 * submit() on the foreign key, and an inactive one received orders; either
 * way the district's own center takes them, as without the setting.
 */
const char *
workorder_dispatch_center(void)
{
	const char *unit;

	ref_ensure();
	unit = ref_setting("dispatch_unit");
	return unit && workorder_unit_is_active(unit) ? unit : ref_dispatch_center;
}

/*
 * reference_cache_invalidate is the statement trigger on every cached table.
 * It registers a relcache invalidation of the changed table, which every
 * backend's ref_relcache_callback sees: at once in this backend (at the next
 * command), at commit in the others.
 */
Datum
reference_cache_invalidate(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("reference_cache_invalidate() was not called as a trigger")));
	CacheInvalidateRelcache(trigdata->tg_relation);
	PG_RETURN_POINTER(NULL);
}

/*
 * reference_setting is workorder.setting(setting_name, default_value): the
 * value of the setting's row, or default_value when it has none.
 */
Datum
reference_setting(PG_FUNCTION_ARGS)
{
	char	   *name = ref_arg(fcinfo, 0);
	const char *value;

	ref_ensure();
	value = name ? ref_setting(name) : NULL;
	if (value != NULL)
		PG_RETURN_TEXT_P(cstring_to_text(value));
	if (PG_ARGISNULL(1))
		PG_RETURN_NULL();
	PG_RETURN_DATUM(PG_GETARG_DATUM(1));
}

/*
 * reference_channel_is_active is workorder.channel_is_active(code): whether
 * an active channel has this code.
 */
Datum
reference_channel_is_active(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(workorder_channel_is_active(ref_arg(fcinfo, 0)));
}

/*
 * reference_map_category is workorder.map_category(channel, category): the
 * channel's own mapping of the code, else the code itself when it is a
 * catalogue code, else NULL.
 */
Datum
reference_map_category(PG_FUNCTION_ARGS)
{
	const char *code = workorder_map_category(ref_arg(fcinfo, 0), ref_arg(fcinfo, 1));

	if (code == NULL)
		PG_RETURN_NULL();
	PG_RETURN_TEXT_P(cstring_to_text(code));
}

/*
 * reference_category_settings is workorder.category_settings(category): the
 * row of category_effective (code, family, path, handling_level,
 * department_kind, sla_policy, dedup_radius_m, dedup_window), all NULL when
 * the category does not exist.
 */
Datum
reference_category_settings(PG_FUNCTION_ARGS)
{
	char	   *code = ref_arg(fcinfo, 0);
	TupleDesc	desc;
	Datum		values[8];
	bool		nulls[8];
	CategoryInfo *c;

	if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "category_settings must return a row");
	desc = BlessTupleDesc(desc);
	ref_ensure();
	c = ref_category(code);
	memset(nulls, true, sizeof(nulls));
	if (c != NULL)
	{
		values[0] = CStringGetTextDatum(c->code);
		nulls[0] = false;
		values[1] = CStringGetTextDatum(c->family);
		nulls[1] = false;
		values[2] = datumCopy(c->path, false, -1);
		nulls[2] = false;
		if (OidIsValid(c->handling_level))
		{
			values[3] = ObjectIdGetDatum(c->handling_level);
			nulls[3] = false;
		}
		if (c->department_kind)
		{
			values[4] = CStringGetTextDatum(c->department_kind);
			nulls[4] = false;
		}
		if (c->sla_policy)
		{
			values[5] = CStringGetTextDatum(c->sla_policy);
			nulls[5] = false;
		}
		if (c->has_dedup_radius)
		{
			values[6] = Float8GetDatum(c->dedup_radius_m);
			nulls[6] = false;
		}
		if (c->dedup_window)
		{
			Interval   *w = palloc(sizeof(Interval));

			memcpy(w, c->dedup_window, sizeof(Interval));
			values[7] = IntervalPGetDatum(w);
			nulls[7] = false;
		}
	}
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(desc, values, nulls)));
}

/*
 * workorder_resolve_unit returns the active unit that serves an area chain
 * at a level for a target, or NULL: what workorder.resolve_unit() returns
 * (see reference_resolve_unit).  level is InvalidOid and chain NULL for
 * SQL NULLs.  The string belongs to the cache.
 */
const char *
workorder_resolve_unit(RouteTarget target, const char *kind, Oid level, ArrayType *chain,
					   const char *fixed_unit)
{
	int			position = -1;
	int			cardinality = -1;
	int			depth;
	char	   *area;
	RefEntry   *e;
	bool		isnull;
	Datum		v;

	ref_ensure();
	if (target == ROUTE_TARGET_UNIT)
	{
		e = ref_find('U', fixed_unit, NULL);
		return e ? e->value : NULL;
	}
	if (OidIsValid(level))
	{
		int			i;

		for (i = 0; i < ref_nlevels; i++)
			if (ref_levels[i] == level)
				position = i + 1;
	}
	if (chain != NULL)
		cardinality = ArrayGetNItems(ARR_NDIM(chain), ARR_DIMS(chain));
	/* LEAST(position, cardinality), NULLs ignored */
	if (position < 0 && cardinality < 0)
		return NULL;
	depth = (position < 0) ? cardinality : (cardinality < 0) ? position : Min(position, cardinality);
	if (depth < 1 || chain == NULL || ARR_NDIM(chain) != 1)
		return NULL;
	/* area_chain[depth], with the array's own subscripts */
	v = array_get_element(PointerGetDatum(chain), 1, &depth, -1, -1, false, TYPALIGN_INT, &isnull);
	if (isnull)
		return NULL;
	area = TextDatumGetCString(v);
	if (target == ROUTE_TARGET_CENTER)
		e = ref_find('c', area, NULL);
	else
		e = kind ? ref_find('d', kind, area) : NULL;
	return e ? e->value : NULL;
}

/*
 * workorder_route_rules returns the active routing rules in (position, id)
 * order, and their number in *n.  They belong to the cache.
 */
const RouteRule *
workorder_route_rules(int *n)
{
	ref_ensure();
	*n = ref_nrules;
	return ref_rules;
}

/*
 * workorder_category returns the row of category_effective of a code, or
 * NULL.  It belongs to the cache.
 */
const CategoryInfo *
workorder_category(const char *code)
{
	ref_ensure();
	return ref_category(code);
}

/*
 * reference_resolve_unit is workorder.resolve_unit(target, department_kind,
 * level, area_chain, fixed_unit): the active unit that serves the area chain
 * at the level for the target, or NULL.  As in the SQL it replaces: the
 * depth is LEAST(the level's position, the chain's cardinality), NULLs
 * ignored; target unit is the active fixed unit; center is the active
 * center of chain[depth]; anything else (a NULL target too) is the active
 * non-center unit of the department kind in chain[depth].
 */
Datum
reference_resolve_unit(PG_FUNCTION_ARGS)
{
	RouteTarget target = ROUTE_TARGET_DEPARTMENT;
	const char *unit;

	ref_ensure();
	if (!PG_ARGISNULL(0) && PG_GETARG_OID(0) == ref_target_unit)
		target = ROUTE_TARGET_UNIT;
	else if (!PG_ARGISNULL(0) && PG_GETARG_OID(0) == ref_target_center)
		target = ROUTE_TARGET_CENTER;
	unit = workorder_resolve_unit(target, ref_arg(fcinfo, 1),
								  PG_ARGISNULL(2) ? InvalidOid : PG_GETARG_OID(2),
								  PG_ARGISNULL(3) ? NULL : PG_GETARG_ARRAYTYPE_P(3),
								  ref_arg(fcinfo, 4));
	if (unit == NULL)
		PG_RETURN_NULL();
	PG_RETURN_TEXT_P(cstring_to_text(unit));
}

/*
 * reference_dispatch_center is workorder.dispatch_center(): the setting
 * dispatch_unit, else the first (by code) active center of a root area in
 * jurisdiction, else NULL.
 */
Datum
reference_dispatch_center(PG_FUNCTION_ARGS)
{
	const char *unit;

	(void) fcinfo;
	unit = workorder_dispatch_center();
	if (unit == NULL)
		PG_RETURN_NULL();
	PG_RETURN_TEXT_P(cstring_to_text(unit));
}

/*
 * workorder_choose_sla_policy returns the SLA policy an order gets, or NULL:
 * the first of these that names an existing policy: the routing rule's
 * sla_policy; the priority's (its row in sla_priority_policies, or without a
 * row 'urgent' for urgent priority); the category's; 'standard'.  NULL
 * arguments are passed as a NULL rule_id / InvalidOid / NULL.  The string
 * belongs to the cache.
 */
const char *
workorder_choose_sla_policy(const int64 *rule_id, Oid priority, const char *category)
{
	const char *candidate = NULL;
	RefEntry   *e;
	CategoryInfo *c;

	ref_ensure();
	if (rule_id != NULL)
	{
		char		id[32];

		snprintf(id, sizeof(id), INT64_FORMAT, *rule_id);
		e = ref_find('R', id, NULL);
		candidate = e ? e->value : NULL;
		if (candidate && ref_policy_exists(candidate))
			return candidate;
	}
	candidate = NULL;
	if (OidIsValid(priority))
	{
		char		key[16];

		snprintf(key, sizeof(key), "%u", priority);
		e = ref_find('Q', key, NULL);
		if (e != NULL)
			candidate = e->value;
		else if (priority == ref_priority_urgent)
			candidate = "urgent";
		if (candidate && ref_policy_exists(candidate))
			return candidate;
	}
	c = ref_category(category);
	if (c != NULL && c->sla_policy && ref_policy_exists(c->sla_policy))
		return c->sla_policy;
	if (ref_policy_exists("standard"))
		return "standard";
	return NULL;
}

/*
 * workorder_sla_policy_info returns the SLA policy of this name, or NULL.
 * It belongs to the cache.
 */
const SlaPolicyInfo *
workorder_sla_policy_info(const char *name)
{
	RefEntry   *e;

	ref_ensure();
	e = ref_find('P', name, NULL);
	return e ? e->policy : NULL;
}

/*
 * workorder_sla_next_escalation_step finds the first step of policy's
 * escalation chain after step and writes its delay to *after, and the policy
 * (NULL: none of that name) to *info, whose clock the step counts on.  The
 * chains are cached only where the table's changes reach the cache (the
 * trigger sla_escalation_steps_reference_cache, from 0.5 on): in a database
 * whose extension is not updated yet it says SLA_STEP_UNCACHED, and the
 * caller reads the table.
 */
SlaStepLookup
workorder_sla_next_escalation_step(const char *policy, int32 step, Interval *after, const SlaPolicyInfo **info)
{
	const SlaPolicyInfo *p = workorder_sla_policy_info(policy);
	int			i;

	*info = p;
	if (!ref_steps_cached)
		return SLA_STEP_UNCACHED;
	if (p == NULL)
		return SLA_STEP_NONE;
	for (i = 0; i < p->nsteps; i++)
		if (p->steps[i].step > step)
		{
			*after = p->steps[i].after;
			return SLA_STEP_FOUND;
		}
	return SLA_STEP_NONE;
}

/*
 * reference_choose_sla_policy is workorder.choose_sla_policy(rule_id,
 * priority, category): see workorder_choose_sla_policy.
 */
Datum
reference_choose_sla_policy(PG_FUNCTION_ARGS)
{
	int64		rule_id = PG_ARGISNULL(0) ? 0 : PG_GETARG_INT64(0);
	const char *policy = workorder_choose_sla_policy(PG_ARGISNULL(0) ? NULL : &rule_id,
													 PG_ARGISNULL(1) ? InvalidOid : PG_GETARG_OID(1),
													 PG_ARGISNULL(2) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(2)));

	if (policy == NULL)
		PG_RETURN_NULL();
	PG_RETURN_TEXT_P(cstring_to_text(policy));
}

/*
 * workorder_family_categories returns the categories of category_effective
 * whose family is this one (a list of CategoryInfo *), NIL for none or a NULL
 * family.  They belong to the cache.
 */
List *
workorder_family_categories(const char *family)
{
	RefEntry   *e;

	ref_ensure();
	e = ref_find('F', family, NULL);
	return e ? e->members : NIL;
}

/*
 * workorder_dedup_rule returns the row of dedup_rules of a category, or NULL.
 * It belongs to the cache.
 */
const DedupRuleInfo *
workorder_dedup_rule(const char *code)
{
	RefEntry   *e;

	ref_ensure();
	e = ref_find('D', code, NULL);
	return e ? e->rule : NULL;
}

/*
 * workorder_reference_version returns a number that changes whenever the
 * cache is loaded again (after a change to one of its tables), so that what
 * another file derives from the cache (dedup.c's policies) knows when to
 * derive it again.  It makes sure the cache is current first.
 */
uint64
workorder_reference_version(void)
{
	ref_ensure();
	return ref_loads;
}
