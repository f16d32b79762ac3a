/*-------------------------------------------------------------------------
 *
 * areamap.c
 *	  The jurisdiction map, kept per backend for locate_point(): every piece
 *	  of workorder.area_pieces as rings of coordinates, found through a grid,
 *	  and of every area what locate() returns of it.
 *
 * Why.  Finding the area that contains a report's point was one query: a
 * GiST scan of area_pieces, ST_Intersects() on each piece whose box holds
 * the point, a join to areas, a sub-plan for whether the area has children
 * and a sort.  It was about a tenth of a submit(), most of it executor
 * start-up and index access, and the answer depends on a few hundred rows
 * that change a few times a year.  Here it is a grid lookup and a point in
 * polygon test, without a query.
 *
 * The answer is the query's: the deepest area among the pieces that
 * intersect the point, ties to the smaller code (ORDER BY depth DESC,
 * area_code, in the database's collation: the areas are numbered in that
 * order when the map is loaded).  A point intersects a piece when it lies
 * inside it or on its boundary, decided as PostGIS decides ST_Intersects()
 * of a polygon and a point: the winding number of each ring, with the same
 * arithmetic, so that a point exactly on an edge or a vertex is on the
 * boundary here exactly when it is there (a boundary shared by two areas
 * gives the smaller code).  test/areas_test.sql compares the two on random
 * points, on vertices and on edges.
 *
 * The map is loaded with the latest snapshot, as refcache.c loads the
 * reference data, and again whenever that data is loaded again: areas is
 * one of its tables, and area_pieces changes only with areas (by its
 * trigger, in the same statement).  A map of more than AREAMAP_MAX_POINTS
 * vertices, or whose grid would hold more than AREAMAP_MAX_ENTRIES entries,
 * is not kept, and the setting workorder.locate_map turns the map off;
 * locate_point() then runs the query.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "access/xact.h"
#include "catalog/namespace.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "port/pg_bswap.h"
#include "storage/proc.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/float.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"

#include "workorder.h"

/* Larger maps stay in the database (16 bytes a vertex: 64 MB). */
#define AREAMAP_MAX_POINTS	(4 * 1024 * 1024)

/*
 * So does a map whose grid would list more pieces than this in its cells (4
 * bytes an entry: 64 MB).  Pieces whose boxes overlap many cells (areas that
 * overlap, or long thin ones) make the entries grow with the square of their
 * number, long before their vertices are many.
 */
#define AREAMAP_MAX_ENTRIES	(16 * 1024 * 1024)

/* The grid has about this many pieces' boxes per cell, at most 1024 cells a side. */
#define AREAMAP_PIECES_PER_CELL	2
#define AREAMAP_MAX_GRID		1024

/* A piece: its area, depth, box and rings (indexes into map.ring_start). */
typedef struct MapPiece
{
	int32		area;			/* index into map.areas */
	int32		depth;
	double		xmin,
				ymin,
				xmax,
				ymax;
	int32		first_ring;
	int32		nrings;			/* the exterior ring first, then its holes */
} MapPiece;

/* The map, and whether and for which reference data it was loaded. */
typedef struct AreaMap
{
	MemoryContext context;
	bool		valid;			/* loaded (possibly as too large to keep) */
	bool		too_large;
	uint64		reference_version;
	CacheLoad	loaded_with;	/* the snapshot it was read with (parallel mode) */
	int			nareas;
	MapArea    *areas;			/* in the collation order of their codes */
	int			npieces;
	MapPiece   *pieces;
	int32	   *ring_start;		/* the first point of each ring, and one past the last ring */
	double	   *points;			/* x, y pairs */
	int			grid_side;		/* cells a side; 0: no pieces */
	double		grid_x0,
				grid_y0,
				cell_width,
				cell_height;
	int32	   *cell_start;		/* grid_side * grid_side + 1 offsets into cell_pieces */
	int32	   *cell_pieces;
} AreaMap;

static AreaMap map = {NULL};

/* The setting workorder.locate_map. */
static bool areamap_enabled = true;

static void areamap_ensure(void);
static void areamap_load(void);
static void areamap_load_areas(Snapshot snapshot);
static void areamap_load_pieces(Snapshot snapshot);
static const char *areamap_postgis_schema(void);
static const char *wkb_polygon(const char *wkb, const char *end, MapPiece *piece, int32 *nrings_total,
							   int64 *npoints_total, bool count_only);
static void areamap_build_grid(void);
static int	areamap_cell(double v, double origin, double size);
static int	ring_side(const double *ring, int npoints, double x, double y);
static bool piece_intersects(const MapPiece *piece, double x, double y);

/*
 * workorder_areamap_init defines the setting workorder.locate_map.  Called
 * from _PG_init.
 */
void
workorder_areamap_init(void)
{
	DefineCustomBoolVariable("workorder.locate_map",
							 "Whether locate() finds a point's area in a per-backend copy of the map.",
							 "When off, it runs a query on workorder.area_pieces instead; the answers are the same.",
							 &areamap_enabled,
							 true,
							 PGC_USERSET,
							 0,
							 NULL, NULL, NULL);
}

/*
 * areamap_ensure makes sure the map matches the reference data: it loads it
 * when it never was, when the reference data was loaded again since, or
 * when it was loaded in parallel mode with a snapshot that is no longer the
 * active one (workorder_cache_load_current).
 */
static void
areamap_ensure(void)
{
	uint64		version = workorder_reference_version();

	if (map.valid && map.reference_version == version && workorder_cache_load_current(&map.loaded_with))
		return;
	areamap_load();
	map.reference_version = version;
}

/*
 * areamap_load reads the areas and the pieces into a fresh map.  SPI is
 * connected here, not by the caller.
 */
static void
areamap_load(void)
{
	bool		provisional = IsInParallelMode();
	Snapshot	snapshot;

	map.valid = false;
	if (map.context == NULL)
		map.context = AllocSetContextCreate(CacheMemoryContext, "workorder area map", ALLOCSET_DEFAULT_SIZES);
	else
		MemoryContextReset(map.context);
	map.nareas = map.npieces = map.grid_side = 0;
	map.too_large = false;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	/* No new snapshot may be taken in parallel mode: the map lasts while the active one does then. */
	snapshot = RegisterSnapshot(provisional ? GetActiveSnapshot() : GetLatestSnapshot());
	/* An error releases the snapshot with the transaction's resource owner. */
	areamap_load_areas(snapshot);
	areamap_load_pieces(snapshot);
	UnregisterSnapshot(snapshot);
	SPI_finish();
	if (!map.too_large)
		areamap_build_grid();
	if (map.too_large)
	{
		/* Nothing of it is used: give its memory back. */
		MemoryContextReset(map.context);
		map.nareas = map.npieces = map.grid_side = 0;
	}
	workorder_cache_load_mark(&map.loaded_with, provisional);
	map.valid = true;
}

/*
 * areamap_postgis_schema returns the quoted name of PostGIS's schema, that of
 * the type of area_pieces.geom: PostGIS is relocatable, and the caller's
 * search_path must not matter.
 */
static const char *
areamap_postgis_schema(void)
{
	Oid			pieces = get_relname_relid("area_pieces", get_namespace_oid("workorder", false));
	AttrNumber	geom;

	if (!OidIsValid(pieces) || (geom = get_attnum(pieces, "geom")) == InvalidAttrNumber)
		elog(ERROR, "area map: workorder.area_pieces.geom does not exist");
	return quote_identifier(get_namespace_name(workorder_type_namespace(get_atttype(pieces, geom))));
}

/*
 * areamap_load_areas reads what locate() returns of each area, in the order
 * of their codes.
 */
static void
areamap_load_areas(Snapshot snapshot)
{
	uint64		n = workorder_cache_query(
		"SELECT a.code, a.name, a.level, a.in_jurisdiction, a.path, a.path_names, "
		"EXISTS (SELECT 1 FROM workorder.areas c WHERE c.parent_code OPERATOR(pg_catalog.=) a.code) "
		"FROM workorder.areas a ORDER BY a.code", snapshot);
	MemoryContext old = MemoryContextSwitchTo(map.context);

	map.areas = palloc0(sizeof(MapArea) * Max(n, 1));
	for (uint64 i = 0; i < n; i++)
	{
		HeapTuple	row = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		MapArea    *area = &map.areas[i];
		bool		isnull;

		area->code = datumCopy(SPI_getbinval(row, desc, 1, &isnull), false, -1);
		area->name = datumCopy(SPI_getbinval(row, desc, 2, &isnull), false, -1);
		area->level = SPI_getbinval(row, desc, 3, &isnull);
		area->in_jurisdiction = SPI_getbinval(row, desc, 4, &isnull);
		area->path = datumCopy(SPI_getbinval(row, desc, 5, &isnull), false, -1);
		area->path_names = datumCopy(SPI_getbinval(row, desc, 6, &isnull), false, -1);
		area->has_children = DatumGetBool(SPI_getbinval(row, desc, 7, &isnull));
	}
	map.nareas = (int) n;
	MemoryContextSwitchTo(old);
}

/*
 * areamap_load_pieces reads every piece with the number of its area (its
 * place in the order of the codes) and its polygon as WKB, unless the
 * pieces have more than AREAMAP_MAX_POINTS vertices in all.
 */
static void
areamap_load_pieces(Snapshot snapshot)
{
	uint64		n;
	int32		nrings = 0;
	int64		npoints = 0;
	int32		ring = 0;
	int64		point = 0;
	MemoryContext old;

	n = workorder_cache_query(psprintf(
		"SELECT a.n::integer, p.depth, %s.ST_AsBinary(p.geom, 'NDR') "
		"FROM workorder.area_pieces p "
		"JOIN (SELECT x.code, (pg_catalog.row_number() OVER (ORDER BY x.code) OPERATOR(pg_catalog.-) 1) AS n "
		"      FROM workorder.areas x) a ON a.code OPERATOR(pg_catalog.=) p.area_code",
		areamap_postgis_schema()),
		snapshot);

	/* First count, to allocate once (and not at all when it is too large). */
	for (uint64 i = 0; i < n; i++)
	{
		bool		isnull;
		bytea	   *wkb = DatumGetByteaPP(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 3, &isnull));
		MapPiece	counted;

		(void) wkb_polygon(VARDATA_ANY(wkb), VARDATA_ANY(wkb) + VARSIZE_ANY_EXHDR(wkb), &counted, &nrings,
						   &npoints, true);
		if (npoints > AREAMAP_MAX_POINTS)
		{
			map.too_large = true;
			return;
		}
	}

	old = MemoryContextSwitchTo(map.context);
	map.pieces = palloc0(sizeof(MapPiece) * Max(n, 1));
	map.ring_start = palloc(sizeof(int32) * (nrings + 1));
	map.points = palloc(sizeof(double) * 2 * Max(npoints, 1));
	MemoryContextSwitchTo(old);

	for (uint64 i = 0; i < n; i++)
	{
		HeapTuple	row = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;
		bytea	   *wkb = DatumGetByteaPP(SPI_getbinval(row, desc, 3, &isnull));
		MapPiece   *piece = &map.pieces[i];

		piece->area = DatumGetInt32(SPI_getbinval(row, desc, 1, &isnull));
		piece->depth = DatumGetInt32(SPI_getbinval(row, desc, 2, &isnull));
		piece->first_ring = ring;
		(void) wkb_polygon(VARDATA_ANY(wkb), VARDATA_ANY(wkb) + VARSIZE_ANY_EXHDR(wkb), piece, &ring, &point,
						   false);
	}
	map.ring_start[ring] = (int32) point;
	map.npieces = (int) n;
}

/*
 * wkb_read_uint32 reads a 4-byte unsigned integer of WKB in the given byte
 * order, or raises an error at the end of the data.
 */
static const char *
wkb_read_uint32(const char *p, const char *end, bool little_endian, uint32 *value)
{
	uint32		v;

	if (end - p < 4)
		elog(ERROR, "area map: a piece's WKB ends early");
	memcpy(&v, p, 4);
#ifdef WORDS_BIGENDIAN
	if (little_endian)
		v = pg_bswap32(v);
#else
	if (!little_endian)
		v = pg_bswap32(v);
#endif
	*value = v;
	return p + 4;
}

/*
 * wkb_read_double reads an 8-byte float of WKB in the given byte order.
 */
static const char *
wkb_read_double(const char *p, const char *end, bool little_endian, double *value)
{
	uint64		v;

	if (end - p < 8)
		elog(ERROR, "area map: a piece's WKB ends early");
	memcpy(&v, p, 8);
#ifdef WORDS_BIGENDIAN
	if (little_endian)
		v = pg_bswap64(v);
#else
	if (!little_endian)
		v = pg_bswap64(v);
#endif
	memcpy(value, &v, 8);
	return p + 8;
}

/*
 * wkb_polygon reads one 2D polygon of WKB.  Counting (count_only), it adds
 * its rings and points to the totals; else it stores its rings from ring
 * *nrings_total and its points from point *npoints_total, advances both,
 * and fills the piece's box and ring count.  Anything but a 2D polygon is
 * an error: area_pieces holds geometry(Polygon, 4326), without Z or M.
 */
static const char *
wkb_polygon(const char *p, const char *end, MapPiece *piece, int32 *nrings_total, int64 *npoints_total,
			bool count_only)
{
	bool		little_endian;
	uint32		type;
	uint32		nrings;

	if (end - p < 1)
		elog(ERROR, "area map: a piece's WKB is empty");
	little_endian = (*p++ == 1);
	p = wkb_read_uint32(p, end, little_endian, &type);
	if (type != 3)
		elog(ERROR, "area map: a piece is not a 2D polygon (WKB type %u)", type);
	p = wkb_read_uint32(p, end, little_endian, &nrings);
	if (!count_only)
	{
		piece->nrings = (int32) nrings;
		piece->xmin = piece->ymin = get_float8_infinity();
		piece->xmax = piece->ymax = -get_float8_infinity();
	}
	for (uint32 r = 0; r < nrings; r++)
	{
		uint32		npoints;

		p = wkb_read_uint32(p, end, little_endian, &npoints);
		if (count_only)
		{
			if ((uint64) (end - p) < (uint64) npoints * 16)
				elog(ERROR, "area map: a piece's WKB ends early");
			p += (size_t) npoints * 16;
			*npoints_total += npoints;
			(*nrings_total)++;
			continue;
		}
		map.ring_start[(*nrings_total)++] = (int32) *npoints_total;
		for (uint32 i = 0; i < npoints; i++)
		{
			double		x,
						y;

			p = wkb_read_double(p, end, little_endian, &x);
			p = wkb_read_double(p, end, little_endian, &y);
			map.points[2 * *npoints_total] = x;
			map.points[2 * *npoints_total + 1] = y;
			(*npoints_total)++;
			/* The box of the exterior ring is the piece's. */
			if (r == 0)
			{
				piece->xmin = Min(piece->xmin, x);
				piece->xmax = Max(piece->xmax, x);
				piece->ymin = Min(piece->ymin, y);
				piece->ymax = Max(piece->ymax, y);
			}
		}
	}
	return p;
}

/*
 * areamap_cell returns the cell of a coordinate along one side of the grid,
 * clamped to the grid: the same function places a piece's box and a point,
 * so that a point inside a box always falls in one of the box's cells.
 */
static int
areamap_cell(double v, double origin, double size)
{
	double		cell = floor((v - origin) / size);

	if (!(cell >= 0))			/* NaN too */
		return 0;
	if (cell > map.grid_side - 1)
		return map.grid_side - 1;
	return (int) cell;
}

/*
 * areamap_build_grid lays a square grid over the pieces' extent and lists in
 * each cell the pieces whose box overlaps it, in two passes (count, fill).
 */
static void
areamap_build_grid(void)
{
	double		xmin = get_float8_infinity(),
				ymin = get_float8_infinity(),
				xmax = -get_float8_infinity(),
				ymax = -get_float8_infinity();
	int			side;
	int			ncells;
	int32	   *fill;
	int64		entries = 0;

	map.grid_side = 0;
	for (int i = 0; i < map.npieces; i++)
	{
		if (map.pieces[i].nrings == 0)
			continue;
		xmin = Min(xmin, map.pieces[i].xmin);
		ymin = Min(ymin, map.pieces[i].ymin);
		xmax = Max(xmax, map.pieces[i].xmax);
		ymax = Max(ymax, map.pieces[i].ymax);
	}
	if (!(xmin <= xmax && ymin <= ymax))
		return;

	side = (int) ceil(sqrt((double) map.npieces / AREAMAP_PIECES_PER_CELL));
	side = Max(1, Min(side, AREAMAP_MAX_GRID));
	map.grid_side = side;
	map.grid_x0 = xmin;
	map.grid_y0 = ymin;
	/* A degenerate extent (one point, one line) still has cells of some size. */
	map.cell_width = (xmax > xmin) ? (xmax - xmin) / side : 1;
	map.cell_height = (ymax > ymin) ? (ymax - ymin) / side : 1;
	ncells = side * side;

	map.cell_start = MemoryContextAllocZero(map.context, sizeof(int32) * (ncells + 1));
	for (int pass = 0; pass < 2; pass++)
	{
		if (pass == 1)
		{
			/* Offsets from the counts; fill keeps each cell's next free slot. */
			for (int c = 0; c < ncells; c++)
				map.cell_start[c + 1] += map.cell_start[c];
			entries = map.cell_start[ncells];
			map.cell_pieces = MemoryContextAlloc(map.context, sizeof(int32) * Max(entries, 1));
			fill = MemoryContextAlloc(map.context, sizeof(int32) * ncells);
			memcpy(fill, map.cell_start, sizeof(int32) * ncells);
		}
		for (int i = 0; i < map.npieces; i++)
		{
			const MapPiece *piece = &map.pieces[i];
			int			cx0,
						cx1,
						cy0,
						cy1;

			if (piece->nrings == 0)
				continue;
			cx0 = areamap_cell(piece->xmin, map.grid_x0, map.cell_width);
			cx1 = areamap_cell(piece->xmax, map.grid_x0, map.cell_width);
			cy0 = areamap_cell(piece->ymin, map.grid_y0, map.cell_height);
			cy1 = areamap_cell(piece->ymax, map.grid_y0, map.cell_height);
			for (int cy = cy0; cy <= cy1; cy++)
				for (int cx = cx0; cx <= cx1; cx++)
				{
					int			c = cy * side + cx;

					if (pass == 0)
						map.cell_start[c + 1]++;
					else
						map.cell_pieces[fill[c]++] = i;
				}
			if (pass == 0)
			{
				/* Counted before any offset is summed, so no int32 can wrap. */
				entries += (int64) (cx1 - cx0 + 1) * (cy1 - cy0 + 1);
				if (entries > AREAMAP_MAX_ENTRIES)
				{
					map.too_large = true;
					map.grid_side = 0;
					return;
				}
			}
		}
	}
}

/*
 * ring_side says where a point lies against a closed ring: 1 inside, 0 on
 * it, -1 outside.  The winding number, with PostGIS's arithmetic: the side
 * of the point against a segment is the cross product
 * (x2 - x1)(y - y1) - (x - x1)(y2 - y1), compared with zero exactly; a
 * point with side zero within the segment's box is on the ring; segments
 * of zero length are skipped.
 */
static int
ring_side(const double *ring, int npoints, double x, double y)
{
	int			winding = 0;

	for (int i = 0; i + 1 < npoints; i++)
	{
		double		x1 = ring[2 * i],
					y1 = ring[2 * i + 1],
					x2 = ring[2 * i + 2],
					y2 = ring[2 * i + 3];
		double		side;

		if (x1 == x2 && y1 == y2)
			continue;
		side = (x2 - x1) * (y - y1) - (x - x1) * (y2 - y1);
		if (side == 0.0 &&
			x >= Min(x1, x2) && x <= Max(x1, x2) && y >= Min(y1, y2) && y <= Max(y1, y2))
			return 0;
		if (y1 <= y && y < y2 && side > 0)
			winding++;
		else if (y2 <= y && y < y1 && side < 0)
			winding--;
	}
	return winding != 0 ? 1 : -1;
}

/*
 * piece_intersects says whether a point lies in a piece or on its boundary:
 * inside or on the exterior ring, and not strictly inside a hole.
 */
static bool
piece_intersects(const MapPiece *piece, double x, double y)
{
	for (int r = 0; r < piece->nrings; r++)
	{
		int32		ring = piece->first_ring + r;
		int			npoints = map.ring_start[ring + 1] - map.ring_start[ring];
		int			side = ring_side(&map.points[2 * map.ring_start[ring]], npoints, x, y);

		if (side == 0)
			return true;		/* on an edge of the exterior ring or of a hole */
		if (r == 0 && side < 0)
			return false;		/* outside */
		if (r > 0 && side > 0)
			return false;		/* inside a hole */
	}
	return piece->nrings > 0;
}

/*
 * workorder_areamap_locate finds the area that contains the point (x, y) of
 * SRID 4326: the deepest whose pieces intersect it, ties to the smaller
 * code.  It returns -1 when the map is off or too large to keep (the caller
 * runs its query), 0 when no piece intersects the point, and 1 with *area
 * set (the map's own copy, valid until the next call).
 */
int
workorder_areamap_locate(double x, double y, const MapArea **area)
{
	const MapPiece *best = NULL;
	int			cell;

	/*
	 * locate_point() may be called with a point nobody checked: what is not
	 * finite is left to the query (and its errors), as before the map.
	 */
	if (!areamap_enabled || isnan(x) || isnan(y) || isinf(x) || isinf(y))
		return -1;
	areamap_ensure();
	if (map.too_large)
		return -1;
	if (map.grid_side == 0 || x < map.grid_x0 || y < map.grid_y0)
		return 0;
	cell = areamap_cell(y, map.grid_y0, map.cell_height) * map.grid_side +
		areamap_cell(x, map.grid_x0, map.cell_width);
	for (int32 k = map.cell_start[cell]; k < map.cell_start[cell + 1]; k++)
	{
		const MapPiece *piece = &map.pieces[map.cell_pieces[k]];

		if (x < piece->xmin || x > piece->xmax || y < piece->ymin || y > piece->ymax)
			continue;
		if (best != NULL &&
			(piece->depth < best->depth || (piece->depth == best->depth && piece->area >= best->area)))
			continue;
		if (piece_intersects(piece, x, y))
			best = piece;
	}
	if (best == NULL)
		return 0;
	*area = &map.areas[best->area];
	return 1;
}
