/* rfc822.c - RSS pubDate parsing (see rfc822.h). */
#include "feeds/overseas/rfc822.h"

#include <stdio.h>
#include <string.h>

#include "engine/anpi.h"
#include "feeds/jma/iso8601.h"

static int
is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static int
is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* Up to max digits (at least one) -> value. */
static int
digits(const char **p, int min, int max, int *out)
{
    int n = 0, v = 0;
    while (n < max && is_digit(**p)) {
        v = v * 10 + (**p - '0');
        (*p)++;
        n++;
    }
    if (n < min || is_digit(**p))
        return -1;
    *out = v;
    return 0;
}

static int
word_eq(const char *p, size_t n, const char *w)
{
    if (strlen(w) != n)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char a = p[i], b = w[i];
        if (a >= 'a' && a <= 'z')
            a = (char)(a - 'a' + 'A');
        if (b >= 'a' && b <= 'z')
            b = (char)(b - 'a' + 'A');
        if (a != b)
            return 0;
    }
    return 1;
}

static size_t
word_len(const char *p)
{
    size_t n = 0;
    while ((p[n] >= 'A' && p[n] <= 'Z') || (p[n] >= 'a' && p[n] <= 'z'))
        n++;
    return n;
}

static const char *const months[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                      "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
static const char *const wdays[] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };

static const struct {
    const char *name;
    int minutes;
} zones[] = {
    { "GMT", 0 },        { "UT", 0 },         { "UTC", 0 },        { "Z", 0 },
    { "EST", -5 * 60 },  { "EDT", -4 * 60 },  { "CST", -6 * 60 },  { "CDT", -5 * 60 },
    { "MST", -7 * 60 },  { "MDT", -6 * 60 },  { "PST", -8 * 60 },  { "PDT", -7 * 60 },
};

int
anpi_rfc822_parse(const char *s, int64_t *out)
{
    if (!s)
        return ANPI_EPARSE;
    const char *p = s;
    while (is_blank(*p))
        p++;
    int wday = -1;
    size_t n = word_len(p);
    if (n) {
        for (int i = 0; i < 7; i++)
            if (word_eq(p, n, wdays[i]))
                wday = i;
        if (wday < 0)
            return ANPI_EPARSE;
        p += n;
        if (*p != ',')
            return ANPI_EPARSE;
        p++;
        while (is_blank(*p))
            p++;
    }
    int day, mon = -1, year, hh, mm, ss = 0;
    if (digits(&p, 1, 2, &day) != 0 || !is_blank(*p))
        return ANPI_EPARSE;
    while (is_blank(*p))
        p++;
    n = word_len(p);
    for (int i = 0; i < 12; i++)
        if (word_eq(p, n, months[i]))
            mon = i + 1;
    if (mon < 0)
        return ANPI_EPARSE;
    p += n;
    if (!is_blank(*p))
        return ANPI_EPARSE;
    while (is_blank(*p))
        p++;
    const char *ys = p;
    if (digits(&p, 2, 4, &year) != 0 || p - ys == 3)
        return ANPI_EPARSE;
    if (p - ys == 2)
        year += year >= 50 ? 1900 : 2000;
    if (!is_blank(*p))
        return ANPI_EPARSE;
    while (is_blank(*p))
        p++;
    if (digits(&p, 2, 2, &hh) != 0 || *p++ != ':' || digits(&p, 2, 2, &mm) != 0)
        return ANPI_EPARSE;
    if (*p == ':') {
        p++;
        if (digits(&p, 2, 2, &ss) != 0)
            return ANPI_EPARSE;
    }
    while (is_blank(*p))
        p++;
    int off = 0, found = 0;
    if (*p == '+' || *p == '-') {
        int sign = *p == '-' ? -1 : 1, z;
        p++;
        const char *zs = p;
        if (digits(&p, 4, 4, &z) != 0 || p - zs != 4 || z % 100 > 59 || z / 100 > 23)
            return ANPI_EPARSE;
        off = sign * ((z / 100) * 60 + z % 100);
        found = 1;
    } else {
        n = word_len(p);
        for (size_t i = 0; i < ANPI_ARRAY_LEN(zones); i++)
            if (word_eq(p, n, zones[i].name)) {
                off = zones[i].minutes;
                found = 1;
            }
        p += n;
    }
    if (!found)
        return ANPI_EPARSE;
    while (is_blank(*p))
        p++;
    if (*p != '\0')
        return ANPI_EPARSE;
    char iso[64];
    int aoff = off < 0 ? -off : off;
    snprintf(iso, sizeof(iso), "%04d-%02d-%02dT%02d:%02d:%02d%c%02d:%02d", year, mon, day, hh, mm,
             ss, off < 0 ? '-' : '+', aoff / 60, aoff % 60);
    int64_t t;
    if (anpi_iso8601_parse(iso, &t) != 0)
        return ANPI_EPARSE;
    if (wday >= 0) {
        /* Day of week of the local date: days since epoch of the local
         * midnight, 1970-01-01 was a Thursday (4). */
        int64_t local = t + (int64_t)off * 60;
        int64_t days = local >= 0 ? local / 86400 : -((-local + 86399) / 86400);
        int w = (int)(((days % 7) + 7 + 4) % 7);
        if (w != wday)
            return ANPI_EPARSE;
    }
    *out = t;
    return ANPI_OK;
}
