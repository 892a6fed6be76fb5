/* match.c - does a rule's when: section match an event?
 *
 * Order of the checks (the first that fails is the one explained):
 *   1. event type (one of the rule's event types; a scheduled drill rule
 *      matches no event);
 *   2. status (exercise/test documents only reach rules that enable them);
 *   3. report kind: a cancellation (取消) never matches - the engine finds
 *      what it cancels by event key; a correction (訂正) matches information
 *      rules only with on_correction: send (incident rules always see it, so
 *      the event key joins it to the open incident);
 *   4. the conditions of the event's type:
 *   earthquake, eew, manual - intensity and where: the affected prefectures
 *      are those at or over intensity_at_least (by rank, so "!5-" - 5- or
 *      more, not yet received - counts as 5-; for eew the forecast
 *      intensities), intersected with where (a code list, or the prefectures
 *      where staff live).  With a where condition at least one prefecture
 *      must remain.  Without one, a report that carries only a maximum
 *      intensity and no prefecture detail still matches (with an empty
 *      affected set): better a safety check the officer rejects than a
 *      strong quake that slips through.  Without intensity_at_least, every
 *      prefecture with any reported intensity counts as affected.
 *      eew_warning_only drops 予報 first.
 *   tsunami, weather - the same decision over grades: the strongest tsunami
 *      grade per prefecture (pref_tsunami and the forecast areas), or the
 *      strongest weather level per prefecture among the items whose kind
 *      matches weather_kinds (pref_weather too when no kinds are given).
 *      typhoon: true first requires a typhoon in the report.
 *   missile - the phase must be in missile_phases (default: launch,
 *      imminent, impact, overflight, other); affected = target_prefs,
 *      intersected with where (at least one must remain when where is given).
 *   overseas - risk level, risk kind and country conditions; affected is
 *      always empty (the audience is travellers and groups). */
#include "rules/rules.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static void
say(char *why, size_t len, const char *fmt, ...) ANPI_PRINTF(3, 4);

static void
say(char *why, size_t len, const char *fmt, ...)
{
    if (!why || !len)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, len, fmt, ap);
    va_end(ap);
}

/* Strongest intensity reported for a prefecture, prefecture value or any
 * of its cities (a city may be "!5-" while the prefecture is not yet). */
static enum anpi_intensity
pref_max(const struct anpi_event *ev, int p)
{
    enum anpi_intensity best = ev->pref_intensity[p];
    for (size_t i = 0; i < ev->ncities; i++) {
        const struct anpi_city_intensity *c = &ev->cities[i];
        if (c->pref == p && anpi_intensity_rank(c->intensity) > anpi_intensity_rank(best))
            best = c->intensity;
    }
    return best;
}

/* Strongest intensity within a set, and the prefectures that have it. */
static enum anpi_intensity
strongest_in(const struct anpi_event *ev, anpi_prefset set, anpi_prefset *where_max)
{
    enum anpi_intensity best = ANPI_INT_NONE;
    anpi_prefset at = 0;
    for (int p = 1; p <= ANPI_PREF_COUNT; p++) {
        if (!(set & ANPI_PREFSET_BIT(p)))
            continue;
        enum anpi_intensity i = pref_max(ev, p);
        int ri = anpi_intensity_rank(i), rb = anpi_intensity_rank(best);
        if (ri > rb) {
            best = i;
            at = ANPI_PREFSET_BIT(p);
        } else if (ri == rb && ri > 0) {
            at |= ANPI_PREFSET_BIT(p);
        }
    }
    *where_max = at;
    return best;
}

/* The where: condition as a set; false when the rule has none. */
static bool
where_set(const struct anpi_rule *r, anpi_prefset staff_prefs, anpi_prefset *where)
{
    *where = r->where_staff_regions ? staff_prefs : r->where_prefs;
    if (r->where_staff_regions && r->where_prefs)
        *where &= r->where_prefs;
    return r->where_staff_regions || r->where_prefs;
}

/* Earthquakes, EEW (forecast intensities) and manual events. */
static bool
match_intensity(const struct anpi_rule *r, const struct anpi_event *ev,
                anpi_prefset staff_prefs, anpi_prefset *affected, char *why, size_t whylen)
{
    char names[256];
    anpi_prefset where;
    bool has_where = where_set(r, staff_prefs, &where);
    enum anpi_intensity threshold =
        r->intensity_at_least != ANPI_INT_NONE ? r->intensity_at_least : ANPI_INT_1;
    anpi_prefset all = anpi_event_prefs_at_least(ev, threshold);
    anpi_prefset hit = has_where ? (all & where) : all;
    const char *tname = anpi_intensity_name(threshold);

    if (hit) {
        anpi_prefset at;
        enum anpi_intensity best = strongest_in(ev, hit, &at);
        anpi_prefset_format(at, names, sizeof(names));
        *affected = hit;
        if (r->intensity_at_least == ANPI_INT_NONE)
            say(why, whylen, "intensity %s in %s (no intensity condition)",
                anpi_intensity_name(best), names);
        else
            say(why, whylen, "intensity %s in %s >= %s", anpi_intensity_name(best), names, tname);
        return true;
    }

    if (all && has_where) {
        anpi_prefset at;
        enum anpi_intensity best = strongest_in(ev, all, &at);
        anpi_prefset_format(at, names, sizeof(names));
        if (r->where_staff_regions)
            say(why, whylen, "intensity %s in %s, but no staff live in any prefecture at or over %s",
                anpi_intensity_name(best), names, tname);
        else
            say(why, whylen, "intensity %s in %s, outside this rule's where list",
                anpi_intensity_name(best), names);
        return false;
    }

    if (!has_where && r->intensity_at_least != ANPI_INT_NONE &&
        anpi_intensity_rank(ev->max_intensity) >= anpi_intensity_rank(threshold)) {
        say(why, whylen, "max intensity %s >= %s (no prefecture detail in the report)",
            anpi_intensity_name(ev->max_intensity), tname);
        return true;
    }
    if (r->intensity_at_least == ANPI_INT_NONE) {
        if (!has_where) {
            say(why, whylen, "%s event (no intensity or where condition)",
                anpi_event_type_name(ev->type));
            return true;
        }
        say(why, whylen, "no prefecture of this rule's where list is named in the report");
        return false;
    }

    anpi_prefset at;
    enum anpi_intensity best = strongest_in(ev, ANPI_PREFSET_BIT(ANPI_PREF_COUNT + 1) - 2, &at);
    if (anpi_intensity_rank(ev->max_intensity) > anpi_intensity_rank(best))
        best = ev->max_intensity;
    if (best == ANPI_INT_NONE)
        say(why, whylen, "no intensity reported, rule wants %s", tname);
    else
        say(why, whylen, "max intensity %s < %s", anpi_intensity_name(best), tname);
    return false;
}

/* ---- tsunami and weather: a grade per prefecture ------------------------- */

struct graded {
    char what[160];            /* "tsunami", "weather (大雨, 暴風)" */
    const char *cond_key;      /* "tsunami_at_least" */
    const char *(*name)(int grade);
    int grade[ANPI_PREF_COUNT + 1];
    int max_any;               /* strongest grade anywhere, prefecture known or not */
    int threshold;             /* lowest grade that counts */
    bool has_cond;
};

static const char *
tsunami_name(int g)
{
    return anpi_tsunami_grade_name((enum anpi_tsunami_grade)g);
}

static const char *
weather_name(int g)
{
    return anpi_weather_level_name((enum anpi_weather_level)g);
}

static anpi_prefset
graded_at_least(const struct graded *g, int threshold)
{
    anpi_prefset s = 0;
    for (int p = 1; p <= ANPI_PREF_COUNT; p++)
        if (g->grade[p] >= threshold && g->grade[p] > 0)
            s |= ANPI_PREFSET_BIT(p);
    return s;
}

static int
graded_strongest(const struct graded *g, anpi_prefset set, anpi_prefset *at)
{
    int best = 0;
    *at = 0;
    for (int p = 1; p <= ANPI_PREF_COUNT; p++) {
        if (!(set & ANPI_PREFSET_BIT(p)))
            continue;
        if (g->grade[p] > best) {
            best = g->grade[p];
            *at = ANPI_PREFSET_BIT(p);
        } else if (g->grade[p] == best && best > 0) {
            *at |= ANPI_PREFSET_BIT(p);
        }
    }
    return best;
}

/* The same decision as for intensities, over grades (see the top of the file). */
static bool
match_graded(const struct anpi_rule *r, const struct graded *g, anpi_prefset staff_prefs,
             anpi_prefset *affected, char *why, size_t whylen)
{
    char names[256];
    anpi_prefset where, at;
    bool has_where = where_set(r, staff_prefs, &where);
    anpi_prefset all = graded_at_least(g, g->threshold);
    anpi_prefset hit = has_where ? (all & where) : all;
    const char *tname = g->name(g->threshold);

    if (hit) {
        int best = graded_strongest(g, hit, &at);
        anpi_prefset_format(at, names, sizeof(names));
        *affected = hit;
        if (g->has_cond)
            say(why, whylen, "%s %s in %s >= %s", g->what, g->name(best), names, tname);
        else
            say(why, whylen, "%s %s in %s (no %s condition)", g->what, g->name(best), names,
                g->cond_key);
        return true;
    }
    if (all && has_where) {
        int best = graded_strongest(g, all, &at);
        anpi_prefset_format(at, names, sizeof(names));
        if (r->where_staff_regions)
            say(why, whylen, "%s %s in %s, but no staff live in any prefecture at or over %s",
                g->what, g->name(best), names, tname);
        else
            say(why, whylen, "%s %s in %s, outside this rule's where list", g->what,
                g->name(best), names);
        return false;
    }
    if (!has_where && g->has_cond && g->max_any >= g->threshold) {
        say(why, whylen, "max %s grade %s >= %s (no prefecture detail in the report)", g->what,
            g->name(g->max_any), tname);
        return true;
    }
    if (!g->has_cond) {
        if (!has_where) {
            say(why, whylen, "%s event (no %s or where condition)", g->what, g->cond_key);
            return true;
        }
        say(why, whylen, "no prefecture of this rule's where list is named in the report");
        return false;
    }
    if (g->max_any == 0)
        say(why, whylen, "no %s grade reported, rule wants %s", g->what, tname);
    else
        say(why, whylen, "max %s grade %s < %s", g->what, g->name(g->max_any), tname);
    return false;
}

static bool
match_tsunami(const struct anpi_rule *r, const struct anpi_event *ev, anpi_prefset staff_prefs,
              anpi_prefset *affected, char *why, size_t whylen)
{
    struct graded g;
    memset(&g, 0, sizeof(g));
    snprintf(g.what, sizeof(g.what), "tsunami");
    g.cond_key = "tsunami_at_least";
    g.name = tsunami_name;
    g.has_cond = r->tsunami_at_least != ANPI_TS_NONE;
    g.threshold = g.has_cond ? (int)r->tsunami_at_least : (int)ANPI_TS_FORECAST;
    g.max_any = (int)ev->max_tsunami;
    for (int p = 1; p <= ANPI_PREF_COUNT; p++)
        g.grade[p] = (int)ev->pref_tsunami[p];
    /* The forecast areas too: a parser may fill only those. */
    for (size_t i = 0; i < ev->ntsunami; i++) {
        const struct anpi_tsunami_area *a = &ev->tsunami[i];
        if ((int)a->grade > g.max_any)
            g.max_any = (int)a->grade;
        for (int p = 1; p <= ANPI_PREF_COUNT; p++)
            if ((a->prefs & ANPI_PREFSET_BIT(p)) && (int)a->grade > g.grade[p])
                g.grade[p] = (int)a->grade;
    }
    return match_graded(r, &g, staff_prefs, affected, why, whylen);
}

static bool
kind_wanted(const struct anpi_rule *r, const char *kind_name)
{
    if (!r->nweather_kinds)
        return true;
    for (size_t i = 0; kind_name && i < r->nweather_kinds; i++)
        if (strstr(kind_name, r->weather_kinds[i]))
            return true;
    return false;
}

static bool
match_weather(const struct anpi_rule *r, const struct anpi_event *ev, anpi_prefset staff_prefs,
              anpi_prefset *affected, char *why, size_t whylen)
{
    bool typhoon = ev->typhoon_name && *ev->typhoon_name;
    if (r->typhoon_only && !typhoon) {
        say(why, whylen, "no typhoon in this weather report (rule has typhoon: true)");
        return false;
    }
    bool has_cond = r->weather_at_least != ANPI_WX_NONE || r->nweather_kinds;
    if (r->typhoon_only && !has_cond && !r->where_staff_regions && !r->where_prefs) {
        say(why, whylen, "typhoon %s", ev->typhoon_name);
        return true;
    }
    struct graded g;
    memset(&g, 0, sizeof(g));
    /* "weather (大雨, 暴風)"; snprintf truncates a long kind list. */
    size_t len = sizeof(g.what), used = (size_t)snprintf(g.what, len, "weather");
    for (size_t i = 0; i < r->nweather_kinds && used < len; i++)
        used += (size_t)snprintf(g.what + used, len - used, "%s%s", i ? ", " : " (",
                                 r->weather_kinds[i]);
    if (r->nweather_kinds && used < len)
        snprintf(g.what + used, len - used, ")");
    g.cond_key = "weather_at_least";
    g.name = weather_name;
    g.has_cond = has_cond;
    g.threshold = r->weather_at_least != ANPI_WX_NONE ? (int)r->weather_at_least
                                                      : (int)ANPI_WX_ADVISORY;
    if (!r->nweather_kinds) {
        g.max_any = (int)ev->max_weather;
        for (int p = 1; p <= ANPI_PREF_COUNT; p++)
            g.grade[p] = (int)ev->pref_weather[p];
    }
    for (size_t i = 0; i < ev->nweather; i++) {
        const struct anpi_weather_item *w = &ev->weather[i];
        if (!kind_wanted(r, w->kind_name))
            continue;
        if ((int)w->level > g.max_any)
            g.max_any = (int)w->level;
        if (w->pref >= 1 && w->pref <= ANPI_PREF_COUNT && (int)w->level > g.grade[w->pref])
            g.grade[w->pref] = (int)w->level;
    }
    return match_graded(r, &g, staff_prefs, affected, why, whylen);
}

/* ---- missile and overseas ----------------------------------------------- */

static bool
match_missile(const struct anpi_rule *r, const struct anpi_event *ev, anpi_prefset staff_prefs,
              anpi_prefset *affected, char *why, size_t whylen)
{
    char names[256];
    const char *phase = anpi_missile_phase_name(ev->missile_phase);
    unsigned phases = r->missile_phases ? r->missile_phases : ANPI_MISSILE_DEFAULT_PHASES;
    if ((unsigned)ev->missile_phase >= 32 || !(phases & (1u << ev->missile_phase))) {
        say(why, whylen, "missile phase %s is not among this rule's phases%s", phase,
            r->missile_phases ? "" : " (default: launch, imminent, impact, overflight, other)");
        return false;
    }
    anpi_prefset all_prefs = ANPI_PREFSET_BIT(ANPI_PREF_COUNT + 1) - 2;
    anpi_prefset target = ev->target_prefs & all_prefs, where;
    bool has_where = where_set(r, staff_prefs, &where);
    if (!has_where) {
        *affected = target;
        anpi_prefset_format(target, names, sizeof(names));
        if (target)
            say(why, whylen, "missile %s, prefectures %s", phase, names);
        else
            say(why, whylen, "missile %s (no prefecture named)", phase);
        return true;
    }
    anpi_prefset hit = target & where;
    if (hit) {
        *affected = hit;
        anpi_prefset_format(hit, names, sizeof(names));
        say(why, whylen, "missile %s, prefectures %s", phase, names);
        return true;
    }
    if (target) {
        anpi_prefset_format(target, names, sizeof(names));
        if (r->where_staff_regions)
            say(why, whylen, "missile %s in %s, but no staff live there", phase, names);
        else
            say(why, whylen, "missile %s in %s, outside this rule's where list", phase, names);
        return false;
    }
    say(why, whylen, "no prefecture of this rule's where list is named in the report");
    return false;
}

static bool
country_wanted(const struct anpi_rule *r, const char *cc)
{
    for (size_t i = 0; cc && *cc && i < r->ncountries; i++)
        if (strncasecmp(r->countries[i], cc, 2) == 0 && strlen(cc) == 2)
            return true;
    return false;
}

static bool
match_overseas(const struct anpi_rule *r, const struct anpi_event *ev, char *why, size_t whylen)
{
    char list[128];
    size_t used = 0;
    list[0] = '\0';
    /* Every country the event names, for the explanation. */
    const char *first = ev->country[0] ? ev->country : "";
    if (*first)
        used += (size_t)snprintf(list, sizeof(list), "%.2s", first);
    for (size_t i = 0; i < ev->ncountries && used < sizeof(list); i++) {
        if (*first && strncmp(ev->countries[i], first, 2) == 0)
            continue;
        used += (size_t)snprintf(list + used, sizeof(list) - used, "%s%.2s", used ? ", " : "",
                                 ev->countries[i]);
    }
    const char *kind = ev->risk_kind && *ev->risk_kind ? ev->risk_kind : "";

    if (r->risk_level_at_least && ev->risk_level < r->risk_level_at_least) {
        say(why, whylen, "risk level %d < %d", ev->risk_level, r->risk_level_at_least);
        return false;
    }
    if (r->nrisk_kinds) {
        bool ok = false;
        for (size_t i = 0; i < r->nrisk_kinds; i++)
            if (strcasecmp(r->risk_kinds[i], kind) == 0)
                ok = true;
        if (!ok) {
            if (*kind)
                say(why, whylen, "risk kind %s is not in this rule's risk_kinds", kind);
            else
                say(why, whylen, "no risk kind in the report, rule wants one of its risk_kinds");
            return false;
        }
    }
    if (r->ncountries) {
        bool ok = country_wanted(r, ev->country);
        for (size_t i = 0; !ok && i < ev->ncountries; i++) {
            char cc[3] = { ev->countries[i][0], ev->countries[i][1], '\0' };
            ok = country_wanted(r, cc);
        }
        if (!ok) {
            if (*list)
                say(why, whylen, "countries %s are not in this rule's countries", list);
            else
                say(why, whylen, "no country in the report, rule wants one of its countries");
            return false;
        }
    }
    char lv[48] = "";
    if (r->risk_level_at_least)
        snprintf(lv, sizeof(lv), " >= %d", r->risk_level_at_least);
    say(why, whylen, "overseas risk level %d%s%s%s in %s", ev->risk_level, lv,
        *kind ? ", kind " : "", kind, *list ? list : "(no country named)");
    return true;
}

/* ---- the entry point ------------------------------------------------------ */

static void
types_text(unsigned types, char *buf, size_t len)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int t = 1; t < 32 && used < len; t++)
        if (types & (1u << t))
            used += (size_t)snprintf(buf + used, len - used, "%s%s", used ? ", " : "",
                                     anpi_event_type_name((enum anpi_event_type)t));
}

bool
anpi_rule_match(const struct anpi_rule *r, const struct anpi_event *ev,
                anpi_prefset staff_prefs, anpi_prefset *affected, char *why, size_t whylen)
{
    char tb[128];
    *affected = 0;
    if (!r->event_types && r->schedule_every_s) {
        say(why, whylen, "scheduled drill rule: not triggered by events");
        return false;
    }
    /* Rules built in code may set only `event`. */
    unsigned types = r->event_types ? r->event_types : 1u << r->event;
    if ((unsigned)ev->type >= 32 || !(types & (1u << ev->type))) {
        types_text(types, tb, sizeof(tb));
        say(why, whylen, "event type %s, rule wants %s", anpi_event_type_name(ev->type), tb);
        return false;
    }
    if ((unsigned)ev->status >= 32 || !(r->statuses & (1u << ev->status))) {
        say(why, whylen, "status %s not enabled for this rule", anpi_event_status_name(ev->status));
        return false;
    }
    /* A cancellation carries no data to match: the engine finds what it
     * cancels by event key and tells people per on_cancel. */
    if (ev->info_type == ANPI_IT_CANCEL) {
        say(why, whylen, "cancellation report: handled by event key (on_cancel: %s)",
            r->notify_cancellations ? "notify" : "ignore");
        return false;
    }
    /* A correction of an information mail would mail the same people the
     * same news again; only rules that asked for it get corrections.
     * Incident rules see them: the event key joins the open incident. */
    if (ev->info_type == ANPI_IT_CORRECTION && !r->opens_incident && !r->send_corrections) {
        say(why, whylen, "correction report, this rule ignores corrections (on_correction: ignore)");
        return false;
    }
    switch (ev->type) {
    case ANPI_EV_EEW:
        if (r->eew_warning_only && !ev->eew_warning) {
            say(why, whylen, "EEW forecast (予報), rule wants warnings (警報) only");
            return false;
        }
        return match_intensity(r, ev, staff_prefs, affected, why, whylen);
    case ANPI_EV_TSUNAMI:
        return match_tsunami(r, ev, staff_prefs, affected, why, whylen);
    case ANPI_EV_WEATHER:
        return match_weather(r, ev, staff_prefs, affected, why, whylen);
    case ANPI_EV_MISSILE:
        return match_missile(r, ev, staff_prefs, affected, why, whylen);
    case ANPI_EV_OVERSEAS:
        return match_overseas(r, ev, why, whylen);
    default:
        return match_intensity(r, ev, staff_prefs, affected, why, whylen);
    }
}
