/* vars.c - template values computed from the event alone.
 *
 * The engine fills the variables that need its own state (people, links,
 * incident, country names); these come from the normalized event only and
 * live here, beside the allowed list in template.c, so a feed field and the
 * text people read are defined in one module. */
#include "rules/rules.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/buf.h"

#define VAR_MAX (16 * 1024)   /* a value, however many areas the report lists */

static const char *const missile_labels[] = {
    [ANPI_MS_NONE] = "",
    [ANPI_MS_LAUNCH] = "ミサイル発射",
    [ANPI_MS_IMMINENT] = "直ちに避難(落下のおそれ)",
    [ANPI_MS_IMPACT] = "ミサイル落下",
    [ANPI_MS_OVERFLIGHT] = "ミサイル通過",
    [ANPI_MS_IMPACT_OUTSIDE] = "ミサイル落下(領海外)",
    [ANPI_MS_INTERCEPTION] = "ミサイル迎撃",
    [ANPI_MS_ALL_CLEAR] = "警戒解除",
    [ANPI_MS_OTHER] = "国民保護情報",
};

static const char *const weather_suffix[] = {
    [ANPI_WX_NONE] = "", [ANPI_WX_ADVISORY] = "注意報", [ANPI_WX_WARNING] = "警報",
    [ANPI_WX_EMERGENCY] = "特別警報",
};

/* Append s to a ", "-separated list unless it is already in it. */
static void
list_add(struct anpi_buf *b, const char *s)
{
    if (!s || !*s)
        return;
    const char *have = b->data ? b->data : "";
    size_t l = strlen(s);
    for (const char *p = have; p && (p = strstr(p, s)) != NULL; p += l) {
        bool start = p == have || (p >= have + 2 && p[-2] == ',' && p[-1] == ' ');
        bool end = p[l] == '\0' || p[l] == ',';
        if (start && end)
            return;
    }
    if (b->len)
        anpi_buf_puts(b, ", ");
    anpi_buf_puts(b, s);
}

/* The kinds at the strongest level in the report; a kind name without the
 * level suffix (some feeds give "大雨") gets it. */
static char *
weather_text(const struct anpi_event *ev)
{
    enum anpi_weather_level top = ev->max_weather;
    for (size_t i = 0; i < ev->nweather; i++)
        if (ev->weather[i].level > top)
            top = ev->weather[i].level;
    struct anpi_buf b;
    anpi_buf_init(&b, VAR_MAX);
    anpi_buf_puts(&b, "");
    if (top == ANPI_WX_NONE || (unsigned)top >= ANPI_ARRAY_LEN(weather_suffix))
        return anpi_buf_steal(&b);
    for (size_t i = 0; i < ev->nweather; i++) {
        const struct anpi_weather_item *w = &ev->weather[i];
        if (w->level != top || !w->kind_name || !*w->kind_name)
            continue;
        const char *suf = weather_suffix[top];
        size_t kl = strlen(w->kind_name), sl = strlen(suf);
        if (kl >= sl && strcmp(w->kind_name + kl - sl, suf) == 0) {
            list_add(&b, w->kind_name);
        } else if (kl < 200) {
            char name[256];
            snprintf(name, sizeof(name), "%s%s", w->kind_name, suf);
            list_add(&b, name);
        }
    }
    if (b.len == 0)   /* only prefecture levels, no kinds */
        anpi_buf_puts(&b, weather_suffix[top]);
    return anpi_buf_steal(&b);
}

static char *
tsunami_areas(const struct anpi_event *ev)
{
    struct anpi_buf b;
    anpi_buf_init(&b, VAR_MAX);
    anpi_buf_puts(&b, "");
    for (size_t i = 0; i < ev->ntsunami; i++)
        if (ev->tsunami[i].grade >= ANPI_TS_ADVISORY)
            list_add(&b, ev->tsunami[i].name);
    return anpi_buf_steal(&b);
}

static char *
dup_or_empty(const char *s)
{
    return anpi_xstrdup(s ? s : "");
}

char *
anpi_template_event_var(const struct anpi_event *ev, const char *name)
{
    if (strcmp(name, "event.description") == 0)
        return dup_or_empty(ev->description);
    if (strcmp(name, "event.url") == 0)
        return dup_or_empty(ev->url);
    if (strcmp(name, "event.hazard") == 0)
        return dup_or_empty(ev->hazard);
    if (strcmp(name, "event.tsunami") == 0) {
        enum anpi_tsunami_grade g = ev->max_tsunami;
        for (size_t i = 0; i < ev->ntsunami; i++)
            if (ev->tsunami[i].grade > g)
                g = ev->tsunami[i].grade;
        return anpi_xstrdup(g == ANPI_TS_NONE ? "" : anpi_tsunami_grade_label_ja(g));
    }
    if (strcmp(name, "event.tsunami_areas") == 0)
        return tsunami_areas(ev);
    if (strcmp(name, "event.weather") == 0)
        return weather_text(ev);
    if (strcmp(name, "event.missile") == 0)
        return anpi_xstrdup((unsigned)ev->missile_phase < ANPI_ARRAY_LEN(missile_labels)
                                ? missile_labels[ev->missile_phase] : "");
    if (strcmp(name, "event.risk_level") == 0)
        return ev->risk_level > 0 ? anpi_xasprintf("%d", ev->risk_level) : anpi_xstrdup("");
    return NULL;
}
