/*-------------------------------------------------------------------------
 *
 * clock_shift.c
 *	  A preload library for scenario tests: it moves the wall clock that
 *	  gettimeofday() and clock_gettime(CLOCK_REALTIME) report by the number of
 *	  seconds written in the file $WORKORDER_CLOCK_SHIFT_FILE, read at every
 *	  call, so a test can set a running cluster's clock back or forward, as an
 *	  administrator or NTP would, and see what the server does.
 *
 * Build: cc -shared -fPIC -o clock_shift.so clock_shift.c -ldl
 * Use:   LD_PRELOAD=.../clock_shift.so WORKORDER_CLOCK_SHIFT_FILE=... pg_ctl start
 * No file, or no number in it, is no shift.  The monotonic clock, by which
 * PostgreSQL times its waits, is left alone, as a real clock step leaves it.
 *
 *-------------------------------------------------------------------------
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static long clock_shift_seconds(void);

/* clock_shift_seconds reads the shift, in seconds, from the file. */
static long
clock_shift_seconds(void)
{
	const char *path = getenv("WORKORDER_CLOCK_SHIFT_FILE");
	char		buffer[32];
	ssize_t		length;
	int			fd;

	if (path == NULL || (fd = open(path, O_RDONLY)) < 0)
		return 0;
	length = read(fd, buffer, sizeof(buffer) - 1);
	close(fd);
	if (length <= 0)
		return 0;
	buffer[length] = '\0';
	return strtol(buffer, NULL, 10);
}

/* gettimeofday is the real one's answer, shifted. */
int
gettimeofday(struct timeval *tv, void *tz)
{
	static int	(*real_gettimeofday) (struct timeval *, void *) = NULL;
	int			result;

	if (real_gettimeofday == NULL)
		real_gettimeofday = (int (*) (struct timeval *, void *)) dlsym(RTLD_NEXT, "gettimeofday");
	result = real_gettimeofday(tv, tz);
	if (result == 0)
		tv->tv_sec += clock_shift_seconds();
	return result;
}

/* clock_gettime is the real one's answer, shifted for the wall clock only. */
int
clock_gettime(clockid_t clock_id, struct timespec *tp)
{
	static int	(*real_clock_gettime) (clockid_t, struct timespec *) = NULL;
	int			result;

	if (real_clock_gettime == NULL)
		real_clock_gettime = (int (*) (clockid_t, struct timespec *)) dlsym(RTLD_NEXT, "clock_gettime");
	result = real_clock_gettime(clock_id, tp);
	if (result == 0 && clock_id == CLOCK_REALTIME)
		tp->tv_sec += clock_shift_seconds();
	return result;
}
