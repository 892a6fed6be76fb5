/* event.c - the normalized event: lifetime, names, intensity scale. */
#include "feeds/event.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engine/anpi.h"

struct anpi_event *
anpi_event_new(void)
{
    struct anpi_event *ev = anpi_xcalloc(1, sizeof(*ev));
    ev->magnitude = NAN;
    ev->lat = NAN;
    ev->lon = NAN;
    ev->depth_km = -1;
    ev->typhoon_wind_ms = NAN;
    return ev;
}

void
anpi_event_free(struct anpi_event *ev)
{
    if (!ev)
        return;
    free(ev->source);
    free(ev->doc_id);
    free(ev->kind);
    free(ev->event_key);
    free(ev->serial);
    free(ev->title);
    free(ev->headline);
    free(ev->info_kind);
    free(ev->magnitude_text);
    free(ev->hypocenter);
    free(ev->hypocenter_code);
    for (size_t i = 0; i < ev->ncities; i++) {
        free(ev->cities[i].code);
        free(ev->cities[i].name);
    }
    free(ev->cities);
    free(ev->description);
    free(ev->url);
    for (size_t i = 0; i < ev->ntsunami; i++) {
        free(ev->tsunami[i].code);
        free(ev->tsunami[i].name);
        free(ev->tsunami[i].kind_code);
        free(ev->tsunami[i].first_arrival);
        free(ev->tsunami[i].max_height);
    }
    free(ev->tsunami);
    for (size_t i = 0; i < ev->nweather; i++) {
        free(ev->weather[i].area_code);
        free(ev->weather[i].area_name);
        free(ev->weather[i].kind_code);
        free(ev->weather[i].kind_name);
        free(ev->weather[i].status);
    }
    free(ev->weather);
    free(ev->typhoon_name);
    free(ev->typhoon_class);
    free(ev->hazard);
    free(ev->countries);
    free(ev->risk_kind);
    free(ev);
}

static const char *const type_names[] = {
    [ANPI_EV_UNKNOWN] = "unknown",
    [ANPI_EV_EARTHQUAKE] = "earthquake",
    [ANPI_EV_EEW] = "eew",
    [ANPI_EV_TSUNAMI] = "tsunami",
    [ANPI_EV_WEATHER] = "weather",
    [ANPI_EV_MISSILE] = "missile",
    [ANPI_EV_OVERSEAS] = "overseas",
    [ANPI_EV_MANUAL] = "manual",
};

const char *
anpi_event_type_name(enum anpi_event_type t)
{
    if ((unsigned)t < ANPI_ARRAY_LEN(type_names) && type_names[t])
        return type_names[t];
    return "unknown";
}

int
anpi_event_type_parse(const char *s, enum anpi_event_type *out)
{
    for (size_t i = 1; i < ANPI_ARRAY_LEN(type_names); i++) {
        if (strcmp(s, type_names[i]) == 0) {
            *out = (enum anpi_event_type)i;
            return ANPI_OK;
        }
    }
    return ANPI_EPARSE;
}

static const char *const status_names[] = { "actual", "exercise", "test" };

const char *
anpi_event_status_name(enum anpi_event_status s)
{
    return (unsigned)s < ANPI_ARRAY_LEN(status_names) ? status_names[s] : "actual";
}

int
anpi_event_status_parse(const char *s, enum anpi_event_status *out)
{
    for (size_t i = 0; i < ANPI_ARRAY_LEN(status_names); i++) {
        if (strcmp(s, status_names[i]) == 0) {
            *out = (enum anpi_event_status)i;
            return ANPI_OK;
        }
    }
    return ANPI_EPARSE;
}

static const char *const info_names[] = { "issue", "correction", "cancel", "delay" };

const char *
anpi_info_type_name(enum anpi_info_type t)
{
    return (unsigned)t < ANPI_ARRAY_LEN(info_names) ? info_names[t] : "issue";
}

int
anpi_intensity_rank(enum anpi_intensity i)
{
    if (i == ANPI_INT_5L_UNREPORTED)
        return ANPI_INT_5L;
    if (i < ANPI_INT_NONE || i > ANPI_INT_7)
        return 0;
    return (int)i;
}

static const struct {
    const char *text;
    enum anpi_intensity value;
} intensity_words[] = {
    { "1", ANPI_INT_1 }, { "2", ANPI_INT_2 }, { "3", ANPI_INT_3 }, { "4", ANPI_INT_4 },
    { "5-", ANPI_INT_5L }, { "5+", ANPI_INT_5U }, { "6-", ANPI_INT_6L },
    { "6+", ANPI_INT_6U }, { "7", ANPI_INT_7 },
    { "5弱", ANPI_INT_5L }, { "5強", ANPI_INT_5U }, { "6弱", ANPI_INT_6L }, { "6強", ANPI_INT_6U },
    { "１", ANPI_INT_1 }, { "２", ANPI_INT_2 }, { "３", ANPI_INT_3 }, { "４", ANPI_INT_4 },
    { "５弱", ANPI_INT_5L }, { "５強", ANPI_INT_5U }, { "６弱", ANPI_INT_6L },
    { "６強", ANPI_INT_6U }, { "７", ANPI_INT_7 },
    { "震度５弱以上未入電", ANPI_INT_5L_UNREPORTED }, { "!5-", ANPI_INT_5L_UNREPORTED },
};

int
anpi_intensity_parse(const char *s, enum anpi_intensity *out)
{
    if (!s)
        return ANPI_EPARSE;
    while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
        s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\n' || s[n - 1] == '\r'))
        n--;
    /* "震度" prefix as in headline Kind/Name ("震度５弱") */
    static const char shindo[] = "震度";
    static const char unreported[] = "震度５弱以上未入電";
    bool is_unreported = n == sizeof(unreported) - 1 && memcmp(s, unreported, n) == 0;
    if (n > sizeof(shindo) - 1 && memcmp(s, shindo, sizeof(shindo) - 1) == 0 && !is_unreported) {
        s += sizeof(shindo) - 1;
        n -= sizeof(shindo) - 1;
    }
    for (size_t i = 0; i < ANPI_ARRAY_LEN(intensity_words); i++) {
        if (strlen(intensity_words[i].text) == n && memcmp(intensity_words[i].text, s, n) == 0) {
            *out = intensity_words[i].value;
            return ANPI_OK;
        }
    }
    return ANPI_EPARSE;
}

const char *
anpi_intensity_name(enum anpi_intensity i)
{
    static const char *const names[] = { "", "1", "2", "3", "4", "5-", "5+", "6-", "6+", "7", "!5-" };
    return (unsigned)i < ANPI_ARRAY_LEN(names) ? names[i] : "";
}

const char *
anpi_intensity_label_ja(enum anpi_intensity i)
{
    static const char *const names[] = { "", "震度1", "震度2", "震度3", "震度4", "震度5弱",
                                         "震度5強", "震度6弱", "震度6強", "震度7",
                                         "震度5弱以上(未入電)" };
    return (unsigned)i < ANPI_ARRAY_LEN(names) ? names[i] : "";
}

anpi_prefset
anpi_event_prefs_at_least(const struct anpi_event *ev, enum anpi_intensity threshold)
{
    anpi_prefset set = 0;
    int want = anpi_intensity_rank(threshold);
    if (want <= 0)
        return 0;
    for (int p = 1; p <= ANPI_PREF_COUNT; p++) {
        if (anpi_intensity_rank(ev->pref_intensity[p]) >= want)
            set |= ANPI_PREFSET_BIT(p);
    }
    /* A city reported only as "5- or more, not yet received" may not have
     * raised its prefecture's MaxInt: count it too. */
    for (size_t i = 0; i < ev->ncities; i++) {
        const struct anpi_city_intensity *c = &ev->cities[i];
        if (c->pref >= 1 && c->pref <= ANPI_PREF_COUNT &&
            anpi_intensity_rank(c->intensity) >= want)
            set |= ANPI_PREFSET_BIT(c->pref);
    }
    return set;
}

static const char *const tsunami_names[] = { "none", "forecast", "advisory", "warning", "major" };
static const char *const tsunami_labels[] = { "津波なし", "津波予報", "津波注意報", "津波警報", "大津波警報" };

const char *
anpi_tsunami_grade_name(enum anpi_tsunami_grade g)
{
    return (unsigned)g < ANPI_ARRAY_LEN(tsunami_names) ? tsunami_names[g] : "none";
}

const char *
anpi_tsunami_grade_label_ja(enum anpi_tsunami_grade g)
{
    return (unsigned)g < ANPI_ARRAY_LEN(tsunami_labels) ? tsunami_labels[g] : "";
}

int
anpi_tsunami_grade_parse(const char *s, enum anpi_tsunami_grade *out)
{
    for (size_t i = 0; i < ANPI_ARRAY_LEN(tsunami_names); i++) {
        if (strcmp(s, tsunami_names[i]) == 0 || strcmp(s, tsunami_labels[i]) == 0) {
            *out = (enum anpi_tsunami_grade)i;
            return ANPI_OK;
        }
    }
    return ANPI_EPARSE;
}

static const char *const weather_names[] = { "none", "advisory", "warning", "emergency" };

const char *
anpi_weather_level_name(enum anpi_weather_level l)
{
    return (unsigned)l < ANPI_ARRAY_LEN(weather_names) ? weather_names[l] : "none";
}

int
anpi_weather_level_parse(const char *s, enum anpi_weather_level *out)
{
    for (size_t i = 0; i < ANPI_ARRAY_LEN(weather_names); i++) {
        if (strcmp(s, weather_names[i]) == 0) {
            *out = (enum anpi_weather_level)i;
            return ANPI_OK;
        }
    }
    return ANPI_EPARSE;
}

static const char *const missile_names[] = {
    "none", "launch", "imminent", "impact", "overflight", "impact_outside", "interception",
    "all_clear", "other",
};

const char *
anpi_missile_phase_name(enum anpi_missile_phase p)
{
    return (unsigned)p < ANPI_ARRAY_LEN(missile_names) ? missile_names[p] : "none";
}

int
anpi_missile_phase_parse(const char *s, enum anpi_missile_phase *out)
{
    for (size_t i = 0; i < ANPI_ARRAY_LEN(missile_names); i++) {
        if (strcmp(s, missile_names[i]) == 0) {
            *out = (enum anpi_missile_phase)i;
            return ANPI_OK;
        }
    }
    return ANPI_EPARSE;
}
