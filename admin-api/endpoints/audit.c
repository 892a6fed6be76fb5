/* audit.c - the audit chain over the admin API (bearer token):
 *
 *   GET /api/v1/audit/verify               the database recomputes the hash
 *                                          chain (anpi_audit_verify(), schema
 *                                          0008): 200 when intact, 409 when not
 *   GET /api/v1/audit/export?from=ID&limit=N
 *                                          entries id >= ID (default 1) in id
 *                                          order as JSON lines with their
 *                                          hashes, at most N (default and cap
 *                                          ANPI_AUDIT_EXPORT_MAX) per request
 *
 * The export carries the exact strings that were hashed ("at",
 * "detail_text"), so `anpictl audit verify --file` can recompute the chain
 * without trusting the server.  An export is itself a bulk read and is
 * audited ("audit.export"). */
#include "admin-api/endpoints/api.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/anpi.h"
#include "engine/log.h"

/* Rows per export page: bounds the response (an entry is typically well under
 * 1 KiB) and the time one query holds a database connection. */
#define ANPI_AUDIT_EXPORT_MAX 10000

static void
verified_cb(void *arg, const PGresult *res, const char *err)
{
    struct api_call *c = arg;
    json_error_t jerr;
    json_t *j = NULL;
    if (err) {
        anpi_http_respond_error(c->req, 503, "database error; the audit chain was not checked: %s", err);
    } else if (PQntuples(res) != 1 || PQgetisnull(res, 0, 0) ||
               !(j = json_loads(PQgetvalue(res, 0, 0), 0, &jerr)) || !json_is_object(j)) {
        json_decref(j);
        anpi_http_respond_error(c->req, 500, "anpi_audit_verify() returned no result object");
    } else {
        bool ok = json_is_true(json_object_get(j, "ok"));
        if (!ok)
            anpi_warn(ANPI_LG_API, "audit chain broken at entry %" PRId64 ": %s",
                      (int64_t)json_integer_value(json_object_get(j, "first_bad_id")),
                      json_string_value(json_object_get(j, "reason")));
        anpi_http_respond_json(c->req, ok ? 200 : 409, j);
    }
    api_call_free(c);
}

static void
h_verify(struct anpi_http_req *req, void *ctx)
{
    struct anpi_engine *e = ctx;
    anpi_db_query(e->db, "SELECT anpi_audit_verify()::text", 0, NULL, verified_cb, api_call_new(e, req));
}

static void
exported_cb(void *arg, const PGresult *res, const char *err)
{
    struct api_call *c = arg;
    if (err) {
        anpi_http_respond_error(c->req, 503, "database error; nothing was exported: %s", err);
    } else {
        /* no rows at or after `from`: an empty body, not an error */
        const char *t = PQntuples(res) == 1 && !PQgetisnull(res, 0, 0) ? PQgetvalue(res, 0, 0) : "";
        anpi_http_respond(c->req, 200, "application/x-ndjson", t, strlen(t));
    }
    api_call_free(c);
}

static void
h_export(struct anpi_http_req *req, void *ctx)
{
    struct anpi_engine *e = ctx;
    const char *qf = anpi_http_query(req, "from"), *ql = anpi_http_query(req, "limit");
    int64_t from = 1, limit = ANPI_AUDIT_EXPORT_MAX;
    if (qf && anpi_parse_int64(qf, 1, INT64_MAX, &from) != ANPI_OK) {
        anpi_http_respond_error(req, 400, "from: expected an entry id (a positive integer), got \"%.64s\"", qf);
        return;
    }
    if (ql && anpi_parse_int64(ql, 1, ANPI_AUDIT_EXPORT_MAX, &limit) != ANPI_OK) {
        anpi_http_respond_error(req, 400, "limit: expected 1..%d, got \"%.64s\"", ANPI_AUDIT_EXPORT_MAX, ql);
        return;
    }
    char fs[24], ls[24];
    snprintf(fs, sizeof(fs), "%" PRId64, from);
    snprintf(ls, sizeof(ls), "%" PRId64, limit);
    const char *p[2] = { fs, ls };
    /* the audit.export row is inserted by the same statement and so is not
     * part of its snapshot: it shows up in the next page or export */
    anpi_db_query(e->db,
        "WITH page AS (SELECT id FROM audit_log WHERE id >= $1::bigint ORDER BY id LIMIT $2::bigint),"
        " noted AS (INSERT INTO audit_log (actor, action, object, detail)"
        "  SELECT 'api', 'audit.export', 'audit_log',"
        "         jsonb_build_object('from', $1::bigint, 'entries', count(*)) FROM page)"
        " SELECT string_agg(anpi_audit_export_line(a), E'\\n' ORDER BY a.id) || E'\\n'"
        "   FROM audit_log a WHERE a.id IN (SELECT id FROM page)",
        2, p, exported_cb, api_call_new(e, req));
}

int
anpi_api_audit_routes(struct anpi_engine *e, struct anpi_http_server *s)
{
    int rc = ANPI_OK;
    rc |= api_route(e, s, "GET", "/api/v1/audit/verify", API_AUDIT, h_verify);
    rc |= api_route(e, s, "GET", "/api/v1/audit/export", API_AUDIT, h_export);
    return rc;
}
