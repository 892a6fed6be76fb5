/* body.c - JSON and urlencoded-form request-body parsers.
 *
 * Both take untrusted bytes of a given length (not NUL-terminated) and never
 * read past it.  Errors say what and where, for a 400 response body. */
#include "admin-api/body.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/anpi.h"

/* jansson's own nesting limit is a compile-time 2048; scan the raw bytes
 * first so that a deep document is refused before any allocation.  Returns
 * the byte offset where depth goes over max, or -1.  Brackets inside strings
 * do not count. */
static long
depth_exceeded_at(const char *s, size_t len, int max)
{
    int depth = 0;
    bool in_str = false, esc = false;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (in_str) {
            if (esc)
                esc = false;
            else if (c == '\\')
                esc = true;
            else if (c == '"')
                in_str = false;
            continue;
        }
        switch (c) {
        case '"':
            in_str = true;
            break;
        case '[': case '{':
            if (++depth > max)
                return (long)i;
            break;
        case ']': case '}':
            depth--;
            break;
        default:
            break;
        }
    }
    return -1;
}

/* Line and column (1-based, in bytes) of a byte offset. */
static void
line_col(const char *s, size_t off, int *line, int *col)
{
    *line = 1;
    *col = 1;
    for (size_t i = 0; i < off; i++) {
        if (s[i] == '\n') {
            (*line)++;
            *col = 1;
        } else {
            (*col)++;
        }
    }
}

json_t *
anpi_json_body(const char *body, size_t len, char *err, size_t errlen)
{
    if (!body)
        body = "";
    long deep = depth_exceeded_at(body, len, ANPI_JSON_MAX_DEPTH);
    if (deep >= 0) {
        int line, col;
        line_col(body, (size_t)deep, &line, &col);
        snprintf(err, errlen, "invalid JSON at %d:%d: nesting deeper than %d",
                 line, col, ANPI_JSON_MAX_DEPTH);
        return NULL;
    }
    json_error_t je;
    json_t *j = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je);
    if (!j) {
        snprintf(err, errlen, "invalid JSON at %d:%d: %s", je.line, je.column, je.text);
        return NULL;
    }
    if (!json_is_object(j)) {
        json_decref(j);
        snprintf(err, errlen, "invalid JSON at 1:1: top level must be an object");
        return NULL;
    }
    return j;
}

/* ---- application/x-www-form-urlencoded ---------------------------------- */

static int
hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Strict UTF-8: no overlong forms, no surrogates, nothing above U+10FFFF. */
static bool
valid_utf8(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned char c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t need;
        unsigned lo = 0x80, hi = 0xBF;
        if (c >= 0xC2 && c <= 0xDF) {
            need = 1;
        } else if (c >= 0xE0 && c <= 0xEF) {
            need = 2;
            if (c == 0xE0)
                lo = 0xA0;
            else if (c == 0xED)
                hi = 0x9F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            need = 3;
            if (c == 0xF0)
                lo = 0x90;
            else if (c == 0xF4)
                hi = 0x8F;
        } else {
            return false;
        }
        if (n - i <= need)
            return false;
        if (s[i + 1] < lo || s[i + 1] > hi)
            return false;
        for (size_t k = 2; k <= need; k++)
            if (s[i + k] < 0x80 || s[i + k] > 0xBF)
                return false;
        i += need + 1;
    }
    return true;
}

/* Decode one name or value (bytes [p, p+n) at body offset off) into a new
 * string.  NULL with err set on a bad escape, NUL byte or invalid UTF-8. */
static char *
decode(const char *p, size_t n, size_t off, const char *what, size_t field,
       char *err, size_t errlen)
{
    char *out = anpi_xmalloc(n + 1);
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        char c = p[i];
        if (c == '+') {
            out[o++] = ' ';
        } else if (c == '%') {
            int h = -1;
            if (i + 2 < n) {
                int a = hexval(p[i + 1]), b = hexval(p[i + 2]);
                if (a >= 0 && b >= 0)
                    h = a * 16 + b;
            }
            if (h < 0) {
                snprintf(err, errlen, "bad percent-escape in %s of field %zu at byte %zu",
                         what, field, off + i + 1);
                free(out);
                return NULL;
            }
            out[o++] = (char)h;
            i += 2;
        } else {
            out[o++] = c;
        }
        if (o > 0 && out[o - 1] == '\0') {
            snprintf(err, errlen, "NUL byte in %s of field %zu at byte %zu", what, field,
                     off + i + 1);
            free(out);
            return NULL;
        }
    }
    out[o] = '\0';
    if (!valid_utf8((const unsigned char *)out, o)) {
        snprintf(err, errlen, "invalid UTF-8 in %s of field %zu", what, field);
        free(out);
        return NULL;
    }
    return out;
}

int
anpi_form_parse(const char *body, size_t len, struct anpi_form *out, char *err, size_t errlen)
{
    out->n = 0;
    out->f = NULL;
    if (len > ANPI_FORM_MAX_BYTES) {
        snprintf(err, errlen, "form body of %zu bytes is over the %d byte limit", len,
                 ANPI_FORM_MAX_BYTES);
        return ANPI_ETOOBIG;
    }
    size_t cap = 0;
    size_t pos = 0;
    while (pos < len) {
        const char *part = body + pos;
        const char *amp = memchr(part, '&', len - pos);
        size_t plen = amp ? (size_t)(amp - part) : len - pos;
        size_t start = pos;
        pos += plen + 1;
        if (plen == 0)
            continue;   /* "a=1&&b=2": browsers never send it, but it is harmless */
        size_t field = out->n + 1;
        if (out->n == ANPI_FORM_MAX_FIELDS) {
            snprintf(err, errlen, "form has more than %d fields", ANPI_FORM_MAX_FIELDS);
            anpi_form_free(out);
            return ANPI_ETOOBIG;
        }
        const char *eq = memchr(part, '=', plen);
        size_t nlen = eq ? (size_t)(eq - part) : plen;
        if (nlen == 0) {
            snprintf(err, errlen, "empty name in field %zu at byte %zu", field, start + 1);
            anpi_form_free(out);
            return ANPI_EPARSE;
        }
        char *name = decode(part, nlen, start, "name", field, err, errlen);
        if (!name) {
            anpi_form_free(out);
            return ANPI_EPARSE;
        }
        char *value = eq ? decode(eq + 1, plen - nlen - 1, start + nlen + 1, "value", field,
                                  err, errlen)
                         : anpi_xstrdup("");
        if (!value) {
            free(name);
            anpi_form_free(out);
            return ANPI_EPARSE;
        }
        if (out->n == cap) {
            cap = cap ? cap * 2 : 8;
            out->f = anpi_xrealloc(out->f, cap * sizeof(*out->f));
        }
        out->f[out->n].name = name;
        out->f[out->n].value = value;
        out->n++;
    }
    return ANPI_OK;
}

const char *
anpi_form_get(const struct anpi_form *f, const char *name)
{
    for (size_t i = 0; i < f->n; i++)
        if (strcmp(f->f[i].name, name) == 0)
            return f->f[i].value;
    return NULL;
}

void
anpi_form_free(struct anpi_form *f)
{
    for (size_t i = 0; i < f->n; i++) {
        free(f->f[i].name);
        free(f->f[i].value);
    }
    free(f->f);
    f->f = NULL;
    f->n = 0;
}

int
anpi_cookie_find(const char *h, const char *name, char *out, size_t outlen)
{
    size_t nl = strlen(name);
    while (h && *h) {
        while (*h == ' ' || *h == ';' || *h == '\t')
            h++;
        const char *end = strchr(h, ';');
        size_t len = end ? (size_t)(end - h) : strlen(h);
        if (len > nl && strncmp(h, name, nl) == 0 && h[nl] == '=') {
            size_t vl = len - nl - 1;
            /* trailing blanks before the ';' are not part of the value */
            while (vl && (h[nl + 1 + vl - 1] == ' ' || h[nl + 1 + vl - 1] == '\t'))
                vl--;
            if (vl >= outlen)
                return ANPI_ETOOBIG;
            memcpy(out, h + nl + 1, vl);
            out[vl] = '\0';
            return ANPI_OK;
        }
        h = end;
    }
    return ANPI_ENOTFOUND;
}
