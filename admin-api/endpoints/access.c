/* access.c - notes reads of people records for the unusual-access warnings
 * (see access.h; the counting and the audit entries are in SQL, 0021, so
 * every node of a cluster counts into the same windows). */
#include "admin-api/endpoints/access.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin-api/endpoints/api.h"
#include "engine/anpi.h"
#include "engine/config.h"
#include "engine/log.h"

/* What the callback needs to log: no login, no peer (the audit entry holds
 * those; the log holds no personal data). */
struct note {
    long long account;
    long long rows;
    char what[64];
};

static void
noted_cb(void *arg, const PGresult *res, const char *err)
{
    struct note *n = arg;
    if (err) {
        anpi_error(ANPI_LG_API, "noting a read of %lld people rows (%s) by account %lld failed: %s", n->rows,
                   n->what, n->account, err);
    } else if (PQntuples(res) == 1 && PQnfields(res) == 3) {
        const char *window = PQgetvalue(res, 0, 2);
        if (PQgetvalue(res, 0, 0)[0] == 't')
            anpi_warn(ANPI_LG_API,
                      "access.bulk_read: account %lld read %s people rows in 10 minutes (%s, %lld rows now);"
                      " audit entry written",
                      n->account, window, n->what, n->rows);
        if (PQgetvalue(res, 0, 1)[0] == 't')
            anpi_warn(ANPI_LG_API,
                      "access.unusual_hour: account %lld read people outside office hours (%s, %lld rows);"
                      " audit entry written",
                      n->account, n->what, n->rows);
    }
    free(n);
}

void
api_note_read(struct anpi_engine *e, const struct anpi_http_req *req, const char *what, long long rows)
{
    if (rows <= 0)
        return;
    const struct api_who *w = api_who(req);
    const char *peer = anpi_http_peer(req);
    struct note *n = anpi_xcalloc(1, sizeof(*n));
    /* A route outside the gate has no caller; -1 is no account (0 is the
     * bootstrap token), so such a read is still counted somewhere. */
    n->account = w ? w->id : -1;
    n->rows = rows;
    snprintf(n->what, sizeof(n->what), "%s", what);
    char acc[24], nrows[24], bulk[24], start[16], end[16];
    snprintf(acc, sizeof(acc), "%lld", n->account);
    snprintf(nrows, sizeof(nrows), "%lld", rows);
    snprintf(bulk, sizeof(bulk), "%d", e->cfg->bulk_read_rows);
    snprintf(start, sizeof(start), "%d", e->cfg->office_start_min);
    snprintf(end, sizeof(end), "%d", e->cfg->office_end_min);
    const char *p[8] = { acc, api_actor(req), n->what, nrows, peer ? peer : "", bulk, start, end };
    anpi_db_query(e->db,
                  "SELECT bulk_warned, unusual_warned, window_rows FROM anpi_note_read($1::bigint, $2, $3,"
                  " $4::bigint, $5, $6::int, $7::int, $8::int)",
                  8, p, noted_cb, n);
}
