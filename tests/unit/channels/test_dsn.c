/* test_dsn.c - the bounce parser on DSNs shaped like those of Postfix, Exim,
 * Gmail and a Japanese carrier (all synthetic, example.jp), malformed ones,
 * and the MIME reader underneath. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "channels/dsn.h"

/* Postfix: text/plain, message/delivery-status, text/rfc822-headers; CRLF. */
static const char POSTFIX[] =
    "Return-Path: <>\r\n"
    "From: MAILER-DAEMON@mx.example.jp (Mail Delivery System)\r\n"
    "Subject: Undelivered Mail Returned to Sender\r\n"
    "To: bounce+b12.p34@anpi.example.jp\r\n"
    "Auto-Submitted: auto-replied\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: multipart/report; report-type=delivery-status;\r\n"
    "\tboundary=\"4F2A1C0E.1700000000/mx.example.jp\"\r\n"
    "\r\n"
    "This is a MIME-encapsulated message.\r\n"
    "\r\n"
    "--4F2A1C0E.1700000000/mx.example.jp\r\n"
    "Content-Description: Notification\r\n"
    "Content-Type: text/plain; charset=us-ascii\r\n"
    "\r\n"
    "I'm sorry to have to inform you that your message could not\r\n"
    "be delivered to one or more recipients.\r\n"
    "\r\n"
    "<taro@example.jp>: host mx2.example.jp[192.0.2.10] said: 550 5.1.1\r\n"
    "    <taro@example.jp>: Recipient address rejected: User unknown\r\n"
    "\r\n"
    "--4F2A1C0E.1700000000/mx.example.jp\r\n"
    "Content-Description: Delivery report\r\n"
    "Content-Type: message/delivery-status\r\n"
    "\r\n"
    "Reporting-MTA: dns; mx.example.jp\r\n"
    "X-Postfix-Queue-ID: 4F2A1C0E\r\n"
    "Arrival-Date: Mon,  1 Jan 2024 09:00:00 +0900 (JST)\r\n"
    "\r\n"
    "Final-Recipient: rfc822; taro@example.jp\r\n"
    "Original-Recipient: rfc822;taro@example.jp\r\n"
    "Action: failed\r\n"
    "Status: 5.1.1\r\n"
    "Remote-MTA: dns; mx2.example.jp\r\n"
    "Diagnostic-Code: smtp; 550 5.1.1 <taro@example.jp>: Recipient address\r\n"
    "    rejected: User unknown\r\n"
    "\r\n"
    "--4F2A1C0E.1700000000/mx.example.jp\r\n"
    "Content-Description: Undelivered Message Headers\r\n"
    "Content-Type: text/rfc822-headers\r\n"
    "\r\n"
    "From: anpi@example.jp\r\n"
    "To: taro@example.jp\r\n"
    "Subject: =?UTF-8?B?5a6J5ZCm56K66KqN?=\r\n"
    "Message-ID:\r\n"
    " <b12.p34.a56@anpi.example.jp>\r\n"
    "\r\n"
    "--4F2A1C0E.1700000000/mx.example.jp--\r\n";

/* Exim: two recipients, one failed, one delayed; LF line ends; message/rfc822. */
static const char EXIM[] =
    "From: Mail Delivery System <Mailer-Daemon@mail.example.jp>\n"
    "Subject: Mail delivery failed: returning message to sender\n"
    "Content-Type: multipart/report; report-type=delivery-status; boundary=1700000000-eximdsn-42\n"
    "MIME-Version: 1.0\n"
    "\n"
    "--1700000000-eximdsn-42\n"
    "Content-type: text/plain; charset=us-ascii\n"
    "\n"
    "This message was created automatically by mail delivery software.\n"
    "\n"
    "--1700000000-eximdsn-42\n"
    "Content-type: message/delivery-status\n"
    "\n"
    "Reporting-MTA: dns; mail.example.jp\n"
    "\n"
    "Action: failed\n"
    "Final-Recipient: rfc822;hanako@example.jp\n"
    "Status: 5.0.0\n"
    "Remote-MTA: dns; mx.example.jp\n"
    "Diagnostic-Code: smtp; 550 mailbox unavailable\n"
    "\n"
    "Action: delayed\n"
    "Final-Recipient: rfc822;jiro@example.jp\n"
    "Status: 4.0.0\n"
    "Will-Retry-Until: Tue, 2 Jan 2024 09:00:00 +0900\n"
    "\n"
    "--1700000000-eximdsn-42\n"
    "Content-type: message/rfc822\n"
    "\n"
    "Message-Id: <b7.p8.a9@anpi.example.jp>\n"
    "From: anpi@example.jp\n"
    "Subject: test\n"
    "\n"
    "body\n"
    "--1700000000-eximdsn-42--\n";

/* Gmail-style: multipart/report inside nothing, delivery-status in base64,
 * Status with a comment, and the report nested one level in a mixed part. */
static const char GMAIL[] =
    "From: Mail Delivery Subsystem <mailer-daemon@googlemail.example.jp>\r\n"
    "Subject: Delivery Status Notification (Failure)\r\n"
    "Content-Type: multipart/mixed; boundary=\"outer\"\r\n"
    "\r\n"
    "--outer\r\n"
    "Content-Type: multipart/report; boundary=\"000000000000abcdef\"; report-type=delivery-status\r\n"
    "\r\n"
    "--000000000000abcdef\r\n"
    "Content-Type: text/plain; charset=\"UTF-8\"\r\n"
    "Content-Transfer-Encoding: quoted-printable\r\n"
    "\r\n"
    "Address not found=0D=0A\r\n"
    "--000000000000abcdef\r\n"
    "Content-Type: message/delivery-status\r\n"
    "Content-Transfer-Encoding: base64\r\n"
    "\r\n"
    /* "Reporting-MTA: dns; googlemail.example.jp\n\nFinal-Recipient: rfc822; saburo@example.jp\n
     *  Action: failed\nStatus: 5.1.1 (bad destination mailbox address)\n" */
    "UmVwb3J0aW5nLU1UQTogZG5zOyBnb29nbGVtYWlsLmV4YW1wbGUuanAKCkZpbmFsLVJlY2lwaWVu\r\n"
    "dDogcmZjODIyOyBzYWJ1cm9AZXhhbXBsZS5qcApBY3Rpb246IGZhaWxlZApTdGF0dXM6IDUuMS4x\r\n"
    "IChiYWQgZGVzdGluYXRpb24gbWFpbGJveCBhZGRyZXNzKQo=\r\n"
    "--000000000000abcdef\r\n"
    "Content-Type: text/rfc822-headers\r\n"
    "\r\n"
    "Message-ID: <g1.p2.a3@anpi.example.jp>\r\n"
    "\r\n"
    "--000000000000abcdef--\r\n"
    "--outer--\r\n";

/* A Japanese carrier bounce without any DSN part: ISO-2022-JP text. */
static const char CARRIER[] =
    "From: MAILER-DAEMON@ezweb.example.jp\r\n"
    "Subject: =?ISO-2022-JP?B?GyRCR1s/LiUoJWkhPBsoQg==?=\r\n"   /* 配信エラー */
    "Content-Type: text/plain; charset=ISO-2022-JP\r\n"
    "\r\n"
    /* "以下のアドレスへの配信に失敗しました。" */
    "\x1b$B0J2<$N%\"%I%l%9$X$NG[?.$K<:GT$7$^$7$?!#\x1b(B\r\n"
    "\r\n"
    /* "<shiro@ezweb.example.jp> 宛先不明" */
    "<shiro@ezweb.example.jp> \x1b$B08@hITL@\x1b(B\r\n"
    "\r\n"
    "----- Original message follows -----\r\n"
    "\r\n"
    "Message-ID: <c1.p2.a3@anpi.example.jp>\r\n"
    "From: anpi@example.jp\r\n"
    "\r\n"
    "...\r\n";

/* sendmail / qmail style plain-text bounces. */
static const char QMAIL[] =
    "From: MAILER-DAEMON@mx.example.jp\n"
    "Subject: failure notice\n"
    "\n"
    "Hi. This is the qmail-send program at mx.example.jp.\n"
    "I'm afraid I wasn't able to deliver your message to the following addresses.\n"
    "\n"
    "<goro@example.jp>:\n"
    "Sorry, no mailbox here by that name. (#5.1.1)\n"
    "\n"
    "<rokuro@example.jp>:\n"
    "The mailbox is full. (#4.2.2)\n"
    "\n"
    "--- Below this line is a copy of the message.\n"
    "\n"
    "Message-ID: <q1@anpi.example.jp>\n";

/* A carrier bounce where one address has no reason we recognise. */
static const char UNSURE[] =
    "From: postmaster@docomo.example.jp\n"
    "Subject: Returned mail\n"
    "\n"
    "Your mail to <nanami@docomo.example.jp> could not be handled.\n"
    "Please contact the administrator.\n";

static void
check_rcpt(const struct anpi_dsn_rcpt *r, const char *addr, enum anpi_dsn_action a,
           const char *status, enum anpi_dsn_class c)
{
    assert_non_null(r->final_recipient);
    assert_string_equal(r->final_recipient, addr);
    assert_int_equal(r->action, a);
    assert_string_equal(r->status, status);
    assert_int_equal(r->cls, c);
}

static void
test_postfix(void **state)
{
    (void)state;
    struct anpi_dsn d;
    char err[256];
    assert_int_equal(anpi_dsn_parse(POSTFIX, strlen(POSTFIX), &d, err, sizeof(err)), 0);
    assert_true(d.standard);
    assert_string_equal(d.reporting_mta, "mx.example.jp");
    assert_string_equal(d.orig_message_id, "b12.p34.a56@anpi.example.jp");
    assert_int_equal(d.nrcpts, 1);
    check_rcpt(&d.rcpts[0], "taro@example.jp", ANPI_DSN_ACTION_FAILED, "5.1.1", ANPI_DSN_HARD);
    assert_string_equal(d.rcpts[0].original_recipient, "taro@example.jp");
    assert_string_equal(d.rcpts[0].remote_mta, "mx2.example.jp");
    /* folded Diagnostic-Code comes back unfolded */
    assert_string_equal(d.rcpts[0].diagnostic,
                        "550 5.1.1 <taro@example.jp>: Recipient address    rejected: User unknown");
    assert_string_equal(anpi_dsn_class_name(d.rcpts[0].cls), "hard");
    anpi_dsn_free(&d);

    /* same message with LF line ends parses the same way */
    char *lf = malloc(sizeof(POSTFIX));
    size_t o = 0;
    for (size_t i = 0; POSTFIX[i]; i++)
        if (POSTFIX[i] != '\r')
            lf[o++] = POSTFIX[i];
    assert_int_equal(anpi_dsn_parse(lf, o, &d, err, sizeof(err)), 0);
    assert_int_equal(d.nrcpts, 1);
    assert_int_equal(d.rcpts[0].cls, ANPI_DSN_HARD);
    assert_string_equal(d.orig_message_id, "b12.p34.a56@anpi.example.jp");
    anpi_dsn_free(&d);
    free(lf);
}

static void
test_exim(void **state)
{
    (void)state;
    struct anpi_dsn d;
    char err[256];
    assert_int_equal(anpi_dsn_parse(EXIM, strlen(EXIM), &d, err, sizeof(err)), 0);
    assert_int_equal(d.nrcpts, 2);
    check_rcpt(&d.rcpts[0], "hanako@example.jp", ANPI_DSN_ACTION_FAILED, "5.0.0", ANPI_DSN_HARD);
    check_rcpt(&d.rcpts[1], "jiro@example.jp", ANPI_DSN_ACTION_DELAYED, "4.0.0", ANPI_DSN_SOFT);
    assert_string_equal(d.rcpts[0].diagnostic, "550 mailbox unavailable");
    assert_null(d.rcpts[1].diagnostic);
    assert_string_equal(d.orig_message_id, "b7.p8.a9@anpi.example.jp");
    anpi_dsn_free(&d);
}

static void
test_gmail_nested_base64(void **state)
{
    (void)state;
    struct anpi_dsn d;
    char err[256];
    assert_int_equal(anpi_dsn_parse(GMAIL, strlen(GMAIL), &d, err, sizeof(err)), 0);
    assert_true(d.standard);
    assert_string_equal(d.reporting_mta, "googlemail.example.jp");
    assert_int_equal(d.nrcpts, 1);
    check_rcpt(&d.rcpts[0], "saburo@example.jp", ANPI_DSN_ACTION_FAILED, "5.1.1", ANPI_DSN_HARD);
    assert_string_equal(d.orig_message_id, "g1.p2.a3@anpi.example.jp");
    anpi_dsn_free(&d);
}

static void
test_carrier_iso2022jp(void **state)
{
    (void)state;
    struct anpi_dsn d;
    char err[256];
    int rc = anpi_dsn_parse(CARRIER, strlen(CARRIER), &d, err, sizeof(err));
    assert_int_equal(rc, 0);
    assert_false(d.standard);
    assert_int_equal(d.nrcpts, 1);
    check_rcpt(&d.rcpts[0], "shiro@ezweb.example.jp", ANPI_DSN_ACTION_FAILED, "5.1.1", ANPI_DSN_HARD);
    assert_string_equal(d.orig_message_id, "c1.p2.a3@anpi.example.jp");
    anpi_dsn_free(&d);
}

static void
test_qmail(void **state)
{
    (void)state;
    struct anpi_dsn d;
    char err[256];
    assert_int_equal(anpi_dsn_parse(QMAIL, strlen(QMAIL), &d, err, sizeof(err)), 0);
    assert_int_equal(d.nrcpts, 2);
    check_rcpt(&d.rcpts[0], "goro@example.jp", ANPI_DSN_ACTION_FAILED, "5.1.1", ANPI_DSN_HARD);
    check_rcpt(&d.rcpts[1], "rokuro@example.jp", ANPI_DSN_ACTION_DELAYED, "4.2.2", ANPI_DSN_SOFT);
    assert_string_equal(d.orig_message_id, "q1@anpi.example.jp");
    anpi_dsn_free(&d);
}

static void
test_unparsed(void **state)
{
    (void)state;
    struct anpi_dsn d;
    char err[256];
    assert_int_equal(anpi_dsn_parse(UNSURE, strlen(UNSURE), &d, err, sizeof(err)), ANPI_DECLINED);
    assert_int_equal(d.nrcpts, 0);
    assert_non_null(strstr(err, "without a recognisable reason"));
    anpi_dsn_free(&d);

    /* an ordinary mail, not a bounce at all */
    const char *plain = "From: taro@example.jp\nSubject: hello\n\n1\n";
    assert_int_equal(anpi_dsn_parse(plain, strlen(plain), &d, err, sizeof(err)), ANPI_DECLINED);
    assert_non_null(strstr(err, "not a delivery status notification"));
    anpi_dsn_free(&d);

    /* a read receipt (MDN) is a report, but not about delivery */
    const char *mdn =
        "Content-Type: multipart/report; report-type=disposition-notification; boundary=b\n\n"
        "--b\nContent-Type: message/disposition-notification\n\nDisposition: manual-action/MDN-sent-manually; displayed\n"
        "--b--\n";
    assert_int_equal(anpi_dsn_parse(mdn, strlen(mdn), &d, err, sizeof(err)), ANPI_DECLINED);
    assert_non_null(strstr(err, "disposition-notification"));
    anpi_dsn_free(&d);
}

static const struct {
    const char *msg;
    int rc;
    const char *err;    /* substring */
} BAD[] = {
    { "Content-Type: multipart/report; report-type=delivery-status\n\nno boundary\n",
      ANPI_EPARSE, "without a usable boundary" },
    { "Content-Type: multipart/report; report-type=delivery-status; boundary=zz\n\n"
      "no delimiter anywhere\n", ANPI_EPARSE, "no \"--zz\" delimiter" },
    { "Content-Type: multipart/report; report-type=delivery-status; boundary=zz\n\n"
      "--zz\nContent-Type: text/plain\n\nsorry\n--zz--\n", ANPI_EPARSE, "without a message/delivery-status" },
    { "Content-Type: multipart/report; report-type=delivery-status; boundary=zz\n\n"
      "--zz\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; x.example.jp\n\n"
      "Action: failed\nStatus: 5.1.1\n--zz--\n", ANPI_EPARSE, "recipient group 1 has no Final-Recipient" },
    { "Content-Type: multipart/report; report-type=delivery-status; boundary=zz\n\n"
      "--zz\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; x.example.jp\n\n"
      "Final-Recipient: rfc822; a@example.jp\nthis is not a field\n--zz--\n", ANPI_EPARSE, "line 4: expected" },
    { "Content-Type: multipart/report; report-type=delivery-status; boundary=zz\n\n"
      "--zz\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; x.example.jp\n--zz--\n",
      ANPI_EPARSE, "no per-recipient fields" },
};

static void
test_malformed(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(BAD) / sizeof(BAD[0]); i++) {
        struct anpi_dsn d;
        char err[256];
        int rc = anpi_dsn_parse(BAD[i].msg, strlen(BAD[i].msg), &d, err, sizeof(err));
        if (rc != BAD[i].rc || !strstr(err, BAD[i].err))
            fail_msg("case %zu: rc %d err \"%s\"", i, rc, err);
        anpi_dsn_free(&d);
    }
}

static void
test_status_classes(void **state)
{
    (void)state;
    static const struct { const char *action, *status; enum anpi_dsn_class c; } t[] = {
        { "failed", "5.2.2", ANPI_DSN_HARD }, { "failed", "4.4.7", ANPI_DSN_SOFT },
        { "delayed", "4.4.1", ANPI_DSN_SOFT }, { "delivered", "2.0.0", ANPI_DSN_NONE },
        { "relayed", "2.0.0", ANPI_DSN_NONE }, { "expanded", "2.0.0", ANPI_DSN_NONE },
        { "failed", "5.1", ANPI_DSN_UNPARSED }, { "bounced", "5.1.1", ANPI_DSN_UNPARSED },
    };
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        char *m;
        if (asprintf(&m, "Content-Type: multipart/report; report-type=delivery-status; boundary=zz\n\n"
                     "--zz\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; x.example.jp\n\n"
                     "Final-Recipient: rfc822; <a@example.jp>\nAction: %s\nStatus: %s\n--zz--\n",
                     t[i].action, t[i].status) < 0)
            fail();
        struct anpi_dsn d;
        char err[256];
        assert_int_equal(anpi_dsn_parse(m, strlen(m), &d, err, sizeof(err)), 0);
        assert_string_equal(d.rcpts[0].final_recipient, "a@example.jp");
        if (d.rcpts[0].cls != t[i].c)
            fail_msg("case %zu: class %s", i, anpi_dsn_class_name(d.rcpts[0].cls));
        anpi_dsn_free(&d);
        free(m);
    }
}

static void
test_caps(void **state)
{
    (void)state;
    /* nesting deeper than the cap */
    char m[4096] = "";
    for (int i = 0; i < ANPI_MIMER_DEPTH_MAX + 2; i++) {
        char l[128];
        snprintf(l, sizeof(l), "Content-Type: multipart/mixed; boundary=b%d\n\n--b%d\n", i, i);
        strcat(m, l);
    }
    struct anpi_dsn d;
    char err[256];
    assert_int_equal(anpi_dsn_parse(m, strlen(m), &d, err, sizeof(err)), ANPI_ETOOBIG);
    assert_non_null(strstr(err, "nested deeper"));
    anpi_dsn_free(&d);

    /* a header value over the cap */
    size_t n = ANPI_MIMER_VALUE_MAX + 100;
    char *big = malloc(n + 64);
    strcpy(big, "Content-Type: multipart/report; boundary=");
    size_t l = strlen(big);
    memset(big + l, 'x', n);
    strcpy(big + l + n, "\n\nbody\n");
    assert_int_equal(anpi_dsn_parse(big, strlen(big), &d, err, sizeof(err)), ANPI_ETOOBIG);
    assert_non_null(strstr(err, "Content-Type header over"));
    anpi_dsn_free(&d);
    free(big);
    /* the whole message over the cap (only the length is looked at) */
    assert_int_equal(anpi_dsn_parse("", ANPI_DSN_MSG_MAX + 1, &d, err, sizeof(err)), ANPI_ETOOBIG);
    anpi_dsn_free(&d);
}

static void
test_mimer(void **state)
{
    (void)state;
    const char h[] = "Subject: a\r\n b\r\nX-Long:\r\n\tone\r\n\ttwo  \r\ncontent-type: Text/Plain; CharSet=\"iso-2022-jp\"; x=\"a;b\"\r\n";
    char v[256];
    assert_int_equal(anpi_mimer_header(h, strlen(h), "subject", v, sizeof(v)), 1);
    assert_string_equal(v, "a b");
    assert_int_equal(anpi_mimer_header(h, strlen(h), "X-Long", v, sizeof(v)), 1);
    assert_string_equal(v, "one\ttwo");
    assert_int_equal(anpi_mimer_header(h, strlen(h), "X-Missing", v, sizeof(v)), 0);
    assert_int_equal(anpi_mimer_header(h, strlen(h), "Subject", v, 3), ANPI_ETOOBIG);
    assert_int_equal(anpi_mimer_header(h, strlen(h), "Content-Type", v, sizeof(v)), 1);
    char ct[64], p[64];
    anpi_mimer_ctype(v, ct, sizeof(ct));
    assert_string_equal(ct, "text/plain");
    assert_int_equal(anpi_mimer_param(v, "charset", p, sizeof(p)), 1);
    assert_string_equal(p, "iso-2022-jp");
    assert_int_equal(anpi_mimer_param(v, "x", p, sizeof(p)), 1);
    assert_string_equal(p, "a;b");
    assert_int_equal(anpi_mimer_param(v, "boundary", p, sizeof(p)), 0);
    anpi_mimer_ctype("garbage", ct, sizeof(ct));
    assert_string_equal(ct, "");

    struct anpi_buf b;
    anpi_buf_init(&b, 1024);
    assert_int_equal(anpi_mimer_decode("Quoted-Printable", "a=3Db=\r\nc =E3=81=82=ZZ", 22, &b), 0);
    assert_string_equal(b.data, "a=bc \xE3\x81\x82=ZZ");
    anpi_buf_reset(&b);
    assert_int_equal(anpi_mimer_decode("base64", "5a6J\r\n5ZCm", 10, &b), 0);
    assert_string_equal(b.data, "\xE5\xAE\x89\xE5\x90\xA6");          /* 安否 */
    anpi_buf_reset(&b);
    assert_int_equal(anpi_mimer_decode_words("=?UTF-8?B?5a6J?= =?utf-8?q?=E5=90=A6_x?= tail", &b), 0);
    assert_string_equal(b.data, "\xE5\xAE\x89\xE5\x90\xA6 x tail");
    anpi_buf_reset(&b);
    assert_int_equal(anpi_mimer_decode_words("=?bogus-cs?B?QUJD?= =?UTF-8?X?bad?=", &b), 0);
    assert_string_equal(b.data, "=?bogus-cs?B?QUJD?= =?UTF-8?X?bad?=");
    anpi_buf_reset(&b);
    assert_int_equal(anpi_mimer_to_utf8("utf-8", "a\xFF" "b", 3, &b), 0);
    assert_string_equal(b.data, "a\xEF\xBF\xBD" "b");
    anpi_buf_reset(&b);
    assert_int_equal(anpi_mimer_to_utf8("Shift_JIS", "\x88\xc0\x94\xdb", 4, &b), 0);
    assert_string_equal(b.data, "\xE5\xAE\x89\xE5\x90\xA6");
    anpi_buf_reset(&b);
    assert_int_equal(anpi_mimer_to_utf8("x-no-such-charset", "abc", 3, &b), ANPI_DECLINED);
    anpi_buf_free(&b);

    /* multipart walk: preamble, two parts, closing delimiter, epilogue */
    const char mp[] = "pre\r\n--q\r\nA: 1\r\n\r\none\r\n--q \r\n\r\ntwo\r\n--q--\r\nepilogue\r\n";
    size_t pos = 0, plen;
    const char *part;
    assert_int_equal(anpi_mimer_next_part(mp, strlen(mp), "q", &pos, &part, &plen), 1);
    assert_int_equal(plen, strlen("A: 1\r\n\r\none"));
    assert_memory_equal(part, "A: 1\r\n\r\none", plen);
    assert_int_equal(anpi_mimer_next_part(mp, strlen(mp), "q", &pos, &part, &plen), 1);
    assert_memory_equal(part, "\r\ntwo", plen);
    assert_int_equal(anpi_mimer_next_part(mp, strlen(mp), "q", &pos, &part, &plen), 0);
    pos = 0;
    assert_int_equal(anpi_mimer_next_part("x\n--qq\n", 7, "q", &pos, &part, &plen), ANPI_EPARSE);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_postfix),
        cmocka_unit_test(test_exim),
        cmocka_unit_test(test_gmail_nested_base64),
        cmocka_unit_test(test_carrier_iso2022jp),
        cmocka_unit_test(test_qmail),
        cmocka_unit_test(test_unparsed),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_status_classes),
        cmocka_unit_test(test_caps),
        cmocka_unit_test(test_mimer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
