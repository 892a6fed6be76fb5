/* test_smtp_policy.c - reply/failure -> outcome table. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "channels/smtp_policy.h"

#define T ANPI_SMTP_TEMPFAIL
#define P ANPI_SMTP_PERMFAIL

static const struct {
    enum anpi_smtp_stage st;
    int code;
    const char *enh;
    const char *text;
    enum anpi_smtp_result result;
    bool unknown;
    bool failover;
} cases[] = {
    { ANPI_SMTP_STAGE_BANNER, 421, "", "mx.example.jp Service not available", T, false, true },
    { ANPI_SMTP_STAGE_BANNER, 554, "", "No SMTP service here", T, false, true },
    { ANPI_SMTP_STAGE_EHLO, 550, "", "go away", T, false, true },
    { ANPI_SMTP_STAGE_AUTH, 535, "5.7.8", "Authentication credentials invalid", T, false, true },
    { ANPI_SMTP_STAGE_MAIL, 421, "4.3.0", "shutting down", T, false, true },
    { ANPI_SMTP_STAGE_MAIL, 451, "4.3.0", "local error", T, false, false },
    { ANPI_SMTP_STAGE_MAIL, 553, "5.1.8", "Sender address rejected", P, false, false },
    { ANPI_SMTP_STAGE_RCPT, 450, "4.2.0", "Greylisted", T, false, false },
    { ANPI_SMTP_STAGE_RCPT, 451, "4.3.0", "try later", T, false, false },
    { ANPI_SMTP_STAGE_RCPT, 452, "4.5.3", "Too many recipients", T, false, false },
    { ANPI_SMTP_STAGE_RCPT, 550, "5.1.1", "<taro@example.jp>: Recipient address rejected", P, true, false },
    { ANPI_SMTP_STAGE_RCPT, 550, "", "User unknown", P, true, false },
    { ANPI_SMTP_STAGE_RCPT, 550, "", "taro@example.jp... No such user here", P, true, false },
    { ANPI_SMTP_STAGE_RCPT, 550, "", "Requested action not taken: mailbox unavailable", P, true, false },
    { ANPI_SMTP_STAGE_RCPT, 550, "5.7.1", "Relaying denied", P, false, false },
    { ANPI_SMTP_STAGE_RCPT, 551, "5.1.1", "user not local", P, true, false },
    { ANPI_SMTP_STAGE_RCPT, 553, "", "mailbox name not allowed", P, false, false },
    { ANPI_SMTP_STAGE_RCPT, 552, "", "too many recipients", T, false, false },
    { ANPI_SMTP_STAGE_RCPT, 554, "5.7.1", "Rejected", P, false, false },
    { ANPI_SMTP_STAGE_RCPT, 450, "4.1.1", "user unknown (temporarily)", T, false, false },
    { ANPI_SMTP_STAGE_DATA, 554, "", "No valid recipients", P, false, false },
    { ANPI_SMTP_STAGE_EOM, 552, "5.3.4", "Message size exceeds fixed limit", P, false, false },
    { ANPI_SMTP_STAGE_EOM, 421, "", "closing", T, false, false },
    { ANPI_SMTP_STAGE_EOM, 451, "", "queue file write error", T, false, false },
    { ANPI_SMTP_STAGE_EOM, 554, "5.7.1", "spam", P, false, false },
};

static void
test_reply_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct anpi_smtp_outcome o;
        memset(&o, 0xff, sizeof(o));
        anpi_smtp_policy_reply(cases[i].st, cases[i].code, cases[i].enh, cases[i].text, &o);
        if (o.result != cases[i].result || o.user_unknown != cases[i].unknown ||
            anpi_smtp_policy_failover(cases[i].st, &o) != cases[i].failover)
            fail_msg("case %zu (%d %s): result %d unknown %d", i, cases[i].code, cases[i].text,
                     o.result, o.user_unknown);
        assert_int_equal(o.code, cases[i].code);
        assert_string_equal(o.enhanced, cases[i].enh);
        assert_string_equal(o.text, cases[i].text);
    }
}

static void
test_local(void **state)
{
    (void)state;
    struct anpi_smtp_outcome o;
    anpi_smtp_policy_local(ANPI_SMTP_STAGE_CONNECT, "connect: connection refused", &o);
    assert_int_equal(o.result, ANPI_SMTP_TEMPFAIL);
    assert_int_equal(o.code, 0);
    assert_string_equal(o.text, "connect: connection refused");
    assert_true(anpi_smtp_policy_failover(ANPI_SMTP_STAGE_CONNECT, &o));
    anpi_smtp_policy_local(ANPI_SMTP_STAGE_BODY, "connection closed by peer", &o);
    assert_true(anpi_smtp_policy_failover(ANPI_SMTP_STAGE_BODY, &o));
    /* After the final dot the message may have been taken: no failover. */
    anpi_smtp_policy_local(ANPI_SMTP_STAGE_EOM, "timeout waiting for reply to end of DATA", &o);
    assert_int_equal(o.result, ANPI_SMTP_TEMPFAIL);
    assert_false(anpi_smtp_policy_failover(ANPI_SMTP_STAGE_EOM, &o));
}

static void
test_multiline_text(void **state)
{
    (void)state;
    struct anpi_smtp_outcome o;
    anpi_smtp_policy_reply(ANPI_SMTP_STAGE_RCPT, 550, "5.1.1", "5.1.1 first\n5.1.1 second\n", &o);
    assert_string_equal(o.text, "5.1.1 first 5.1.1 second");
    assert_true(o.user_unknown);
    assert_false(anpi_smtp_policy_user_unknown(450, "4.1.1", "User unknown"));
    assert_false(anpi_smtp_policy_user_unknown(554, "", "User unknown"));
    assert_true(anpi_smtp_policy_user_unknown(550, "", "USER UNKNOWN in virtual table"));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reply_table),
        cmocka_unit_test(test_local),
        cmocka_unit_test(test_multiline_text),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
