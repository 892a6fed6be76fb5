/* dirsync.c - POST /api/v1/directory/sync: run the daily directory sync now.
 *
 * The same run as the scheduled one (engine/sync.c): fetch or read
 * directory.sync.source, import it in update mode, audit it and mail the
 * report to directory.sync.report_group.  The answer is that report. */
#include "admin-api/endpoints/api.h"

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "engine/anpi.h"
#include "engine/sync.h"

static void
synced(void *arg, int status, const char *report_json)
{
    struct api_call *c = arg;
    json_t *j = json_loads(report_json, 0, NULL);
    if (!j)
        j = json_object();
    const char *why = status == 400   ? "the directory sync was refused; nothing was changed"
                      : status == 502 ? "the sync source could not be read; nothing was changed"
                                      : "database error; nothing was changed";
    if (status != 200)
        json_object_set_new(j, "error", json_string(why));
    anpi_http_respond_json(c->req, status, j);
    api_call_free(c);
}

static void
h_sync(struct anpi_http_req *req, void *ctx)
{
    struct anpi_engine *e = ctx;
    struct api_call *c = api_call_new(e, req);
    int rc = anpi_sync_run(e, "api", synced, c);
    if (rc == ANPI_OK)
        return;
    api_call_free(c);
    if (rc == ANPI_ENOTFOUND)
        anpi_http_respond_error(req, 404, "directory.sync is not configured");
    else if (rc == ANPI_EDUPLICATE)
        anpi_http_respond_error(req, 409, "a directory sync is already running");
    else
        anpi_http_respond_error(req, 503, "the directory sync cannot start now");
}

int
anpi_api_dirsync_routes(struct anpi_engine *e, struct anpi_http_server *s)
{
    return api_route(e, s, "POST", "/api/v1/directory/sync", API_DIRECTORY_WRITE, h_sync);
}
