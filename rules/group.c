/* group.c - aftershock grouping: does a matched event join an open incident?
 *
 * Pure function of (rule, event, affected prefectures, open incidents of
 * this rule).  The engine stores the decision and its reason on the incident.
 *
 * 1. Same event.  The event joins an incident that already holds one of its
 *    event keys (a multi-key EventID such as "20240101161010 20240101161200"
 *    is split on whitespace, on both sides).  same_event = true.
 *      - prefectures newly at or over the threshold (affected minus covered)
 *        -> ADD_PREFS with exactly those (a later report of the same quake
 *           that revises it upward is NOT "stronger": it is the same quake,
 *           its people were already asked; only new prefectures are added);
 *      - otherwise SILENT.
 *    Incidents sharing a key win over incidents joined by window/area: the
 *    event key is the source's own statement that it is the same quake.
 * 2. Different event, same window and area.  Origin time (occurred_at; the
 *    issue time when the origin is unknown, "now" when both are) within
 *    [main_occurred_at - window, window_end], both ends inclusive, and in
 *    the area.  The window also reaches back before the main shock: a
 *    foreshock whose report arrives late, or reports replayed out of order
 *    (each replayed document is shifted to "now" on its own), is the same
 *    emergency and must not mail anyone a second time.  Area:
 *      SAME      affected overlaps covered;
 *      ADJACENT  affected overlaps covered or the neighbours of covered;
 *      RADIUS    epicentre within aftershock_radius_km of the main shock's,
 *                ADJACENT when either coordinate is unknown.
 *    Then:
 *      - stronger than main_max (by rank) and resend_if_stronger
 *        -> STRONGER, add_prefs = all affected (a new round to everyone);
 *      - else newly affected prefectures -> ADD_PREFS with those;
 *      - else SILENT (notify_group is told, nobody is re-mailed).
 *    Only for earthquake and eew events: every other type (tsunami,
 *    weather, missile, overseas, manual) joins by event key alone, so the
 *    reports of one tsunami EventID update one incident while a second
 *    missile launch opens a new one.
 * 3. Nothing qualifies -> NEW.
 * Among several qualifying incidents (within the same class, 1 before 2)
 * the one with the most recent main shock is chosen; ties go to the higher
 * incident id (the newer one). */
#include "rules/rules.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const char *
anpi_group_action_name(enum anpi_group_action a)
{
    switch (a) {
    case ANPI_GROUP_NEW:       return "new";
    case ANPI_GROUP_SILENT:    return "silent";
    case ANPI_GROUP_ADD_PREFS: return "add_prefs";
    case ANPI_GROUP_STRONGER:  return "stronger";
    }
    return "new";
}

/* Is the whitespace-separated token [tok, tok+len) one of the keys in s? */
static bool
key_in(const char *s, const char *tok, size_t len)
{
    while (s && *s) {
        while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
            s++;
        const char *b = s;
        while (*s && *s != ' ' && *s != '\t' && *s != '\n' && *s != '\r')
            s++;
        if ((size_t)(s - b) == len && len && memcmp(b, tok, len) == 0)
            return true;
    }
    return false;
}

static bool
shares_key(const struct anpi_incident_state *inc, const char *keys)
{
    const char *s = keys;
    while (s && *s) {
        while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
            s++;
        const char *b = s;
        while (*s && *s != ' ' && *s != '\t' && *s != '\n' && *s != '\r')
            s++;
        size_t len = (size_t)(s - b);
        if (!len)
            continue;
        for (size_t i = 0; i < inc->nevent_keys; i++)
            if (key_in(inc->event_keys[i], b, len))
                return true;
    }
    return false;
}

static int
event_rank(const struct anpi_event *ev)
{
    int best = anpi_intensity_rank(ev->max_intensity);
    for (int p = 1; p <= ANPI_PREF_COUNT; p++) {
        int r = anpi_intensity_rank(ev->pref_intensity[p]);
        if (r > best)
            best = r;
    }
    for (size_t i = 0; i < ev->ncities; i++) {
        int r = anpi_intensity_rank(ev->cities[i].intensity);
        if (r > best)
            best = r;
    }
    return best;
}

static const char *
rank_name(int rank)
{
    return anpi_intensity_name((enum anpi_intensity)rank);
}

static anpi_prefset
with_neighbours(anpi_prefset s)
{
    anpi_prefset out = s;
    for (int p = 1; p <= ANPI_PREF_COUNT; p++)
        if (s & ANPI_PREFSET_BIT(p))
            out |= anpi_pref_neighbours(p);
    return out;
}

/* Area test for a different event; writes a short description of why it is
 * in the area into desc. */
static bool
in_area(const struct anpi_rule *r, const struct anpi_event *ev, anpi_prefset affected,
        const struct anpi_incident_state *inc, char *desc, size_t len)
{
    char names[256];
    enum anpi_area_mode mode = r->aftershock_area;
    if (mode == ANPI_AREA_RADIUS) {
        if (!isnan(ev->lat) && !isnan(ev->lon) && !isnan(inc->main_lat) && !isnan(inc->main_lon)) {
            double d = anpi_distance_km(inc->main_lat, inc->main_lon, ev->lat, ev->lon);
            if (d <= r->aftershock_radius_km) {
                snprintf(desc, len, "epicentre %.0f km from the main shock (radius %.0f km)", d,
                         r->aftershock_radius_km);
                return true;
            }
            return false;
        }
        mode = ANPI_AREA_ADJACENT;   /* a coordinate is unknown */
    }
    anpi_prefset same = affected & inc->covered;
    if (same) {
        anpi_prefset_format(same, names, sizeof(names));
        snprintf(desc, len, "same area (%s)", names);
        return true;
    }
    if (mode == ANPI_AREA_ADJACENT) {
        anpi_prefset adj = affected & with_neighbours(inc->covered);
        if (adj) {
            anpi_prefset_format(adj, names, sizeof(names));
            snprintf(desc, len, "adjacent area (%s)", names);
            return true;
        }
    }
    return false;
}

static void
fmt_delay(int64_t d, char *buf, size_t len)
{
    const char *rel = d < 0 ? "before" : "after";
    if (d < 0)
        d = -d;
    snprintf(buf, len, "%lldh%02lldm %s", (long long)(d / 3600), (long long)(d % 3600 / 60), rel);
}

/* Write the decision's reason; a long prefecture list is cut at a character
 * boundary, never inside a UTF-8 sequence. */
static void set_reason(struct anpi_group_decision *out, const char *fmt, ...) ANPI_PRINTF(2, 3);

static void
set_reason(struct anpi_group_decision *out, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(out->reason, sizeof(out->reason), fmt, ap);
    va_end(ap);
    if (n >= (int)sizeof(out->reason)) {
        size_t end = sizeof(out->reason) - 1;
        while (end && ((unsigned char)out->reason[end] & 0xC0) == 0x80)
            end--;
        out->reason[end] = '\0';
    }
}

void
anpi_group_decide(const struct anpi_rule *r, const struct anpi_event *ev, anpi_prefset affected,
                  const struct anpi_incident_state *open, size_t nopen, int64_t now,
                  struct anpi_group_decision *out)
{
    memset(out, 0, sizeof(*out));
    out->action = ANPI_GROUP_NEW;

    /* 1: same event key. */
    const struct anpi_incident_state *best = NULL;
    for (size_t i = 0; i < nopen; i++) {
        const struct anpi_incident_state *inc = &open[i];
        if (!ev->event_key || !shares_key(inc, ev->event_key))
            continue;
        if (!best || inc->main_occurred_at > best->main_occurred_at ||
            (inc->main_occurred_at == best->main_occurred_at && inc->id > best->id))
            best = inc;
    }
    char names[256];
    if (best) {
        out->incident_id = best->id;
        out->same_event = true;
        anpi_prefset add = affected & ~best->covered;
        if (add) {
            out->action = ANPI_GROUP_ADD_PREFS;
            out->add_prefs = add;
            anpi_prefset_format(add, names, sizeof(names));
            set_reason(out,
                     "joined incident %lld: same event (key %s); adds %s",
                     (long long)best->id, ev->event_key, names);
        } else {
            out->action = ANPI_GROUP_SILENT;
            set_reason(out,
                     "joined incident %lld: same event (key %s); no new prefecture, nobody re-mailed",
                     (long long)best->id, ev->event_key);
        }
        return;
    }

    /* 2: window and area - quakes only.  A tsunami report of another
     * EventID, a second missile launch or another country's risk notice is
     * a new emergency, not an aftershock. */
    if (ev->type != ANPI_EV_EARTHQUAKE && ev->type != ANPI_EV_EEW) {
        set_reason(out,
                 nopen ? "new incident: no open incident of rule %s shares the event key "
                         "(%s events join an incident by event key only)"
                       : "new incident: no open incident of rule %s",
                 r->id ? r->id : "?", anpi_event_type_name(ev->type));
        return;
    }
    int64_t t = ev->occurred_at ? ev->occurred_at : (ev->issued_at ? ev->issued_at : now);
    char area[320], best_area[320] = "";
    for (size_t i = 0; i < nopen; i++) {
        const struct anpi_incident_state *inc = &open[i];
        int64_t window = r->aftershock_window_s > 0 ? r->aftershock_window_s : 6 * 3600;
        if (t < inc->main_occurred_at - window || t > inc->window_end)
            continue;
        if (!in_area(r, ev, affected, inc, area, sizeof(area)))
            continue;
        if (!best || inc->main_occurred_at > best->main_occurred_at ||
            (inc->main_occurred_at == best->main_occurred_at && inc->id > best->id)) {
            best = inc;
            memcpy(best_area, area, sizeof(area));
        }
    }
    if (!best) {
        set_reason(out,
                 nopen ? "new incident: no open incident of rule %s shares the event key or "
                         "is within its aftershock window and area"
                       : "new incident: no open incident of rule %s",
                 r->id ? r->id : "?");
        return;
    }

    out->incident_id = best->id;
    char delay[32];
    fmt_delay(t - best->main_occurred_at, delay, sizeof(delay));
    int er = event_rank(ev), mr = anpi_intensity_rank(best->main_max);
    anpi_prefset add = affected & ~best->covered;
    if (er > mr && r->resend_if_stronger) {
        out->action = ANPI_GROUP_STRONGER;
        out->add_prefs = affected;
        anpi_prefset_format(affected, names, sizeof(names));
        set_reason(out,
                 "joined incident %lld: %s, %s the main shock; stronger than the main "
                 "shock (%s > %s): new round to %s",
                 (long long)best->id, best_area, delay, rank_name(er), rank_name(mr), names);
    } else if (add) {
        out->action = ANPI_GROUP_ADD_PREFS;
        out->add_prefs = add;
        anpi_prefset_format(add, names, sizeof(names));
        set_reason(out,
                 "joined incident %lld: %s, %s the main shock; adds %s",
                 (long long)best->id, best_area, delay, names);
    } else {
        out->action = ANPI_GROUP_SILENT;
        set_reason(out,
                 "joined incident %lld: %s, %s the main shock; aftershock %s, nobody "
                 "re-mailed, %s told",
                 (long long)best->id, best_area, delay, rank_name(er),
                 r->notify_group ? r->notify_group : "duty officers");
    }
}
