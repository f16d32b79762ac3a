/*-------------------------------------------------------------------------
 *
 * geodesic.c
 *	  The distance between two points on the WGS 84 ellipsoid, in metres,
 *	  for dedup's scoring of candidates.
 *
 * Dedup scores each candidate on its distance from the report, which is
 * ST_Distance(location::geography, point::geography) by definition (README,
 * sql/install/62_dedup.sql).  Called through fmgr for each of up to 50
 * candidates, PostGIS casts both points to geography, builds a circle tree
 * for each, and initialises PROJ's geodesic for each call: that was a third
 * of the cost of scoring 50 candidates (bench/dedup, perf), far more than
 * the arithmetic.
 *
 * Here the arithmetic alone: Vincenty's inverse formula (T. Vincenty,
 * "Direct and inverse solutions of geodesics on the ellipsoid with
 * application of nested equations", Survey Review 23(176), 1975), on the
 * WGS 84 ellipsoid of SRID 4326, which is what geography measures on.  It
 * agrees with PostGIS's geodesic (Karney's, through PROJ) within 10
 * micrometres at the distances dedup compares (test/dedup_test.sql checks
 * it against ST_Distance on points from a metre to 50 km apart all over the
 * earth; 0.6 micrometres at most were measured, on 2000 pairs).  Vincenty's
 * iteration does not converge for nearly antipodal points; the caller then
 * asks PostGIS.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "workorder.h"

/* WGS 84: the semi-major axis (m) and the flattening of SRID 4326's ellipsoid. */
#define WGS84_A					6378137.0
#define WGS84_F					(1.0 / 298.257223563)
#define WGS84_B					(WGS84_A * (1.0 - WGS84_F))

/*
 * The iteration on lambda stops below this change.  The distance is then
 * computed from the lambda before the last step, so the step bounds its
 * error: 1e-13 radians is 0.6 micrometres on the ground (1e-12, the usual
 * choice, allowed 6 near the equator; the next step is some 300 times
 * smaller, so this costs at most one more iteration).
 */
#define VINCENTY_EPSILON		1e-13
#define VINCENTY_MAX_ITERATIONS 100

/*
 * workorder_geodesic_distance sets *metres to the length of the geodesic
 * between (lon1, lat1) and (lon2, lat2), in degrees of SRID 4326, on the
 * WGS 84 ellipsoid, and returns true; false when the iteration does not
 * converge (nearly antipodal points) or a coordinate is not finite, with
 * *metres untouched.
 */
bool
workorder_geodesic_distance(double lon1, double lat1, double lon2, double lat2, double *metres)
{
	double		L;
	double		U1;
	double		U2;
	double		sinU1;
	double		cosU1;
	double		sinU2;
	double		cosU2;
	double		lambda;
	double		sinSigma = 0.0;
	double		cosSigma = 0.0;
	double		sigma = 0.0;
	double		cosSqAlpha = 0.0;
	double		cos2SigmaM = 0.0;
	double		uSq;
	double		A;
	double		B;
	double		deltaSigma;
	int			i;

	if (!isfinite(lon1) || !isfinite(lat1) || !isfinite(lon2) || !isfinite(lat2))
		return false;
	L = (lon2 - lon1) * (M_PI / 180.0);
	U1 = atan((1.0 - WGS84_F) * tan(lat1 * (M_PI / 180.0)));
	U2 = atan((1.0 - WGS84_F) * tan(lat2 * (M_PI / 180.0)));
	sinU1 = sin(U1);
	cosU1 = cos(U1);
	sinU2 = sin(U2);
	cosU2 = cos(U2);

	lambda = L;
	for (i = 0; i < VINCENTY_MAX_ITERATIONS; i++)
	{
		double		sinLambda = sin(lambda);
		double		cosLambda = cos(lambda);
		double		sinAlpha;
		double		C;
		double		previous;
		double		t1 = cosU2 * sinLambda;
		double		t2 = cosU1 * sinU2 - sinU1 * cosU2 * cosLambda;

		sinSigma = sqrt(t1 * t1 + t2 * t2);
		if (sinSigma == 0.0)
		{
			*metres = 0.0;		/* the same point */
			return true;
		}
		cosSigma = sinU1 * sinU2 + cosU1 * cosU2 * cosLambda;
		sigma = atan2(sinSigma, cosSigma);
		sinAlpha = cosU1 * cosU2 * sinLambda / sinSigma;
		cosSqAlpha = 1.0 - sinAlpha * sinAlpha;
		/* On the equator cos^2(alpha) is 0 and so is the term. */
		cos2SigmaM = (cosSqAlpha != 0.0) ? cosSigma - 2.0 * sinU1 * sinU2 / cosSqAlpha : 0.0;
		C = WGS84_F / 16.0 * cosSqAlpha * (4.0 + WGS84_F * (4.0 - 3.0 * cosSqAlpha));
		previous = lambda;
		lambda = L + (1.0 - C) * WGS84_F * sinAlpha *
			(sigma + C * sinSigma * (cos2SigmaM + C * cosSigma * (-1.0 + 2.0 * cos2SigmaM * cos2SigmaM)));
		if (fabs(lambda - previous) < VINCENTY_EPSILON)
			break;
	}
	if (i == VINCENTY_MAX_ITERATIONS)
		return false;

	uSq = cosSqAlpha * (WGS84_A * WGS84_A - WGS84_B * WGS84_B) / (WGS84_B * WGS84_B);
	A = 1.0 + uSq / 16384.0 * (4096.0 + uSq * (-768.0 + uSq * (320.0 - 175.0 * uSq)));
	B = uSq / 1024.0 * (256.0 + uSq * (-128.0 + uSq * (74.0 - 47.0 * uSq)));
	deltaSigma = B * sinSigma *
		(cos2SigmaM + B / 4.0 *
		 (cosSigma * (-1.0 + 2.0 * cos2SigmaM * cos2SigmaM) -
		  B / 6.0 * cos2SigmaM * (-3.0 + 4.0 * sinSigma * sinSigma) * (-3.0 + 4.0 * cos2SigmaM * cos2SigmaM)));
	*metres = WGS84_B * A * (sigma - deltaSigma);
	return true;
}
