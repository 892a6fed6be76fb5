/* template.c - {{name}} substitution for mail templates.
 *
 * The syntax is deliberately tiny: "{{" optional spaces, a name made of
 * [a-z0-9_.], optional spaces, "}}".  No loops, no conditionals, no filters:
 * templates are written by system admins, rendered for thousands of people,
 * and must not be able to do anything but insert a value.  A single "{" is
 * literal text.  In HTML bodies values are escaped; the template text itself
 * is trusted (it comes from the rule pack, not from a feed).
 *
 * Variables a rule's templates may use (checked at load time, so a typo is a
 * load error rather than an empty hole in 11,000 mails):
 *   event.title          Control/Title of the report (震源・震度に関する情報)
 *   event.headline       the report's headline text
 *   event.hypocenter     epicentre name (千葉県北西部)
 *   event.magnitude      magnitude as text ("5.2"), or the description
 *   event.max_intensity  label such as 震度5弱
 *   event.occurred_at    origin time, JST, "2024年1月1日 16時10分"
 *   event.status         actual / exercise / test
 *   event.description    the report's text (Body/Text, CAP description, MOFA lead)
 *   event.url            the source's page for people
 *   event.tsunami        strongest tsunami grade label (津波警報)
 *   event.tsunami_areas  forecast areas at advisory or more ("岩手県, 宮城県")
 *   event.weather        strongest weather warnings ("大雨警報, 洪水警報")
 *   event.missile        phase label (ミサイル発射, 直ちに避難, ...)
 *   event.country        Japanese country name (the engine fills it)
 *   event.risk_level     overseas risk level 1..4 ("" when none)
 *   event.hazard         CAP event / DCX hazard text
 *   affected_prefectures prefectures at or over the threshold ("千葉県, 東京都")
 *   incident.id          incident number
 *   incident.title       incident title shown on the console
 *   person.name          recipient's name
 *   reply_url            the person's login-free reply link
 *   approve_url          one-time approve link (approval requests)
 *   reject_url           one-time reject link (approval requests)
 *   incident_url         console page of the incident
 *   drill_banner         "【訓練】..." line for exercise/test incidents, else empty
 *   round                resend round number (1 = first mail)
 *   reason               why the engine acted (grouping decision, match explanation)
 */
#include "rules/rules.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/buf.h"

const char *const anpi_template_vars[] = {
    "event.title", "event.headline", "event.hypocenter", "event.magnitude",
    "event.max_intensity", "event.occurred_at", "event.status",
    "event.description", "event.url", "event.tsunami", "event.tsunami_areas", "event.weather",
    "event.missile", "event.country", "event.risk_level", "event.hazard",
    "affected_prefectures", "incident.id", "incident.title", "person.name",
    "reply_url", "approve_url", "reject_url", "incident_url", "drill_banner",
    "round", "reason", NULL,
};

#define NAME_MAX_LEN 64
#define RENDER_MAX   (4 * 1024 * 1024)

/* One {{...}} reference found at p (which points at "{{"). */
struct ref {
    const char *end;          /* just past "}}" (or end of text if unterminated) */
    char name[NAME_MAX_LEN + 1];
    enum { REF_OK, REF_UNTERMINATED, REF_BADNAME } status;
};

static bool
name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.';
}

static void
scan_ref(const char *p, struct ref *r)
{
    const char *q = p + 2;
    while (*q == ' ')
        q++;
    const char *n0 = q;
    while (name_char(*q))
        q++;
    size_t nlen = (size_t)(q - n0);
    while (*q == ' ')
        q++;
    r->name[0] = '\0';
    if (q[0] == '}' && q[1] == '}') {
        r->end = q + 2;
        if (nlen == 0 || nlen > NAME_MAX_LEN) {
            r->status = REF_BADNAME;
            return;
        }
        memcpy(r->name, n0, nlen);
        r->name[nlen] = '\0';
        r->status = REF_OK;
        return;
    }
    /* Not a clean reference: unterminated if no "}}" follows on this line,
     * otherwise a name with characters we do not allow. */
    const char *close = strstr(p + 2, "}}");
    const char *nl = strchr(p + 2, '\n');
    if (!close || (nl && nl < close)) {
        r->status = REF_UNTERMINATED;
        r->end = p + strlen(p);
        return;
    }
    r->status = REF_BADNAME;
    r->end = close + 2;
    size_t bl = (size_t)(close - (p + 2));
    if (bl > NAME_MAX_LEN)
        bl = NAME_MAX_LEN;
    memcpy(r->name, p + 2, bl);
    r->name[bl] = '\0';
}

static void
position(const char *start, const char *at, int first_line, int *line, int *col)
{
    int l = first_line, c = 1;
    for (const char *s = start; s < at; s++) {
        if (*s == '\n') {
            l++;
            c = 1;
        } else if (((unsigned char)*s & 0xC0) != 0x80) {
            c++;   /* columns count characters, not UTF-8 bytes */
        }
    }
    *line = l;
    *col = c;
}

static bool
allowed_name(const char *name, const char *const *allowed)
{
    for (size_t i = 0; allowed[i]; i++)
        if (strcmp(allowed[i], name) == 0)
            return true;
    return false;
}

int
anpi_template_check_at(const char *tmpl, const char *const *allowed, const char *where,
                       int first_line, struct anpi_errors *errs)
{
    int rc = ANPI_OK, line, col;
    const char *p = tmpl;
    while ((p = strstr(p, "{{")) != NULL) {
        struct ref r;
        scan_ref(p, &r);
        position(tmpl, p, first_line, &line, &col);
        switch (r.status) {
        case REF_UNTERMINATED:
            anpi_errors_add(errs, "%s:%d:%d: unterminated {{ (expected {{name}})", where, line, col);
            return ANPI_EPARSE;
        case REF_BADNAME:
            anpi_errors_add(errs, "%s:%d:%d: bad template variable {{%s}} (names use a-z, 0-9, _ and .)",
                            where, line, col, r.name);
            rc = ANPI_EPARSE;
            break;
        case REF_OK:
            if (!allowed_name(r.name, allowed)) {
                anpi_errors_add(errs, "%s:%d:%d: unknown template variable {{%s}}", where, line,
                                col, r.name);
                rc = ANPI_EPARSE;
            }
            break;
        }
        p = r.end;
    }
    return rc;
}

int
anpi_template_check(const char *tmpl, const char *const *allowed, const char *where,
                    struct anpi_errors *errs)
{
    return anpi_template_check_at(tmpl, allowed, where, 1, errs);
}

char *
anpi_template_render(const char *tmpl, anpi_template_lookup lookup, void *ctx, bool html,
                     struct anpi_errors *errs)
{
    struct anpi_buf b;
    anpi_buf_init(&b, RENDER_MAX);
    anpi_buf_puts(&b, "");
    const char *p = tmpl;
    int line, col;
    for (;;) {
        const char *open = strstr(p, "{{");
        if (!open) {
            anpi_buf_puts(&b, p);
            break;
        }
        anpi_buf_append(&b, p, (size_t)(open - p));
        struct ref r;
        scan_ref(open, &r);
        if (r.status == REF_UNTERMINATED) {
            /* Keep the text as written: a visible "{{" is better than a mail
             * that silently lost its tail. */
            position(tmpl, open, 1, &line, &col);
            if (errs)
                anpi_errors_add(errs, "template:%d:%d: unterminated {{", line, col);
            anpi_buf_puts(&b, open);
            break;
        }
        const char *val = r.status == REF_OK && lookup ? lookup(ctx, r.name) : NULL;
        if (!val && errs) {
            position(tmpl, open, 1, &line, &col);
            anpi_errors_add(errs, "template:%d:%d: unknown variable {{%s}}", line, col, r.name);
        }
        if (val) {
            if (html)
                anpi_buf_put_html(&b, val);
            else
                anpi_buf_puts(&b, val);
        }
        p = r.end;
    }
    return anpi_buf_steal(&b);
}
