/* escalation.c - a broadcast's escalation settings and what was sent.
 *
 *   POST /api/v1/broadcasts/{id}/escalation   {"after_minutes": N, "below": 0.0-1.0}
 *   GET  /api/v1/broadcasts/{id}/escalations
 *
 * The escalation itself runs in the database (anpi_escalation_tick,
 * engine/schema/0019_escalation.sql, started from engine/health.c's
 * timer); these handlers check the request and make one scoped call
 * each: a broadcast outside the caller's scope is 404. */
#include "admin-api/endpoints/api.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin-api/body.h"
#include "engine/anpi.h"

#define AFTER_MAX_MIN (30 * 24 * 60)   /* same bound as the config's escalation.after */

/* The configuration's default as query parameters (NULL when not set). */
static void
config_default(const struct anpi_engine *e, char *after, size_t alen, char *below, size_t blen,
               const char **pa, const char **pb)
{
    *pa = *pb = NULL;
    if (!e->cfg->escalation)
        return;
    snprintf(after, alen, "%lld", (long long)e->cfg->escalation_after_s);
    snprintf(below, blen, "%.4f", e->cfg->escalation_below);
    *pa = after;
    *pb = below;
}

static void
h_list(struct anpi_http_req *req, void *ctx)
{
    struct anpi_engine *e = ctx;
    long long id = api_id(anpi_http_param(req, "id"));
    if (!id) {
        anpi_http_respond_error(req, 404, "no such broadcast");
        return;
    }
    struct api_call *c = api_call_new(e, req);
    c->id = id;
    c->notice = anpi_xasprintf("no broadcast %lld", id);
    char ids[32], after[32], below[32];
    snprintf(ids, sizeof(ids), "%lld", id);
    const char *pa, *pb;
    config_default(e, after, sizeof(after), below, sizeof(below), &pa, &pb);
    const char *p[3] = { ids, pa, pb };
    api_query(c, "SELECT anpi_escalations_json($1::bigint, $2::bigint, $3::int, trim_scale($4::numeric))::text",
              3, p, api_json_cb);
}

static void
set_cb(void *arg, const PGresult *res, const char *err)
{
    struct api_call *c = arg;
    if (err) {
        anpi_http_respond_error(c->req, 503, "database error; the settings were not changed: %s", err);
        api_call_free(c);
        return;
    }
    json_error_t jerr;
    json_t *j = PQntuples(res) > 0 ? json_loads(PQgetvalue(res, 0, 0), 0, &jerr) : NULL;
    const char *result = json_string_value(json_object_get(j, "result"));
    if (result && strcmp(result, "set") == 0) {
        json_object_del(j, "result");
        anpi_http_respond_json(c->req, 200, j);
        api_call_free(c);
        return;
    }
    if (result && strcmp(result, "not_safety") == 0)
        anpi_http_respond_error(c->req, 409, "broadcast %lld is a %s mail, not a safety check; only safety "
                                "checks have answer rates to escalate on", c->id,
                                json_string_value(json_object_get(j, "kind")));
    else
        anpi_http_respond_error(c->req, 404, "no broadcast %lld", c->id);
    json_decref(j);
    api_call_free(c);
}

static void
h_set(struct anpi_http_req *req, void *ctx)
{
    struct anpi_engine *e = ctx;
    long long id = api_id(anpi_http_param(req, "id"));
    if (!id) {
        anpi_http_respond_error(req, 404, "no such broadcast");
        return;
    }
    size_t len = 0;
    const char *body = anpi_http_body(req, &len);
    char err[512];
    json_t *j = anpi_json_body(body ? body : "", len, err, sizeof(err));
    if (!j) {
        anpi_http_respond_error(req, 400, "%s", err);
        return;
    }
    json_t *after = json_object_get(j, "after_minutes");
    json_t *below = json_object_get(j, "below");
    const char *extra = NULL, *key;
    json_t *v;
    json_object_foreach(j, key, v) {
        if (strcmp(key, "after_minutes") != 0 && strcmp(key, "below") != 0) {
            extra = key;
            break;
        }
    }
    if (extra) {
        anpi_http_respond_error(req, 400, "unknown field \"%.64s\" (expected after_minutes and below)", extra);
        json_decref(j);
        return;
    }
    if (!json_is_integer(after) || json_integer_value(after) < 0 || json_integer_value(after) > AFTER_MAX_MIN) {
        anpi_http_respond_error(req, 400, "\"after_minutes\" must be a whole number of minutes from 0 to %d",
                                AFTER_MAX_MIN);
        json_decref(j);
        return;
    }
    double b = json_is_number(below) ? json_number_value(below) : -1.0;
    if (!isfinite(b) || b < 0.0 || b > 1.0) {
        anpi_http_respond_error(req, 400, "\"below\" must be an answer rate from 0 to 1 (0 turns escalation off "
                                "for this broadcast)");
        json_decref(j);
        return;
    }
    char ids[32], as[32], bs[32];
    snprintf(ids, sizeof(ids), "%lld", id);
    snprintf(as, sizeof(as), "%lld", (long long)json_integer_value(after) * 60);
    snprintf(bs, sizeof(bs), "%.4f", b);
    json_decref(j);
    struct api_call *c = api_call_new(e, req);
    c->id = id;
    const char *p[4] = { ids, as, bs, api_actor(req) };
    api_query(c, "SELECT anpi_escalation_set($1::bigint, $2::bigint, $3::int, trim_scale($4::numeric), $5)::text",
              4, p, set_cb);
}

int
anpi_api_escalation_routes(struct anpi_engine *e, struct anpi_http_server *s)
{
    int rc = 0;
    rc |= api_route(e, s, "POST", "/api/v1/broadcasts/{id}/escalation", API_BROADCAST_SEND, h_set);
    rc |= api_route(e, s, "GET", "/api/v1/broadcasts/{id}/escalations", API_BROADCASTS_READ, h_list);
    return rc ? ANPI_ERROR : ANPI_OK;
}
