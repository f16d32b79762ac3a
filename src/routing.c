/*-------------------------------------------------------------------------
 *
 * routing.c
 *	  Routing in C: workorder.route_steps(), the one implementation behind
 *	  routing at intake (submit()) and explain_route().
 *
 * The rules are those described in sql/install/55_routing.sql (and README),
 * and this is the plpgsql it replaces (in sql/workorder--0.1.sql), step for
 * step and message for message: every active
 * routing rule in (position, id) order, whether it matched and why not,
 * which unit it resolved to; then the category's default.  The first step
 * that resolves to a unit is chosen.
 *
 * The rules, the catalogue and the units come from the reference cache
 * (refcache.c), so evaluating the rules reads no table: the plpgsql version
 * ran a query for the rules and one for each unit it resolved, and made
 * three or four nested plpgsql calls (callgrind: about 0.2 million
 * instructions a submit).
 *
 * Where the plpgsql formatted a NULL with %s it printed nothing, and where it
 * wrote COALESCE(x, 'NULL') it printed NULL; both are kept.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_collation.h"
#include "catalog/pg_type.h"
#include "fmgr.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"

#include "workorder.h"

/* The columns of route_steps' rows. */
#define ROUTE_STEP_COLUMNS	10

static const char *enum_label(Oid value);
static const char *chain_last(ArrayType *chain);
static bool chain_contains(ArrayType *chain, const char *area);
static bool path_contains(const CategoryInfo *cat, const char *code);
static bool description_has_keyword(const RouteRule *r, Datum description_lower);
static RouteTarget target_of(const char *label);
static char *copy_string(const char *s);
static bool rule_mismatch(const RouteRule *r, const CategoryInfo *cat, const char *category, const char *channel,
						  ArrayType *chain, Oid priority, Datum description_lower, StringInfo why);
static const RouteRule *copy_rules(const RouteRule *rules, int n);
static const CategoryInfo *copy_category(const CategoryInfo *cat);
static Datum active_units(Datum units, const char *main_unit);

PG_FUNCTION_INFO_V1(routing_route_steps);

/* enum_label returns the label of an enum value ("" for NULL, as %s prints it). */
static const char *
enum_label(Oid value)
{
	if (!OidIsValid(value))
		return "";
	return DatumGetCString(DirectFunctionCall1(enum_out, ObjectIdGetDatum(value)));
}

/*
 * chain_last returns COALESCE(area_chain[cardinality(area_chain)], 'NULL'):
 * the deepest area of the chain, for messages.
 */
static const char *
chain_last(ArrayType *chain)
{
	int			n;
	bool		isnull;
	Datum		v;

	if (chain == NULL || ARR_NDIM(chain) != 1)
		return "NULL";
	n = ArrayGetNItems(ARR_NDIM(chain), ARR_DIMS(chain));
	v = array_get_element(PointerGetDatum(chain), 1, &n, -1, -1, false, TYPALIGN_INT, &isnull);
	return isnull ? "NULL" : TextDatumGetCString(v);
}

/* chain_contains says whether area = ANY (COALESCE(area_chain, '{}')). */
static bool
chain_contains(ArrayType *chain, const char *area)
{
	Datum	   *elems;
	bool	   *nulls;
	int			n,
				i;

	if (chain == NULL)
		return false;
	deconstruct_array(chain, TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, &n);
	for (i = 0; i < n; i++)
		if (!nulls[i] && strcmp(TextDatumGetCString(elems[i]), area) == 0)
			return true;
	return false;
}

/* path_contains says whether code = ANY (COALESCE(cat.path, '{}')). */
static bool
path_contains(const CategoryInfo *cat, const char *code)
{
	int			i;

	if (cat == NULL)
		return false;
	for (i = 0; i < cat->path_length; i++)
		if (strcmp(TextDatumGetCString(cat->path_elems[i]), code) == 0)
			return true;
	return false;
}

/*
 * description_has_keyword says whether the description contains one of the
 * rule's keywords (strpos(...) > 0), both lower-cased with their full-width
 * letters and digits made ASCII (similarity_fold_width).
 */
static bool
description_has_keyword(const RouteRule *r, Datum description_lower)
{
	int			k;

	for (k = 0; k < r->nkeywords; k++)
		if (DatumGetInt32(DirectFunctionCall2Coll(textpos, DEFAULT_COLLATION_OID, description_lower,
												  r->keywords[k])) > 0)
			return true;
	return false;
}

/* target_of returns the route target of a label of workorder.route_target. */
static RouteTarget
target_of(const char *label)
{
	if (strcmp(label, "unit") == 0)
		return ROUTE_TARGET_UNIT;
	if (strcmp(label, "center") == 0)
		return ROUTE_TARGET_CENTER;
	return ROUTE_TARGET_DEPARTMENT;
}

/* copy_string returns a copy of a string, or NULL. */
static char *
copy_string(const char *s)
{
	return s ? pstrdup(s) : NULL;
}

/*
 * copy_rules returns a copy of the cached rules: the cache may be reloaded
 * while the rows are made (a catalog lookup can take in invalidations).
 */
static const RouteRule *
copy_rules(const RouteRule *rules, int n)
{
	RouteRule  *copy = palloc(sizeof(RouteRule) * Max(n, 1));
	int			i,
				k;

	for (i = 0; i < n; i++)
	{
		copy[i] = rules[i];
		copy[i].name = copy_string(rules[i].name);
		copy[i].category_code = copy_string(rules[i].category_code);
		copy[i].channel_code = copy_string(rules[i].channel_code);
		copy[i].area_code = copy_string(rules[i].area_code);
		copy[i].keywords_text = copy_string(rules[i].keywords_text);
		copy[i].target = copy_string(rules[i].target);
		copy[i].department_kind = copy_string(rules[i].department_kind);
		copy[i].unit_code = copy_string(rules[i].unit_code);
		copy[i].sla_policy = copy_string(rules[i].sla_policy);
		copy[i].assisting_units = PointerGetDatum(DatumGetArrayTypePCopy(rules[i].assisting_units));
		if (rules[i].nkeywords > 0)
		{
			copy[i].keywords = palloc(sizeof(Datum) * rules[i].nkeywords);
			for (k = 0; k < rules[i].nkeywords; k++)
				copy[i].keywords[k] = PointerGetDatum(DatumGetTextPCopy(rules[i].keywords[k]));
		}
	}
	return copy;
}

/* copy_category returns a copy of a cached category (see copy_rules), or NULL. */
static const CategoryInfo *
copy_category(const CategoryInfo *cat)
{
	CategoryInfo *copy;
	int			i;

	if (cat == NULL)
		return NULL;
	copy = palloc(sizeof(CategoryInfo));
	*copy = *cat;
	copy->code = copy_string(cat->code);
	copy->family = copy_string(cat->family);
	copy->department_kind = copy_string(cat->department_kind);
	copy->sla_policy = copy_string(cat->sla_policy);
	copy->path = (Datum) 0;
	copy->dedup_window = NULL;
	copy->path_elems = palloc(sizeof(Datum) * Max(cat->path_length, 1));
	for (i = 0; i < cat->path_length; i++)
		copy->path_elems[i] = PointerGetDatum(DatumGetTextPCopy(cat->path_elems[i]));
	return copy;
}

/*
 * rule_mismatch says whether a rule does not match a report, and why (into
 * why, unless it is NULL: formatting the reasons, with their enum labels, is
 * for explain_route, not for routing at intake).
 */
static bool
rule_mismatch(const RouteRule *r, const CategoryInfo *cat, const char *category, const char *channel,
			  ArrayType *chain, Oid priority, Datum description_lower, StringInfo why)
{
	if (r->category_code != NULL && !path_contains(cat, r->category_code))
	{
		if (why != NULL)
			appendStringInfo(why, "category %s is not under %s", category ? category : "NULL", r->category_code);
		return true;
	}
	if (r->channel_code != NULL && (channel == NULL || strcmp(r->channel_code, channel) != 0))
	{
		if (why != NULL)
			appendStringInfo(why, "channel %s is not %s", channel ? channel : "", r->channel_code);
		return true;
	}
	if (r->area_code != NULL && !chain_contains(chain, r->area_code))
	{
		if (why != NULL)
			appendStringInfo(why, "area %s is not within %s", chain_last(chain), r->area_code);
		return true;
	}
	if (OidIsValid(r->priority) && r->priority != priority)
	{
		if (why != NULL)
			appendStringInfo(why, "priority %s is not %s", enum_label(priority), enum_label(r->priority));
		return true;
	}
	if (r->nkeywords >= 0 &&
		(description_lower == (Datum) 0 || !description_has_keyword(r, description_lower)))
	{
		if (why != NULL)
			appendStringInfo(why, "the description contains none of %s", r->keywords_text);
		return true;
	}
	return false;
}

/*
 * active_units returns a rule's assisting units that are active units, in the
 * rule's order, each once, and not the main unit (NULL: none yet).
 * routing_rules is not checked against units when it is written (a restore
 * may load it before them), and an order must not be given to an unknown or
 * deactivated unit to assist, nor to its own main unit, nor to one unit
 * twice: dispatch() refuses all of them.
 */
static Datum
active_units(Datum units, const char *main_unit)
{
	ArrayType  *array = DatumGetArrayTypeP(units);
	Datum	   *codes;
	bool	   *nulls;
	int			n;
	int			kept = 0;

	deconstruct_array(array, TEXTOID, -1, false, TYPALIGN_INT, &codes, &nulls, &n);
	for (int i = 0; i < n; i++)
	{
		char	   *code;
		bool		seen = false;

		if (nulls[i])
			continue;
		code = TextDatumGetCString(codes[i]);
		if ((main_unit != NULL && strcmp(code, main_unit) == 0) || !workorder_unit_is_active(code))
			continue;
		for (int j = 0; j < kept && !seen; j++)
			seen = (strcmp(code, TextDatumGetCString(codes[j])) == 0);
		if (!seen)
			codes[kept++] = codes[i];
	}
	if (kept == n)
		return units;
	return PointerGetDatum(construct_array(codes, kept, TEXTOID, -1, false, TYPALIGN_INT));
}

/*
 * workorder_route_steps evaluates the routing of a report: a RouteStep for
 * every active rule, in order, and one for the category's default; the
 * first step that resolves to a unit is chosen.  With stop_at_choice it
 * stops at the chosen step and returns only that one (NIL when none is
 * chosen): what submit() needs, without the steps after it and without the
 * rules' reasons (a rule's step then has reason NULL).
 */
List *
workorder_route_steps(const char *category, const char *channel, ArrayType *chain, Oid priority,
					  text *description, bool stop_at_choice)
{
	Datum		description_lower = (Datum) 0;
	const CategoryInfo *cat;
	const RouteRule *rules;
	int			nrules;
	bool		decided = false;
	int			step = 0;
	int			i;
	List	   *steps = NIL;
	StringInfoData reason;
	StringInfo	why = stop_at_choice ? NULL : &reason;	/* submit() reads no rule's reason */

	if (description != NULL)
		description_lower = DirectFunctionCall1Coll(lower, DEFAULT_COLLATION_OID,
													PointerGetDatum(similarity_fold_width(description)));
	cat = copy_category(workorder_category(category));
	rules = workorder_route_rules(&nrules);
	rules = copy_rules(rules, nrules);

	for (i = 0; i < nrules; i++)
	{
		const RouteRule *r = &rules[i];
		RouteStep  *s = palloc0(sizeof(RouteStep));

		step++;
		if (why != NULL)
			initStringInfo(why);
		s->step = step;
		s->rule_id = r->id;
		s->has_rule = true;
		s->rule_name = r->name;
		if (!rule_mismatch(r, cat, category, channel, chain, priority, description_lower, why))
		{
			RouteTarget target = target_of(r->target);
			const char *kind;

			s->matched = true;
			s->handling_level = OidIsValid(r->handling_level) ? r->handling_level :
				(cat ? cat->handling_level : InvalidOid);
			kind = r->department_kind ? r->department_kind : (cat ? cat->department_kind : NULL);
			/* The policy the order gets, for explaining (intake asks sla_intake). */
			if (!stop_at_choice)
				s->sla_policy = copy_string(workorder_choose_sla_policy(&r->id, priority, category));
			if (target != ROUTE_TARGET_UNIT && !OidIsValid(s->handling_level))
			{
				if (why != NULL)
					appendStringInfoString(why, "matched, but neither the rule nor the category sets a handling level");
			}
			else
			{
				s->unit_code = copy_string(workorder_resolve_unit(target, kind, s->handling_level, chain,
																  r->unit_code));
				if (s->unit_code == NULL)
				{
					/* A fixed unit is named: say it, not the area it would serve. */
					if (why != NULL && target == ROUTE_TARGET_UNIT)
						appendStringInfo(why, "matched, but its unit %s is not an active unit",
										 r->unit_code ? r->unit_code : "NULL");
					else if (why != NULL)
						appendStringInfo(why, "matched, but no active %s%s serves area %s at %s level",
										 r->target,
										 target == ROUTE_TARGET_DEPARTMENT ?
										 psprintf(" of kind %s", kind ? kind : "NULL") : "",
										 chain_last(chain), enum_label(s->handling_level));
				}
				else
				{
					s->chosen = !decided;
					decided = true;
					if (why != NULL)
						appendStringInfoString(why, s->chosen ? "matched" : "matched, but an earlier rule was chosen");
				}
			}
		}
		if (s->matched)
			s->assisting_units = active_units(r->assisting_units, s->unit_code);
		s->reason = why != NULL ? why->data : NULL;
		if (stop_at_choice)
		{
			if (s->chosen)
				return list_make1(s);
			pfree(s);
			continue;
		}
		steps = lappend(steps, s);
	}

	/*
	 * The category's default: its level, and at that level the department of
	 * its kind (none at village level) or else the center.
	 */
	{
		RouteStep  *s = palloc0(sizeof(RouteStep));
		const char *kind = NULL;

		step++;
		initStringInfo(&reason);
		s->step = step;
		s->rule_name = "category default";
		s->matched = (cat != NULL);
		s->handling_level = cat ? cat->handling_level : InvalidOid;
		s->assisting_units = PointerGetDatum(construct_empty_array(TEXTOID));
		/* As for a rule: for explaining only (intake asks sla_intake itself). */
		if (!stop_at_choice)
			s->sla_policy = copy_string(workorder_choose_sla_policy(NULL, priority, category));
		if (cat == NULL)
			appendStringInfo(&reason, "category %s is not in the catalogue", category ? category : "NULL");
		else if (!OidIsValid(cat->handling_level))
			appendStringInfo(&reason, "category %s has no handling level", category);
		else
		{
			const char *level = enum_label(cat->handling_level);

			if (strcmp(level, "village") != 0 && cat->department_kind != NULL)
			{
				s->unit_code = copy_string(workorder_resolve_unit(ROUTE_TARGET_DEPARTMENT, cat->department_kind,
																  cat->handling_level, chain, NULL));
				kind = s->unit_code == NULL ? psprintf("center (no %s unit serves it)", cat->department_kind)
					: psprintf("department kind %s", cat->department_kind);
			}
			if (s->unit_code == NULL)
			{
				s->unit_code = copy_string(workorder_resolve_unit(ROUTE_TARGET_CENTER, NULL, cat->handling_level,
																  chain, NULL));
				if (kind == NULL)
					kind = "center";
			}
			if (s->unit_code == NULL)
				appendStringInfo(&reason, "no active unit serves area %s at %s level", chain_last(chain), level);
			else
			{
				s->chosen = !decided;
				decided = true;
				if (s->chosen)
					appendStringInfo(&reason, "%s level, %s", level, kind);
				else
					appendStringInfoString(&reason, "not needed: a rule was chosen");
			}
		}
		s->reason = reason.data;
		if (stop_at_choice)
			return s->chosen ? list_make1(s) : NIL;
		steps = lappend(steps, s);
	}
	return steps;
}

/*
 * routing_route_steps is workorder.route_steps(category, channel,
 * area_chain, priority, description): the rows (step, rule_id, rule_name,
 * matched, chosen, reason, handling_level, unit_code, assisting_units,
 * sla_policy) of every active rule, in order, and of the category's default.
 */
Datum
routing_route_steps(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	List	   *steps;
	ListCell   *lc;

	InitMaterializedSRF(fcinfo, 0);
	steps = workorder_route_steps(PG_ARGISNULL(0) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(0)),
								  PG_ARGISNULL(1) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(1)),
								  PG_ARGISNULL(2) ? NULL : PG_GETARG_ARRAYTYPE_P(2),
								  PG_ARGISNULL(3) ? InvalidOid : PG_GETARG_OID(3),
								  PG_ARGISNULL(4) ? NULL : PG_GETARG_TEXT_PP(4),
								  false);
	foreach(lc, steps)
	{
		RouteStep  *s = (RouteStep *) lfirst(lc);
		Datum		values[ROUTE_STEP_COLUMNS];
		bool		nulls[ROUTE_STEP_COLUMNS];

		memset(nulls, false, sizeof(nulls));
		values[0] = Int32GetDatum(s->step);
		values[1] = Int64GetDatum(s->rule_id);
		nulls[1] = !s->has_rule;
		values[2] = CStringGetTextDatum(s->rule_name);
		values[3] = BoolGetDatum(s->matched);
		values[4] = BoolGetDatum(s->chosen);
		values[5] = CStringGetTextDatum(s->reason);
		values[6] = ObjectIdGetDatum(s->handling_level);
		nulls[6] = !OidIsValid(s->handling_level);
		values[7] = s->unit_code ? CStringGetTextDatum(s->unit_code) : (Datum) 0;
		nulls[7] = (s->unit_code == NULL);
		values[8] = s->assisting_units;
		nulls[8] = (s->assisting_units == (Datum) 0);
		values[9] = s->sla_policy ? CStringGetTextDatum(s->sla_policy) : (Datum) 0;
		nulls[9] = (s->sla_policy == NULL);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}
