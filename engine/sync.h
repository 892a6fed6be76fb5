/* sync.h - the daily directory sync (directory.sync in the config).
 *
 * Once a day, at directory.sync.at (Japan time), the CSV at
 * directory.sync.source (a file, or an http(s) URL fetched with the feed
 * fetcher) is imported in update mode: the file is the whole directory, so
 * people missing from it are removed.  The report (added, changed with the
 * fields, removed, unchanged, or the errors when nothing was applied) is
 * audited and mailed to directory.sync.report_group.  With several nodes, a
 * row in `settings` lets only one of them run a given day's sync; a node
 * started after the hour catches up the same day. */
#ifndef ANPI_SYNC_H
#define ANPI_SYNC_H

struct anpi_engine;

/* Called once per anpi_sync_run().  status: 200 imported, 400 refused (the
 * CSV has errors, or update mode would empty the directory; nothing was
 * changed), 502 the source could not be read, 503 database error.
 * report_json: the report (what anpi_import_people2 returns, or
 * {"errors": [...]}); valid only during the call. */
typedef void (*anpi_sync_cb)(void *arg, int status, const char *report_json);

/* Arm the daily timer when directory.sync is configured (else does nothing).
 * Returns 0. */
int anpi_sync_start(struct anpi_engine *e);

/* Stop the timer and the fetcher; a run in progress finishes without
 * mailing (its callback still runs, with status 503). */
void anpi_sync_stop(struct anpi_engine *e);

/* Run the sync now (POST /api/v1/directory/sync; the timer uses it too).
 * actor goes to the audit log.  Returns 0 (cb will be called from the
 * loop), ANPI_ENOTFOUND when directory.sync is not configured, or
 * ANPI_EDUPLICATE when a sync is already running (cb is not called). */
int anpi_sync_run(struct anpi_engine *e, const char *actor, anpi_sync_cb cb, void *arg);

#endif
