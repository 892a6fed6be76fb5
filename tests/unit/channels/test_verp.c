/* test_verp.c - VERP bounce addresses: shape, round trip, forged MACs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "channels/verp.h"

static const unsigned char key[] = "0123456789abcdef0123456789abcdef";
#define KL (sizeof(key) - 1)

static void
test_round_trip(void **state)
{
    (void)state;
    char a[128];
    assert_int_equal(anpi_verp_encode("bounce", "example.jp", 123, key, KL, a, sizeof(a)), 0);
    /* bounce+d123.<8 hex>@example.jp */
    assert_int_equal(strncmp(a, "bounce+d123.", 12), 0);
    assert_string_equal(a + 20, "@example.jp");
    for (int i = 12; i < 20; i++)
        assert_non_null(strchr("0123456789abcdef", a[i]));
    int64_t id = -1;
    assert_int_equal(anpi_verp_decode(a, "bounce", "example.jp", key, KL, &id), 0);
    assert_int_equal(id, 123);
    /* some MTAs fold the case of the local part */
    char up[128];
    for (size_t i = 0; i <= strlen(a); i++)
        up[i] = (char)(a[i] >= 'a' && a[i] <= 'z' ? a[i] - 32 : a[i]);
    assert_int_equal(anpi_verp_decode(up, "bounce", NULL, key, KL, &id), 0);
    assert_int_equal(id, 123);

    assert_int_equal(anpi_verp_encode("b.ounce-x", "mail.example.jp", INT64_MAX, key, KL, a,
                                      sizeof(a)), 0);
    assert_int_equal(anpi_verp_decode(a, "b.ounce-x", "mail.example.jp", key, KL, &id), 0);
    assert_int_equal(id, INT64_MAX);
    assert_int_equal(anpi_verp_encode("bounce", "example.jp", 0, key, KL, a, sizeof(a)), 0);
    assert_int_equal(anpi_verp_decode(a, "bounce", "example.jp", key, KL, &id), 0);
    assert_int_equal(id, 0);
}

static void
test_forged(void **state)
{
    (void)state;
    char a[128], b[128];
    int64_t id = 77;
    assert_int_equal(anpi_verp_encode("bounce", "example.jp", 123, key, KL, a, sizeof(a)), 0);
    assert_int_equal(anpi_verp_encode("bounce", "example.jp", 124, key, KL, b, sizeof(b)), 0);
    assert_string_not_equal(a + 12, b + 12);          /* the MAC depends on the id */
    /* another id with this id's MAC */
    char f[128];
    snprintf(f, sizeof(f), "bounce+d124.%.8s@example.jp", a + 12);
    assert_int_equal(anpi_verp_decode(f, "bounce", "example.jp", key, KL, &id), ANPI_EPERM);
    assert_int_equal(id, 0);
    /* another key */
    const unsigned char other[] = "another key of the same length!!";
    assert_int_equal(anpi_verp_decode(a, "bounce", "example.jp", other, KL, &id), ANPI_EPERM);
    /* one MAC digit changed */
    memcpy(f, a, sizeof(a));
    f[15] = f[15] == '0' ? '1' : '0';
    assert_int_equal(anpi_verp_decode(f, "bounce", "example.jp", key, KL, &id), ANPI_EPERM);
    /* not ours */
    assert_int_equal(anpi_verp_decode(a, "other", "example.jp", key, KL, &id), ANPI_ENOTFOUND);
    assert_int_equal(anpi_verp_decode(a, "bounce", "example.com", key, KL, &id), ANPI_ENOTFOUND);
    assert_int_equal(anpi_verp_decode("bounce@example.jp", "bounce", NULL, key, KL, &id),
                     ANPI_ENOTFOUND);
    assert_int_equal(anpi_verp_decode("bounce+d.12345678@example.jp", "bounce", NULL, key, KL,
                                      &id), ANPI_ENOTFOUND);
    assert_int_equal(anpi_verp_decode("bounce+d0123.12345678@example.jp", "bounce", NULL, key,
                                      KL, &id), ANPI_ENOTFOUND);
    assert_int_equal(anpi_verp_decode("bounce+d12.1234567@example.jp", "bounce", NULL, key, KL,
                                      &id), ANPI_ENOTFOUND);
    assert_int_equal(anpi_verp_decode("bounce+d12.1234567g@example.jp", "bounce", NULL, key, KL,
                                      &id), ANPI_ENOTFOUND);
    assert_int_equal(anpi_verp_decode("bounce+d99999999999999999999.12345678@example.jp",
                                      "bounce", NULL, key, KL, &id), ANPI_ENOTFOUND);
    assert_int_equal(anpi_verp_decode("bounce+d-1.12345678@example.jp", "bounce", NULL, key, KL,
                                      &id), ANPI_ENOTFOUND);
}

static void
test_bad_input(void **state)
{
    (void)state;
    char a[128];
    assert_int_equal(anpi_verp_encode("bou+nce", "example.jp", 1, key, KL, a, sizeof(a)),
                     ANPI_EPARSE);
    assert_int_equal(anpi_verp_encode("", "example.jp", 1, key, KL, a, sizeof(a)), ANPI_EPARSE);
    assert_int_equal(anpi_verp_encode("bounce", "exa mple.jp", 1, key, KL, a, sizeof(a)),
                     ANPI_EPARSE);
    assert_int_equal(anpi_verp_encode("bounce", "example.jp\r\n", 1, key, KL, a, sizeof(a)),
                     ANPI_EPARSE);
    assert_int_equal(anpi_verp_encode("bounce", "example.jp", -1, key, KL, a, sizeof(a)),
                     ANPI_EPARSE);
    assert_int_equal(anpi_verp_encode("bounce", "example.jp", 1, key, 0, a, sizeof(a)),
                     ANPI_EPARSE);
    assert_int_equal(anpi_verp_encode("bounce", "example.jp", 1, key, KL, a, 20), ANPI_ETOOBIG);
    assert_string_equal(a, "");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_forged),
        cmocka_unit_test(test_bad_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
