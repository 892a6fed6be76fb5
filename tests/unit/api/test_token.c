/* test_token.c - link tokens: format, hashing, tamper detection. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "admin-api/token.h"
#include "engine/anpi.h"

static void
test_token_format(void **state)
{
    (void)state;
    char a[ANPI_TOKEN_LEN + 1], b[ANPI_TOKEN_LEN + 1];
    anpi_token_new(a);
    anpi_token_new(b);
    assert_int_equal(strlen(a), 43);
    assert_int_equal(strspn(a, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                               "0123456789-_"), 43);
    assert_string_not_equal(a, b);
    /* 1000 tokens: no repeats, and every alphabet position gets used */
    static char seen[1000][ANPI_TOKEN_LEN + 1];
    int chars[256] = { 0 };
    for (int i = 0; i < 1000; i++) {
        anpi_token_new(seen[i]);
        for (int k = 0; k < i; k++)
            assert_string_not_equal(seen[i], seen[k]);
        for (int c = 0; c < 42; c++)
            chars[(unsigned char)seen[i][c]]++;
        char hex[65];
        assert_int_equal(anpi_token_hash(seen[i], hex), 0);
    }
    int used = 0;
    for (int c = 0; c < 256; c++)
        used += chars[c] > 0;
    assert_int_equal(used, 64);
}

static void
test_token_hash(void **state)
{
    (void)state;
    char hex[65], hex2[65];
    /* a fixed token: the SHA-256 of its 43 characters */
    const char *t = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    assert_int_equal(anpi_token_hash(t, hex), 0);
    /* printf %s AAA...A | sha256sum */
    assert_string_equal(hex, "0f007385b6f9d4b7eeb2748605afe1a984a0a3bfa3f014d09e2a784ce9e5cd1a");
    char tok[ANPI_TOKEN_LEN + 1];
    anpi_token_new(tok);
    assert_int_equal(anpi_token_hash(tok, hex), 0);
    assert_int_equal(strlen(hex), 64);
    assert_int_equal(strspn(hex, "0123456789abcdef"), 64);
    assert_int_equal(anpi_token_hash(tok, hex2), 0);
    assert_string_equal(hex, hex2);   /* stable */

    /* tampering */
    char bad[64];
    strcpy(bad, tok);
    bad[10] = '+';                    /* base64 (not url) alphabet */
    assert_int_equal(anpi_token_hash(bad, hex), ANPI_EPARSE);
    assert_string_equal(hex, "");
    strcpy(bad, tok);
    bad[10] = '/';
    assert_int_equal(anpi_token_hash(bad, hex), ANPI_EPARSE);
    strcpy(bad, tok);
    bad[42] = '\0';                   /* short */
    assert_int_equal(anpi_token_hash(bad, hex), ANPI_EPARSE);
    strcpy(bad, tok);
    strcat(bad, "A");                 /* long */
    assert_int_equal(anpi_token_hash(bad, hex), ANPI_EPARSE);
    strcpy(bad, tok);
    strcat(bad, "=");                 /* padded */
    assert_int_equal(anpi_token_hash(bad, hex), ANPI_EPARSE);
    strcpy(bad, tok);
    bad[42] = 'B';                    /* non-canonical last character (low bits set) */
    assert_int_equal(anpi_token_hash(bad, hex), ANPI_EPARSE);
    assert_int_equal(anpi_token_hash("", hex), ANPI_EPARSE);
    assert_int_equal(anpi_token_hash(NULL, hex), ANPI_EPARSE);
    /* a one-character change is a different, valid-looking token with another hash */
    strcpy(bad, tok);
    bad[0] = bad[0] == 'A' ? 'B' : 'A';
    assert_int_equal(anpi_token_hash(bad, hex2), 0);
    assert_int_equal(anpi_token_hash(tok, hex), 0);
    assert_string_not_equal(hex, hex2);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_token_format),
        cmocka_unit_test(test_token_hash),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
