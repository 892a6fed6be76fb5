/* ingest.c - a feed document becomes an event, and the rules decide what
 * happens to incidents.
 *
 * One document at a time per node, and one transaction per document under
 * a database advisory lock, so that two nodes (or two reports of one quake
 * arriving together) never both decide "new incident" for the same quake:
 *
 *   BEGIN; lock; INSERT document (unique per source and content: the same
 *   bytes again stop here); then per event in the document: INSERT event
 *   (unique per source and the source's report id: a feed that repeats an
 *   item in every version stores it once); read the directory's prefectures
 *   and the open incidents; decide per rule in C (rules/, pure); carry the
 *   decisions out with the database functions of engine/schema/; COMMIT.
 *
 * A crash before COMMIT leaves nothing; after COMMIT everything.  The
 * document is only acknowledged (202) after COMMIT. */
#include "engine/engine.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "engine/anpi.h"
#include "engine/buf.h"
#include "engine/log.h"
#include "feeds/event.h"
#include "feeds/event_json.h"
#include "feeds/feed.h"
#include "feeds/overseas/country.h"
#include "rules/rules.h"

#define INGEST_LOCK "7001"
#define MAX_ACTIONS 64
#define MAX_PARAMS 20
#define FUTURE_TOLERANCE_S 3600

struct action {
    char *sql;
    int n;
    char *p[MAX_PARAMS];
    char *what;                    /* for the log: "rule quake-safety-check: new incident" */
};

struct ingest_job {
    struct ingest_job *next;
    struct anpi_engine *e;
    char *source, *url, *body, *actor;
    size_t len;
    bool replay;
    struct anpi_event_list evs;    /* every event of the document */
    size_t iev;                    /* the one being processed */
    struct anpi_event *ev;         /* evs.ev[iev] */
    bool cancel_pass;              /* state read after a cancellation: plan notices */
    json_t *events_out;            /* the answer's "events" */
    char sha[65];
    anpi_ingest_cb cb;
    void *arg;

    struct anpi_db_conn *c;
    int step;
    long long doc_id, event_id;
    struct action acts[MAX_ACTIONS];
    size_t nacts, iact;
    json_t *results;               /* what each action returned, for the log and the answer */
};

enum {
    S_BEGIN, S_LOCK, S_DOC, S_EVENT, S_CANCEL, S_STATE, S_ACTION, S_COMMIT, S_DUP_ID, S_DUP_COMMIT,
};

static void run_next(struct anpi_engine *e);
static void step_cb(void *arg, const PGresult *res, const char *err);

static void
sha256_hex(const char *data, size_t len, char out[65])
{
    unsigned char md[32];
    unsigned int n = 0;
    EVP_Digest(data, len, md, &n, EVP_sha256(), NULL);
    for (unsigned i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
}

static void
actions_free(struct ingest_job *j)
{
    for (size_t i = 0; i < j->nacts; i++) {
        free(j->acts[i].sql);
        free(j->acts[i].what);
        for (int k = 0; k < j->acts[i].n; k++)
            free(j->acts[i].p[k]);
        j->acts[i].n = 0;
    }
    j->nacts = j->iact = 0;
}

static void
job_free(struct ingest_job *j)
{
    actions_free(j);
    json_decref(j->results);
    json_decref(j->events_out);
    anpi_event_list_free(&j->evs);
    free(j->source);
    free(j->url);
    free(j->body);
    free(j->actor);
    free(j);
}

static char *
epoch_param(int64_t t)
{
    return t ? anpi_xasprintf("%lld", (long long)t) : NULL;
}

static void
finish(struct ingest_job *j, unsigned status, const char *error)
{
    struct anpi_engine *e = j->e;
    if (j->c) {
        anpi_db_release(j->c);
        j->c = NULL;
    }
    struct anpi_ingest_result r = { .status = status, .error = error, .document_id = j->doc_id };
    char *events = NULL;
    if (status < 300 && j->events_out) {
        events = json_dumps(j->events_out, JSON_COMPACT);
        r.events_json = events;
    }
    if (status == 202) {
        e->m.events += j->evs.n;
        anpi_dispatch_kick(e);
    } else if (status == 200) {
        e->m.documents_duplicate++;
    } else {
        e->m.documents_rejected++;
    }
    if (j->cb)
        j->cb(j->arg, &r);
    free(events);
    e->ingest_busy = false;
    job_free(j);
    run_next(e);
}

static void
query(struct ingest_job *j, int step, const char *sql, int n, const char *const *p)
{
    j->step = step;
    anpi_db_conn_query(j->c, sql, n, p, step_cb, j);
}

/* "{1,12,13}" -> prefecture set */
static anpi_prefset
parse_pg_int_array(const char *s)
{
    anpi_prefset set = 0;
    if (!s)
        return 0;
    for (const char *p = s; *p; ) {
        if (*p >= '0' && *p <= '9') {
            long v = strtol(p, (char **)&p, 10);
            if (v >= 1 && v <= ANPI_PREF_COUNT)
                set |= ANPI_PREFSET_BIT(v);
        } else {
            p++;
        }
    }
    return set;
}

static char *
prefset_pg(anpi_prefset s)
{
    struct anpi_buf b;
    anpi_buf_init(&b, 0);
    anpi_buf_putc(&b, '{');
    bool first = true;
    for (int p = 1; p <= ANPI_PREF_COUNT; p++) {
        if (s & ANPI_PREFSET_BIT(p)) {
            anpi_buf_printf(&b, "%s%d", first ? "" : ",", p);
            first = false;
        }
    }
    anpi_buf_putc(&b, '}');
    return anpi_buf_steal(&b);
}

/* "千葉県、東京都" as the database's anpi_pref_names() writes it, so every
 * mail lists prefectures the same way. */
static char *
prefs_ja(anpi_prefset s)
{
    struct anpi_buf b;
    anpi_buf_init(&b, 0);
    for (int p = 1; p <= ANPI_PREF_COUNT; p++) {
        if (!(s & ANPI_PREFSET_BIT(p)) || !anpi_pref_name(p))
            continue;
        if (b.len)
            anpi_buf_puts(&b, "、");
        anpi_buf_puts(&b, anpi_pref_name(p));
    }
    return anpi_buf_steal(&b);
}

static char *
text_array_pg(char **v, size_t n)
{
    struct anpi_buf b;
    anpi_buf_init(&b, 0);
    anpi_buf_putc(&b, '{');
    for (size_t i = 0; i < n; i++) {
        anpi_buf_puts(&b, i ? ",\"" : "\"");
        for (const char *s = v[i]; *s; s++) {
            if (*s == '"' || *s == '\\')
                anpi_buf_putc(&b, '\\');
            anpi_buf_putc(&b, *s);
        }
        anpi_buf_putc(&b, '"');
    }
    anpi_buf_putc(&b, '}');
    return anpi_buf_steal(&b);
}

static struct action *
add_action(struct ingest_job *j, const char *sql, const char *what)
{
    if (j->nacts == MAX_ACTIONS)
        return NULL;
    struct action *a = &j->acts[j->nacts++];
    a->sql = anpi_xstrdup(sql);
    a->what = anpi_xstrdup(what);
    return a;
}

static void
push(struct action *a, char *owned)
{
    a->p[a->n++] = owned;
}

static json_t *
template_json(const struct anpi_template *t)
{
    return json_pack("{s:s, s:s}", "subject", t->subject ? t->subject : "",
                     "text", t->text ? t->text : "");
}

/* The Japanese name of the event's country (or its code when unknown). */
static const char *
country_ja(const struct anpi_event *ev)
{
    if (!ev->country[0])
        return "";
    const char *ja = anpi_country_name_ja(ev->country);
    return ja ? ja : ev->country;
}

/* An event.* template value from the rules module (the one place that
 * turns event fields into text), or "" (caller frees). */
static char *
event_var(const struct anpi_event *ev, const char *name)
{
    char *v = anpi_template_event_var(ev, name);
    return v ? v : anpi_xstrdup("");
}

static json_t *
event_vars(const struct anpi_event *ev, const char *title)
{
    char when[64] = "", mag[32];
    anpi_format_jst(ev->occurred_at ? ev->occurred_at : ev->issued_at, when, sizeof(when));
    if (isnan(ev->magnitude))
        snprintf(mag, sizeof(mag), "%s", ev->magnitude_text && *ev->magnitude_text ? ev->magnitude_text : "不明");
    else
        snprintf(mag, sizeof(mag), "M%.1f", ev->magnitude);
    static const char *const status_ja[] = { "通常", "訓練", "試験" };
    json_t *v = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}",
                          "event.title", ev->title ? ev->title : "",
                          "event.headline", ev->headline ? ev->headline : "",
                          "event.hypocenter", ev->hypocenter && *ev->hypocenter ? ev->hypocenter : "不明",
                          "event.magnitude", mag,
                          "event.max_intensity", anpi_intensity_label_ja(ev->max_intensity),
                          "event.occurred_at", when,
                          "event.status", status_ja[ev->status <= ANPI_ST_TEST ? ev->status : 0],
                          "incident.title", title);
    /* the values the rules module derives from the event alone */
    static const char *const derived[] = {
        "event.description", "event.url", "event.tsunami", "event.tsunami_areas", "event.weather",
        "event.missile", "event.risk_level", "event.hazard",
    };
    for (size_t i = 0; i < ANPI_ARRAY_LEN(derived); i++) {
        char *val = event_var(ev, derived[i]);
        json_object_set_new(v, derived[i], json_string(val));
        free(val);
    }
    json_object_set_new(v, "event.country", json_string(country_ja(ev)));
    return v;
}

static char *
incident_title(const struct anpi_event *ev)
{
    const char *drill = ev->status == ANPI_ST_ACTUAL ? "" : "【訓練】";
    char prefs[256];
    char *what = NULL, *t = NULL;
    anpi_prefset p = ev->target_prefs;
    switch (ev->type) {
    case ANPI_EV_TSUNAMI:
        for (int k = 1; k <= ANPI_PREF_COUNT; k++)
            if (ev->pref_tsunami[k] >= ANPI_TS_ADVISORY)
                p |= ANPI_PREFSET_BIT(k);
        what = event_var(ev, "event.tsunami");
        break;
    case ANPI_EV_WEATHER:
        for (int k = 1; k <= ANPI_PREF_COUNT; k++)
            if (ev->pref_weather[k] >= ANPI_WX_WARNING)
                p |= ANPI_PREFSET_BIT(k);
        what = ev->typhoon_name && *ev->typhoon_name ? anpi_xstrdup(ev->typhoon_name) : event_var(ev, "event.weather");
        break;
    case ANPI_EV_MISSILE:
        what = event_var(ev, "event.missile");
        break;
    case ANPI_EV_OVERSEAS:
        return anpi_xasprintf("%s%s %s", drill, country_ja(ev), ev->title ? ev->title : "");
    case ANPI_EV_EEW:
        return anpi_xasprintf("%s緊急地震速報 %s 最大予測%s", drill,
                              ev->hypocenter && *ev->hypocenter ? ev->hypocenter : "",
                              anpi_intensity_label_ja(ev->max_intensity));
    default: {
        const char *label = anpi_intensity_label_ja(ev->max_intensity);
        if (ev->hypocenter && *ev->hypocenter)
            return anpi_xasprintf("%s%sの地震 最大%s", drill, ev->hypocenter, label);
        return anpi_xasprintf("%s%s 最大%s", drill, ev->title ? ev->title : "地震", label);
    }
    }
    anpi_prefset_format(p, prefs, sizeof(prefs));
    t = anpi_xasprintf("%s%s %s", drill, what && *what ? what : (ev->title ? ev->title : ""), prefs);
    free(what);
    return t;
}

/* The countries an overseas event names, as a PostgreSQL text[] literal. */
static char *
countries_pg(const struct anpi_event *ev)
{
    struct anpi_buf b;
    anpi_buf_init(&b, 0);
    anpi_buf_putc(&b, '{');
    size_t n = 0;
    if (ev->country[0])
        anpi_buf_printf(&b, "%s", ev->country), n++;
    for (size_t i = 0; i < ev->ncountries; i++) {
        if (strcmp(ev->countries[i], ev->country) == 0)
            continue;
        anpi_buf_printf(&b, "%s%s", n ? "," : "", ev->countries[i]);
        n++;
    }
    anpi_buf_putc(&b, '}');
    return anpi_buf_steal(&b);
}

static json_t *
countries_json(const struct anpi_event *ev)
{
    json_t *a = json_array();
    if (ev->country[0])
        json_array_append_new(a, json_string(ev->country));
    for (size_t i = 0; i < ev->ncountries; i++)
        if (strcmp(ev->countries[i], ev->country) != 0)
            json_array_append_new(a, json_string(ev->countries[i]));
    return a;
}

static int64_t
event_base_time(const struct anpi_event *ev)
{
    if (ev->occurred_at)
        return ev->occurred_at;
    if (ev->issued_at)
        return ev->issued_at;
    return anpi_now_ms() / 1000;
}

/* The state the rules need: where staff live, and the open incidents. */
static const char STATE_SQL[] =
    "SELECT coalesce((SELECT array_agg(DISTINCT pref ORDER BY pref) FROM person_regions)::text, '{}'),"
    " coalesce((SELECT jsonb_agg(jsonb_build_object('id', id, 'rule', rule_id, 'status', status,"
    "   'keys', event_keys, 'occ', extract(epoch FROM main_occurred_at),"
    "   'wend', extract(epoch FROM window_end), 'max', main_max, 'lat', main_lat, 'lon', main_lon,"
    "   'covered', covered_prefs) ORDER BY id)"
    "  FROM incidents WHERE status IN ('pending_approval', 'approved', 'dispatched'))::text, '[]')";

/* The message an incident carries (templates, questions, audience) from its
 * rule; also used for checks started by hand. */
static json_t *
incident_message(const struct anpi_rule *r, json_t *vars, json_t *countries)
{
    json_t *msg = json_object();
    json_object_set_new(msg, "safety", template_json(&r->message));
    json_object_set_new(msg, "approval", template_json(&r->approval_message));
    json_object_set_new(msg, "notice", template_json(&r->notice_message));
    json_t *qs = json_array();
    for (size_t i = 0; i < r->nquestions; i++) {
        json_t *ch = json_array();
        for (size_t k = 0; k < r->questions[i].nchoices; k++)
            json_array_append_new(ch, json_string(r->questions[i].choices[k]));
        json_array_append_new(qs, json_pack("{s:s, s:s, s:o}", "id", r->questions[i].id,
                                            "text", r->questions[i].text, "choices", ch));
    }
    json_object_set_new(msg, "questions", qs);
    json_object_set_new(msg, "vars", vars);
    json_t *groups = json_array();
    for (size_t i = 0; i < r->naudience_groups; i++)
        json_array_append_new(groups, json_string(r->audience_groups[i]));
    json_object_set_new(msg, "groups", groups);
    json_object_set_new(msg, "countries", countries ? countries : json_array());
    json_object_set_new(msg, "resend_after_s", json_integer(r->resend_after_s));
    json_object_set_new(msg, "max_resends", json_integer(r->max_resends));
    /* follow_up.until and .wording: anpi_release_round (0025) puts them on
     * the safety broadcast, where anpi_tick and anpi_claim read them */
    json_object_set_new(msg, "resend_until_s", json_integer(r->resend_until_s));
    if (r->nresend_wording) {
        json_t *w = json_array();
        for (size_t i = 0; i < r->nresend_wording; i++)
            json_array_append_new(w, json_pack("{s:s, s:s}",
                "subject", r->resend_wording[i].subject ? r->resend_wording[i].subject : "",
                "body", r->resend_wording[i].text ? r->resend_wording[i].text : ""));
        json_object_set_new(msg, "resend_wording", w);
    }
    return msg;
}

char *
anpi_manual_check_message(const struct anpi_engine *e, const char *country, const char *title)
{
    const struct anpi_rule *r = anpi_ruleset_find(e->rules, "overseas-safety-check");
    if (!r)
        return NULL;
    struct anpi_event *ev = anpi_event_new();
    ev->type = ANPI_EV_OVERSEAS;
    snprintf(ev->country, sizeof(ev->country), "%s", country);
    ev->title = anpi_xstrdup(title);
    ev->issued_at = ev->occurred_at = anpi_now_ms() / 1000;
    json_t *vars = event_vars(ev, title);
    anpi_event_free(ev);
    json_t *countries = json_array();
    json_array_append_new(countries, json_string(country));
    json_t *msg = incident_message(r, vars, countries);
    char *out = json_dumps(msg, JSON_COMPACT);
    json_decref(msg);
    return out;
}

static void
plan_incident(struct ingest_job *j, const struct anpi_rule *r, anpi_prefset affected,
              json_t *incidents, int64_t now)
{
    struct anpi_engine *e = j->e;
    const struct anpi_event *ev = j->ev;

    /* this rule's open incidents, as the grouping code wants them */
    size_t n = 0, cap = json_array_size(incidents);
    struct anpi_incident_state *st = anpi_xcalloc(cap ? cap : 1, sizeof(*st));
    const char ***keys = anpi_xcalloc(cap ? cap : 1, sizeof(*keys));
    size_t idx;
    json_t *inc;
    json_array_foreach(incidents, idx, inc) {
        if (strcmp(json_string_value(json_object_get(inc, "rule")) ?: "", r->id) != 0)
            continue;
        struct anpi_incident_state *s = &st[n];
        json_t *k = json_object_get(inc, "keys");
        keys[n] = anpi_xcalloc(json_array_size(k) + 1, sizeof(char *));
        for (size_t i = 0; i < json_array_size(k); i++)
            keys[n][i] = json_string_value(json_array_get(k, i));
        s->id = json_integer_value(json_object_get(inc, "id"));
        s->event_keys = keys[n];
        s->nevent_keys = json_array_size(k);
        s->main_occurred_at = (int64_t)json_number_value(json_object_get(inc, "occ"));
        s->window_end = (int64_t)json_number_value(json_object_get(inc, "wend"));
        enum anpi_intensity mx = ANPI_INT_NONE;
        anpi_intensity_parse(json_string_value(json_object_get(inc, "max")), &mx);
        s->main_max = mx;
        json_t *lat = json_object_get(inc, "lat"), *lon = json_object_get(inc, "lon");
        s->main_lat = json_is_number(lat) ? json_number_value(lat) : NAN;
        s->main_lon = json_is_number(lon) ? json_number_value(lon) : NAN;
        json_t *cov = json_object_get(inc, "covered");
        for (size_t i = 0; i < json_array_size(cov); i++) {
            json_int_t p = json_integer_value(json_array_get(cov, i));
            if (p >= 1 && p <= ANPI_PREF_COUNT)
                s->covered |= ANPI_PREFSET_BIT(p);
        }
        n++;
    }

    struct anpi_group_decision d;
    anpi_group_decide(r, ev, affected, st, n, now, &d);
    for (size_t i = 0; i < n; i++)
        free(keys[i]);
    free(keys);
    free(st);

    int64_t expiry = r->expiry_s > 0 ? r->expiry_s : e->cfg->incident_expiry_s;
    int64_t expires_at = event_base_time(ev) + expiry;
    char what[768];
    snprintf(what, sizeof(what), "rule %s: %s: %s", r->id, anpi_group_action_name(d.action), d.reason);
    anpi_info(ANPI_LG_INCIDENT, "%s", what);
    e->m.decisions++;

    if (d.action == ANPI_GROUP_NEW) {
        char *title = incident_title(ev);
        json_t *msg = incident_message(r, event_vars(ev, title),
                                       r->audience_travellers ? countries_json(ev) : NULL);
        static const char *const on_timeout[] = { "hold", "send", "escalate" };
        json_t *policy = json_pack("{s:i, s:s, s:I, s:s, s:s, s:s}",
            "required", r->approval_required ? (r->approvals_required > 0 ? r->approvals_required : 1) : 0,
            "group", r->approver_group ? r->approver_group : "duty-officers",
            "timeout_s", (json_int_t)(r->approval_timeout_s > 0 ? r->approval_timeout_s : 900),
            "on_timeout", on_timeout[r->on_timeout <= ANPI_TIMEOUT_ESCALATE ? r->on_timeout : 0],
            "escalate_to", r->escalate_group ? r->escalate_group : "",
            "notify_group", r->notify_group ? r->notify_group : (r->approver_group ? r->approver_group : "duty-officers"));
        anpi_prefset prefs = r->audience_affected_regions ? affected : r->audience_prefs;

        struct action *a = add_action(j,
            "SELECT anpi_incident_open($1, $2, $3, $4, $5::boolean, $6::bigint, $7,"
            " to_timestamp($8::double precision), $9, $10::double precision, $11::double precision,"
            " $12::double precision, $13::int[], $14::jsonb, $15::jsonb,"
            " to_timestamp($16::double precision), $17)", what);
        if (a) {
            push(a, anpi_xstrdup(r->id));
            push(a, anpi_xstrdup(r->pack ? r->pack : ""));
            push(a, anpi_xstrdup(anpi_event_type_name(ev->type)));
            push(a, title);
            push(a, anpi_xstrdup(ev->status == ANPI_ST_ACTUAL ? "false" : "true"));
            push(a, anpi_xasprintf("%lld", j->event_id));
            push(a, anpi_xstrdup(ev->event_key && *ev->event_key ? ev->event_key : ev->doc_id));
            push(a, anpi_xasprintf("%lld", (long long)event_base_time(ev)));
            push(a, anpi_xstrdup(anpi_intensity_name(ev->max_intensity)));
            push(a, isnan(ev->lat) ? NULL : anpi_xasprintf("%.4f", ev->lat));
            push(a, isnan(ev->lon) ? NULL : anpi_xasprintf("%.4f", ev->lon));
            push(a, anpi_xasprintf("%lld", (long long)(r->aftershock_window_s > 0 ? r->aftershock_window_s : 21600)));
            push(a, prefset_pg(prefs));
            push(a, json_dumps(msg, JSON_COMPACT));
            push(a, json_dumps(policy, JSON_COMPACT));
            push(a, anpi_xasprintf("%lld", (long long)expires_at));
            push(a, anpi_xstrdup(d.reason));
        } else {
            free(title);
        }
        json_decref(msg);
        json_decref(policy);
        e->m.incidents_opened++;
        return;
    }

    static const char *const names[] = { "new", "silent", "add_prefs", "stronger" };
    struct action *a = add_action(j,
        "SELECT anpi_incident_join($1::bigint, $2::bigint, $3, $4, $5, $6::int[], $7,"
        " $8::double precision, $9::double precision, to_timestamp($10::double precision),"
        " to_timestamp($11::double precision), $12::boolean, $13, $14::jsonb)", what);
    if (!a)
        return;
    anpi_prefset prefs = d.action == ANPI_GROUP_SILENT ? affected : d.add_prefs;
    push(a, anpi_xasprintf("%lld", (long long)d.incident_id));
    push(a, anpi_xasprintf("%lld", j->event_id));
    push(a, anpi_xstrdup(ev->event_key && *ev->event_key ? ev->event_key : ev->doc_id));
    push(a, anpi_xstrdup(names[d.action]));
    push(a, anpi_xstrdup(d.reason));
    push(a, prefset_pg(prefs));
    push(a, anpi_xstrdup(anpi_intensity_name(ev->max_intensity)));
    push(a, isnan(ev->lat) ? NULL : anpi_xasprintf("%.4f", ev->lat));
    push(a, isnan(ev->lon) ? NULL : anpi_xasprintf("%.4f", ev->lon));
    push(a, anpi_xasprintf("%lld", (long long)event_base_time(ev)));
    push(a, anpi_xasprintf("%lld", (long long)expires_at));
    /* officers hear of aftershocks (a different quake), not of every
     * re-issue of the report they are already looking at */
    push(a, anpi_xstrdup(d.action == ANPI_GROUP_SILENT && !d.same_event ? "true" : "false"));
    /* the incident's description follows the best report of its quake */
    bool describes = (d.same_event && ev->hypocenter && *ev->hypocenter) || d.action == ANPI_GROUP_STRONGER ||
                     (d.same_event && ev->info_type == ANPI_IT_CORRECTION) ||
                     (d.same_event && ev->type != ANPI_EV_EARTHQUAKE && ev->type != ANPI_EV_EEW);
    if (describes) {
        char *title = incident_title(ev);
        json_t *vars = event_vars(ev, title);
        push(a, title);
        push(a, json_dumps(vars, JSON_COMPACT));
        json_decref(vars);
    } else {
        push(a, NULL);
        push(a, NULL);
    }

    /* 訂正 of a report that was already mailed: tell those people, when the
     * rule says so (once per correction document) */
    if (ev->info_type == ANPI_IT_CORRECTION && r->send_corrections && r->correction_message.text) {
        char cwhat[256];
        snprintf(cwhat, sizeof(cwhat), "rule %s: correction notice for incident %lld", r->id,
                 (long long)d.incident_id);
        struct action *c = add_action(j, "SELECT anpi_notify_incident($1::bigint, $2, $3, $4, $5::jsonb)", cwhat);
        if (c) {
            char *title = incident_title(ev);
            json_t *vars = event_vars(ev, title);
            push(c, anpi_xasprintf("%lld", (long long)d.incident_id));
            push(c, anpi_xasprintf("correction:%s:%s", j->source, ev->doc_id));
            push(c, anpi_xstrdup(r->correction_message.subject ? r->correction_message.subject : ""));
            push(c, anpi_xstrdup(r->correction_message.text));
            push(c, json_dumps(vars, JSON_COMPACT));
            json_decref(vars);
            free(title);
        }
    }
}

/* Information mail goes out once per rule, event and "state" of the
 * information: the flash and the confirmed earthquake report once each (not
 * every re-issue), a tsunami report again only when its strongest grade
 * changes, a missile report per phase, a weather report per level and set of
 * prefectures at that level, an overseas report per item and level.  A
 * correction is its own mail (when the rule sends corrections at all). */
/* The event's identity in information dedupe keys.  Weather warnings carry
 * no EventID: their identity is the kind of report, so a warning still in
 * force in the next document is not news. */
static const char *
info_event_key(const struct anpi_event *ev)
{
    if (ev->event_key && *ev->event_key)
        return ev->event_key;
    if (ev->type == ANPI_EV_WEATHER)
        return "weather";
    return ev->doc_id;
}

/* "rule:key:" - every information mail of this rule about this event. */
static char *
info_key_prefix(const struct anpi_rule *r, const struct anpi_event *ev)
{
    return anpi_xasprintf("%s:%s:", r->id, info_event_key(ev));
}

static char *
info_dedupe_key(const struct anpi_rule *r, const struct anpi_event *ev)
{
    const char *key = info_event_key(ev);
    const char *kind = ev->kind ? ev->kind : "";
    if (ev->info_type == ANPI_IT_CORRECTION)
        return anpi_xasprintf("%s:%s:correction:%s", r->id, key, ev->doc_id);
    switch (ev->type) {
    case ANPI_EV_TSUNAMI:
        return anpi_xasprintf("%s:%s:%s:%s", r->id, key, kind, anpi_tsunami_grade_name(ev->max_tsunami));
    case ANPI_EV_MISSILE:
        return anpi_xasprintf("%s:%s:%s", r->id, key, anpi_missile_phase_name(ev->missile_phase));
    case ANPI_EV_WEATHER: {
        anpi_prefset at = 0;
        for (int p = 1; p <= ANPI_PREF_COUNT; p++)
            if (ev->pref_weather[p] >= ev->max_weather && ev->max_weather)
                at |= ANPI_PREFSET_BIT(p);
        return anpi_xasprintf("%s:%s:%s:%s:%llx", r->id, key, kind, anpi_weather_level_name(ev->max_weather),
                              (unsigned long long)at);
    }
    case ANPI_EV_OVERSEAS:
        return anpi_xasprintf("%s:%s:%d", r->id, ev->doc_id, ev->risk_level);
    case ANPI_EV_EEW:
        /* the first warning of a quake, and again when it widens */
        return anpi_xasprintf("%s:%s:eew:%s", r->id, key, anpi_intensity_name(ev->max_intensity));
    default:
        return anpi_xasprintf("%s:%s:%s", r->id, key, kind);
    }
}

static void
plan_information(struct ingest_job *j, const struct anpi_rule *r, anpi_prefset affected, int64_t now)
{
    struct anpi_engine *e = j->e;
    const struct anpi_event *ev = j->ev;
    int64_t expiry = r->expiry_s > 0 ? r->expiry_s : e->cfg->incident_expiry_s;
    if (event_base_time(ev) + expiry <= now) {
        anpi_info(ANPI_LG_INCIDENT, "rule %s: event is older than the expiry; information not sent", r->id);
        return;
    }
    if (ev->info_type == ANPI_IT_CORRECTION && !r->send_corrections) {
        anpi_info(ANPI_LG_INCIDENT, "rule %s: correction %s recorded, not sent (on_correction: ignore)",
                  r->id, ev->doc_id);
        return;
    }
    bool correction = ev->info_type == ANPI_IT_CORRECTION && r->correction_message.text;
    char what[256];
    snprintf(what, sizeof(what), "rule %s: %s", r->id, correction ? "correction mail" : "information mail");
    /* a correction goes only to where the original went: when this rule
     * mailed something for the event ($11 = "rule:key:" prefix) */
    struct action *a = add_action(j,
        "SELECT CASE WHEN $11::text IS NULL OR EXISTS (SELECT 1 FROM broadcasts WHERE kind = 'info'"
        "   AND rule_id = $2 AND starts_with(dedupe_key, $11::text))"
        " THEN anpi_create_broadcast('info', NULL, NULL, $1, $2, $3::boolean, $4, $5, $6::jsonb,"
        " '[]', NULL, 0, to_timestamp($7::double precision), $8::int[], $9::text[], NULL, NULL, 'engine',"
        " $10::text[], $12) END",
        what);
    if (!a)
        return;
    char *title = incident_title(ev);
    json_t *vars = event_vars(ev, title);
    char *pf = prefs_ja(affected);
    json_object_set_new(vars, "affected_prefectures", json_string(pf));
    free(pf);
    /* once per rule, quake and kind of report: the flash report and the
     * confirmed report each go out once, re-issues do not */
    push(a, info_dedupe_key(r, ev));
    push(a, anpi_xstrdup(r->id));
    push(a, anpi_xstrdup(ev->status == ANPI_ST_ACTUAL ? "false" : "true"));
    const struct anpi_template *t = correction ? &r->correction_message : &r->message;
    push(a, anpi_xstrdup(t->subject ? t->subject : ""));
    push(a, anpi_xstrdup(t->text ? t->text : ""));
    push(a, json_dumps(vars, JSON_COMPACT));
    push(a, anpi_xasprintf("%lld", (long long)(now + expiry)));
    push(a, prefset_pg(r->audience_affected_regions ? affected : r->audience_prefs));
    push(a, text_array_pg(r->audience_groups, r->naudience_groups));
    push(a, r->audience_travellers ? countries_pg(ev) : anpi_xstrdup("{}"));
    push(a, ev->info_type == ANPI_IT_CORRECTION ? info_key_prefix(r, ev) : NULL);
    push(a, anpi_xstrdup(r->sender_hr ? "hr" : "safety"));
    json_decref(vars);
    free(title);
}

static void
plan(struct ingest_job *j, const PGresult *res)
{
    struct anpi_engine *e = j->e;
    anpi_prefset staff = parse_pg_int_array(PQgetvalue(res, 0, 0));
    json_error_t jerr;
    json_t *incidents = json_loads(PQgetvalue(res, 0, 1), 0, &jerr);
    if (!incidents)
        incidents = json_array();
    int64_t now = anpi_now_ms() / 1000;
    const struct anpi_ruleset *rs = e->rules;
    for (size_t i = 0; rs && i < rs->nrules; i++) {
        const struct anpi_rule *r = &rs->rules[i];
        anpi_prefset affected = 0;
        char why[512] = "";
        if (!anpi_rule_match(r, j->ev, staff, &affected, why, sizeof(why))) {
            anpi_debug(ANPI_LG_RULES, "rule %s: no match: %s", r->id, why);
            continue;
        }
        anpi_info(ANPI_LG_RULES, "rule %s matches: %s", r->id, why);
        if (r->opens_incident)
            plan_incident(j, r, affected, incidents, now);
        else
            plan_information(j, r, affected, now);
    }
    json_decref(incidents);
}

static void next_event(struct ingest_job *j);

static void
run_action(struct ingest_job *j)
{
    if (j->iact == j->nacts) {
        actions_free(j);
        j->iev++;
        next_event(j);
        return;
    }
    struct action *a = &j->acts[j->iact];
    query(j, S_ACTION, a->sql, a->n, (const char *const *)a->p);
}

/* The answer's entry for the current event. */
static void
event_out(struct ingest_job *j, bool known)
{
    json_t *ev = anpi_event_to_json(j->ev);
    if (known) {
        json_object_set_new(ev, "duplicate", json_true());
    } else {
        json_object_set_new(ev, "id", json_integer(j->event_id));
        json_object_set_new(ev, "actions", j->results);
        j->results = json_array();
    }
    json_array_append_new(j->events_out, ev);
}

static void
next_event(struct ingest_job *j)
{
    if (j->iev > 0 && j->iev <= j->evs.n && j->ev)
        anpi_info(ANPI_LG_FEED, "%s/%s: event %lld processed", j->source, j->ev->doc_id, j->event_id);
    if (j->iev >= j->evs.n) {
        query(j, S_COMMIT, "COMMIT", 0, NULL);
        return;
    }
    j->ev = j->evs.ev[j->iev];
    j->cancel_pass = false;
    const struct anpi_event *ev = j->ev;
    json_t *detail = anpi_event_to_json(ev);
    char *dj = json_dumps(detail, JSON_COMPACT);
    json_decref(detail);
    char doc[32];
    snprintf(doc, sizeof(doc), "%lld", j->doc_id);
    char *issued = epoch_param(ev->issued_at), *occurred = epoch_param(ev->occurred_at);
    const char *p[14] = {
        doc, anpi_event_type_name(ev->type), j->source, ev->kind ? ev->kind : "",
        anpi_event_status_name(ev->status), anpi_info_type_name(ev->info_type),
        ev->event_key ? ev->event_key : "", ev->serial ? ev->serial : "", ev->title ? ev->title : "",
        issued, occurred, anpi_intensity_name(ev->max_intensity), dj, ev->doc_id ? ev->doc_id : "",
    };
    query(j, S_EVENT,
          "INSERT INTO events (document_id, type, source, kind, status, info_type, event_key,"
          " serial, title, issued_at, occurred_at, max_intensity, detail, doc_id)"
          " VALUES ($1::bigint, $2, $3, $4, $5, $6, $7, $8, $9, to_timestamp($10::double precision),"
          " to_timestamp($11::double precision), $12, $13::jsonb, $14)"
          " ON CONFLICT (source, doc_id) DO NOTHING RETURNING id", 14, p);
    free(dj);
    free(issued);
    free(occurred);
}

/* After a cancellation (取消): tell the people already asked, for incidents
 * that did send, when their rule says so (pending ones were just closed). */
/* A cancellation of a report an information rule mailed: the same
 * audience hears that it was withdrawn (only if something went out). */
static void
plan_cancel_information(struct ingest_job *j)
{
    const struct anpi_event *ev = j->ev;
    const struct anpi_ruleset *rs = j->e->rules;
    for (size_t i = 0; rs && i < rs->nrules; i++) {
        const struct anpi_rule *r = &rs->rules[i];
        if (r->opens_incident || !r->notify_cancellations || !r->cancellation_message.text)
            continue;
        if (!(r->event_types & (1u << ev->type)) && r->event != ev->type)
            continue;
        char what[256];
        snprintf(what, sizeof(what), "rule %s: cancellation mail", r->id);
        struct action *a = add_action(j,
            "SELECT anpi_create_broadcast('info', NULL, NULL, $1, $2, $3::boolean, $4, $5, $6::jsonb,"
            " '[]', NULL, 0, now() + interval '1 day', NULL, NULL,"
            " ARRAY(SELECT DISTINCT r.person_id FROM recipients r JOIN broadcasts b ON b.id = r.broadcast_id"
            "       WHERE b.kind = 'info' AND b.rule_id = $2 AND starts_with(b.dedupe_key, $7)),"
            " NULL, 'engine')"
            " WHERE EXISTS (SELECT 1 FROM broadcasts WHERE kind = 'info' AND rule_id = $2"
            "               AND starts_with(dedupe_key, $7))", what);
        if (!a)
            return;
        char *title = incident_title(ev);
        json_t *vars = event_vars(ev, title);
        push(a, anpi_xasprintf("%s:%s:cancel:%s", r->id, info_event_key(ev), ev->doc_id));
        push(a, anpi_xstrdup(r->id));
        push(a, anpi_xstrdup(ev->status == ANPI_ST_ACTUAL ? "false" : "true"));
        push(a, anpi_xstrdup(r->cancellation_message.subject ? r->cancellation_message.subject : ""));
        push(a, anpi_xstrdup(r->cancellation_message.text));
        push(a, json_dumps(vars, JSON_COMPACT));
        push(a, info_key_prefix(r, ev));
        json_decref(vars);
        free(title);
    }
}

static void
plan_cancel(struct ingest_job *j, const PGresult *res)
{
    const struct anpi_event *ev = j->ev;
    plan_cancel_information(j);
    json_error_t jerr;
    json_t *incidents = json_loads(PQgetvalue(res, 0, 1), 0, &jerr);
    size_t idx;
    json_t *inc;
    json_array_foreach(incidents, idx, inc) {
        const struct anpi_rule *r = anpi_ruleset_find(j->e->rules,
                                                      json_string_value(json_object_get(inc, "rule")));
        if (!r || !r->notify_cancellations || !r->cancellation_message.text)
            continue;
        if (strcmp(json_string_value(json_object_get(inc, "status")) ?: "", "dispatched") != 0)
            continue;
        bool mine = false;
        json_t *keys = json_object_get(inc, "keys");
        for (size_t k = 0; k < json_array_size(keys); k++)
            mine |= ev->event_key && strcmp(json_string_value(json_array_get(keys, k)) ?: "", ev->event_key) == 0;
        if (!mine)
            continue;
        char what[256];
        snprintf(what, sizeof(what), "rule %s: cancellation notice for incident %lld", r->id,
                 (long long)json_integer_value(json_object_get(inc, "id")));
        struct action *a = add_action(j, "SELECT anpi_notify_incident($1::bigint, $2, $3, $4, $5::jsonb)", what);
        if (!a)
            break;
        json_t *vars = json_pack("{s:s}", "event.description", ev->description ? ev->description :
                                 (ev->headline ? ev->headline : ""));
        push(a, anpi_xasprintf("%lld", (long long)json_integer_value(json_object_get(inc, "id"))));
        push(a, anpi_xasprintf("cancel:%s:%s", j->source, ev->doc_id));
        push(a, anpi_xstrdup(r->cancellation_message.subject ? r->cancellation_message.subject : ""));
        push(a, anpi_xstrdup(r->cancellation_message.text));
        push(a, json_dumps(vars, JSON_COMPACT));
        json_decref(vars);
    }
    json_decref(incidents);
}

static void
step_cb(void *arg, const PGresult *res, const char *err)
{
    struct ingest_job *j = arg;
    if (err) {
        anpi_error(ANPI_LG_INCIDENT, "document %s/%s: database step %d failed: %s", j->source,
                   j->ev && j->ev->doc_id ? j->ev->doc_id : "-", j->step, err);
        finish(j, 503, "database error; the document was not stored, send it again");
        return;
    }
    const struct anpi_event *ev = j->ev;
    switch (j->step) {
    case S_BEGIN:
        query(j, S_LOCK, "SELECT pg_advisory_xact_lock(" INGEST_LOCK ")", 0, NULL);
        return;
    case S_LOCK: {
        const char *docid = j->evs.n == 1 ? j->evs.ev[0]->doc_id : j->sha;
        const char *p[7] = { j->source, docid, j->url, j->sha, j->body, j->replay ? "true" : "false",
                             j->actor };
        query(j, S_DOC,
              "WITH d AS (INSERT INTO feed_documents (source, doc_id, url, sha256, body, replay)"
              " VALUES ($1, $2, $3, $4, $5, $6::boolean)"
              " ON CONFLICT (source, sha256) DO NOTHING RETURNING id),"
              " a AS (INSERT INTO audit_log (actor, action, object, detail)"
              "  SELECT $7, 'feed.replay', 'document:' || d.id,"
              "         jsonb_build_object('source', $1::text, 'doc_id', $2::text) FROM d WHERE $6::boolean)"
              " SELECT id FROM d", 7, p);
        return;
    }
    case S_DOC:
        if (PQntuples(res) == 0) {
            /* the same bytes were stored before: nothing more to do, ever */
            anpi_info(ANPI_LG_FEED, "duplicate document from %s (sha256 %.16s)", j->source, j->sha);
            const char *p[2] = { j->source, j->sha };
            query(j, S_DUP_ID, "SELECT id FROM feed_documents WHERE source = $1 AND sha256 = $2", 2, p);
            return;
        }
        j->doc_id = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
        j->iev = 0;
        next_event(j);
        return;
    case S_DUP_ID:
        if (PQntuples(res) > 0)
            j->doc_id = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
        query(j, S_DUP_COMMIT, "COMMIT", 0, NULL);
        return;
    case S_DUP_COMMIT:
        finish(j, 200, NULL);
        return;
    case S_EVENT:
        if (PQntuples(res) == 0) {
            /* this report was stored from another document (a feed repeats it) */
            event_out(j, true);
            j->iev++;
            next_event(j);
            return;
        }
        j->event_id = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
        if (ev->info_type == ANPI_IT_CANCEL) {
            char id[32];
            snprintf(id, sizeof(id), "%lld", j->event_id);
            const char *p[4] = { id, ev->event_key ? ev->event_key : "", ev->kind ? ev->kind : "",
                                 ev->serial ? ev->serial : "" };
            query(j, S_CANCEL, "SELECT anpi_cancel_event($1::bigint, $2, $3, $4)::text", 4, p);
            return;
        }
        query(j, S_STATE, STATE_SQL, 0, NULL);
        return;
    case S_CANCEL:
        anpi_info(ANPI_LG_INCIDENT, "cancellation %s: %s", ev->doc_id, PQgetvalue(res, 0, 0));
        json_array_append_new(j->results, json_pack("{s:s, s:s}", "action", "cancel",
                                                    "result", PQgetvalue(res, 0, 0)));
        j->cancel_pass = true;
        query(j, S_STATE, STATE_SQL, 0, NULL);
        return;
    case S_STATE:
        if (j->cancel_pass)
            plan_cancel(j, res);
        else
            plan(j, res);
        event_out(j, false);
        j->iact = 0;
        run_action(j);
        return;
    case S_ACTION: {
        const char *out = PQntuples(res) > 0 ? PQgetvalue(res, 0, 0) : "";
        json_error_t jerr;
        json_t *o = json_loads(out, JSON_DECODE_ANY, &jerr);
        json_t *last = json_array_get(j->events_out, json_array_size(j->events_out) - 1);
        json_t *acts = json_object_get(last, "actions");
        json_array_append_new(acts, json_pack("{s:s, s:o}", "action", j->acts[j->iact].what,
                                              "result", o ? o : json_string(out)));
        j->iact++;
        run_action(j);
        return;
    }
    case S_COMMIT:
        anpi_info(ANPI_LG_FEED, "stored document %lld from %s: %zu event(s)", j->doc_id, j->source,
                  j->evs.n);
        finish(j, 202, NULL);
        return;
    }
}

static void
on_conn(void *arg, struct anpi_db_conn *c)
{
    struct ingest_job *j = arg;
    j->c = c;
    query(j, S_BEGIN, "BEGIN", 0, NULL);
}

static void
run_next(struct anpi_engine *e)
{
    if (e->ingest_busy || !e->ingest_head)
        return;
    struct ingest_job *j = e->ingest_head;
    e->ingest_head = j->next;
    if (!e->ingest_head)
        e->ingest_tail = NULL;
    e->ingest_busy = true;
    anpi_db_acquire(e->db, on_conn, j);
}

/* Replay: every time in the document moves by one offset so that its
 * report time is now (recorded sequences keep their spacing per document
 * but are never stale). */
static void
shift_times(struct anpi_event *ev)
{
    int64_t ref = ev->issued_at ? ev->issued_at : ev->created_at;
    if (!ref)
        return;
    int64_t off = anpi_now_ms() / 1000 - ref;
    if (ev->issued_at)
        ev->issued_at += off;
    if (ev->occurred_at)
        ev->occurred_at += off;
    if (ev->created_at)
        ev->created_at += off;
}

void
anpi_ingest(struct anpi_engine *e, const char *source, const char *url, const char *body,
            size_t len, bool replay, const char *actor, anpi_ingest_cb cb, void *arg)
{
    e->m.documents_received++;
    struct anpi_ingest_result r = { .status = 400 };
    const struct anpi_feed_source *src = anpi_feed_source_find(source);
    if (!src) {
        char msg[160];
        snprintf(msg, sizeof(msg), "unknown feed source \"%.40s\" (known: %s)", source,
                 anpi_feed_source_names());
        r.error = msg;
        e->m.documents_rejected++;
        cb(arg, &r);
        return;
    }
    struct anpi_event_list evs = { 0 };
    char err[512] = "";
    int rc = src->parse(body, len, &evs, err, sizeof(err));
    if (rc != ANPI_OK) {
        char msg[640];
        snprintf(msg, sizeof(msg), "not a valid %s document: %s", source, err[0] ? err : anpi_strerror(rc));
        anpi_warn(ANPI_LG_FEED, "%s%s%s", msg, url ? " url=" : "", url ? url : "");
        anpi_event_list_free(&evs);
        anpi_feed_health_error(e, source, msg);
        r.status = rc == ANPI_ETOOBIG ? 413 : 400;
        r.error = msg;
        e->m.documents_rejected++;
        cb(arg, &r);
        return;
    }
    for (size_t i = 0; replay && i < evs.n; i++)
        shift_times(evs.ev[i]);
    /* a report "issued" far ahead of our clock is a broken feed or a broken
     * clock; either way nobody should be mailed on its strength */
    int64_t now = anpi_now_ms() / 1000;
    for (size_t i = 0; i < evs.n; i++) {
        if (evs.ev[i]->issued_at > now + FUTURE_TOLERANCE_S) {
            char when[64], msg[320];
            anpi_format_jst(evs.ev[i]->issued_at, when, sizeof(when));
            snprintf(msg, sizeof(msg), "document from the future: %s is issued %s JST, more than %d minutes "
                     "ahead of this server's clock (check the feed and the clock)",
                     evs.ev[i]->doc_id ? evs.ev[i]->doc_id : "report", when, FUTURE_TOLERANCE_S / 60);
            anpi_warn(ANPI_LG_FEED, "%s", msg);
            anpi_feed_health_error(e, source, msg);
            anpi_event_list_free(&evs);
            r.error = msg;
            e->m.documents_rejected++;
            cb(arg, &r);
            return;
        }
    }
    anpi_feed_health_document(e, source);
    /* earthquake early warnings arrive as JMA documents through a relay:
     * their own health record says whether that relay is alive */
    for (size_t i = 0; i < evs.n; i++) {
        if (evs.ev[i]->type == ANPI_EV_EEW) {
            anpi_feed_health_document(e, "eew");
            break;
        }
    }
    /* a receiver repeats null and other-type messages all day: a line that
     * carries no event is not worth a row */
    if (evs.n == 0 && strcmp(source, "qzss") == 0) {
        anpi_event_list_free(&evs);
        r.status = 200;
        r.events_json = "[]";
        cb(arg, &r);
        return;
    }
    struct ingest_job *j = anpi_xcalloc(1, sizeof(*j));
    j->e = e;
    j->source = anpi_xstrdup(source);
    j->url = url ? anpi_xstrdup(url) : NULL;
    j->body = anpi_xstrndup(body, len);
    j->len = len;
    j->actor = anpi_xstrdup(actor ? actor : "feed");
    j->replay = replay;
    j->evs = evs;
    j->cb = cb;
    j->arg = arg;
    j->results = json_array();
    j->events_out = json_array();
    sha256_hex(body, len, j->sha);
    if (e->ingest_tail)
        e->ingest_tail->next = j;
    else
        e->ingest_head = j;
    e->ingest_tail = j;
    run_next(e);
}
