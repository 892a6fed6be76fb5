/* test_totp.c - RFC 6238 Appendix B vectors, code parsing, windows, replay
 * refusal, secrets and the otpauth:// URI. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "engine/auth/totp.h"

/* RFC 6238's SHA1 seed "12345678901234567890" in base32 */
#define RFC_SECRET "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"

static const struct {
    int64_t t;
    uint32_t totp8;
} rfc_rows[] = {
    { 59, 94287082u },
    { 1111111109, 7081804u },
    { 1111111111, 14050471u },
    { 1234567890, 89005924u },
    { 2000000000, 69279037u },
    { 20000000000LL, 65353130u },
};

static void
test_rfc6238_vectors(void **state)
{
    (void)state;
    const uint8_t *key = (const uint8_t *)"12345678901234567890";
    uint8_t dec[64];
    assert_int_equal(anpi_totp_secret_decode(RFC_SECRET, dec, sizeof dec), 20);
    assert_memory_equal(dec, key, 20);
    for (size_t i = 0; i < ANPI_ARRAY_LEN(rfc_rows); i++) {
        uint32_t v;
        assert_int_equal(anpi_totp_hotp(key, 20, (uint64_t)(rfc_rows[i].t / 30), 8, &v), 0);
        assert_int_equal(v, rfc_rows[i].totp8);

        /* the 6-digit code is the low 6 digits of the 8-digit one */
        char code[7], want[7];
        snprintf(want, sizeof want, "%06u", (unsigned)(rfc_rows[i].totp8 % 1000000u));
        assert_int_equal(anpi_totp_code(RFC_SECRET, rfc_rows[i].t, code), 0);
        assert_string_equal(code, want);
        int64_t step = 0;
        assert_int_equal(anpi_totp_verify(RFC_SECRET, want, rfc_rows[i].t, 0, &step), 0);
        assert_int_equal(step, rfc_rows[i].t / 30);
    }
}

static void
test_rfc4226_hotp(void **state)
{
    (void)state;
    /* RFC 4226 Appendix D, counters 0..9 */
    static const uint32_t want[] = { 755224, 287082, 359152, 969429, 338314,
                                     254676, 287922, 162583, 399871, 520489 };
    for (uint64_t c = 0; c < 10; c++) {
        uint32_t v;
        assert_int_equal(anpi_totp_hotp((const uint8_t *)"12345678901234567890", 20, c, 6, &v), 0);
        assert_int_equal(v, want[c]);
    }
    uint32_t v;
    assert_int_equal(anpi_totp_hotp((const uint8_t *)"x", 1, 0, 9, &v), ANPI_EPARSE);
}

static void
test_code_parse(void **state)
{
    (void)state;
    uint32_t v;
    assert_int_equal(anpi_totp_code_parse("287082", &v), 0);
    assert_int_equal(v, 287082);
    assert_int_equal(anpi_totp_code_parse("007081", &v), 0);
    assert_int_equal(v, 7081);
    assert_int_equal(anpi_totp_code_parse(" 287 082 ", &v), 0);
    assert_int_equal(v, 287082);
    static const char *const bad[] = {
        "12345", "abcdef", "1234567", "", "      ", "12345a", "+12345", "-12345",
        "12 34 5", "２８７０８２", "287082\n", "2870８2", "287082              ",
    };
    for (size_t i = 0; i < ANPI_ARRAY_LEN(bad); i++)
        if (anpi_totp_code_parse(bad[i], &v) != ANPI_EPARSE)
            fail_msg("accepted '%s'", bad[i]);
}

static void
test_window_and_replay(void **state)
{
    (void)state;
    int64_t t = 1111111111;          /* step 37037037 */
    char prev_code[7], next_code[7], far_code[7];
    assert_int_equal(anpi_totp_code(RFC_SECRET, t - 30, prev_code), 0);
    assert_int_equal(anpi_totp_code(RFC_SECRET, t + 30, next_code), 0);
    assert_int_equal(anpi_totp_code(RFC_SECRET, t - 90, far_code), 0);

    int64_t step = 0;
    assert_int_equal(anpi_totp_verify(RFC_SECRET, prev_code, t, 0, &step), ANPI_EPERM);
    assert_int_equal(step, 0);      /* untouched on failure */
    assert_int_equal(anpi_totp_verify(RFC_SECRET, prev_code, t, 1, &step), 0);
    assert_int_equal(step, t / 30 - 1);
    /* the same code again: refused */
    assert_int_equal(anpi_totp_verify(RFC_SECRET, prev_code, t, 1, &step), ANPI_EPERM);
    /* the current code is still fine, and then also used up */
    assert_int_equal(anpi_totp_verify(RFC_SECRET, "050471", t, 1, &step), 0);
    assert_int_equal(step, t / 30);
    assert_int_equal(anpi_totp_verify(RFC_SECRET, "050471", t, 1, &step), ANPI_EPERM);
    assert_int_equal(anpi_totp_verify(RFC_SECRET, next_code, t, 1, &step), 0);
    assert_int_equal(step, t / 30 + 1);
    /* three steps back is outside a window of 1 and 2 */
    step = 0;
    assert_int_equal(anpi_totp_verify(RFC_SECRET, far_code, t, 2, &step), ANPI_EPERM);
    assert_int_equal(anpi_totp_verify(RFC_SECRET, far_code, t, 3, &step), 0);
    /* malformed inputs */
    step = 0;
    assert_int_equal(anpi_totp_verify(RFC_SECRET, "12345", t, 1, &step), ANPI_EPARSE);
    assert_int_equal(anpi_totp_verify(RFC_SECRET, "abcdef", t, 1, &step), ANPI_EPARSE);
    assert_int_equal(anpi_totp_verify(RFC_SECRET, "1234567", t, 1, &step), ANPI_EPARSE);
    assert_int_equal(anpi_totp_verify(RFC_SECRET, "０５０４７１", t, 1, &step), ANPI_EPARSE);
    assert_int_equal(anpi_totp_verify("GEZDGNBV!", "050471", t, 1, &step), ANPI_EPARSE);
    assert_int_equal(anpi_totp_verify("GEZDGNBV", "050471", t, 1, &step), ANPI_EPARSE); /* 5 bytes */
    assert_int_equal(step, 0);
}

static void
test_secret_new(void **state)
{
    (void)state;
    char a[ANPI_TOTP_SECRET_B32 + 1], b[ANPI_TOTP_SECRET_B32 + 1];
    assert_int_equal(anpi_totp_secret_new(a), 0);
    assert_int_equal(anpi_totp_secret_new(b), 0);
    assert_int_equal(strlen(a), 32);
    assert_string_not_equal(a, b);
    assert_int_equal(strspn(a, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"), 32);
    uint8_t key[64];
    assert_int_equal(anpi_totp_secret_decode(a, key, sizeof key), 20);
    /* the code for the new secret verifies against itself */
    char code[7];
    assert_int_equal(anpi_totp_code(a, 1700000000, code), 0);
    int64_t step = 0;
    assert_int_equal(anpi_totp_verify(a, code, 1700000000, 1, &step), 0);

    /* lower case and padding are accepted when decoding */
    assert_int_equal(anpi_totp_secret_decode("mfrggzdfmztwq2lk", key, sizeof key), 10);
    assert_memory_equal(key, "abcdefghij", 10);
    assert_int_equal(anpi_totp_secret_decode("MFRGGZDFMZTWQ2LK====", key, sizeof key), 10);
    assert_int_equal(anpi_totp_secret_decode("MFRG=GZDFMZTWQ2LK", key, sizeof key), ANPI_EPARSE);
    assert_int_equal(anpi_totp_secret_decode("MFRGGZDF MZTWQ2LK", key, sizeof key), ANPI_EPARSE);
}

static void
test_uri(void **state)
{
    (void)state;
    char *u = anpi_totp_uri(RFC_SECRET, "anpi 安否", "taro@example.jp");
    assert_non_null(u);
    assert_string_equal(u, "otpauth://totp/anpi%20%E5%AE%89%E5%90%A6:taro%40example.jp"
                           "?secret=" RFC_SECRET "&issuer=anpi%20%E5%AE%89%E5%90%A6"
                           "&algorithm=SHA1&digits=6&period=30");
    free(u);
    /* a colon in the issuer must not split the label */
    u = anpi_totp_uri("gezdgnbvgy3tqojqgezdgnbvgy3tqojq", "a:b", "c");
    assert_non_null(u);
    assert_string_equal(u, "otpauth://totp/a%3Ab:c?secret=" RFC_SECRET
                           "&issuer=a%3Ab&algorithm=SHA1&digits=6&period=30");
    free(u);
    assert_null(anpi_totp_uri("not base32!", "anpi", "taro"));
    assert_null(anpi_totp_uri(RFC_SECRET, NULL, "taro"));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc6238_vectors),
        cmocka_unit_test(test_rfc4226_hotp),
        cmocka_unit_test(test_code_parse),
        cmocka_unit_test(test_window_and_replay),
        cmocka_unit_test(test_secret_new),
        cmocka_unit_test(test_uri),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
