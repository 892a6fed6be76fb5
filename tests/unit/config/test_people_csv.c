/* test_people_csv.c - the directory CSV parser: a good export with every
 * quoting feature, each error kind with its exact message, many errors at
 * once, and the size limits. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "engine/buf.h"
#include "engine/people_csv.h"

#define HEADER "id,name,kana,emails,regions,groups\n"

struct parsed {
    int rc;
    struct anpi_people_csv out;
    struct anpi_errors errs;
};

static void
parse_n(struct parsed *p, const char *data, size_t len)
{
    memset(p, 0, sizeof(*p));
    p->rc = anpi_people_csv_parse(data, len, &p->out, &p->errs);
}

static void
parse(struct parsed *p, const char *data)
{
    parse_n(p, data, strlen(data));
}

static void
done(struct parsed *p)
{
    anpi_people_csv_free(&p->out);
    anpi_errors_free(&p->errs);
}

static void
dump(const struct parsed *p)
{
    for (size_t i = 0; i < p->errs.n; i++)
        print_message("# %s\n", p->errs.msg[i]);
}

static void
expect_error(const struct parsed *p, const char *msg)
{
    for (size_t i = 0; i < p->errs.n; i++)
        if (strcmp(p->errs.msg[i], msg) == 0)
            return;
    print_message("# wanted: %s\n", msg);
    dump(p);
    fail();
}

/* data must fail with exactly this one error, and leave nothing behind */
static void
expect_only(const char *data, const char *msg)
{
    struct parsed p;
    parse(&p, data);
    assert_int_equal(p.rc, ANPI_EPARSE);
    assert_int_equal(p.out.nrows, 0);
    assert_null(p.out.rows);
    expect_error(&p, msg);
    if (p.errs.n != 1)
        dump(&p);
    assert_int_equal(p.errs.n, 1);
    done(&p);
}

static void
test_good(void **state)
{
    (void)state;
    /* BOM, CRLF, columns in another order, quoted commas, a quoted line
     * break, "" escapes, white space around ';', a duplicate address with
     * another case in the domain, prefecture names and codes, a blank line */
    const char *csv =
        "\xEF\xBB\xBF" "emails,id,name,kana,regions,groups\r\n"
        "\"taro@example.jp; TARO@Example.JP ;taro.m@mobile.example.jp\",u001,"
        "\"試験, 太郎\",シケン タロウ,13;01; 東京都 ,\"本省/大臣官房;\n 支社/大阪\"\r\n"
        "\r\n"
        "hanako@example.jp,u-002,\"試験 \"\"花子\"\"\",,47,\r\n"
        "\"jiro@example.jp\",x.3_Z,\"試験\n次郎\",,,本省\r\n";
    struct parsed p;
    parse(&p, csv);
    if (p.rc)
        dump(&p);
    assert_int_equal(p.rc, 0);
    assert_int_equal(p.errs.n, 0);
    assert_int_equal(p.out.nrows, 3);

    const struct anpi_person_row *r = &p.out.rows[0];
    assert_int_equal(r->line, 2);
    assert_string_equal(r->id, "u001");
    assert_string_equal(r->name, "試験, 太郎");
    assert_string_equal(r->kana, "シケン タロウ");
    assert_int_equal(r->nemails, 2);
    assert_string_equal(r->emails[0], "taro@example.jp");
    assert_string_equal(r->emails[1], "taro.m@mobile.example.jp");
    assert_int_equal(r->nregions, 2);
    assert_int_equal(r->regions[0], 13);
    assert_int_equal(r->regions[1], 1);
    assert_int_equal(r->ngroups, 2);
    assert_string_equal(r->groups[0], "本省/大臣官房");
    assert_string_equal(r->groups[1], "支社/大阪");

    r = &p.out.rows[1];
    assert_int_equal(r->line, 5);   /* row 1 spans lines 2-3, line 4 is blank */
    assert_string_equal(r->id, "u-002");
    assert_string_equal(r->name, "試験 \"花子\"");
    assert_string_equal(r->kana, "");
    assert_int_equal(r->nregions, 1);
    assert_int_equal(r->regions[0], 47);
    assert_int_equal(r->ngroups, 0);

    r = &p.out.rows[2];
    assert_int_equal(r->line, 6);
    assert_string_equal(r->id, "x.3_Z");
    assert_string_equal(r->name, "試験\n次郎");  /* CRLF inside quotes becomes LF */
    assert_int_equal(r->nregions, 0);
    assert_string_equal(r->groups[0], "本省");
    done(&p);

    /* LF only, no final newline, carrier-style local parts */
    parse(&p, HEADER "a1,試験 太郎,,\"taro..x.@docomo.example.jp\",1,g");
    if (p.rc)
        dump(&p);
    assert_int_equal(p.rc, 0);
    assert_int_equal(p.out.nrows, 1);
    assert_string_equal(p.out.rows[0].emails[0], "taro..x.@docomo.example.jp");
    assert_string_equal(p.out.rows[0].groups[0], "g");
    done(&p);

    /* a header alone is an empty directory, not an error */
    parse(&p, HEADER);
    assert_int_equal(p.rc, 0);
    assert_int_equal(p.out.nrows, 0);
    done(&p);
}

static void
test_errors(void **state)
{
    (void)state;
    expect_only(HEADER "u1,試験 太郎,,taro@,13,g\n",
                "line 2: emails: \"taro@\" is not a mail address");
    expect_only(HEADER "u1,試験 太郎,,\"taro @example.jp\",13,g\n",
                "line 2: emails: \"taro @example.jp\" is not a mail address");
    expect_only(HEADER "u1,試験 太郎,,taro@localhost,13,g\n",
                "line 2: emails: \"taro@localhost\" is not a mail address");
    expect_only(HEADER "u1,試験 太郎,,taro@a@example.jp,13,g\n",
                "line 2: emails: \"taro@a@example.jp\" is not a mail address");
    expect_only(HEADER "u1,試験 太郎,,;,13,g\n",
                "line 2: emails: at least one mail address is required");
    expect_only(HEADER "u1,試験 太郎,,t@example.jp,48,g\n",
                "line 2: regions: \"48\" is not a prefecture code 01-47");
    expect_only(HEADER "u1,試験 太郎,,t@example.jp,00,g\n",
                "line 2: regions: \"00\" is not a prefecture code 01-47");
    expect_only(HEADER "u1,試験 太郎,,t@example.jp,013,g\n",
                "line 2: regions: \"013\" is not a prefecture code 01-47");
    expect_only(HEADER "u1,試験 太郎,,t@example.jp,東京,g\n",
                "line 2: regions: \"東京\" is not a prefecture code 01-47");
    expect_only(HEADER "u1,a,,a@example.jp,,\nu2,b,,b@example.jp,,\nu1,c,,c@example.jp,,\n",
                "line 4: id: duplicate of line 2");
    expect_only(HEADER "u1,試験 太郎,,t@example.jp,13\n", "line 2: expected 6 fields, found 5");
    expect_only(HEADER "u1,試験 太郎,,t@example.jp,13,g,x\n",
                "line 2: expected 6 fields, found 7");
    expect_only(HEADER "u1,試験 \xff太郎,,t@example.jp,13,g\n", "line 2: invalid UTF-8");
    expect_only(HEADER "u1,\xe8\xa9,,t@example.jp,13,g\n", "line 2: invalid UTF-8");
    expect_only(HEADER "u1,\xed\xa0\x80,,t@example.jp,13,g\n", "line 2: invalid UTF-8");
    expect_only(HEADER "u1,\xc0\xaf,,t@example.jp,13,g\n", "line 2: invalid UTF-8");
    expect_only(HEADER "u 1,試験 太郎,,t@example.jp,13,g\n",
                "line 2: id: \"u 1\" must be 1-64 characters of A-Z a-z 0-9 . _ -");
    expect_only(HEADER ",試験 太郎,,t@example.jp,13,g\n", "line 2: id: missing");
    expect_only(HEADER "u1, ,,t@example.jp,13,g\n", "line 2: name: missing");
    expect_only(HEADER "u1,\"a\tb\",,t@example.jp,13,g\n",
                "line 2: name: contains a control character");
    expect_only(HEADER "u1,a,,t@example.jp,13,本省//大臣官房\n",
                "line 2: groups: \"本省//大臣官房\" has an empty path segment");
    expect_only(HEADER "u1,a,,t@example.jp,13,/本省\n",
                "line 2: groups: \"/本省\" has an empty path segment");
    expect_only(HEADER "u1,a\"b,,t@example.jp,13,g\n",
                "line 2: name: quote inside an unquoted field (quote the whole field and "
                "double the quote)");
    expect_only(HEADER "u1,\"a\"b,,t@example.jp,13,g\n",
                "line 2: name: text after the closing quote");
    expect_only(HEADER "u1,a,,t@example.jp,13,\"g\n\n",
                "line 2: groups: quoted field is not closed");
    expect_only(HEADER "u1,a\rb,,t@example.jp,13,g\n",
                "line 2: name: carriage return not followed by a line feed");
    expect_only("id,name,kana,emails,regions,groups,dept\n",
                "line 1: unknown column \"dept\" (expected id, name, kana, emails, regions, "
                "groups)");
    expect_only("id,name,kana,emails,regions\n", "line 1: missing column \"groups\"");
    expect_only("id,name,kana,emails,regions,groups,id\n", "line 1: column \"id\" appears twice");
    expect_only("", "line 1: empty input: expected a header row id,name,kana,emails,regions,groups");
    expect_only("\n\n", "line 1: empty input: expected a header row id,name,kana,emails,regions,"
                "groups");

    struct parsed p;
    const char nul[] = HEADER "u1,a\0b,,t@example.jp,13,g\n";
    parse_n(&p, nul, sizeof(nul) - 1);
    assert_int_equal(p.rc, ANPI_EPARSE);
    expect_error(&p, "line 2: contains a NUL byte");
    done(&p);
}

static void
test_many_errors(void **state)
{
    (void)state;
    struct parsed p;
    parse(&p, HEADER
          "u1,試験 太郎,シケン タロウ,taro@example.jp,13,本省\n"      /* fine */
          "u2,試験 花子,,hanako@,48,本省\n"                         /* 2 errors */
          "u3,試験 次郎,,jiro@example.jp,13\n"                      /* short */
          "u1,試験 三郎,,saburo@example.jp,13,本省\n"               /* dup id */
          "u5,\xff,,goro@example.jp,13,本省\n"                      /* UTF-8 */
          "u6,試験 六郎,,,13,本省\n");                              /* no mail */
    assert_int_equal(p.rc, ANPI_EPARSE);
    assert_int_equal(p.out.nrows, 0);
    assert_null(p.out.rows);
    expect_error(&p, "line 3: emails: \"hanako@\" is not a mail address");
    expect_error(&p, "line 3: regions: \"48\" is not a prefecture code 01-47");
    expect_error(&p, "line 4: expected 6 fields, found 5");
    expect_error(&p, "line 5: id: duplicate of line 2");
    expect_error(&p, "line 6: invalid UTF-8");
    expect_error(&p, "line 7: emails: at least one mail address is required");
    assert_int_equal(p.errs.n, 6);
    done(&p);

    /* a file full of errors: the first 1000 are listed, the rest counted */
    struct anpi_buf b;
    anpi_buf_init(&b, 0);
    anpi_buf_puts(&b, HEADER);
    for (int i = 0; i < 1500; i++)
        anpi_buf_printf(&b, "u%d,n,,bad,13,g\n", i);
    parse_n(&p, b.data, b.len);
    assert_int_equal(p.rc, ANPI_EPARSE);
    assert_int_equal(p.errs.n, ANPI_PEOPLE_CSV_MAX_ERRORS + 1);
    assert_string_equal(p.errs.msg[0], "line 2: emails: \"bad\" is not a mail address");
    assert_string_equal(p.errs.msg[ANPI_PEOPLE_CSV_MAX_ERRORS], "500 more errors not listed");
    done(&p);
    anpi_buf_free(&b);
}

static void
test_limits(void **state)
{
    (void)state;
    struct parsed p;
    struct anpi_buf b;

    /* 16 values of each kind are fine, 17 are not */
    anpi_buf_init(&b, 0);
    anpi_buf_puts(&b, HEADER "u1,n,,\"");
    for (int i = 0; i < 16; i++)
        anpi_buf_printf(&b, "m%d@example.jp;", i);
    anpi_buf_puts(&b, "\",\"");
    for (int i = 1; i <= 16; i++)
        anpi_buf_printf(&b, "%d;", i);
    anpi_buf_puts(&b, "\",\"");
    for (int i = 0; i < 16; i++)
        anpi_buf_printf(&b, "g%d;", i);
    anpi_buf_puts(&b, "\"\n");
    parse_n(&p, b.data, b.len);
    assert_int_equal(p.rc, 0);
    assert_int_equal(p.out.rows[0].nemails, 16);
    assert_int_equal(p.out.rows[0].nregions, 16);
    assert_int_equal(p.out.rows[0].ngroups, 16);
    done(&p);
    anpi_buf_reset(&b);
    anpi_buf_puts(&b, HEADER "u1,n,,\"");
    for (int i = 0; i < 17; i++)
        anpi_buf_printf(&b, "m%d@example.jp;", i);
    anpi_buf_puts(&b, "\",,\n");
    expect_only(b.data, "line 2: emails: more than 16 values");

    /* one field of 64 KiB is fine, one byte more is not */
    anpi_buf_reset(&b);
    anpi_buf_puts(&b, HEADER "u1,\"");
    for (size_t i = 0; i < ANPI_PEOPLE_CSV_MAX_FIELD; i++)
        anpi_buf_putc(&b, 'a');
    anpi_buf_puts(&b, "\",,t@example.jp,,\n");
    parse_n(&p, b.data, b.len);
    assert_int_equal(p.rc, 0);
    assert_int_equal(strlen(p.out.rows[0].name), ANPI_PEOPLE_CSV_MAX_FIELD);
    done(&p);
    anpi_buf_reset(&b);
    anpi_buf_puts(&b, HEADER "u1,");
    for (size_t i = 0; i <= ANPI_PEOPLE_CSV_MAX_FIELD; i++)
        anpi_buf_putc(&b, 'a');
    anpi_buf_puts(&b, ",,t@example.jp,,\n");
    expect_only(b.data, "line 2: name: field longer than 65536 bytes");

    /* an id of 64 characters is fine, 65 are not */
    anpi_buf_reset(&b);
    anpi_buf_printf(&b, HEADER "%s,n,,t@example.jp,,\n",
                    "0123456789012345678901234567890123456789012345678901234567890123");
    parse_n(&p, b.data, b.len);
    assert_int_equal(p.rc, 0);
    done(&p);
    anpi_buf_reset(&b);
    anpi_buf_printf(&b, HEADER "%s,n,,t@example.jp,,\n",
                    "01234567890123456789012345678901234567890123456789012345678901234");
    parse_n(&p, b.data, b.len);
    assert_int_equal(p.rc, ANPI_EPARSE);
    assert_int_equal(p.errs.n, 1);
    done(&p);

    /* 200,000 rows are fine, one more is not */
    anpi_buf_reset(&b);
    anpi_buf_puts(&b, HEADER);
    for (unsigned i = 0; i < ANPI_PEOPLE_CSV_MAX_ROWS; i++)
        anpi_buf_printf(&b, "p%u,試験 太郎,,p%u@example.jp,13,本省\n", i, i);
    parse_n(&p, b.data, b.len);
    if (p.rc)
        dump(&p);
    assert_int_equal(p.rc, 0);
    assert_int_equal(p.out.nrows, ANPI_PEOPLE_CSV_MAX_ROWS);
    assert_string_equal(p.out.rows[ANPI_PEOPLE_CSV_MAX_ROWS - 1].id, "p199999");
    assert_int_equal(p.out.rows[ANPI_PEOPLE_CSV_MAX_ROWS - 1].line, ANPI_PEOPLE_CSV_MAX_ROWS + 1);
    done(&p);
    anpi_buf_puts(&b, "extra,試験 太郎,,extra@example.jp,13,本省\n");
    parse_n(&p, b.data, b.len);
    assert_int_equal(p.rc, ANPI_EPARSE);
    assert_int_equal(p.out.nrows, 0);
    expect_error(&p, "line 200002: more than 200000 rows");
    assert_int_equal(p.errs.n, 1);
    done(&p);
    anpi_buf_free(&b);

    /* 50 MiB input cap, checked before anything is read */
    size_t big = ANPI_PEOPLE_CSV_MAX_INPUT + 1;
    char *data = malloc(big);
    assert_non_null(data);
    memset(data, 'a', big);
    parse_n(&p, data, big);
    assert_int_equal(p.rc, ANPI_EPARSE);
    assert_int_equal(p.errs.n, 1);
    assert_string_equal(p.errs.msg[0], "line 1: input is 52428801 bytes, over the limit of "
                                       "52428800 bytes");
    done(&p);
    free(data);
}

static void
test_helpers(void **state)
{
    (void)state;
    assert_true(anpi_mail_addr_ok("a@example.jp", 12));
    assert_true(anpi_mail_addr_ok("a+tag@sub.example.jp", 20));
    assert_false(anpi_mail_addr_ok("a@-example.jp", 13));
    assert_false(anpi_mail_addr_ok("a@example..jp", 13));
    assert_false(anpi_mail_addr_ok("a@10.0.0.1", 10));
    assert_false(anpi_mail_addr_ok("a\r@example.jp", 13));
    assert_false(anpi_mail_addr_ok("@example.jp", 11));
    assert_int_equal(anpi_prefecture_code("01", 2), 1);
    assert_int_equal(anpi_prefecture_code("9", 1), 9);
    assert_int_equal(anpi_prefecture_code("47", 2), 47);
    assert_int_equal(anpi_prefecture_code("0", 1), 0);
    assert_int_equal(anpi_prefecture_code("北海道", strlen("北海道")), 1);
    assert_int_equal(anpi_prefecture_code("沖縄県", strlen("沖縄県")), 47);
    assert_int_equal(anpi_prefecture_code("1a", 2), 0);
}

/* ---- encodings ----------------------------------------------------------- */

static void
parse_any(struct parsed *p, const char *data, size_t len, const char **enc)
{
    memset(p, 0, sizeof(*p));
    p->rc = anpi_people_csv_parse_any(data, len, &p->out, enc, &p->errs);
}

/* Windows Excel's "CSV" export: CP932 with CRLF.  "表" (0x95 0x5C) has a
 * backslash as its second byte and "ｼｹﾝ" is half-width (one byte each). */
static void
test_shift_jis(void **state)
{
    (void)state;
    static const char sjis[] =
        "id,name,kana,emails,regions,groups\r\n"
        "T001,\x8E\x8E\x8C\xB1\x20\x91\xBE\x98\x59,\x82\xB5\x82\xAF\x82\xF1\x20\x82\xBD\x82\xEB\x82\xA4,"
        "taro@example.jp,\x93\x8C\x8B\x9E\x93\x73,\x96\x7B\x8F\xC8\x2F\x91\xE5\x90\x62\x8A\xAF\x96\x5B\r\n"
        "T002,\x95\x5C\x8E\xA6,\xBC\xB9\xDD,hanako@example.jp,13,\r\n";
    struct parsed p;
    const char *enc = NULL;
    parse_any(&p, sjis, sizeof(sjis) - 1, &enc);
    dump(&p);
    assert_int_equal(p.rc, 0);
    assert_string_equal(enc, "Shift_JIS");
    assert_int_equal(p.out.nrows, 2);
    assert_string_equal(p.out.rows[0].name, "試験 太郎");
    assert_string_equal(p.out.rows[0].kana, "しけん たろう");
    assert_int_equal(p.out.rows[0].nregions, 1);
    assert_int_equal(p.out.rows[0].regions[0], 13);
    assert_int_equal(p.out.rows[0].ngroups, 1);
    assert_string_equal(p.out.rows[0].groups[0], "本省/大臣官房");
    assert_string_equal(p.out.rows[1].name, "表示");
    assert_string_equal(p.out.rows[1].kana, "ｼｹﾝ");
    done(&p);

    /* row errors in a Shift_JIS file still carry their line */
    static const char bad[] =
        "id,name,kana,emails,regions,groups\r\n"
        "T001,\x8E\x8E\x8C\xB1,,not-an-address,,\r\n";
    parse_any(&p, bad, sizeof(bad) - 1, &enc);
    assert_int_equal(p.rc, ANPI_EPARSE);
    assert_string_equal(enc, "Shift_JIS");
    expect_error(&p, "line 2: emails: \"not-an-address\" is not a mail address");
    assert_null(p.out.rows);
    done(&p);
}

static void
test_utf8_kept(void **state)
{
    (void)state;
    const char *enc = NULL;
    struct parsed p;
    const char *bom = "\xEF\xBB\xBF" HEADER "T001,試験 太郎,しけん たろう,taro@example.jp,13,\n";
    parse_any(&p, bom, strlen(bom), &enc);
    assert_int_equal(p.rc, 0);
    assert_string_equal(enc, "UTF-8");
    assert_string_equal(p.out.rows[0].name, "試験 太郎");
    done(&p);

    /* decode() leaves UTF-8 alone */
    char *out = (char *)1;
    size_t olen = 7;
    struct anpi_errors errs = { 0 };
    assert_int_equal(anpi_people_csv_decode(bom, strlen(bom), &out, &olen, &enc, &errs), 0);
    assert_null(out);
    assert_int_equal(olen, 0);
    assert_string_equal(enc, "UTF-8");

    /* a UTF-8 file with one broken byte is not "converted" into mojibake:
     * the parser names the broken line */
    const char *broken = HEADER "T001,試験 太郎,しけん たろう,taro@example.jp,13,\n"
                                "T002,試験 花子,しけん はなこ,hanako@example.jp,13,\n"
                                "T003,試\xFF験,,jiro@example.jp,,\n";
    parse_any(&p, broken, strlen(broken), &enc);
    assert_int_equal(p.rc, ANPI_EPARSE);
    assert_string_equal(enc, "UTF-8");
    expect_error(&p, "line 4: invalid UTF-8");
    done(&p);
}

static void
test_garbled(void **state)
{
    (void)state;
    const char *enc = "x";
    struct parsed p;
    /* 0xFF and 0x80 start no CP932 character; 0x81 0x20 is a lead byte
     * followed by a byte that cannot end it */
    static const char g[] = HEADER "T001,ok,,a@example.jp,,\n"
                                   "T002,\xFF\xFE,,b@example.jp,,\n"
                                   "T003,ok,,c@example.jp,,\n"
                                   "T004,ab\x81\x20,,d@example.jp,,\n";
    parse_any(&p, g, sizeof(g) - 1, &enc);
    dump(&p);
    assert_int_equal(p.rc, ANPI_EPARSE);
    assert_null(enc);
    assert_int_equal(p.errs.n, 2);
    expect_error(&p, "line 3: garbled text: neither UTF-8 nor Shift_JIS (byte 0xFF at byte 6 of "
                     "the line)");
    expect_error(&p, "line 5: garbled text: neither UTF-8 nor Shift_JIS (byte 0x81 at byte 8 of "
                     "the line)");
    assert_null(p.out.rows);
    done(&p);

    /* a lead byte cut off by the end of the file */
    static const char cut[] = HEADER "T001,\x8E\x8E,,a@example.jp,,\x8E";
    parse_any(&p, cut, sizeof(cut) - 1, &enc);
    assert_int_equal(p.rc, ANPI_EPARSE);
    expect_error(&p, "line 2: garbled text: neither UTF-8 nor Shift_JIS (byte 0x8E at byte 24 of "
                     "the line)");
    done(&p);

    /* decode() alone: no output on error */
    char *out = (char *)1;
    size_t olen = 7;
    struct anpi_errors errs = { 0 };
    assert_int_equal(anpi_people_csv_decode(g, sizeof(g) - 1, &out, &olen, &enc, &errs),
                     ANPI_EPARSE);
    assert_null(out);
    assert_int_equal(errs.n, 2);
    anpi_errors_free(&errs);
}

/* ---- attributes, municipality codes, the export's columns ---------------- */

#define HEADER_A "id,name,kana,emails,regions,groups,attributes\n"

/* one good row with the attributes column; the parsed file in *p */
static const struct anpi_person_row *
one_row(struct parsed *p, const char *data)
{
    parse(p, data);
    if (p->rc)
        dump(p);
    assert_int_equal(p->rc, 0);
    assert_int_equal(p->out.nrows, 1);
    return &p->out.rows[0];
}

static void
test_attributes(void **state)
{
    (void)state;
    struct parsed p;
    /* white space around items, keys and values; '=' inside a value; an
     * empty value; an empty item; UTF-8 keys */
    const struct anpi_person_row *r = one_row(&p, HEADER_A
        "T001,試験 太郎,,taro@example.jp,13,本省,\" 内線 = 1234 ;職種=技術;;式=a=b;備考= \"\n");
    assert_true(p.out.has_attributes);
    assert_int_equal(r->nattrs, 4);
    assert_string_equal(r->attrs[0].key, "内線");
    assert_string_equal(r->attrs[0].value, "1234");
    assert_string_equal(r->attrs[1].key, "職種");
    assert_string_equal(r->attrs[1].value, "技術");
    assert_string_equal(r->attrs[2].key, "式");
    assert_string_equal(r->attrs[2].value, "a=b");
    assert_string_equal(r->attrs[3].key, "備考");
    assert_string_equal(r->attrs[3].value, "");
    done(&p);

    /* an empty cell: a person without attributes (the column is there) */
    r = one_row(&p, HEADER_A "T001,試験 太郎,,taro@example.jp,13,本省,\n");
    assert_true(p.out.has_attributes);
    assert_int_equal(r->nattrs, 0);
    done(&p);

    /* no column: has_attributes false (the import keeps what is stored) */
    r = one_row(&p, HEADER "T001,試験 太郎,,taro@example.jp,13,本省\n");
    assert_false(p.out.has_attributes);
    assert_int_equal(r->nattrs, 0);
    done(&p);

    /* the column anywhere, any case, quoted, after a BOM and blank lines;
     * addresses_status (the export's column) accepted and ignored */
    r = one_row(&p, "\xEF\xBB\xBF\r\n\n"
                    "\"Attributes\",id,name,kana,emails,ADDRESSES_STATUS,regions,groups\r\n"
                    "部署=総務,T002,試験 花子,,hanako@example.jp,bouncing,27,\r\n");
    assert_true(p.out.has_attributes);
    assert_string_equal(r->id, "T002");
    assert_int_equal(r->nattrs, 1);
    assert_string_equal(r->attrs[0].key, "部署");
    assert_string_equal(r->attrs[0].value, "総務");
    assert_int_equal(r->regions[0], 27);
    done(&p);

    /* exactly 64-character key and 256-character value */
    char key[64 * 3 + 1], val[256 * 3 + 1], row[2048];
    key[0] = val[0] = '\0';
    for (int i = 0; i < 64; i++)
        strcat(key, "鍵");
    for (int i = 0; i < 256; i++)
        strcat(val, "値");
    snprintf(row, sizeof(row), HEADER_A "T001,n,,a@example.jp,,,%s=%s\n", key, val);
    r = one_row(&p, row);
    assert_int_equal(r->nattrs, 1);
    assert_string_equal(r->attrs[0].value, val);
    done(&p);
}

static void
test_attribute_errors(void **state)
{
    (void)state;
    expect_only(HEADER_A "T001,n,,a@example.jp,,,内線\n",
                "line 2: attributes: \"内線\" is not key=value");
    expect_only(HEADER_A "T001,n,,a@example.jp,,,=1234\n",
                "line 2: attributes: \"=1234\" has no key");
    expect_only(HEADER_A "T001,n,,a@example.jp,,,\"内線=1;職種=技術; 内線 =2\"\n",
                "line 2: attributes: key \"内線\" appears twice");
    expect_only(HEADER_A "T001,n,,a@example.jp,,,\"a=b\tc\"\n",
                "line 2: attributes: \"a=b?c\" contains a control character");
    expect_only(HEADER_A "T001,n,,a@example.jp,,,\"a\nb=c\"\n",
                "line 2: attributes: \"a?b=c\" contains a control character");

    char key[65 + 1], val[257 + 1], row[1024];
    memset(key, 'k', 65);
    key[65] = '\0';
    memset(val, 'v', 257);
    val[257] = '\0';
    struct parsed p;
    snprintf(row, sizeof(row), HEADER_A "T001,n,,a@example.jp,,,%s=1\n", key);
    parse(&p, row);
    assert_int_equal(p.rc, ANPI_EPARSE);
    assert_int_equal(p.errs.n, 1);
    assert_non_null(strstr(p.errs.msg[0], "has a key longer than 64 characters"));
    assert_int_equal(strncmp(p.errs.msg[0], "line 2: attributes: \"kkk", 24), 0);
    done(&p);
    snprintf(row, sizeof(row), HEADER_A "T001,n,,a@example.jp,,,k=%s\n", val);
    parse(&p, row);
    assert_int_equal(p.rc, ANPI_EPARSE);
    assert_int_equal(p.errs.n, 1);
    assert_non_null(strstr(p.errs.msg[0], "has a value longer than 256 characters"));
    done(&p);

    /* more than ANPI_PEOPLE_CSV_MAX_ATTRS */
    struct anpi_buf b;
    anpi_buf_init(&b, 0);
    anpi_buf_puts(&b, HEADER_A "T001,n,,a@example.jp,,,\"");
    for (unsigned i = 0; i <= ANPI_PEOPLE_CSV_MAX_ATTRS; i++)
        anpi_buf_printf(&b, "k%u=v;", i);
    anpi_buf_puts(&b, "\"\n");
    parse_n(&p, b.data, b.len);
    assert_int_equal(p.rc, ANPI_EPARSE);
    expect_error(&p, "line 2: attributes: more than 64 values");
    assert_int_equal(p.errs.n, 1);
    done(&p);
    anpi_buf_free(&b);

    /* several rows, every error with its line; nothing handed out */
    parse(&p, HEADER_A "T001,n,,a@example.jp,,,a=1\n"
                       "T002,n,,b@example.jp,,,\"a=1;a=2\"\n"
                       "T003,n,,c@example.jp,,,x\n");
    assert_int_equal(p.rc, ANPI_EPARSE);
    assert_int_equal(p.out.nrows, 0);
    assert_int_equal(p.errs.n, 2);
    expect_error(&p, "line 3: attributes: key \"a\" appears twice");
    expect_error(&p, "line 4: attributes: \"x\" is not key=value");
    done(&p);

    /* the optional columns are still columns: twice is an error, and other
     * unknown columns stay errors */
    expect_only("id,name,kana,emails,regions,groups,attributes,attributes\n",
                "line 1: column \"attributes\" appears twice");
    struct parsed q;
    parse(&q, "id,name,kana,emails,regions,groups,attribute\n");
    assert_int_equal(q.rc, ANPI_EPARSE);
    assert_int_equal(q.errs.n, 1);
    assert_non_null(strstr(q.errs.msg[0], "unknown column \"attribute\""));
    done(&q);
    /* a row of the attributes file with a field missing */
    expect_only(HEADER_A "T001,n,,a@example.jp,,\n", "line 2: expected 7 fields, found 6");
}

static void
test_cities(void **state)
{
    (void)state;
    /* known codes (総務省 全国地方公共団体コード), incl. the remainder 0
     * (静岡県 22000-1) and remainder 1 (長崎県 42000-0) cases */
    assert_int_equal(anpi_jisx0402_check_digit(13101), 6);   /* 千代田区 */
    assert_int_equal(anpi_jisx0402_check_digit(1100), 2);    /* 札幌市 */
    assert_int_equal(anpi_jisx0402_check_digit(22000), 1);
    assert_int_equal(anpi_jisx0402_check_digit(42000), 0);
    assert_int_equal(anpi_jisx0402_check_digit(27100), 4);   /* 大阪市 */
    assert_int_equal(anpi_jisx0402_check_digit(47201), 8);   /* 那覇市 */
    assert_int_equal(anpi_jisx0402_check_digit(46000), 1);   /* 鹿児島県 */

    struct parsed p;
    /* 5 and 6 digits mixed with prefectures; the city's prefecture is added
     * once; the same city twice (with and without check digit) is one */
    const struct anpi_person_row *r = one_row(&p, HEADER
        "T001,試験 太郎,,taro@example.jp,\"27;13101; 131016;011002;01;472018\",\n");
    assert_int_equal(r->nregions, 4);
    assert_int_equal(r->regions[0], 27);
    assert_int_equal(r->regions[1], 13);
    assert_int_equal(r->regions[2], 1);
    assert_int_equal(r->regions[3], 47);
    assert_int_equal(r->ncities, 3);
    assert_int_equal(r->cities[0], 13101);
    assert_int_equal(r->cities[1], 1100);
    assert_int_equal(r->cities[2], 47201);
    done(&p);

    /* the prefecture's own code is the prefecture, not a city */
    r = one_row(&p, HEADER "T001,n,,a@example.jp,\"13000;220001\",\n");
    assert_int_equal(r->ncities, 0);
    assert_int_equal(r->nregions, 2);
    assert_int_equal(r->regions[0], 13);
    assert_int_equal(r->regions[1], 22);
    done(&p);

    expect_only(HEADER "T001,n,,a@example.jp,131017,\n",
                "line 2: regions: \"131017\" has a wrong check digit (JIS X 0402: 13101 takes 6)");
    expect_only(HEADER "T001,n,,a@example.jp,48101,\n",
                "line 2: regions: \"48101\" is not a municipality code (JIS X 0402): there is no "
                "prefecture 48");
    expect_only(HEADER "T001,n,,a@example.jp,000016,\n",
                "line 2: regions: \"000016\" is not a municipality code (JIS X 0402): there is no "
                "prefecture 00");
    expect_only(HEADER "T001,n,,a@example.jp,1310,\n",
                "line 2: regions: \"1310\" is not a prefecture code 01-47");
    expect_only(HEADER "T001,n,,a@example.jp,1310160,\n",
                "line 2: regions: \"1310160\" is not a prefecture code 01-47");

    /* errors on several lines, each named */
    parse(&p, HEADER "T001,n,,a@example.jp,13101,\n"
                     "T002,n,,b@example.jp,\"13;271005\",\n"
                     "T003,n,,c@example.jp,\"01;99999\",\n");
    assert_int_equal(p.rc, ANPI_EPARSE);
    assert_int_equal(p.errs.n, 2);
    expect_error(&p, "line 3: regions: \"271005\" has a wrong check digit (JIS X 0402: 27100 "
                     "takes 4)");
    expect_error(&p, "line 4: regions: \"99999\" is not a municipality code (JIS X 0402): there "
                     "is no prefecture 99");
    done(&p);

    /* at most 16 cities */
    struct anpi_buf b;
    anpi_buf_init(&b, 0);
    anpi_buf_puts(&b, HEADER "T001,n,,a@example.jp,\"");
    for (int i = 0; i <= (int)ANPI_PEOPLE_CSV_MAX_VALUES; i++)
        anpi_buf_printf(&b, "%05d;", 13101 + i);
    anpi_buf_puts(&b, "\",\n");
    parse_n(&p, b.data, b.len);
    assert_int_equal(p.rc, ANPI_EPARSE);
    expect_error(&p, "line 2: regions: more than 16 values");
    done(&p);
    anpi_buf_free(&b);
}

static void
test_masked(void **state)
{
    (void)state;
    /* an export's masked addresses are kept as "****@domain", two at one
     * domain stay two; a full address next to them is collapsed as before */
    assert_true(anpi_mail_addr_masked("****@example.jp", 15));
    assert_true(anpi_mail_addr_masked("*@example.jp", 12));
    assert_false(anpi_mail_addr_masked("a*@example.jp", 13));
    assert_false(anpi_mail_addr_masked("****@", 5));
    assert_false(anpi_mail_addr_masked("****@localhost", 14));
    struct parsed p;
    const struct anpi_person_row *r = one_row(&p,
        "id,name,kana,emails,regions,groups,addresses_status\n"
        "T001,n,,\"****@Example.JP;*@example.jp;taro@example.jp;TARO@example.jp\",13,,"
        "\"valid;bouncing;valid\"\n");
    assert_int_equal(r->nemails, 3);
    assert_string_equal(r->emails[0], "****@example.jp");
    assert_string_equal(r->emails[1], "****@example.jp");
    assert_string_equal(r->emails[2], "taro@example.jp");
    done(&p);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_many_errors),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_helpers),
        cmocka_unit_test(test_shift_jis),
        cmocka_unit_test(test_utf8_kept),
        cmocka_unit_test(test_garbled),
        cmocka_unit_test(test_attributes),
        cmocka_unit_test(test_attribute_errors),
        cmocka_unit_test(test_cities),
        cmocka_unit_test(test_masked),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
