/* travellers_csv.c - the traveller registry CSV parser.
 *
 * Same three steps as people_csv.c (whose approach this follows; its
 * tokenizer is private to it, and sharing it would mean reworking a parser
 * with its own fuzz target and tests): a UTF-8 scan by physical line, an
 * RFC 4180 tokenizer that hands out one record at a time, and per-column
 * checks.  Every error is collected; rows are handed out only when there was
 * none, because a half-imported registry means a traveller who is abroad is
 * not asked whether they are safe. */
#include "engine/travellers_csv.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "engine/buf.h"

enum col { C_PERSON, C_COUNTRY, C_FROM, C_TO, C_COUNT };

static const char *const col_names[C_COUNT] = { "person_id", "country", "from", "to" };

#define MAX_STORED_FIELDS 16    /* a row never needs more; the count goes on */
#define MAX_ID_LEN        64
#define MAX_QUOTED        60    /* bytes of a bad value echoed in a message */
#define MAX_TRIP_YEARS    2

/* ---- errors ------------------------------------------------------------ */

struct ctx {
    struct anpi_errors *errs;
    size_t nerr;                /* all errors, including those not listed */
};

static void csv_err(struct ctx *c, const char *fmt, ...) ANPI_PRINTF(2, 3);

static void
csv_err(struct ctx *c, const char *fmt, ...)
{
    c->nerr++;
    if (c->nerr > ANPI_TRAVELLERS_CSV_MAX_ERRORS)
        return;
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    anpi_errors_add(c->errs, "%s", msg);
}

/* ---- UTF-8 ------------------------------------------------------------- */

/* Length of the well-formed UTF-8 sequence at s (RFC 3629: no overlongs, no
 * surrogates, nothing past U+10FFFF), or 0. */
static size_t
utf8_seq(const unsigned char *s, size_t avail)
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
check_utf8(struct ctx *c, const char *data, size_t len)
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
        size_t w = s[i] == 0 ? 0 : utf8_seq(s + i, len - i);
        if (w) {
            i += w;
            continue;
        }
        csv_err(c, "line %d: %s", line, s[i] == 0 ? "contains a NUL byte" : "invalid UTF-8");
        while (i < len && s[i] != '\n')
            i++;
    }
}

/* A value for an error message: at most MAX_QUOTED bytes, cut on a UTF-8
 * boundary; control characters, quotes and bytes that are not UTF-8 as '?',
 * so a message stays one line of valid text (it ends up in JSON). */
static const char *
shown(char *dst, size_t dstlen, const char *s, size_t len)
{
    size_t n = 0, i = 0;
    size_t lim = len > MAX_QUOTED ? MAX_QUOTED : len;
    if (lim > dstlen - 4)
        lim = dstlen - 4;
    while (i < lim) {
        size_t w = utf8_seq((const unsigned char *)s + i, len - i);
        if (w == 0) {
            dst[n++] = '?';
            i++;
            continue;
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

/* ---- tokenizer --------------------------------------------------------- */

struct record {
    int line;                   /* where the record starts */
    size_t nfields;             /* all fields seen */
    bool bad;                   /* a syntax error was reported for it */
    bool quoted[MAX_STORED_FIELDS];
    bool too_long[MAX_STORED_FIELDS];
    struct anpi_buf f[MAX_STORED_FIELDS];
};

struct reader {
    const char *p, *end;
    int line;
    const char *const *names;   /* column name per index, NULL before the header */
    size_t nnames;
    struct ctx *c;
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
rec_put(struct record *rec, size_t idx, char ch)
{
    if (idx >= MAX_STORED_FIELDS || rec->too_long[idx])
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
read_record(struct reader *r, struct record *rec)
{
    if (r->p >= r->end)
        return false;
    rec->line = r->line;
    rec->nfields = 0;
    rec->bad = false;
    for (size_t i = 0; i < MAX_STORED_FIELDS; i++) {
        anpi_buf_reset(&rec->f[i]);
        rec->quoted[i] = rec->too_long[i] = false;
    }
    char label[64];
    for (;;) {
        size_t idx = rec->nfields++;
        if (r->p < r->end && *r->p == '"') {
            int start_line = r->line;
            if (idx < MAX_STORED_FIELDS)
                rec->quoted[idx] = true;
            r->p++;
            for (;;) {
                if (r->p >= r->end) {
                    field_label(r, idx, label, sizeof(label));
                    csv_err(r->c, "line %d: %s: quoted field is not closed", start_line, label);
                    rec->bad = true;
                    return true;
                }
                char ch = *r->p;
                if (ch == '"') {
                    if (r->p + 1 < r->end && r->p[1] == '"') {
                        rec_put(rec, idx, '"');
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
                rec_put(rec, idx, ch);
                r->p++;
            }
            if (r->p < r->end && *r->p != ',' && *r->p != '\n' && !at_crlf(r)) {
                field_label(r, idx, label, sizeof(label));
                csv_err(r->c, "line %d: %s: text after the closing quote", r->line, label);
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
                rec_put(rec, idx, *r->p);
                r->p++;
            }
            if (stray || bare_cr) {
                field_label(r, idx, label, sizeof(label));
                csv_err(r->c, "line %d: %s: %s", r->line, label,
                        stray ? "quote inside an unquoted field (quote the whole field and "
                                "double the quote)"
                              : "carriage return not followed by a line feed");
                rec->bad = true;
            }
        }
        if (idx < MAX_STORED_FIELDS && rec->too_long[idx]) {
            field_label(r, idx, label, sizeof(label));
            csv_err(r->c, "line %d: %s: field longer than %u bytes", rec->line, label,
                    ANPI_TRAVELLERS_CSV_MAX_FIELD);
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

/* ---- value checks ------------------------------------------------------ */

/* ASCII white space and U+3000 (ideographic space, common in Japanese
 * spreadsheets) are trimmed. */
static void
trim(const char **s, size_t *len)
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

/* The officially assigned ISO 3166-1 alpha-2 codes (249), sorted.  User-
 * assigned codes such as XK are not in it. */
static const char iso3166_alpha2[] =
    "AD" "AE" "AF" "AG" "AI" "AL" "AM" "AO" "AQ" "AR" "AS" "AT" "AU" "AW" "AX" "AZ"
    "BA" "BB" "BD" "BE" "BF" "BG" "BH" "BI" "BJ" "BL" "BM" "BN" "BO" "BQ" "BR" "BS"
    "BT" "BV" "BW" "BY" "BZ"
    "CA" "CC" "CD" "CF" "CG" "CH" "CI" "CK" "CL" "CM" "CN" "CO" "CR" "CU" "CV" "CW"
    "CX" "CY" "CZ"
    "DE" "DJ" "DK" "DM" "DO" "DZ"
    "EC" "EE" "EG" "EH" "ER" "ES" "ET"
    "FI" "FJ" "FK" "FM" "FO" "FR"
    "GA" "GB" "GD" "GE" "GF" "GG" "GH" "GI" "GL" "GM" "GN" "GP" "GQ" "GR" "GS" "GT"
    "GU" "GW" "GY"
    "HK" "HM" "HN" "HR" "HT" "HU"
    "ID" "IE" "IL" "IM" "IN" "IO" "IQ" "IR" "IS" "IT"
    "JE" "JM" "JO" "JP"
    "KE" "KG" "KH" "KI" "KM" "KN" "KP" "KR" "KW" "KY" "KZ"
    "LA" "LB" "LC" "LI" "LK" "LR" "LS" "LT" "LU" "LV" "LY"
    "MA" "MC" "MD" "ME" "MF" "MG" "MH" "MK" "ML" "MM" "MN" "MO" "MP" "MQ" "MR" "MS"
    "MT" "MU" "MV" "MW" "MX" "MY" "MZ"
    "NA" "NC" "NE" "NF" "NG" "NI" "NL" "NO" "NP" "NR" "NU" "NZ"
    "OM"
    "PA" "PE" "PF" "PG" "PH" "PK" "PL" "PM" "PN" "PR" "PS" "PT" "PW" "PY"
    "QA"
    "RE" "RO" "RS" "RU" "RW"
    "SA" "SB" "SC" "SD" "SE" "SG" "SH" "SI" "SJ" "SK" "SL" "SM" "SN" "SO" "SR" "SS"
    "ST" "SV" "SX" "SY" "SZ"
    "TC" "TD" "TF" "TG" "TH" "TJ" "TK" "TL" "TM" "TN" "TO" "TR" "TT" "TV" "TW" "TZ"
    "UA" "UG" "UM" "US" "UY" "UZ"
    "VA" "VC" "VE" "VG" "VI" "VN" "VU"
    "WF" "WS"
    "YE" "YT"
    "ZA" "ZM" "ZW";

bool
anpi_iso3166_alpha2_ok(const char *s, size_t len)
{
    if (len != 2)
        return false;
    char up[2];
    for (int i = 0; i < 2; i++) {
        char ch = s[i];
        if (ch >= 'a' && ch <= 'z')
            ch = (char)(ch - 'a' + 'A');
        if (ch < 'A' || ch > 'Z')
            return false;
        up[i] = ch;
    }
    size_t lo = 0, hi = (sizeof(iso3166_alpha2) - 1) / 2;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int cmp = memcmp(up, iso3166_alpha2 + mid * 2, 2);
        if (cmp == 0)
            return true;
        if (cmp < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return false;
}

static bool
id_ok(const char *s, size_t len)
{
    if (len == 0 || len > MAX_ID_LEN)
        return false;
    for (size_t i = 0; i < len; i++) {
        char ch = s[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '.' || ch == '_' || ch == '-'))
            return false;
    }
    return true;
}

static int
days_in_month(int y, int m)
{
    static const int dm[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 && leap ? 29 : dm[m - 1];
}

/* Days since 1970-01-01 (Howard Hinnant's days_from_civil). */
static int64_t
days_from_civil(int y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

struct date {
    int y, m, d;
};

/* "YYYY-MM-DD" (exactly), a real calendar date in 1900..9999; NULL if
 * fine, else what is wrong. */
static const char *
parse_date(const char *s, size_t len, struct date *out)
{
    if (len != 10 || s[4] != '-' || s[7] != '-')
        return "expected a date YYYY-MM-DD";
    for (size_t i = 0; i < 10; i++)
        if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9'))
            return "expected a date YYYY-MM-DD";
    out->y = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0');
    out->m = (s[5] - '0') * 10 + (s[6] - '0');
    out->d = (s[8] - '0') * 10 + (s[9] - '0');
    if (out->y < 1900)
        return "year before 1900";
    if (out->m < 1 || out->m > 12)
        return "no such month";
    if (out->d < 1 || out->d > days_in_month(out->y, out->m))
        return "no such day in that month";
    return NULL;
}

static void
cell(const struct record *rec, const int *colidx, enum col col, const char **s, size_t *len)
{
    const struct anpi_buf *b = &rec->f[colidx[col]];
    *s = b->len ? b->data : "";
    *len = b->len;
    trim(s, len);
}

static bool
check_date(struct ctx *c, const struct record *rec, const int *colidx, enum col col,
           struct date *d, char out[11])
{
    char q[MAX_QUOTED * 2];
    const char *s;
    size_t len;
    cell(rec, colidx, col, &s, &len);
    if (len == 0) {
        csv_err(c, "line %d: %s: missing", rec->line, col_names[col]);
        return false;
    }
    const char *why = parse_date(s, len, d);
    if (why) {
        csv_err(c, "line %d: %s: \"%s\": %s", rec->line, col_names[col],
                shown(q, sizeof(q), s, len), why);
        return false;
    }
    memcpy(out, s, 10);
    out[10] = '\0';
    return true;
}

static void
check_row(struct ctx *c, const struct record *rec, const int *colidx, struct anpi_trip_row *row)
{
    char q[MAX_QUOTED * 2];
    const char *s;
    size_t len;

    row->line = rec->line;

    cell(rec, colidx, C_PERSON, &s, &len);
    if (len == 0)
        csv_err(c, "line %d: person_id: missing", rec->line);
    else if (!id_ok(s, len))
        csv_err(c, "line %d: person_id: \"%s\" must be 1-64 characters of A-Z a-z 0-9 . _ -",
                rec->line, shown(q, sizeof(q), s, len));
    else
        row->person_id = anpi_xstrndup(s, len);

    cell(rec, colidx, C_COUNTRY, &s, &len);
    if (len == 0)
        csv_err(c, "line %d: country: missing", rec->line);
    else if (!anpi_iso3166_alpha2_ok(s, len))
        csv_err(c, "line %d: country: \"%s\" is not an ISO 3166-1 alpha-2 country code "
                "(like PE or TH)", rec->line, shown(q, sizeof(q), s, len));
    else {
        for (int i = 0; i < 2; i++)
            row->country[i] = (char)(s[i] >= 'a' && s[i] <= 'z' ? s[i] - 'a' + 'A' : s[i]);
        row->country[2] = '\0';
    }

    struct date from, to;
    bool fok = check_date(c, rec, colidx, C_FROM, &from, row->from);
    bool tok = check_date(c, rec, colidx, C_TO, &to, row->to);
    if (!fok || !tok)
        return;
    int64_t df = days_from_civil(from.y, from.m, from.d);
    int64_t dt = days_from_civil(to.y, to.m, to.d);
    if (dt < df) {
        csv_err(c, "line %d: to: %s is before from (%s)", rec->line, row->to, row->from);
        return;
    }
    /* the same day MAX_TRIP_YEARS later (29 February: the 28th) */
    int ly = from.y + MAX_TRIP_YEARS;
    int ld = from.d <= days_in_month(ly, from.m) ? from.d : days_in_month(ly, from.m);
    if (dt > days_from_civil(ly, from.m, ld))
        csv_err(c, "line %d: to: the trip from %s to %s is longer than %d years", rec->line,
                row->from, row->to, MAX_TRIP_YEARS);
}

/* Map header names to columns; false if the header is unusable. */
static bool
read_header(struct ctx *c, const struct record *rec, int *colidx)
{
    char q[MAX_QUOTED * 2];
    bool ok = !rec->bad;
    for (int k = 0; k < C_COUNT; k++)
        colidx[k] = -1;
    size_t stored = rec->nfields < MAX_STORED_FIELDS ? rec->nfields : MAX_STORED_FIELDS;
    if (rec->nfields > MAX_STORED_FIELDS) {
        csv_err(c, "line %d: header has %zu columns, expected %d", rec->line, rec->nfields,
                C_COUNT);
        ok = false;
    }
    for (size_t i = 0; i < stored; i++) {
        const char *s = rec->f[i].len ? rec->f[i].data : "";
        size_t len = rec->f[i].len;
        trim(&s, &len);
        int k;
        for (k = 0; k < C_COUNT; k++)
            if (strlen(col_names[k]) == len && strncasecmp(col_names[k], s, len) == 0)
                break;
        if (k == C_COUNT) {
            if (len == 0)
                csv_err(c, "line %d: column %zu has no name", rec->line, i + 1);
            else
                csv_err(c, "line %d: unknown column \"%s\" (expected person_id, country, from, "
                        "to)", rec->line, shown(q, sizeof(q), s, len));
            ok = false;
        } else if (colidx[k] >= 0) {
            csv_err(c, "line %d: column \"%s\" appears twice", rec->line, col_names[k]);
            ok = false;
        } else
            colidx[k] = (int)i;
    }
    for (int k = 0; k < C_COUNT; k++) {
        if (colidx[k] < 0 && rec->nfields <= MAX_STORED_FIELDS) {
            csv_err(c, "line %d: missing column \"%s\"", rec->line, col_names[k]);
            ok = false;
        }
    }
    return ok;
}

void
anpi_travellers_csv_free(struct anpi_travellers_csv *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->nrows; i++)
        free(t->rows[i].person_id);
    free(t->rows);
    t->rows = NULL;
    t->nrows = 0;
}

int
anpi_travellers_csv_parse(const char *data, size_t len, struct anpi_travellers_csv *out,
                          struct anpi_errors *errs)
{
    struct ctx c = { .errs = errs };
    out->nrows = 0;
    out->rows = NULL;

    if (len > ANPI_TRAVELLERS_CSV_MAX_INPUT) {
        csv_err(&c, "line 1: input is %zu bytes, over the limit of %u bytes", len,
                ANPI_TRAVELLERS_CSV_MAX_INPUT);
        return ANPI_EPARSE;
    }
    if (len >= 3 && memcmp(data, "\xEF\xBB\xBF", 3) == 0) {
        data += 3;
        len -= 3;
    }
    check_utf8(&c, data, len);

    struct record *rec = anpi_xcalloc(1, sizeof(*rec));
    for (size_t i = 0; i < MAX_STORED_FIELDS; i++)
        anpi_buf_init(&rec->f[i], ANPI_TRAVELLERS_CSV_MAX_FIELD);
    struct reader r = { .p = data, .end = data + len, .line = 1, .c = &c };
    size_t rows_cap = 0;
    int colidx[C_COUNT];
    const char *byidx[C_COUNT];
    bool have_header = false;

    while (read_record(&r, rec)) {
        /* blank lines carry no row */
        if (rec->nfields == 1 && rec->f[0].len == 0 && !rec->quoted[0] && !rec->bad)
            continue;
        if (!have_header) {
            have_header = true;
            if (!read_header(&c, rec, colidx))
                break;
            /* syntax errors name the column by the header's order */
            for (int k = 0; k < C_COUNT; k++)
                byidx[colidx[k]] = col_names[k];
            r.names = byidx;
            r.nnames = C_COUNT;
            continue;
        }
        if (rec->bad)
            continue;
        if (rec->nfields != C_COUNT) {
            csv_err(&c, "line %d: expected %d fields, found %zu", rec->line, C_COUNT,
                    rec->nfields);
            continue;
        }
        if (out->nrows == ANPI_TRAVELLERS_CSV_MAX_ROWS) {
            csv_err(&c, "line %d: more than %u rows", rec->line, ANPI_TRAVELLERS_CSV_MAX_ROWS);
            break;
        }
        if (out->nrows == rows_cap) {
            rows_cap = rows_cap ? rows_cap * 2 : 64;
            out->rows = anpi_xrealloc(out->rows, rows_cap * sizeof(*out->rows));
        }
        struct anpi_trip_row *row = &out->rows[out->nrows++];
        memset(row, 0, sizeof(*row));
        check_row(&c, rec, colidx, row);
    }
    if (!have_header && c.nerr == 0)
        csv_err(&c, "line 1: empty input: expected a header row person_id,country,from,to");

    for (size_t i = 0; i < MAX_STORED_FIELDS; i++)
        anpi_buf_free(&rec->f[i]);
    free(rec);

    if (c.nerr > ANPI_TRAVELLERS_CSV_MAX_ERRORS)
        anpi_errors_add(errs, "%zu more errors not listed",
                        c.nerr - ANPI_TRAVELLERS_CSV_MAX_ERRORS);
    if (c.nerr) {
        anpi_travellers_csv_free(out);
        return ANPI_EPARSE;
    }
    return ANPI_OK;
}
