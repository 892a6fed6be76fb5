/* render.c - one person's message from a broadcast's templates.
 *
 * Templates and incident variables are stored on the broadcast when it is
 * created; per-person values (name, links) are added here at send time, so a
 * delivery retried after a crash renders the same message again. */
#include "engine/engine.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "engine/anpi.h"
#include "rules/rules.h"

#define DRILL_BANNER "【訓練】これは訓練です。実際の災害ではありません。"

struct ctx {
    json_t *vars;
    const struct anpi_render_in *in;
    char reply_url[512], approve_url[512], reject_url[512], incident_url[512], confirm_url[512];
    char incident_id[32], round[16];
};

static const char *
lookup(void *arg, const char *name)
{
    struct ctx *c = arg;
    if (strcmp(name, "person.name") == 0)
        return c->in->person_name ? c->in->person_name : "";
    if (strcmp(name, "reply_url") == 0)
        return c->reply_url;
    if (strcmp(name, "approve_url") == 0)
        return c->approve_url;
    if (strcmp(name, "reject_url") == 0)
        return c->reject_url;
    if (strcmp(name, "incident_url") == 0)
        return c->incident_url;
    if (strcmp(name, "confirm_url") == 0)
        return c->confirm_url;
    if (strcmp(name, "incident.id") == 0)
        return c->incident_id;
    if (strcmp(name, "drill_banner") == 0)
        return c->in->drill ? DRILL_BANNER : "";
    json_t *v = json_object_get(c->vars, name);
    if (strcmp(name, "round") == 0 && !v)
        return c->round;
    if (json_is_string(v))
        return json_string_value(v);
    return NULL;
}

void
anpi_format_jst(int64_t t, char *buf, size_t len)
{
    if (!t) {
        snprintf(buf, len, "不明");
        return;
    }
    time_t jst = (time_t)(t + 9 * 3600);
    struct tm tm;
    gmtime_r(&jst, &tm);
    snprintf(buf, len, "%d年%d月%d日 %d時%02d分", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
             tm.tm_hour, tm.tm_min);
}

int
anpi_render(const struct anpi_engine *e, const struct anpi_render_in *in, char **subject, char **body)
{
    struct ctx c = { .in = in };
    json_error_t jerr;
    c.vars = json_loads(in->vars_json ? in->vars_json : "{}", 0, &jerr);
    if (!json_is_object(c.vars)) {
        json_decref(c.vars);
        return ANPI_EPARSE;
    }
    const char *base = e->cfg->public_url;
    char tok[ANPI_LINK_TOKEN_LEN + 1];
    if (strcmp(in->kind, "safety") == 0) {
        anpi_link_make(e->link_key, ANPI_LINK_REPLY, in->recipient_id, tok);
        snprintf(c.reply_url, sizeof(c.reply_url), "%s/r/%s", base, tok);
    }
    if (strcmp(in->kind, "approval") == 0) {
        anpi_link_make(e->link_key, ANPI_LINK_APPROVE, in->recipient_id, tok);
        snprintf(c.approve_url, sizeof(c.approve_url), "%s/a/%s", base, tok);
        anpi_link_make(e->link_key, ANPI_LINK_REJECT, in->recipient_id, tok);
        snprintf(c.reject_url, sizeof(c.reject_url), "%s/a/%s", base, tok);
    }
    if (strcmp(in->kind, "check") == 0) {
        anpi_link_make(e->link_key, ANPI_LINK_CONFIRM, in->delivery_id, tok);
        snprintf(c.confirm_url, sizeof(c.confirm_url), "%s/c/%s", base, tok);
    }
    snprintf(c.incident_id, sizeof(c.incident_id), "%lld", (long long)in->incident_id);
    snprintf(c.round, sizeof(c.round), "%d", in->round);
    /* the admin API's view of the incident (needs the bearer token; there is
     * no web console yet) */
    if (in->incident_id)
        snprintf(c.incident_url, sizeof(c.incident_url), "http://%s/api/v1/incidents/%lld",
                 e->cfg->listen_admin, (long long)in->incident_id);

    char *s = anpi_template_render(in->subject_tmpl ? in->subject_tmpl : "", lookup, &c, false, NULL);
    char *b = anpi_template_render(in->body_tmpl ? in->body_tmpl : "", lookup, &c, false, NULL);
    json_decref(c.vars);

    /* every mail a drill causes says so in the subject, whatever the template */
    const char *drill = "【訓練】";
    const char *resend = in->round > 0 ? "【再送】" : "";
    if ((in->drill && strncmp(s, drill, strlen(drill)) != 0) || *resend) {
        char *t = anpi_xasprintf("%s%s%s", in->drill && strncmp(s, drill, strlen(drill)) != 0 ? drill : "",
                                 resend, s);
        free(s);
        s = t;
    }
    if (in->drill && !strstr(b, DRILL_BANNER)) {
        char *t = anpi_xasprintf("%s\n\n%s", DRILL_BANNER, b);
        free(b);
        b = t;
    }
    *subject = s;
    *body = b;
    return ANPI_OK;
}
