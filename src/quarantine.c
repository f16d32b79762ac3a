/*-------------------------------------------------------------------------
 *
 * quarantine.c
 *	  What a database's worker remembers across crashes: the task it was
 *	  running when it died, and the tasks it keeps dying in.
 *
 * An error in a task is caught (worker.c), but a crash is not: a task that
 * makes its backend die by a signal (a segmentation fault in C code, the
 * kernel's OOM killer) makes the postmaster reset the whole cluster, every
 * session cut off.  The launcher then starts the worker again, which finds
 * the same task due and dies again: the cluster would restart every few
 * seconds, for ever.
 *
 * So the worker writes the name of the task it is about to run into a marker
 * file, and removes the file when the task is over, however it ended (done,
 * failed with an error, or the worker stopped by SIGTERM or by the
 * postmaster's SIGQUIT, which is how every process leaves when another one
 * crashed).  A worker that starts and finds the marker knows its predecessor
 * died in that task, of its own death, and counts it.  A task that the
 * worker died in QUARANTINE_AFTER_DEATHS times in a row is not run for
 * QUARANTINE_FIRST_SECONDS, twice as long after each further death, at most
 * QUARANTINE_MAX_SECONDS; each time the worker logs a WARNING, and writes a
 * failed run to workorder.worker_runs.  A task that ends without the worker
 * dying is forgiven: its count starts again.  The rest of the work goes on.
 *
 * The files live in the data directory, beside pg_prewarm's: for database
 * oid D, workorder_worker_D.running (the task running) and
 * workorder_worker_D.deaths (one line per task with deaths: the count, the
 * end of its quarantine in microseconds since 2000, the task).  Removing
 * the .deaths file releases every quarantined task of the database at the
 * worker's next pass.  DROP DATABASE removes both (hooks.c), so that a new
 * database that gets the same oid starts clean.
 *
 * workorder.run_due_work() (a pg_cron job) runs the tasks without the worker
 * and without this guard.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <unistd.h>

#include "miscadmin.h"
#include "nodes/pg_list.h"
#include "storage/fd.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "bgworkers.h"

/* Deaths in a row in one task after which it is quarantined. */
#define QUARANTINE_AFTER_DEATHS		2

/* The first quarantine, and the longest, in seconds. */
#define QUARANTINE_FIRST_SECONDS	(10 * 60)
#define QUARANTINE_MAX_SECONDS		(24 * 60 * 60)

/* A task the worker died in, as the .deaths file keeps it. */
typedef struct QuarantineEntry
{
	char	   *task;
	int			deaths;			/* deaths in a row in this task */
	TimestampTz until;			/* not run before this (0: not quarantined) */
	bool		reported;		/* this process has logged the quarantine */
} QuarantineEntry;

static void quarantine_paths(Oid dboid, char *running, char *deaths);
static void quarantine_read(void);
static void quarantine_write(void);
static QuarantineEntry *quarantine_find(const char *task);
static void quarantine_count_death(const char *task);

/* The files of this worker's database (set by workorder_quarantine_start). */
static char running_path[MAXPGPATH];
static char deaths_path[MAXPGPATH];

/* The .deaths file as last read, in TopMemoryContext. */
static List *entries = NIL;

/* A task is running: the marker file exists (for the SIGQUIT handler). */
static volatile sig_atomic_t marker_written = false;

/*
 * The marker could not be written (a read-only data directory): said once
 * at WARNING, then at DEBUG1 until a write succeeds, not for every task of
 * every pass.
 */
static bool marker_failure_reported = false;

/*
 * quarantine_paths writes the names of a database's two files into running
 * and deaths (each MAXPGPATH long).
 */
static void
quarantine_paths(Oid dboid, char *running, char *deaths)
{
	snprintf(running, MAXPGPATH, "workorder_worker_%u.running", dboid);
	snprintf(deaths, MAXPGPATH, "workorder_worker_%u.deaths", dboid);
}

/*
 * workorder_quarantine_start is called once by a worker that has connected
 * to its database: when the marker file of a task is there, the worker
 * before it died in that task, and the death is counted (and the task
 * quarantined after enough of them).
 */
void
workorder_quarantine_start(Oid dboid)
{
	FILE	   *f;
	char		task[NAMEDATALEN * 4];

	quarantine_paths(dboid, running_path, deaths_path);
	quarantine_read();

	f = AllocateFile(running_path, "r");
	if (f == NULL)
		return;
	if (fgets(task, sizeof(task), f) != NULL)
	{
		task[strcspn(task, "\n")] = '\0';
		if (task[0] != '\0')
			quarantine_count_death(task);
	}
	FreeFile(f);
	if (unlink(running_path) != 0 && errno != ENOENT)
		ereport(WARNING,
				(errcode_for_file_access(),
				 errmsg("could not remove file \"%s\": %m", running_path)));
}

/*
 * quarantine_count_death counts a death of the worker in a task and, from
 * the QUARANTINE_AFTER_DEATHS-th in a row, quarantines the task.
 */
static void
quarantine_count_death(const char *task)
{
	QuarantineEntry *entry = quarantine_find(task);

	if (entry == NULL)
	{
		MemoryContext oldcxt = MemoryContextSwitchTo(TopMemoryContext);

		entry = palloc0(sizeof(QuarantineEntry));
		entry->task = pstrdup(task);
		entries = lappend(entries, entry);
		MemoryContextSwitchTo(oldcxt);
	}
	entry->deaths++;
	if (entry->deaths >= QUARANTINE_AFTER_DEATHS)
	{
		int64		seconds = QUARANTINE_FIRST_SECONDS;
		int			doublings;

		for (doublings = QUARANTINE_AFTER_DEATHS; doublings < entry->deaths &&
			 seconds < QUARANTINE_MAX_SECONDS; doublings++)
			seconds *= 2;
		seconds = Min(seconds, QUARANTINE_MAX_SECONDS);
		entry->until = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), seconds * 1000);
		ereport(WARNING,
				(errmsg("workorder worker: task \"%s\" is not run until %s: the worker died in it %d times in a row",
						task, timestamptz_to_str(entry->until), entry->deaths),
				 errdetail("The worker died while the task ran (a crash, or a kill), and the whole cluster was reset each time."),
				 errhint("Find the cause in the server log.  Remove the file \"%s\" from the data directory to run the task again at once.",
						 deaths_path)));
	}
	else
		ereport(LOG,
				(errmsg("workorder worker: the previous worker died while task \"%s\" ran", task)));
	quarantine_write();
}

/*
 * quarantine_find returns the entry of a task, or NULL.
 */
static QuarantineEntry *
quarantine_find(const char *task)
{
	ListCell   *lc;

	foreach(lc, entries)
	{
		QuarantineEntry *entry = lfirst(lc);

		if (strcmp(entry->task, task) == 0)
			return entry;
	}
	return NULL;
}

/*
 * quarantine_read reads the .deaths file into entries (none when there is no
 * file), keeping what this process already reported.
 */
static void
quarantine_read(void)
{
	List	   *old = entries;
	FILE	   *f;
	char		line[NAMEDATALEN * 4 + 64];
	MemoryContext oldcxt;
	ListCell   *lc_old;

	entries = NIL;
	f = AllocateFile(deaths_path, "r");
	oldcxt = MemoryContextSwitchTo(TopMemoryContext);
	while (f != NULL && fgets(line, sizeof(line), f) != NULL)
	{
		int			deaths;
		long long	until;
		int			consumed = 0;
		QuarantineEntry *entry;
		ListCell   *lc;

		line[strcspn(line, "\n")] = '\0';
		if (sscanf(line, "%d %lld %n", &deaths, &until, &consumed) < 2 || consumed == 0 ||
			line[consumed] == '\0')
			continue;
		entry = palloc0(sizeof(QuarantineEntry));
		entry->task = pstrdup(line + consumed);
		entry->deaths = deaths;
		entry->until = (TimestampTz) until;
		foreach(lc, old)
		{
			QuarantineEntry *was = lfirst(lc);

			if (strcmp(was->task, entry->task) == 0 && was->until == entry->until)
				entry->reported = was->reported;
		}
		entries = lappend(entries, entry);
	}
	MemoryContextSwitchTo(oldcxt);
	if (f != NULL)
		FreeFile(f);
	foreach(lc_old, old)
		pfree(((QuarantineEntry *) lfirst(lc_old))->task);
	list_free_deep(old);
}

/*
 * quarantine_write writes entries to the .deaths file (through a new file
 * renamed over it, so that a reader never sees half of it), or removes the
 * file when there are none.  A failure is a WARNING: the guard is lost, the
 * work goes on.
 */
static void
quarantine_write(void)
{
	char		temp_path[MAXPGPATH];
	FILE	   *f;
	ListCell   *lc;

	if (entries == NIL)
	{
		if (unlink(deaths_path) != 0 && errno != ENOENT)
			ereport(WARNING,
					(errcode_for_file_access(),
					 errmsg("could not remove file \"%s\": %m", deaths_path)));
		return;
	}
	snprintf(temp_path, sizeof(temp_path), "%s.tmp", deaths_path);
	f = AllocateFile(temp_path, "w");
	if (f == NULL)
	{
		ereport(WARNING,
				(errcode_for_file_access(),
				 errmsg("could not create file \"%s\": %m", temp_path)));
		return;
	}
	foreach(lc, entries)
	{
		QuarantineEntry *entry = lfirst(lc);

		fprintf(f, "%d %lld %s\n", entry->deaths, (long long) entry->until, entry->task);
	}
	if (FreeFile(f) != 0 || rename(temp_path, deaths_path) != 0)
		ereport(WARNING,
				(errcode_for_file_access(),
				 errmsg("could not write file \"%s\": %m", deaths_path)));
}

/*
 * workorder_quarantine_refresh reads the .deaths file again, at the start of
 * a pass: a removed file releases the tasks it held.
 */
void
workorder_quarantine_refresh(void)
{
	quarantine_read();
}

/*
 * workorder_quarantine_holds says whether a task is quarantined now.  When
 * it is, and this process has not said so yet, *detail is set to the line for
 * the run log (in the current memory context); otherwise *detail is NULL.
 */
bool
workorder_quarantine_holds(const char *task, char **detail)
{
	QuarantineEntry *entry = quarantine_find(task);

	*detail = NULL;
	if (entry == NULL || entry->until == 0 || GetCurrentTimestamp() >= entry->until)
		return false;
	if (!entry->reported)
	{
		*detail = psprintf("not run until %s: the worker died in this task %d times in a row "
						   "(the server log says how; removing %s from the data directory releases it)",
						   timestamptz_to_str(entry->until), entry->deaths, deaths_path);
		entry->reported = true;
	}
	return true;
}

/*
 * workorder_quarantine_task_begins writes the marker of a task about to run.
 */
void
workorder_quarantine_task_begins(const char *task)
{
	FILE	   *f = AllocateFile(running_path, "w");
	bool		written;

	if (f != NULL)
	{
		fprintf(f, "%s\n", task);
		written = (FreeFile(f) == 0);
		marker_written = true;
	}
	else
		written = false;
	if (written)
		marker_failure_reported = false;
	else
	{
		ereport(marker_failure_reported ? DEBUG1 : WARNING,
				(errcode_for_file_access(),
				 errmsg("could not write file \"%s\": %m", running_path),
				 errdetail("Without it a task that crashes the worker is not quarantined.")));
		marker_failure_reported = true;
	}
}

/*
 * workorder_quarantine_task_ends removes the marker of a task that ended
 * without the worker dying, and forgives the task its deaths.
 */
void
workorder_quarantine_task_ends(const char *task)
{
	QuarantineEntry *entry;

	workorder_quarantine_forget_marker();
	entry = quarantine_find(task);
	if (entry != NULL)
	{
		entries = list_delete_ptr(entries, entry);
		pfree(entry->task);
		pfree(entry);
		quarantine_write();
	}
}

/*
 * workorder_quarantine_forget_marker removes the marker file, if this
 * process wrote one.  It is async-signal-safe (unlink is), so that the
 * worker's SIGQUIT handler can call it: a worker that the postmaster stops
 * because another process crashed did not die in its task.
 */
void
workorder_quarantine_forget_marker(void)
{
	if (marker_written)
	{
		(void) unlink(running_path);
		marker_written = false;
	}
}

/*
 * workorder_quarantine_forget_database removes a database's files (DROP
 * DATABASE), so that a database created later with the same oid starts clean.
 */
void
workorder_quarantine_forget_database(Oid dboid)
{
	char		running[MAXPGPATH];
	char		deaths[MAXPGPATH];

	quarantine_paths(dboid, running, deaths);
	(void) unlink(running);
	(void) unlink(deaths);
}
