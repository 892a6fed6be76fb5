/* match.c - does a rule's when: section match an event?
 *
 * Order of the checks (the first that fails is the one explained):
 *   1. event type;
 *   2. status (exercise/test documents only reach rules that enable them);
 *   3. intensity and where: the affected prefectures are those at or over
 *      intensity_at_least (by rank, so "!5-" - 5- or more, not yet received -
 *      counts as 5-), intersected with where (a code list, or the
 *      prefectures where staff live).  With a where condition at least one
 *      prefecture must remain.  Without one, a report that carries only a
 *      maximum intensity and no prefecture detail still matches (with an
 *      empty affected set): better a safety check the officer rejects than a
 *      strong quake that slips through.
 *   Without intensity_at_least, every prefecture with any reported intensity
 *   counts as affected (missile and manual rules use where lists that way). */
#include "rules/rules.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

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

bool
anpi_rule_match(const struct anpi_rule *r, const struct anpi_event *ev,
                anpi_prefset staff_prefs, anpi_prefset *affected, char *why, size_t whylen)
{
    char names[256];
    *affected = 0;
    if (ev->type != r->event) {
        say(why, whylen, "event type %s, rule wants %s", anpi_event_type_name(ev->type),
            anpi_event_type_name(r->event));
        return false;
    }
    if (!(r->statuses & (1u << ev->status))) {
        say(why, whylen, "status %s not enabled for this rule", anpi_event_status_name(ev->status));
        return false;
    }

    bool has_where = r->where_staff_regions || r->where_prefs;
    anpi_prefset where = r->where_staff_regions ? staff_prefs : r->where_prefs;
    if (r->where_staff_regions && r->where_prefs)
        where &= r->where_prefs;
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
