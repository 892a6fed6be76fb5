/* test_seenset.c - the bounded URL set: membership, FIFO eviction, and a
 * randomised cross-check against a plain model across many evictions. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "feeds/poll/seenset.h"

static void
test_basic(void **state)
{
    (void)state;
    struct anpi_seenset *s = anpi_seenset_create(0);
    assert_int_equal(anpi_seenset_has(s, "https://a.example.jp/1.xml"), 0);
    assert_int_equal(anpi_seenset_add(s, "https://a.example.jp/1.xml"), 1);
    assert_int_equal(anpi_seenset_add(s, "https://a.example.jp/1.xml"), 0);
    assert_int_equal(anpi_seenset_has(s, "https://a.example.jp/1.xml"), 1);
    assert_int_equal(anpi_seenset_has(s, "https://a.example.jp/1.xm"), 0);
    assert_int_equal(anpi_seenset_has(s, ""), 0);
    assert_int_equal(anpi_seenset_count(s), 1);
    anpi_seenset_destroy(s);
    anpi_seenset_destroy(NULL);
}

static void
test_eviction_oldest_first(void **state)
{
    (void)state;
    char k[64];
    struct anpi_seenset *s = anpi_seenset_create(50000);
    for (int i = 0; i < 120000; i++) {
        snprintf(k, sizeof(k), "https://a.example.jp/data/%d.xml", i);
        assert_int_equal(anpi_seenset_add(s, k), 1);
    }
    assert_int_equal(anpi_seenset_count(s), 50000);
    for (int i = 0; i < 120000; i++) {
        snprintf(k, sizeof(k), "https://a.example.jp/data/%d.xml", i);
        assert_int_equal(anpi_seenset_has(s, k), i >= 70000);
    }
    anpi_seenset_destroy(s);
}

/* Small capacity, keys from a small alphabet: many collisions, re-adds and
 * evictions; the set must agree with a FIFO model at every step. */
static void
test_random_against_model(void **state)
{
    (void)state;
    enum { MAX = 37, KEYS = 200, STEPS = 20000 };
    struct anpi_seenset *s = anpi_seenset_create(MAX);
    int fifo[MAX], head = 0, n = 0;
    int in[KEYS] = { 0 };
    char k[32];
    srand(12345);
    for (int step = 0; step < STEPS; step++) {
        int key = rand() % KEYS;
        snprintf(k, sizeof(k), "k%d", key);
        int added = anpi_seenset_add(s, k);
        assert_int_equal(added, !in[key]);
        if (added) {
            if (n == MAX) {
                in[fifo[head]] = 0;
                head = (head + 1) % MAX;
                n--;
            }
            fifo[(head + n) % MAX] = key;
            n++;
            in[key] = 1;
        }
        if (step % 97 == 0) {
            for (int j = 0; j < KEYS; j++) {
                snprintf(k, sizeof(k), "k%d", j);
                assert_int_equal(anpi_seenset_has(s, k), in[j]);
            }
        }
        assert_int_equal(anpi_seenset_count(s), (size_t)n);
    }
    anpi_seenset_destroy(s);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_basic),
        cmocka_unit_test(test_eviction_oldest_first),
        cmocka_unit_test(test_random_against_model),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
