/* people_csv.c - the staff directory CSV parser.
 *
 * The UTF-8 scan, the RFC 4180 records and the header are engine/csv.c's;
 * this file checks the cells of each row and decodes Shift_JIS uploads.
 * Every error is collected; the rows are only handed out when there
 * was none, because a half-imported directory would send safety mail to the
 * wrong people. */
#include "engine/people_csv.h"

#include <errno.h>
#include <iconv.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "engine/csv.h"

/* The required columns, then the optional ones (C_REQUIRED..C_COUNT-1). */
enum col { C_ID, C_NAME, C_KANA, C_EMAILS, C_REGIONS, C_GROUPS, C_REQUIRED,
           C_ATTRS = C_REQUIRED, C_ADDR_STATUS, C_COUNT };

static const char *const col_names[C_COUNT] = {
    "id", "name", "kana", "emails", "regions", "groups", "attributes", "addresses_status",
};

#define MAX_STORED_FIELDS 64    /* a row never needs more; the count goes on */
#define MAX_GROUP_LEN     256

/* ---- value checks ------------------------------------------------------ */

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

bool
anpi_mail_addr_masked(const char *s, size_t len)
{
    size_t stars = 0;
    while (stars < len && s[stars] == '*')
        stars++;
    return stars > 0 && stars < len && s[stars] == '@' && anpi_mail_addr_ok(s, len);
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

int
anpi_jisx0402_check_digit(int code5)
{
    static const int weight[5] = { 2, 3, 4, 5, 6 };   /* from the last digit */
    int sum = 0;
    for (int i = 0; i < 5; i++, code5 /= 10)
        sum += (code5 % 10) * weight[i];
    return (11 - sum % 11) % 10;
}

/* Characters (code points) of UTF-8 text: the bytes that start one. */
static size_t
utf8_chars(const char *s, size_t len)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++)
        if (((unsigned char)s[i] & 0xC0) != 0x80)
            n++;
    return n;
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
    free(r->cities);
    for (size_t i = 0; i < r->ngroups; i++)
        free(r->groups[i]);
    free(r->groups);
    for (size_t i = 0; i < r->nattrs; i++) {
        free(r->attrs[i].key);
        free(r->attrs[i].value);
    }
    free(r->attrs);
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
    p->has_attributes = false;
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
typedef void (*item_fn)(struct anpi_csv_ctx *c, struct anpi_person_row *row, const char *s,
                        size_t len, bool *overflow);

static void
each_item(struct anpi_csv_ctx *c, struct anpi_person_row *row, const char *s, size_t len,
          item_fn fn, const char *col, unsigned max)
{
    bool overflow = false;
    const char *end = s + len;
    while (s <= end) {
        const char *semi = memchr(s, ';', (size_t)(end - s));
        const char *iend = semi ? semi : end;
        const char *it = s;
        size_t n = (size_t)(iend - s);
        anpi_csv_trim(&it, &n);
        if (n)
            fn(c, row, it, n, &overflow);
        if (!semi)
            break;
        s = semi + 1;
    }
    if (overflow)
        anpi_csv_err(c, "line %d: %s: more than %u values", row->line, col, max);
}

static void
add_email(struct anpi_csv_ctx *c, struct anpi_person_row *row, const char *s, size_t len,
          bool *overflow)
{
    char q[ANPI_CSV_QUOTED_MAX * 2];
    if (!anpi_mail_addr_ok(s, len)) {
        anpi_csv_err(c, "line %d: emails: \"%s\" is not a mail address", row->line,
                     anpi_csv_shown(q, sizeof(q), s, len, false));
        return;
    }
    /* an export's "****@domain" in the form the export writes, whatever
     * the number of stars */
    bool masked = anpi_mail_addr_masked(s, len);
    const char *at = memchr(s, '@', len);
    char *e = masked ? anpi_xasprintf("****%.*s", (int)(len - (size_t)(at - s)), at)
                     : anpi_xstrndup(s, len);
    /* domains are case-insensitive: store them lower-case */
    for (char *d = strchr(e, '@'); *d; d++)
        if (*d >= 'A' && *d <= 'Z')
            *d = (char)(*d - 'A' + 'a');
    /* local parts are case-sensitive in theory and never in practice: the
     * same person must not get the same alert twice.  Two masked addresses
     * at one domain are two different addresses. */
    if (!masked && str_in(row->emails, row->nemails, e, true)) {
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
put_code(int *list, size_t *n, int code, bool *overflow)
{
    for (size_t i = 0; i < *n; i++)
        if (list[i] == code)
            return;
    if (*n == ANPI_PEOPLE_CSV_MAX_VALUES) {
        *overflow = true;
        return;
    }
    list[(*n)++] = code;
}

/* A JIS X 0402 municipality code, 5 digits or 6 with the check digit.
 * Returns the 5-digit code, or 0 after reporting why not. */
static int
city_code(struct anpi_csv_ctx *c, int line, const char *s, size_t len)
{
    int v = 0;
    for (size_t i = 0; i < 5; i++)
        v = v * 10 + (s[i] - '0');
    int pref = v / 1000;
    if (pref < 1 || pref > 47) {
        anpi_csv_err(c, "line %d: regions: \"%.*s\" is not a municipality code (JIS X 0402): "
                     "there is no prefecture %02d", line, (int)len, s, pref);
        return 0;
    }
    if (len == 6) {
        int want = anpi_jisx0402_check_digit(v);
        if (s[5] - '0' != want) {
            anpi_csv_err(c, "line %d: regions: \"%.*s\" has a wrong check digit (JIS X 0402: "
                         "%05d takes %d)", line, (int)len, s, v, want);
            return 0;
        }
    }
    return v;
}

static bool
all_digits(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

static void
add_region(struct anpi_csv_ctx *c, struct anpi_person_row *row, const char *s, size_t len,
           bool *overflow)
{
    char q[ANPI_CSV_QUOTED_MAX * 2];
    if ((len == 5 || len == 6) && all_digits(s, len)) {
        int city = city_code(c, row->line, s, len);
        if (!city)
            return;
        /* the municipality part 000 is the prefecture's own code */
        if (city % 1000)
            put_code(row->cities, &row->ncities, city, overflow);
        put_code(row->regions, &row->nregions, city / 1000, overflow);
        return;
    }
    int code = anpi_prefecture_code(s, len);
    if (!code) {
        anpi_csv_err(c, "line %d: regions: \"%s\" is not a prefecture code 01-47", row->line,
                     anpi_csv_shown(q, sizeof(q), s, len, false));
        return;
    }
    put_code(row->regions, &row->nregions, code, overflow);
}

static void
add_group(struct anpi_csv_ctx *c, struct anpi_person_row *row, const char *s, size_t len,
          bool *overflow)
{
    char q[ANPI_CSV_QUOTED_MAX * 2];
    const char *why = NULL;
    if (len > MAX_GROUP_LEN)
        why = "is longer than 256 bytes";
    else if (has_control(s, len, false))
        why = "contains a control character";
    else if (s[0] == '/' || s[len - 1] == '/' || memmem(s, len, "//", 2))
        why = "has an empty path segment";
    if (why) {
        anpi_csv_err(c, "line %d: groups: \"%s\" %s", row->line,
                     anpi_csv_shown(q, sizeof(q), s, len, false), why);
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

/* One "key=value" item of the attributes cell. */
static void
add_attr(struct anpi_csv_ctx *c, struct anpi_person_row *row, const char *s, size_t len,
         bool *overflow)
{
    char q[ANPI_CSV_QUOTED_MAX * 2];
    const char *eq = memchr(s, '=', len);
    if (!eq) {
        anpi_csv_err(c, "line %d: attributes: \"%s\" is not key=value", row->line,
                     anpi_csv_shown(q, sizeof(q), s, len, false));
        return;
    }
    const char *k = s, *v = eq + 1;
    size_t klen = (size_t)(eq - s), vlen = len - klen - 1;
    anpi_csv_trim(&k, &klen);
    anpi_csv_trim(&v, &vlen);
    const char *why = NULL;
    if (klen == 0)
        why = "has no key";
    else if (utf8_chars(k, klen) > ANPI_PEOPLE_CSV_MAX_ATTR_KEY)
        why = "has a key longer than 64 characters";
    else if (utf8_chars(v, vlen) > ANPI_PEOPLE_CSV_MAX_ATTR_VALUE)
        why = "has a value longer than 256 characters";
    else if (has_control(k, klen, false) || has_control(v, vlen, false))
        why = "contains a control character";
    if (why) {
        anpi_csv_err(c, "line %d: attributes: \"%s\" %s", row->line,
                     anpi_csv_shown(q, sizeof(q), s, len, false), why);
        return;
    }
    for (size_t i = 0; i < row->nattrs; i++) {
        if (strlen(row->attrs[i].key) == klen && memcmp(row->attrs[i].key, k, klen) == 0) {
            anpi_csv_err(c, "line %d: attributes: key \"%s\" appears twice", row->line,
                         anpi_csv_shown(q, sizeof(q), k, klen, false));
            return;
        }
    }
    if (row->nattrs == ANPI_PEOPLE_CSV_MAX_ATTRS) {
        *overflow = true;
        return;
    }
    row->attrs[row->nattrs].key = anpi_xstrndup(k, klen);
    row->attrs[row->nattrs].value = anpi_xstrndup(v, vlen);
    row->nattrs++;
}

static void
check_row(struct anpi_csv_ctx *c, const struct anpi_csv_record *rec, const int *colidx,
          struct anpi_person_row *row, struct id_index *ix)
{
    char q[ANPI_CSV_QUOTED_MAX * 2];
    const char *s;
    size_t len;

    row->line = rec->line;

    anpi_csv_cell(rec, colidx[C_ID], &s, &len);
    if (len == 0)
        anpi_csv_err(c, "line %d: id: missing", rec->line);
    else if (!anpi_csv_id_ok(s, len))
        anpi_csv_err(c, "line %d: id: \"%s\" must be 1-64 characters of A-Z a-z 0-9 . _ -",
                     rec->line, anpi_csv_shown(q, sizeof(q), s, len, false));
    else {
        row->id = anpi_xstrndup(s, len);
        int first = id_index_add(ix, row->id, rec->line);
        if (first)
            anpi_csv_err(c, "line %d: id: duplicate of line %d", rec->line, first);
    }

    anpi_csv_cell(rec, colidx[C_NAME], &s, &len);
    if (len == 0)
        anpi_csv_err(c, "line %d: name: missing", rec->line);
    else if (has_control(s, len, true))
        anpi_csv_err(c, "line %d: name: contains a control character", rec->line);
    row->name = anpi_xstrndup(s, len);

    anpi_csv_cell(rec, colidx[C_KANA], &s, &len);
    if (has_control(s, len, true))
        anpi_csv_err(c, "line %d: kana: contains a control character", rec->line);
    row->kana = anpi_xstrndup(s, len);

    row->emails = anpi_xcalloc(ANPI_PEOPLE_CSV_MAX_VALUES, sizeof(char *));
    anpi_csv_cell(rec, colidx[C_EMAILS], &s, &len);
    size_t before = c->nerr;
    each_item(c, row, s, len, add_email, "emails", ANPI_PEOPLE_CSV_MAX_VALUES);
    if (row->nemails == 0 && c->nerr == before)
        anpi_csv_err(c, "line %d: emails: at least one mail address is required", rec->line);

    row->regions = anpi_xcalloc(ANPI_PEOPLE_CSV_MAX_VALUES, sizeof(int));
    row->cities = anpi_xcalloc(ANPI_PEOPLE_CSV_MAX_VALUES, sizeof(int));
    anpi_csv_cell(rec, colidx[C_REGIONS], &s, &len);
    each_item(c, row, s, len, add_region, "regions", ANPI_PEOPLE_CSV_MAX_VALUES);

    row->groups = anpi_xcalloc(ANPI_PEOPLE_CSV_MAX_VALUES, sizeof(char *));
    anpi_csv_cell(rec, colidx[C_GROUPS], &s, &len);
    each_item(c, row, s, len, add_group, "groups", ANPI_PEOPLE_CSV_MAX_VALUES);

    if (colidx[C_ATTRS] >= 0) {
        row->attrs = anpi_xcalloc(ANPI_PEOPLE_CSV_MAX_ATTRS, sizeof(*row->attrs));
        anpi_csv_cell(rec, colidx[C_ATTRS], &s, &len);
        each_item(c, row, s, len, add_attr, "attributes", ANPI_PEOPLE_CSV_MAX_ATTRS);
    }
    /* C_ADDR_STATUS: the export's address statuses, which an import does
     * not set (they come from delivery), so ignored */
}

struct parse_state {
    struct anpi_people_csv *out;
    size_t rows_cap;
    struct id_index ix;
    const int *which;           /* enum col of each column of the spec */
    size_t ncolumns;
};

static void
take_row(void *arg, struct anpi_csv_ctx *c, const struct anpi_csv_record *rec,
         const int *colidx)
{
    struct parse_state *st = arg;
    struct anpi_people_csv *out = st->out;
    if (out->nrows == st->rows_cap) {
        st->rows_cap = st->rows_cap ? st->rows_cap * 2 : 64;
        out->rows = anpi_xrealloc(out->rows, st->rows_cap * sizeof(*out->rows));
    }
    struct anpi_person_row *row = &out->rows[out->nrows++];
    memset(row, 0, sizeof(*row));
    int full[C_COUNT];
    for (size_t k = 0; k < C_COUNT; k++)
        full[k] = -1;
    for (size_t k = 0; k < st->ncolumns; k++)
        full[st->which[k]] = colidx[k];
    check_row(c, rec, full, row, &st->ix);
}

/* Which optional columns the header row names.  engine/csv.c wants every
 * column of its spec present, so the spec is made to fit the header: this
 * reads the first non-blank record with the same quoting rules, looking only
 * for the optional names; everything else about the header (unknown,
 * duplicate or missing columns, bad syntax) is still csv.c's to check. */
static void
header_has(const char *data, size_t len, bool *has)
{
    const char *p = data, *end = data + len;
    if (len >= 3 && memcmp(p, "\xEF\xBB\xBF", 3) == 0)
        p += 3;
    /* blank lines come before the header */
    for (;;) {
        if (p < end && *p == '\n')
            p++;
        else if (end - p >= 2 && p[0] == '\r' && p[1] == '\n')
            p += 2;
        else
            break;
    }
    char name[32];
    for (;;) {
        size_t n = 0;
        bool fits = true;
        if (p < end && *p == '"') {
            for (p++; p < end; p++) {
                if (*p == '"') {
                    if (p + 1 < end && p[1] == '"')
                        p++;
                    else {
                        p++;
                        break;
                    }
                }
                if (n < sizeof(name))
                    name[n++] = *p;
                else
                    fits = false;
            }
        }
        while (p < end && *p != ',' && *p != '\n') {
            if (n < sizeof(name))
                name[n++] = *p;
            else
                fits = false;
            p++;
        }
        const char *s = name;
        anpi_csv_trim(&s, &n);
        for (int k = C_REQUIRED; fits && k < C_COUNT; k++)
            if (strlen(col_names[k]) == n && strncasecmp(col_names[k], s, n) == 0)
                has[k] = true;
        if (p >= end || *p == '\n')
            return;
        p++;                    /* the ',' */
    }
}

int
anpi_people_csv_parse(const char *data, size_t len, struct anpi_people_csv *out,
                      struct anpi_errors *errs)
{
    bool has[C_COUNT] = { false };
    const char *cols[C_COUNT];
    int which[C_COUNT];
    size_t ncols = 0;
    if (len <= ANPI_PEOPLE_CSV_MAX_INPUT)
        header_has(data, len, has);
    for (int k = 0; k < C_COUNT; k++) {
        if (k < C_REQUIRED || has[k]) {
            cols[ncols] = col_names[k];
            which[ncols++] = k;
        }
    }
    const struct anpi_csv_spec spec = {
        .columns = cols,
        .ncolumns = ncols,
        .max_input = ANPI_PEOPLE_CSV_MAX_INPUT,
        .max_rows = ANPI_PEOPLE_CSV_MAX_ROWS,
        .max_field = ANPI_PEOPLE_CSV_MAX_FIELD,
        .max_stored_fields = MAX_STORED_FIELDS,
    };
    struct anpi_csv_ctx c = { .errs = errs, .max_errors = ANPI_PEOPLE_CSV_MAX_ERRORS };
    struct parse_state st = { .out = out, .which = which, .ncolumns = ncols };
    out->nrows = 0;
    out->rows = NULL;
    out->has_attributes = has[C_ATTRS];

    int rc = anpi_csv_read(&spec, data, len, &c, take_row, &st);
    free(st.ix.key);
    free(st.ix.line);
    if (rc != ANPI_OK) {
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
        size_t w = s[i] == 0 ? 0 : anpi_csv_utf8_seq(s + i, len - i);
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
    struct anpi_csv_ctx c = { .errs = errs, .max_errors = ANPI_PEOPLE_CSV_MAX_ERRORS };
    *out = NULL;
    *outlen = 0;
    *encoding = NULL;
    if (len > ANPI_PEOPLE_CSV_MAX_INPUT) {
        anpi_csv_err(&c, "line 1: input is %zu bytes, over the limit of %u bytes", len,
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
        anpi_csv_err(&c, "line 1: invalid UTF-8, and Shift_JIS (CP932) conversion is not available "
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
            anpi_csv_err(&c, "line 1: Shift_JIS conversion overflowed");
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
        anpi_csv_err(&c, "line %d: garbled text: neither UTF-8 nor Shift_JIS (byte 0x%02X at "
                     "byte %zu of the line)", line, (unsigned)(unsigned char)*in,
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
    anpi_csv_note_unlisted(&c);
    if (c.nerr == 0 && n > ANPI_PEOPLE_CSV_MAX_INPUT)
        anpi_csv_err(&c, "line 1: input is %zu bytes as UTF-8, over the limit of %u bytes", n,
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
    out->has_attributes = false;
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
