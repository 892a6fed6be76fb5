/* admin.c - the admin JSON API: health, metrics, feeds, incidents and
 * approvals, one broadcast's tally, imports, audit.
 *
 * Handlers validate the request, start one database call and answer from
 * its callback; the HTTP layer keeps the connection suspended meanwhile, so
 * a slow database never blocks the loop or other requests.  The gate
 * (gate.c) has checked the caller's role first; scoped data goes through
 * api_query() (the caller's account as $1), and every created_by / audit
 * actor is the signed-in login (api_actor()). */
#include "admin-api/endpoints/api.h"
#include "admin-api/endpoints/access.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "admin-api/body.h"
#include "channels/smtp.h"
#include "engine/anpi.h"
#include "engine/buf.h"
#include "engine/log.h"
#include "engine/directory.h"
#include "engine/people_csv.h"
#include "engine/travellers_csv.h"
#include "feeds/overseas/country.h"

/* Caps on the free text of an approval (bytes). */
#define COMMENT_MAX 2000
#define BY_MAX      128

struct api_call *
api_call_new(struct anpi_engine *e, struct anpi_http_req *req)
{
    struct api_call *c = anpi_xcalloc(1, sizeof(*c));
    c->e = e;
    c->req = req;
    return c;
}

void
api_call_free(struct api_call *c)
{
    free(c->notice);
    free(c);
}

long long
api_id(const char *s)
{
    int64_t v;
    if (anpi_parse_int64(s, 1, INT64_MAX, &v) != ANPI_OK)
        return 0;
    return (long long)v;
}


/* Answers with the JSON text in row 0, column 0; NULL -> 404 with the
 * message in c->notice ("not found" without one).  A people read has the
 * number of people rows it returned in column 1 and its name in
 * c->decision: that is noted for the unusual-access warnings before the
 * answer goes out (the request is gone after it). */
void
api_json_cb(void *arg, const PGresult *res, const char *err)
{
    struct api_call *c = arg;
    if (err) {
        anpi_http_respond_error(c->req, 503, "database error: %s", err);
    } else if (PQntuples(res) != 1 || PQgetisnull(res, 0, 0)) {
        anpi_http_respond_error(c->req, 404, "%s", c->notice ? c->notice : "not found");
    } else {
        int64_t rows = 0;
        if (c->decision[0] && PQnfields(res) >= 2 &&
            anpi_parse_int64(PQgetvalue(res, 0, 1), 0, INT64_MAX, &rows) == ANPI_OK)
            api_note_read(c->e, c->req, c->decision, (long long)rows);
        const char *t = PQgetvalue(res, 0, 0);
        anpi_http_respond(c->req, 200, "application/json", t, strlen(t));
    }
    api_call_free(c);
}

static void
h_healthz(struct anpi_http_req *req, void *ctx)
{
    struct anpi_engine *e = ctx;
    int up = anpi_db_connected(e->db);
    json_t *j = json_pack("{s:s, s:i, s:i}", "status", up > 0 ? "ok" : "degraded",
                          "database_connections", up, "deliveries_in_flight", (int)e->inflight);
    anpi_http_respond_json(req, up > 0 ? 200 : 503, j);
}

static void
h_metrics(struct anpi_http_req *req, void *ctx)
{
    struct anpi_engine *e = ctx;
    struct anpi_buf b;
    anpi_buf_init(&b, 0);
    const struct anpi_metrics *m = &e->m;
#define C(name, help, v) anpi_buf_printf(&b, "# HELP anpi_" name " " help "\n# TYPE anpi_" name " counter\nanpi_" name " %llu\n", (unsigned long long)(v))
#define G(name, help, v) anpi_buf_printf(&b, "# HELP anpi_" name " " help "\n# TYPE anpi_" name " gauge\nanpi_" name " %llu\n", (unsigned long long)(v))
    C("documents_received_total", "Feed documents received (poll and push).", m->documents_received);
    C("documents_duplicate_total", "Documents already stored.", m->documents_duplicate);
    C("documents_rejected_total", "Malformed or unusable documents.", m->documents_rejected);
    C("events_total", "Events stored.", m->events);
    C("incidents_opened_total", "Incidents opened.", m->incidents_opened);
    C("grouping_decisions_total", "Grouping decisions taken.", m->decisions);
    C("deliveries_sent_total", "Messages accepted by the relay or written to the outbox.", m->deliveries_sent);
    C("deliveries_deferred_total", "Temporary delivery failures.", m->deliveries_deferred);
    C("deliveries_failed_total", "Permanent delivery failures.", m->deliveries_failed);
    C("answers_total", "Answers recorded.", m->answers);
    C("http_requests_total", "HTTP requests handled.", m->http_requests);
    G("deliveries_in_flight", "Messages handed to the channel and not yet answered.", e->inflight);
    G("database_connections", "Open database connections.", (unsigned)anpi_db_connected(e->db));
    G("database_queue", "Statements waiting for a database connection.", anpi_db_queue_depth(e->db));
    if (e->smtp) {
        /* per relay and per destination group (carrier profiles, smtp.limits) */
        struct anpi_smtp_relay_stats rs[16];
        size_t nr = anpi_smtp_pool_relay_stats(e->smtp, rs, ANPI_ARRAY_LEN(rs));
        anpi_buf_puts(&b, "# HELP anpi_smtp_relay_messages_total Messages by relay and outcome.\n"
                          "# TYPE anpi_smtp_relay_messages_total counter\n");
        for (size_t i = 0; i < nr && i < ANPI_ARRAY_LEN(rs); i++)
            anpi_buf_printf(&b, "anpi_smtp_relay_messages_total{relay=\"%s\",outcome=\"sent\"} %zu\n"
                                "anpi_smtp_relay_messages_total{relay=\"%s\",outcome=\"deferred\"} %zu\n"
                                "anpi_smtp_relay_messages_total{relay=\"%s\",outcome=\"failed\"} %zu\n"
                                "anpi_smtp_relay_down{relay=\"%s\"} %d\n",
                            rs[i].relay, rs[i].sent, rs[i].relay, rs[i].deferred, rs[i].relay, rs[i].failed,
                            rs[i].relay, rs[i].down ? 1 : 0);
        struct anpi_smtp_group_stats gs[64];
        size_t ng = anpi_smtp_pool_group_stats(e->smtp, gs, ANPI_ARRAY_LEN(gs));
        anpi_buf_puts(&b, "# HELP anpi_smtp_destination_messages_total Messages by destination group.\n"
                          "# TYPE anpi_smtp_destination_messages_total counter\n");
        for (size_t i = 0; i < ng && i < ANPI_ARRAY_LEN(gs); i++)
            anpi_buf_printf(&b, "anpi_smtp_destination_messages_total{group=\"%s\",outcome=\"sent\"} %zu\n"
                                "anpi_smtp_destination_messages_total{group=\"%s\",outcome=\"deferred\"} %zu\n"
                                "anpi_smtp_destination_messages_total{group=\"%s\",outcome=\"failed\"} %zu\n"
                                "anpi_smtp_destination_queued{group=\"%s\"} %zu\n"
                                "anpi_smtp_destination_rate_limit{group=\"%s\"} %.3f\n"
                                "anpi_smtp_destination_rate{group=\"%s\"} %.3f\n",
                            gs[i].group, gs[i].sent, gs[i].group, gs[i].deferred, gs[i].group, gs[i].failed,
                            gs[i].group, gs[i].queued, gs[i].group, gs[i].rate_limit, gs[i].group,
                            gs[i].current_rate);
    }
    G("live_nodes", "anpid nodes sharing the database (rate limits are split between them).", e->live_nodes);
#undef C
#undef G
    anpi_http_respond(req, 200, "text/plain; version=0.0.4", b.data, b.len);
    anpi_buf_free(&b);
}

struct ingest_call {
    struct anpi_http_req *req;
};

static void
ingested(void *arg, const struct anpi_ingest_result *r)
{
    struct anpi_http_req *req = arg;
    if (r->status >= 400) {
        anpi_http_respond_error(req, r->status, "%s", r->error ? r->error : "failed");
        return;
    }
    json_t *j = json_object();
    json_object_set_new(j, "document_id", json_integer(r->document_id));
    if (r->status == 200) {
        json_object_set_new(j, "duplicate", json_true());
        json_object_set_new(j, "events", json_array());
    } else {
        json_error_t jerr;
        json_t *ev = r->events_json ? json_loads(r->events_json, 0, &jerr) : NULL;
        json_object_set_new(j, "duplicate", json_false());
        json_object_set_new(j, "events", ev ? ev : json_array());
    }
    anpi_http_respond_json(req, r->status, j);
}

static void
h_feed_push(struct anpi_http_req *req, void *ctx)
{
    struct anpi_engine *e = ctx;
    size_t len = 0;
    const char *body = anpi_http_body(req, &len);
    if (!body || len == 0) {
        anpi_http_respond_error(req, 400, "empty body: send the raw document");
        return;
    }
    const char *rp = anpi_http_query(req, "replay");
    bool replay = rp && (strcmp(rp, "1") == 0 || strcmp(rp, "true") == 0);
    anpi_ingest(e, anpi_http_param(req, "source"), NULL, body, len, replay, api_actor(req), ingested, req);
}

static const char INCIDENTS_SQL[] =
    "SELECT coalesce(jsonb_agg(x ORDER BY (x->>'id')::bigint DESC), '[]')::text FROM ("
    " SELECT jsonb_build_object('id', i.id, 'status', i.status, 'key', i.incident_key, 'type', i.type,"
    "  'title', i.title, 'rule', i.rule_id, 'drill', i.drill, 'opened_at', i.opened_at,"
    "  'expires_at', i.expires_at, 'window_end', i.window_end, 'close_reason', i.close_reason,"
    "  'covered_prefectures', to_jsonb(i.covered_prefs), 'event_keys', to_jsonb(i.event_keys),"
    "  'events', (SELECT coalesce(jsonb_agg(jsonb_build_object('id', e.id, 'kind', e.kind,"
    "      'event_key', e.event_key, 'serial', e.serial, 'info_type', e.info_type, 'status', e.status,"
    "      'max_intensity', e.max_intensity, 'occurred_at', e.occurred_at, 'cancelled', e.cancelled,"
    "      'decision', ie.decision, 'reason', ie.reason, 'at', ie.created_at) ORDER BY ie.created_at, e.id), '[]')"
    "    FROM incident_events ie JOIN events e ON e.id = ie.event_id WHERE ie.incident_id = i.id),"
    "  'broadcasts', (SELECT coalesce(jsonb_agg(b.id ORDER BY b.id), '[]') FROM broadcasts b"
    "    WHERE b.incident_id = i.id AND b.kind = 'safety'),"
    "  'approvals', (SELECT coalesce(jsonb_agg(jsonb_build_object('id', a.id, 'round', a.round_kind,"
    "      'status', a.status, 'prefectures', to_jsonb(a.prefs), 'reason', a.reason, 'required', a.required,"
    "      'deadline', a.deadline, 'waited_s', extract(epoch FROM coalesce(a.decided_at, now()) - a.created_at)::int,"
    "      'decisions', (SELECT coalesce(jsonb_agg(jsonb_build_object('by', d.decided_by,"
    "          'decision', d.decision, 'comment', d.comment, 'via', d.via, 'from', d.source_addr,"
    "          'at', d.created_at) ORDER BY d.created_at), '[]') FROM approval_decisions d"
    "        WHERE d.approval_id = a.id)) ORDER BY a.id), '[]') FROM approvals a WHERE a.incident_id = i.id)"
    " ) x FROM incidents i WHERE anpi_scope_all($1::bigint) AND ($2::bigint IS NULL OR i.id = $2::bigint)"
    "   AND ($3::text IS NULL OR i.status = $3::text)) s";

static void
incidents_cb(void *arg, const PGresult *res, const char *err)
{
    struct api_call *c = arg;
    if (err) {
        anpi_http_respond_error(c->req, 503, "database error: %s", err);
    } else {
        const char *t = PQgetvalue(res, 0, 0);
        if (c->id) {
            json_error_t jerr;
            json_t *arr = json_loads(t, 0, &jerr);
            json_t *one = json_array_get(arr, 0);
            if (one)
                anpi_http_respond_json(c->req, 200, json_incref(one));
            else
                anpi_http_respond_error(c->req, 404, "no incident %lld", c->id);
            json_decref(arr);
        } else {
            struct anpi_buf b;
            anpi_buf_init(&b, 0);
            anpi_buf_printf(&b, "{\"incidents\":%s}", t);
            anpi_http_respond(c->req, 200, "application/json", b.data, b.len);
            anpi_buf_free(&b);
        }
    }
    api_call_free(c);
}

static void
h_incidents(struct anpi_http_req *req, void *ctx)
{
    struct anpi_engine *e = ctx;
    struct api_call *c = api_call_new(e, req);
    const char *p[2] = { NULL, anpi_http_query(req, "status") };
    api_query(c, INCIDENTS_SQL, 2, p, incidents_cb);
}

static void
h_incident(struct anpi_http_req *req, void *ctx)
{
    struct anpi_engine *e = ctx;
    long long id = api_id(anpi_http_param(req, "id"));
    if (!id) {
        anpi_http_respond_error(req, 404, "no such incident");
        return;
    }
    struct api_call *c = api_call_new(e, req);
    c->id = id;
    char ids[32];
    snprintf(ids, sizeof(ids), "%lld", id);
    const char *p[2] = { ids, NULL };
    api_query(c, INCIDENTS_SQL, 2, p, incidents_cb);
}

static void
decided_cb(void *arg, const PGresult *res, const char *err)
{
    struct api_call *c = arg;
    if (err) {
        anpi_http_respond_error(c->req, 503, "database error: %s", err);
        api_call_free(c);
        return;
    }
    json_error_t jerr;
    json_t *j = json_loads(PQgetvalue(res, 0, 0), 0, &jerr);
    const char *result = json_string_value(json_object_get(j, "result"));
    unsigned status = 200;
    if (!result) {
        status = 500;
    } else if (strcmp(result, "no_incident") == 0) {
        anpi_http_respond_error(c->req, 404, "no incident %lld", c->id);
        json_decref(j);
        api_call_free(c);
        return;
    } else if (strcmp(result, "not_found") == 0) {
        json_object_set_new(j, "error", json_sprintf("incident %lld has no pending approval", c->id));
        status = 409;
    } else if (strcmp(result, "duplicate") == 0) {
        json_object_set_new(j, "error", json_string("this officer has already decided"));
        status = 409;
    } else if (strcmp(result, "closed") == 0) {
        json_object_set_new(j, "error", json_string("the approval was already decided"));
        status = 409;
    } else if (strcmp(result, "expired") == 0) {
        json_object_set_new(j, "error", json_string("the incident expired; nothing will be sent"));
        status = 410;
    }
    if (json_object_get(j, "broadcast_id"))
        anpi_dispatch_kick(c->e);
    anpi_http_respond_json(c->req, status, j);
    api_call_free(c);
}

static void
decide(struct anpi_http_req *req, struct anpi_engine *e, const char *decision)
{
    long long id = api_id(anpi_http_param(req, "id"));
    if (!id) {
        anpi_http_respond_error(req, 404, "no such incident");
        return;
    }
    size_t len = 0;
    const char *body = anpi_http_body(req, &len);
    json_t *j = NULL;
    if (body && len > 0) {
        char err[256];
        j = anpi_json_body(body, len, err, sizeof(err));
        if (!j) {
            anpi_http_respond_error(req, 400, "%s", err);
            return;
        }
    }
    json_t *cv = json_object_get(j, "comment"), *bv = json_object_get(j, "by");
    if ((cv && !json_is_string(cv)) || (bv && !json_is_string(bv))) {
        anpi_http_respond_error(req, 400, "\"comment\" and \"by\" must be strings");
        json_decref(j);
        return;
    }
    const char *comment = json_string_value(cv);
    const char *by = json_string_value(bv);
    if ((comment && strlen(comment) > COMMENT_MAX) || (by && strlen(by) > BY_MAX)) {
        anpi_http_respond_error(req, 400, "\"comment\" is capped at %d bytes, \"by\" at %d", COMMENT_MAX, BY_MAX);
        json_decref(j);
        return;
    }
    /* The officer is the signed-in account; "by" is only a note for the
     * audit log.  via says how the decision came (anpictl or the API). */
    const char *client = anpi_http_header(req, "X-Anpi-Client");
    bool cli = client && strcmp(client, "anpictl") == 0;
    char ids[32];
    snprintf(ids, sizeof(ids), "%lld", id);
    const char *p[7] = { ids, api_actor(req), decision, comment ? comment : "", cli ? "cli" : "api",
                         anpi_http_peer(req), by && *by ? by : NULL };
    struct api_call *c = api_call_new(e, req);
    c->id = id;
    api_query(c, "SELECT anpi_decide_incident($1::bigint, $2::bigint, $3, $4, $5, $6, $7, $8)::text", 7, p,
              decided_cb);
    json_decref(j);
}

static void
h_approve(struct anpi_http_req *req, void *ctx)
{
    decide(req, ctx, "approve");
}

static void
h_reject(struct anpi_http_req *req, void *ctx)
{
    decide(req, ctx, "reject");
}

static void
h_broadcast(struct anpi_http_req *req, void *ctx)
{
    struct anpi_engine *e = ctx;
    long long id = api_id(anpi_http_param(req, "id"));
    if (!id) {
        anpi_http_respond_error(req, 404, "no such broadcast");
        return;
    }
    char ids[32];
    snprintf(ids, sizeof(ids), "%lld", id);
    const char *p[1] = { ids };
    /* Outside the caller's scope is NULL: the same 404 as an unknown id. */
    api_query(api_call_new(e, req), "SELECT anpi_broadcast_json($1::bigint, $2::bigint)::text", 1, p,
              api_json_cb);
}

/* The report of anpi_import_people2; c->notice holds the input's encoding. */
static void
imported_cb(void *arg, const PGresult *res, const char *err)
{
    struct api_call *c = arg;
    if (err) {
        anpi_http_respond_error(c->req, 503, "database error; nothing was imported: %s", err);
    } else {
        json_error_t jerr;
        json_t *j = json_loads(PQgetvalue(res, 0, 0), 0, &jerr);
        if (!j)
            j = json_object();
        json_object_set_new(j, "encoding", json_string(c->notice ? c->notice : "UTF-8"));
        if (json_array_size(json_object_get(j, "errors")) > 0) {
            json_object_set_new(j, "error", json_string("the import was refused; nothing was imported"));
            anpi_http_respond_json(c->req, 400, j);
        } else {
            if (!json_object_get(j, "errors"))
                json_object_set_new(j, "errors", json_array());
            anpi_http_respond_json(c->req, 200, j);
        }
    }
    api_call_free(c);
}

/* A list of row errors as a JSON array.  A message that quotes invalid
 * UTF-8 from the input would be refused by jansson (and silently dropped):
 * such bytes are shown as '?'. */
static json_t *
errors_json(const struct anpi_errors *errs)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < errs->n; i++) {
        json_t *m = json_string(errs->msg[i]);
        if (!m) {
            char *copy = anpi_xstrdup(errs->msg[i]);
            for (unsigned char *p = (unsigned char *)copy; *p; p++)
                if (*p >= 0x80)
                    *p = '?';
            m = json_string(copy);
            free(copy);
        }
        json_array_append_new(arr, m);
    }
    return arr;
}

/* POST /api/v1/people/import[?dry_run=1][&mode=merge|update]: UTF-8 or
 * Shift_JIS CSV.  merge (default) adds and updates the rows given; update
 * takes the CSV as the whole directory and removes everyone not in it.  The
 * answer is the diff report; a dry run reports without changing anything. */
static void
h_import(struct anpi_http_req *req, void *ctx)
{
    struct anpi_engine *e = ctx;
    const char *dry = anpi_http_query(req, "dry_run");
    const char *mode = anpi_http_query(req, "mode");
    bool dry_run = false;
    if (dry && (!strcmp(dry, "1") || !strcmp(dry, "true")))
        dry_run = true;
    else if (dry && strcmp(dry, "0") && strcmp(dry, "false")) {
        anpi_http_respond_error(req, 400, "dry_run must be 1, true, 0 or false");
        return;
    }
    if (!mode || !*mode)
        mode = "merge";
    if (strcmp(mode, "merge") && strcmp(mode, "update")) {
        anpi_http_respond_error(req, 400, "mode must be merge or update");
        return;
    }
    size_t len = 0;
    const char *body = anpi_http_body(req, &len);
    struct anpi_people_csv csv = { 0 };
    struct anpi_errors errs = { 0 };
    const char *enc = NULL;
    if (anpi_people_csv_parse_any(body ? body : "", len, &csv, &enc, &errs) != ANPI_OK) {
        json_t *arr = errors_json(&errs);
        json_t *j = json_pack("{s:s, s:o, s:i, s:s, s:b, s:[], s:[], s:[], s:i}", "error",
                              "the CSV has errors; nothing was imported", "errors", arr, "rows", 0,
                              "mode", mode, "dry_run", dry_run, "added", "changed", "removed",
                              "unchanged", 0);
        if (enc)
            json_object_set_new(j, "encoding", json_string(enc));
        anpi_errors_free(&errs);
        anpi_people_csv_free(&csv);
        anpi_http_respond_json(req, 400, j);
        return;
    }
    char *rows = anpi_directory_rows_json(&csv);
    anpi_people_csv_free(&csv);
    struct api_call *c = api_call_new(e, req);
    c->notice = anpi_xstrdup(enc ? enc : "UTF-8");
    const char *p[4] = { rows, mode, dry_run ? "true" : "false", api_actor(req) };
    anpi_db_query(e->db, "SELECT anpi_import_people2($1::jsonb, $2, $3::boolean, $4)::text", 4, p,
                  imported_cb, c);
    free(rows);
}

static void
h_audit(struct anpi_http_req *req, void *ctx)
{
    struct anpi_engine *e = ctx;
    anpi_db_query(e->db,
        "SELECT jsonb_build_object('entries', coalesce(jsonb_agg(jsonb_build_object('id', id, 'at', at,"
        " 'actor', actor, 'action', action, 'object', object, 'detail', detail) ORDER BY id DESC), '[]'))::text"
        " FROM (SELECT * FROM audit_log ORDER BY id DESC LIMIT 200) a", 0, NULL, api_json_cb,
        api_call_new(e, req));
}

static void
h_feeds(struct anpi_http_req *req, void *ctx)
{
    struct anpi_engine *e = ctx;
    anpi_http_respond_json(req, 200, anpi_feed_health_json(e));
}

static void
trips_cb(void *arg, const PGresult *res, const char *err)
{
    struct api_call *c = arg;
    if (err) {
        anpi_http_respond_error(c->req, 503, "database error; nothing was imported: %s", err);
    } else {
        json_error_t jerr;
        json_t *j = json_loads(PQgetvalue(res, 0, 0), 0, &jerr);
        const char *result = json_string_value(json_object_get(j, "result"));
        if (result && strcmp(result, "unknown_people") == 0) {
            json_t *o = json_pack("{s:s, s:[s]}", "error", "unknown people; nothing was imported",
                                  "errors", json_string_value(json_object_get(j, "people")));
            anpi_http_respond_json(c->req, 400, o);
            json_decref(j);
        } else {
            json_object_set_new(j, "errors", json_array());
            anpi_http_respond_json(c->req, 200, j);
        }
    }
    api_call_free(c);
}

static void
h_travellers_import(struct anpi_http_req *req, void *ctx)
{
    struct anpi_engine *e = ctx;
    size_t len = 0;
    const char *body = anpi_http_body(req, &len);
    struct anpi_travellers_csv csv = { 0 };
    struct anpi_errors errs = { 0 };
    if (anpi_travellers_csv_parse(body ? body : "", len, &csv, &errs) != ANPI_OK) {
        json_t *arr = errors_json(&errs);
        anpi_errors_free(&errs);
        anpi_travellers_csv_free(&csv);
        anpi_http_respond_json(req, 400, json_pack("{s:s, s:o}", "error",
                               "the CSV has errors; nothing was imported", "errors", arr));
        return;
    }
    json_t *rows = json_array();
    for (size_t i = 0; i < csv.nrows; i++)
        json_array_append_new(rows, json_pack("{s:s, s:s, s:s, s:s}", "person_id", csv.rows[i].person_id,
                                              "country", csv.rows[i].country, "from", csv.rows[i].from,
                                              "to", csv.rows[i].to));
    anpi_travellers_csv_free(&csv);
    char *rj = json_dumps(rows, JSON_COMPACT);
    json_decref(rows);
    const char *p[2] = { rj, api_actor(req) };
    anpi_db_query(e->db, "SELECT anpi_import_trips($1::jsonb, $2)::text", 2, p, trips_cb,
                  api_call_new(e, req));
    free(rj);
}

static void
manual_check_cb(void *arg, const PGresult *res, const char *err)
{
    struct api_call *c = arg;
    if (err) {
        anpi_http_respond_error(c->req, 503, "database error: %s", err);
    } else {
        json_error_t jerr;
        json_t *j = json_loads(PQgetvalue(res, 0, 0), 0, &jerr);
        anpi_dispatch_kick(c->e);
        anpi_http_respond_json(c->req, 202, j ? j : json_object());
    }
    api_call_free(c);
}

/* A safety check to the travellers in one country, started by hand: the
 * operator's request is the decision, so there is no approval round. */
static void
h_travellers_check(struct anpi_http_req *req, void *ctx)
{
    struct anpi_engine *e = ctx;
    size_t len = 0;
    const char *body = anpi_http_body(req, &len);
    char err[256];
    json_t *j = anpi_json_body(body ? body : "", len, err, sizeof(err));
    if (!j) {
        anpi_http_respond_error(req, 400, "%s", err);
        return;
    }
    const char *country = json_string_value(json_object_get(j, "country"));
    const struct anpi_country *ct = country ? anpi_country_by_alpha2(country) : NULL;
    if (!ct) {
        anpi_http_respond_error(req, 400, "\"country\" must be an ISO 3166-1 alpha-2 code such as TH");
        json_decref(j);
        return;
    }
    const char *given = json_string_value(json_object_get(j, "title"));
    char *title = given && *given ? anpi_xstrdup(given) : anpi_xasprintf("%s 渡航者の安否確認", ct->name_ja);
    char *msg = anpi_manual_check_message(e, ct->alpha2, title);
    if (!msg) {
        anpi_http_respond_error(req, 409, "no rule overseas-safety-check is loaded (it gives the questions "
                                "and the template)");
        free(title);
        json_decref(j);
        return;
    }
    char exp[32];
    snprintf(exp, sizeof(exp), "%lld", (long long)e->cfg->incident_expiry_s);
    const char *p[5] = { ct->alpha2, title, msg, api_actor(req), exp };
    anpi_db_query(e->db, "SELECT anpi_manual_traveller_check($1, $2, $3::jsonb, $4, $5::double precision)::text",
                  5, p, manual_check_cb, api_call_new(e, req));
    free(msg);
    free(title);
    json_decref(j);
}

static void
h_addresses(struct anpi_http_req *req, void *ctx)
{
    struct anpi_engine *e = ctx;
    const char *st = anpi_http_query(req, "status");
    if (st && strcmp(st, "unverified") != 0 && strcmp(st, "valid") != 0 && strcmp(st, "bouncing") != 0 &&
        strcmp(st, "invalid") != 0) {
        anpi_http_respond_error(req, 400, "status must be unverified, valid, bouncing or invalid");
        return;
    }
    const char *p[1] = { st };
    anpi_db_query(e->db, "SELECT anpi_addresses_json($1)::text", 1, p, api_json_cb, api_call_new(e, req));
}

static void
check_started(void *arg, const PGresult *res, const char *err)
{
    struct api_call *c = arg;
    if (err) {
        anpi_http_respond_error(c->req, 503, "database error: %s", err);
    } else {
        anpi_dispatch_kick(c->e);
        json_t *j = json_object();
        json_object_set_new(j, "broadcast_id", PQgetisnull(res, 0, 0) ? json_null()
                            : json_integer(strtoll(PQgetvalue(res, 0, 0), NULL, 10)));
        anpi_http_respond_json(c->req, 202, j);
    }
    api_call_free(c);
}

static void
h_address_check(struct anpi_http_req *req, void *ctx)
{
    struct anpi_engine *e = ctx;
    char dedupe[128];
    snprintf(dedupe, sizeof(dedupe), "check:%s:%lld", api_actor(req), (long long)anpi_now_ms());
    const char *p[2] = { dedupe, api_actor(req) };
    anpi_db_query(e->db, "SELECT anpi_address_check($1, $2)", 2, p, check_started, api_call_new(e, req));
}

int
anpi_api_admin_routes(struct anpi_engine *e, struct anpi_http_server *s)
{
    int rc = 0;
    rc |= api_route(e, s, "GET", "/healthz", API_OPEN, h_healthz);
    rc |= api_route(e, s, "GET", "/metrics", API_OPEN, h_metrics);
    rc |= api_route(e, s, "POST", "/api/v1/feeds/{source}/documents", API_FEEDS_PUSH, h_feed_push);
    rc |= api_route(e, s, "GET", "/api/v1/incidents", API_INCIDENTS_READ, h_incidents);
    rc |= api_route(e, s, "GET", "/api/v1/incidents/{id}", API_INCIDENTS_READ, h_incident);
    rc |= api_route(e, s, "POST", "/api/v1/incidents/{id}/approve", API_APPROVE, h_approve);
    rc |= api_route(e, s, "POST", "/api/v1/incidents/{id}/reject", API_APPROVE, h_reject);
    rc |= api_route(e, s, "GET", "/api/v1/broadcasts/{id}", API_BROADCASTS_READ, h_broadcast);
    rc |= api_route(e, s, "POST", "/api/v1/people/import", API_DIRECTORY_WRITE, h_import);
    rc |= api_route(e, s, "GET", "/api/v1/audit", API_AUDIT, h_audit);
    rc |= api_route(e, s, "GET", "/api/v1/feeds", API_FEEDS_READ, h_feeds);
    rc |= api_route(e, s, "GET", "/api/v1/addresses", API_DIRECTORY_WRITE, h_addresses);
    rc |= api_route(e, s, "POST", "/api/v1/addresses/check", API_DIRECTORY_WRITE, h_address_check);
    rc |= api_route(e, s, "POST", "/api/v1/travellers/import", API_DIRECTORY_WRITE, h_travellers_import);
    rc |= api_route(e, s, "POST", "/api/v1/travellers/check", API_TRAVELLERS, h_travellers_check);
    return rc ? ANPI_ERROR : ANPI_OK;
}
