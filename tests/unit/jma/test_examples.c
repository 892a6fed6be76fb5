/* test_examples.c - the fictional demo feed in examples/feeds/ parses and
 * says what examples/feeds/README.md promises. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "engine/anpi.h"
#include "feeds/event.h"
#include "feeds/jma/iso8601.h"
#include "tests/unit/jma/jma_test_util.h"

static struct anpi_event *
example(const char *name)
{
    char rel[128];
    snprintf(rel, sizeof(rel), "examples/feeds/%s", name);
    return jt_parse_file(jt_source_path(rel));
}

static void
assert_prefs(const struct anpi_event *ev, const int *codes, const enum anpi_intensity *want,
             size_t n)
{
    int listed[ANPI_PREF_COUNT + 1] = { 0 };
    for (size_t i = 0; i < n; i++) {
        if (ev->pref_intensity[codes[i]] != want[i])
            fail_msg("pref %02d: %s, want %s", codes[i],
                     anpi_intensity_name(ev->pref_intensity[codes[i]]),
                     anpi_intensity_name(want[i]));
        listed[codes[i]] = 1;
    }
    for (int p = 1; p <= ANPI_PREF_COUNT; p++)
        if (!listed[p] && ev->pref_intensity[p] != ANPI_INT_NONE)
            fail_msg("pref %02d unexpectedly %s", p, anpi_intensity_name(ev->pref_intensity[p]));
}

static void
test_every_file_is_fictional_and_parses(void **state)
{
    (void)state;
    const char *dir = jt_source_path("examples/feeds");
    char dirbuf[4096];
    snprintf(dirbuf, sizeof(dirbuf), "%s", dir);
    DIR *d = opendir(dirbuf);
    if (!d)
        fail_msg("cannot open %s", dirbuf);
    struct dirent *e;
    int n = 0;
    while ((e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        if (len < 5 || strcmp(e->d_name + len - 4, ".xml") != 0)
            continue;
        char p[4096 + 256];
        snprintf(p, sizeof(p), "%s/%s", dirbuf, e->d_name);
        char *text = jt_read_file(p, NULL);
        assert_non_null(text);
        if (!strstr(text, "架空の地震: anpi のデモ用に作成した文書。気象庁の発表ではありません / "
                          "fictional, written for the anpi demo"))
            fail_msg("%s lacks the fictional marker", e->d_name);
        free(text);
        if (strcmp(e->d_name, "atom.xml") == 0)
            continue;
        struct anpi_event *ev = jt_parse_file(p);
        if (!strstr(ev->headline, "（架空）"))
            fail_msg("%s: headline without （架空）", e->d_name);
        assert_true(ev->created_at >= 1901235600);  /* 2030-04-01T00:00:00Z */
        jt_assert_json_roundtrip(ev);
        anpi_event_free(ev);
        n++;
    }
    closedir(d);
    assert_int_equal(n, 8);
}

static void
test_main_quake(void **state)
{
    (void)state;
    static const int codes[] = { 12, 13, 11, 14 };
    static const enum anpi_intensity want51[] = { ANPI_INT_6L, ANPI_INT_5U, ANPI_INT_5L,
                                                  ANPI_INT_4 };
    struct anpi_event *v51 = example("01_VXSE51.xml");
    assert_string_equal(v51->kind, "VXSE51");
    assert_string_equal(v51->event_key, "20300401100500");
    assert_int_equal(v51->status, ANPI_ST_ACTUAL);
    assert_int_equal(v51->max_intensity, ANPI_INT_6L);
    assert_prefs(v51, codes, want51, 4);

    struct anpi_event *v52 = example("02_VXSE52.xml");
    assert_string_equal(v52->kind, "VXSE52");
    assert_string_equal(v52->event_key, "20300401100500");
    assert_true(fabs(v52->magnitude - 6.3) < 1e-9);
    assert_int_equal(v52->depth_km, 60);
    assert_true(fabs(v52->lat - 35.7) < 1e-9 && fabs(v52->lon - 140.1) < 1e-9);
    assert_string_equal(v52->hypocenter, "千葉県北西部");

    static const int codes53[] = { 12, 13, 11, 14, 8 };
    /* 茨城県: Pref/MaxInt 4, but 守谷市 is 未入電 -> the prefecture is "!5-" */
    static const enum anpi_intensity want53[] = { ANPI_INT_6L, ANPI_INT_5U, ANPI_INT_5L,
                                                  ANPI_INT_4, ANPI_INT_5L_UNREPORTED };
    struct anpi_event *s1 = example("03_VXSE53.xml");
    assert_string_equal(s1->serial, "1");
    assert_string_equal(s1->event_key, "20300401100500");
    assert_prefs(s1, codes53, want53, 5);
    const struct anpi_city_intensity *c = jt_city(s1, "0822400");
    assert_non_null(c);
    assert_int_equal(c->pref, 8);
    assert_int_equal(c->intensity, ANPI_INT_5L_UNREPORTED);
    /* 茨城県 is newly affected at 5- through the unreported city */
    anpi_prefset at5_51 = anpi_event_prefs_at_least(v51, ANPI_INT_5L);
    anpi_prefset at5_53 = anpi_event_prefs_at_least(s1, ANPI_INT_5L);
    assert_true(at5_51 == (ANPI_PREFSET_BIT(11) | ANPI_PREFSET_BIT(12) | ANPI_PREFSET_BIT(13)));
    assert_true(at5_53 == (at5_51 | ANPI_PREFSET_BIT(8)));
    assert_int_equal(jt_city(s1, "1220400")->intensity, ANPI_INT_6L);

    struct anpi_event *s2 = example("04_VXSE53.xml");
    assert_string_equal(s2->serial, "2");
    assert_string_equal(s2->event_key, "20300401100500");
    assert_string_not_equal(s2->doc_id, s1->doc_id);
    assert_prefs(s2, codes53, want53, 5);
    assert_true(anpi_event_prefs_at_least(s2, ANPI_INT_5L) == at5_53);
    assert_int_equal(s2->ncities, s1->ncities);
    for (size_t i = 0; i < s1->ncities; i++) {
        assert_string_equal(s1->cities[i].code, s2->cities[i].code);
        assert_int_equal(s1->cities[i].intensity, s2->cities[i].intensity);
    }
    assert_true(s2->issued_at > s1->issued_at);
    anpi_event_free(v51);
    anpi_event_free(v52);
    anpi_event_free(s1);
    anpi_event_free(s2);
}

static void
test_aftershock_drill_cancel(void **state)
{
    (void)state;
    struct anpi_event *a = example("05_VXSE53.xml");
    assert_string_equal(a->event_key, "20300401104500");
    static const int ca[] = { 12, 13 };
    static const enum anpi_intensity wa[] = { ANPI_INT_5L, ANPI_INT_4 };
    assert_prefs(a, ca, wa, 2);
    int64_t main_origin;
    assert_int_equal(anpi_iso8601_parse("2030-04-01T10:05:00+09:00", &main_origin), 0);
    assert_int_equal(a->occurred_at - main_origin, 40 * 60);
    anpi_event_free(a);

    struct anpi_event *d = example("06_VXSE53.xml");
    assert_int_equal(d->status, ANPI_ST_EXERCISE);
    assert_true(strncmp(d->headline, "＊＊＊これは訓練です＊＊＊", strlen("＊＊＊これは訓練です＊＊＊")) == 0);
    static const int cd[] = { 27, 26 };
    static const enum anpi_intensity wd[] = { ANPI_INT_6L, ANPI_INT_4 };
    assert_prefs(d, cd, wd, 2);
    assert_string_not_equal(d->event_key, "20300401100500");
    anpi_event_free(d);

    struct anpi_event *h = example("07_VXSE51.xml");
    assert_string_equal(h->event_key, "20300401133000");
    assert_int_equal(h->info_type, ANPI_IT_ISSUE);
    static const int ch[] = { 1 };
    static const enum anpi_intensity wh[] = { ANPI_INT_5L };
    assert_prefs(h, ch, wh, 1);
    struct anpi_event *x = example("08_VXSE51.xml");
    assert_string_equal(x->event_key, h->event_key);
    assert_int_equal(x->info_type, ANPI_IT_CANCEL);
    assert_int_equal(x->max_intensity, ANPI_INT_NONE);
    assert_int_equal(anpi_event_prefs_at_least(x, ANPI_INT_1), 0);
    assert_string_not_equal(x->doc_id, h->doc_id);
    anpi_event_free(h);
    anpi_event_free(x);
}

static void
test_atom_lists_every_file(void **state)
{
    (void)state;
    char *atom = jt_read_file(jt_source_path("examples/feeds/atom.xml"), NULL);
    assert_non_null(atom);
    assert_non_null(strstr(atom, "<feed xmlns=\"http://www.w3.org/2005/Atom\""));
    static const char *const files[] = { "01_VXSE51.xml", "02_VXSE52.xml", "03_VXSE53.xml",
                                         "04_VXSE53.xml", "05_VXSE53.xml", "06_VXSE53.xml",
                                         "07_VXSE51.xml", "08_VXSE51.xml" };
    for (size_t i = 0; i < ANPI_ARRAY_LEN(files); i++) {
        char href[128];
        snprintf(href, sizeof(href), "href=\"{{base_url}}/data/%s\"", files[i]);
        if (!strstr(atom, href))
            fail_msg("atom.xml lacks %s", href);
    }
    assert_null(strstr(atom, "127.0.0.1"));
    free(atom);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_file_is_fictional_and_parses),
        cmocka_unit_test(test_main_quake),
        cmocka_unit_test(test_aftershock_drill_cancel),
        cmocka_unit_test(test_atom_lists_every_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
