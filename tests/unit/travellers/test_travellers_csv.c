/* test_travellers_csv.c - the traveller registry CSV: columns in any order,
 * quoting, BOM/CRLF, countries, dates and trip lengths, every error with its
 * line and column, all-or-nothing, limits. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "engine/buf.h"
#include "engine/travellers_csv.h"

struct parsed {
    int rc;
    struct anpi_travellers_csv t;
    struct anpi_errors errs;
};

static void
parse(struct parsed *p, const char *text)
{
    memset(p, 0, sizeof(*p));
    p->rc = anpi_travellers_csv_parse(text, strlen(text), &p->t, &p->errs);
}

static void
done(struct parsed *p)
{
    anpi_travellers_csv_free(&p->t);
    anpi_errors_free(&p->errs);
}

static void
dump(const struct parsed *p)
{
    for (size_t i = 0; i < p->errs.n; i++)
        print_message("# %s\n", p->errs.msg[i]);
}

static void
expect_error(const struct parsed *p, const char *want)
{
    for (size_t i = 0; i < p->errs.n; i++)
        if (strcmp(p->errs.msg[i], want) == 0)
            return;
    print_message("# wanted: %s\n", want);
    dump(p);
    fail();
}

/* text produces exactly this one error, and no rows */
static void
expect_only(const char *text, const char *want)
{
    struct parsed p;
    parse(&p, text);
    assert_int_equal(p.rc, ANPI_EPARSE);
    assert_int_equal(p.t.nrows, 0);
    assert_null(p.t.rows);
    expect_error(&p, want);
    if (p.errs.n != 1)
        dump(&p);
    assert_int_equal(p.errs.n, 1);
    done(&p);
}

static void
test_good(void **state)
{
    (void)state;
    struct parsed p;
    parse(&p, "\xEF\xBB\xBF" "person_id,country,from,to\r\n"
              "E0001,PE,2024-03-01,2024-03-15\r\n"
              "\r\n"
              "  e.0002_x-y , th ,2024-02-29,2024-02-29\r\n"
              "\"E0001\",\"US\",\"2024-04-01\",\"2026-04-01\"\r\n"
              "E0003,\xE3\x80\x80" "FR\xE3\x80\x80,2023-12-31,2024-01-01");
    if (p.rc)
        dump(&p);
    assert_int_equal(p.rc, 0);
    assert_int_equal(p.errs.n, 0);
    assert_int_equal(p.t.nrows, 4);
    const struct anpi_trip_row *r = p.t.rows;
    assert_int_equal(r[0].line, 2);
    assert_string_equal(r[0].person_id, "E0001");
    assert_string_equal(r[0].country, "PE");
    assert_string_equal(r[0].from, "2024-03-01");
    assert_string_equal(r[0].to, "2024-03-15");
    assert_int_equal(r[1].line, 4);
    assert_string_equal(r[1].person_id, "e.0002_x-y");
    assert_string_equal(r[1].country, "TH");          /* upper-cased */
    assert_string_equal(r[1].from, "2024-02-29");      /* leap day */
    assert_int_equal(r[2].line, 5);                    /* a person may travel twice */
    assert_string_equal(r[2].person_id, "E0001");
    assert_string_equal(r[2].to, "2026-04-01");        /* exactly two years: fine */
    assert_string_equal(r[3].country, "FR");          /* U+3000 trimmed */
    done(&p);

    /* columns in another order, header case-insensitive, LF only */
    parse(&p, "To,FROM,Country,person_id\n2024-05-02,2024-05-01,jp,P1\n");
    assert_int_equal(p.rc, 0);
    assert_int_equal(p.t.nrows, 1);
    assert_string_equal(p.t.rows[0].person_id, "P1");
    assert_string_equal(p.t.rows[0].country, "JP");
    assert_string_equal(p.t.rows[0].from, "2024-05-01");
    assert_string_equal(p.t.rows[0].to, "2024-05-02");
    done(&p);

    /* a header alone is an empty registry */
    parse(&p, "person_id,country,from,to\n");
    assert_int_equal(p.rc, 0);
    assert_int_equal(p.t.nrows, 0);
    done(&p);
}

static void
test_countries(void **state)
{
    (void)state;
    const char *ok[] = { "AD", "AX", "BQ", "CW", "EH", "GB", "JP", "KP", "PS", "SS", "SX",
                         "TW", "UM" };
    for (size_t i = 0; i < ANPI_ARRAY_LEN(ok); i++)
        assert_true(anpi_iso3166_alpha2_ok(ok[i], 2));
    assert_true(anpi_iso3166_alpha2_ok("zw", 2));
    assert_true(anpi_iso3166_alpha2_ok("aD", 2));
    /* user-assigned, withdrawn, reserved or not codes at all */
    const char *bad[] = { "XK", "UK", "EU", "AN", "YU", "CS", "ZZ", "AA", "QM", "J1", "J", "JPN" };
    for (size_t i = 0; i < ANPI_ARRAY_LEN(bad); i++)
        assert_false(anpi_iso3166_alpha2_ok(bad[i], strlen(bad[i])));
    /* all 676 pairs: exactly 249 are assigned */
    int n = 0;
    for (char a = 'A'; a <= 'Z'; a++)
        for (char b = 'A'; b <= 'Z'; b++) {
            char s[2] = { a, b };
            n += anpi_iso3166_alpha2_ok(s, 2);
        }
    assert_int_equal(n, 249);

    expect_only("person_id,country,from,to\nP1,UK,2024-01-01,2024-01-02\n",
                "line 2: country: \"UK\" is not an ISO 3166-1 alpha-2 country code (like PE or TH)");
    expect_only("person_id,country,from,to\nP1,JPN,2024-01-01,2024-01-02\n",
                "line 2: country: \"JPN\" is not an ISO 3166-1 alpha-2 country code (like PE or TH)");
    expect_only("person_id,country,from,to\nP1,,2024-01-01,2024-01-02\n",
                "line 2: country: missing");
}

static void
test_dates(void **state)
{
    (void)state;
#define H "person_id,country,from,to\n"
    expect_only(H "P1,PE,2023-02-29,2023-03-01\n",
                "line 2: from: \"2023-02-29\": no such day in that month");
    expect_only(H "P1,PE,1900-02-29,1900-03-01\n",
                "line 2: from: \"1900-02-29\": no such day in that month");
    expect_only(H "P1,PE,2024-04-01,2024-04-31\n",
                "line 2: to: \"2024-04-31\": no such day in that month");
    expect_only(H "P1,PE,2024-13-01,2024-12-01\n", "line 2: from: \"2024-13-01\": no such month");
    expect_only(H "P1,PE,2024-00-10,2024-12-01\n", "line 2: from: \"2024-00-10\": no such month");
    expect_only(H "P1,PE,2024-01-00,2024-12-01\n",
                "line 2: from: \"2024-01-00\": no such day in that month");
    expect_only(H "P1,PE,2024/01/05,2024-12-01\n",
                "line 2: from: \"2024/01/05\": expected a date YYYY-MM-DD");
    expect_only(H "P1,PE,2024-1-5,2024-12-01\n",
                "line 2: from: \"2024-1-5\": expected a date YYYY-MM-DD");
    expect_only(H "P1,PE,2024-01-05T00:00,2024-12-01\n",
                "line 2: from: \"2024-01-05T00:00\": expected a date YYYY-MM-DD");
    expect_only(H "P1,PE,+024-01-05,2024-12-01\n",
                "line 2: from: \"+024-01-05\": expected a date YYYY-MM-DD");
    expect_only(H "P1,PE,1899-12-31,1900-01-01\n", "line 2: from: \"1899-12-31\": year before 1900");
    expect_only(H "P1,PE,2024-01-01,\n", "line 2: to: missing");
    expect_only(H "P1,PE,2024-03-02,2024-03-01\n",
                "line 2: to: 2024-03-01 is before from (2024-03-02)");
    expect_only(H "P1,PE,2024-03-01,2026-03-02\n",
                "line 2: to: the trip from 2024-03-01 to 2026-03-02 is longer than 2 years");
    /* from a leap day, two years later is 28 February */
    expect_only(H "P1,PE,2024-02-29,2026-03-01\n",
                "line 2: to: the trip from 2024-02-29 to 2026-03-01 is longer than 2 years");
    struct parsed p;
    parse(&p, H "P1,PE,2024-02-29,2026-02-28\nP2,PE,2023-12-31,2025-12-31\n");
    assert_int_equal(p.rc, 0);
    assert_int_equal(p.t.nrows, 2);
    done(&p);
}

static void
test_ids(void **state)
{
    (void)state;
    expect_only(H "P 1,PE,2024-01-01,2024-01-02\n",
                "line 2: person_id: \"P 1\" must be 1-64 characters of A-Z a-z 0-9 . _ -");
    expect_only(H "試験太郎,PE,2024-01-01,2024-01-02\n",
                "line 2: person_id: \"試験太郎\" must be 1-64 characters of A-Z a-z 0-9 . _ -");
    expect_only(H ",PE,2024-01-01,2024-01-02\n", "line 2: person_id: missing");
    char id[66];
    memset(id, 'a', 65);
    id[65] = '\0';
    char *text = anpi_xasprintf(H "%s,PE,2024-01-01,2024-01-02\n", id);
    char *want = anpi_xasprintf("line 2: person_id: \"%.60s...\" must be 1-64 characters of "
                                "A-Z a-z 0-9 . _ -", id);
    expect_only(text, want);
    free(text);
    free(want);
    id[64] = '\0';
    struct parsed p;
    text = anpi_xasprintf(H "%s,PE,2024-01-01,2024-01-02\n", id);
    parse(&p, text);
    assert_int_equal(p.rc, 0);
    assert_string_equal(p.t.rows[0].person_id, id);
    done(&p);
    free(text);
}

static void
test_header(void **state)
{
    (void)state;
    struct parsed p;
    parse(&p, "person_id,country,from,until,note\nP1,PE,2024-01-01,2024-01-02,x\n");
    assert_int_equal(p.rc, ANPI_EPARSE);
    expect_error(&p, "line 1: unknown column \"until\" (expected person_id, country, from, to)");
    expect_error(&p, "line 1: unknown column \"note\" (expected person_id, country, from, to)");
    expect_error(&p, "line 1: missing column \"to\"");
    assert_int_equal(p.errs.n, 3);
    done(&p);
    expect_only("person_id,country,from,to,country\n",
                "line 1: column \"country\" appears twice");
    expect_only("person_id,country,,from,to\n", "line 1: column 3 has no name");
    expect_only("", "line 1: empty input: expected a header row person_id,country,from,to");
    expect_only("\n\n", "line 1: empty input: expected a header row person_id,country,from,to");
}

static void
test_syntax(void **state)
{
    (void)state;
    expect_only(H "P1,PE,2024-01-01,2024-01-02,extra\n", "line 2: expected 4 fields, found 5");
    expect_only(H "P1,PE,2024-01-01\n", "line 2: expected 4 fields, found 3");
    expect_only(H "P1,P\"E,2024-01-01,2024-01-02\n",
                "line 2: country: quote inside an unquoted field (quote the whole field and "
                "double the quote)");
    expect_only(H "P1,\"PE\"x,2024-01-01,2024-01-02\n",
                "line 2: country: text after the closing quote");
    expect_only(H "P1,PE,2024-01-01,\"2024-01-02\n",
                "line 2: to: quoted field is not closed");
    expect_only(H "P1,PE\r,2024-01-01,2024-01-02\n",
                "line 2: country: carriage return not followed by a line feed");
    struct parsed p;
    /* bad bytes in a value: reported once as encoding, once as a value */
    parse(&p, H "P1,\xc0\xaf,2024-01-01,2024-01-02\n");     /* overlong '/' */
    expect_error(&p, "line 2: invalid UTF-8");
    expect_error(&p, "line 2: country: \"??\" is not an ISO 3166-1 alpha-2 country code (like "
                     "PE or TH)");
    assert_int_equal(p.errs.n, 2);
    done(&p);
    /* a quoted line break moves the line count on */
    parse(&p, H "\"P\n1\",PE,2024-01-01,2024-01-02\nP2,XX,2024-01-01,2024-01-02\n");
    expect_error(&p, "line 2: person_id: \"P?1\" must be 1-64 characters of A-Z a-z 0-9 . _ -");
    expect_error(&p, "line 4: country: \"XX\" is not an ISO 3166-1 alpha-2 country code (like PE "
                     "or TH)");
    assert_int_equal(p.errs.n, 2);
    done(&p);
    /* NUL bytes need the length, not strlen */
    static const char nul[] = H "P1,P\0E,2024-01-01,2024-01-02\n";
    memset(&p, 0, sizeof(p));
    p.rc = anpi_travellers_csv_parse(nul, sizeof(nul) - 1, &p.t, &p.errs);
    assert_int_equal(p.rc, ANPI_EPARSE);
    expect_error(&p, "line 2: contains a NUL byte");
    done(&p);
}

/* One bad row among good ones: nothing is handed out, every error listed. */
static void
test_all_or_nothing(void **state)
{
    (void)state;
    struct parsed p;
    parse(&p, H "P1,PE,2024-01-01,2024-01-02\nP2,ZZ,2024-02-30,2024-01-02\n"
                "P3,TH,2024-01-01,2024-01-02\nP 4,TH,2024-01-01,2023-01-02\n");
    assert_int_equal(p.rc, ANPI_EPARSE);
    assert_int_equal(p.t.nrows, 0);
    assert_null(p.t.rows);
    expect_error(&p, "line 3: country: \"ZZ\" is not an ISO 3166-1 alpha-2 country code (like "
                     "PE or TH)");
    expect_error(&p, "line 3: from: \"2024-02-30\": no such day in that month");
    expect_error(&p, "line 5: person_id: \"P 4\" must be 1-64 characters of A-Z a-z 0-9 . _ -");
    expect_error(&p, "line 5: to: 2023-01-02 is before from (2024-01-01)");
    assert_int_equal(p.errs.n, 4);
    done(&p);
}

static void
test_limits(void **state)
{
    (void)state;
    struct parsed p;
    /* over the byte limit: refused before looking inside */
    size_t big = ANPI_TRAVELLERS_CSV_MAX_INPUT + 1;
    char *data = malloc(big);
    memset(data, 'a', big);
    memset(&p, 0, sizeof(p));
    p.rc = anpi_travellers_csv_parse(data, big, &p.t, &p.errs);
    assert_int_equal(p.rc, ANPI_EPARSE);
    expect_error(&p, "line 1: input is 10485761 bytes, over the limit of 10485760 bytes");
    done(&p);
    free(data);

    /* 200,000 rows are fine, one more is not */
    struct anpi_buf b;
    anpi_buf_init(&b, ANPI_TRAVELLERS_CSV_MAX_INPUT);
    anpi_buf_puts(&b, H);
    for (unsigned i = 0; i < ANPI_TRAVELLERS_CSV_MAX_ROWS; i++)
        assert_int_equal(anpi_buf_printf(&b, "E%u,PE,2024-01-01,2024-01-02\n", i), 0);
    memset(&p, 0, sizeof(p));
    p.rc = anpi_travellers_csv_parse(b.data, b.len, &p.t, &p.errs);
    assert_int_equal(p.rc, 0);
    assert_int_equal(p.t.nrows, ANPI_TRAVELLERS_CSV_MAX_ROWS);
    assert_string_equal(p.t.rows[ANPI_TRAVELLERS_CSV_MAX_ROWS - 1].person_id, "E199999");
    done(&p);
    anpi_buf_puts(&b, "X,PE,2024-01-01,2024-01-02\n");
    memset(&p, 0, sizeof(p));
    p.rc = anpi_travellers_csv_parse(b.data, b.len, &p.t, &p.errs);
    assert_int_equal(p.rc, ANPI_EPARSE);
    expect_error(&p, "line 200002: more than 200000 rows");
    assert_int_equal(p.t.nrows, 0);
    done(&p);
    anpi_buf_free(&b);

    /* a huge field is cut off at the field cap with one error */
    anpi_buf_init(&b, 1024 * 1024);
    anpi_buf_puts(&b, H "P1,PE,2024-01-01,");
    for (int i = 0; i < 5000; i++)
        anpi_buf_putc(&b, '2');
    anpi_buf_puts(&b, "\n");
    memset(&p, 0, sizeof(p));
    p.rc = anpi_travellers_csv_parse(b.data, b.len, &p.t, &p.errs);
    assert_int_equal(p.rc, ANPI_EPARSE);
    expect_error(&p, "line 2: to: field longer than 4096 bytes");
    assert_int_equal(p.errs.n, 1);
    done(&p);
    anpi_buf_free(&b);

    /* errors beyond 1000 are counted, not listed */
    anpi_buf_init(&b, 1024 * 1024);
    anpi_buf_puts(&b, H);
    for (int i = 0; i < 1500; i++)
        anpi_buf_printf(&b, "P%d,ZZ,2024-01-01,2024-01-02\n", i);
    memset(&p, 0, sizeof(p));
    p.rc = anpi_travellers_csv_parse(b.data, b.len, &p.t, &p.errs);
    assert_int_equal(p.rc, ANPI_EPARSE);
    assert_int_equal(p.errs.n, 1001);
    assert_string_equal(p.errs.msg[1000], "500 more errors not listed");
    done(&p);
    anpi_buf_free(&b);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good),
        cmocka_unit_test(test_countries),
        cmocka_unit_test(test_dates),
        cmocka_unit_test(test_ids),
        cmocka_unit_test(test_header),
        cmocka_unit_test(test_syntax),
        cmocka_unit_test(test_all_or_nothing),
        cmocka_unit_test(test_limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
