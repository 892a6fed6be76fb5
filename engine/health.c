/* health.c - feed health, staleness alarms and scheduled drills.
 *
 * Every source has a health record, fed by its poller (if it is polled)
 * and by every document that reaches the engine (polled or pushed).  A
 * source with feeds.<source>.stale_after that has been silent or failing for
 * longer than that mails the alarm group once, and again only after it has
 * recovered and gone stale anew.
 *
 * Scheduled drills ride on the same timer: a drill rule's run is a
 * broadcast with the dedupe key "drill:<rule>:<time>", so several nodes and
 * restarts send each run once. */
#include "engine/engine.h"

#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "engine/anpi.h"
#include "engine/log.h"
#include "feeds/poll/docpoll.h"
#include "feeds/poll/linereader.h"
#include "feeds/poll/poller.h"
#include "rules/rules.h"

#define HEALTH_MS 15000
#define DRILL_CATCH_UP_S 3600   /* a run missed by more than this (daemon down) is skipped */

static int64_t started_ms;

struct anpi_feed_health *
anpi_feed_health_get(struct anpi_engine *e, const char *source)
{
    for (size_t i = 0; i < e->nfeeds; i++)
        if (strcmp(e->feeds[i].source, source) == 0)
            return &e->feeds[i];
    if (e->nfeeds == ANPI_MAX_FEEDS)
        return NULL;
    struct anpi_feed_health *h = &e->feeds[e->nfeeds++];
    memset(h, 0, sizeof(*h));
    snprintf(h->source, sizeof(h->source), "%s", source);
    return h;
}

void
anpi_feed_health_document(struct anpi_engine *e, const char *source)
{
    struct anpi_feed_health *h = anpi_feed_health_get(e, source);
    if (!h)
        return;
    h->documents++;
    h->last_document_ms = h->last_success_ms = anpi_now_ms();
    if (h->alarmed) {
        anpi_info(ANPI_LG_FEED, "feed %s is back", source);
        h->alarmed = false;
    }
}

void
anpi_feed_health_error(struct anpi_engine *e, const char *source, const char *msg)
{
    struct anpi_feed_health *h = anpi_feed_health_get(e, source);
    if (!h)
        return;
    h->errors++;
    h->last_error_ms = anpi_now_ms();
    snprintf(h->last_error, sizeof(h->last_error), "%s", msg);
}

/* Poller statistics into the health record. */
static void
merge_poller(struct anpi_feed_health *h, const struct anpi_poller *p)
{
    const struct anpi_poller_stats *s = anpi_poller_stats(p);
    if (s->last_success > h->last_success_ms)
        h->last_success_ms = s->last_success;
    if (s->last_error[0] && (uint64_t)s->errors > 0) {
        snprintf(h->last_error, sizeof(h->last_error), "%s", s->last_error);
        h->last_error_ms = s->last_poll;
    }
    h->errors = h->errors > s->errors ? h->errors : s->errors;
}

/* A single-document poller: a 304 or an unchanged body is a success too
 * (the feed is alive, it just had nothing new). */
static void
merge_docpoll(struct anpi_feed_health *h, const struct anpi_docpoll *p)
{
    const struct anpi_docpoll_stats *s = anpi_docpoll_stats(p);
    if (s->last_success > h->last_success_ms)
        h->last_success_ms = s->last_success;
    if (s->last_error[0] && s->errors > 0) {
        snprintf(h->last_error, sizeof(h->last_error), "%s", s->last_error);
        h->last_error_ms = s->last_poll;
    }
    h->errors = h->errors > s->errors ? h->errors : s->errors;
}

/* A receiver on TCP or a serial line: alive while lines arrive. */
static void
merge_reader(struct anpi_feed_health *h, const struct anpi_linereader *r)
{
    const struct anpi_linereader_stats *s = anpi_linereader_stats(r);
    if (s->last_line > h->last_success_ms)
        h->last_success_ms = s->last_line;
    if (s->last_error[0] && s->errors > 0) {
        snprintf(h->last_error, sizeof(h->last_error), "%s", s->last_error);
        h->last_error_ms = anpi_now_ms();
    }
    h->errors = h->errors > s->errors ? h->errors : s->errors;
}

static void
merge_all(struct anpi_engine *e, size_t i)
{
    if (e->pollers[i])
        merge_poller(&e->feeds[i], e->pollers[i]);
    if (e->docpolls[i])
        merge_docpoll(&e->feeds[i], e->docpolls[i]);
    if (e->readers[i])
        merge_reader(&e->feeds[i], e->readers[i]);
}

static int64_t
last_good(const struct anpi_feed_health *h)
{
    int64_t t = h->last_success_ms > h->last_document_ms ? h->last_success_ms : h->last_document_ms;
    return t ? t : started_ms;
}

static bool
is_stale(const struct anpi_feed_health *h, int64_t now)
{
    return h->stale_after_s > 0 && now - last_good(h) > h->stale_after_s * 1000;
}

static void
iso(int64_t ms, char *buf, size_t len)
{
    if (!ms) {
        snprintf(buf, len, "%s", "");
        return;
    }
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

json_t *
anpi_feed_health_json(struct anpi_engine *e)
{
    int64_t now = anpi_now_ms();
    json_t *arr = json_array();
    for (size_t i = 0; i < e->nfeeds; i++) {
        struct anpi_feed_health *h = &e->feeds[i];
        merge_all(e, i);
        char a[32], b[32], c[32];
        iso(h->last_success_ms, a, sizeof(a));
        iso(h->last_document_ms, b, sizeof(b));
        iso(h->last_error_ms, c, sizeof(c));
        json_t *o = json_pack("{s:s, s:b, s:s?, s:s?, s:I, s:I, s:s?, s:s?, s:b, s:I}",
                              "source", h->source, "polled", h->polled,
                              "last_success", a[0] ? a : NULL, "last_document", b[0] ? b : NULL,
                              "documents", (json_int_t)h->documents, "errors", (json_int_t)h->errors,
                              "last_error", h->last_error[0] ? h->last_error : NULL,
                              "last_error_at", c[0] ? c : NULL,
                              "stale", is_stale(h, now), "stale_after_s", (json_int_t)h->stale_after_s);
        json_array_append_new(arr, o);
    }
    return json_pack("{s:o}", "feeds", arr);
}

static void
alarm_done(void *arg, const PGresult *res, const char *err)
{
    (void)res;
    char *source = arg;
    if (err)
        anpi_error(ANPI_LG_FEED, "stale alarm for %s not stored: %s", source, err);
    free(source);
}

static void
send_alarm(struct anpi_engine *e, struct anpi_feed_health *h, int64_t now)
{
    char dedupe[96], subject[160], when[64];
    snprintf(dedupe, sizeof(dedupe), "stale:%s:%lld", h->source, (long long)(last_good(h) / 1000));
    long long silent = (long long)((now - last_good(h)) / 1000);
    if (silent < 120)
        snprintf(subject, sizeof(subject), "【anpi】フィード %s が %lld 秒間 更新されていません", h->source, silent);
    else
        snprintf(subject, sizeof(subject), "【anpi】フィード %s が %lld 分間 更新されていません", h->source,
                 silent / 60);
    anpi_format_jst(last_good(h) / 1000, when, sizeof(when));
    char *body = anpi_xasprintf("フィード %s から %s 以降、正常な取得・受信がありません。\n"
                                "最後のエラー: %s\n\n受信経路（URL、受信機、中継）を確認してください。\n"
                                "状態: anpictl feeds\n",
                                h->source, when, h->last_error[0] ? h->last_error : "なし");
    char exp[32];
    snprintf(exp, sizeof(exp), "%lld", (long long)(now / 1000 + 86400));
    const char *group = e->cfg->feed_alarm_group ? e->cfg->feed_alarm_group : "admins";
    char *groups = anpi_xasprintf("{\"%s\"}", group);
    const char *p[5] = { dedupe, subject, body, exp, groups };
    anpi_db_query(e->db,
                  "SELECT anpi_create_broadcast('info', NULL, NULL, $1, '', false, $2, $3, '{}', '[]',"
                  " NULL, 0, to_timestamp($4::double precision), NULL, $5::text[], NULL, NULL, 'engine')",
                  5, p, alarm_done, anpi_xstrdup(h->source));
    anpi_warn(ANPI_LG_FEED, "feed %s is stale (no success since %s); alarm mailed to group %s", h->source,
              when, group);
    free(body);
    free(groups);
    h->alarmed = true;
    anpi_dispatch_kick(e);
}

static void
drill_done(void *arg, const PGresult *res, const char *err)
{
    char *rule = arg;
    if (err)
        anpi_error(ANPI_LG_INCIDENT, "scheduled drill %s not stored: %s", rule, err);
    else if (res && PQntuples(res) > 0 && !PQgetisnull(res, 0, 0))
        anpi_info(ANPI_LG_INCIDENT, "scheduled drill %s: broadcast %s", rule, PQgetvalue(res, 0, 0));
    free(rule);
}

static char *
groups_pg(char **v, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, json_string(v[i]));
    char *s = json_dumps(a, JSON_COMPACT);
    json_decref(a);
    return s;
}

static void
run_drills(struct anpi_engine *e, int64_t now_s)
{
    for (size_t i = 0; e->rules && i < e->rules->nrules; i++) {
        const struct anpi_rule *r = &e->rules->rules[i];
        if (r->schedule_every_s <= 0)
            continue;
        int64_t slot = anpi_rule_next_drill(r, now_s - r->schedule_every_s);
        if (!slot || slot > now_s || now_s - slot > DRILL_CATCH_UP_S)
            continue;
        char dedupe[160], exp[32], pf[512] = "{";
        snprintf(dedupe, sizeof(dedupe), "drill:%s:%lld", r->id, (long long)slot);
        snprintf(exp, sizeof(exp), "%lld", (long long)(slot + 86400));
        for (int p = 1, o = 1; p <= ANPI_PREF_COUNT; p++)
            if (r->audience_prefs & ANPI_PREFSET_BIT(p))
                o += snprintf(pf + o, sizeof(pf) - (size_t)o, "%s%d", o > 1 ? "," : "", p);
        strncat(pf, "}", sizeof(pf) - strlen(pf) - 1);
        char *groups = groups_pg(r->audience_groups, r->naudience_groups);
        const char *p[7] = { dedupe, r->id, r->message.subject ? r->message.subject : "",
                             r->message.text ? r->message.text : "", exp, pf, groups };
        anpi_db_query(e->db,
                      "SELECT anpi_create_broadcast('info', NULL, NULL, $1, $2, true, $3, $4, '{}', '[]',"
                      " NULL, 0, to_timestamp($5::double precision), $6::int[],"
                      " ARRAY(SELECT jsonb_array_elements_text($7::jsonb)), NULL, NULL, 'schedule')",
                      7, p, drill_done, anpi_xstrdup(r->id));
        free(groups);
        anpi_dispatch_kick(e);
    }
}

static void
check_done(void *arg, const PGresult *res, const char *err)
{
    (void)arg;
    if (err)
        anpi_error(ANPI_LG_DIR, "scheduled address check not started: %s", err);
    else if (res && PQntuples(res) > 0 && !PQgetisnull(res, 0, 0))
        anpi_info(ANPI_LG_DIR, "scheduled address check: broadcast %s", PQgetvalue(res, 0, 0));
}

/* directory.address_check: one run per period (epoch-aligned, so every node
 * computes the same run and the dedupe key makes it happen once). */
static void
run_address_check(struct anpi_engine *e, int64_t now_s)
{
    int64_t every = e->cfg->address_check_s;
    if (every <= 0)
        return;
    int64_t slot = now_s - now_s % every;
    if (now_s - slot > DRILL_CATCH_UP_S)
        return;
    char dedupe[64];
    snprintf(dedupe, sizeof(dedupe), "check:schedule:%lld", (long long)slot);
    const char *p[1] = { dedupe };
    anpi_db_query(e->db, "SELECT anpi_address_check($1, 'schedule')", 1, p, check_done, NULL);
    anpi_dispatch_kick(e);
}

static void
escalation_done(void *arg, const PGresult *res, const char *err)
{
    struct anpi_engine *e = arg;
    if (err)
        anpi_error(ANPI_LG_INCIDENT, "escalation pass failed: %s", err);
    else if (res && PQntuples(res) > 0 && strcmp(PQgetvalue(res, 0, 0), "0") != 0) {
        anpi_info(ANPI_LG_INCIDENT, "escalation: %s group(s) below their answer rate; admins notified",
                  PQgetvalue(res, 0, 0));
        anpi_dispatch_kick(e);
    }
}

/* Escalation by group answer rate (engine/schema/0019_escalation.sql), on
 * its own timer (escalation.check_every, default 30 s).  The configured
 * default (escalation:) goes in as parameters, NULL when absent: then only
 * broadcasts with their own settings escalate. */
static void
run_escalation(uv_timer_t *t)
{
    struct anpi_engine *e = t->data;
    if (e->stopping)
        return;
    char after[32], below[32];
    snprintf(after, sizeof(after), "%lld", (long long)e->cfg->escalation_after_s);
    snprintf(below, sizeof(below), "%.4f", e->cfg->escalation_below);
    const char *p[2] = { e->cfg->escalation ? after : NULL, e->cfg->escalation ? below : NULL };
    anpi_db_query(e->db, "SELECT anpi_escalation_tick($1::int, $2::numeric)", 2, p, escalation_done, e);
}

static void
health_tick(uv_timer_t *t)
{
    struct anpi_engine *e = t->data;
    if (e->stopping)
        return;
    int64_t now = anpi_now_ms();
    for (size_t i = 0; i < e->nfeeds; i++) {
        struct anpi_feed_health *h = &e->feeds[i];
        merge_all(e, i);
        if (h->alarmed && !is_stale(h, now)) {
            anpi_info(ANPI_LG_FEED, "feed %s recovered", h->source);
            h->alarmed = false;
        }
        if (!h->alarmed && is_stale(h, now))
            send_alarm(e, h, now);
    }
    run_drills(e, now / 1000);
    run_address_check(e, now / 1000);
}

void
anpi_feed_health_start(struct anpi_engine *e)
{
    started_ms = anpi_now_ms();
    uv_timer_init(e->loop, &e->health_timer);
    e->health_timer.data = e;
    uv_timer_start(&e->health_timer, health_tick, 1000, HEALTH_MS);
    uv_timer_init(e->loop, &e->escalation_timer);
    e->escalation_timer.data = e;
    uint64_t every = (uint64_t)e->cfg->escalation_every_s * 1000;
    uv_timer_start(&e->escalation_timer, run_escalation, every, every);
}

void
anpi_feed_health_stop(struct anpi_engine *e)
{
    uv_timer_stop(&e->health_timer);
    uv_close((uv_handle_t *)&e->health_timer, NULL);
    uv_timer_stop(&e->escalation_timer);
    uv_close((uv_handle_t *)&e->escalation_timer, NULL);
}
