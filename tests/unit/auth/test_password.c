/* test_password.c - argon2id hashing, the strength policy, the 10 KB
 * password, the change status and the thread-pool wrappers on a uv loop. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include <argon2.h>

#include "engine/auth/password.h"

static double
now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static char *
big_password(size_t n)
{
    char *p = malloc(n + 1);
    assert_non_null(p);
    for (size_t i = 0; i < n; i++)
        p[i] = (char)('A' + (char)(i % 26));
    p[n] = '\0';
    return p;
}

static void
test_hash_verify(void **state)
{
    (void)state;
    char h1[ANPI_PASSWORD_HASH_MAX], h2[ANPI_PASSWORD_HASH_MAX];
    assert_int_equal(anpi_password_hash("Shiken-Taro-2024", h1, sizeof h1), 0);
    assert_int_equal(anpi_password_hash("Shiken-Taro-2024", h2, sizeof h2), 0);
    assert_non_null(strstr(h1, "$argon2id$v=19$m=32768,t=2,p=1$"));
    assert_string_not_equal(h1, h2);   /* fresh salt each time */
    assert_int_equal(anpi_password_verify(h1, "Shiken-Taro-2024"), 0);
    assert_int_equal(anpi_password_verify(h2, "Shiken-Taro-2024"), 0);
    assert_int_equal(anpi_password_verify(h1, "shiken-Taro-2024"), ANPI_EPERM);
    assert_int_equal(anpi_password_verify(h1, ""), ANPI_EPERM);
    assert_false(anpi_password_needs_rehash(h1));

    /* a flipped character in the tag is a mismatch */
    char bad[ANPI_PASSWORD_HASH_MAX];
    memcpy(bad, h1, sizeof bad);
    size_t n = strlen(bad);
    bad[n - 2] = bad[n - 2] == 'A' ? 'B' : 'A';
    assert_int_equal(anpi_password_verify(bad, "Shiken-Taro-2024"), ANPI_EPERM);

    /* the buffer must be big enough */
    char small[32];
    assert_int_equal(anpi_password_hash("Shiken-Taro-2024", small, sizeof small), ANPI_ETOOBIG);
}

static void
test_verify_malformed(void **state)
{
    (void)state;
    assert_int_equal(anpi_password_verify("", "x"), ANPI_EPARSE);
    assert_int_equal(anpi_password_verify("plaintext", "plaintext"), ANPI_EPARSE);
    /* argon2i and argon2d strings are not accepted */
    assert_int_equal(anpi_password_verify(
        "$argon2i$v=19$m=32768,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaA",
        "x"), ANPI_EPARSE);
    /* a stored hash asking for 4 GiB is refused before libargon2 sees it */
    assert_int_equal(anpi_password_verify(
        "$argon2id$v=19$m=4194304,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaA",
        "x"), ANPI_EPARSE);
    assert_int_equal(anpi_password_verify(
        "$argon2id$v=19$m=32768,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$", "x"), ANPI_EPARSE);
    assert_int_equal(anpi_password_verify(
        "$argon2id$v=19$m=032768,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$aGFzaA", "x"), ANPI_EPARSE);
    assert_true(anpi_password_needs_rehash("garbage"));
    assert_true(anpi_password_needs_rehash(NULL));
    /* unknown account: dummy work, always a mismatch */
    assert_int_equal(anpi_password_verify(NULL, "anything"), ANPI_EPERM);
}

static void
test_needs_rehash_old_params(void **state)
{
    (void)state;
    /* a hash made with weaker (older) parameters still verifies, but asks
     * to be redone */
    static const uint8_t salt[16] = "0123456789abcdef";
    char enc[ANPI_PASSWORD_HASH_MAX];
    assert_int_equal(argon2id_hash_encoded(2, 19456, 1, "Shiken-Taro-2024", 16, salt,
                                           sizeof salt, 32, enc, sizeof enc), ARGON2_OK);
    assert_int_equal(anpi_password_verify(enc, "Shiken-Taro-2024"), 0);
    assert_true(anpi_password_needs_rehash(enc));
}

static void
test_too_long(void **state)
{
    (void)state;
    char *pw = big_password(10 * 1024);
    char out[ANPI_PASSWORD_HASH_MAX], why[256];
    double t0 = now_ms();
    assert_int_equal(anpi_password_hash("Shiken-Taro-2024", out, sizeof out), 0);
    double one_hash = now_ms() - t0;
    t0 = now_ms();
    assert_int_equal(anpi_password_hash(pw, out, sizeof out), ANPI_ETOOBIG);
    assert_int_equal(anpi_password_verify(
        "$argon2id$v=19$m=32768,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaA",
        pw), ANPI_ETOOBIG);
    assert_int_equal(anpi_password_verify(NULL, pw), ANPI_ETOOBIG);
    /* refused before hashing: three refusals take far less than one hash */
    assert_true(now_ms() - t0 < one_hash / 4);
    assert_int_equal(anpi_password_policy(pw, "taro", NULL, 0, NULL, why, sizeof why),
                     ANPI_ETOOBIG);
    assert_non_null(strstr(why, "長すぎます"));
    assert_non_null(strstr(why, "too long"));
    assert_int_equal(anpi_password_check_length(pw, why, sizeof why), ANPI_ETOOBIG);
    assert_string_equal(why, ANPI_PASSWORD_TOOLONG_MSG);
    free(pw);

    /* the limit itself is allowed, one byte more is not */
    pw = big_password(ANPI_PASSWORD_MAX_BYTES);
    assert_int_equal(anpi_password_check_length(pw, NULL, 0), 0);
    free(pw);
    pw = big_password(ANPI_PASSWORD_MAX_BYTES + 1);
    assert_int_equal(anpi_password_check_length(pw, NULL, 0), ANPI_ETOOBIG);
    free(pw);
}

struct policy_case {
    const char *pw;
    int rc;
    const char *why;   /* a piece of the expected message (NULL when ok) */
};

static void
test_policy_table(void **state)
{
    (void)state;
    static const struct policy_case cases[] = {
        { "Sh0rt-pw!", ANPI_EPERM, "12文字以上にしてください (at least 12 characters)" },
        { "alllowercaseletters", ANPI_EPERM, "3種類以上" },
        { "abcdefghijk1", ANPI_EPERM, "at least 3 of" },
        { "Correct-horse-7", 0, NULL },
        { "correct horse battery", ANPI_EPERM, "at least 3 of" },
        { "correct horse battery 9", 0, NULL },
        /* 11 characters although 29 bytes: length counts characters */
        { "あいうえおかきくけ1A", ANPI_EPERM, "at least 12 characters" },
        { "試験太郎のパスワード1A", 0, NULL },
        { "あいうえおかきくけこさし", ANPI_EPERM, "at least 3 of" },
        { "Taro.Shiken-2024", ANPI_EPERM, "login name" },
        { "xxTARO.SHIKEN@EXAMPLE.JPxx", ANPI_EPERM, "ログイン名" },
        { "P@ssw0rd2024!", ANPI_EPERM, "too common" },
        { "Password1234", ANPI_EPERM, "よく使われる" },
        { "Tokyo2024!!!!", ANPI_EPERM, "too common" },
        { "1qaz2WSX3edc", ANPI_EPERM, "too common" },   /* keyboard walk, any case */
        { "1qaz2wsx3edc", ANPI_EPERM, "at least 3 of" },
        { "Valid\x01Password1", ANPI_EPARSE, "invalid UTF-8" },
        { "\xc0\xaf" "abcdefgHIJ12", ANPI_EPARSE, "invalid UTF-8" },
        { "\xed\xa0\x80" "abcdefgHIJ12", ANPI_EPARSE, "invalid UTF-8" },
        { "abcdefgHIJ12\xe3\x81", ANPI_EPARSE, "invalid UTF-8" },
    };
    for (size_t i = 0; i < ANPI_ARRAY_LEN(cases); i++) {
        char why[512] = "unset";
        int rc = anpi_password_policy(cases[i].pw, "taro.shiken@example.jp", NULL, 0, NULL,
                                      why, sizeof why);
        if (rc != cases[i].rc || (cases[i].why && !strstr(why, cases[i].why)) ||
            (!cases[i].why && why[0] != '\0'))
            fail_msg("case %zu (%s): rc %d why '%s'", i, cases[i].pw, rc, why);
    }
}

static void
test_policy_settings(void **state)
{
    (void)state;
    struct anpi_password_policy pol;
    anpi_password_policy_default(&pol);
    assert_int_equal(pol.min_chars, 12);
    assert_int_equal(pol.min_classes, 3);
    char why[512];
    pol.min_chars = 16;
    assert_int_equal(anpi_password_policy("Correct-horse-7", NULL, NULL, 0, &pol, why, sizeof why),
                     ANPI_EPERM);
    assert_non_null(strstr(why, "16文字以上"));
    pol.min_chars = 8;
    pol.min_classes = 4;
    assert_int_equal(anpi_password_policy("Correcthorse7", NULL, NULL, 0, &pol, why, sizeof why),
                     ANPI_EPERM);
    assert_non_null(strstr(why, "4種類以上"));
    /* short logins are not searched for */
    assert_int_equal(anpi_password_policy("Correct-horse-7", "co", NULL, 0, NULL, why, sizeof why), 0);
    assert_int_equal(anpi_password_policy("Correct-horse-7", "horse", NULL, 0, NULL, why, sizeof why),
                     ANPI_EPERM);
}

static void
test_policy_history(void **state)
{
    (void)state;
    char h_old[ANPI_PASSWORD_HASH_MAX], h_new[ANPI_PASSWORD_HASH_MAX];
    assert_int_equal(anpi_password_hash("Correct-horse-7", h_old, sizeof h_old), 0);
    assert_int_equal(anpi_password_hash("Another-Secret-8", h_new, sizeof h_new), 0);
    const char *prev[] = { h_new, h_old };
    char why[512];
    assert_int_equal(anpi_password_policy("Correct-horse-7", NULL, prev, 2, NULL, why, sizeof why),
                     ANPI_EPERM);
    assert_non_null(strstr(why, "最近使った"));
    assert_non_null(strstr(why, "last 5 passwords"));
    assert_int_equal(anpi_password_policy("Brand-new-pass-9", NULL, prev, 2, NULL, why, sizeof why), 0);
    /* only the last `history` hashes count */
    struct anpi_password_policy pol;
    anpi_password_policy_default(&pol);
    pol.history = 1;
    assert_int_equal(anpi_password_policy("Correct-horse-7", NULL, prev, 2, &pol, why, sizeof why), 0);
    assert_int_equal(anpi_password_policy("Another-Secret-8", NULL, prev, 2, &pol, why, sizeof why),
                     ANPI_EPERM);
}

static void
test_status(void **state)
{
    (void)state;
    struct anpi_password_policy pol;
    anpi_password_policy_default(&pol);
    int64_t t = 1700000000;
    assert_int_equal(anpi_password_status(true, t, t, &pol), ANPI_PASSWORD_MUST_CHANGE);
    assert_int_equal(anpi_password_status(false, t, t + 10 * 365 * 86400LL, &pol), ANPI_PASSWORD_OK);
    pol.remind_after_s = 90 * 86400;
    assert_int_equal(anpi_password_status(false, t, t + 90 * 86400 - 1, &pol), ANPI_PASSWORD_OK);
    assert_int_equal(anpi_password_status(false, t, t + 90 * 86400, &pol), ANPI_PASSWORD_REMIND);
    assert_int_equal(anpi_password_status(true, t, t + 90 * 86400, &pol), ANPI_PASSWORD_MUST_CHANGE);
}

/* ---- async on a uv loop ---- */

struct async_ctx {
    uv_loop_t *loop;
    uv_timer_t ticker;
    int ticks;
    int ticks_at_hash;
    int hash_rc, verify_ok_rc, verify_bad_rc, policy_rc;
    char hash[ANPI_PASSWORD_HASH_MAX];
    char why[512];
    int pending;
};

static void
on_tick(uv_timer_t *t)
{
    struct async_ctx *c = t->data;
    c->ticks++;
}

static void
one_done(struct async_ctx *c)
{
    if (--c->pending == 0)
        uv_close((uv_handle_t *)&c->ticker, NULL);
}

static void
on_verify_ok(int rc, void *data)
{
    struct async_ctx *c = data;
    c->verify_ok_rc = rc;
    one_done(c);
}

static void
on_verify_bad(int rc, void *data)
{
    struct async_ctx *c = data;
    c->verify_bad_rc = rc;
    one_done(c);
}

static void
on_policy(int rc, const char *why, void *data)
{
    struct async_ctx *c = data;
    c->policy_rc = rc;
    snprintf(c->why, sizeof c->why, "%s", why);
    one_done(c);
}

static void
on_hash(int rc, const char *encoded, void *data)
{
    struct async_ctx *c = data;
    c->hash_rc = rc;
    c->ticks_at_hash = c->ticks;
    if (rc == 0) {
        snprintf(c->hash, sizeof c->hash, "%s", encoded);
        assert_int_equal(anpi_password_verify_async(c->loop, encoded, "Shiken-Taro-2024",
                                                    on_verify_ok, c), 0);
        assert_int_equal(anpi_password_verify_async(c->loop, encoded, "Shiken-Taro-2025",
                                                    on_verify_bad, c), 0);
        const char *prev[] = { encoded };
        assert_int_equal(anpi_password_policy_async(c->loop, "Shiken-Taro-2024", "hanako", prev, 1,
                                                    NULL, on_policy, c), 0);
        c->pending += 3;
    }
    one_done(c);
}

static void
test_async(void **state)
{
    (void)state;
    uv_loop_t loop;
    assert_int_equal(uv_loop_init(&loop), 0);
    struct async_ctx c = { .loop = &loop, .hash_rc = 1, .verify_ok_rc = 1, .verify_bad_rc = 1,
                           .policy_rc = 1, .pending = 1 };
    uv_timer_init(&loop, &c.ticker);
    c.ticker.data = &c;
    /* 2 ms ticks keep running while argon2 works on the thread pool */
    uv_timer_start(&c.ticker, on_tick, 2, 2);
    assert_int_equal(anpi_password_hash_async(&loop, "Shiken-Taro-2024", on_hash, &c), 0);

    /* an over-long password is refused at once; its callback never runs */
    char *pw = big_password(10 * 1024);
    assert_int_equal(anpi_password_hash_async(&loop, pw, on_hash, &c), ANPI_ETOOBIG);
    assert_int_equal(anpi_password_verify_async(&loop, c.hash, pw, on_verify_ok, &c), ANPI_ETOOBIG);
    free(pw);

    assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(c.hash_rc, 0);
    assert_int_equal(c.verify_ok_rc, 0);
    assert_int_equal(c.verify_bad_rc, ANPI_EPERM);
    assert_int_equal(c.policy_rc, ANPI_EPERM);
    assert_non_null(strstr(c.why, "must differ"));
    assert_non_null(strstr(c.hash, "$argon2id$"));
    /* the loop kept turning during the ~50-100 ms hash */
    assert_true(c.ticks_at_hash >= 3);
    assert_int_equal(uv_loop_close(&loop), 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hash_verify),
        cmocka_unit_test(test_verify_malformed),
        cmocka_unit_test(test_needs_rehash_old_params),
        cmocka_unit_test(test_too_long),
        cmocka_unit_test(test_policy_table),
        cmocka_unit_test(test_policy_settings),
        cmocka_unit_test(test_policy_history),
        cmocka_unit_test(test_status),
        cmocka_unit_test(test_async),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
