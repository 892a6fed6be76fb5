/* test_apitoken.c - token format, hashing, tampering and scope lists. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "engine/auth/apitoken.h"

static void
test_new_and_hash(void **state)
{
    (void)state;
    char tok[ANPI_APITOKEN_LEN + 1], hash[ANPI_APITOKEN_HASH_HEX + 1];
    char tok2[ANPI_APITOKEN_LEN + 1], hash2[ANPI_APITOKEN_HASH_HEX + 1];
    assert_int_equal(anpi_apitoken_new(tok, hash), 0);
    assert_int_equal(anpi_apitoken_new(tok2, hash2), 0);
    assert_int_equal(strlen(tok), 48);
    assert_memory_equal(tok, "anpi_", 5);
    assert_int_equal(strspn(tok + 5, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"), 43);
    assert_int_equal(strlen(hash), 64);
    assert_int_equal(strspn(hash, "0123456789abcdef"), 64);
    assert_string_not_equal(tok, tok2);
    assert_string_not_equal(hash, hash2);
    /* the presented token hashes to the stored value */
    char again[ANPI_APITOKEN_HASH_HEX + 1];
    assert_int_equal(anpi_apitoken_hash(tok, again), 0);
    assert_string_equal(again, hash);
    assert_true(anpi_apitoken_hash_equal(again, hash));
    assert_false(anpi_apitoken_hash_equal(hash2, hash));
    assert_false(anpi_apitoken_hash_equal("abc", hash));
}

static void
test_known_hash(void **state)
{
    (void)state;
    /* bytes 1..32, base64url; SHA-256 computed independently (Python hashlib) */
    const char *tok = "anpi_AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA";
    char hash[ANPI_APITOKEN_HASH_HEX + 1];
    assert_int_equal(anpi_apitoken_hash(tok, hash), 0);
    assert_string_equal(hash, "531bb4850be81bdf54b8ea7fbc59cfc17177cc976857d9fcf9a989fb093b252d");
}

static void
test_tamper(void **state)
{
    (void)state;
    char tok[ANPI_APITOKEN_LEN + 1], hash[ANPI_APITOKEN_HASH_HEX + 1], h[ANPI_APITOKEN_HASH_HEX + 1];
    assert_int_equal(anpi_apitoken_new(tok, hash), 0);
    /* any changed character gives another hash (or is malformed) */
    for (size_t i = 5; i < ANPI_APITOKEN_LEN - 1; i++) {
        char t[ANPI_APITOKEN_LEN + 1];
        memcpy(t, tok, sizeof t);
        t[i] = t[i] == 'A' ? 'B' : 'A';
        assert_int_equal(anpi_apitoken_hash(t, h), 0);
        assert_false(anpi_apitoken_hash_equal(h, hash));
    }
    char t[ANPI_APITOKEN_LEN + 1];
    memcpy(t, tok, sizeof t);
    t[0] = 'A';
    assert_int_equal(anpi_apitoken_hash(t, h), ANPI_EPARSE);          /* prefix */
    memcpy(t, tok, sizeof t);
    t[20] = '+';
    assert_int_equal(anpi_apitoken_hash(t, h), ANPI_EPARSE);          /* base64, not url */
    memcpy(t, tok, sizeof t);
    t[47] = 'B';                                                       /* low bits set */
    assert_int_equal(anpi_apitoken_hash(t, h), ANPI_EPARSE);
    t[47] = '\0';
    assert_int_equal(anpi_apitoken_hash(t, h), ANPI_EPARSE);          /* short */
    char longer[ANPI_APITOKEN_LEN + 2];
    memcpy(longer, tok, ANPI_APITOKEN_LEN);
    longer[ANPI_APITOKEN_LEN] = 'A';
    longer[ANPI_APITOKEN_LEN + 1] = '\0';
    assert_int_equal(anpi_apitoken_hash(longer, h), ANPI_EPARSE);     /* long */
    assert_int_equal(anpi_apitoken_hash("", h), ANPI_EPARSE);
    assert_int_equal(anpi_apitoken_hash("Bearer anpi_", h), ANPI_EPARSE);
}

static void
test_scopes(void **state)
{
    (void)state;
    unsigned m;
    assert_int_equal(anpi_scopes_parse("read", &m), 0);
    assert_int_equal(m, ANPI_SCOPE_READ);
    assert_int_equal(anpi_scopes_parse("read,approve, broadcast ,directory,admin", &m), 0);
    assert_int_equal(m, ANPI_SCOPE_ALL);
    assert_int_equal(anpi_scopes_parse("approve,approve", &m), 0);
    assert_int_equal(m, ANPI_SCOPE_APPROVE);
    assert_int_equal(anpi_scopes_parse("", &m), 0);
    assert_int_equal(m, 0);
    static const char *const bad[] = {
        "root", "read,", ",read", "read,,admin", "Read", "read approve", "read;admin",
        "readx", "rea", " , ", "read,\tadmin",
    };
    for (size_t i = 0; i < ANPI_ARRAY_LEN(bad); i++) {
        m = 12345;
        if (anpi_scopes_parse(bad[i], &m) != ANPI_EPARSE || m != 12345)
            fail_msg("accepted '%s'", bad[i]);
    }
    char buf[64];
    assert_int_equal(anpi_scopes_format(ANPI_SCOPE_ADMIN | ANPI_SCOPE_READ, buf, sizeof buf), 0);
    assert_string_equal(buf, "read,admin");
    assert_int_equal(anpi_scopes_format(0, buf, sizeof buf), 0);
    assert_string_equal(buf, "");
    assert_int_equal(anpi_scopes_format(ANPI_SCOPE_ALL, buf, sizeof buf), 0);
    assert_string_equal(buf, "read,approve,broadcast,directory,admin");
    assert_int_equal(anpi_scopes_format(1u << 7, buf, sizeof buf), ANPI_EPARSE);
    char small[6];
    assert_int_equal(anpi_scopes_format(ANPI_SCOPE_ALL, small, sizeof small), ANPI_ETOOBIG);

    assert_true(anpi_scopes_allow(ANPI_SCOPE_READ | ANPI_SCOPE_APPROVE, ANPI_SCOPE_APPROVE));
    assert_false(anpi_scopes_allow(ANPI_SCOPE_ADMIN, ANPI_SCOPE_READ));   /* independent */
    assert_false(anpi_scopes_allow(ANPI_SCOPE_READ, ANPI_SCOPE_READ | ANPI_SCOPE_BROADCAST));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_new_and_hash),
        cmocka_unit_test(test_known_hash),
        cmocka_unit_test(test_tamper),
        cmocka_unit_test(test_scopes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
