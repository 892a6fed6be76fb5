/* event_json.c - struct anpi_event <-> JSON; see event_json.h for the shape. */
#include "feeds/event_json.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/anpi.h"
#include "feeds/jma/iso8601.h"

static void ANPI_PRINTF(3, 4)
set_err(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || errlen == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* ---- to JSON ---------------------------------------------------------- */

/* json_object_set_new that remembers a failure (NULL value = bad UTF-8). */
static void
put(json_t *o, const char *key, json_t *v, int *bad)
{
    if (!v) {
        *bad = 1;
        return;
    }
    json_object_set_new(o, key, v);
}

static json_t *
jstr(const char *s)
{
    return json_string(s ? s : "");
}

static json_t *
jtime(int64_t t)
{
    if (t == 0)
        return json_null();
    char buf[ANPI_ISO8601_LEN];
    anpi_iso8601_format_utc(t, buf);
    return json_string(buf);
}

static json_t *
jreal(double v)
{
    return isfinite(v) ? json_real(v) : json_null();
}

/* [1, 13, 14] for a prefecture set. */
static json_t *
jprefset(anpi_prefset set)
{
    json_t *a = json_array();
    for (int p = 1; p <= ANPI_PREF_COUNT; p++)
        if (set & ANPI_PREFSET_BIT(p))
            json_array_append_new(a, json_integer(p));
    return a;
}

static json_t *
jtsunami(const struct anpi_event *ev, int *bad)
{
    json_t *a = json_array();
    for (size_t i = 0; i < ev->ntsunami; i++) {
        const struct anpi_tsunami_area *t = &ev->tsunami[i];
        json_t *o = json_object();
        put(o, "code", jstr(t->code), bad);
        put(o, "name", jstr(t->name), bad);
        put(o, "prefs", jprefset(t->prefs), bad);
        put(o, "grade", json_string(anpi_tsunami_grade_name(t->grade)), bad);
        put(o, "last_grade", json_string(anpi_tsunami_grade_name(t->last_grade)), bad);
        put(o, "kind_code", jstr(t->kind_code), bad);
        put(o, "first_arrival", jstr(t->first_arrival), bad);
        put(o, "max_height", jstr(t->max_height), bad);
        json_array_append_new(a, o);
    }
    return a;
}

static json_t *
jweather(const struct anpi_event *ev, int *bad)
{
    json_t *a = json_array();
    for (size_t i = 0; i < ev->nweather; i++) {
        const struct anpi_weather_item *w = &ev->weather[i];
        json_t *o = json_object();
        put(o, "area_code", jstr(w->area_code), bad);
        put(o, "area_name", jstr(w->area_name), bad);
        put(o, "pref", json_integer(w->pref), bad);
        put(o, "kind_code", jstr(w->kind_code), bad);
        put(o, "kind_name", jstr(w->kind_name), bad);
        put(o, "level", json_string(anpi_weather_level_name(w->level)), bad);
        put(o, "status", jstr(w->status), bad);
        json_array_append_new(a, o);
    }
    return a;
}

/* {"13":"advisory"}: JIS code -> grade / level name, non-NONE only. */
static json_t *
jpref_grades(const int *v, const char *(*name)(int), int *bad)
{
    json_t *o = json_object();
    for (int p = 1; p <= ANPI_PREF_COUNT; p++) {
        if (v[p] == 0)
            continue;
        char key[4];
        snprintf(key, sizeof(key), "%02d", p);
        put(o, key, json_string(name(v[p])), bad);
    }
    return o;
}

static const char *
ts_name(int g)
{
    return anpi_tsunami_grade_name((enum anpi_tsunami_grade)g);
}

static const char *
wx_name(int l)
{
    return anpi_weather_level_name((enum anpi_weather_level)l);
}

/* The code in a char[3] slot, NUL-terminated even if the slot is not. */
static const char *
country_code(const char in[3], char out[3])
{
    out[0] = in[0];
    out[1] = in[0] ? in[1] : '\0';
    out[2] = '\0';
    return out;
}

static void
put_more(json_t *o, const struct anpi_event *ev, int *bad)
{
    int grades[ANPI_PREF_COUNT + 1];
    put(o, "description", jstr(ev->description), bad);
    put(o, "url", jstr(ev->url), bad);
    put(o, "target_prefs", jprefset(ev->target_prefs), bad);

    put(o, "tsunami", jtsunami(ev, bad), bad);
    put(o, "max_tsunami", json_string(anpi_tsunami_grade_name(ev->max_tsunami)), bad);
    for (int p = 0; p <= ANPI_PREF_COUNT; p++)
        grades[p] = (int)ev->pref_tsunami[p];
    put(o, "pref_tsunami", jpref_grades(grades, ts_name, bad), bad);
    put(o, "tsunami_expires", json_boolean(ev->tsunami_expires), bad);
    put(o, "valid_until", jtime(ev->valid_until), bad);

    put(o, "weather", jweather(ev, bad), bad);
    put(o, "max_weather", json_string(anpi_weather_level_name(ev->max_weather)), bad);
    for (int p = 0; p <= ANPI_PREF_COUNT; p++)
        grades[p] = (int)ev->pref_weather[p];
    put(o, "pref_weather", jpref_grades(grades, wx_name, bad), bad);
    put(o, "typhoon_name", jstr(ev->typhoon_name), bad);
    put(o, "typhoon_class", jstr(ev->typhoon_class), bad);
    put(o, "typhoon_pressure_hpa", json_integer(ev->typhoon_pressure_hpa), bad);
    put(o, "typhoon_wind_ms", jreal(ev->typhoon_wind_ms), bad);

    put(o, "eew_warning", json_boolean(ev->eew_warning), bad);
    put(o, "eew_final", json_boolean(ev->eew_final), bad);

    put(o, "missile_phase", json_string(anpi_missile_phase_name(ev->missile_phase)), bad);
    put(o, "hazard", jstr(ev->hazard), bad);

    char cc[3];
    put(o, "country", json_string(country_code(ev->country, cc)), bad);
    json_t *cs = json_array();
    for (size_t i = 0; i < ev->ncountries; i++) {
        json_t *v = json_string(country_code(ev->countries[i], cc));
        if (!v)
            *bad = 1;
        else
            json_array_append_new(cs, v);
    }
    put(o, "countries", cs, bad);
    put(o, "risk_level", json_integer(ev->risk_level), bad);
    put(o, "risk_kind", jstr(ev->risk_kind), bad);
}

json_t *
anpi_event_to_json(const struct anpi_event *ev)
{
    int bad = 0;
    json_t *o = json_object();
    put(o, "type", json_string(anpi_event_type_name(ev->type)), &bad);
    put(o, "source", jstr(ev->source), &bad);
    put(o, "doc_id", jstr(ev->doc_id), &bad);
    put(o, "kind", jstr(ev->kind), &bad);
    put(o, "status", json_string(anpi_event_status_name(ev->status)), &bad);
    put(o, "info_type", json_string(anpi_info_type_name(ev->info_type)), &bad);
    put(o, "event_key", jstr(ev->event_key), &bad);
    put(o, "serial", jstr(ev->serial), &bad);
    put(o, "title", jstr(ev->title), &bad);
    put(o, "headline", jstr(ev->headline), &bad);
    put(o, "info_kind", jstr(ev->info_kind), &bad);
    put(o, "issued_at", jtime(ev->issued_at), &bad);
    put(o, "occurred_at", jtime(ev->occurred_at), &bad);
    put(o, "created_at", jtime(ev->created_at), &bad);
    put(o, "magnitude", jreal(ev->magnitude), &bad);
    put(o, "magnitude_text", jstr(ev->magnitude_text), &bad);
    put(o, "hypocenter", jstr(ev->hypocenter), &bad);
    put(o, "hypocenter_code", jstr(ev->hypocenter_code), &bad);
    put(o, "lat", jreal(ev->lat), &bad);
    put(o, "lon", jreal(ev->lon), &bad);
    put(o, "depth_km", json_integer(ev->depth_km), &bad);
    put(o, "max_intensity", json_string(anpi_intensity_name(ev->max_intensity)), &bad);

    json_t *prefs = json_object();
    for (int p = 1; p <= ANPI_PREF_COUNT; p++) {
        if (ev->pref_intensity[p] == ANPI_INT_NONE)
            continue;
        char key[4];
        snprintf(key, sizeof(key), "%02d", p);
        put(prefs, key, json_string(anpi_intensity_name(ev->pref_intensity[p])), &bad);
    }
    put(o, "prefectures", prefs, &bad);

    json_t *cities = json_array();
    for (size_t i = 0; i < ev->ncities; i++) {
        const struct anpi_city_intensity *c = &ev->cities[i];
        json_t *jc = json_object();
        put(jc, "code", jstr(c->code), &bad);
        put(jc, "name", jstr(c->name), &bad);
        put(jc, "pref", json_integer(c->pref), &bad);
        put(jc, "intensity", json_string(anpi_intensity_name(c->intensity)), &bad);
        json_array_append_new(cities, jc);
    }
    put(o, "cities", cities, &bad);
    put_more(o, ev, &bad);
    if (bad) {
        json_decref(o);
        return NULL;
    }
    return o;
}

/* ---- from JSON -------------------------------------------------------- */

static int
get_str(json_t *o, const char *key, char **out, char *err, size_t errlen)
{
    json_t *v = json_object_get(o, key);
    if (!json_is_string(v)) {
        set_err(err, errlen, "%s: missing or not a string", key);
        return ANPI_EPARSE;
    }
    *out = anpi_xstrndup(json_string_value(v), json_string_length(v));
    return ANPI_OK;
}

static int
get_time(json_t *o, const char *key, int64_t *out, char *err, size_t errlen)
{
    json_t *v = json_object_get(o, key);
    if (json_is_null(v)) {
        *out = 0;
        return ANPI_OK;
    }
    if (!json_is_string(v) || anpi_iso8601_parse(json_string_value(v), out) != 0) {
        set_err(err, errlen, "%s: missing or not an ISO 8601 date-time", key);
        return ANPI_EPARSE;
    }
    return ANPI_OK;
}

static int
get_real(json_t *o, const char *key, double *out, char *err, size_t errlen)
{
    json_t *v = json_object_get(o, key);
    if (json_is_null(v)) {
        *out = NAN;
        return ANPI_OK;
    }
    if (!json_is_number(v)) {
        set_err(err, errlen, "%s: missing or not a number", key);
        return ANPI_EPARSE;
    }
    *out = json_number_value(v);
    return ANPI_OK;
}

static int
get_int(json_t *o, const char *key, int min, int max, int *out, char *err, size_t errlen)
{
    json_t *v = json_object_get(o, key);
    if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max) {
        set_err(err, errlen, "%s: missing or not an integer in %d..%d", key, min, max);
        return ANPI_EPARSE;
    }
    *out = (int)json_integer_value(v);
    return ANPI_OK;
}

static int
intensity_from(json_t *v, enum anpi_intensity *out)
{
    if (!json_is_string(v))
        return ANPI_EPARSE;
    const char *s = json_string_value(v);
    if (*s == '\0') {
        *out = ANPI_INT_NONE;
        return ANPI_OK;
    }
    /* Only the exact names anpi_intensity_name writes. */
    for (int i = ANPI_INT_1; i <= ANPI_INT_5L_UNREPORTED; i++) {
        if (strcmp(s, anpi_intensity_name((enum anpi_intensity)i)) == 0) {
            *out = (enum anpi_intensity)i;
            return ANPI_OK;
        }
    }
    return ANPI_EPARSE;
}

static int
get_intensity(json_t *o, const char *key, enum anpi_intensity *out, char *err, size_t errlen)
{
    if (intensity_from(json_object_get(o, key), out) != 0) {
        set_err(err, errlen, "%s: missing or not an intensity (\"\", \"1\".. \"7\", \"!5-\")",
                key);
        return ANPI_EPARSE;
    }
    return ANPI_OK;
}

static int
info_type_parse(const char *s, enum anpi_info_type *out)
{
    for (int i = ANPI_IT_ISSUE; i <= ANPI_IT_DELAY; i++) {
        if (strcmp(s, anpi_info_type_name((enum anpi_info_type)i)) == 0) {
            *out = (enum anpi_info_type)i;
            return ANPI_OK;
        }
    }
    return ANPI_EPARSE;
}

static int
read_enums(json_t *j, struct anpi_event *ev, char *err, size_t errlen)
{
    json_t *v = json_object_get(j, "type");
    if (!json_is_string(v) ||
        (strcmp(json_string_value(v), "unknown") != 0 &&
         anpi_event_type_parse(json_string_value(v), &ev->type) != 0)) {
        set_err(err, errlen, "type: missing or unknown");
        return ANPI_EPARSE;
    }
    if (strcmp(json_string_value(v), "unknown") == 0)
        ev->type = ANPI_EV_UNKNOWN;
    v = json_object_get(j, "status");
    if (!json_is_string(v) || anpi_event_status_parse(json_string_value(v), &ev->status) != 0) {
        set_err(err, errlen, "status: missing or unknown");
        return ANPI_EPARSE;
    }
    v = json_object_get(j, "info_type");
    if (!json_is_string(v) || info_type_parse(json_string_value(v), &ev->info_type) != 0) {
        set_err(err, errlen, "info_type: missing or unknown");
        return ANPI_EPARSE;
    }
    return ANPI_OK;
}

static int
read_areas(json_t *j, struct anpi_event *ev, char *err, size_t errlen)
{
    json_t *prefs = json_object_get(j, "prefectures");
    if (!json_is_object(prefs)) {
        set_err(err, errlen, "prefectures: missing or not an object");
        return ANPI_EPARSE;
    }
    const char *key;
    json_t *v;
    json_object_foreach(prefs, key, v) {
        int64_t code;
        enum anpi_intensity in;
        if (strlen(key) != 2 || anpi_parse_int64(key, 1, ANPI_PREF_COUNT, &code) != 0 ||
            key[0] < '0' || key[0] > '9') {
            set_err(err, errlen, "prefectures: key '%.8s' is not a JIS code 01..47", key);
            return ANPI_EPARSE;
        }
        if (intensity_from(v, &in) != 0 || in == ANPI_INT_NONE) {
            set_err(err, errlen, "prefectures.%s: not an intensity", key);
            return ANPI_EPARSE;
        }
        ev->pref_intensity[code] = in;
    }
    json_t *cities = json_object_get(j, "cities");
    if (!json_is_array(cities)) {
        set_err(err, errlen, "cities: missing or not an array");
        return ANPI_EPARSE;
    }
    size_t n = json_array_size(cities);
    if (n)
        ev->cities = anpi_xcalloc(n, sizeof(*ev->cities));
    for (size_t i = 0; i < n; i++) {
        json_t *c = json_array_get(cities, i);
        struct anpi_city_intensity *ci = &ev->cities[i];
        ev->ncities = i + 1;   /* so anpi_event_free sees what we filled */
        char where[48];
        snprintf(where, sizeof(where), "cities[%zu]", i);
        if (!json_is_object(c)) {
            set_err(err, errlen, "%s: not an object", where);
            return ANPI_EPARSE;
        }
        int rc;
        if ((rc = get_str(c, "code", &ci->code, err, errlen)) != 0 ||
            (rc = get_str(c, "name", &ci->name, err, errlen)) != 0 ||
            (rc = get_int(c, "pref", 0, ANPI_PREF_COUNT, &ci->pref, err, errlen)) != 0 ||
            (rc = get_intensity(c, "intensity", &ci->intensity, err, errlen)) != 0) {
            char tmp[200];
            snprintf(tmp, sizeof(tmp), "%s", err ? err : "");
            set_err(err, errlen, "%s.%s", where, tmp);
            return rc;
        }
    }
    return ANPI_OK;
}

/* ---- fields added with tsunami / weather / EEW / missile / overseas ----
 * Optional on input (an event stored before they existed reads back with
 * their defaults); when present they must have the right type. */

static int
opt_str(json_t *o, const char *key, char **out, char *err, size_t errlen)
{
    if (!json_object_get(o, key)) {
        *out = anpi_xstrdup("");
        return ANPI_OK;
    }
    return get_str(o, key, out, err, errlen);
}

static int
opt_bool(json_t *o, const char *key, bool *out, char *err, size_t errlen)
{
    json_t *v = json_object_get(o, key);
    if (!v)
        return ANPI_OK;
    if (!json_is_boolean(v)) {
        set_err(err, errlen, "%s: not a boolean", key);
        return ANPI_EPARSE;
    }
    *out = json_is_true(v);
    return ANPI_OK;
}

static int
opt_int(json_t *o, const char *key, int min, int max, int *out, char *err, size_t errlen)
{
    if (!json_object_get(o, key))
        return ANPI_OK;
    return get_int(o, key, min, max, out, err, errlen);
}

static int
opt_prefset(json_t *o, const char *key, anpi_prefset *out, char *err, size_t errlen)
{
    json_t *a = json_object_get(o, key);
    if (!a)
        return ANPI_OK;
    if (!json_is_array(a)) {
        set_err(err, errlen, "%s: not an array of JIS prefecture codes", key);
        return ANPI_EPARSE;
    }
    size_t i;
    json_t *v;
    json_array_foreach(a, i, v) {
        if (!json_is_integer(v) || json_integer_value(v) < 1 ||
            json_integer_value(v) > ANPI_PREF_COUNT) {
            set_err(err, errlen, "%s[%zu]: not a JIS prefecture code 1..47", key, i);
            return ANPI_EPARSE;
        }
        *out |= ANPI_PREFSET_BIT(json_integer_value(v));
    }
    return ANPI_OK;
}

static int
grade_from(json_t *v, enum anpi_tsunami_grade *g)
{
    return json_is_string(v) ? anpi_tsunami_grade_parse(json_string_value(v), g) : ANPI_EPARSE;
}

static int
level_from(json_t *v, enum anpi_weather_level *l)
{
    return json_is_string(v) ? anpi_weather_level_parse(json_string_value(v), l) : ANPI_EPARSE;
}

/* {"13":"advisory"} into v[] through parse(); keys must be "01".."47". */
static int
opt_pref_map(json_t *o, const char *key, int (*parse)(json_t *, int *), int *v, char *err,
             size_t errlen)
{
    json_t *m = json_object_get(o, key);
    if (!m)
        return ANPI_OK;
    if (!json_is_object(m)) {
        set_err(err, errlen, "%s: not an object", key);
        return ANPI_EPARSE;
    }
    const char *k;
    json_t *val;
    json_object_foreach(m, k, val) {
        int64_t code;
        if (strlen(k) != 2 || k[0] < '0' || k[0] > '9' ||
            anpi_parse_int64(k, 1, ANPI_PREF_COUNT, &code) != 0) {
            set_err(err, errlen, "%s: key '%.8s' is not a JIS code 01..47", key, k);
            return ANPI_EPARSE;
        }
        int x;
        if (parse(val, &x) != 0 || x == 0) {
            set_err(err, errlen, "%s.%s: unknown value", key, k);
            return ANPI_EPARSE;
        }
        v[code] = x;
    }
    return ANPI_OK;
}

static int
parse_grade_int(json_t *v, int *out)
{
    enum anpi_tsunami_grade g;
    if (grade_from(v, &g) != 0)
        return ANPI_EPARSE;
    *out = (int)g;
    return ANPI_OK;
}

static int
parse_level_int(json_t *v, int *out)
{
    enum anpi_weather_level l;
    if (level_from(v, &l) != 0)
        return ANPI_EPARSE;
    *out = (int)l;
    return ANPI_OK;
}

/* Prefix err with where ("tsunami[3]"). */
static int
in_item(const char *where, int rc, char *err, size_t errlen)
{
    if (rc != 0 && err && errlen) {
        char tmp[200];
        snprintf(tmp, sizeof(tmp), "%s", err);
        set_err(err, errlen, "%s.%s", where, tmp);
    }
    return rc;
}

static int
read_tsunami(json_t *j, struct anpi_event *ev, char *err, size_t errlen)
{
    json_t *a = json_object_get(j, "tsunami");
    if (!a)
        return ANPI_OK;
    if (!json_is_array(a)) {
        set_err(err, errlen, "tsunami: not an array");
        return ANPI_EPARSE;
    }
    size_t n = json_array_size(a);
    if (n)
        ev->tsunami = anpi_xcalloc(n, sizeof(*ev->tsunami));
    for (size_t i = 0; i < n; i++) {
        json_t *o = json_array_get(a, i);
        struct anpi_tsunami_area *t = &ev->tsunami[i];
        ev->ntsunami = i + 1;   /* so anpi_event_free sees what we filled */
        char where[48];
        snprintf(where, sizeof(where), "tsunami[%zu]", i);
        if (!json_is_object(o)) {
            set_err(err, errlen, "%s: not an object", where);
            return ANPI_EPARSE;
        }
        int rc;
        if ((rc = get_str(o, "code", &t->code, err, errlen)) != 0 ||
            (rc = get_str(o, "name", &t->name, err, errlen)) != 0 ||
            (rc = opt_prefset(o, "prefs", &t->prefs, err, errlen)) != 0 ||
            (rc = get_str(o, "kind_code", &t->kind_code, err, errlen)) != 0 ||
            (rc = get_str(o, "first_arrival", &t->first_arrival, err, errlen)) != 0 ||
            (rc = get_str(o, "max_height", &t->max_height, err, errlen)) != 0)
            return in_item(where, rc, err, errlen);
        if (grade_from(json_object_get(o, "grade"), &t->grade) != 0 ||
            grade_from(json_object_get(o, "last_grade"), &t->last_grade) != 0) {
            set_err(err, errlen, "%s: grade / last_grade missing or unknown", where);
            return ANPI_EPARSE;
        }
    }
    return ANPI_OK;
}

static int
read_weather(json_t *j, struct anpi_event *ev, char *err, size_t errlen)
{
    json_t *a = json_object_get(j, "weather");
    if (!a)
        return ANPI_OK;
    if (!json_is_array(a)) {
        set_err(err, errlen, "weather: not an array");
        return ANPI_EPARSE;
    }
    size_t n = json_array_size(a);
    if (n)
        ev->weather = anpi_xcalloc(n, sizeof(*ev->weather));
    for (size_t i = 0; i < n; i++) {
        json_t *o = json_array_get(a, i);
        struct anpi_weather_item *w = &ev->weather[i];
        ev->nweather = i + 1;
        char where[48];
        snprintf(where, sizeof(where), "weather[%zu]", i);
        if (!json_is_object(o)) {
            set_err(err, errlen, "%s: not an object", where);
            return ANPI_EPARSE;
        }
        int rc;
        if ((rc = get_str(o, "area_code", &w->area_code, err, errlen)) != 0 ||
            (rc = get_str(o, "area_name", &w->area_name, err, errlen)) != 0 ||
            (rc = get_int(o, "pref", 0, ANPI_PREF_COUNT, &w->pref, err, errlen)) != 0 ||
            (rc = get_str(o, "kind_code", &w->kind_code, err, errlen)) != 0 ||
            (rc = get_str(o, "kind_name", &w->kind_name, err, errlen)) != 0 ||
            (rc = get_str(o, "status", &w->status, err, errlen)) != 0)
            return in_item(where, rc, err, errlen);
        if (level_from(json_object_get(o, "level"), &w->level) != 0) {
            set_err(err, errlen, "%s: level missing or unknown", where);
            return ANPI_EPARSE;
        }
    }
    return ANPI_OK;
}

static int
country_from(json_t *v, char out[3])
{
    if (!json_is_string(v) || json_string_length(v) > 2)
        return ANPI_EPARSE;
    const char *s = json_string_value(v);
    if (s[0] && !s[1])
        return ANPI_EPARSE;   /* one letter is no ISO 3166 code */
    memset(out, 0, 3);
    memcpy(out, s, json_string_length(v));
    return ANPI_OK;
}

static int
read_more(json_t *j, struct anpi_event *ev, char *err, size_t errlen)
{
    int rc;
    int grades[ANPI_PREF_COUNT + 1] = { 0 };
    int levels[ANPI_PREF_COUNT + 1] = { 0 };
    if ((rc = opt_str(j, "description", &ev->description, err, errlen)) != 0 ||
        (rc = opt_str(j, "url", &ev->url, err, errlen)) != 0 ||
        (rc = opt_prefset(j, "target_prefs", &ev->target_prefs, err, errlen)) != 0 ||
        (rc = read_tsunami(j, ev, err, errlen)) != 0 ||
        (rc = opt_pref_map(j, "pref_tsunami", parse_grade_int, grades, err, errlen)) != 0 ||
        (rc = opt_bool(j, "tsunami_expires", &ev->tsunami_expires, err, errlen)) != 0 ||
        (rc = read_weather(j, ev, err, errlen)) != 0 ||
        (rc = opt_pref_map(j, "pref_weather", parse_level_int, levels, err, errlen)) != 0 ||
        (rc = opt_str(j, "typhoon_name", &ev->typhoon_name, err, errlen)) != 0 ||
        (rc = opt_str(j, "typhoon_class", &ev->typhoon_class, err, errlen)) != 0 ||
        (rc = opt_int(j, "typhoon_pressure_hpa", 0, 2000, &ev->typhoon_pressure_hpa, err,
                      errlen)) != 0 ||
        (rc = opt_bool(j, "eew_warning", &ev->eew_warning, err, errlen)) != 0 ||
        (rc = opt_bool(j, "eew_final", &ev->eew_final, err, errlen)) != 0 ||
        (rc = opt_str(j, "hazard", &ev->hazard, err, errlen)) != 0 ||
        (rc = opt_int(j, "risk_level", 0, 4, &ev->risk_level, err, errlen)) != 0 ||
        (rc = opt_str(j, "risk_kind", &ev->risk_kind, err, errlen)) != 0)
        return rc;
    for (int p = 1; p <= ANPI_PREF_COUNT; p++) {
        ev->pref_tsunami[p] = (enum anpi_tsunami_grade)grades[p];
        ev->pref_weather[p] = (enum anpi_weather_level)levels[p];
    }
    if (json_object_get(j, "valid_until") &&
        (rc = get_time(j, "valid_until", &ev->valid_until, err, errlen)) != 0)
        return rc;
    if (json_object_get(j, "typhoon_wind_ms") &&
        (rc = get_real(j, "typhoon_wind_ms", &ev->typhoon_wind_ms, err, errlen)) != 0)
        return rc;
    json_t *v = json_object_get(j, "max_tsunami");
    if (v && grade_from(v, &ev->max_tsunami) != 0) {
        set_err(err, errlen, "max_tsunami: unknown grade");
        return ANPI_EPARSE;
    }
    v = json_object_get(j, "max_weather");
    if (v && level_from(v, &ev->max_weather) != 0) {
        set_err(err, errlen, "max_weather: unknown level");
        return ANPI_EPARSE;
    }
    v = json_object_get(j, "missile_phase");
    if (v && (!json_is_string(v) ||
              anpi_missile_phase_parse(json_string_value(v), &ev->missile_phase) != 0)) {
        set_err(err, errlen, "missile_phase: unknown phase");
        return ANPI_EPARSE;
    }
    v = json_object_get(j, "country");
    if (v && country_from(v, ev->country) != 0) {
        set_err(err, errlen, "country: not an ISO 3166-1 alpha-2 code or \"\"");
        return ANPI_EPARSE;
    }
    json_t *cs = json_object_get(j, "countries");
    if (cs) {
        if (!json_is_array(cs)) {
            set_err(err, errlen, "countries: not an array");
            return ANPI_EPARSE;
        }
        size_t n = json_array_size(cs);
        if (n)
            ev->countries = anpi_xcalloc(n, sizeof(*ev->countries));
        ev->ncountries = n;
        for (size_t i = 0; i < n; i++) {
            if (country_from(json_array_get(cs, i), ev->countries[i]) != 0) {
                set_err(err, errlen, "countries[%zu]: not an ISO 3166-1 alpha-2 code", i);
                return ANPI_EPARSE;
            }
        }
    }
    return ANPI_OK;
}

int
anpi_event_from_json(json_t *j, struct anpi_event **out, char *err, size_t errlen)
{
    *out = NULL;
    if (!json_is_object(j)) {
        set_err(err, errlen, "event is not a JSON object");
        return ANPI_EPARSE;
    }
    struct anpi_event *ev = anpi_event_new();
    int rc;
    if ((rc = read_enums(j, ev, err, errlen)) != 0 ||
        (rc = get_str(j, "source", &ev->source, err, errlen)) != 0 ||
        (rc = get_str(j, "doc_id", &ev->doc_id, err, errlen)) != 0 ||
        (rc = get_str(j, "kind", &ev->kind, err, errlen)) != 0 ||
        (rc = get_str(j, "event_key", &ev->event_key, err, errlen)) != 0 ||
        (rc = get_str(j, "serial", &ev->serial, err, errlen)) != 0 ||
        (rc = get_str(j, "title", &ev->title, err, errlen)) != 0 ||
        (rc = get_str(j, "headline", &ev->headline, err, errlen)) != 0 ||
        (rc = get_str(j, "info_kind", &ev->info_kind, err, errlen)) != 0 ||
        (rc = get_time(j, "issued_at", &ev->issued_at, err, errlen)) != 0 ||
        (rc = get_time(j, "occurred_at", &ev->occurred_at, err, errlen)) != 0 ||
        (rc = get_time(j, "created_at", &ev->created_at, err, errlen)) != 0 ||
        (rc = get_real(j, "magnitude", &ev->magnitude, err, errlen)) != 0 ||
        (rc = get_str(j, "magnitude_text", &ev->magnitude_text, err, errlen)) != 0 ||
        (rc = get_str(j, "hypocenter", &ev->hypocenter, err, errlen)) != 0 ||
        (rc = get_str(j, "hypocenter_code", &ev->hypocenter_code, err, errlen)) != 0 ||
        (rc = get_real(j, "lat", &ev->lat, err, errlen)) != 0 ||
        (rc = get_real(j, "lon", &ev->lon, err, errlen)) != 0 ||
        (rc = get_int(j, "depth_km", -1, 100000, &ev->depth_km, err, errlen)) != 0 ||
        (rc = get_intensity(j, "max_intensity", &ev->max_intensity, err, errlen)) != 0 ||
        (rc = read_areas(j, ev, err, errlen)) != 0 ||
        (rc = read_more(j, ev, err, errlen)) != 0) {
        anpi_event_free(ev);
        return rc;
    }
    *out = ev;
    return ANPI_OK;
}
