/*-------------------------------------------------------------------------
 *
 * similarity.c
 *	  Text similarity for dedup: how alike two reports' descriptions, or two
 *	  addresses, are, for Chinese, English and mixed text.
 *
 * Chinese is not split into words: both texts are normalised and then
 * compared as multisets of characters and of character bigrams.
 *
 * Normalisation, in one pass over the code points (the text is read as
 * UTF-8; a database in another encoding is converted first):
 *   - full-width forms (U+FF01..U+FF5E) become their ASCII counterparts and
 *     the ideographic space U+3000 a space;
 *   - ASCII letters are folded to lower case (so are full-width ones, after
 *     the step above);
 *   - whitespace, control characters, ASCII punctuation and symbols, Latin-1
 *     punctuation, General Punctuation (U+2000..U+206F), CJK symbols and
 *     punctuation (U+3000..U+303F), CJK compatibility forms (U+FE30..U+FE4F),
 *     small forms (U+FE50..U+FE6F) and the half-width CJK punctuation
 *     (U+FF5F..U+FF65) are dropped;
 *   - a run of ASCII digits becomes one symbol.  For descriptions every run is
 *     the same symbol ("#"): times, phone numbers and counts differ between
 *     reports of one event.  For addresses a run keeps its value (leading
 *     zeros dropped): "12号" and "15号" are different doors;
 *   - for descriptions only, common fillers are dropped: words that say how a
 *     report was made rather than what it is about (您好, 请问, 市民来电反映,
 *     巡查发现, 检测到, 告警, ...; the list is filler_words below, longest
 *     first).  They would otherwise make every hotline call look like every
 *     other, and a camera's alert unlike a citizen's words for the same thing.
 *
 * The score is in [0, 1]:
 *   text_similarity     the mean of the Dice coefficients of the two
 *                       character multisets and of the two bigram multisets.
 *                       Characters alone catch reordered phrasings (井盖缺失 /
 *                       缺了井盖); bigrams reward the same wording.
 *   text_similarity(a, b, ignore)
 *                       the same with the characters and bigrams of ignore left
 *                       out of both (dedup passes the addresses: what happened,
 *                       not where).
 *   address_similarity  the mean of that score and the overlap coefficient
 *                       (|A∩B| / min(|A|, |B|)) of the bigram multisets: one
 *                       address is often a shorter form of the other
 *                       (桂城东二社区 / 南海区桂城街道东二社区).
 * Two texts that are equal after normalisation score 1, also when both
 * normalise to nothing (e.g. two greetings); an empty one against a non-empty
 * one scores 0.  Both functions are symmetric.  Only the first
 * SIMILARITY_MAX_SYMBOLS normalised symbols of each text are compared, which
 * bounds the cost of a huge input (a description has at most 4000
 * characters).
 *
 * workorder.similarity_normalize() shows the normalised form, to explain a
 * score.  dedup.c calls similarity_text_ignoring() and similarity_address()
 * directly, the same code as the SQL functions.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "mb/pg_wchar.h"
#include "utils/builtins.h"
#include "lib/stringinfo.h"
#include "utils/memutils.h"

#include "workorder.h"

/* The most normalised symbols of one text that are compared. */
#define SIMILARITY_MAX_SYMBOLS	10000

/*
 * Symbols above the Unicode range stand for digit runs: DIGITS_SYMBOL for any
 * run (descriptions), DIGITS_SYMBOL + 1 + value for an address's run whose
 * value fits in DIGITS_VALUE_MASK, and a hash of the digits beyond that.
 */
#define DIGITS_SYMBOL			((uint32) 0x200000)
#define DIGITS_VALUE_MASK		((uint32) 0x0FFFFF)

/* What a text is normalised for. */
typedef enum SimilarityMode
{
	SIMILARITY_TEXT,			/* a description: fillers out, digit runs alike */
	SIMILARITY_ADDRESS			/* an address: digit runs keep their value */
} SimilarityMode;

/* A normalised text: its symbols (code points, or digit-run symbols). */
typedef struct Symbols
{
	uint32	   *symbol;
	int			count;
} Symbols;

/*
 * filler_words are dropped from descriptions, longest first so that the
 * longest filler at a position wins.  They are how hotline operators, grid
 * inspectors and video-AI platforms frame a report, and polite words: none of
 * them says what or where the problem is.
 */
static const char *const filler_words[] = {
	"市民来电反映", "市民来电反应", "来电人反映", "市民来电", "来电反映", "群众反映", "市民反映",
	"经巡查发现", "网格员巡查", "巡查中发现", "巡查发现", "现场发现", "网格员", "视频监控",
	"智能识别", "系统检测", "检测到", "识别到", "监测到", "抓拍到", "告警", "报警信息",
	"您好", "你好", "请问", "麻烦", "谢谢", "希望", "尽快", "有关部门", "相关部门",
	"反映", "反应", "来电", "市民", "那个", "这个", "就是", "然后", "一下", "我要", "我想",
	"处理", "解决", "存在", "情况", "目前", "现在",
	"的", "了", "啊", "吧", "呢", "吗", "呀", "哦", "嗯",
};
#define FILLER_COUNT lengthof(filler_words)

/* The fillers decoded to code points, once per backend. */
static pg_wchar *filler_symbols[FILLER_COUNT];
static int	filler_length[FILLER_COUNT];
static bool filler_ready = false;

/* Which code points of the BMP begin a filler: most characters skip the list. */
static uint8 filler_starts[0x10000 / 8];
#define FILLER_MAY_START(c) \
	((c) < 0x10000 && (filler_starts[(c) >> 3] & (1 << ((c) & 7))) != 0)

/*
 * A text compared: its character and bigram multisets, each sorted.  The first
 * argument's profile is kept across calls of one call site (fn_extra), since
 * dedup scores one new report against each candidate in turn.
 */
typedef struct Profile
{
	int			count;			/* normalised symbols */
	uint64	   *unigrams;
	int			nunigrams;
	uint64	   *bigrams;
	int			nbigrams;
} Profile;

/* The first argument's profile, cached for its call site. */
typedef struct ProfileCache
{
	SimilarityMode mode;
	char	   *raw;			/* the argument's bytes, NULL until filled */
	int			rawlen;
	Profile		profile;
} ProfileCache;

static void filler_prepare(void);
static pg_wchar *utf8_code_points(const char *utf8, int bytes, int *count);
static bool is_dropped(pg_wchar c);
static pg_wchar fold(pg_wchar c);
static uint32 digit_run_symbol(const pg_wchar *cp, int start, int end, SimilarityMode mode);
static Symbols normalize_text(text *t, SimilarityMode mode);
static int	compare_uint64(const void *a, const void *b);
static void sort_grams(uint64 *g, int n);
static int	common_count(uint64 *a, int na, uint64 *b, int nb);
static uint64 *grams(const Symbols *s, int n, int *count);
static double dice(int common, int na, int nb);
static Profile profile_make(text *t, SimilarityMode mode);
static Profile profile_cached(void **slot, MemoryContext cxt, text *t, SimilarityMode mode);
static Profile profile_first(FunctionCallInfo fcinfo, SimilarityMode mode);
static double text_score_ignoring(const Profile *a, text *b, text *ignore);
static double address_score(const Profile *a, text *b);
static double profile_score(const Profile *a, const Profile *b, double *bigram_overlap);
static uint64 *grams_without(const uint64 *g, int n, const uint64 *ignore, int nignore, int *count);
static Profile profile_without(const Profile *p, const Profile *ignore);

PG_FUNCTION_INFO_V1(workorder_text_similarity);
PG_FUNCTION_INFO_V1(workorder_address_similarity);
PG_FUNCTION_INFO_V1(workorder_text_similarity_ignoring);
PG_FUNCTION_INFO_V1(workorder_similarity_normalize);

/*
 * utf8_code_points decodes bytes of UTF-8 into a palloc'd array of code
 * points.  The input has passed the server's encoding check.
 */
static pg_wchar *
utf8_code_points(const char *utf8, int bytes, int *count)
{
	pg_wchar   *cp = palloc(sizeof(pg_wchar) * (bytes + 1));
	int			n = 0;
	int			i = 0;

	while (i < bytes)
	{
		int			len = pg_utf_mblen((const unsigned char *) utf8 + i);

		if (len < 1 || i + len > bytes)
			break;
		cp[n++] = utf8_to_unicode((const unsigned char *) utf8 + i);
		i += len;
	}
	*count = n;
	return cp;
}

/* filler_prepare decodes filler_words into code points, once per backend. */
static void
filler_prepare(void)
{
	int			i;

	if (filler_ready)
		return;
	for (i = 0; i < (int) FILLER_COUNT; i++)
	{
		pg_wchar   *cp;
		int			n;
		MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);

		cp = utf8_code_points(filler_words[i], strlen(filler_words[i]), &n);
		MemoryContextSwitchTo(old);
		filler_symbols[i] = cp;
		filler_length[i] = n;
		if (n > 0 && cp[0] < 0x10000)
			filler_starts[cp[0] >> 3] |= (uint8) (1 << (cp[0] & 7));
	}
	filler_ready = true;
}

/*
 * is_dropped says whether a code point (after folding) is whitespace, a
 * control character, punctuation or a symbol that normalisation drops.
 */
static bool
is_dropped(pg_wchar c)
{
	if (c < 0x80)
		return !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z'));
	return (c >= 0x80 && c <= 0xBF) ||	/* Latin-1 controls, punctuation, symbols */
		c == 0xD7 || c == 0xF7 ||	/* × ÷ */
		(c >= 0x2000 && c <= 0x206F) || /* General Punctuation */
		(c >= 0x2190 && c <= 0x21FF) || /* arrows */
		(c >= 0x2460 && c <= 0x24FF) || /* enclosed alphanumerics ①② */
		(c >= 0x2500 && c <= 0x27BF) || /* box drawing, shapes, dingbats */
		(c >= 0x3000 && c <= 0x303F) || /* CJK symbols and punctuation */
		(c >= 0xFE10 && c <= 0xFE1F) || /* vertical forms */
		(c >= 0xFE30 && c <= 0xFE6F) || /* CJK compatibility and small forms */
		(c >= 0xFF5F && c <= 0xFF65) || /* half-width CJK punctuation */
		c == 0xFEFF ||			/* zero-width no-break space */
		(c >= 0xFFF0 && c <= 0xFFFF);	/* specials */
}

/*
 * fold maps a code point to its normalised form: full-width ASCII to ASCII,
 * the ideographic space to a space, ASCII upper case to lower case.
 */
static pg_wchar
fold(pg_wchar c)
{
	if (c >= 0xFF01 && c <= 0xFF5E)
		c -= 0xFEE0;
	else if (c == 0x3000)
		c = ' ';
	if (c >= 'A' && c <= 'Z')
		c += 'a' - 'A';
	return c;
}

/*
 * digit_run_symbol returns the symbol of the digits cp[start..end): one
 * symbol for every run in a description, the run's value in an address.
 */
static uint32
digit_run_symbol(const pg_wchar *cp, int start, int end, SimilarityMode mode)
{
	uint32		value = 0;
	bool		fits = true;
	int			i;

	if (mode == SIMILARITY_TEXT)
		return DIGITS_SYMBOL;
	for (i = start; i < end; i++)
	{
		value = value * 10 + (cp[i] - '0');
		if (value > DIGITS_VALUE_MASK - 1)
			fits = false;
		value &= 0x0FFFFFFF;
	}
	if (!fits)
	{
		/* A long number (a phone number in an address): hash its digits. */
		uint32		h = 2166136261u;

		for (i = start; i < end; i++)
			h = (h ^ (cp[i] - '0')) * 16777619u;
		value = h % (DIGITS_VALUE_MASK - 1);
	}
	return DIGITS_SYMBOL + 1 + value;
}

/*
 * normalize_text normalises a text for a mode (see the header) into a
 * palloc'd array of at most SIMILARITY_MAX_SYMBOLS symbols.
 */
static Symbols
normalize_text(text *t, SimilarityMode mode)
{
	char	   *raw = VARDATA_ANY(t);
	int			bytes = VARSIZE_ANY_EXHDR(t);
	char	   *utf8 = raw;
	pg_wchar   *cp;
	int			ncp;
	int			i;
	int			kept = 0;
	Symbols		s;

	if (GetDatabaseEncoding() != PG_UTF8)
	{
		utf8 = (char *) pg_do_encoding_conversion((unsigned char *) raw, bytes,
												  GetDatabaseEncoding(), PG_UTF8);
		if (utf8 != raw)
			bytes = strlen(utf8);
	}
	cp = utf8_code_points(utf8, bytes, &ncp);

	/* Fold, and drop what is dropped everywhere. */
	for (i = 0; i < ncp; i++)
	{
		pg_wchar	c = fold(cp[i]);

		if (!is_dropped(c))
			cp[kept++] = c;
	}
	ncp = kept;

	s.symbol = palloc(sizeof(uint32) * (Min(ncp, SIMILARITY_MAX_SYMBOLS) + 1));
	s.count = 0;
	if (mode == SIMILARITY_TEXT)
		filler_prepare();
	i = 0;
	while (i < ncp && s.count < SIMILARITY_MAX_SYMBOLS)
	{
		if (cp[i] >= '0' && cp[i] <= '9')
		{
			int			start = i;
			int			first;

			while (i < ncp && cp[i] >= '0' && cp[i] <= '9')
				i++;
			/* Leading zeros say nothing: 007 is 7. */
			first = start;
			while (first < i - 1 && cp[first] == '0')
				first++;
			s.symbol[s.count++] = digit_run_symbol(cp, first, i, mode);
			continue;
		}
		if (mode == SIMILARITY_TEXT && FILLER_MAY_START(cp[i]))
		{
			int			f;
			bool		skipped = false;

			for (f = 0; f < (int) FILLER_COUNT; f++)
			{
				int			len = filler_length[f];

				if (len > 0 && i + len <= ncp && cp[i] == filler_symbols[f][0] &&
					memcmp(cp + i, filler_symbols[f], sizeof(pg_wchar) * len) == 0)
				{
					i += len;
					skipped = true;
					break;
				}
			}
			if (skipped)
				continue;
		}
		s.symbol[s.count++] = cp[i++];
	}
	pfree(cp);
	if (utf8 != raw)
		pfree(utf8);
	return s;
}

/*
 * sort_grams sorts n-grams: by insertion for the short texts dedup mostly
 * compares (no call per comparison), by qsort beyond.
 */
static void
sort_grams(uint64 *g, int n)
{
	int			i;

	if (n > 48)
	{
		qsort(g, n, sizeof(uint64), compare_uint64);
		return;
	}
	for (i = 1; i < n; i++)
	{
		uint64		x = g[i];
		int			j = i - 1;

		while (j >= 0 && g[j] > x)
		{
			g[j + 1] = g[j];
			j--;
		}
		g[j + 1] = x;
	}
}

/* compare_uint64 orders uint64s for qsort. */
static int
compare_uint64(const void *a, const void *b)
{
	uint64		x = *(const uint64 *) a;
	uint64		y = *(const uint64 *) b;

	return (x > y) - (x < y);
}

/*
 * grams returns the sorted n-grams (n is 1 or 2) of a normalised text, each
 * packed into a uint64; a text shorter than n has none.
 */
static uint64 *
grams(const Symbols *s, int n, int *count)
{
	int			total = s->count - n + 1;
	uint64	   *g;
	int			i;

	if (total < 0)
		total = 0;
	g = palloc(sizeof(uint64) * (total + 1));
	for (i = 0; i < total; i++)
		g[i] = n == 1 ? (uint64) s->symbol[i]
			: ((uint64) s->symbol[i] << 32) | (uint64) s->symbol[i + 1];
	sort_grams(g, total);
	*count = total;
	return g;
}

/* common_count returns the size of the multiset intersection of two sorted arrays. */
static int
common_count(uint64 *a, int na, uint64 *b, int nb)
{
	int			i = 0;
	int			j = 0;
	int			common = 0;

	while (i < na && j < nb)
	{
		if (a[i] == b[j])
		{
			common++;
			i++;
			j++;
		}
		else if (a[i] < b[j])
			i++;
		else
			j++;
	}
	return common;
}

/* dice is the Dice coefficient of two multisets, 1 when both are empty. */
static double
dice(int common, int na, int nb)
{
	if (na + nb == 0)
		return 1.0;
	return 2.0 * common / (na + nb);
}

/* profile_make returns the sorted character and bigram multisets of a text. */
static Profile
profile_make(text *t, SimilarityMode mode)
{
	Symbols		s = normalize_text(t, mode);
	Profile		p;

	p.count = s.count;
	p.unigrams = grams(&s, 1, &p.nunigrams);
	p.bigrams = grams(&s, 2, &p.nbigrams);
	pfree(s.symbol);
	return p;
}

/*
 * profile_cached returns the profile of t, from *slot when t is the same text
 * as last time; else it computes it and keeps it in *slot (memory of cxt).
 */
static Profile
profile_cached(void **slot, MemoryContext cxt, text *t, SimilarityMode mode)
{
	int			len = VARSIZE_ANY_EXHDR(t);
	ProfileCache *cache = (ProfileCache *) *slot;
	MemoryContext old;

	if (cache == NULL)
	{
		cache = MemoryContextAllocZero(cxt, sizeof(ProfileCache));
		*slot = cache;
	}
	if (cache->raw != NULL && cache->mode == mode && cache->rawlen == len &&
		memcmp(cache->raw, VARDATA_ANY(t), len) == 0)
		return cache->profile;
	if (cache->raw != NULL)
	{
		pfree(cache->raw);
		pfree(cache->profile.unigrams);
		pfree(cache->profile.bigrams);
		cache->raw = NULL;
	}
	old = MemoryContextSwitchTo(cxt);
	cache->profile = profile_make(t, mode);
	cache->raw = palloc(len + 1);
	memcpy(cache->raw, VARDATA_ANY(t), len);
	cache->rawlen = len;
	cache->mode = mode;
	MemoryContextSwitchTo(old);
	return cache->profile;
}

/*
 * profile_first returns the profile of a function's first argument, from the
 * call site's cache when the argument is the same text as last time.
 */
static Profile
profile_first(FunctionCallInfo fcinfo, SimilarityMode mode)
{
	return profile_cached(&fcinfo->flinfo->fn_extra, fcinfo->flinfo->fn_mcxt, PG_GETARG_TEXT_PP(0), mode);
}

/*
 * profile_score compares two profiles: the mean of the character and bigram
 * Dice coefficients (1 for equal texts, 0 when one is empty and the other
 * not).  bigram_overlap, when not NULL, receives the overlap coefficient of
 * the bigrams (of the characters when either text is one symbol long).
 */
static double
profile_score(const Profile *a, const Profile *b, double *bigram_overlap)
{
	int			common1;
	int			common2;
	double		score;
	double		overlap;

	if (a->count == 0 || b->count == 0)
	{
		score = (a->count == b->count) ? 1.0 : 0.0;
		if (bigram_overlap)
			*bigram_overlap = score;
		return score;
	}
	common1 = common_count(a->unigrams, a->nunigrams, b->unigrams, b->nunigrams);
	if (a->nbigrams == 0 || b->nbigrams == 0)
	{
		/* A one-symbol text has no bigrams: its characters decide. */
		score = dice(common1, a->nunigrams, b->nunigrams);
		overlap = (double) common1 / Min(a->nunigrams, b->nunigrams);
	}
	else
	{
		common2 = common_count(a->bigrams, a->nbigrams, b->bigrams, b->nbigrams);
		score = (dice(common1, a->nunigrams, b->nunigrams) + dice(common2, a->nbigrams, b->nbigrams)) / 2.0;
		overlap = (double) common2 / Min(a->nbigrams, b->nbigrams);
	}
	if (bigram_overlap)
		*bigram_overlap = Max(0.0, Min(1.0, overlap));
	/* Guard the bounds against rounding. */
	return Max(0.0, Min(1.0, score));
}

/*
 * grams_without returns the grams of g (sorted) that are not in ignore
 * (sorted), in a new array.
 */
static uint64 *
grams_without(const uint64 *g, int n, const uint64 *ignore, int nignore, int *count)
{
	uint64	   *kept = palloc(sizeof(uint64) * (n + 1));
	int			i;
	int			j = 0;
	int			k = 0;

	for (i = 0; i < n; i++)
	{
		while (j < nignore && ignore[j] < g[i])
			j++;
		if (j < nignore && ignore[j] == g[i])
			continue;
		kept[k++] = g[i];
	}
	*count = k;
	return kept;
}

/*
 * profile_without returns a profile with every character and bigram of
 * ignore taken out (a text made only of ignored words becomes empty).
 */
static Profile
profile_without(const Profile *p, const Profile *ignore)
{
	Profile		q;

	q.unigrams = grams_without(p->unigrams, p->nunigrams, ignore->unigrams, ignore->nunigrams, &q.nunigrams);
	q.bigrams = grams_without(p->bigrams, p->nbigrams, ignore->bigrams, ignore->nbigrams, &q.nbigrams);
	q.count = q.nunigrams;
	return q;
}

/*
 * text_score_ignoring is text_similarity(a, b, ignore) for the profile of a:
 * the characters and bigrams of ignore are left out of both.
 */
static double
text_score_ignoring(const Profile *a, text *b, text *ignore)
{
	Profile		b_profile = profile_make(b, SIMILARITY_TEXT);
	Profile		ignore_profile = profile_make(ignore, SIMILARITY_TEXT);
	Profile		a_rest = profile_without(a, &ignore_profile);
	Profile		b_rest = profile_without(&b_profile, &ignore_profile);

	return profile_score(&a_rest, &b_rest, NULL);
}

/*
 * address_score is address_similarity(a, b) for the profile of a: the mean of
 * the score and the bigram overlap.
 */
static double
address_score(const Profile *a, text *b)
{
	Profile		b_profile = profile_make(b, SIMILARITY_ADDRESS);
	double		overlap;
	double		score = profile_score(a, &b_profile, &overlap);

	return Max(0.0, Min(1.0, (score + overlap) / 2.0));
}

/*
 * similarity_text_ignoring is text_similarity(a, b, ignore) for dedup.c,
 * which compares one report's description with each candidate's: the profile
 * of a is kept in *cache (memory of cxt) between calls.
 */
double
similarity_text_ignoring(void **cache, MemoryContext cxt, text *a, text *b, text *ignore)
{
	Profile		a_profile = profile_cached(cache, cxt, a, SIMILARITY_TEXT);

	return text_score_ignoring(&a_profile, b, ignore);
}

/*
 * similarity_address is address_similarity(a, b) for dedup.c, the profile of
 * a kept in *cache as for similarity_text_ignoring.
 */
double
similarity_address(void **cache, MemoryContext cxt, text *a, text *b)
{
	Profile		a_profile = profile_cached(cache, cxt, a, SIMILARITY_ADDRESS);

	return address_score(&a_profile, b);
}

/*
 * workorder_text_similarity_ignoring is workorder.text_similarity(a, b,
 * ignore): text_similarity of a and b with the characters and bigrams of
 * ignore left out of both.  Dedup passes the two reports' addresses, so that
 * two reports of different problems at one place are not alike for naming the
 * place alike, and the comparison is about what happened.
 */
Datum
workorder_text_similarity_ignoring(PG_FUNCTION_ARGS)
{
	Profile		a = profile_first(fcinfo, SIMILARITY_TEXT);

	PG_RETURN_FLOAT8(text_score_ignoring(&a, PG_GETARG_TEXT_PP(1), PG_GETARG_TEXT_PP(2)));
}

/*
 * workorder_text_similarity is workorder.text_similarity(a, b): how alike two
 * descriptions are, in [0, 1].
 */
Datum
workorder_text_similarity(PG_FUNCTION_ARGS)
{
	Profile		a = profile_first(fcinfo, SIMILARITY_TEXT);
	Profile		b = profile_make(PG_GETARG_TEXT_PP(1), SIMILARITY_TEXT);

	PG_RETURN_FLOAT8(profile_score(&a, &b, NULL));
}

/*
 * workorder_address_similarity is workorder.address_similarity(a, b): how
 * alike two addresses are, in [0, 1].
 */
Datum
workorder_address_similarity(PG_FUNCTION_ARGS)
{
	Profile		a = profile_first(fcinfo, SIMILARITY_ADDRESS);

	PG_RETURN_FLOAT8(address_score(&a, PG_GETARG_TEXT_PP(1)));
}

/*
 * workorder_similarity_normalize is workorder.similarity_normalize(t,
 * for_address): the normalised form of a text, to explain a score.  A digit
 * run reads "#" in a description and "#value" in an address (a run too long
 * for its value reads "#" and a hash of its digits).
 */
Datum
workorder_similarity_normalize(PG_FUNCTION_ARGS)
{
	bool		for_address = PG_GETARG_BOOL(1);
	Symbols		s = normalize_text(PG_GETARG_TEXT_PP(0),
								   for_address ? SIMILARITY_ADDRESS : SIMILARITY_TEXT);
	StringInfoData out;
	int			i;

	initStringInfo(&out);
	for (i = 0; i < s.count; i++)
	{
		uint32		c = s.symbol[i];

		if (c == DIGITS_SYMBOL)
			appendStringInfoChar(&out, '#');
		else if (c > DIGITS_SYMBOL)
			appendStringInfo(&out, "#%u", c - DIGITS_SYMBOL - 1);
		else
		{
			unsigned char buf[8];

			memset(buf, 0, sizeof(buf));
			unicode_to_utf8(c, buf);
			appendBinaryStringInfo(&out, (char *) buf, pg_utf_mblen(buf));
		}
	}
	if (GetDatabaseEncoding() != PG_UTF8)
		PG_RETURN_TEXT_P(cstring_to_text(pg_any_to_server(out.data, out.len, PG_UTF8)));
	PG_RETURN_TEXT_P(cstring_to_text_with_len(out.data, out.len));
}
