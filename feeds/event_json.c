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
        (rc = read_areas(j, ev, err, errlen)) != 0) {
        anpi_event_free(ev);
        return rc;
    }
    *out = ev;
    return ANPI_OK;
}
