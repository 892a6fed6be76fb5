/* broadcasts.c - broadcasts composed by hand, resend to the unanswered,
 * the send history, the tally per group and messages written back to a
 * person about their answer.
 *
 * Every handler checks the request here and hands one call to a function
 * of engine/schema/0012_broadcasts.sql; the later account and group-admin
 * scope layer wraps those functions, not these handlers. */
#include "admin-api/endpoints/api.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin-api/body.h"
#include "engine/anpi.h"
#include "engine/buf.h"
#include "engine/log.h"
#include "rules/rules.h"

/* Caps on what a composer may send (bytes; the JSON body is capped by the
 * server too).  A subject is a mail header: one line. */
#define SUBJECT_MAX     300
#define BODY_MAX        (16 * 1024)
#define QUESTIONS_MIN   1
#define QUESTIONS_MAX   10
#define QUESTION_ID_MAX 32
#define QUESTION_MAX    500
#define CHOICES_MIN     2
#define CHOICES_MAX     10
#define CHOICE_MAX      100
#define PERSON_ID_MAX   64
#define AUDIENCE_MAX    50000   /* entries per audience list */
#define BY_MAX          128
#define WRITE_BACK_MAX  2000
#define EXPIRES_S       (7 * 24 * 3600)
#define HISTORY_LIMIT   100
#define HISTORY_MAX     1000

/* The variables a composed broadcast may use: the person and their link. */
static const char *const body_vars[] = { "person.name", "reply_url", NULL };
static const char *const subject_vars[] = { "person.name", NULL };

static const char WRITE_BACK_SUBJECT[] = "担当者からのメッセージ（{{write_back.subject}}）";
static const char WRITE_BACK_BODY[] =
    "{{person.name}} さん\n\n"
    "安否確認「{{write_back.subject}}」へのご回答について、担当者からメッセージがあります。\n\n"
    "{{write_back.text}}\n\n"
    "回答の確認・変更はこちらから:\n{{write_back.reply_url}}\n";

/* Answer 400 with err when the check failed. */
static bool
bad(struct anpi_http_req *req, const char *err)
{
    anpi_http_respond_error(req, 400, "%s", err);
    return false;
}

/* "api" or "api:<by>" for the created_by and audit columns. */
static bool
actor_from(json_t *j, char *out, size_t outlen, char *err, size_t errlen)
{
    json_t *v = json_object_get(j, "by");
    if (v && !json_is_string(v)) {
        snprintf(err, errlen, "\"by\" must be a string");
        return false;
    }
    const char *by = json_string_value(v);
    if (by && strlen(by) > BY_MAX) {
        snprintf(err, errlen, "\"by\" is longer than %d bytes", BY_MAX);
        return false;
    }
    if (by && strpbrk(by, "\r\n\t")) {
        snprintf(err, errlen, "\"by\" must be one line");
        return false;
    }
    snprintf(out, outlen, "api%s%s", by && *by ? ":" : "", by ? by : "");
    return true;
}

static bool
question_id_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > QUESTION_ID_MAX)
        return false;
    return strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_") == n;
}

/* A non-empty one-line string of at most max bytes. */
static const char *
short_text(json_t *v, size_t max)
{
    const char *s = json_string_value(v);
    if (!s || !*s || strlen(s) > max || strpbrk(s, "\r\n"))
        return NULL;
    return s;
}

/* questions -> a clean copy [{"id", "text", "choices"}] or NULL with err. */
static json_t *
check_questions(json_t *qs, char *err, size_t errlen)
{
    if (!json_is_array(qs) || json_array_size(qs) < QUESTIONS_MIN || json_array_size(qs) > QUESTIONS_MAX) {
        snprintf(err, errlen, "\"questions\" must be an array of %d to %d questions", QUESTIONS_MIN,
                 QUESTIONS_MAX);
        return NULL;
    }
    json_t *out = json_array();
    for (size_t i = 0; i < json_array_size(qs); i++) {
        json_t *q = json_array_get(qs, i);
        const char *id = json_string_value(json_object_get(q, "id"));
        if (!json_is_object(q) || !id || !question_id_ok(id)) {
            snprintf(err, errlen, "questions[%zu].id must be 1-%d characters of a-z, 0-9 and _", i,
                     QUESTION_ID_MAX);
            goto fail;
        }
        for (size_t k = 0; k < i; k++)
            if (strcmp(json_string_value(json_object_get(json_array_get(out, k), "id")), id) == 0) {
                snprintf(err, errlen, "questions[%zu].id \"%s\" is used twice", i, id);
                goto fail;
            }
        const char *text = short_text(json_object_get(q, "text"), QUESTION_MAX);
        if (!text) {
            snprintf(err, errlen, "questions[%zu].text must be a non-empty line of at most %d bytes", i,
                     QUESTION_MAX);
            goto fail;
        }
        json_t *ch = json_object_get(q, "choices");
        if (!json_is_array(ch) || json_array_size(ch) < CHOICES_MIN || json_array_size(ch) > CHOICES_MAX) {
            snprintf(err, errlen, "questions[%zu].choices must be an array of %d to %d choices", i,
                     CHOICES_MIN, CHOICES_MAX);
            goto fail;
        }
        json_t *choices = json_array();
        for (size_t k = 0; k < json_array_size(ch); k++) {
            const char *c = short_text(json_array_get(ch, k), CHOICE_MAX);
            if (!c) {
                snprintf(err, errlen, "questions[%zu].choices[%zu] must be a non-empty line of at most %d bytes",
                         i, k, CHOICE_MAX);
                json_decref(choices);
                goto fail;
            }
            for (size_t m = 0; m < k; m++)
                if (strcmp(json_string_value(json_array_get(choices, m)), c) == 0) {
                    snprintf(err, errlen, "questions[%zu].choices: \"%s\" is given twice", i, c);
                    json_decref(choices);
                    goto fail;
                }
            json_array_append_new(choices, json_string(c));
        }
        json_array_append_new(out, json_pack("{s:s, s:s, s:o}", "id", id, "text", text, "choices", choices));
    }
    return out;
fail:
    json_decref(out);
    return NULL;
}

/* A positive id given as a number or a string of digits; 0 if neither. */
static long long
id_value(json_t *v)
{
    if (json_is_integer(v))
        return json_integer_value(v) > 0 ? (long long)json_integer_value(v) : 0;
    if (json_is_string(v))
        return api_id(json_string_value(v));
    return 0;
}

/* audience -> a clean copy {"people", "groups", "subgroups", "regions"}. */
static json_t *
check_audience(json_t *a, char *err, size_t errlen)
{
    if (!json_is_object(a)) {
        snprintf(err, errlen, "\"audience\" must be an object with people, groups, subgroups and regions");
        return NULL;
    }
    const char *key;
    json_t *v;
    json_object_foreach(a, key, v) {
        if (strcmp(key, "people") != 0 && strcmp(key, "groups") != 0 && strcmp(key, "subgroups") != 0 &&
            strcmp(key, "regions") != 0) {
            snprintf(err, errlen, "audience.%.64s is not known (people, groups, subgroups, regions)", key);
            return NULL;
        }
    }
    json_t *people = json_object_get(a, "people"), *groups = json_object_get(a, "groups");
    json_t *regions = json_object_get(a, "regions"), *sub = json_object_get(a, "subgroups");
    const char *names[3] = { "people", "groups", "regions" };
    json_t *lists[3] = { people, groups, regions };
    for (int i = 0; i < 3; i++)
        if (lists[i] && (!json_is_array(lists[i]) || json_array_size(lists[i]) > AUDIENCE_MAX)) {
            snprintf(err, errlen, "audience.%s must be an array of at most %d entries", names[i], AUDIENCE_MAX);
            return NULL;
        }
    if (sub && !json_is_boolean(sub)) {
        snprintf(err, errlen, "audience.subgroups must be true or false");
        return NULL;
    }
    if (json_array_size(people) + json_array_size(groups) + json_array_size(regions) == 0) {
        snprintf(err, errlen, "the audience is empty: give people, groups or regions");
        return NULL;
    }
    json_t *out = json_pack("{s:[], s:[], s:b, s:[]}", "people", "groups", "subgroups",
                            sub ? json_is_true(sub) : 1, "regions");
    for (size_t i = 0; i < json_array_size(people); i++) {
        const char *id = json_string_value(json_array_get(people, i));
        if (!id || !*id || strlen(id) > PERSON_ID_MAX) {
            snprintf(err, errlen, "audience.people[%zu] must be a person id (a string of 1-%d bytes)", i,
                     PERSON_ID_MAX);
            goto fail;
        }
        json_array_append_new(json_object_get(out, "people"), json_string(id));
    }
    for (size_t i = 0; i < json_array_size(groups); i++) {
        long long id = id_value(json_array_get(groups, i));
        if (!id) {
            snprintf(err, errlen, "audience.groups[%zu] must be a group id (a positive integer)", i);
            goto fail;
        }
        json_array_append_new(json_object_get(out, "groups"), json_integer(id));
    }
    for (size_t i = 0; i < json_array_size(regions); i++) {
        json_t *r = json_array_get(regions, i);
        int64_t code = 0;
        if (json_is_integer(r))
            code = json_integer_value(r);
        else if (!json_is_string(r) || anpi_parse_int64(json_string_value(r), 1, 47, &code) != ANPI_OK)
            code = 0;
        if (code < 1 || code > 47) {
            snprintf(err, errlen, "audience.regions[%zu] must be a prefecture code \"01\" to \"47\"", i);
            goto fail;
        }
        json_array_append_new(json_object_get(out, "regions"), json_integer(code));
    }
    return out;
fail:
    json_decref(out);
    return NULL;
}

/* Tells whether a template asks for {{reply_url}}. */
static const char *
spot_reply_url(void *ctx, const char *name)
{
    if (strcmp(name, "reply_url") == 0)
        *(bool *)ctx = true;
    return "";
}

/* A template of the composer: only the allowed variables; errors name where. */
static bool
template_ok(const char *tmpl, const char *const *allowed, const char *where, char *err, size_t errlen)
{
    struct anpi_errors errs = { 0 };
    int rc = anpi_template_check(tmpl, allowed, where, &errs);
    if (rc != ANPI_OK || errs.n) {
        snprintf(err, errlen, "%s (allowed: {{person.name}}%s)", errs.n ? errs.msg[0] : where,
                 allowed[1] ? ", {{reply_url}}" : "");
        anpi_errors_free(&errs);
        return false;
    }
    anpi_errors_free(&errs);
    return true;
}

/* ---- POST /api/v1/broadcasts ---------------------------------------------- */

static void
composed_cb(void *arg, const PGresult *res, const char *err)
{
    struct api_call *c = arg;
    if (err) {
        anpi_http_respond_error(c->req, 503, "database error; nothing was sent: %s", err);
        api_call_free(c);
        return;
    }
    json_error_t jerr;
    json_t *j = json_loads(PQgetvalue(res, 0, 0), 0, &jerr);
    const char *result = json_string_value(json_object_get(j, "result"));
    if (result && strcmp(result, "created") == 0) {
        json_object_del(j, "result");
        anpi_dispatch_kick(c->e);
        anpi_http_respond_json(c->req, 201, j);
        api_call_free(c);
        return;
    }
    if (result && strcmp(result, "unknown_people") == 0) {
        char *list = json_dumps(json_object_get(j, "people"), JSON_COMPACT);
        anpi_http_respond_error(c->req, 400, "unknown people in audience.people: %.400s; nothing was sent",
                                list ? list : "");
        free(list);
    } else if (result && strcmp(result, "unknown_groups") == 0) {
        char *list = json_dumps(json_object_get(j, "groups"), JSON_COMPACT);
        anpi_http_respond_error(c->req, 400, "unknown groups in audience.groups: %.400s; nothing was sent",
                                list ? list : "");
        free(list);
    } else if (result && strcmp(result, "empty") == 0) {
        anpi_http_respond_error(c->req, 400, "the audience matches nobody; nothing was sent");
    } else {
        anpi_http_respond_error(c->req, 500, "unexpected answer from the database");
    }
    json_decref(j);
    api_call_free(c);
}

static void
h_compose(struct anpi_http_req *req, void *ctx)
{
    struct anpi_engine *e = ctx;
    size_t len = 0;
    const char *body = anpi_http_body(req, &len);
    char err[512];
    json_t *j = anpi_json_body(body ? body : "", len, err, sizeof(err));
    if (!j) {
        bad(req, err);
        return;
    }
    json_t *questions = NULL, *audience = NULL;
    char who[BY_MAX + 8];
    const char *subject = json_string_value(json_object_get(j, "subject"));
    const char *text = json_string_value(json_object_get(j, "body"));
    json_t *drill = json_object_get(j, "drill");
    char *tmpl = NULL;
    if (!subject || !*subject || strlen(subject) > SUBJECT_MAX || strpbrk(subject, "\r\n")) {
        bad(req, "\"subject\" must be a non-empty line of at most 300 bytes");
        goto done;
    }
    if (!text || !*text || strlen(text) > BODY_MAX) {
        bad(req, "\"body\" must be a non-empty text of at most 16384 bytes");
        goto done;
    }
    if (drill && !json_is_boolean(drill)) {
        bad(req, "\"drill\" must be true or false");
        goto done;
    }
    if (!actor_from(j, who, sizeof(who), err, sizeof(err))) {
        bad(req, err);
        goto done;
    }
    if (!template_ok(subject, subject_vars, "subject", err, sizeof(err)) ||
        !template_ok(text, body_vars, "body", err, sizeof(err))) {
        bad(req, err);
        goto done;
    }
    questions = check_questions(json_object_get(j, "questions"), err, sizeof(err));
    if (!questions) {
        bad(req, err);
        goto done;
    }
    audience = check_audience(json_object_get(j, "audience"), err, sizeof(err));
    if (!audience) {
        bad(req, err);
        goto done;
    }
    /* Every mail must carry the person's reply link, whatever was typed. */
    bool has_link = false;
    free(anpi_template_render(text, spot_reply_url, &has_link, false, NULL));
    tmpl = has_link ? anpi_xstrdup(text) : anpi_xasprintf("%s\n\n回答はこちらから:\n{{reply_url}}\n", text);

    char *qj = json_dumps(questions, JSON_COMPACT);
    char *aj = json_dumps(audience, JSON_COMPACT);
    char exp[32];
    snprintf(exp, sizeof(exp), "%d", EXPIRES_S);
    const char *p[7] = { subject, tmpl, qj, aj, json_is_true(drill) ? "true" : "false", who, exp };
    anpi_db_query(e->db,
        "SELECT anpi_manual_broadcast($1, $2, $3::jsonb, $4::jsonb, $5::boolean, $6, $7::double precision)::text",
        7, p, composed_cb, api_call_new(e, req));
    free(qj);
    free(aj);
done:
    free(tmpl);
    json_decref(questions);
    json_decref(audience);
    json_decref(j);
}

/* ---- GET /api/v1/broadcasts (history) -------------------------------------- */

static void
json_cb(void *arg, const PGresult *res, const char *err)
{
    struct api_call *c = arg;
    if (err) {
        anpi_http_respond_error(c->req, 503, "database error: %s", err);
    } else if (PQntuples(res) == 0 || PQgetisnull(res, 0, 0)) {
        anpi_http_respond_error(c->req, 404, "no broadcast %lld", c->id);
    } else {
        const char *t = PQgetvalue(res, 0, 0);
        anpi_http_respond(c->req, 200, "application/json", t, strlen(t));
    }
    api_call_free(c);
}

static void
h_history(struct anpi_http_req *req, void *ctx)
{
    struct anpi_engine *e = ctx;
    const char *drill = anpi_http_query(req, "drill");
    const char *kind = anpi_http_query(req, "kind");
    const char *limit = anpi_http_query(req, "limit");
    const char *offset = anpi_http_query(req, "offset");
    const char *dv = NULL;
    if (drill && *drill) {
        if (strcmp(drill, "1") == 0 || strcmp(drill, "true") == 0)
            dv = "true";
        else if (strcmp(drill, "0") == 0 || strcmp(drill, "false") == 0)
            dv = "false";
        else {
            anpi_http_respond_error(req, 400, "drill must be 0 or 1");
            return;
        }
    }
    if (kind && *kind && strcmp(kind, "safety") != 0 && strcmp(kind, "notice") != 0 &&
        strcmp(kind, "info") != 0 && strcmp(kind, "approval") != 0) {
        anpi_http_respond_error(req, 400, "kind must be safety, notice, info or approval");
        return;
    }
    int64_t lim = HISTORY_LIMIT, off = 0;
    if (limit && anpi_parse_int64(limit, 1, HISTORY_MAX, &lim) != ANPI_OK) {
        anpi_http_respond_error(req, 400, "limit must be 1 to %d", HISTORY_MAX);
        return;
    }
    if (offset && anpi_parse_int64(offset, 0, INT32_MAX, &off) != ANPI_OK) {
        anpi_http_respond_error(req, 400, "offset must be a non-negative integer");
        return;
    }
    char ls[24], os[24];
    snprintf(ls, sizeof(ls), "%lld", (long long)lim);
    snprintf(os, sizeof(os), "%lld", (long long)off);
    const char *p[4] = { dv, kind && *kind ? kind : NULL, ls, os };
    anpi_db_query(e->db, "SELECT anpi_broadcasts_json($1::boolean, $2, $3::int, $4::int)::text", 4, p, json_cb,
                  api_call_new(e, req));
}

/* ---- GET /api/v1/broadcasts/{id}/groups ------------------------------------ */

static long long
broadcast_id(struct anpi_http_req *req)
{
    long long id = api_id(anpi_http_param(req, "id"));
    if (!id)
        anpi_http_respond_error(req, 404, "no such broadcast");
    return id;
}

static void
h_groups(struct anpi_http_req *req, void *ctx)
{
    struct anpi_engine *e = ctx;
    long long id = broadcast_id(req);
    if (!id)
        return;
    struct api_call *c = api_call_new(e, req);
    c->id = id;
    char ids[32];
    snprintf(ids, sizeof(ids), "%lld", id);
    const char *p[1] = { ids };
    anpi_db_query(e->db, "SELECT anpi_broadcast_groups_json($1::bigint)::text", 1, p, json_cb, c);
}

/* ---- POST /api/v1/broadcasts/{id}/resend ----------------------------------- */

static void
resent_cb(void *arg, const PGresult *res, const char *err)
{
    struct api_call *c = arg;
    if (err) {
        anpi_http_respond_error(c->req, 503, "database error; nothing was sent: %s", err);
        api_call_free(c);
        return;
    }
    json_error_t jerr;
    json_t *j = json_loads(PQgetvalue(res, 0, 0), 0, &jerr);
    const char *result = json_string_value(json_object_get(j, "result"));
    if (result && strcmp(result, "resent") == 0) {
        json_object_del(j, "result");
        anpi_dispatch_kick(c->e);
        anpi_http_respond_json(c->req, 202, j);
        api_call_free(c);
        return;
    }
    if (!result || strcmp(result, "not_found") == 0)
        anpi_http_respond_error(c->req, 404, "no broadcast %lld", c->id);
    else if (strcmp(result, "nobody") == 0)
        anpi_http_respond_error(c->req, 409, "everybody has answered broadcast %lld; nothing to resend", c->id);
    else if (strcmp(result, "not_safety") == 0)
        anpi_http_respond_error(c->req, 409, "broadcast %lld is a %s mail, not a safety check; only safety "
                                "checks are resent", c->id, json_string_value(json_object_get(j, "kind")));
    else if (strcmp(result, "expired") == 0)
        anpi_http_respond_error(c->req, 409, "broadcast %lld has expired; nothing is mailed after expiry", c->id);
    else if (strcmp(result, "no_address") == 0)
        anpi_http_respond_error(c->req, 409, "the %lld unanswered recipients of broadcast %lld have no usable "
                                "address", (long long)json_integer_value(json_object_get(j, "unanswered")), c->id);
    else
        anpi_http_respond_error(c->req, 500, "unexpected answer from the database");
    json_decref(j);
    api_call_free(c);
}

static void
h_resend(struct anpi_http_req *req, void *ctx)
{
    struct anpi_engine *e = ctx;
    long long id = broadcast_id(req);
    if (!id)
        return;
    /* the body is optional: {"by": "..."} */
    size_t len = 0;
    const char *body = anpi_http_body(req, &len);
    char err[512], who[BY_MAX + 8] = "api";
    if (body && len > 0) {
        json_t *j = anpi_json_body(body, len, err, sizeof(err));
        if (!j || !actor_from(j, who, sizeof(who), err, sizeof(err))) {
            json_decref(j);
            bad(req, err);
            return;
        }
        json_decref(j);
    }
    struct api_call *c = api_call_new(e, req);
    c->id = id;
    char ids[32];
    snprintf(ids, sizeof(ids), "%lld", id);
    const char *p[2] = { ids, who };
    anpi_db_query(e->db, "SELECT anpi_broadcast_resend($1::bigint, $2)::text", 2, p, resent_cb, c);
}

/* ---- POST /api/v1/broadcasts/{id}/people/{person_id}/message -------------- */

/* Two steps: find the recipient (its id makes the reply link, which needs
 * the link key only this process holds), then store and mail. */
struct wb_call {
    struct anpi_engine *e;
    struct anpi_http_req *req;
    long long broadcast;
    char *text;
    char who[BY_MAX + 8];
};

static void
wb_free(struct wb_call *w)
{
    free(w->text);
    free(w);
}

static void
wb_stored_cb(void *arg, const PGresult *res, const char *err)
{
    struct wb_call *w = arg;
    if (err) {
        anpi_http_respond_error(w->req, 503, "database error; the message was not stored: %s", err);
    } else {
        json_error_t jerr;
        json_t *j = json_loads(PQgetvalue(res, 0, 0), 0, &jerr);
        const char *result = json_string_value(json_object_get(j, "result"));
        if (result && strcmp(result, "stored") == 0) {
            json_object_del(j, "result");
            anpi_dispatch_kick(w->e);
            anpi_http_respond_json(w->req, 201, j);
        } else {
            json_decref(j);
            anpi_http_respond_error(w->req, 404, "no such recipient");
        }
    }
    wb_free(w);
}

static void
wb_target_cb(void *arg, const PGresult *res, const char *err)
{
    struct wb_call *w = arg;
    if (err) {
        anpi_http_respond_error(w->req, 503, "database error: %s", err);
        wb_free(w);
        return;
    }
    json_error_t jerr;
    json_t *j = json_loads(PQgetvalue(res, 0, 0), 0, &jerr);
    const char *result = json_string_value(json_object_get(j, "result"));
    if (!result || strcmp(result, "found") != 0) {
        if (result && strcmp(result, "not_safety") == 0)
            anpi_http_respond_error(w->req, 409, "broadcast %lld is not a safety check; there is no answer to "
                                    "write back about", w->broadcast);
        else
            anpi_http_respond_error(w->req, 404, "the person is not a recipient of broadcast %lld", w->broadcast);
        json_decref(j);
        wb_free(w);
        return;
    }
    json_int_t rid = json_integer_value(json_object_get(j, "recipient_id"));
    json_decref(j);
    char tok[ANPI_LINK_TOKEN_LEN + 1];
    anpi_link_make(w->e->link_key, ANPI_LINK_REPLY, (int64_t)rid, tok);
    char url[600], rids[32];
    snprintf(url, sizeof(url), "%s/r/%s", w->e->cfg->public_url, tok);
    snprintf(rids, sizeof(rids), "%lld", (long long)rid);
    const char *p[6] = { rids, w->text, w->who, url, WRITE_BACK_SUBJECT, WRITE_BACK_BODY };
    anpi_db_query(w->e->db, "SELECT anpi_write_back($1::bigint, $2, $3, $4, $5, $6)::text", 6, p,
                  wb_stored_cb, w);
}

static void
h_write_back(struct anpi_http_req *req, void *ctx)
{
    struct anpi_engine *e = ctx;
    long long id = broadcast_id(req);
    if (!id)
        return;
    const char *person = anpi_http_param(req, "person_id");
    if (!person || strlen(person) > PERSON_ID_MAX) {
        anpi_http_respond_error(req, 404, "no such person");
        return;
    }
    size_t len = 0;
    const char *body = anpi_http_body(req, &len);
    char err[512];
    json_t *j = anpi_json_body(body ? body : "", len, err, sizeof(err));
    if (!j) {
        bad(req, err);
        return;
    }
    const char *text = json_string_value(json_object_get(j, "text"));
    struct wb_call *w = anpi_xcalloc(1, sizeof(*w));
    if (!text || !*text || strlen(text) > WRITE_BACK_MAX) {
        bad(req, "\"text\" must be a non-empty text of at most 2000 bytes");
        goto fail;
    }
    if (!actor_from(j, w->who, sizeof(w->who), err, sizeof(err))) {
        bad(req, err);
        goto fail;
    }
    w->e = e;
    w->req = req;
    w->broadcast = id;
    w->text = anpi_xstrdup(text);
    json_decref(j);
    char ids[32];
    snprintf(ids, sizeof(ids), "%lld", id);
    const char *p[2] = { ids, person };
    anpi_db_query(e->db, "SELECT anpi_write_back_target($1::bigint, $2)::text", 2, p, wb_target_cb, w);
    return;
fail:
    json_decref(j);
    wb_free(w);
}

int
anpi_api_broadcasts_routes(struct anpi_engine *e, struct anpi_http_server *s)
{
    int rc = 0;
    rc |= api_route(e, s, "POST", "/api/v1/broadcasts", API_BROADCAST_SEND, h_compose);
    rc |= api_route(e, s, "GET", "/api/v1/broadcasts", API_BROADCASTS_READ, h_history);
    rc |= api_route(e, s, "GET", "/api/v1/broadcasts/{id}/groups", API_BROADCASTS_READ, h_groups);
    rc |= api_route(e, s, "POST", "/api/v1/broadcasts/{id}/resend", API_BROADCAST_SEND, h_resend);
    rc |= api_route(e, s, "POST", "/api/v1/broadcasts/{id}/people/{person_id}/message", API_BROADCAST_SEND, h_write_back);
    return rc ? ANPI_ERROR : ANPI_OK;
}
