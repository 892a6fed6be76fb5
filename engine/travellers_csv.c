/* travellers_csv.c - the traveller registry CSV parser.
 *
 * The UTF-8 scan, the RFC 4180 records and the header are engine/csv.c's
 * (shared with people_csv.c); this file checks the cells of each row.
 * Every error is collected; rows are handed out only when there was
 * none, because a half-imported registry means a traveller who is abroad is
 * not asked whether they are safe. */
#include "engine/travellers_csv.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "engine/csv.h"

enum col { C_PERSON, C_COUNTRY, C_FROM, C_TO, C_COUNT };

static const char *const col_names[C_COUNT] = { "person_id", "country", "from", "to" };

#define MAX_STORED_FIELDS 16    /* a row never needs more; the count goes on */
#define MAX_TRIP_YEARS    2

/* ---- value checks ------------------------------------------------------ */

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

static bool
check_date(struct anpi_csv_ctx *c, const struct anpi_csv_record *rec, const int *colidx,
           enum col col, struct date *d, char out[11])
{
    char q[ANPI_CSV_QUOTED_MAX * 2];
    const char *s;
    size_t len;
    anpi_csv_cell(rec, colidx[col], &s, &len);
    if (len == 0) {
        anpi_csv_err(c, "line %d: %s: missing", rec->line, col_names[col]);
        return false;
    }
    const char *why = parse_date(s, len, d);
    if (why) {
        anpi_csv_err(c, "line %d: %s: \"%s\": %s", rec->line, col_names[col],
                     anpi_csv_shown(q, sizeof(q), s, len, true), why);
        return false;
    }
    memcpy(out, s, 10);
    out[10] = '\0';
    return true;
}

static void
check_row(struct anpi_csv_ctx *c, const struct anpi_csv_record *rec, const int *colidx,
          struct anpi_trip_row *row)
{
    char q[ANPI_CSV_QUOTED_MAX * 2];
    const char *s;
    size_t len;

    row->line = rec->line;

    anpi_csv_cell(rec, colidx[C_PERSON], &s, &len);
    if (len == 0)
        anpi_csv_err(c, "line %d: person_id: missing", rec->line);
    else if (!anpi_csv_id_ok(s, len))
        anpi_csv_err(c, "line %d: person_id: \"%s\" must be 1-64 characters of A-Z a-z 0-9 . _ -",
                     rec->line, anpi_csv_shown(q, sizeof(q), s, len, true));
    else
        row->person_id = anpi_xstrndup(s, len);

    anpi_csv_cell(rec, colidx[C_COUNTRY], &s, &len);
    if (len == 0)
        anpi_csv_err(c, "line %d: country: missing", rec->line);
    else if (!anpi_iso3166_alpha2_ok(s, len))
        anpi_csv_err(c, "line %d: country: \"%s\" is not an ISO 3166-1 alpha-2 country code "
                     "(like PE or TH)", rec->line, anpi_csv_shown(q, sizeof(q), s, len, true));
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
        anpi_csv_err(c, "line %d: to: %s is before from (%s)", rec->line, row->to, row->from);
        return;
    }
    /* the same day MAX_TRIP_YEARS later (29 February: the 28th) */
    int ly = from.y + MAX_TRIP_YEARS;
    int ld = from.d <= days_in_month(ly, from.m) ? from.d : days_in_month(ly, from.m);
    if (dt > days_from_civil(ly, from.m, ld))
        anpi_csv_err(c, "line %d: to: the trip from %s to %s is longer than %d years", rec->line,
                     row->from, row->to, MAX_TRIP_YEARS);
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

struct parse_state {
    struct anpi_travellers_csv *out;
    size_t rows_cap;
};

static void
take_row(void *arg, struct anpi_csv_ctx *c, const struct anpi_csv_record *rec,
         const int *colidx)
{
    struct parse_state *st = arg;
    struct anpi_travellers_csv *out = st->out;
    if (out->nrows == st->rows_cap) {
        st->rows_cap = st->rows_cap ? st->rows_cap * 2 : 64;
        out->rows = anpi_xrealloc(out->rows, st->rows_cap * sizeof(*out->rows));
    }
    struct anpi_trip_row *row = &out->rows[out->nrows++];
    memset(row, 0, sizeof(*row));
    check_row(c, rec, colidx, row);
}

int
anpi_travellers_csv_parse(const char *data, size_t len, struct anpi_travellers_csv *out,
                          struct anpi_errors *errs)
{
    static const struct anpi_csv_spec spec = {
        .columns = col_names,
        .ncolumns = C_COUNT,
        .max_input = ANPI_TRAVELLERS_CSV_MAX_INPUT,
        .max_rows = ANPI_TRAVELLERS_CSV_MAX_ROWS,
        .max_field = ANPI_TRAVELLERS_CSV_MAX_FIELD,
        .max_stored_fields = MAX_STORED_FIELDS,
        .mask_bad_utf8 = true,
    };
    struct anpi_csv_ctx c = { .errs = errs, .max_errors = ANPI_TRAVELLERS_CSV_MAX_ERRORS };
    struct parse_state st = { .out = out };
    out->nrows = 0;
    out->rows = NULL;

    if (anpi_csv_read(&spec, data, len, &c, take_row, &st) != ANPI_OK) {
        anpi_travellers_csv_free(out);
        return ANPI_EPARSE;
    }
    return ANPI_OK;
}
