/* test_smtp_reply.c - the incremental reply parser, fed whole and split at
 * every byte. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "channels/smtp_reply.h"

struct result {
    int rc;              /* 1 reply, 0 incomplete, <0 error */
    int code;
    char enhanced[16];
    size_t nlines;
    char lines[4096];
    size_t used_total;   /* bytes consumed up to the end of the first reply */
};

/* Feed `in` in chunks of `chunk` bytes (0 = all at once) until the first
 * reply, error, or the end. */
static void
run(const char *in, size_t len, size_t chunk, struct result *res)
{
    struct anpi_smtp_reply_parser p;
    anpi_smtp_reply_init(&p);
    memset(res, 0, sizeof(*res));
    size_t off = 0;
    for (;;) {
        size_t n = len - off;
        if (chunk && n > chunk)
            n = chunk;
        size_t used = 0;
        struct anpi_smtp_reply r;
        int rc = anpi_smtp_reply_feed(&p, in + off, n, &used, &r);
        res->rc = rc;
        if (rc < 0)
            break;
        off += used;
        if (rc == 1) {
            res->code = r.code;
            snprintf(res->enhanced, sizeof(res->enhanced), "%s", r.enhanced);
            res->nlines = r.nlines;
            snprintf(res->lines, sizeof(res->lines), "%s", r.lines);
            res->used_total = off;
            break;
        }
        assert_int_equal(used, n);
        if (off >= len)
            break;
    }
    anpi_smtp_reply_free(&p);
}

static const struct {
    const char *in;
    int rc;
    int code;
    const char *enhanced;
    size_t nlines;
    const char *lines;
} cases[] = {
    { "220 mx.example.jp ESMTP\r\n", 1, 220, "", 1, "mx.example.jp ESMTP\n" },
    { "250 2.1.0 Ok\r\n", 1, 250, "2.1.0", 1, "2.1.0 Ok\n" },
    { "550 5.1.1 <taro@example.jp>: Recipient address rejected: User unknown\r\n", 1, 550,
      "5.1.1", 1, "5.1.1 <taro@example.jp>: Recipient address rejected: User unknown\n" },
    { "250-mx.example.jp\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250 STARTTLS\r\n", 1, 250, "",
      4, "mx.example.jp\nPIPELINING\nSIZE 10240000\nSTARTTLS\n" },
    { "354\r\n", 1, 354, "", 1, "\n" },
    { "221 bye\n", 1, 221, "", 1, "bye\n" },                      /* bare LF accepted */
    { "452-4.5.3 Too many\r\n452 4.5.3 recipients\r\n", 1, 452, "4.5.3", 2,
      "4.5.3 Too many\n4.5.3 recipients\n" },
    { "250 5.1.1x not enhanced\r\n", 1, 250, "", 1, "5.1.1x not enhanced\n" },
    { "250-a\r\n251 b\r\n", ANPI_EPARSE, 0, "", 0, "" },          /* mismatched codes */
    { "hello\r\n", ANPI_EPARSE, 0, "", 0, "" },
    { "2500 x\r\n", ANPI_EPARSE, 0, "", 0, "" },
    { "25\r\n", ANPI_EPARSE, 0, "", 0, "" },
    { "650 x\r\n", ANPI_EPARSE, 0, "", 0, "" },
    { "250\rx\r\n", ANPI_EPARSE, 0, "", 0, "" },                  /* bare CR inside */
    { "250-incomplete\r\n", 0, 0, "", 0, "" },
    { "250 no line end", 0, 0, "", 0, "" },
};

static void
test_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t len = strlen(cases[i].in);
        for (size_t chunk = 0; chunk <= len; chunk++) {
            struct result r;
            run(cases[i].in, len, chunk, &r);
            if (r.rc != cases[i].rc)
                fail_msg("case %zu chunk %zu: rc %d, want %d", i, chunk, r.rc, cases[i].rc);
            if (r.rc != 1)
                continue;
            assert_int_equal(r.code, cases[i].code);
            assert_string_equal(r.enhanced, cases[i].enhanced);
            assert_int_equal(r.nlines, cases[i].nlines);
            assert_string_equal(r.lines, cases[i].lines);
            assert_int_equal(r.used_total, len);
        }
    }
}

/* Two replies in one buffer: the first call stops after the first. */
static void
test_two_replies(void **state)
{
    (void)state;
    const char *in = "250 ok\r\n354 go ahead\r\n";
    struct anpi_smtp_reply_parser p;
    anpi_smtp_reply_init(&p);
    struct anpi_smtp_reply r;
    size_t used;
    assert_int_equal(anpi_smtp_reply_feed(&p, in, strlen(in), &used, &r), 1);
    assert_int_equal(r.code, 250);
    assert_int_equal(used, 8);
    assert_int_equal(anpi_smtp_reply_feed(&p, in + used, strlen(in) - used, &used, &r), 1);
    assert_int_equal(r.code, 354);
    assert_string_equal(r.lines, "go ahead\n");
    assert_false(anpi_smtp_reply_partial(&p));
    anpi_smtp_reply_free(&p);
}

static void
test_long_line(void **state)
{
    (void)state;
    char line[ANPI_SMTP_REPLY_LINE_MAX + 64];
    /* Exactly at the cap (2046 text bytes + CRLF = 2048): accepted. */
    memset(line, 'a', sizeof(line));
    memcpy(line, "250 ", 4);
    memcpy(line + ANPI_SMTP_REPLY_LINE_MAX - 2, "\r\n", 2);
    struct result r;
    run(line, ANPI_SMTP_REPLY_LINE_MAX, 0, &r);
    assert_int_equal(r.rc, 1);
    /* One byte more: refused, also when fed byte by byte. */
    memset(line, 'a', sizeof(line));
    memcpy(line, "250 ", 4);
    memcpy(line + ANPI_SMTP_REPLY_LINE_MAX - 1, "\r\n", 2);
    run(line, ANPI_SMTP_REPLY_LINE_MAX + 1, 0, &r);
    assert_int_equal(r.rc, ANPI_ETOOBIG);
    run(line, ANPI_SMTP_REPLY_LINE_MAX + 1, 1, &r);
    assert_int_equal(r.rc, ANPI_ETOOBIG);
    /* A 10 KB line with no end at all. */
    static char big[10240];
    memset(big, 'x', sizeof(big));
    run(big, sizeof(big), 0, &r);
    assert_int_equal(r.rc, ANPI_ETOOBIG);
}

static void
test_too_many_lines(void **state)
{
    (void)state;
    char buf[128 * 12];
    size_t n = 0;
    for (int i = 0; i < 99; i++)
        n += (size_t)snprintf(buf + n, sizeof(buf) - n, "250-x%d\r\n", i);
    n += (size_t)snprintf(buf + n, sizeof(buf) - n, "250 end\r\n");
    struct result r;
    run(buf, n, 0, &r);
    assert_int_equal(r.rc, 1);
    assert_int_equal(r.nlines, 100);
    n = 0;
    for (int i = 0; i < 100; i++)
        n += (size_t)snprintf(buf + n, sizeof(buf) - n, "250-x%d\r\n", i);
    n += (size_t)snprintf(buf + n, sizeof(buf) - n, "250 end\r\n");
    run(buf, n, 7, &r);
    assert_int_equal(r.rc, ANPI_ETOOBIG);
}

/* Errors stick: later input is refused too. */
static void
test_sticky_error(void **state)
{
    (void)state;
    struct anpi_smtp_reply_parser p;
    anpi_smtp_reply_init(&p);
    struct anpi_smtp_reply r;
    size_t used;
    assert_int_equal(anpi_smtp_reply_feed(&p, "hello\r\n", 7, &used, &r), ANPI_EPARSE);
    assert_int_equal(anpi_smtp_reply_feed(&p, "250 ok\r\n", 8, &used, &r), ANPI_EPARSE);
    assert_true(strlen(anpi_smtp_reply_error(&p)) > 0);
    anpi_smtp_reply_free(&p);
}

static void
test_enhanced(void **state)
{
    (void)state;
    char out[16];
    assert_int_equal(anpi_smtp_parse_enhanced("5.1.1 x", 7, out), 5);
    assert_string_equal(out, "5.1.1");
    assert_int_equal(anpi_smtp_parse_enhanced("4.7.0", 5, out), 5);
    assert_int_equal(anpi_smtp_parse_enhanced("2.0.0\tok", 8, out), 5);
    assert_int_equal(anpi_smtp_parse_enhanced("5.10.100 y", 10, out), 8);
    assert_string_equal(out, "5.10.100");
    assert_int_equal(anpi_smtp_parse_enhanced("3.1.1 x", 7, out), 0);
    assert_int_equal(anpi_smtp_parse_enhanced("5.1 x", 5, out), 0);
    assert_int_equal(anpi_smtp_parse_enhanced("5.1.1234", 8, out), 0);
    assert_int_equal(anpi_smtp_parse_enhanced("5..1 x", 6, out), 0);
    assert_string_equal(out, "");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_two_replies),
        cmocka_unit_test(test_long_line),
        cmocka_unit_test(test_too_many_lines),
        cmocka_unit_test(test_sticky_error),
        cmocka_unit_test(test_enhanced),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
