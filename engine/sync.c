/* sync.c - the daily directory sync: fetch, import in update mode, report.
 *
 * Reading a file of up to 50 MB and parsing it would stall the loop (and
 * with it every alert), so the read, the encoding detection and the parse
 * run on libuv's thread pool; URLs are fetched on the loop with the feed
 * fetcher and parsed on the pool the same way.  The database applies the
 * difference in one transaction (anpi_import_people2) and the report goes
 * out as an 'info' broadcast (anpi_directory_sync_report). */
#include "engine/sync.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <jansson.h>

#include "engine/anpi.h"
#include "engine/buf.h"
#include "engine/directory.h"
#include "engine/engine.h"
#include "engine/log.h"
#include "engine/people_csv.h"
#include "feeds/poll/http_fetch.h"

#define TICK_MS        20000    /* how often the timer looks at the clock */
#define FETCH_TIMEOUT_S 120L

/* One engine per process: the sync's state lives here rather than in
 * struct anpi_engine. */
static struct {
    struct anpi_engine *e;
    uv_timer_t timer;
    bool armed, stopping, running, claiming;
    struct anpi_fetcher *fetcher;
    int64_t done_day;           /* JST day whose sync this node ran or saw claimed */
} S;

struct sync_run {
    struct anpi_engine *e;
    char *actor;
    anpi_sync_cb cb;
    void *arg;
    uv_work_t work;
    char *data;                 /* fetched body, or NULL: read the file on the pool */
    size_t len;
    /* results of the pool step */
    int status;                 /* 0 parsed, else as anpi_sync_cb */
    struct anpi_errors errs;
    char *rows;                 /* JSON rows for anpi_import_people2 */
    const char *encoding;
    char *report;               /* JSON text */
};

static bool
is_url(const char *s)
{
    return strncasecmp(s, "http://", 7) == 0 || strncasecmp(s, "https://", 8) == 0;
}

/* The source as shown in reports and logs: a URL without its query, which
 * may carry an access token. */
static char *
source_shown(const char *src)
{
    return anpi_xstrndup(src, is_url(src) ? strcspn(src, "?#") : strlen(src));
}

static char *
errors_report(const struct anpi_errors *errs)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < errs->n; i++)
        json_array_append_new(arr, json_string(errs->msg[i]));
    json_t *j = json_pack("{s:o, s:[], s:[], s:[], s:i}", "errors", arr, "added", "changed",
                          "removed", "unchanged", 0);
    char *s = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    return s;
}

static void
finish(struct sync_run *r)
{
    r->cb(r->arg, r->status, r->report ? r->report : "{\"errors\": []}");
    S.running = false;
    free(r->actor);
    free(r->data);
    free(r->rows);
    free(r->report);
    anpi_errors_free(&r->errs);
    free(r);
}

static void
reported(void *arg, const PGresult *res, const char *err)
{
    struct sync_run *r = arg;
    (void)res;
    if (err)
        anpi_error(ANPI_LG_DIR, "directory sync: the report was not stored or mailed: %s", err);
    else
        anpi_dispatch_kick(r->e);
    finish(r);
}

/* Audit and mail the outcome, whatever it was. */
static void
report(struct sync_run *r)
{
    char *src = source_shown(r->e->cfg->sync_source);
    if (r->status == 200)
        anpi_info(ANPI_LG_DIR, "directory sync from %s: %s", src, r->report);
    else
        anpi_warn(ANPI_LG_DIR, "directory sync from %s failed (%d); nothing was changed", src,
                  r->status);
    if (S.stopping) {
        free(src);
        finish(r);
        return;
    }
    const char *p[4] = { r->report, src, r->e->cfg->sync_report_group, r->actor };
    anpi_db_query(r->e->db, "SELECT anpi_directory_sync_report($1::jsonb, $2, $3, $4)", 4, p,
                  reported, r);
    free(src);
}

static void
imported(void *arg, const PGresult *res, const char *err)
{
    struct sync_run *r = arg;
    if (err) {
        r->status = 503;
        anpi_errors_add(&r->errs, "database error; nothing was changed: %s", err);
        r->report = errors_report(&r->errs);
    } else {
        r->report = anpi_xstrdup(PQgetvalue(res, 0, 0));
        json_t *j = json_loads(r->report, 0, NULL);
        r->status = json_array_size(json_object_get(j, "errors")) ? 400 : 200;
        json_decref(j);
    }
    report(r);
}

/* Pool thread: no loop calls, no logging of the contents. */
static void
parse_work(uv_work_t *w)
{
    struct sync_run *r = w->data;
    const char *path = r->e->cfg->sync_source;
    if (!r->data) {
        FILE *f = fopen(path, "rb");
        if (!f) {
            anpi_errors_add(&r->errs, "cannot open %s: %s", path, strerror(errno));
            r->status = 502;
            return;
        }
        struct anpi_buf b;
        anpi_buf_init(&b, ANPI_PEOPLE_CSV_MAX_INPUT);
        char chunk[65536];
        size_t n;
        int rc = ANPI_OK;
        while (rc == ANPI_OK && (n = fread(chunk, 1, sizeof(chunk), f)) > 0)
            rc = anpi_buf_append(&b, chunk, n);
        bool rerr = ferror(f);
        fclose(f);
        if (rerr) {
            anpi_errors_add(&r->errs, "cannot read %s", path);
            r->status = 502;
        } else if (rc != ANPI_OK) {
            anpi_errors_add(&r->errs, "%s is larger than %u bytes", path, ANPI_PEOPLE_CSV_MAX_INPUT);
            r->status = 400;
        }
        if (r->status) {
            anpi_buf_free(&b);
            return;
        }
        r->len = b.len;
        r->data = anpi_buf_steal(&b);
    }
    struct anpi_people_csv csv = { 0 };
    if (anpi_people_csv_parse_any(r->data, r->len, &csv, &r->encoding, &r->errs) != ANPI_OK) {
        r->status = 400;
        return;
    }
    r->rows = anpi_directory_rows_json(&csv);
    anpi_people_csv_free(&csv);
}

static void
parse_done(uv_work_t *w, int status)
{
    struct sync_run *r = w->data;
    (void)status;
    if (r->status == 0 && S.stopping) {
        r->status = 503;
        anpi_errors_add(&r->errs, "the daemon is stopping; nothing was changed");
    }
    if (r->status != 0) {
        r->report = errors_report(&r->errs);
        report(r);
        return;
    }
    const char *p[2] = { r->rows, r->actor };
    anpi_db_query(r->e->db, "SELECT anpi_import_people2($1::jsonb, 'update', false, $2)::text", 2,
                  p, imported, r);
}

static void
parse_on_pool(struct sync_run *r)
{
    r->work.data = r;
    int rc = uv_queue_work(r->e->loop, &r->work, parse_work, parse_done);
    if (rc != 0) {
        r->status = 503;
        anpi_errors_add(&r->errs, "cannot start the import: %s", uv_strerror(rc));
        r->report = errors_report(&r->errs);
        report(r);
    }
}

static void
fetched(void *arg, const struct anpi_fetch_result *res)
{
    struct sync_run *r = arg;
    if (res->error || res->status != 200) {
        char *src = source_shown(r->e->cfg->sync_source);
        if (res->error)
            anpi_errors_add(&r->errs, "cannot fetch %s: %s", src, res->error);
        else
            anpi_errors_add(&r->errs, "cannot fetch %s: HTTP status %d", src, res->status);
        free(src);
        r->status = 502;
        r->report = errors_report(&r->errs);
        report(r);
        return;
    }
    r->data = anpi_xmalloc(res->len + 1);
    memcpy(r->data, res->body, res->len);
    r->data[res->len] = '\0';
    r->len = res->len;
    parse_on_pool(r);
}

int
anpi_sync_run(struct anpi_engine *e, const char *actor, anpi_sync_cb cb, void *arg)
{
    const char *src = e->cfg->sync_source;
    if (!src)
        return ANPI_ENOTFOUND;
    if (S.running)
        return ANPI_EDUPLICATE;
    struct sync_run *r = anpi_xcalloc(1, sizeof(*r));
    r->e = e;
    r->actor = anpi_xstrdup(actor ? actor : "engine");
    r->cb = cb;
    r->arg = arg;
    S.running = true;
    if (!is_url(src)) {
        parse_on_pool(r);
        return ANPI_OK;
    }
    if (S.stopping) {
        S.running = false;
        free(r->actor);
        free(r);
        return ANPI_EPERM;
    }
    if (!S.fetcher)
        S.fetcher = anpi_fetcher_create(e->loop);
    struct anpi_fetch_opts o = { .max_bytes = ANPI_PEOPLE_CSV_MAX_INPUT,
                                 .timeout_s = FETCH_TIMEOUT_S };
    int rc = anpi_fetch(S.fetcher, src, &o, fetched, r);
    if (rc != ANPI_OK) {
        char *shown = source_shown(src);
        r->status = 502;
        anpi_errors_add(&r->errs, "cannot fetch %s: the request could not be started", shown);
        free(shown);
        r->report = errors_report(&r->errs);
        report(r);
    }
    return ANPI_OK;
}

/* ---- the daily timer ------------------------------------------------------ */

static void
scheduled_done(void *arg, int status, const char *report_json)
{
    (void)arg;
    (void)report_json;
    anpi_info(ANPI_LG_DIR, "scheduled directory sync finished with status %d", status);
}

struct claim {
    int64_t day;
};

static void
claimed(void *arg, const PGresult *res, const char *err)
{
    struct claim *c = arg;
    S.claiming = false;
    if (err) {
        /* try again on the next tick */
        anpi_warn(ANPI_LG_DIR, "directory sync: cannot claim today's run: %s", err);
        free(c);
        return;
    }
    S.done_day = c->day;
    free(c);
    if (S.stopping || strcmp(PQgetvalue(res, 0, 0), "t") != 0)
        return;                 /* another node (or an earlier start) has run it */
    int rc = anpi_sync_run(S.e, "schedule", scheduled_done, NULL);
    if (rc != ANPI_OK)
        anpi_warn(ANPI_LG_DIR, "scheduled directory sync not started: %s",
                  rc == ANPI_EDUPLICATE ? "a sync is already running" : "cannot start");
}

static void
on_tick(uv_timer_t *t)
{
    struct anpi_engine *e = t->data;
    if (S.running || S.claiming || S.stopping)
        return;
    int64_t jst = (int64_t)time(NULL) + 9 * 3600;
    int64_t day = jst / 86400;
    int minute = (int)(jst % 86400 / 60);
    if (day == S.done_day || minute < e->cfg->sync_at_min)
        return;
    time_t tt = (time_t)jst;
    struct tm tm;
    gmtime_r(&tt, &tm);
    char ds[48];
    snprintf(ds, sizeof(ds), "%04d-%02d-%02d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
    struct claim *c = anpi_xcalloc(1, sizeof(*c));
    c->day = day;
    S.claiming = true;
    const char *p[1] = { ds };
    anpi_db_query(e->db, "SELECT coalesce(anpi_directory_sync_claim($1), false)", 1, p, claimed,
                  c);
}

int
anpi_sync_start(struct anpi_engine *e)
{
    S.e = e;
    S.stopping = false;
    if (!e->cfg->sync_source || S.armed)
        return ANPI_OK;
    uv_timer_init(e->loop, &S.timer);
    S.timer.data = e;
    uv_timer_start(&S.timer, on_tick, 1000, TICK_MS);
    S.armed = true;
    char *src = source_shown(e->cfg->sync_source);
    anpi_info(ANPI_LG_DIR, "directory sync from %s daily at %02d:%02d JST, report to group %s", src,
              e->cfg->sync_at_min / 60, e->cfg->sync_at_min % 60, e->cfg->sync_report_group);
    free(src);
    return ANPI_OK;
}

void
anpi_sync_stop(struct anpi_engine *e)
{
    (void)e;
    S.stopping = true;
    if (S.armed) {
        uv_timer_stop(&S.timer);
        uv_close((uv_handle_t *)&S.timer, NULL);
        S.armed = false;
    }
    if (S.fetcher) {
        anpi_fetcher_close(S.fetcher, NULL, NULL);
        S.fetcher = NULL;
    }
}
