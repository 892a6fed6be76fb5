/* csv.c - the RFC 4180 reader shared by the directory and traveller CSVs.
 *
 * Three steps over the whole input: a UTF-8 scan by physical line, a
 * tokenizer that hands out one record at a time, and the header and row
 * shape checks.  The meaning of the cells is the caller's (row callback). */
#include "engine/csv.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- errors ------------------------------------------------------------ */

void
anpi_csv_err(struct anpi_csv_ctx *c, const char *fmt, ...)
{
    c->nerr++;
    if (c->nerr > c->max_errors)
        return;
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    anpi_errors_add(c->errs, "%s", msg);
}

void
anpi_csv_note_unlisted(struct anpi_csv_ctx *c)
{
    if (c->nerr > c->max_errors)
        anpi_errors_add(c->errs, "%zu more errors not listed", c->nerr - c->max_errors);
}

/* ---- text helpers ------------------------------------------------------ */

size_t
anpi_csv_utf8_seq(const unsigned char *s, size_t avail)
{
    unsigned char c = s[0];
    if (c < 0x80)
        return 1;
    size_t n;
    unsigned char lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF)
        n = 2;
    else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        if (c == 0xE0)
            lo = 0xA0;
        else if (c == 0xED)
            hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        if (c == 0xF0)
            lo = 0x90;
        else if (c == 0xF4)
            hi = 0x8F;
    } else
        return 0;
    if (avail < n || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < n; i++)
        if (s[i] < 0x80 || s[i] > 0xBF)
            return 0;
    return n;
}

/* One error per physical line with bad bytes. */
static void
check_utf8(struct anpi_csv_ctx *c, const char *data, size_t len)
{
    const unsigned char *s = (const unsigned char *)data;
    int line = 1;
    size_t i = 0;
    while (i < len) {
        if (s[i] == '\n') {
            line++;
            i++;
            continue;
        }
        size_t w = s[i] == 0 ? 0 : anpi_csv_utf8_seq(s + i, len - i);
        if (w) {
            i += w;
            continue;
        }
        anpi_csv_err(c, "line %d: %s", line, s[i] == 0 ? "contains a NUL byte" : "invalid UTF-8");
        while (i < len && s[i] != '\n')
            i++;
    }
}

void
anpi_csv_trim(const char **s, size_t *len)
{
    const char *p = *s;
    size_t n = *len;
    for (;;) {
        if (n && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n'))
            p++, n--;
        else if (n >= 3 && memcmp(p, "\xE3\x80\x80", 3) == 0)
            p += 3, n -= 3;
        else
            break;
    }
    for (;;) {
        char ch = n ? p[n - 1] : 0;
        if (n && (ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n'))
            n--;
        else if (n >= 3 && memcmp(p + n - 3, "\xE3\x80\x80", 3) == 0)
            n -= 3;
        else
            break;
    }
    *s = p;
    *len = n;
}

const char *
anpi_csv_shown(char *dst, size_t dstlen, const char *s, size_t len, bool mask_bad_utf8)
{
    size_t n = 0, i = 0;
    size_t lim = len > ANPI_CSV_QUOTED_MAX ? ANPI_CSV_QUOTED_MAX : len;
    if (lim > dstlen - 4)
        lim = dstlen - 4;
    while (i < lim) {
        unsigned char ch = (unsigned char)s[i];
        size_t w;
        if (mask_bad_utf8) {
            w = anpi_csv_utf8_seq((const unsigned char *)s + i, len - i);
            if (w == 0) {
                dst[n++] = '?';
                i++;
                continue;
            }
        } else {
            /* the width the lead byte claims, well-formed or not */
            w = ch < 0x80 ? 1 : ch >= 0xF0 ? 4 : ch >= 0xE0 ? 3 : ch >= 0xC0 ? 2 : 1;
        }
        if (i + w > lim)
            break;
        for (size_t k = 0; k < w; k++) {
            unsigned char b = (unsigned char)s[i + k];
            dst[n++] = (b < 0x20 || b == 0x7F || b == '"') ? '?' : (char)b;
        }
        i += w;
    }
    if (i < len) {
        memcpy(dst + n, "...", 3);
        n += 3;
    }
    dst[n] = '\0';
    return dst;
}

bool
anpi_csv_id_ok(const char *s, size_t len)
{
    if (len == 0 || len > 64)
        return false;
    for (size_t i = 0; i < len; i++) {
        char ch = s[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '.' || ch == '_' || ch == '-'))
            return false;
    }
    return true;
}

void
anpi_csv_cell(const struct anpi_csv_record *rec, int idx, const char **s, size_t *len)
{
    const struct anpi_buf *b = &rec->f[idx];
    *s = b->len ? b->data : "";
    *len = b->len;
    anpi_csv_trim(s, len);
}

/* ---- tokenizer --------------------------------------------------------- */

struct reader {
    const char *p, *end;
    int line;
    const char *const *names;   /* column name per index, NULL before the header */
    size_t nnames;
    size_t max_stored;
    size_t max_field;
    struct anpi_csv_ctx *c;
};

static void
field_label(const struct reader *r, size_t idx, char *buf, size_t len)
{
    if (r->names && idx < r->nnames)
        snprintf(buf, len, "%s", r->names[idx]);
    else
        snprintf(buf, len, "field %zu", idx + 1);
}

static void
rec_put(const struct reader *r, struct anpi_csv_record *rec, size_t idx, char ch)
{
    if (idx >= r->max_stored || rec->too_long[idx])
        return;
    if (anpi_buf_putc(&rec->f[idx], ch) != 0)
        rec->too_long[idx] = true;
}

static bool
at_crlf(const struct reader *r)
{
    return *r->p == '\r' && r->p + 1 < r->end && r->p[1] == '\n';
}

/* Read one record.  Returns false at the end of the input. */
static bool
read_record(struct reader *r, struct anpi_csv_record *rec)
{
    if (r->p >= r->end)
        return false;
    rec->line = r->line;
    rec->nfields = 0;
    rec->bad = false;
    for (size_t i = 0; i < r->max_stored; i++) {
        anpi_buf_reset(&rec->f[i]);
        rec->quoted[i] = rec->too_long[i] = false;
    }
    char label[64];
    for (;;) {
        size_t idx = rec->nfields++;
        if (r->p < r->end && *r->p == '"') {
            int start_line = r->line;
            if (idx < r->max_stored)
                rec->quoted[idx] = true;
            r->p++;
            for (;;) {
                if (r->p >= r->end) {
                    field_label(r, idx, label, sizeof(label));
                    anpi_csv_err(r->c, "line %d: %s: quoted field is not closed", start_line,
                                 label);
                    rec->bad = true;
                    return true;
                }
                char ch = *r->p;
                if (ch == '"') {
                    if (r->p + 1 < r->end && r->p[1] == '"') {
                        rec_put(r, rec, idx, '"');
                        r->p += 2;
                        continue;
                    }
                    r->p++;
                    break;
                }
                if (at_crlf(r)) {
                    r->p++;     /* a line break inside a cell is kept as LF */
                    continue;
                }
                if (ch == '\n')
                    r->line++;
                rec_put(r, rec, idx, ch);
                r->p++;
            }
            if (r->p < r->end && *r->p != ',' && *r->p != '\n' && !at_crlf(r)) {
                field_label(r, idx, label, sizeof(label));
                anpi_csv_err(r->c, "line %d: %s: text after the closing quote", r->line, label);
                rec->bad = true;
                while (r->p < r->end && *r->p != ',' && *r->p != '\n')
                    r->p++;
            }
        } else {
            bool stray = false, bare_cr = false;
            while (r->p < r->end && *r->p != ',' && *r->p != '\n') {
                if (at_crlf(r))
                    break;
                if (*r->p == '\r')
                    bare_cr = true;
                if (*r->p == '"')
                    stray = true;
                rec_put(r, rec, idx, *r->p);
                r->p++;
            }
            if (stray || bare_cr) {
                field_label(r, idx, label, sizeof(label));
                anpi_csv_err(r->c, "line %d: %s: %s", r->line, label,
                             stray ? "quote inside an unquoted field (quote the whole field "
                                     "and double the quote)"
                                   : "carriage return not followed by a line feed");
                rec->bad = true;
            }
        }
        if (idx < r->max_stored && rec->too_long[idx]) {
            field_label(r, idx, label, sizeof(label));
            anpi_csv_err(r->c, "line %d: %s: field longer than %zu bytes", rec->line, label,
                         r->max_field);
            rec->bad = true;
        }
        if (r->p >= r->end)
            return true;
        if (*r->p == ',') {
            r->p++;
            continue;
        }
        if (*r->p == '\r')
            r->p++;
        r->p++;                 /* the '\n' */
        r->line++;
        return true;
    }
}

/* ---- header and rows --------------------------------------------------- */

/* The column names joined by sep, for messages (malloc'd). */
static char *
join_columns(const struct anpi_csv_spec *spec, const char *sep)
{
    struct anpi_buf b;
    anpi_buf_init(&b, 0);
    for (size_t k = 0; k < spec->ncolumns; k++) {
        if (k)
            anpi_buf_puts(&b, sep);
        anpi_buf_puts(&b, spec->columns[k]);
    }
    return anpi_buf_steal(&b);
}

/* Map header names to columns; false if the header is unusable. */
static bool
read_header(const struct anpi_csv_spec *spec, struct anpi_csv_ctx *c,
            const struct anpi_csv_record *rec, int *colidx)
{
    char q[ANPI_CSV_QUOTED_MAX * 2];
    bool ok = !rec->bad;
    for (size_t k = 0; k < spec->ncolumns; k++)
        colidx[k] = -1;
    size_t stored = rec->nfields < spec->max_stored_fields ? rec->nfields
                                                           : spec->max_stored_fields;
    if (rec->nfields > spec->max_stored_fields) {
        anpi_csv_err(c, "line %d: header has %zu columns, expected %zu", rec->line,
                     rec->nfields, spec->ncolumns);
        ok = false;
    }
    for (size_t i = 0; i < stored; i++) {
        const char *s = rec->f[i].len ? rec->f[i].data : "";
        size_t len = rec->f[i].len;
        anpi_csv_trim(&s, &len);
        size_t k;
        for (k = 0; k < spec->ncolumns; k++)
            if (strlen(spec->columns[k]) == len && strncasecmp(spec->columns[k], s, len) == 0)
                break;
        if (k == spec->ncolumns) {
            if (len == 0)
                anpi_csv_err(c, "line %d: column %zu has no name", rec->line, i + 1);
            else {
                char *expected = join_columns(spec, ", ");
                anpi_csv_err(c, "line %d: unknown column \"%s\" (expected %s)", rec->line,
                             anpi_csv_shown(q, sizeof(q), s, len, spec->mask_bad_utf8),
                             expected);
                free(expected);
            }
            ok = false;
        } else if (colidx[k] >= 0) {
            anpi_csv_err(c, "line %d: column \"%s\" appears twice", rec->line,
                         spec->columns[k]);
            ok = false;
        } else
            colidx[k] = (int)i;
    }
    for (size_t k = 0; k < spec->ncolumns; k++) {
        if (colidx[k] < 0 && rec->nfields <= spec->max_stored_fields) {
            anpi_csv_err(c, "line %d: missing column \"%s\"", rec->line, spec->columns[k]);
            ok = false;
        }
    }
    return ok;
}

int
anpi_csv_read(const struct anpi_csv_spec *spec, const char *data, size_t len,
              struct anpi_csv_ctx *c, anpi_csv_row_fn fn, void *arg)
{
    if (len > spec->max_input) {
        anpi_csv_err(c, "line 1: input is %zu bytes, over the limit of %zu bytes", len,
                     spec->max_input);
        return ANPI_EPARSE;
    }
    if (len >= 3 && memcmp(data, "\xEF\xBB\xBF", 3) == 0) {
        data += 3;
        len -= 3;
    }
    check_utf8(c, data, len);

    size_t nst = spec->max_stored_fields;
    struct anpi_csv_record rec = {
        .quoted = anpi_xcalloc(nst, sizeof(bool)),
        .too_long = anpi_xcalloc(nst, sizeof(bool)),
        .f = anpi_xcalloc(nst, sizeof(struct anpi_buf)),
    };
    for (size_t i = 0; i < nst; i++)
        anpi_buf_init(&rec.f[i], spec->max_field);
    struct reader r = { .p = data, .end = data + len, .line = 1, .max_stored = nst,
                        .max_field = spec->max_field, .c = c };
    int *colidx = anpi_xcalloc(spec->ncolumns, sizeof(int));
    const char **byidx = anpi_xcalloc(spec->ncolumns, sizeof(char *));
    bool have_header = false;
    size_t nrows = 0;

    while (read_record(&r, &rec)) {
        /* blank lines carry no row */
        if (rec.nfields == 1 && rec.f[0].len == 0 && !rec.quoted[0] && !rec.bad)
            continue;
        if (!have_header) {
            have_header = true;
            if (!read_header(spec, c, &rec, colidx))
                break;
            /* syntax errors name the column by the header's order */
            for (size_t k = 0; k < spec->ncolumns; k++)
                byidx[colidx[k]] = spec->columns[k];
            r.names = byidx;
            r.nnames = spec->ncolumns;
            continue;
        }
        if (rec.bad)
            continue;
        if (rec.nfields != spec->ncolumns) {
            anpi_csv_err(c, "line %d: expected %zu fields, found %zu", rec.line,
                         spec->ncolumns, rec.nfields);
            continue;
        }
        if (nrows == spec->max_rows) {
            anpi_csv_err(c, "line %d: more than %zu rows", rec.line, spec->max_rows);
            break;
        }
        nrows++;
        fn(arg, c, &rec, colidx);
    }
    if (!have_header && c->nerr == 0) {
        char *expected = join_columns(spec, ",");
        anpi_csv_err(c, "line 1: empty input: expected a header row %s", expected);
        free(expected);
    }

    for (size_t i = 0; i < nst; i++)
        anpi_buf_free(&rec.f[i]);
    free(rec.f);
    free(rec.quoted);
    free(rec.too_long);
    free(colidx);
    free(byidx);

    anpi_csv_note_unlisted(c);
    return c->nerr ? ANPI_EPARSE : ANPI_OK;
}
