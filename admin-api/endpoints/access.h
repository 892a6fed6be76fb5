/* access.h - warnings on unusual access to personal data (issue 4: "bulk
 * reads above a threshold and reads at unusual hours raise a warning
 * entry").
 *
 * The directory handlers call api_note_read() after every read of people
 * records with the number of people rows they return.  The note goes to
 * anpi_note_read() (engine/schema/0021_access_warnings.sql), which keeps a
 * rolling 10-minute count per account and writes the audit entries
 * 'access.bulk_read' (more than audit.bulk_read_rows rows in 10 minutes;
 * once per account per 10 minutes) and 'access.unusual_hour' (a read
 * outside audit.office_hours, Japan time; once per account per hour).  The
 * same warnings are logged, without personal data. */
#ifndef ANPI_ENDPOINTS_ACCESS_H
#define ANPI_ENDPOINTS_ACCESS_H

#include "admin-api/http.h"
#include "engine/engine.h"

/* Fire and forget: the caller, its login and peer address are copied from
 * req at once (call it before answering req); the answer does not wait on
 * the note, and a failed note is logged, never reported to the caller.
 * what names the read ("people.list", "people.get", ...; at most 63 bytes
 * are kept).  rows <= 0 notes nothing (no personal data was read). */
void api_note_read(struct anpi_engine *e, const struct anpi_http_req *req, const char *what, long long rows);

#endif
