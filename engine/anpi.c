/* anpi.c - return codes, error lists, allocation and number parsing. */
#include "engine/anpi.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

const char *
anpi_strerror(int code)
{
    switch (code) {
    case ANPI_OK:         return "ok";
    case ANPI_ERROR:      return "error";
    case ANPI_AGAIN:      return "try again";
    case ANPI_DECLINED:   return "declined";
    case ANPI_EPARSE:     return "malformed input";
    case ANPI_ETOOBIG:    return "input too large";
    case ANPI_ENOTFOUND:  return "not found";
    case ANPI_EDUPLICATE: return "duplicate";
    case ANPI_EPERM:      return "not permitted";
    case ANPI_ETIMEDOUT:  return "timed out";
    case ANPI_ENOMEM:     return "out of memory";
    default:
        if (code < 0 && code > -4096)
            return strerror(-code);
        return "unknown error";
    }
}

static void
oom(void)
{
    fputs("{\"level\":\"error\",\"msg\":\"out of memory\"}\n", stderr);
    abort();
}

void *
anpi_xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        oom();
    return p;
}

void *
anpi_xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p)
        oom();
    return p;
}

void *
anpi_xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q)
        oom();
    return q;
}

char *
anpi_xstrdup(const char *s)
{
    return anpi_xstrndup(s, strlen(s));
}

char *
anpi_xstrndup(const char *s, size_t n)
{
    /* strndup semantics: at most n bytes, never past the string's NUL (a
     * caller may pass a cap larger than the string). */
    n = strnlen(s, n);
    char *p = anpi_xmalloc(n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *
anpi_xasprintf(const char *fmt, ...)
{
    va_list ap, ap2;
    va_start(ap, fmt);
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        oom();
    char *p = anpi_xmalloc((size_t)n + 1);
    vsnprintf(p, (size_t)n + 1, fmt, ap2);
    va_end(ap2);
    return p;
}

void
anpi_errors_add(struct anpi_errors *e, const char *fmt, ...)
{
    va_list ap, ap2;
    if (e->n == e->cap) {
        e->cap = e->cap ? e->cap * 2 : 8;
        e->msg = anpi_xrealloc(e->msg, e->cap * sizeof(*e->msg));
    }
    va_start(ap, fmt);
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        n = 0;
    char *p = anpi_xmalloc((size_t)n + 1);
    vsnprintf(p, (size_t)n + 1, fmt, ap2);
    va_end(ap2);
    e->msg[e->n++] = p;
}

void
anpi_errors_free(struct anpi_errors *e)
{
    for (size_t i = 0; i < e->n; i++)
        free(e->msg[i]);
    free(e->msg);
    e->msg = NULL;
    e->n = e->cap = 0;
}

int
anpi_parse_int64(const char *s, int64_t min, int64_t max, int64_t *out)
{
    if (!s || !*s)
        return ANPI_EPARSE;
    const char *p = s;
    int neg = 0;
    if (*p == '-' || *p == '+') {
        neg = *p == '-';
        p++;
    }
    if (*p < '0' || *p > '9')
        return ANPI_EPARSE;
    uint64_t v = 0;
    for (; *p; p++) {
        if (*p < '0' || *p > '9')
            return ANPI_EPARSE;
        unsigned d = (unsigned)(*p - '0');
        if (v > (UINT64_MAX - d) / 10)
            return ANPI_ETOOBIG;
        v = v * 10 + d;
    }
    if (!neg && v > (uint64_t)INT64_MAX)
        return ANPI_ETOOBIG;
    if (neg && v > (uint64_t)INT64_MAX + 1)
        return ANPI_ETOOBIG;
    int64_t r = neg ? (int64_t)(0 - v) : (int64_t)v;
    if (r < min || r > max)
        return ANPI_ETOOBIG;
    *out = r;
    return ANPI_OK;
}

int
anpi_parse_duration(const char *s, int64_t *out)
{
    if (!s || !*s)
        return ANPI_EPARSE;
    size_t n = strlen(s);
    int64_t mult = 1;
    char unit = s[n - 1];
    switch (unit) {
    case 's': mult = 1; n--; break;
    case 'm': mult = 60; n--; break;
    case 'h': mult = 3600; n--; break;
    case 'd': mult = 86400; n--; break;
    default:
        if (unit < '0' || unit > '9')
            return ANPI_EPARSE;
    }
    if (n == 0 || n > 12)
        return ANPI_EPARSE;
    char tmp[16];
    memcpy(tmp, s, n);
    tmp[n] = '\0';
    int64_t v;
    int rc = anpi_parse_int64(tmp, 0, INT64_MAX / 86400, &v);
    if (rc)
        return ANPI_EPARSE;
    *out = v * mult;
    return ANPI_OK;
}

int64_t
anpi_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
