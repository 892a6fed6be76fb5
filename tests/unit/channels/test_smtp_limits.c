/* test_smtp_limits.c - destination groups, carrier profiles and the token
 * bucket arithmetic, with an injected clock (milliseconds passed in). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "channels/smtp_limits.h"

static void
test_carrier_lookup(void **state)
{
    (void)state;
    assert_string_equal(anpi_limits_carrier("docomo.ne.jp"), "docomo");
    assert_string_equal(anpi_limits_carrier("DoCoMo.ne.jp"), "docomo");
    assert_string_equal(anpi_limits_carrier("ezweb.ne.jp"), "au");
    assert_string_equal(anpi_limits_carrier("au.com"), "au");
    assert_string_equal(anpi_limits_carrier("biz.ezweb.ne.jp"), "au");
    assert_string_equal(anpi_limits_carrier("softbank.ne.jp"), "softbank");
    assert_string_equal(anpi_limits_carrier("i.softbank.jp"), "softbank");
    assert_string_equal(anpi_limits_carrier("yahoo.co.jp"), "yahoo");
    assert_string_equal(anpi_limits_carrier("gmail.com"), "gmail");
    assert_null(anpi_limits_carrier("example.jp"));
    assert_null(anpi_limits_carrier("notdocomo.ne.jp"));   /* not a subdomain */
    assert_null(anpi_limits_carrier("docomo.ne.jp.example.jp"));

    struct anpi_limit_group a, b;
    anpi_limits_resolve(NULL, 0, "au.com", &a);
    anpi_limits_resolve(NULL, 0, "ezweb.ne.jp", &b);
    assert_string_equal(a.name, b.name);               /* one budget for both */
    assert_true(a.carrier);
    assert_int_equal(a.messages_per_connection, 100);
    assert_true(a.rate > 0);
    anpi_limits_resolve(NULL, 0, "docomo.ne.jp", &a);
    assert_string_equal(a.name, "carrier:docomo");
    assert_int_equal(a.messages_per_connection, 100);
    anpi_limits_resolve(NULL, 0, "example.jp", &a);
    assert_string_equal(a.name, "default");
    assert_true(a.is_default);
    assert_true(a.rate == 0);
}

static void
test_config_first_match(void **state)
{
    (void)state;
    const struct anpi_smtp_limit lims[] = {
        { .match = "example.jp", .connections = 3, .rate = 20, .burst = 4, .messages_per_connection = 7 },
        { .match = "docomo.ne.jp", .connections = 1, .rate = 5 },
        { .match = "*", .connections = 2, .rate = 100 },
    };
    struct anpi_limit_group g;
    anpi_limits_resolve(lims, 3, "mail.Example.JP", &g);
    assert_string_equal(g.name, "limit:example.jp");
    assert_int_equal(g.connections, 3);
    assert_true(g.rate == 20);
    assert_int_equal(g.burst, 4);
    assert_int_equal(g.messages_per_connection, 7);
    assert_false(g.carrier);
    /* an entry overrides the carrier profile */
    anpi_limits_resolve(lims, 3, "docomo.ne.jp", &g);
    assert_string_equal(g.name, "limit:docomo.ne.jp");
    assert_true(g.rate == 5);
    assert_int_equal(g.burst, 1);
    /* "*" covers everything else, one group per domain, before the profiles */
    anpi_limits_resolve(lims, 3, "gmail.com", &g);
    assert_string_equal(g.name, "domain:gmail.com");
    assert_true(g.rate == 100);
    anpi_limits_resolve(lims, 2, "gmail.com", &g);
    assert_string_equal(g.name, "carrier:gmail");
}

static void
test_bucket_rate(void **state)
{
    (void)state;
    struct anpi_rate r;
    int64_t t = 1000000;
    anpi_rate_init(&r, 20.0, 1, t);
    /* 100 messages at 20/s: the first goes at once, each next 50 ms later,
     * so the last one leaves at 99 * 50 ms = 4.95 s. */
    int64_t sent_at[100];
    int n = 0;
    while (n < 100) {
        int64_t w = anpi_rate_take(&r, t, false);
        if (w == 0) {
            sent_at[n++] = t;
            continue;
        }
        assert_true(w > 0 && w <= 50);
        t += w;
    }
    assert_int_equal(sent_at[0], 1000000);
    assert_true(sent_at[99] - sent_at[0] >= 4940 && sent_at[99] - sent_at[0] <= 4960);
    for (int i = 1; i < 100; i++)
        assert_true(sent_at[i] - sent_at[i - 1] >= 49 && sent_at[i] - sent_at[i - 1] <= 51);
}

static void
test_bucket_burst(void **state)
{
    (void)state;
    struct anpi_rate r;
    anpi_rate_init(&r, 10.0, 5, 0);
    for (int i = 0; i < 5; i++)
        assert_int_equal(anpi_rate_take(&r, 0, false), 0);   /* the burst */
    assert_int_equal(anpi_rate_take(&r, 0, false), 100);
    /* idle for a minute: the bucket holds only 5 */
    for (int i = 0; i < 5; i++)
        assert_int_equal(anpi_rate_take(&r, 60000, false), 0);
    assert_true(anpi_rate_take(&r, 60000, false) > 0);
    /* top of the hour: at most one token */
    assert_int_equal(anpi_rate_take(&r, 120000, true), 0);
    assert_true(anpi_rate_take(&r, 120000, true) > 0);
    /* unlimited never waits */
    anpi_rate_init(&r, 0, 1, 0);
    for (int i = 0; i < 1000; i++)
        assert_int_equal(anpi_rate_take(&r, 0, false), 0);
}

static void
test_quiet_window(void **state)
{
    (void)state;
    /* 2025-01-01 00:00:00 UTC = 09:00:00 JST */
    int64_t hour = 1735689600LL * 1000;
    assert_true(anpi_limits_quiet_window(hour));
    assert_true(anpi_limits_quiet_window(hour + 29999));
    assert_false(anpi_limits_quiet_window(hour + 30000));
    assert_false(anpi_limits_quiet_window(hour + 1800 * 1000));
    assert_false(anpi_limits_quiet_window(hour - 30001));
    assert_true(anpi_limits_quiet_window(hour - 30000));
}

static void
test_slowdown_recovery(void **state)
{
    (void)state;
    struct anpi_rate r;
    anpi_rate_init(&r, 40.0, 1, 0);
    assert_true(anpi_rate_effective(&r, 0) == 40.0);
    anpi_rate_slowdown(&r, 1000, 0);
    assert_true(anpi_rate_effective(&r, 1000) == 20.0);
    /* a second 421 from the same episode does not halve again */
    anpi_rate_slowdown(&r, 2000, 0);
    assert_true(anpi_rate_effective(&r, 2000) == 20.0);
    /* a later one does */
    anpi_rate_slowdown(&r, 10000, 0);
    assert_true(anpi_rate_effective(&r, 10000) == 10.0);
    /* held for 10 minutes after the last one, then a quarter per minute */
    assert_true(anpi_rate_effective(&r, 10000 + 599999) == 10.0);
    assert_true(anpi_rate_effective(&r, 10000 + 600000) == 20.0);      /* 0.25 -> 0.5 */
    assert_true(anpi_rate_effective(&r, 10000 + 660000) == 30.0);      /* 0.75 */
    assert_true(anpi_rate_effective(&r, 10000 + 720000) == 40.0);      /* 1.0 */
    assert_true(anpi_rate_effective(&r, 10000 + 7200000) == 40.0);
    /* the slowed rate really spaces tokens */
    anpi_rate_init(&r, 10.0, 1, 0);
    anpi_rate_slowdown(&r, 0, 0);
    assert_int_equal(anpi_rate_take(&r, 0, false), 0);
    assert_int_equal(anpi_rate_take(&r, 0, false), 200);
    /* an unlimited group is slowed relative to what it was sending */
    anpi_rate_init(&r, 0, 1, 0);
    anpi_rate_slowdown(&r, 0, 300.0);
    assert_true(anpi_rate_effective(&r, 0) == 150.0);
    assert_true(anpi_rate_effective(&r, 600000 + 3 * 60000) == 0);    /* recovered: no limit */
}

static void
test_share(void **state)
{
    (void)state;
    struct anpi_rate r;
    anpi_rate_init(&r, 30.0, 1, 0);
    anpi_rate_set_share(&r, 1.0 / 3);
    assert_true(anpi_rate_effective(&r, 0) > 9.99 && anpi_rate_effective(&r, 0) < 10.01);
    assert_int_equal(anpi_rate_take(&r, 0, false), 0);
    assert_int_equal(anpi_rate_take(&r, 0, false), 100);
    anpi_rate_set_share(&r, 5.0);   /* clamped */
    assert_true(anpi_rate_effective(&r, 0) == 30.0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_carrier_lookup),
        cmocka_unit_test(test_config_first_match),
        cmocka_unit_test(test_bucket_rate),
        cmocka_unit_test(test_bucket_burst),
        cmocka_unit_test(test_quiet_window),
        cmocka_unit_test(test_slowdown_recovery),
        cmocka_unit_test(test_share),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
