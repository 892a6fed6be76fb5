/* people_csv.c - the staff directory CSV parser.
 *
 * Works in three steps over the whole input: a UTF-8 scan by physical line,
 * an RFC 4180 tokenizer that hands out one record at a time, and per-column
 * checks.  Every error is collected; the rows are only handed out when there
 * was none, because a half-imported directory would send safety mail to the
 * wrong people. */
#include "engine/people_csv.h"

#include <errno.h>
#include <iconv.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "engine/buf.h"

enum col { C_ID, C_NAME, C_KANA, C_EMAILS, C_REGIONS, C_GROUPS, C_COUNT };

static const char *const col_names[C_COUNT] = {
    "id", "name", "kana", "emails", "regions", "groups",
};

#define MAX_STORED_FIELDS 64    /* a row never needs more; the count goes on */
#define MAX_ID_LEN        64
#define MAX_GROUP_LEN     256
#define MAX_QUOTED        60    /* bytes of a bad value echoed in a message */

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
    if (c->nerr > ANPI_PEOPLE_CSV_MAX_ERRORS)
        return;
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    anpi_errors_add(c->errs, "%s", msg);
}

/* Copy a value for an error message: at most MAX_QUOTED bytes, cut on a
 * UTF-8 boundary, control characters and quotes shown as '?' so a message
 * stays one line. */
static const char *
shown(char *dst, size_t dstlen, const char *s, size_t len)
{
    size_t n = 0, i = 0;
    int cut = len > MAX_QUOTED;
    size_t lim = cut ? MAX_QUOTED : len;
    if (lim > dstlen - 4)
        lim = dstlen - 4;
    while (i < lim) {
        unsigned char ch = (unsigned char)s[i];
        size_t w = ch < 0x80 ? 1 : ch >= 0xF0 ? 4 : ch >= 0xE0 ? 3 : ch >= 0xC0 ? 2 : 1;
        if (i + w > lim)
            break;
        for (size_t k = 0; k < w; k++) {
            unsigned char b = (unsigned char)s[i + k];
            dst[n++] = (b < 0x20 || b == 0x7F || b == '"') ? '?' : (char)b;
        }
        i += w;
    }
    if (cut || i < len) {
        memcpy(dst + n, "...", 3);
        n += 3;
    }
    dst[n] = '\0';
    return dst;
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
    if (avail < n)
        return 0;
    if (s[1] < lo || s[1] > hi)
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
        if (s[i] == 0)
            csv_err(c, "line %d: contains a NUL byte", line);
        else
            csv_err(c, "line %d: invalid UTF-8", line);
        while (i < len && s[i] != '\n')
            i++;
    }
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
    const char *const *names;   /* column name per index, NULL for the header */
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
                if (ch == '\r' && r->p + 1 < r->end && r->p[1] == '\n') {
                    /* a line break inside a cell is kept as LF */
                    r->p++;
                    continue;
                }
                if (ch == '\n')
                    r->line++;
                rec_put(rec, idx, ch);
                r->p++;
            }
            if (r->p < r->end && *r->p != ',' && *r->p != '\n' &&
                !(*r->p == '\r' && r->p + 1 < r->end && r->p[1] == '\n')) {
                field_label(r, idx, label, sizeof(label));
                csv_err(r->c, "line %d: %s: text after the closing quote", r->line, label);
                rec->bad = true;
                while (r->p < r->end && *r->p != ',' && *r->p != '\n')
                    r->p++;
            }
        } else {
            bool stray = false, bare_cr = false;
            while (r->p < r->end && *r->p != ',' && *r->p != '\n') {
                char ch = *r->p;
                if (ch == '\r') {
                    if (r->p + 1 < r->end && r->p[1] == '\n')
                        break;
                    bare_cr = true;
                }
                if (ch == '"')
                    stray = true;
                rec_put(rec, idx, ch);
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
                    ANPI_PEOPLE_CSV_MAX_FIELD);
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

static bool
has_control(const char *s, size_t len, bool allow_lf)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)s[i];
        if ((ch < 0x20 && !(allow_lf && ch == '\n')) || ch == 0x7F)
            return true;
    }
    return false;
}

static bool
is_ldh(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
           (ch >= '0' && ch <= '9') || ch == '-';
}

bool
anpi_mail_addr_ok(const char *s, size_t len)
{
    if (len < 5 || len > 254)
        return false;
    const char *at = memchr(s, '@', len);
    if (!at || memchr(at + 1, '@', len - (size_t)(at - s) - 1))
        return false;
    size_t llen = (size_t)(at - s);
    if (llen == 0 || llen > 64)
        return false;
    for (size_t i = 0; i < llen; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch <= 0x20 || ch >= 0x7F || strchr("\"(),:;<>[\\]", ch))
            return false;
    }
    const char *d = at + 1, *dend = s + len;
    size_t labels = 0;
    bool all_digits = true;
    while (d <= dend) {
        const char *dot = memchr(d, '.', (size_t)(dend - d));
        const char *lend = dot ? dot : dend;
        size_t n = (size_t)(lend - d);
        if (n == 0 || n > 63 || d[0] == '-' || lend[-1] == '-')
            return false;
        all_digits = true;
        for (size_t i = 0; i < n; i++) {
            if (!is_ldh(d[i]))
                return false;
            if (d[i] < '0' || d[i] > '9')
                all_digits = false;
        }
        labels++;
        if (!dot)
            break;
        d = dot + 1;
    }
    return labels >= 2 && !all_digits;
}

static const char *const prefectures[47] = {
    "北海道", "青森県", "岩手県", "宮城県", "秋田県", "山形県", "福島県",
    "茨城県", "栃木県", "群馬県", "埼玉県", "千葉県", "東京都", "神奈川県",
    "新潟県", "富山県", "石川県", "福井県", "山梨県", "長野県", "岐阜県",
    "静岡県", "愛知県", "三重県", "滋賀県", "京都府", "大阪府", "兵庫県",
    "奈良県", "和歌山県", "鳥取県", "島根県", "岡山県", "広島県", "山口県",
    "徳島県", "香川県", "愛媛県", "高知県", "福岡県", "佐賀県", "長崎県",
    "熊本県", "大分県", "宮崎県", "鹿児島県", "沖縄県",
};

int
anpi_prefecture_code(const char *s, size_t len)
{
    if (len == 1 || len == 2) {
        int v = 0;
        for (size_t i = 0; i < len; i++) {
            if (s[i] < '0' || s[i] > '9')
                goto names;
            v = v * 10 + (s[i] - '0');
        }
        return v >= 1 && v <= 47 ? v : 0;
    }
names:
    for (int i = 0; i < 47; i++)
        if (strlen(prefectures[i]) == len && memcmp(prefectures[i], s, len) == 0)
            return i + 1;
    return 0;
}

/* ---- id index (duplicate detection over up to 200,000 rows) ------------ */

struct id_index {
    size_t cap, n;              /* cap is a power of two */
    const char **key;
    int *line;
};

static uint64_t
fnv1a(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 0x100000001b3ULL;
    }
    return h;
}

/* Returns the line of an earlier row with the same id, or 0 after adding. */
static int
id_index_add(struct id_index *ix, const char *id, int line)
{
    if ((ix->n + 1) * 2 > ix->cap) {
        size_t ncap = ix->cap ? ix->cap * 2 : 1024;
        const char **nk = anpi_xcalloc(ncap, sizeof(*nk));
        int *nl = anpi_xcalloc(ncap, sizeof(*nl));
        for (size_t i = 0; i < ix->cap; i++) {
            if (!ix->key[i])
                continue;
            size_t j = (size_t)fnv1a(ix->key[i]) & (ncap - 1);
            while (nk[j])
                j = (j + 1) & (ncap - 1);
            nk[j] = ix->key[i];
            nl[j] = ix->line[i];
        }
        free(ix->key);
        free(ix->line);
        ix->key = nk;
        ix->line = nl;
        ix->cap = ncap;
    }
    size_t j = (size_t)fnv1a(id) & (ix->cap - 1);
    while (ix->key[j]) {
        if (strcmp(ix->key[j], id) == 0)
            return ix->line[j];
        j = (j + 1) & (ix->cap - 1);
    }
    ix->key[j] = id;
    ix->line[j] = line;
    ix->n++;
    return 0;
}

/* ---- rows -------------------------------------------------------------- */

static void
row_free(struct anpi_person_row *r)
{
    free(r->id);
    free(r->name);
    free(r->kana);
    for (size_t i = 0; i < r->nemails; i++)
        free(r->emails[i]);
    free(r->emails);
    free(r->regions);
    for (size_t i = 0; i < r->ngroups; i++)
        free(r->groups[i]);
    free(r->groups);
}

void
anpi_people_csv_free(struct anpi_people_csv *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->nrows; i++)
        row_free(&p->rows[i]);
    free(p->rows);
    p->rows = NULL;
    p->nrows = 0;
}

static bool
str_in(char **list, size_t n, const char *s, bool nocase)
{
    for (size_t i = 0; i < n; i++)
        if ((nocase ? strcasecmp(list[i], s) : strcmp(list[i], s)) == 0)
            return true;
    return false;
}

/* Call fn for every non-empty ';'-separated item of the cell. */
typedef void (*item_fn)(struct ctx *c, struct anpi_person_row *row, const char *s, size_t len,
                        bool *overflow);

static void
each_item(struct ctx *c, struct anpi_person_row *row, const char *s, size_t len, item_fn fn,
          const char *col)
{
    bool overflow = false;
    const char *end = s + len;
    while (s <= end) {
        const char *semi = memchr(s, ';', (size_t)(end - s));
        const char *iend = semi ? semi : end;
        const char *it = s;
        size_t n = (size_t)(iend - s);
        trim(&it, &n);
        if (n)
            fn(c, row, it, n, &overflow);
        if (!semi)
            break;
        s = semi + 1;
    }
    if (overflow)
        csv_err(c, "line %d: %s: more than %u values", row->line, col,
                ANPI_PEOPLE_CSV_MAX_VALUES);
}

static void
add_email(struct ctx *c, struct anpi_person_row *row, const char *s, size_t len, bool *overflow)
{
    char q[MAX_QUOTED * 2];
    if (!anpi_mail_addr_ok(s, len)) {
        csv_err(c, "line %d: emails: \"%s\" is not a mail address", row->line,
                shown(q, sizeof(q), s, len));
        return;
    }
    char *e = anpi_xstrndup(s, len);
    /* domains are case-insensitive: store them lower-case */
    for (char *d = strchr(e, '@'); *d; d++)
        if (*d >= 'A' && *d <= 'Z')
            *d = (char)(*d - 'A' + 'a');
    /* local parts are case-sensitive in theory and never in practice: the
     * same person must not get the same alert twice */
    if (str_in(row->emails, row->nemails, e, true)) {
        free(e);
        return;
    }
    if (row->nemails == ANPI_PEOPLE_CSV_MAX_VALUES) {
        *overflow = true;
        free(e);
        return;
    }
    row->emails[row->nemails++] = e;
}

static void
add_region(struct ctx *c, struct anpi_person_row *row, const char *s, size_t len, bool *overflow)
{
    char q[MAX_QUOTED * 2];
    int code = anpi_prefecture_code(s, len);
    if (!code) {
        csv_err(c, "line %d: regions: \"%s\" is not a prefecture code 01-47", row->line,
                shown(q, sizeof(q), s, len));
        return;
    }
    for (size_t i = 0; i < row->nregions; i++)
        if (row->regions[i] == code)
            return;
    if (row->nregions == ANPI_PEOPLE_CSV_MAX_VALUES) {
        *overflow = true;
        return;
    }
    row->regions[row->nregions++] = code;
}

static void
add_group(struct ctx *c, struct anpi_person_row *row, const char *s, size_t len, bool *overflow)
{
    char q[MAX_QUOTED * 2];
    const char *why = NULL;
    if (len > MAX_GROUP_LEN)
        why = "is longer than 256 bytes";
    else if (has_control(s, len, false))
        why = "contains a control character";
    else if (s[0] == '/' || s[len - 1] == '/' || memmem(s, len, "//", 2))
        why = "has an empty path segment";
    if (why) {
        csv_err(c, "line %d: groups: \"%s\" %s", row->line, shown(q, sizeof(q), s, len), why);
        return;
    }
    char *g = anpi_xstrndup(s, len);
    if (str_in(row->groups, row->ngroups, g, false)) {
        free(g);
        return;
    }
    if (row->ngroups == ANPI_PEOPLE_CSV_MAX_VALUES) {
        *overflow = true;
        free(g);
        return;
    }
    row->groups[row->ngroups++] = g;
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

static void
cell(const struct record *rec, const int *colidx, enum col col, const char **s, size_t *len)
{
    const struct anpi_buf *b = &rec->f[colidx[col]];
    *s = b->len ? b->data : "";
    *len = b->len;
    trim(s, len);
}

static void
check_row(struct ctx *c, const struct record *rec, const int *colidx,
          struct anpi_person_row *row, struct id_index *ix)
{
    char q[MAX_QUOTED * 2];
    const char *s;
    size_t len;

    row->line = rec->line;

    cell(rec, colidx, C_ID, &s, &len);
    if (len == 0)
        csv_err(c, "line %d: id: missing", rec->line);
    else if (!id_ok(s, len))
        csv_err(c, "line %d: id: \"%s\" must be 1-64 characters of A-Z a-z 0-9 . _ -",
                rec->line, shown(q, sizeof(q), s, len));
    else {
        row->id = anpi_xstrndup(s, len);
        int first = id_index_add(ix, row->id, rec->line);
        if (first)
            csv_err(c, "line %d: id: duplicate of line %d", rec->line, first);
    }

    cell(rec, colidx, C_NAME, &s, &len);
    if (len == 0)
        csv_err(c, "line %d: name: missing", rec->line);
    else if (has_control(s, len, true))
        csv_err(c, "line %d: name: contains a control character", rec->line);
    row->name = anpi_xstrndup(s, len);

    cell(rec, colidx, C_KANA, &s, &len);
    if (has_control(s, len, true))
        csv_err(c, "line %d: kana: contains a control character", rec->line);
    row->kana = anpi_xstrndup(s, len);

    row->emails = anpi_xcalloc(ANPI_PEOPLE_CSV_MAX_VALUES, sizeof(char *));
    cell(rec, colidx, C_EMAILS, &s, &len);
    size_t before = c->nerr;
    each_item(c, row, s, len, add_email, "emails");
    if (row->nemails == 0 && c->nerr == before)
        csv_err(c, "line %d: emails: at least one mail address is required", rec->line);

    row->regions = anpi_xcalloc(ANPI_PEOPLE_CSV_MAX_VALUES, sizeof(int));
    cell(rec, colidx, C_REGIONS, &s, &len);
    each_item(c, row, s, len, add_region, "regions");

    row->groups = anpi_xcalloc(ANPI_PEOPLE_CSV_MAX_VALUES, sizeof(char *));
    cell(rec, colidx, C_GROUPS, &s, &len);
    each_item(c, row, s, len, add_group, "groups");
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
        csv_err(c, "line %d: header has %zu columns, expected 6", rec->line, rec->nfields);
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
                csv_err(c, "line %d: unknown column \"%s\" (expected id, name, kana, emails, "
                        "regions, groups)", rec->line, shown(q, sizeof(q), s, len));
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

int
anpi_people_csv_parse(const char *data, size_t len, struct anpi_people_csv *out,
                      struct anpi_errors *errs)
{
    struct ctx c = { .errs = errs };
    out->nrows = 0;
    out->rows = NULL;

    if (len > ANPI_PEOPLE_CSV_MAX_INPUT) {
        csv_err(&c, "line 1: input is %zu bytes, over the limit of %u bytes", len,
                ANPI_PEOPLE_CSV_MAX_INPUT);
        return ANPI_EPARSE;
    }
    if (len >= 3 && memcmp(data, "\xEF\xBB\xBF", 3) == 0) {
        data += 3;
        len -= 3;
    }
    check_utf8(&c, data, len);

    struct record *rec = anpi_xcalloc(1, sizeof(*rec));
    for (size_t i = 0; i < MAX_STORED_FIELDS; i++)
        anpi_buf_init(&rec->f[i], ANPI_PEOPLE_CSV_MAX_FIELD);
    struct reader r = { .p = data, .end = data + len, .line = 1, .c = &c };
    struct id_index ix = { 0 };
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
        if (out->nrows == ANPI_PEOPLE_CSV_MAX_ROWS) {
            csv_err(&c, "line %d: more than %u rows", rec->line, ANPI_PEOPLE_CSV_MAX_ROWS);
            break;
        }
        if (out->nrows == rows_cap) {
            rows_cap = rows_cap ? rows_cap * 2 : 64;
            out->rows = anpi_xrealloc(out->rows, rows_cap * sizeof(*out->rows));
        }
        struct anpi_person_row *row = &out->rows[out->nrows++];
        memset(row, 0, sizeof(*row));
        check_row(&c, rec, colidx, row, &ix);
    }
    if (!have_header && c.nerr == 0)
        csv_err(&c, "line 1: empty input: expected a header row "
                "id,name,kana,emails,regions,groups");

    for (size_t i = 0; i < MAX_STORED_FIELDS; i++)
        anpi_buf_free(&rec->f[i]);
    free(rec);
    free(ix.key);
    free(ix.line);

    if (c.nerr > ANPI_PEOPLE_CSV_MAX_ERRORS)
        anpi_errors_add(errs, "%zu more errors not listed",
                        c.nerr - ANPI_PEOPLE_CSV_MAX_ERRORS);
    if (c.nerr) {
        anpi_people_csv_free(out);
        return ANPI_EPARSE;
    }
    return ANPI_OK;
}

/* ---- encodings ----------------------------------------------------------- */

/* Count well-formed multi-byte UTF-8 sequences and bytes that start none. */
static void
utf8_census(const char *data, size_t len, size_t *good_mb, size_t *bad)
{
    const unsigned char *s = (const unsigned char *)data;
    *good_mb = *bad = 0;
    for (size_t i = 0; i < len;) {
        size_t w = s[i] == 0 ? 0 : utf8_seq(s + i, len - i);
        if (w == 0) {
            (*bad)++;
            i++;
            continue;
        }
        if (w > 1)
            (*good_mb)++;
        i += w;
    }
}

int
anpi_people_csv_decode(const char *data, size_t len, char **out, size_t *outlen,
                       const char **encoding, struct anpi_errors *errs)
{
    struct ctx c = { .errs = errs };
    *out = NULL;
    *outlen = 0;
    *encoding = NULL;
    if (len > ANPI_PEOPLE_CSV_MAX_INPUT) {
        csv_err(&c, "line 1: input is %zu bytes, over the limit of %u bytes", len,
                ANPI_PEOPLE_CSV_MAX_INPUT);
        return ANPI_EPARSE;
    }
    size_t good_mb, bad;
    utf8_census(data, len, &good_mb, &bad);
    /* A BOM says UTF-8.  So does a file whose multi-byte sequences are
     * mostly well-formed: Shift_JIS text almost never forms UTF-8 sequences
     * (its lead bytes 0x81-0x9F are UTF-8 continuation bytes), while UTF-8
     * text misread as CP932 converts "successfully" into mojibake, so a
     * UTF-8 file with one bad byte must not be converted. */
    if ((len >= 3 && memcmp(data, "\xEF\xBB\xBF", 3) == 0) || bad == 0 || good_mb > bad) {
        *encoding = "UTF-8";
        return ANPI_OK;
    }

    iconv_t cd = iconv_open("UTF-8", "CP932");
    if (cd == (iconv_t)-1) {
        csv_err(&c, "line 1: invalid UTF-8, and Shift_JIS (CP932) conversion is not available "
                "on this system");
        return ANPI_EPARSE;
    }
    /* CP932 -> UTF-8 grows a character at most from 1 byte (half-width
     * kana) to 3 */
    size_t cap = len * 3 + 1;
    char *buf = anpi_xmalloc(cap);
    char *in = (char *)data, *o = buf;
    size_t inleft = len, oleft = cap - 1;
    int line = 1;
    const char *line_start = data, *scanned = data;
    while (inleft > 0) {
        size_t r = iconv(cd, &in, &inleft, &o, &oleft);
        if (r != (size_t)-1)
            break;
        if (errno == E2BIG) {   /* cannot happen with cap; never loop on it */
            csv_err(&c, "line 1: Shift_JIS conversion overflowed");
            break;
        }
        /* EILSEQ: a byte no CP932 character starts or continues with;
         * EINVAL: a lead byte cut off by the end of the input.  In CP932 a
         * line feed is never part of a two-byte character, so counting
         * them before the bad byte gives its line. */
        for (; scanned < in; scanned++)
            if (*scanned == '\n') {
                line++;
                line_start = scanned + 1;
            }
        csv_err(&c, "line %d: garbled text: neither UTF-8 nor Shift_JIS (byte 0x%02X at byte %zu "
                "of the line)", line, (unsigned)(unsigned char)*in,
                (size_t)(in - line_start) + 1);
        /* go on after the line so every garbled line is listed */
        const char *nl = memchr(in, '\n', inleft);
        size_t skip = nl ? (size_t)(nl - in) : inleft;
        in += skip;
        inleft -= skip;
        iconv(cd, NULL, NULL, NULL, NULL);
    }
    iconv_close(cd);
    size_t n = (size_t)(o - buf);
    if (c.nerr > ANPI_PEOPLE_CSV_MAX_ERRORS)
        anpi_errors_add(errs, "%zu more errors not listed", c.nerr - ANPI_PEOPLE_CSV_MAX_ERRORS);
    if (c.nerr == 0 && n > ANPI_PEOPLE_CSV_MAX_INPUT)
        csv_err(&c, "line 1: input is %zu bytes as UTF-8, over the limit of %u bytes", n,
                ANPI_PEOPLE_CSV_MAX_INPUT);
    if (c.nerr) {
        free(buf);
        return ANPI_EPARSE;
    }
    buf[n] = '\0';
    *encoding = "Shift_JIS";
    *out = buf;
    *outlen = n;
    return ANPI_OK;
}

int
anpi_people_csv_parse_any(const char *data, size_t len, struct anpi_people_csv *out,
                          const char **encoding, struct anpi_errors *errs)
{
    char *conv = NULL;
    size_t clen = 0;
    const char *enc = NULL;
    out->nrows = 0;
    out->rows = NULL;
    int rc = anpi_people_csv_decode(data, len, &conv, &clen, &enc, errs);
    if (encoding)
        *encoding = enc;
    if (rc != ANPI_OK)
        return rc;
    rc = conv ? anpi_people_csv_parse(conv, clen, out, errs)
              : anpi_people_csv_parse(data, len, out, errs);
    free(conv);
    return rc;
}
