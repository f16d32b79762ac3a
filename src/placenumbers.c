/*-------------------------------------------------------------------------
 *
 * placenumbers.c
 *	  The place numbers a text names: door, building, entrance, lane and
 *	  metro line numbers ("12号", "3栋", "2单元", "西三巷", "3号线"), which
 *	  tell two spots of one street apart.
 *
 * Dedup compares what two reports say happened with their addresses left
 * out, and the addresses themselves with a similarity in which "中山路12号"
 * and "中山路15号" are still alike (similarity.c).  So two missing covers at
 * No. 12 and No. 15 of one street, 35 metres apart, were one event to it.
 * Reports that name their spot by two different numbers of one kind are at
 * two spots: dedup_decide() does not take either for the other's duplicate
 * (sql/install/62_dedup.sql, "another place").
 *
 * A place number is a number followed by a marker of its kind.  The number
 * is a run of digits (full-width ones too) or of Chinese numerals (三, 十二,
 * 一〇一, 两); the markers, longest first:
 *   号楼 号院 号线 号 栋 幢 座 单元 弄 巷 期
 * Chinese numerals count only before the markers that are no measure word:
 * "一栋楼" and "一座桥" say how many, not which.  Floors (楼, 层) and rooms
 * (室) are left out: they say where in a building the reporter lives, and
 * two neighbours' reports of one leaking pipe or one broken lift name
 * different ones.  A number after 月 is a day of the month ("11月3号"), not
 * a door; so is a 号 of 1 to 31 that a word of time or of the reporting
 * follows ("3号就打过电话", "5号晚上", "3号那天", "12号以来"): a repeat
 * caller's "I called on the 3rd" made his report another place than the
 * order of No. 12, and one event two orders.  A space between number and
 * marker (an ideographic one too) is skipped; punctuation is not (in
 * "12、15号" only 15 is a door number), but a hyphen, full-width or not, or
 * 之 between two runs of digits makes one number of both ("12-1号", "12之1号":
 * No. 1 of No. 12, another door than "15-1号"; read back from the marker,
 * both were door 1).
 *
 * place_numbers_of() fills a PlaceNumbers from a text;
 * place_numbers_conflict() says whether two sets name different places;
 * workorder.place_numbers(text) shows them, as explain_dedup() does.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "mb/pg_wchar.h"
#include "utils/array.h"
#include "utils/builtins.h"

#include "workorder.h"

/*
 * A marker: its UTF-8 (one or two characters of three bytes each), and
 * whether Chinese numerals may precede it.
 */
typedef struct PlaceMarker
{
	const char *utf8;
	bool		after_chinese;
} PlaceMarker;

/*
 * The markers, longest first, so that "3号楼" is building 3 and not door 3
 * followed by a floor.  Each begins with one of the characters that
 * begins_marker() knows.
 */
static const PlaceMarker place_markers[] = {
	{"号楼", true},
	{"号院", true},
	{"号线", true},
	{"号", true},
	{"栋", false},
	{"幢", false},
	{"座", false},
	{"单元", true},
	{"弄", true},
	{"巷", true},
	{"期", true},
};

#define PLACE_MARKER_COUNT lengthof(place_markers)

/* The code point of 月 (month): a number after it is a day. */
#define MONTH_CHARACTER 0x6708

/* The index in place_markers of 号, a door (or a day: see date_followers). */
#define DOOR_MARKER 3

/*
 * What follows a day of the month, not a door number: times of the day,
 * "that day", "since", and the words of calling and reporting.  Each is
 * UTF-8.  (Not 早 or 晚 alone: "12号早餐店" is a door.)
 */
static const char *const date_followers[] = {
	"就", "晚上", "早上", "上午", "下午", "中午", "凌晨", "夜里", "那天", "当天",
	"开始", "以来", "至今", "打过", "打了", "来电", "反映", "投诉", "已经",
};

/*
 * A number of two runs of digits, "12-1号" (No. 1 of No. 12): the flag and
 * the first run times COMPOUND_SCALE plus the second, each below it.
 */
#define COMPOUND_FLAG	((uint32) 0x80000000)
#define COMPOUND_SCALE	10000

static int	chinese_digit(pg_wchar c);
static bool is_chinese_numeral(pg_wchar c);
static uint32 chinese_value(const pg_wchar *cp, int start, int end, bool *fits);
static bool begins_marker(const unsigned char *c);
static int	marker_at(const unsigned char *b, int i, int n);
static pg_wchar cp_before(const unsigned char *b, int i, int *length);
static bool followed_by_date_word(const unsigned char *b, int i, int n);
static uint64 digits_before(const unsigned char *b, int *start, bool *fits);
static bool is_compound_joint(pg_wchar c);
static void place_numbers_add(PlaceNumbers *numbers, int marker, uint32 value);

PG_FUNCTION_INFO_V1(workorder_place_numbers);

/* chinese_digit returns the value of a Chinese digit (〇 零 一 .. 九 两), or -1. */
static int
chinese_digit(pg_wchar c)
{
	switch (c)
	{
		case 0x3007:			/* 〇 */
		case 0x96F6:			/* 零 */
			return 0;
		case 0x4E00:			/* 一 */
			return 1;
		case 0x4E8C:			/* 二 */
		case 0x4E24:			/* 两 */
			return 2;
		case 0x4E09:			/* 三 */
			return 3;
		case 0x56DB:			/* 四 */
			return 4;
		case 0x4E94:			/* 五 */
			return 5;
		case 0x516D:			/* 六 */
			return 6;
		case 0x4E03:			/* 七 */
			return 7;
		case 0x516B:			/* 八 */
			return 8;
		case 0x4E5D:			/* 九 */
			return 9;
		default:
			return -1;
	}
}

/* is_chinese_numeral says whether c is a Chinese digit or 十, 百 or 千. */
static bool
is_chinese_numeral(pg_wchar c)
{
	return chinese_digit(c) >= 0 || c == 0x5341 || c == 0x767E || c == 0x5343;
}

/*
 * chinese_value returns the value of the Chinese numerals cp[start..end):
 * with units (二十三 23, 一百零五 105, 十二 12) or digit by digit (一〇一
 * 101).  *fits is false when the value passes a million or the numerals
 * are not a number (十十, 零十).
 */
static uint32
chinese_value(const pg_wchar *cp, int start, int end, bool *fits)
{
	uint64		total = 0;
	uint64		current = 0;
	bool		after_digit = false;
	int			i;

	*fits = true;
	for (i = start; i < end && *fits; i++)
	{
		int			d = chinese_digit(cp[i]);

		if (d >= 0)
		{
			/* Digit by digit (一〇一), or the first digit of a unit. */
			current = after_digit ? current * 10 + d : (uint64) d;
			after_digit = true;
			continue;
		}
		/* A unit: 十, 百 or 千, after its digit, or first (十二: ten and two). */
		if (!after_digit && i == start)
			current = 1;
		else if (!after_digit || current == 0)
			*fits = false;
		total += current * (cp[i] == 0x5341 ? 10 : cp[i] == 0x767E ? 100 : 1000);
		current = 0;
		after_digit = false;
		if (total > 1000000)
			*fits = false;
	}
	if (total + current > 1000000)
		*fits = false;
	return *fits ? (uint32) (total + current) : 0;
}

/*
 * begins_marker says whether the three bytes at c are the UTF-8 of a
 * character a marker begins with: 号 栋 幢 座 单 弄 巷 期.  Most characters
 * of a Chinese text are three bytes long; this is what each costs.
 */
static bool
begins_marker(const unsigned char *c)
{
	switch (((uint32) c[0] << 16) | ((uint32) c[1] << 8) | c[2])
	{
		case 0xE58FB7:			/* 号 */
		case 0xE6A08B:			/* 栋 */
		case 0xE5B9A2:			/* 幢 */
		case 0xE5BAA7:			/* 座 */
		case 0xE58D95:			/* 单 */
		case 0xE5BC84:			/* 弄 */
		case 0xE5B7B7:			/* 巷 */
		case 0xE69C9F:			/* 期 */
			return true;
		default:
			return false;
	}
}

/*
 * marker_at returns the index of the marker whose UTF-8 begins at b[i] (of n
 * bytes), the longest when several do, or -1.
 */
static int
marker_at(const unsigned char *b, int i, int n)
{
	int			m;

	for (m = 0; m < (int) PLACE_MARKER_COUNT; m++)
	{
		int			length = strlen(place_markers[m].utf8);

		if (i + length <= n && memcmp(b + i, place_markers[m].utf8, length) == 0)
			return m;
	}
	return -1;
}

/*
 * cp_before returns the code point of the character that ends just before
 * b[i] (the bytes are whole UTF-8), and its length in *length; 0 at the start.
 */
static pg_wchar
cp_before(const unsigned char *b, int i, int *length)
{
	int			start = i - 1;

	*length = 0;
	if (i <= 0)
		return 0;
	while (start > 0 && (b[start] & 0xC0) == 0x80 && i - start < 4)
		start--;
	*length = i - start;
	return utf8_to_unicode(b + start);
}

/*
 * followed_by_date_word says whether the text at b[i] (of n bytes), after
 * blanks, begins with one of date_followers.
 */
static bool
followed_by_date_word(const unsigned char *b, int i, int n)
{
	int			w;

	for (;;)
	{
		if (i < n && b[i] == ' ')
			i++;
		else if (i + 3 <= n && memcmp(b + i, "\xE3\x80\x80", 3) == 0)	/* U+3000 */
			i += 3;
		else
			break;
	}
	for (w = 0; w < (int) lengthof(date_followers); w++)
	{
		int			length = strlen(date_followers[w]);

		if (i + length <= n && memcmp(b + i, date_followers[w], length) == 0)
			return true;
	}
	return false;
}

/*
 * digits_before reads the run of digits (ASCII or full-width) that ends just
 * before b[*start], from the last, moves *start to its first, and returns its
 * value; *fits becomes false when it passes a million.
 */
static uint64
digits_before(const unsigned char *b, int *start, bool *fits)
{
	uint64		value = 0;
	uint64		scale = 1;
	int			length;
	pg_wchar	c;

	while (((c = cp_before(b, *start, &length)) >= '0' && c <= '9') || (c >= 0xFF10 && c <= 0xFF19))
	{
		value += scale * (c >= 0xFF10 ? c - 0xFF10 : c - '0');
		scale = Min(scale * 10, (uint64) 100000000);
		if (value > 1000000)
			*fits = false;
		*start -= length;
	}
	return value;
}

/* is_compound_joint says whether c joins the two runs of "12-1号": - － 之. */
static bool
is_compound_joint(pg_wchar c)
{
	return c == '-' || c == 0xFF0D || c == 0x4E4B;
}

/* place_numbers_add adds a number of a marker, once. */
static void
place_numbers_add(PlaceNumbers *numbers, int marker, uint32 value)
{
	int			i;

	for (i = 0; i < numbers->count; i++)
		if (numbers->marker[i] == marker && numbers->value[i] == value)
			return;
	if (numbers->count < PLACE_NUMBERS_MAX)
	{
		numbers->marker[numbers->count] = marker;
		numbers->value[numbers->count] = value;
		numbers->count++;
	}
}

/*
 * place_numbers_of adds the place numbers of a text (NULL: none) to
 * *numbers, at most PLACE_NUMBERS_MAX in all; the caller sets count to 0
 * first.  Dedup passes a report's description and then its address, and
 * each candidate's.
 *
 * It reads the UTF-8 bytes as they are, character by character, looking for
 * the markers, and reads the number back from each marker found: dedup
 * calls it for every candidate, and decoding each text into code points
 * first cost a tenth of scoring a candidate.
 */
void
place_numbers_of(text *t, PlaceNumbers *numbers)
{
	const char *raw;
	char	   *utf8;
	const unsigned char *b;
	int			n;
	int			i;

	if (t == NULL)
		return;
	raw = VARDATA_ANY(t);
	n = VARSIZE_ANY_EXHDR(t);
	utf8 = (char *) raw;
	if (GetDatabaseEncoding() != PG_UTF8)
	{
		utf8 = (char *) pg_do_encoding_conversion((unsigned char *) raw, n, GetDatabaseEncoding(), PG_UTF8);
		if (utf8 != raw)
			n = strlen(utf8);
	}
	b = (const unsigned char *) utf8;
	i = 0;
	while (i < n)
	{
		int			char_length = b[i] < 0x80 ? 1 : b[i] < 0xE0 ? 2 : b[i] < 0xF0 ? 3 : 4;
		int			marker;
		int			end;
		int			start;
		int			length;
		bool		fits = true;
		uint64		value = 0;
		pg_wchar	c;

		if (char_length != 3 || i + 3 > n || !begins_marker(b + i) || (marker = marker_at(b, i, n)) < 0)
		{
			i += char_length;
			continue;
		}

		/* Back over blanks (a space, an ideographic space) to the number. */
		end = i;
		while ((c = cp_before(b, end, &length)) == ' ' || c == 0x3000)
			end -= length;

		/*
		 * Digits (ASCII or full-width), read from the last, and the run before
		 * a joint (12-1); else Chinese numerals.
		 */
		start = end;
		value = digits_before(b, &start, &fits);
		if (start < end && is_compound_joint(c = cp_before(b, start, &length)))
		{
			int			first_start = start - length;
			bool		first_fits = true;
			uint64		first = digits_before(b, &first_start, &first_fits);

			if (first_start < start - length)
			{
				if (first_fits && first < COMPOUND_SCALE && value < COMPOUND_SCALE)
					value = COMPOUND_FLAG | (uint32) (first * COMPOUND_SCALE + value);
				else
					fits = false;
				start = first_start;
			}
		}
		if (start == end && place_markers[marker].after_chinese)
		{
			pg_wchar	numerals[8];
			int			count = 0;

			while (is_chinese_numeral(c = cp_before(b, start, &length)) && count < (int) lengthof(numerals))
			{
				numerals[lengthof(numerals) - 1 - count++] = c;
				start -= length;
			}
			if (count > 0)
				value = chinese_value(numerals + lengthof(numerals) - count, 0, count, &fits);
			if (is_chinese_numeral(cp_before(b, start, &length)))
				fits = false;	/* longer than any place number */
		}
		if (start < end && fits && cp_before(b, start, &length) != MONTH_CHARACTER &&
			!(marker == DOOR_MARKER && value >= 1 && value <= 31 &&
			  followed_by_date_word(b, i + strlen(place_markers[marker].utf8), n)))
			place_numbers_add(numbers, marker, (uint32) value);
		i += strlen(place_markers[marker].utf8);
	}
	if (utf8 != raw)
		pfree(utf8);
}

/*
 * place_numbers_conflict says whether two sets of place numbers name
 * different places: for some marker both name numbers, and none in common
 * (a report of "3号楼到5号楼之间" is not at another place than one of "5号楼").
 * When it does, *marker and the first numbers of each side are set, for the
 * explanation.
 */
bool
place_numbers_conflict(const PlaceNumbers *a, const PlaceNumbers *b, int *marker, uint32 *value_a,
					   uint32 *value_b)
{
	int			i;
	int			j;

	for (i = 0; i < a->count; i++)
	{
		int			first_b = -1;
		bool		common = false;

		for (j = 0; j < b->count && !common; j++)
		{
			int			k;

			if (b->marker[j] != a->marker[i])
				continue;
			if (first_b < 0)
				first_b = j;
			for (k = 0; k < a->count; k++)
				if (a->marker[k] == a->marker[i] && a->value[k] == b->value[j])
					common = true;
		}
		if (first_b >= 0 && !common)
		{
			*marker = a->marker[i];
			*value_a = a->value[i];
			*value_b = b->value[first_b];
			return true;
		}
	}
	return false;
}

/*
 * place_number_text returns "12号" for number 12 of a marker ("12-1号" for
 * No. 1 of No. 12), palloc'd.
 */
char *
place_number_text(int marker, uint32 value)
{
	if (value & COMPOUND_FLAG)
		return psprintf("%u-%u%s", (value & ~COMPOUND_FLAG) / COMPOUND_SCALE,
						(value & ~COMPOUND_FLAG) % COMPOUND_SCALE, place_markers[marker].utf8);
	return psprintf("%u%s", value, place_markers[marker].utf8);
}

/*
 * workorder_place_numbers is workorder.place_numbers(text): the place
 * numbers a text names, as text[] ("12号", "3栋"), in the order they
 * first appear.
 */
Datum
workorder_place_numbers(PG_FUNCTION_ARGS)
{
	text	   *t = PG_GETARG_TEXT_PP(0);
	PlaceNumbers numbers;
	Datum	   *elems;
	int			i;

	numbers.count = 0;
	place_numbers_of(t, &numbers);
	elems = palloc(sizeof(Datum) * Max(numbers.count, 1));
	for (i = 0; i < numbers.count; i++)
		elems[i] = CStringGetTextDatum(place_number_text(numbers.marker[i], numbers.value[i]));
	PG_RETURN_ARRAYTYPE_P(construct_array(elems, numbers.count, TEXTOID, -1, false, TYPALIGN_INT));
}
