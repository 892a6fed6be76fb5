/* directory.c - read side of the staff directory over the admin API (bearer
 * token):
 *
 *   GET /api/v1/groups                     the group tree (the caller's part),
 *                                          nested children,
 *                                          member counts direct and with
 *                                          subgroups
 *   GET /api/v1/people?group=ID&subgroups=1&limit=N&offset=M
 *                                          one page of people (all people
 *                                          without group=)
 *   GET /api/v1/people/{id}                one person, full addresses
 *   GET /api/v1/people/export?format=csv|xlsx&group=ID&subgroups=1
 *                                          the directory in the import
 *                                          format plus addresses_status and
 *                                          attributes, every address masked
 *   GET /api/v1/directory/status           who cannot be reached, per group;
 *                                          groups short of group admins
 *
 * Every data query is a function of engine/schema/0017_scope_directory.sql
 * (made fast for a ministry-sized directory in 0022_directory_speed.sql)
 * run through api_query(): the caller's account is $1 and the function
 * shows only what that account sees (a group admin: its groups, their
 * subgroups and members).  Outside the scope is answered like "does not
 * exist" (404, same message), so a group admin cannot probe for other
 * groups or people.  Every read of people rows is noted for the
 * unusual-access warnings (access.h).  The
 * export copies the rows out of the result on the loop and formats them on
 * the libuv thread pool (CSV in memory; XLSX through libxlsxwriter into a
 * temporary file that is read back and removed), so a large directory never
 * stalls the loop. */
#include "admin-api/endpoints/api.h"
#include "admin-api/endpoints/access.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <xlsxwriter.h>

#include "engine/anpi.h"
#include "engine/buf.h"
#include "engine/log.h"

#define DIR_LIST_DEFAULT 100
#define DIR_LIST_MAX 1000
/* Entries per list in the status view (counts stay exact). */
#define DIR_STATUS_LIST_MAX 1000
/* An export body: the import format's 200,000 rows at a few hundred bytes
 * each stay well under this. */
#define DIR_EXPORT_MAX_BYTES (256u * 1024 * 1024)
#define DIR_PERSON_ID_MAX 256

/* Columns of anpi_dir_export() after its leading "found" column; the first
 * six are the import format (engine/people_csv.h; regions holds prefecture
 * and city codes as the importer reads them), then the status of each
 * address and the free attributes as key=value;key=value. */
static const char *const EXPORT_COLS[] = { "id", "name", "kana", "emails", "regions", "groups",
                                           "addresses_status", "attributes" };
#define NCOLS ANPI_ARRAY_LEN(EXPORT_COLS)

static const char XLSX_TYPE[] = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

/* ?subgroups=: absent means false. */
static int
parse_bool(const char *s, bool *out)
{
    if (!s || strcmp(s, "0") == 0 || strcmp(s, "false") == 0) {
        *out = false;
        return ANPI_OK;
    }
    if (strcmp(s, "1") == 0 || strcmp(s, "true") == 0) {
        *out = true;
        return ANPI_OK;
    }
    return ANPI_EPARSE;
}

/* ?group= and ?subgroups= shared by the list and the export; answers 400
 * itself.  ids stays "" when there is no group filter. */
static bool
group_filter(struct anpi_http_req *req, char ids[24], bool *sub)
{
    const char *g = anpi_http_query(req, "group"), *sg = anpi_http_query(req, "subgroups");
    ids[0] = '\0';
    if (g) {
        int64_t id;
        if (anpi_parse_int64(g, 1, INT64_MAX, &id) != ANPI_OK) {
            anpi_http_respond_error(req, 400, "group: expected a group id (a positive integer), got \"%.64s\"", g);
            return false;
        }
        snprintf(ids, 24, "%lld", (long long)id);
    }
    if (parse_bool(sg, sub) != ANPI_OK) {
        anpi_http_respond_error(req, 400, "subgroups: expected 1, 0, true or false, got \"%.64s\"", sg);
        return false;
    }
    return true;
}

/* A people read: api_json_cb notes its rows under what. */
static struct api_call *
people_call(struct anpi_engine *e, struct anpi_http_req *req, const char *what)
{
    struct api_call *c = api_call_new(e, req);
    snprintf(c->decision, sizeof(c->decision), "%s", what);
    return c;
}

/* One node of the tree from row r of anpi_dir_group_rows() (id, parent_row,
 * name, path, members, members_total), with an empty children array; NULL
 * when a column does not hold what the function promises. */
static json_t *
tree_node(const PGresult *res, int r)
{
    int64_t id, members, total;
    if (anpi_parse_int64(PQgetvalue(res, r, 0), 1, INT64_MAX, &id) != ANPI_OK ||
        anpi_parse_int64(PQgetvalue(res, r, 4), 0, INT64_MAX, &members) != ANPI_OK ||
        anpi_parse_int64(PQgetvalue(res, r, 5), 0, INT64_MAX, &total) != ANPI_OK)
        return NULL;
    json_t *n = json_object();
    json_t *name = json_stringn(PQgetvalue(res, r, 2), (size_t)PQgetlength(res, r, 2));
    json_t *path = json_stringn(PQgetvalue(res, r, 3), (size_t)PQgetlength(res, r, 3));
    if (!n || !name || !path) {
        json_decref(n);
        json_decref(name);
        json_decref(path);
        return NULL;
    }
    json_object_set_new(n, "id", json_integer((json_int_t)id));
    json_object_set_new(n, "name", name);
    json_object_set_new(n, "path", path);
    json_object_set_new(n, "members", json_integer((json_int_t)members));
    json_object_set_new(n, "members_total", json_integer((json_int_t)total));
    json_object_set_new(n, "children", json_array());
    return n;
}

/* {"groups": [root nodes]} from the flat rows: nodes[r] is row r's node,
 * appended in row order (the sibling order) to its parent's children or
 * to the roots.  NULL when a row is malformed or names a parent that is
 * not an earlier-built row of the result. */
static json_t *
tree_nest(const PGresult *res)
{
    int nt = PQntuples(res);
    json_t **nodes = anpi_xcalloc((size_t)nt + 1, sizeof(*nodes));
    json_t *roots = json_array();
    bool ok = roots != NULL;
    for (int r = 0; r < nt && ok; r++)
        ok = (nodes[r] = tree_node(res, r)) != NULL;
    for (int r = 0; r < nt && ok; r++) {
        json_t *into = roots;
        if (!PQgetisnull(res, r, 1)) {
            int64_t pr;
            /* the parent is another row of this result (the SQL walk from
             * the roots makes every parent a row; checked, not assumed) */
            ok = anpi_parse_int64(PQgetvalue(res, r, 1), 0, nt - 1, &pr) == ANPI_OK && pr != r;
            into = ok ? json_object_get(nodes[pr], "children") : NULL;
        }
        ok = ok && json_array_append(into, nodes[r]) == 0;
    }
    /* the arrays hold their own references now */
    for (int r = 0; r < nt; r++)
        json_decref(nodes[r]);
    free(nodes);
    if (!ok) {
        json_decref(roots);
        return NULL;
    }
    json_t *top = json_object();
    if (top)
        json_object_set_new(top, "groups", roots);
    else
        json_decref(roots);
    return top;
}

static void
tree_cb(void *arg, const PGresult *res, const char *err)
{
    struct api_call *c = arg;
    json_t *top = NULL;
    char *text = NULL;
    if (err) {
        anpi_http_respond_error(c->req, 503, "database error: %s", err);
    } else if (PQnfields(res) != 6) {
        anpi_http_respond_error(c->req, 500, "anpi_dir_group_rows() returned %d columns, expected 6",
                                PQnfields(res));
    } else if (!(top = tree_nest(res)) || !(text = json_dumps(top, JSON_COMPACT))) {
        anpi_error(ANPI_LG_API, "group tree: %d rows from anpi_dir_group_rows() do not form a tree",
                   PQntuples(res));
        anpi_http_respond_error(c->req, 500, "the group tree could not be built");
    } else {
        anpi_http_respond(c->req, 200, "application/json", text, strlen(text));
    }
    free(text);
    json_decref(top);
    api_call_free(c);
}

static void
h_groups(struct anpi_http_req *req, void *ctx)
{
    struct anpi_engine *e = ctx;
    /* names and counts only: not a read of people records.  The rows come
     * flat from one statement and are nested here (a node-by-node build in
     * SQL did not finish within a minute at 1,200 groups). */
    api_query(api_call_new(e, req),
              "SELECT id, parent_row, name, path, members, members_total FROM anpi_dir_group_rows($1::bigint)",
              0, NULL, tree_cb);
}

static void
h_people(struct anpi_http_req *req, void *ctx)
{
    struct anpi_engine *e = ctx;
    char gid[24];
    bool sub = false;
    if (!group_filter(req, gid, &sub))
        return;
    const char *ql = anpi_http_query(req, "limit"), *qo = anpi_http_query(req, "offset");
    int64_t limit = DIR_LIST_DEFAULT, offset = 0;
    if (ql && anpi_parse_int64(ql, 1, DIR_LIST_MAX, &limit) != ANPI_OK) {
        anpi_http_respond_error(req, 400, "limit: expected 1..%d, got \"%.64s\"", DIR_LIST_MAX, ql);
        return;
    }
    if (qo && anpi_parse_int64(qo, 0, INT32_MAX, &offset) != ANPI_OK) {
        anpi_http_respond_error(req, 400, "offset: expected 0..%d, got \"%.64s\"", INT32_MAX, qo);
        return;
    }
    char ls[24], os[24];
    snprintf(ls, sizeof(ls), "%lld", (long long)limit);
    snprintf(os, sizeof(os), "%lld", (long long)offset);
    const char *p[4] = { gid[0] ? gid : NULL, sub ? "true" : "false", ls, os };
    struct api_call *c = people_call(e, req, "people.list");
    c->notice = anpi_xasprintf("no group %s", gid);
    api_query(c,
              "SELECT j::text, coalesce(jsonb_array_length(j->'people'), 0)"
              " FROM anpi_dir_people_json($1::bigint, $2::bigint, $3::boolean, $4::int, $5::int) j",
              4, p, api_json_cb);
}

static void
h_person(struct anpi_http_req *req, void *ctx)
{
    struct anpi_engine *e = ctx;
    const char *id = anpi_http_param(req, "id");
    if (!id || strlen(id) > DIR_PERSON_ID_MAX) {
        anpi_http_respond_error(req, 404, "no such person");
        return;
    }
    const char *p[1] = { id };
    struct api_call *c = people_call(e, req, "people.get");
    c->notice = anpi_xasprintf("no person \"%.64s\"", id);
    api_query(c, "SELECT j::text, 1 FROM anpi_dir_person_json($1::bigint, $2) j", 1, p, api_json_cb);
}

static void
h_status(struct anpi_http_req *req, void *ctx)
{
    struct anpi_engine *e = ctx;
    char cap[16];
    snprintf(cap, sizeof(cap), "%d", DIR_STATUS_LIST_MAX);
    const char *p[1] = { cap };
    /* the people rows are those of the two lists (the second is a subset
     * of the first, so they are counted once) */
    api_query(people_call(e, req, "people.status"),
              "SELECT j::text, (SELECT count(DISTINCT x->>'id') FROM jsonb_array_elements("
              "coalesce(j->'no_usable_address', '[]') || coalesce(j->'only_bouncing_or_invalid', '[]')) x)"
              " FROM anpi_dir_status_json($1::bigint, $2::int) j",
              1, p, api_json_cb);
}

/* --- export ---------------------------------------------------------------- */

struct export_job {
    uv_work_t work;
    struct anpi_http_req *req;
    bool xlsx;
    size_t nrows;
    const char **cells;        /* nrows * NCOLS, pointing into block */
    char *block;
    char *body;                /* the formatted file */
    size_t len;
    char err[256];             /* set when formatting failed */
    char filename[64];
};

static void
export_job_free(struct export_job *j)
{
    free(j->cells);
    free(j->block);
    free(j->body);
    free(j);
}

/* One CSV field.  A cell that a spreadsheet would read as a formula (it
 * starts with = + - @ TAB or CR) gets a leading apostrophe, which Excel and
 * LibreOffice show as text; then RFC 4180 quoting as the importer reads it. */
static int
csv_cell(struct anpi_buf *b, const char *s)
{
    bool formula = strchr("=+-@\t\r", s[0]) != NULL && s[0] != '\0';
    bool quote = strpbrk(s, ",\"\r\n") != NULL;
    int rc = ANPI_OK;
    if (quote)
        rc |= anpi_buf_putc(b, '"');
    if (formula)
        rc |= anpi_buf_putc(b, '\'');
    for (const char *q = s; *q; q++) {
        if (*q == '"')
            rc |= anpi_buf_putc(b, '"');
        rc |= anpi_buf_putc(b, *q);
    }
    if (quote)
        rc |= anpi_buf_putc(b, '"');
    return rc ? ANPI_ETOOBIG : ANPI_OK;
}

static void
export_csv(struct export_job *j)
{
    struct anpi_buf b;
    anpi_buf_init(&b, DIR_EXPORT_MAX_BYTES);
    /* UTF-8 BOM: Excel otherwise reads the kanji as Shift_JIS (the importer
     * accepts and skips it). */
    int rc = anpi_buf_puts(&b, "\xEF\xBB\xBF");
    for (size_t c = 0; c < NCOLS && rc == ANPI_OK; c++)
        rc = anpi_buf_printf(&b, "%s%s", c ? "," : "", EXPORT_COLS[c]);
    rc |= anpi_buf_puts(&b, "\r\n");
    for (size_t r = 0; r < j->nrows && rc == ANPI_OK; r++) {
        for (size_t c = 0; c < NCOLS && rc == ANPI_OK; c++) {
            if (c)
                rc = anpi_buf_putc(&b, ',');
            if (rc == ANPI_OK)
                rc = csv_cell(&b, j->cells[r * NCOLS + c]);
        }
        if (rc == ANPI_OK)
            rc = anpi_buf_puts(&b, "\r\n");
    }
    if (rc != ANPI_OK) {
        snprintf(j->err, sizeof(j->err), "the export is larger than %u bytes; export one group at a time",
                 DIR_EXPORT_MAX_BYTES);
        anpi_buf_free(&b);
        return;
    }
    j->len = b.len;
    j->body = anpi_buf_steal(&b);
}

/* Reads a whole file (at most DIR_EXPORT_MAX_BYTES) into j->body. */
static int
slurp(struct export_job *j, const char *path)
{
    FILE *f = fopen(path, "rb");
    struct stat st;
    if (!f || fstat(fileno(f), &st) != 0) {
        snprintf(j->err, sizeof(j->err), "reading the workbook back: %s", strerror(errno));
        if (f)
            fclose(f);
        return ANPI_ERROR;
    }
    if ((uint64_t)st.st_size > DIR_EXPORT_MAX_BYTES) {
        snprintf(j->err, sizeof(j->err), "the workbook is larger than %u bytes; export one group at a time",
                 DIR_EXPORT_MAX_BYTES);
        fclose(f);
        return ANPI_ETOOBIG;
    }
    size_t n = (size_t)st.st_size;
    j->body = anpi_xmalloc(n ? n : 1);
    size_t got = fread(j->body, 1, n, f);
    fclose(f);
    if (got != n) {
        snprintf(j->err, sizeof(j->err), "reading the workbook back: short read (%zu of %zu bytes)", got, n);
        return ANPI_ERROR;
    }
    j->len = n;
    return ANPI_OK;
}

static void
export_xlsx(struct export_job *j)
{
    const char *dir = getenv("TMPDIR");
    if (!dir || !*dir)
        dir = "/tmp";
    char *path = anpi_xasprintf("%s/anpi-export-XXXXXX.xlsx", dir);
    int fd = mkstemps(path, 5);
    if (fd < 0) {
        snprintf(j->err, sizeof(j->err), "creating a temporary file in %s: %s", dir, strerror(errno));
        free(path);
        return;
    }
    close(fd);
    /* constant_memory: rows go to disk as they are written, so memory stays
     * flat for any directory size; strings are stored inline in the sheet. */
    lxw_workbook_options opts = { .constant_memory = LXW_TRUE, .tmpdir = (char *)dir };
    lxw_workbook *wb = workbook_new_opt(path, &opts);
    lxw_worksheet *ws = wb ? workbook_add_worksheet(wb, "people") : NULL;
    lxw_error rc = ws ? LXW_NO_ERROR : LXW_ERROR_MEMORY_MALLOC_FAILED;
    if (ws) {
        lxw_format *bold = workbook_add_format(wb);
        format_set_bold(bold);
        worksheet_freeze_panes(ws, 1, 0);
        for (size_t c = 0; c < NCOLS && rc == LXW_NO_ERROR; c++)
            rc = worksheet_write_string(ws, 0, (lxw_col_t)c, EXPORT_COLS[c], bold);
        /* write_string stores text, never a formula: no apostrophe needed */
        for (size_t r = 0; r < j->nrows && rc == LXW_NO_ERROR; r++)
            for (size_t c = 0; c < NCOLS && rc == LXW_NO_ERROR; c++) {
                const char *s = j->cells[r * NCOLS + c];
                if (*s)
                    rc = worksheet_write_string(ws, (lxw_row_t)(r + 1), (lxw_col_t)c, s, NULL);
            }
        if (rc == LXW_NO_ERROR)
            rc = worksheet_autofilter(ws, 0, 0, (lxw_row_t)j->nrows, (lxw_col_t)(NCOLS - 1));
    }
    if (wb) {
        lxw_error crc = workbook_close(wb);
        if (rc == LXW_NO_ERROR)
            rc = crc;
    }
    if (rc != LXW_NO_ERROR)
        snprintf(j->err, sizeof(j->err), "writing the workbook: %s", lxw_strerror(rc));
    else
        slurp(j, path);
    unlink(path);
    free(path);
}

static void
export_work(uv_work_t *w)
{
    struct export_job *j = w->data;
    if (j->xlsx)
        export_xlsx(j);
    else
        export_csv(j);
}

static void
export_done(uv_work_t *w, int status)
{
    struct export_job *j = w->data;
    if (status != 0) {
        anpi_http_respond_error(j->req, 503, "the export was cancelled");
    } else if (j->err[0] || !j->body) {
        anpi_error(ANPI_LG_API, "people export (%s, %zu rows) failed: %s", j->xlsx ? "xlsx" : "csv",
                   j->nrows, j->err);
        anpi_http_respond_error(j->req, 500, "export failed: %s", j->err[0] ? j->err : "no output");
    } else {
        char cd[128];
        snprintf(cd, sizeof(cd), "attachment; filename=\"%s\"", j->filename);
        anpi_http_set_header(j->req, "Content-Disposition", cd);
        anpi_http_set_header(j->req, "Cache-Control", "no-store");
        anpi_info(ANPI_LG_API, "people export: %zu rows as %s, %zu bytes", j->nrows, j->xlsx ? "xlsx" : "csv",
                  j->len);
        anpi_http_respond(j->req, 200, j->xlsx ? XLSX_TYPE : "text/csv; charset=utf-8", j->body, j->len);
    }
    export_job_free(j);
}

static void
exported_rows_cb(void *arg, const PGresult *res, const char *err)
{
    struct api_call *c = arg;
    if (err) {
        anpi_http_respond_error(c->req, 503, "database error; nothing was exported: %s", err);
        api_call_free(c);
        return;
    }
    int nt = PQntuples(res);
    if (PQnfields(res) != (int)NCOLS + 1) {
        anpi_http_respond_error(c->req, 500, "anpi_dir_export() returned %d columns, expected %zu",
                                PQnfields(res), NCOLS + 1);
        api_call_free(c);
        return;
    }
    if (nt == 1 && strcmp(PQgetvalue(res, 0, 0), "f") == 0) {
        anpi_http_respond_error(c->req, 404, "%s", c->notice);
        api_call_free(c);
        return;
    }
    api_note_read(c->e, c->req, "people.export", nt);
    struct export_job *j = anpi_xcalloc(1, sizeof(*j));
    j->req = c->req;
    j->xlsx = strcmp(c->decision, "xlsx") == 0;
    j->nrows = (size_t)nt;
    /* one block for all cells: a copy of the result that outlives it */
    size_t total = 0;
    for (int r = 0; r < nt; r++)
        for (int f = 1; f <= (int)NCOLS; f++)
            total += (size_t)PQgetlength(res, r, f) + 1;
    j->block = anpi_xmalloc(total ? total : 1);
    j->cells = anpi_xcalloc(j->nrows * NCOLS + 1, sizeof(*j->cells));
    char *at = j->block;
    for (int r = 0; r < nt; r++)
        for (int f = 1; f <= (int)NCOLS; f++) {
            size_t n = (size_t)PQgetlength(res, r, f);
            memcpy(at, PQgetvalue(res, r, f), n);
            at[n] = '\0';
            j->cells[(size_t)r * NCOLS + (size_t)(f - 1)] = at;
            at += n + 1;
        }
    /* the file name carries the Japan date of the export */
    time_t now = time(NULL) + 9 * 3600;
    struct tm tm;
    gmtime_r(&now, &tm);
    char stamp[32];
    strftime(stamp, sizeof(stamp), "%Y%m%d-%H%M", &tm);
    snprintf(j->filename, sizeof(j->filename), "people-%s.%s", stamp, j->xlsx ? "xlsx" : "csv");
    j->work.data = j;
    int rc = uv_queue_work(c->e->loop, &j->work, export_work, export_done);
    if (rc != 0) {
        anpi_http_respond_error(c->req, 503, "cannot start the export: %s", uv_strerror(rc));
        export_job_free(j);
    }
    api_call_free(c);
}

static void
h_export(struct anpi_http_req *req, void *ctx)
{
    struct anpi_engine *e = ctx;
    const char *fmt = anpi_http_query(req, "format");
    if (!fmt)
        fmt = "csv";
    if (strcmp(fmt, "csv") != 0 && strcmp(fmt, "xlsx") != 0) {
        anpi_http_respond_error(req, 400, "format: expected csv or xlsx, got \"%.32s\"", fmt);
        return;
    }
    char gid[24];
    bool sub = false;
    if (!group_filter(req, gid, &sub))
        return;
    const char *peer = anpi_http_peer(req);
    const char *p[5] = { gid[0] ? gid : NULL, sub ? "true" : "false", fmt, api_actor(req), peer ? peer : "" };
    struct api_call *c = api_call_new(e, req);
    snprintf(c->decision, sizeof(c->decision), "%s", fmt);
    c->notice = anpi_xasprintf("no group %s", gid);
    api_query(c, "SELECT * FROM anpi_dir_export($1::bigint, $2::bigint, $3::boolean, $4, $5, $6)", 5, p,
              exported_rows_cb);
}

int
anpi_api_directory_routes(struct anpi_engine *e, struct anpi_http_server *s)
{
    int rc = ANPI_OK;
    rc |= api_route(e, s, "GET", "/api/v1/groups", API_DIRECTORY_READ, h_groups);
    rc |= api_route(e, s, "GET", "/api/v1/people", API_DIRECTORY_READ, h_people);
    /* before {id}: the first matching route wins */
    rc |= api_route(e, s, "GET", "/api/v1/people/export", API_DIRECTORY_EXPORT, h_export);
    rc |= api_route(e, s, "GET", "/api/v1/people/{id}", API_DIRECTORY_READ, h_person);
    rc |= api_route(e, s, "GET", "/api/v1/directory/status", API_DIRECTORY_READ, h_status);
    return rc ? ANPI_ERROR : ANPI_OK;
}
