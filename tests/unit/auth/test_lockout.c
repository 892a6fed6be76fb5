/* test_lockout.c - the backoff timeline with an injected clock, resets,
 * the text form and the per-address keys. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "engine/auth/lockout.h"

static void
test_timeline(void **state)
{
    (void)state;
    struct anpi_lockout s = ANPI_LOCKOUT_INIT;
    int64_t now = 1700000000;
    /* four failures are free */
    for (int i = 0; i < 4; i++) {
        assert_int_equal(anpi_lockout_check(&s, now), 0);
        anpi_lockout_fail(&s, now);
        now += 1;
    }
    assert_int_equal(anpi_lockout_check(&s, now), 0);
    /* the fifth starts the backoff at 1 s, then 2, 4, ...: at least that
     * long, so until the second after now + want (a failure at the end of
     * second now must not be free again at the start of the next) */
    int64_t want = 1;
    for (int i = 5; i <= 20; i++) {
        assert_int_equal(anpi_lockout_check(&s, now), 0);
        anpi_lockout_fail(&s, now);
        assert_int_equal(s.failures, (uint32_t)i);
        assert_int_equal(anpi_lockout_check(&s, now), want + 1);
        assert_int_equal(anpi_lockout_check(&s, now + want - 1), 2);
        assert_int_equal(anpi_lockout_check(&s, now + want), 1);
        assert_int_equal(anpi_lockout_check(&s, now + want + 1), 0);
        now += want + 1;
        want = want * 2 > 900 ? 900 : want * 2;
    }
    /* capped at 15 minutes (and the second after): waiting what check
     * says is always enough */
    assert_int_equal(want, 900);
    anpi_lockout_fail(&s, now);
    assert_int_equal(anpi_lockout_check(&s, now), 901);
    assert_int_equal(anpi_lockout_check(&s, now + 901), 0);
    /* success clears everything */
    anpi_lockout_ok(&s);
    assert_int_equal(anpi_lockout_check(&s, now), 0);
    assert_int_equal(s.failures, 0);
    anpi_lockout_fail(&s, now);
    assert_int_equal(anpi_lockout_check(&s, now), 0);
}

static void
test_fail_while_locked(void **state)
{
    (void)state;
    struct anpi_lockout s = ANPI_LOCKOUT_INIT;
    int64_t now = 1700000000;
    for (int i = 0; i < 10; i++)
        anpi_lockout_fail(&s, now);            /* hammering without waiting */
    /* 10 failures: 2^5 = 32 s (until the second after) */
    assert_int_equal(anpi_lockout_check(&s, now), 33);
    /* a clock that jumped back never yields more than the cap */
    s.locked_until = now + 100000;
    assert_int_equal(anpi_lockout_check(&s, now), 901);
}

static void
test_forget(void **state)
{
    (void)state;
    struct anpi_lockout s = ANPI_LOCKOUT_INIT;
    int64_t now = 1700000000;
    for (int i = 0; i < 6; i++)
        anpi_lockout_fail(&s, now);
    assert_int_equal(anpi_lockout_check(&s, now), 3);
    now += ANPI_LOCKOUT_FORGET_S;
    assert_int_equal(anpi_lockout_check(&s, now), 0);
    anpi_lockout_fail(&s, now);                /* starts over at one */
    assert_int_equal(s.failures, 1);
    assert_int_equal(anpi_lockout_check(&s, now), 0);
}

static void
test_text_form(void **state)
{
    (void)state;
    struct anpi_lockout s = { 6, 1700000000, 1700000002 }, t;
    char buf[64];
    assert_int_equal(anpi_lockout_format(&s, buf, sizeof buf), 0);
    assert_string_equal(buf, "6:1700000000:1700000002");
    assert_int_equal(anpi_lockout_parse(buf, &t), 0);
    assert_int_equal(t.failures, 6);
    assert_int_equal(t.last_failure, 1700000000);
    assert_int_equal(t.locked_until, 1700000002);
    char small[8];
    assert_int_equal(anpi_lockout_format(&s, small, sizeof small), ANPI_ETOOBIG);
    static const char *const bad[] = {
        "", "6", "6:1", "6:1:2:3", "-1:0:0", "6:x:0", "6:0:-5", "4294967296:0:0", "6::0", " 6:0:0",
    };
    for (size_t i = 0; i < ANPI_ARRAY_LEN(bad); i++)
        if (anpi_lockout_parse(bad[i], &t) != ANPI_EPARSE)
            fail_msg("accepted '%s'", bad[i]);
}

static void
test_addr_key(void **state)
{
    (void)state;
    char k[64];
    assert_int_equal(anpi_lockout_addr_key("192.0.2.7", k, sizeof k), 0);
    assert_string_equal(k, "192.0.2.7");
    assert_int_equal(anpi_lockout_addr_key("::ffff:192.0.2.7", k, sizeof k), 0);
    assert_string_equal(k, "192.0.2.7");
    assert_int_equal(anpi_lockout_addr_key("2001:db8:1:2:3:4:5:6", k, sizeof k), 0);
    assert_string_equal(k, "2001:db8:1:2::/64");
    assert_int_equal(anpi_lockout_addr_key("2001:DB8:1:2:ffff::1", k, sizeof k), 0);
    assert_string_equal(k, "2001:db8:1:2::/64");
    assert_int_equal(anpi_lockout_addr_key("example.jp", k, sizeof k), ANPI_EPARSE);
    assert_int_equal(anpi_lockout_addr_key("192.0.2.256", k, sizeof k), ANPI_EPARSE);
    assert_int_equal(anpi_lockout_addr_key("", k, sizeof k), ANPI_EPARSE);
    char small[4];
    assert_int_equal(anpi_lockout_addr_key("192.0.2.7", small, sizeof small), ANPI_ETOOBIG);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_timeline),
        cmocka_unit_test(test_fail_while_locked),
        cmocka_unit_test(test_forget),
        cmocka_unit_test(test_text_form),
        cmocka_unit_test(test_addr_key),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
