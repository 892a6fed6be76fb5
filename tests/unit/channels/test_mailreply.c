/* test_mailreply.c - the answer line of plain mail replies (UTF-8,
 * ISO-2022-JP, base64, QP, quoted text, signatures) and choice mapping. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "channels/mailreply.h"

static char *
line_of(const char *msg, struct anpi_mailreply *r)
{
    char err[256];
    int rc = anpi_mailreply_parse(msg, strlen(msg), r, err, sizeof(err));
    if (rc)
        fail_msg("parse: %d %s", rc, err);
    return r->first_line;
}

static void
test_utf8_quoted_signature(void **state)
{
    (void)state;
    const char *m =
        "From: taro@example.jp\r\n"
        "In-Reply-To: <b12.p34.a56@anpi.example.jp>\r\n"
        "References: <root@anpi.example.jp>\r\n"
        "  <b12.p34.a56@anpi.example.jp>\r\n"
        "Content-Type: text/plain; charset=UTF-8\r\n"
        "\r\n"
        "\r\n"
        "\xE3\x80\x80 \xE7\x84\xA1\xE4\xBA\x8B\xE3\x81\xA7\xE3\x81\x99  \r\n"   /* "　 無事です  " */
        "\r\n"
        "> 1. \xE7\x84\xA1\xE4\xBA\x8B\r\n";
    struct anpi_mailreply r;
    assert_string_equal(line_of(m, &r), "\xE7\x84\xA1\xE4\xBA\x8B\xE3\x81\xA7\xE3\x81\x99");
    assert_string_equal(r.in_reply_to, "b12.p34.a56@anpi.example.jp");
    assert_int_equal(r.nrefs, 2);
    assert_string_equal(r.refs[0], "root@anpi.example.jp");
    assert_string_equal(r.refs[1], "b12.p34.a56@anpi.example.jp");
    assert_false(r.auto_submitted);
    anpi_mailreply_free(&r);

    /* quoted text and an attribution first, answer after it */
    m = "Content-Type: text/plain\n\n"
        "On Mon, 1 Jan 2024, anpi@example.jp wrote:\n"
        "> Please answer\n"
        ">> deeper\n"
        "\xEF\xBC\x9E full-width quote\n"
        "\n"
        "2\n";
    assert_string_equal(line_of(m, &r), "2");
    assert_null(r.in_reply_to);
    anpi_mailreply_free(&r);

    /* nothing but a signature: no answer */
    m = "Subject: re\n\n\n-- \n\xE8\xA9\xA6\xE9\xA8\x93 \xE5\xA4\xAA\xE9\x83\x8E\n";
    assert_null(line_of(m, &r));
    anpi_mailreply_free(&r);

    /* an empty body */
    m = "Subject: re\n";
    assert_null(line_of(m, &r));
    anpi_mailreply_free(&r);
}

static void
test_iso2022jp_and_base64(void **state)
{
    (void)state;
    struct anpi_mailreply r;
    const char *m =
        "In-Reply-To: <x@anpi.example.jp>\n"
        "Content-Type: text/plain; charset=\"ISO-2022-JP\"\n"
        "Content-Transfer-Encoding: 7bit\n"
        "\n"
        "\x1b$BL5;v$G$9\x1b(B\r\n";
    assert_string_equal(line_of(m, &r), "\xE7\x84\xA1\xE4\xBA\x8B\xE3\x81\xA7\xE3\x81\x99");
    anpi_mailreply_free(&r);

    /* base64 UTF-8: "２", an empty line, a quoted line */
    m = "Content-Type: text/plain; charset=utf-8\n"
        "Content-Transfer-Encoding: base64\n"
        "\n"
        "77ySDQoNCj4g5a6J5ZCm56K66KqN44Gn44GZDQo=\n";
    assert_string_equal(line_of(m, &r), "\xEF\xBC\x92");
    anpi_mailreply_free(&r);

    /* multipart/alternative with an HTML part first and a QP text part; an
     * attachment that is text/plain too is skipped */
    m = "Content-Type: multipart/mixed; boundary=\"m\"\n\n"
        "--m\n"
        "Content-Type: multipart/alternative; boundary=\"a\"\n\n"
        "--a\nContent-Type: text/html\n\n<p>html</p>\n"
        "--a\nContent-Type: text/plain; charset=UTF-8\nContent-Transfer-Encoding: quoted-printable\n\n"
        "=E3=81=91=E3=81=8C\n"
        "--a--\n"
        "--m\nContent-Type: text/plain\nContent-Disposition: attachment; filename=x.txt\n\nnot this\n"
        "--m--\n";
    assert_string_equal(line_of(m, &r), "\xE3\x81\x91\xE3\x81\x8C");
    anpi_mailreply_free(&r);

    /* Shift_JIS from an old phone */
    m = "Content-Type: text/plain; charset=Shift_JIS\n\n\x88\xc0\x94\xdb\n";
    assert_string_equal(line_of(m, &r), "\xE5\xAE\x89\xE5\x90\xA6");
    anpi_mailreply_free(&r);
}

static void
test_auto_and_errors(void **state)
{
    (void)state;
    struct anpi_mailreply r;
    const char *m = "Auto-Submitted: auto-replied\nSubject: Out of office\n\nI am away\n";
    assert_string_equal(line_of(m, &r), "I am away");
    assert_true(r.auto_submitted);
    anpi_mailreply_free(&r);
    m = "Auto-Submitted: no\n\n1\n";
    line_of(m, &r);
    assert_false(r.auto_submitted);
    anpi_mailreply_free(&r);

    char err[256];
    m = "Content-Type: multipart/mixed\n\n--x\n\n1\n--x--\n";
    assert_int_equal(anpi_mailreply_parse(m, strlen(m), &r, err, sizeof(err)), ANPI_EPARSE);
    assert_non_null(strstr(err, "boundary"));
    anpi_mailreply_free(&r);
    m = "Content-Type: multipart/mixed; boundary=x\n\nno delimiter\n";
    assert_int_equal(anpi_mailreply_parse(m, strlen(m), &r, err, sizeof(err)), ANPI_EPARSE);
    anpi_mailreply_free(&r);
    assert_int_equal(anpi_mailreply_parse("", ANPI_MAILREPLY_MSG_MAX + 1, &r, err, sizeof(err)), ANPI_ETOOBIG);
    anpi_mailreply_free(&r);

    /* an over-long answer line is cut on a character boundary */
    char big[4096];
    strcpy(big, "Content-Type: text/plain; charset=utf-8\n\n");
    size_t l = strlen(big);
    for (int i = 0; i < 300; i++) {
        memcpy(big + l, "\xE3\x81\x82", 3);
        l += 3;
    }
    big[l] = '\0';
    assert_int_equal(anpi_mailreply_parse(big, l, &r, err, sizeof(err)), 0);
    assert_true(strlen(r.first_line) <= ANPI_MAILREPLY_LINE_MAX);
    assert_int_equal(strlen(r.first_line) % 3, 0);
    anpi_mailreply_free(&r);

    /* In-Reply-To without angle brackets is ignored; more References than
     * the cap keep the newest ones */
    char refs[8192] = "In-Reply-To: junk\nReferences:";
    for (int i = 0; i < ANPI_MAILREPLY_REFS_MAX + 5; i++) {
        char one[64];
        snprintf(one, sizeof(one), " <r%d@example.jp>", i);
        strcat(refs, one);
    }
    strcat(refs, "\n\nok\n");
    line_of(refs, &r);
    assert_null(r.in_reply_to);
    assert_int_equal(r.nrefs, ANPI_MAILREPLY_REFS_MAX);
    assert_string_equal(r.refs[r.nrefs - 1], "r36@example.jp");
    assert_string_equal(r.refs[0], "r5@example.jp");
    anpi_mailreply_free(&r);
}

static void
test_choice(void **state)
{
    (void)state;
    const char *const ch[] = {
        "\xE7\x84\xA1\xE4\xBA\x8B",                                  /* 無事 */
        "\xE8\xBB\xBD\xE5\x82\xB7",                                  /* 軽傷 */
        "\xE5\x87\xBA\xE7\xA4\xBE\xE4\xB8\x8D\xE5\x8F\xAF",          /* 出社不可 */
        "Help",
    };
    static const struct { const char *line; int want; } t[] = {
        { "1", 0 }, { "\xEF\xBC\x91", 0 }, { "1.", 0 }, { "1)", 0 }, { "(2)", 1 },
        { "\xEF\xBC\x93\xEF\xBC\x8E", 2 },                          /* ３． */
        { "1\xE3\x80\x82", 0 },                                      /* 1。 */
        { "2 \xE8\xBB\xBD\xE5\x82\xB7\xE3\x81\xA7\xE3\x81\x99", 1 }, /* "2 軽傷です" */
        { "\xE2\x91\xA1", 1 },                                       /* ② */
        { "4", 3 }, { "5", -1 }, { "0", -1 }, { "12", -1 }, { "1x", -1 },
        { "\xE7\x84\xA1\xE4\xBA\x8B", 0 },                           /* 無事 */
        { "\xE7\x84\xA1\xE4\xBA\x8B\xE3\x80\x82", 0 },               /* 無事。 */
        { "\xE8\xBB\xBD\xE5\x82\xB7\xE3\x80\x80\xE3\x81\xA7\xE3\x81\x99", 1 }, /* 軽傷　です */
        { "help!", 3 }, { "HELP me", 3 },
        { "\xE7\x84\xA1\xE4\xBA\x8B\xE3\x81\xA7\xE3\x81\x99", -1 },  /* 無事です: not a word */
        { "", -1 }, { "   ", -1 }, { "maybe", -1 },
    };
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        int got = anpi_mailreply_choice(t[i].line, ch, 4);
        if (got != t[i].want)
            fail_msg("case %zu \"%s\": got %d want %d", i, t[i].line, got, t[i].want);
    }
    assert_int_equal(anpi_mailreply_choice(NULL, ch, 4), -1);
    assert_int_equal(anpi_mailreply_choice("1", ch, 0), -1);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_utf8_quoted_signature),
        cmocka_unit_test(test_iso2022jp_and_base64),
        cmocka_unit_test(test_auto_and_errors),
        cmocka_unit_test(test_choice),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
