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
 *   - an enclosed numeral (① ⑴ ⒈ ⓫ ❶ ➀) becomes the digits of its number,
 *     as it is decoded: "①栋" is building 1, not a symbol to drop;
 *   - full-width forms (U+FF01..U+FF5E) become their ASCII counterparts and
 *     the ideographic space U+3000 a space;
 *   - ASCII letters are folded to lower case (so are full-width ones, after
 *     the step above);
 *   - whitespace, control characters, ASCII punctuation and symbols, Latin-1
 *     punctuation, General Punctuation (U+2000..U+206F), CJK symbols and
 *     punctuation (U+3000..U+303F, but not 々 〆 〇 and the Hangzhou numerals,
 *     which are letters and numbers: 一〇一号 is not 一一号), CJK
 *     compatibility forms (U+FE30..U+FE4F), small forms (U+FE50..U+FE6F), the
 *     half-width CJK punctuation (U+FF5F..U+FF65), variation selectors (which
 *     phones paste invisibly after a character), emoji and tags are dropped;
 *   - a run of ASCII digits becomes one symbol.  For descriptions every run is
 *     the same symbol ("#"): times, phone numbers and counts differ between
 *     reports of one event.  For addresses a run keeps its value (leading
 *     zeros dropped): "12号" and "15号" are different doors; a run too long for
 *     that (a phone number) is a hash of its digits;
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
 * How.  Dedup scores one new report against up to 50 candidates, so the
 * first argument is profiled once per call site (its grams counted in a hash
 * table) and each other text is only normalised and streamed through that
 * table: no sorting and no allocation per comparison (the buffers are kept
 * with the profile).  The counts are exact: the scores are, bit for bit,
 * those of sorting both multisets and merging them, as this file once did.
 *
 * workorder.similarity_normalize() shows the normalised form, to explain a
 * score.  similarity_fold_width() folds only the width (full-width ASCII and
 * the ideographic space), for routing's keywords.  dedup.c calls similarity_text_ignoring() and similarity_address()
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
 * value fits in DIGITS_VALUE_MASK, and DIGITS_LONG_SYMBOL + a hash of the
 * digits for a longer one (a phone number).  The hashes have a range of their
 * own: when they shared the values' range, a phone number could equal a door
 * number (13800138000 was 586269).
 */
#define DIGITS_SYMBOL			((uint32) 0x200000)
#define DIGITS_VALUE_MASK		((uint32) 0x0FFFFF)
#define DIGITS_LONG_SYMBOL		(DIGITS_SYMBOL + 1 + DIGITS_VALUE_MASK)
#define DIGITS_HASH_MASK		((uint32) 0x0FFFFFFF)

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

/*
 * The fillers by their first code point: an open-addressing table from a
 * first code point (0 in an empty slot: no filler begins with NUL) to the
 * first filler of the list that begins with it, and filler_next[f], the next
 * filler after f that begins with the same code point (-1 after the last).
 * A character that begins no filler, most of them, costs one probe.
 */
#define FILLER_SLOTS 256
static pg_wchar filler_slot_start[FILLER_SLOTS];
static int16 filler_slot_first[FILLER_SLOTS];
static int16 filler_next[FILLER_COUNT];

/*
 * Buffers that one call site reuses from one comparison to the next, so that
 * scoring a report against 50 candidates allocates nothing per candidate:
 * the decoded code points and the symbols of the text being normalised, and
 * the set of grams left out of a comparison (text_similarity's ignore).  They
 * live in the call site's memory and grow to the longest text seen there.
 *
 * The ignore set is an open-addressing hash table whose slots are stamped
 * with the comparison they belong to: a slot is in use only while its stamp
 * is the current one, so a new comparison empties the set by moving to the
 * next stamp rather than by clearing the table.
 */
typedef struct Scratch
{
	MemoryContext cxt;
	pg_wchar   *code_points;
	int			code_points_capacity;
	uint32	   *symbols;
	int			symbols_capacity;
	uint64	   *ignore_key;
	uint32	   *ignore_stamp;
	int			ignore_slots;	/* a power of two, or 0 */
	uint32		ignore_current;
	uint64	   *ignore_distinct;	/* the set's grams, each once */
	int			ignore_count;
} Scratch;

/*
 * A text that others are compared with: the multiset of its characters and
 * bigrams, as an open-addressing hash table from gram to count.  A character
 * is its symbol; a bigram packs its two symbols into a uint64, the first in
 * the high half.  No symbol is 0 (the NUL character is dropped), so no gram
 * is: 0 marks an empty slot; and a character (high half 0) is never equal to
 * a bigram (high half a symbol).
 *
 * Another text is compared by streaming its grams through the table, each
 * matching an occurrence not matched yet: matched[slot] counts the
 * occurrences of the slot's gram matched in this comparison (stamped as the
 * ignore set above).  The matches are the size of the multiset intersection,
 * found without sorting either text.
 */
typedef struct Profile
{
	uint64	   *key;
	int32	   *count;
	int32	   *matched;
	uint32	   *matched_stamp;
	uint32		mask;			/* slots - 1 (slots a power of two) */
	uint32		current;		/* the stamp of the current comparison */
	int			nunigrams;		/* characters, repeats counted */
	int			nbigrams;		/* bigrams, repeats counted */
} Profile;

/*
 * What one comparison counts: the characters and bigrams of each text (those
 * left out not counted) and the sizes of the two multiset intersections.
 */
typedef struct Overlap
{
	int			nunigrams_a;
	int			nbigrams_a;
	int			nunigrams_b;
	int			nbigrams_b;
	int			common_unigrams;
	int			common_bigrams;
} Overlap;

/*
 * The bytes of the text something was made of, to tell whether it is still
 * that text's: held only once what was made of it is whole, so that a thing
 * left half made by an error is never taken for made.
 */
typedef struct TextKey
{
	char	   *bytes;			/* NULL: never held one */
	int			len;			/* -1: holds none */
	int			capacity;
} TextKey;

/*
 * The first argument's profile and the scratch buffers, kept for one call
 * site (fn_extra, or dedup's pointer): the profile is made again only when
 * the first argument changes.
 */
typedef struct ProfileCache
{
	SimilarityMode mode;
	TextKey		source;			/* the text the profile is of */
	Profile		profile;
	Scratch		scratch;

	/*
	 * The ignore text the scratch's ignore set was made of (dedup passes the
	 * same addresses for candidate after candidate), and what the set takes
	 * out of the profile: valid while neither changes.
	 */
	TextKey		ignore_source;
	bool		ignored_known;
	int			ignored_unigrams;
	int			ignored_bigrams;
} ProfileCache;

static void filler_prepare(void);
static inline uint32 filler_start_slot(pg_wchar c);
static inline int filler_at(const pg_wchar *cp, int i, int ncp);
static pg_wchar *utf8_code_points(const char *utf8, int bytes, pg_wchar *cp, int *count);
static int	enclosed_number(pg_wchar c);
static bool is_dropped(pg_wchar c);
static pg_wchar fold(pg_wchar c);
static uint32 digit_run_symbol(const pg_wchar *cp, int start, int end, SimilarityMode mode);
static void *scratch_reserve(Scratch *scratch, void *buffer, int *capacity, int needed, Size element);
static Symbols normalize_text(text *t, SimilarityMode mode, Scratch *scratch);
static inline uint32 gram_hash(uint64 gram);
static inline uint64 bigram(uint32 first, uint32 second);
static int	table_slots(int grams);
static void profile_make(Profile *p, const Symbols *s, MemoryContext cxt);
static void profile_free(Profile *p);
static inline uint32 profile_slot(const Profile *p, uint64 gram, uint32 hash);
static inline bool profile_match(Profile *p, uint64 gram, uint32 hash);
static void ignore_make(Scratch *scratch, const Symbols *s);
static void ignore_add(Scratch *scratch, uint64 gram);
static inline bool ignore_has(const Scratch *scratch, uint64 gram, uint32 hash);
static void profile_ignored(ProfileCache *a, const Scratch *ignore);
static void profile_compare(ProfileCache *a, const Symbols *b, const Scratch *ignore, Overlap *o);
static bool text_key_is(const TextKey *key, text *t);
static bool text_key_forget(TextKey *key);
static void text_key_hold(TextKey *key, MemoryContext cxt, text *t);
static double dice(int common, int na, int nb);
static double overlap_score(const Overlap *o, double *bigram_overlap);
static ProfileCache *profile_cached(void **slot, MemoryContext cxt, text *t, SimilarityMode mode);
static double text_score(ProfileCache *a, text *b, text *ignore);
static double address_score(ProfileCache *a, text *b);

PG_FUNCTION_INFO_V1(workorder_text_similarity);
PG_FUNCTION_INFO_V1(workorder_address_similarity);
PG_FUNCTION_INFO_V1(workorder_text_similarity_ignoring);
PG_FUNCTION_INFO_V1(workorder_similarity_normalize);

/*
 * utf8_code_points decodes bytes of UTF-8 into cp, which has room for bytes
 * code points, and returns it.  The input has passed the server's encoding
 * check, so each sequence is whole and well formed; the decoding is inline
 * (pg_utf_mblen and utf8_to_unicode, a call each per character, were a
 * tenth of a comparison).
 */
static pg_wchar *
utf8_code_points(const char *utf8, int bytes, pg_wchar *cp, int *count)
{
	const unsigned char *s = (const unsigned char *) utf8;
	int			n = 0;
	int			i = 0;

	while (i < bytes)
	{
		unsigned char c = s[i];

		if (c < 0x80)
		{
			cp[n++] = c;
			i++;
		}
		else if ((c & 0xE0) == 0xC0 && i + 2 <= bytes)
		{
			cp[n++] = ((pg_wchar) (c & 0x1F) << 6) | (s[i + 1] & 0x3F);
			i += 2;
		}
		else if ((c & 0xF0) == 0xE0 && i + 3 <= bytes)
		{
			pg_wchar	w = ((pg_wchar) (c & 0x0F) << 12) | ((pg_wchar) (s[i + 1] & 0x3F) << 6) | (s[i + 2] & 0x3F);
			int			value = w >= 0x2460 && w <= 0x2793 ? enclosed_number(w) : -1;

			/*
			 * ① or ⑵ is the number it encloses, as digits (at most two: the
			 * three bytes of UTF-8 leave room for them).
			 */
			if (value >= 10)
				cp[n++] = '0' + value / 10;
			if (value >= 0)
				cp[n++] = '0' + value % 10;
			else
				cp[n++] = w;
			i += 3;
		}
		else if ((c & 0xF8) == 0xF0 && i + 4 <= bytes)
		{
			cp[n++] = ((pg_wchar) (c & 0x07) << 18) | ((pg_wchar) (s[i + 1] & 0x3F) << 12) |
				((pg_wchar) (s[i + 2] & 0x3F) << 6) | (s[i + 3] & 0x3F);
			i += 4;
		}
		else
			break;				/* not UTF-8 after all: compare what came before */
	}
	*count = n;
	return cp;
}

/*
 * enclosed_number returns the number a circled, parenthesised or full-stopped
 * numeral encloses (① 1, ⑳ 20, ⑴ 1, ⒈ 1, ⓪ 0, ⓫ 11, ❶ 1, ➀ 1, ➊ 1), or -1.
 * Building and entrance numbers are written with them ("碧桂园①栋"), and
 * dropped as symbols they made ①栋 and ②栋 one address.
 */
static int
enclosed_number(pg_wchar c)
{
	if (c >= 0x2460 && c <= 0x2473)	/* ① .. ⑳ */
		return c - 0x2460 + 1;
	if (c >= 0x2474 && c <= 0x2487)	/* ⑴ .. ⒇ */
		return c - 0x2474 + 1;
	if (c >= 0x2488 && c <= 0x249B)	/* ⒈ .. ⒛ */
		return c - 0x2488 + 1;
	if (c == 0x24EA || c == 0x24FF) /* ⓪ ⓿ */
		return 0;
	if (c >= 0x24EB && c <= 0x24F4)	/* ⓫ .. ⓴ */
		return c - 0x24EB + 11;
	if (c >= 0x24F5 && c <= 0x24FE)	/* ⓵ .. ⓾ */
		return c - 0x24F5 + 1;
	if (c >= 0x2776 && c <= 0x277F)	/* ❶ .. ❿ */
		return c - 0x2776 + 1;
	if (c >= 0x2780 && c <= 0x2789)	/* ➀ .. ➉ */
		return c - 0x2780 + 1;
	if (c >= 0x278A && c <= 0x2793)	/* ➊ .. ➓ */
		return c - 0x278A + 1;
	return -1;
}

/*
 * filler_prepare decodes filler_words into code points and indexes them by
 * their first, once per backend.
 */
static void
filler_prepare(void)
{
	int			i;

	if (filler_ready)
		return;
	/* Afresh, should an earlier run have failed part-way (out of memory). */
	memset(filler_slot_start, 0, sizeof(filler_slot_start));
	for (i = 0; i < (int) FILLER_COUNT; i++)
	{
		int			bytes = strlen(filler_words[i]);
		pg_wchar   *cp = MemoryContextAlloc(TopMemoryContext, sizeof(pg_wchar) * (bytes + 1));
		int			n;
		uint32		slot;

		utf8_code_points(filler_words[i], bytes, cp, &n);
		Assert(n > 0 && cp[0] != 0);
		filler_symbols[i] = cp;
		filler_length[i] = n;
		filler_next[i] = -1;
		slot = filler_start_slot(cp[0]);
		if (filler_slot_start[slot] == 0)
		{
			filler_slot_start[slot] = cp[0];
			filler_slot_first[slot] = i;
		}
		else
		{
			int			f = filler_slot_first[slot];

			while (filler_next[f] >= 0)
				f = filler_next[f];
			filler_next[f] = i;
		}
	}
	filler_ready = true;
}

/*
 * filler_start_slot returns the slot of the filler index for a first code
 * point: its own, or the empty one where it would go.
 */
static inline uint32
filler_start_slot(pg_wchar c)
{
	uint32		slot = (c * 2654435761u) >> 24;

	while (filler_slot_start[slot] != 0 && filler_slot_start[slot] != c)
		slot = (slot + 1) % FILLER_SLOTS;
	return slot;
}

/*
 * filler_at returns the length of the filler that begins at cp[i] (of ncp
 * code points), the first of the list when several do, or 0.
 */
static inline int
filler_at(const pg_wchar *cp, int i, int ncp)
{
	uint32		slot = filler_start_slot(cp[i]);
	int			f;

	if (filler_slot_start[slot] == 0)
		return 0;
	for (f = filler_slot_first[slot]; f >= 0; f = filler_next[f])
	{
		int			len = filler_length[f];

		if (i + len <= ncp && memcmp(cp + i, filler_symbols[f], sizeof(pg_wchar) * len) == 0)
			return len;
	}
	return 0;
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
		(c >= 0x2460 && c <= 0x24FF) || /* enclosed letters (the numerals are digits by now) */
		(c >= 0x2500 && c <= 0x27BF) || /* box drawing, shapes, dingbats */
		(c >= 0x3000 && c <= 0x303F && !(c >= 0x3005 && c <= 0x3007) &&
		 !(c >= 0x3021 && c <= 0x3029) && !(c >= 0x3038 && c <= 0x303A)) ||	/* CJK symbols and
																				 * punctuation, not 々 〆
																				 * 〇 or the Hangzhou
																				 * numerals */
		(c >= 0xFE00 && c <= 0xFE0F) || /* variation selectors */
		(c >= 0xFE10 && c <= 0xFE1F) || /* vertical forms */
		(c >= 0xFE30 && c <= 0xFE6F) || /* CJK compatibility and small forms */
		(c >= 0xFF5F && c <= 0xFF65) || /* half-width CJK punctuation */
		c == 0xFEFF ||			/* zero-width no-break space */
		(c >= 0xFFF0 && c <= 0xFFFF) || /* specials */
		(c >= 0x1F000 && c <= 0x1FAFF) ||	/* emoji, pictographs, game symbols */
		(c >= 0xE0000 && c <= 0xE01EF); /* tags, variation selectors supplement */
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
		return DIGITS_LONG_SYMBOL + (h & DIGITS_HASH_MASK);
	}
	return DIGITS_SYMBOL + 1 + value;
}

/*
 * scratch_reserve returns buffer, or a larger one in the scratch's memory
 * when it has room for fewer than needed elements (*capacity is updated; the
 * contents are not kept).
 */
static void *
scratch_reserve(Scratch *scratch, void *buffer, int *capacity, int needed, Size element)
{
	if (buffer != NULL && *capacity >= needed)
		return buffer;
	if (buffer != NULL)
		pfree(buffer);
	*capacity = Max(needed, 64);
	return MemoryContextAlloc(scratch->cxt, element * *capacity);
}

/*
 * normalize_text normalises a text for a mode (see the header) into at most
 * SIMILARITY_MAX_SYMBOLS symbols, in the scratch's symbol buffer: valid
 * until the scratch normalises another text.
 */
static Symbols
normalize_text(text *t, SimilarityMode mode, Scratch *scratch)
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
	scratch->code_points = scratch_reserve(scratch, scratch->code_points, &scratch->code_points_capacity,
										   bytes + 1, sizeof(pg_wchar));
	cp = utf8_code_points(utf8, bytes, scratch->code_points, &ncp);

	/* Fold, and drop what is dropped everywhere. */
	for (i = 0; i < ncp; i++)
	{
		pg_wchar	c = fold(cp[i]);

		if (!is_dropped(c))
			cp[kept++] = c;
	}
	ncp = kept;

	scratch->symbols = scratch_reserve(scratch, scratch->symbols, &scratch->symbols_capacity,
									   Min(ncp, SIMILARITY_MAX_SYMBOLS) + 1, sizeof(uint32));
	s.symbol = scratch->symbols;
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
		if (mode == SIMILARITY_TEXT)
		{
			int			skip = filler_at(cp, i, ncp);

			if (skip > 0)
			{
				i += skip;
				continue;
			}
		}
		s.symbol[s.count++] = cp[i++];
	}
	if (utf8 != raw)
		pfree(utf8);
	return s;
}

/*
 * gram_hash spreads a gram over the slots of a table: Fibonacci hashing, the
 * high half of the gram times 2^64 / phi, after the first symbol of a bigram
 * is folded into the low half (the tables take the low bits of the high
 * half, which depend only on the gram's bits below them).  One
 * multiplication: murmur3's finaliser, with two, cost a tenth of a
 * comparison more.
 */
static inline uint32
gram_hash(uint64 gram)
{
	gram ^= gram >> 32;
	return (uint32) ((gram * UINT64CONST(0x9e3779b97f4a7c15)) >> 32);
}

/* bigram packs two symbols into one gram. */
static inline uint64
bigram(uint32 first, uint32 second)
{
	return ((uint64) first << 32) | (uint64) second;
}

/*
 * table_slots returns the slots of a table for at most grams distinct grams:
 * a power of two, at least twice that, so that probes stay short.
 */
static int
table_slots(int grams)
{
	int			slots = 64;

	while (slots < 2 * grams)
		slots <<= 1;
	return slots;
}

/*
 * profile_make counts the characters and bigrams of a normalised text into a
 * profile, in memory of cxt.
 */
static void
profile_make(Profile *p, const Symbols *s, MemoryContext cxt)
{
	int			slots = table_slots(2 * s->count);
	int			i;

	p->key = MemoryContextAllocZero(cxt, sizeof(uint64) * slots);
	p->count = MemoryContextAllocZero(cxt, sizeof(int32) * slots);
	p->matched = MemoryContextAllocZero(cxt, sizeof(int32) * slots);
	p->matched_stamp = MemoryContextAllocZero(cxt, sizeof(uint32) * slots);
	p->mask = (uint32) slots - 1;
	p->current = 0;
	p->nunigrams = s->count;
	p->nbigrams = Max(s->count - 1, 0);
	for (i = 0; i < s->count; i++)
	{
		uint64		gram = s->symbol[i];
		uint32		slot = profile_slot(p, gram, gram_hash(gram));

		p->key[slot] = gram;
		p->count[slot]++;
		if (i + 1 < s->count)
		{
			gram = bigram(s->symbol[i], s->symbol[i + 1]);
			slot = profile_slot(p, gram, gram_hash(gram));
			p->key[slot] = gram;
			p->count[slot]++;
		}
	}
}

/* profile_free frees what profile_make allocated. */
static void
profile_free(Profile *p)
{
	pfree(p->key);
	pfree(p->count);
	pfree(p->matched);
	pfree(p->matched_stamp);
}

/*
 * profile_slot returns the slot of a gram (hash is gram_hash of it): its own,
 * or the empty one where it would go.
 */
static inline uint32
profile_slot(const Profile *p, uint64 gram, uint32 hash)
{
	uint32		slot = hash & p->mask;

	while (p->key[slot] != 0 && p->key[slot] != gram)
		slot = (slot + 1) & p->mask;
	return slot;
}

/*
 * profile_match matches one occurrence of a gram of the other text against
 * the profile: true when the profile has an occurrence of it not matched yet
 * in this comparison (and counts it matched).
 */
static inline bool
profile_match(Profile *p, uint64 gram, uint32 hash)
{
	uint32		slot = profile_slot(p, gram, hash);

	if (p->key[slot] == 0)
		return false;
	if (p->matched_stamp[slot] != p->current)
	{
		p->matched_stamp[slot] = p->current;
		p->matched[slot] = 0;
	}
	if (p->matched[slot] >= p->count[slot])
		return false;
	p->matched[slot]++;
	return true;
}

/*
 * ignore_make makes the scratch's ignore set the characters and bigrams of a
 * normalised text.
 */
static void
ignore_make(Scratch *scratch, const Symbols *s)
{
	int			slots = table_slots(2 * s->count);
	int			i;

	if (slots > scratch->ignore_slots)
	{
		if (scratch->ignore_key != NULL)
		{
			pfree(scratch->ignore_key);
			pfree(scratch->ignore_stamp);
			pfree(scratch->ignore_distinct);
		}
		scratch->ignore_key = MemoryContextAllocZero(scratch->cxt, sizeof(uint64) * slots);
		scratch->ignore_stamp = MemoryContextAllocZero(scratch->cxt, sizeof(uint32) * slots);
		scratch->ignore_distinct = MemoryContextAlloc(scratch->cxt, sizeof(uint64) * slots);
		scratch->ignore_slots = slots;
		scratch->ignore_current = 0;
	}
	/* A new stamp empties the set; when the stamps wrap, clear them. */
	if (++scratch->ignore_current == 0)
	{
		memset(scratch->ignore_stamp, 0, sizeof(uint32) * scratch->ignore_slots);
		scratch->ignore_current = 1;
	}
	scratch->ignore_count = 0;
	for (i = 0; i < s->count; i++)
	{
		ignore_add(scratch, s->symbol[i]);
		if (i + 1 < s->count)
			ignore_add(scratch, bigram(s->symbol[i], s->symbol[i + 1]));
	}
}

/* ignore_add puts a gram into the ignore set, once. */
static void
ignore_add(Scratch *scratch, uint64 gram)
{
	uint32		mask = (uint32) scratch->ignore_slots - 1;
	uint32		slot = gram_hash(gram) & mask;

	while (scratch->ignore_stamp[slot] == scratch->ignore_current)
	{
		if (scratch->ignore_key[slot] == gram)
			return;
		slot = (slot + 1) & mask;
	}
	scratch->ignore_stamp[slot] = scratch->ignore_current;
	scratch->ignore_key[slot] = gram;
	scratch->ignore_distinct[scratch->ignore_count++] = gram;
}

/* ignore_has says whether a gram (hash is gram_hash of it) is in the ignore set. */
static inline bool
ignore_has(const Scratch *scratch, uint64 gram, uint32 hash)
{
	uint32		mask = (uint32) scratch->ignore_slots - 1;
	uint32		slot = hash & mask;

	while (scratch->ignore_stamp[slot] == scratch->ignore_current)
	{
		if (scratch->ignore_key[slot] == gram)
			return true;
		slot = (slot + 1) & mask;
	}
	return false;
}

/*
 * profile_ignored counts the occurrences of a's profile that the ignore set
 * leaves out, once for each profile and set: dedup compares one report with
 * each candidate under the same set.
 */
static void
profile_ignored(ProfileCache *a, const Scratch *ignore)
{
	int			i;

	if (a->ignored_known)
		return;
	a->ignored_unigrams = 0;
	a->ignored_bigrams = 0;
	for (i = 0; i < ignore->ignore_count; i++)
	{
		uint64		gram = ignore->ignore_distinct[i];
		uint32		slot = profile_slot(&a->profile, gram, gram_hash(gram));

		if (a->profile.key[slot] == 0)
			continue;
		if ((gram >> 32) == 0)
			a->ignored_unigrams += a->profile.count[slot];
		else
			a->ignored_bigrams += a->profile.count[slot];
	}
	a->ignored_known = true;
}

/*
 * profile_compare counts what a text b has in common with the profile of a,
 * leaving out of both every gram of the ignore set when ignore is not NULL.
 * Each gram of b is hashed once, for the ignore set and the profile alike.
 */
static void
profile_compare(ProfileCache *a, const Symbols *b, const Scratch *ignore, Overlap *o)
{
	Profile    *p = &a->profile;
	int			i;

	memset(o, 0, sizeof(Overlap));
	o->nunigrams_a = p->nunigrams;
	o->nbigrams_a = p->nbigrams;
	if (++p->current == 0)
	{
		memset(p->matched_stamp, 0, sizeof(uint32) * (p->mask + 1));
		p->current = 1;
	}

	/* a without the ignored grams: each occurrence of one is left out. */
	if (ignore != NULL)
	{
		profile_ignored(a, ignore);
		o->nunigrams_a -= a->ignored_unigrams;
		o->nbigrams_a -= a->ignored_bigrams;
	}

	for (i = 0; i < b->count; i++)
	{
		uint64		gram = b->symbol[i];
		uint32		hash = gram_hash(gram);

		if (ignore == NULL || !ignore_has(ignore, gram, hash))
		{
			o->nunigrams_b++;
			if (profile_match(p, gram, hash))
				o->common_unigrams++;
		}
		if (i + 1 < b->count)
		{
			gram = bigram(b->symbol[i], b->symbol[i + 1]);
			hash = gram_hash(gram);
			if (ignore == NULL || !ignore_has(ignore, gram, hash))
			{
				o->nbigrams_b++;
				if (profile_match(p, gram, hash))
					o->common_bigrams++;
			}
		}
	}
}

/* dice is the Dice coefficient of two multisets, 1 when both are empty. */
static double
dice(int common, int na, int nb)
{
	if (na + nb == 0)
		return 1.0;
	return 2.0 * common / (na + nb);
}

/*
 * overlap_score is the score of a comparison: the mean of the character and
 * bigram Dice coefficients (1 for equal texts, 0 when one is empty and the
 * other not).  bigram_overlap, when not NULL, receives the overlap
 * coefficient of the bigrams (of the characters when either text is one
 * symbol long).
 */
static double
overlap_score(const Overlap *o, double *bigram_overlap)
{
	double		score;
	double		overlap;

	if (o->nunigrams_a == 0 || o->nunigrams_b == 0)
	{
		score = (o->nunigrams_a == o->nunigrams_b) ? 1.0 : 0.0;
		if (bigram_overlap)
			*bigram_overlap = score;
		return score;
	}
	if (o->nbigrams_a == 0 || o->nbigrams_b == 0)
	{
		/* A one-symbol text has no bigrams: its characters decide. */
		score = dice(o->common_unigrams, o->nunigrams_a, o->nunigrams_b);
		overlap = (double) o->common_unigrams / Min(o->nunigrams_a, o->nunigrams_b);
	}
	else
	{
		score = (dice(o->common_unigrams, o->nunigrams_a, o->nunigrams_b) +
				 dice(o->common_bigrams, o->nbigrams_a, o->nbigrams_b)) / 2.0;
		overlap = (double) o->common_bigrams / Min(o->nbigrams_a, o->nbigrams_b);
	}
	if (bigram_overlap)
		*bigram_overlap = Max(0.0, Min(1.0, overlap));
	/* Guard the bounds against rounding. */
	return Max(0.0, Min(1.0, score));
}

/* text_key_is says whether key holds the bytes of t. */
static bool
text_key_is(const TextKey *key, text *t)
{
	int			len = VARSIZE_ANY_EXHDR(t);

	return key->bytes != NULL && key->len == len && memcmp(key->bytes, VARDATA_ANY(t), len) == 0;
}

/* text_key_forget makes key hold no text, and says whether it held one. */
static bool
text_key_forget(TextKey *key)
{
	bool		held = key->bytes != NULL && key->len >= 0;

	key->len = -1;
	return held;
}

/* text_key_hold makes key hold the bytes of t, in memory of cxt. */
static void
text_key_hold(TextKey *key, MemoryContext cxt, text *t)
{
	int			len = VARSIZE_ANY_EXHDR(t);

	if (key->bytes == NULL || key->capacity < len + 1)
	{
		if (key->bytes != NULL)
			pfree(key->bytes);
		key->bytes = NULL;
		key->capacity = Max(len + 1, 64);
		key->bytes = MemoryContextAlloc(cxt, key->capacity);
	}
	memcpy(key->bytes, VARDATA_ANY(t), len);
	key->len = len;
}

/*
 * profile_cached returns the cache in *slot (memory of cxt), its profile that
 * of t: kept when t is the same text as last time, else made again.
 */
static ProfileCache *
profile_cached(void **slot, MemoryContext cxt, text *t, SimilarityMode mode)
{
	ProfileCache *cache = (ProfileCache *) *slot;
	Symbols		s;

	if (cache == NULL)
	{
		cache = MemoryContextAllocZero(cxt, sizeof(ProfileCache));
		cache->scratch.cxt = cxt;
		*slot = cache;
	}
	if (cache->mode == mode && text_key_is(&cache->source, t))
		return cache;
	if (text_key_forget(&cache->source))
		profile_free(&cache->profile);
	s = normalize_text(t, mode, &cache->scratch);
	profile_make(&cache->profile, &s, cxt);
	cache->ignored_known = false;
	cache->mode = mode;
	text_key_hold(&cache->source, cxt, t);
	return cache;
}

/*
 * text_score is text_similarity(a, b, ignore) for a's cached profile: with
 * ignore NULL, text_similarity(a, b).
 */
static double
text_score(ProfileCache *a, text *b, text *ignore)
{
	Symbols		s;
	Overlap		o;

	if (ignore != NULL && !text_key_is(&a->ignore_source, ignore))
	{
		(void) text_key_forget(&a->ignore_source);
		s = normalize_text(ignore, SIMILARITY_TEXT, &a->scratch);
		ignore_make(&a->scratch, &s);
		a->ignored_known = false;
		text_key_hold(&a->ignore_source, a->scratch.cxt, ignore);
	}
	s = normalize_text(b, SIMILARITY_TEXT, &a->scratch);
	profile_compare(a, &s, ignore != NULL ? &a->scratch : NULL, &o);
	return overlap_score(&o, NULL);
}

/*
 * address_score is address_similarity(a, b) for a's cached profile: the mean
 * of the score and the bigram overlap.
 */
static double
address_score(ProfileCache *a, text *b)
{
	Symbols		s = normalize_text(b, SIMILARITY_ADDRESS, &a->scratch);
	Overlap		o;
	double		overlap;
	double		score;

	profile_compare(a, &s, NULL, &o);
	score = overlap_score(&o, &overlap);
	return Max(0.0, Min(1.0, (score + overlap) / 2.0));
}

/*
 * similarity_text_ignoring is text_similarity(a, b, ignore) for dedup.c,
 * which compares one report's description with each candidate's: the profile
 * of a and the scratch buffers are kept in *cache (memory of cxt) between
 * calls.
 */
double
similarity_text_ignoring(void **cache, MemoryContext cxt, text *a, text *b, text *ignore)
{
	return text_score(profile_cached(cache, cxt, a, SIMILARITY_TEXT), b, ignore);
}

/*
 * similarity_address is address_similarity(a, b) for dedup.c, the profile of
 * a kept in *cache as for similarity_text_ignoring.
 */
double
similarity_address(void **cache, MemoryContext cxt, text *a, text *b)
{
	return address_score(profile_cached(cache, cxt, a, SIMILARITY_ADDRESS), b);
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
	ProfileCache *a = profile_cached(&fcinfo->flinfo->fn_extra, fcinfo->flinfo->fn_mcxt,
									 PG_GETARG_TEXT_PP(0), SIMILARITY_TEXT);

	PG_RETURN_FLOAT8(text_score(a, PG_GETARG_TEXT_PP(1), PG_GETARG_TEXT_PP(2)));
}

/*
 * workorder_text_similarity is workorder.text_similarity(a, b): how alike two
 * descriptions are, in [0, 1].
 */
Datum
workorder_text_similarity(PG_FUNCTION_ARGS)
{
	ProfileCache *a = profile_cached(&fcinfo->flinfo->fn_extra, fcinfo->flinfo->fn_mcxt,
									 PG_GETARG_TEXT_PP(0), SIMILARITY_TEXT);

	PG_RETURN_FLOAT8(text_score(a, PG_GETARG_TEXT_PP(1), NULL));
}

/*
 * workorder_address_similarity is workorder.address_similarity(a, b): how
 * alike two addresses are, in [0, 1].
 */
Datum
workorder_address_similarity(PG_FUNCTION_ARGS)
{
	ProfileCache *a = profile_cached(&fcinfo->flinfo->fn_extra, fcinfo->flinfo->fn_mcxt,
									 PG_GETARG_TEXT_PP(0), SIMILARITY_ADDRESS);

	PG_RETURN_FLOAT8(address_score(a, PG_GETARG_TEXT_PP(1)));
}

/*
 * similarity_fold_width returns t with full-width ASCII forms (U+FF01..U+FF5E)
 * made ASCII and the ideographic space (U+3000) a space, as fold() does, and
 * nothing else changed: routing matches keywords in it, so that a
 * description typed on a Chinese keyboard in full width ('ＡＴＭ', '５Ｇ')
 * meets the keywords 'ATM' and '5G'.  t itself when there is nothing to fold
 * or the database is not UTF-8 (where those code points are other bytes).
 */
text *
similarity_fold_width(text *t)
{
	const unsigned char *in = (const unsigned char *) VARDATA_ANY(t);
	int			len = VARSIZE_ANY_EXHDR(t);
	text	   *result;
	unsigned char *out;
	int			i;
	int			n = 0;

	if (GetDatabaseEncoding() != PG_UTF8)
		return t;
	for (i = 0; i + 2 < len; i++)
		if ((in[i] == 0xEF && (in[i + 1] == 0xBC || in[i + 1] == 0xBD)) ||
			(in[i] == 0xE3 && in[i + 1] == 0x80 && in[i + 2] == 0x80))
			break;
	if (i + 2 >= len)
		return t;

	result = (text *) palloc(VARHDRSZ + len);
	out = (unsigned char *) VARDATA(result);
	for (i = 0; i < len;)
	{
		if (i + 2 < len && in[i] == 0xEF && in[i + 1] == 0xBC && in[i + 2] >= 0x81 && in[i + 2] <= 0xBF)
		{
			out[n++] = (unsigned char) (in[i + 2] - 0x81 + 0x21);	/* U+FF01..U+FF3F */
			i += 3;
		}
		else if (i + 2 < len && in[i] == 0xEF && in[i + 1] == 0xBD && in[i + 2] >= 0x80 && in[i + 2] <= 0x9E)
		{
			out[n++] = (unsigned char) (in[i + 2] - 0x80 + 0x60);	/* U+FF40..U+FF5E */
			i += 3;
		}
		else if (i + 2 < len && in[i] == 0xE3 && in[i + 1] == 0x80 && in[i + 2] == 0x80)
		{
			out[n++] = ' ';
			i += 3;
		}
		else
			out[n++] = in[i++];
	}
	SET_VARSIZE(result, VARHDRSZ + n);
	return result;
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
	Scratch		scratch;
	Symbols		s;
	StringInfoData out;
	int			i;

	memset(&scratch, 0, sizeof(scratch));
	scratch.cxt = CurrentMemoryContext;
	s = normalize_text(PG_GETARG_TEXT_PP(0), for_address ? SIMILARITY_ADDRESS : SIMILARITY_TEXT, &scratch);
	initStringInfo(&out);
	for (i = 0; i < s.count; i++)
	{
		uint32		c = s.symbol[i];

		if (c == DIGITS_SYMBOL)
			appendStringInfoChar(&out, '#');
		else if (c >= DIGITS_LONG_SYMBOL)
			appendStringInfo(&out, "#h%07x", c - DIGITS_LONG_SYMBOL);
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
