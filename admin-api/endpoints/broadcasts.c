/* broadcasts.c - broadcasts composed by hand, resend to the unanswered,
 * the send history, the tally per group and messages written back to a
 * person about their answer.
 *
 * Every handler checks the request here and hands one call to a function
 * of engine/schema/0018_scope_broadcasts.sql through api_query(), which
 * passes the caller's account first: what a group admin or hr may see and
 * reach is decided there, in one place, not in these handlers.  Outside the
 * scope is answered exactly like unknown (404 / unknown_people). */
#include "admin-api/endpoints/api.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin-api/body.h"
#include "admin-api/endpoints/broadcasts.h"
#include "admin-api/endpoints/tallycache.h"
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
#define WRITE_BACK_MAX  API_WRITE_BACK_MAX
#define EXPIRES_S       (7 * 24 * 3600)
#define HISTORY_LIMIT   100
#define HISTORY_MAX     1000
#define FOLLOW_UP_ROUNDS_MAX 10                 /* automatic resend rounds */
#define FOLLOW_UP_MINUTES_MAX (EXPIRES_S / 60)  /* nothing is sent after the broadcast expires */

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

/* The optional free "by" text of a request: kept only as a note in the
 * audit entry (who acted is the signed-in account, api_actor()).  *out is
 * NULL when absent or empty; false with err when malformed. */
static bool
note_from(json_t *j, const char **out, char *err, size_t errlen)
{
    json_t *v = json_object_get(j, "by");
    *out = NULL;
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
    *out = by && *by ? by : NULL;
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

/* One entry of audience.regions: a prefecture code (1-47, "13") or a
 * 5-digit municipality code ("13101", JIS X 0402 without the check digit).
 * Sets *pref or *city; false if it is neither. */
static bool
region_value(json_t *r, int64_t *pref, int64_t *city)
{
    int64_t code = 0;
    size_t len = 0;
    *pref = *city = 0;
    if (json_is_integer(r)) {
        code = json_integer_value(r);
        len = code >= 1000 ? 5 : 2;
    } else if (json_is_string(r)) {
        const char *s = json_string_value(r);
        len = strlen(s);
        if ((len < 1 || len > 2) && len != 5)
            return false;
        if (strspn(s, "0123456789") != len || anpi_parse_int64(s, 0, 99999, &code) != ANPI_OK)
            return false;
    } else {
        return false;
    }
    if (len <= 2 && code >= 1 && code <= 47) {
        *pref = code;
        return true;
    }
    if (len == 5 && code / 1000 >= 1 && code / 1000 <= 47) {
        *city = code;
        return true;
    }
    return false;
}

/* audience -> a clean copy {"people", "groups", "subgroups", "regions"
 * (prefecture codes), "cities" (city codes), "match"}. */
static json_t *
check_audience(json_t *a, char *err, size_t errlen)
{
    if (!json_is_object(a)) {
        snprintf(err, errlen, "\"audience\" must be an object with people, groups, subgroups, regions and match");
        return NULL;
    }
    const char *key;
    json_t *v;
    json_object_foreach(a, key, v) {
        if (strcmp(key, "people") != 0 && strcmp(key, "groups") != 0 && strcmp(key, "subgroups") != 0 &&
            strcmp(key, "regions") != 0 && strcmp(key, "match") != 0) {
            snprintf(err, errlen, "audience.%.64s is not known (people, groups, subgroups, regions, match)", key);
            return NULL;
        }
    }
    json_t *people = json_object_get(a, "people"), *groups = json_object_get(a, "groups");
    json_t *regions = json_object_get(a, "regions"), *sub = json_object_get(a, "subgroups");
    json_t *match = json_object_get(a, "match");
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
    const char *mv = match ? json_string_value(match) : "any";
    if (!mv || (strcmp(mv, "any") != 0 && strcmp(mv, "all") != 0)) {
        snprintf(err, errlen, "audience.match must be \"any\" (the union) or \"all\" (in the groups and in the regions)");
        return NULL;
    }
    if (json_array_size(people) + json_array_size(groups) + json_array_size(regions) == 0) {
        snprintf(err, errlen, "the audience is empty: give people, groups or regions");
        return NULL;
    }
    json_t *out = json_pack("{s:[], s:[], s:b, s:[], s:[], s:s}", "people", "groups", "subgroups",
                            sub ? json_is_true(sub) : 1, "regions", "cities", "match", mv);
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
        int64_t pref, city;
        if (!region_value(json_array_get(regions, i), &pref, &city)) {
            snprintf(err, errlen, "audience.regions[%zu] must be a prefecture code \"01\" to \"47\" or a "
                     "5-digit city code such as \"13101\"", i);
            goto fail;
        }
        if (pref)
            json_array_append_new(json_object_get(out, "regions"), json_integer(pref));
        else
            json_array_append_new(json_object_get(out, "cities"), json_integer(city));
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

/* ---- POST /api/v1/broadcasts and /api/v1/broadcasts/preview ---------------- */

/* The answer to a refused audience (unknown or out of scope: the same) or
 * an empty one; false when res is none of these. */
static bool
audience_refused(struct anpi_http_req *req, json_t *j, const char *what)
{
    const char *result = json_string_value(json_object_get(j, "result"));
    if (result && strcmp(result, "unknown_people") == 0) {
        char *list = json_dumps(json_object_get(j, "people"), JSON_COMPACT);
        anpi_http_respond_error(req, 400, "unknown people in audience.people: %.400s; %s", list ? list : "", what);
        free(list);
        return true;
    }
    if (result && strcmp(result, "unknown_groups") == 0) {
        char *list = json_dumps(json_object_get(j, "groups"), JSON_COMPACT);
        anpi_http_respond_error(req, 400, "unknown groups in audience.groups: %.400s; %s", list ? list : "", what);
        free(list);
        return true;
    }
    return false;
}

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
    if (result && strcmp(result, "empty") == 0)
        anpi_http_respond_error(c->req, 400, "the audience matches nobody; nothing was sent");
    else if (!audience_refused(c->req, j, "nothing was sent"))
        anpi_http_respond_error(c->req, 500, "unexpected answer from the database");
    json_decref(j);
    api_call_free(c);
}

/* The automatic resends of a composed broadcast ("follow_up"): every
 * every_min minutes to those who have not answered, at most rounds times,
 * none starting later than until_min after the first mail (0 = until the
 * broadcast expires); wording[i] = {subject, body} of round i+1, the last
 * repeating (NULL = the broadcast's own). */
struct follow_up {
    bool on;
    long long every_min, rounds, until_min;
    json_t *wording;
};

/* A composed request, checked.  The strings point into the JSON body. */
struct composed {
    const char *subject, *text, *note;
    bool drill;
    json_t *questions, *audience;
    struct follow_up follow_up;
};

static void
composed_free(struct composed *m)
{
    json_decref(m->questions);
    json_decref(m->audience);
    json_decref(m->follow_up.wording);
}

/* A whole number from lo to hi in a JSON integer; false otherwise. */
static bool
whole(json_t *v, long long lo, long long hi, long long *out)
{
    if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi)
        return false;
    *out = (long long)json_integer_value(v);
    return true;
}

/* A mail body of the composer always carries the person's reply link: the
 * text as typed when it has {{reply_url}}, else with the link added. */
static char *
with_reply_link(const char *text)
{
    bool has_link = false;
    free(anpi_template_render(text, spot_reply_url, &has_link, false, NULL));
    return has_link ? anpi_xstrdup(text) : anpi_xasprintf("%s\n\n回答はこちらから:\n{{reply_url}}\n", text);
}

/* follow_up.wording -> a clean copy [{"subject", "body"}] with the reply
 * link in every body, or NULL with err.  Each template is checked like the
 * broadcast's own. */
static json_t *
check_wording(json_t *w, long long rounds, char *err, size_t errlen)
{
    if (!json_is_array(w) || json_array_size(w) < 1 || json_array_size(w) > (size_t)rounds) {
        snprintf(err, errlen, "follow_up.wording must be an array of 1 to %lld entries (one per round; "
                 "the last repeats), each {\"subject\", \"body\"}", rounds);
        return NULL;
    }
    json_t *out = json_array();
    for (size_t i = 0; i < json_array_size(w); i++) {
        json_t *e = json_array_get(w, i);
        char where[64];
        if (!json_is_object(e)) {
            snprintf(err, errlen, "follow_up.wording[%zu] must be an object {\"subject\", \"body\"}", i);
            goto fail;
        }
        const char *key;
        json_t *v;
        json_object_foreach(e, key, v) {
            if (strcmp(key, "subject") != 0 && strcmp(key, "body") != 0) {
                snprintf(err, errlen, "follow_up.wording[%zu].%.64s is not known (subject, body)", i, key);
                goto fail;
            }
        }
        const char *subject = json_string_value(json_object_get(e, "subject"));
        const char *text = json_string_value(json_object_get(e, "body"));
        if (!subject || !*subject || strlen(subject) > SUBJECT_MAX || strpbrk(subject, "\r\n")) {
            snprintf(err, errlen, "follow_up.wording[%zu].subject must be a non-empty line of at most %d bytes",
                     i, SUBJECT_MAX);
            goto fail;
        }
        if (!text || !*text || strlen(text) > BODY_MAX) {
            snprintf(err, errlen, "follow_up.wording[%zu].body must be a non-empty text of at most %d bytes",
                     i, BODY_MAX);
            goto fail;
        }
        snprintf(where, sizeof(where), "follow_up.wording[%zu].subject", i);
        if (!template_ok(subject, subject_vars, where, err, errlen))
            goto fail;
        snprintf(where, sizeof(where), "follow_up.wording[%zu].body", i);
        if (!template_ok(text, body_vars, where, err, errlen))
            goto fail;
        char *body = with_reply_link(text);
        json_array_append_new(out, json_pack("{s:s, s:s}", "subject", subject, "body", body));
        free(body);
    }
    return out;
fail:
    json_decref(out);
    return NULL;
}

/* "follow_up": {"every_minutes" >= 1, "rounds" 1..10, "until_minutes"?,
 * "wording"?}; absent = no automatic resend (by hand still works). */
static bool
check_follow_up(json_t *f, struct follow_up *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    if (!f)
        return true;
    if (!json_is_object(f)) {
        snprintf(err, errlen, "\"follow_up\" must be an object {\"every_minutes\", \"rounds\", "
                 "\"until_minutes\", \"wording\"}");
        return false;
    }
    const char *key;
    json_t *v;
    json_object_foreach(f, key, v) {
        if (strcmp(key, "every_minutes") != 0 && strcmp(key, "rounds") != 0 &&
            strcmp(key, "until_minutes") != 0 && strcmp(key, "wording") != 0) {
            snprintf(err, errlen, "follow_up.%.64s is not known (every_minutes, rounds, until_minutes, wording)",
                     key);
            return false;
        }
    }
    if (!whole(json_object_get(f, "every_minutes"), 1, FOLLOW_UP_MINUTES_MAX, &out->every_min)) {
        snprintf(err, errlen, "follow_up.every_minutes must be a whole number of minutes from 1 to %d",
                 FOLLOW_UP_MINUTES_MAX);
        return false;
    }
    if (!whole(json_object_get(f, "rounds"), 1, FOLLOW_UP_ROUNDS_MAX, &out->rounds)) {
        snprintf(err, errlen, "follow_up.rounds must be a whole number from 1 to %d", FOLLOW_UP_ROUNDS_MAX);
        return false;
    }
    json_t *until = json_object_get(f, "until_minutes");
    if (until && !json_is_null(until)) {
        if (!whole(until, 1, FOLLOW_UP_MINUTES_MAX, &out->until_min)) {
            snprintf(err, errlen, "follow_up.until_minutes must be a whole number of minutes from 1 to %d",
                     FOLLOW_UP_MINUTES_MAX);
            return false;
        }
        if (out->until_min < out->every_min) {
            snprintf(err, errlen, "follow_up.until_minutes (%lld) is shorter than every_minutes (%lld): "
                     "no round could start", out->until_min, out->every_min);
            return false;
        }
    }
    json_t *w = json_object_get(f, "wording");
    if (w && !json_is_null(w)) {
        out->wording = check_wording(w, out->rounds, err, errlen);
        if (!out->wording)
            return false;
    }
    out->on = true;
    return true;
}

/* Check a compose body.  With full false (the preview) subject, body and
 * questions may be left out, but what is given is checked the same way. */
static bool
check_composed(json_t *j, bool full, struct composed *m, char *err, size_t errlen)
{
    memset(m, 0, sizeof(*m));
    json_t *subject = json_object_get(j, "subject"), *text = json_object_get(j, "body");
    json_t *drill = json_object_get(j, "drill"), *questions = json_object_get(j, "questions");
    m->subject = json_string_value(subject);
    m->text = json_string_value(text);
    if ((full || subject) &&
        (!m->subject || !*m->subject || strlen(m->subject) > SUBJECT_MAX || strpbrk(m->subject, "\r\n"))) {
        snprintf(err, errlen, "\"subject\" must be a non-empty line of at most %d bytes", SUBJECT_MAX);
        return false;
    }
    if ((full || text) && (!m->text || !*m->text || strlen(m->text) > BODY_MAX)) {
        snprintf(err, errlen, "\"body\" must be a non-empty text of at most %d bytes", BODY_MAX);
        return false;
    }
    if (drill && !json_is_boolean(drill)) {
        snprintf(err, errlen, "\"drill\" must be true or false");
        return false;
    }
    m->drill = json_is_true(drill);
    if (!note_from(j, &m->note, err, errlen))
        return false;
    if ((m->subject && !template_ok(m->subject, subject_vars, "subject", err, errlen)) ||
        (m->text && !template_ok(m->text, body_vars, "body", err, errlen)))
        return false;
    if (full || questions) {
        m->questions = check_questions(questions, err, errlen);
        if (!m->questions)
            return false;
    }
    if (!check_follow_up(json_object_get(j, "follow_up"), &m->follow_up, err, errlen)) {
        composed_free(m);
        return false;
    }
    m->audience = check_audience(json_object_get(j, "audience"), err, errlen);
    if (!m->audience) {
        composed_free(m);
        return false;
    }
    return true;
}

/* Shared with the console (broadcasts.h): the checks and the one statement
 * of a compose or a preview. */
bool
api_broadcast_compose(struct api_call *c, json_t *j, bool preview, anpi_db_cb cb, char *err, size_t errlen)
{
    struct composed m;
    if (!check_composed(j, !preview, &m, err, errlen))
        return false;
    if (preview) {
        char *aj = json_dumps(m.audience, JSON_COMPACT);
        const char *p[1] = { aj };
        api_query(c, "SELECT anpi_audience_preview($1::bigint, $2::jsonb)::text", 1, p, cb);
        free(aj);
        composed_free(&m);
        return true;
    }
    /* Every mail must carry the person's reply link, whatever was typed. */
    char *tmpl = with_reply_link(m.text);
    char *qj = json_dumps(m.questions, JSON_COMPACT);
    char *aj = json_dumps(m.audience, JSON_COMPACT);
    char exp[32];
    snprintf(exp, sizeof(exp), "%d", EXPIRES_S);
    const struct follow_up *f = &m.follow_up;
    char every[32], rounds[16], until[32];
    snprintf(every, sizeof(every), "%lld", f->every_min * 60);
    snprintf(rounds, sizeof(rounds), "%lld", f->rounds);
    snprintf(until, sizeof(until), "%lld", f->until_min * 60);
    char *wj = f->wording ? json_dumps(f->wording, JSON_COMPACT) : NULL;
    const char *p[12] = { m.subject, tmpl, qj, aj, m.drill ? "true" : "false", api_actor(c->req), exp, m.note,
                          every, rounds, f->until_min ? until : NULL, wj };
    /* the follow-up is set in the same statement (one transaction) as the
     * broadcast is created: never a broadcast without its asked-for rounds */
    api_query(c, f->on
        ? "SELECT anpi_manual_follow_up(anpi_manual_broadcast($1::bigint, $2, $3, $4::jsonb, $5::jsonb,"
          " $6::boolean, $7, $8::double precision, $9), $7, $10::double precision, $11::int,"
          " $12::double precision, $13::jsonb)::text"
        : "SELECT anpi_manual_broadcast($1::bigint, $2, $3, $4::jsonb, $5::jsonb, $6::boolean, $7,"
          " $8::double precision, $9)::text",
        f->on ? 12 : 8, p, cb);
    free(wj);
    free(qj);
    free(aj);
    free(tmpl);
    composed_free(&m);
    return true;
}

/* POST /api/v1/broadcasts and /preview: the same body, checked by
 * api_broadcast_compose(); cb tells creating from previewing. */
static void
compose_request(struct anpi_http_req *req, struct anpi_engine *e, bool preview, anpi_db_cb cb)
{
    size_t len = 0;
    const char *body = anpi_http_body(req, &len);
    char err[512];
    json_t *j = anpi_json_body(body ? body : "", len, err, sizeof(err));
    if (!j) {
        bad(req, err);
        return;
    }
    struct api_call *c = api_call_new(e, req);
    if (!api_broadcast_compose(c, j, preview, cb, err, sizeof(err))) {
        api_call_free(c);
        bad(req, err);
    }
    json_decref(j);
}

static void
h_compose(struct anpi_http_req *req, void *ctx)
{
    compose_request(req, ctx, false, composed_cb);
}

static void
previewed_cb(void *arg, const PGresult *res, const char *err)
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
    if (result && strcmp(result, "preview") == 0) {
        json_object_del(j, "result");
        anpi_http_respond_json(c->req, 200, j);
        api_call_free(c);
        return;
    }
    if (!audience_refused(c->req, j, "nothing was previewed"))
        anpi_http_respond_error(c->req, 500, "unexpected answer from the database");
    json_decref(j);
    api_call_free(c);
}

/* The same body as compose; answers how many people it would reach and the
 * first of them, creating nothing. */
static void
h_preview(struct anpi_http_req *req, void *ctx)
{
    compose_request(req, ctx, true, previewed_cb);
}

/* ---- GET /api/v1/broadcasts (history) -------------------------------------- */

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
    api_query(api_call_new(e, req), "SELECT anpi_broadcasts_json($1::bigint, $2::boolean, $3, $4::int, $5::int)::text",
              4, p, api_json_cb);
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
    /* the roles that see the whole tree and group admins share one count
     * per broadcast per second (tallycache.c); hr asks the database */
    if (anpi_tally_serve(e, req, id))
        return;
    struct api_call *c = api_call_new(e, req);
    c->id = id;
    c->notice = anpi_xasprintf("no broadcast %lld", id);
    char ids[32];
    snprintf(ids, sizeof(ids), "%lld", id);
    const char *p[1] = { ids };
    api_query(c, "SELECT anpi_broadcast_groups_json($1::bigint, $2::bigint)::text", 1, p, api_json_cb);
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
    /* the body is optional: {"by": "..."}, a note for the audit log */
    size_t len = 0;
    const char *body = anpi_http_body(req, &len);
    char err[512];
    const char *note = NULL;
    json_t *j = NULL;
    if (body && len > 0) {
        j = anpi_json_body(body, len, err, sizeof(err));
        if (!j || !note_from(j, &note, err, sizeof(err))) {
            json_decref(j);
            bad(req, err);
            return;
        }
    }
    struct api_call *c = api_call_new(e, req);
    c->id = id;
    char ids[32];
    snprintf(ids, sizeof(ids), "%lld", id);
    const char *p[3] = { ids, api_actor(req), note };
    api_query(c, "SELECT anpi_broadcast_resend($1::bigint, $2::bigint, $3, $4)::text", 3, p, resent_cb);
    json_decref(j);
}

/* ---- POST /api/v1/broadcasts/{id}/people/{person_id}/message -------------- */

/* Two steps: find the recipient (its id makes the reply link, which needs
 * the link key only this process holds), then store and mail.  The call
 * comes first so api_query() can carry it. */
struct wb_call {
    struct api_call c;
    char *text;
    char *note;
};

static void
wb_free(struct wb_call *w)
{
    free(w->text);
    free(w->note);
    free(w);
}

static void
wb_stored_cb(void *arg, const PGresult *res, const char *err)
{
    struct wb_call *w = arg;
    if (err) {
        anpi_http_respond_error(w->c.req, 503, "database error; the message was not stored: %s", err);
    } else {
        json_error_t jerr;
        json_t *j = json_loads(PQgetvalue(res, 0, 0), 0, &jerr);
        const char *result = json_string_value(json_object_get(j, "result"));
        if (result && strcmp(result, "stored") == 0) {
            json_object_del(j, "result");
            anpi_dispatch_kick(w->c.e);
            anpi_http_respond_json(w->c.req, 201, j);
        } else {
            json_decref(j);
            anpi_http_respond_error(w->c.req, 404, "no such recipient");
        }
    }
    wb_free(w);
}

/* Shared with the console (broadcasts.h): the reply link needs the link
 * key only this process holds, so it is made here, not in SQL. */
void
api_write_back_store(struct api_call *c, long long recipient_id, const char *text, const char *note,
                     anpi_db_cb cb)
{
    char tok[ANPI_LINK_TOKEN_LEN + 1];
    anpi_link_make(c->e->link_key, ANPI_LINK_REPLY, (int64_t)recipient_id, tok);
    char url[600], rids[32];
    snprintf(url, sizeof(url), "%s/r/%s", c->e->cfg->public_url, tok);
    snprintf(rids, sizeof(rids), "%lld", recipient_id);
    const char *p[7] = { rids, text, api_actor(c->req), url, WRITE_BACK_SUBJECT, WRITE_BACK_BODY, note };
    api_query(c, "SELECT anpi_write_back($1::bigint, $2::bigint, $3, $4, $5, $6, $7, $8)::text", 7, p, cb);
}

static void
wb_target_cb(void *arg, const PGresult *res, const char *err)
{
    struct wb_call *w = arg;
    if (err) {
        anpi_http_respond_error(w->c.req, 503, "database error: %s", err);
        wb_free(w);
        return;
    }
    json_error_t jerr;
    json_t *j = json_loads(PQgetvalue(res, 0, 0), 0, &jerr);
    const char *result = json_string_value(json_object_get(j, "result"));
    if (!result || strcmp(result, "found") != 0) {
        if (result && strcmp(result, "not_safety") == 0)
            anpi_http_respond_error(w->c.req, 409, "broadcast %lld is not a safety check; there is no answer to "
                                    "write back about", w->c.id);
        else
            anpi_http_respond_error(w->c.req, 404, "the person is not a recipient of broadcast %lld", w->c.id);
        json_decref(j);
        wb_free(w);
        return;
    }
    json_int_t rid = json_integer_value(json_object_get(j, "recipient_id"));
    json_decref(j);
    api_write_back_store(&w->c, (long long)rid, w->text, w->note, wb_stored_cb);
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
    const char *note = NULL;
    if (!text || !*text || strlen(text) > WRITE_BACK_MAX) {
        bad(req, "\"text\" must be a non-empty text of at most 2000 bytes");
        json_decref(j);
        return;
    }
    if (!note_from(j, &note, err, sizeof(err))) {
        bad(req, err);
        json_decref(j);
        return;
    }
    struct wb_call *w = anpi_xcalloc(1, sizeof(*w));
    w->c.e = e;
    w->c.req = req;
    w->c.id = id;
    w->text = anpi_xstrdup(text);
    w->note = note ? anpi_xstrdup(note) : NULL;
    json_decref(j);
    char ids[32];
    snprintf(ids, sizeof(ids), "%lld", id);
    const char *p[2] = { ids, person };
    api_query(&w->c, "SELECT anpi_write_back_target($1::bigint, $2::bigint, $3)::text", 2, p, wb_target_cb);
}

int
anpi_api_broadcasts_routes(struct anpi_engine *e, struct anpi_http_server *s)
{
    int rc = 0;
    rc |= api_route(e, s, "POST", "/api/v1/broadcasts", API_BROADCAST_SEND, h_compose);
    rc |= api_route(e, s, "POST", "/api/v1/broadcasts/preview", API_BROADCAST_SEND, h_preview);
    rc |= api_route(e, s, "GET", "/api/v1/broadcasts", API_BROADCASTS_READ, h_history);
    rc |= api_route(e, s, "GET", "/api/v1/broadcasts/{id}/groups", API_BROADCASTS_READ, h_groups);
    rc |= api_route(e, s, "POST", "/api/v1/broadcasts/{id}/resend", API_BROADCAST_SEND, h_resend);
    rc |= api_route(e, s, "POST", "/api/v1/broadcasts/{id}/people/{person_id}/message", API_BROADCAST_SEND, h_write_back);
    return rc ? ANPI_ERROR : ANPI_OK;
}
