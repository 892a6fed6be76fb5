/* test_jma.c - JMA XML parser against the real corpus (read from
 * $ANPI_SHARED at run time, never copied), the P2P JSON oracle, hostile
 * input, and the intensity scale. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <cmocka.h>
#include <jansson.h>

#include "engine/anpi.h"
#include "feeds/event.h"
#include "feeds/event_json.h"
#include "feeds/jma/iso8601.h"
#include "feeds/jma/jma_xml.h"
#include "tests/unit/jma/jma_test_util.h"

static int64_t
T(const char *iso)
{
    int64_t t;
    if (anpi_iso8601_parse(iso, &t) != 0)
        fail_msg("bad test time %s", iso);
    return t;
}

/* A held-back document (FEEDS.md: "kept back for acceptance checks"):
 * parsed when present, NULL (and said so) when not. */
static struct anpi_event *
parse_optional(const char *rel)
{
    const char *p = jt_corpus_path(rel);
    struct stat st;
    if (stat(p, &st) != 0) {
        print_message("# %s held back: not checked\n", rel);
        return NULL;
    }
    return jt_parse_file(p);
}

static struct anpi_event *
parse_corpus(const char *rel)
{
    return jt_parse_file(jt_corpus_path(rel));
}

/* ---- every document in the corpus ------------------------------------- */

struct walk {
    int files;
    char **ids;
    size_t nids, capids;
};

/* Data type code from the file name ("..._VXSE53_010000.xml",
 * "32-35_01_03_240613_VXSE53.xml"); "" when the name has none. */
static void
code_from_name(const char *name, char out[8])
{
    out[0] = '\0';
    for (const char *p = name; (p = strchr(p, 'V')) != NULL; p++) {
        if (strlen(p) >= 6 && p[1] >= 'A' && p[1] <= 'Z' && p[2] >= 'A' && p[2] <= 'Z' &&
            p[3] >= 'A' && p[3] <= 'Z' && p[4] >= '0' && p[4] <= '9' && p[5] >= '0' &&
            p[5] <= '9') {
            memcpy(out, p, 6);
            out[6] = '\0';
            return;
        }
    }
}

static enum anpi_event_type
expected_type(const char *code)
{
    static const char *const quake[] = { "VXSE51", "VXSE52", "VXSE53", "VXSE61", "VXSE62" };
    for (size_t i = 0; i < ANPI_ARRAY_LEN(quake); i++)
        if (strcmp(code, quake[i]) == 0)
            return ANPI_EV_EARTHQUAKE;
    if (strncmp(code, "VXSE4", 5) == 0)
        return ANPI_EV_EEW;
    if (strncmp(code, "VTSE", 4) == 0)
        return ANPI_EV_TSUNAMI;
    if (strncmp(code, "VP", 2) == 0)
        return ANPI_EV_WEATHER;
    return ANPI_EV_UNKNOWN;
}

static void
check_document(struct walk *w, const char *path, const char *name)
{
    size_t len;
    char *xml = jt_read_file(path, &len);
    if (!xml)
        fail_msg("cannot read %s", path);
    struct anpi_event *ev = NULL;
    char err[256];
    int rc = anpi_jma_parse(xml, len, &ev, err, sizeof(err));
    if (rc != 0)
        fail_msg("%s: %s", path, err);

    /* status and info type, cross-checked against the raw text */
    enum anpi_event_status st = strstr(xml, "<Status>訓練</Status>") ? ANPI_ST_EXERCISE
                              : strstr(xml, "<Status>試験</Status>") ? ANPI_ST_TEST
                                                                     : ANPI_ST_ACTUAL;
    if (st == ANPI_ST_ACTUAL && !strstr(xml, "<Status>通常</Status>"))
        fail_msg("%s: test cannot tell the status", path);
    enum anpi_info_type it = strstr(xml, "<InfoType>取消</InfoType>") ? ANPI_IT_CANCEL
                           : strstr(xml, "<InfoType>訂正</InfoType>") ? ANPI_IT_CORRECTION
                           : strstr(xml, "<InfoType>遅延</InfoType>") ? ANPI_IT_DELAY
                                                                       : ANPI_IT_ISSUE;
    if (ev->status != st || ev->info_type != it)
        fail_msg("%s: status %d/%d info_type %d/%d", path, ev->status, st, ev->info_type, it);

    char code[8];
    code_from_name(name, code);
    if (code[0]) {
        /* Codes whose title is shared by several codes cannot be told. */
        int ambiguous = strncmp(code, "VPTW6", 5) == 0 || strcmp(code, "VYSE51") == 0 ||
                        strcmp(code, "VYSE52") == 0;
        if (strcmp(ev->kind, ambiguous ? "" : code) != 0)
            fail_msg("%s: kind '%s', expected '%s'", path, ev->kind, ambiguous ? "" : code);
        if (ev->type != expected_type(code))
            fail_msg("%s: type %s", path, anpi_event_type_name(ev->type));
    } else {
        assert_true(ev->type != ANPI_EV_UNKNOWN);  /* the one UUID-named file is a VXSE5x */
    }
    assert_string_equal(ev->source, "jma");
    assert_true(ev->issued_at > T("2000-01-01T00:00:00Z"));
    assert_true(ev->created_at > T("2000-01-01T00:00:00Z"));
    /* JST report time and UTC creation time of one telegram are minutes apart */
    assert_true(llabs(ev->created_at - ev->issued_at) < 3600);
    if (ev->info_type == ANPI_IT_CANCEL) {
        assert_int_equal(ev->max_intensity, ANPI_INT_NONE);
        assert_int_equal(ev->ncities, 0);
        assert_true(isnan(ev->magnitude));
    }

    /* same bytes -> same doc_id */
    struct anpi_event *again = NULL;
    assert_int_equal(anpi_jma_parse(xml, len, &again, err, sizeof(err)), 0);
    assert_string_equal(again->doc_id, ev->doc_id);
    anpi_event_free(again);

    jt_assert_json_roundtrip(ev);
    if (w->nids == w->capids) {
        w->capids = w->capids ? w->capids * 2 : 64;
        w->ids = anpi_xrealloc(w->ids, w->capids * sizeof(*w->ids));
    }
    w->ids[w->nids++] = anpi_xasprintf("%s\t%s", ev->doc_id, path);
    w->files++;
    anpi_event_free(ev);
    free(xml);
}

static void
walk_dir(struct walk *w, const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        fail_msg("cannot open %s", dir);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char p[4096];
        snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
        struct stat st;
        assert_int_equal(stat(p, &st), 0);
        size_t n = strlen(e->d_name);
        if (S_ISDIR(st.st_mode))
            walk_dir(w, p);
        else if (n > 4 && strcmp(e->d_name + n - 4, ".xml") == 0)
            check_document(w, p, e->d_name);
    }
    closedir(d);
}

static int
cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void
test_corpus_present(void **state)
{
    (void)state;
    /* A missing corpus must fail, not skip: a green run without the data
     * would prove nothing. */
    const char *shared = getenv("ANPI_SHARED");
    assert_non_null(shared);
    struct stat st;
    if (stat(jt_corpus_path("official-samples"), &st) != 0 || !S_ISDIR(st.st_mode))
        fail_msg("corpus missing: %s", jt_corpus_path("official-samples"));
    if (stat(jt_corpus_path("real"), &st) != 0 || !S_ISDIR(st.st_mode))
        fail_msg("corpus missing: %s", jt_corpus_path("real"));
}

static void
test_corpus_all_documents(void **state)
{
    (void)state;
    struct walk w = { 0 };
    char dir[4096];
    snprintf(dir, sizeof(dir), "%s", jt_corpus_path("official-samples"));
    walk_dir(&w, dir);
    snprintf(dir, sizeof(dir), "%s", jt_corpus_path("real"));
    walk_dir(&w, dir);
    print_message("# %d JMA documents parsed\n", w.files);
    assert_true(w.files >= 130);
    /* different telegrams -> different doc_ids */
    qsort(w.ids, w.nids, sizeof(*w.ids), cmp_str);
    for (size_t i = 1; i < w.nids; i++) {
        const char *ta = strchr(w.ids[i - 1], '\t'), *tb = strchr(w.ids[i], '\t');
        if (ta - w.ids[i - 1] != tb - w.ids[i] ||
            memcmp(w.ids[i - 1], w.ids[i], (size_t)(ta - w.ids[i - 1])) != 0)
            continue;
        /* JMA's official sample set reuses one telegram in several scenarios
         * and editions (32-39_11_06_120615 / _250206, 32-35_01_01 / 32-35_07_01):
         * the same telegram rightly has the same id.  Real ones never share. */
        if (!strstr(ta, "/official-samples/") || !strstr(tb, "/official-samples/"))
            fail_msg("doc_id shared by two documents: %s / %s", w.ids[i - 1], tb + 1);
    }
    for (size_t i = 0; i < w.nids; i++)
        free(w.ids[i]);
    free(w.ids);
}

/* ---- concrete documents ----------------------------------------------- */

static void
test_2021_02_19_sequence(void **state)
{
    (void)state;
    const char *dir = "real/p2pquake-jmaxml-seis-parser-go/";
    char p[256];
    snprintf(p, sizeof(p), "%s20210219091253_0_VXSE51_010000.xml", dir);
    struct anpi_event *v51 = parse_corpus(p);
    snprintf(p, sizeof(p), "%s20210219091354_0_VXSE52_010000.xml", dir);
    struct anpi_event *v52 = parse_corpus(p);
    snprintf(p, sizeof(p), "%s20210219091451_0_VXSE53_010000.xml", dir);
    struct anpi_event *v53 = parse_corpus(p);
    assert_non_null(v51);
    assert_non_null(v52);
    assert_non_null(v53);
    assert_string_equal(v51->kind, "VXSE51");
    assert_string_equal(v51->event_key, "20210219181113");
    assert_string_equal(v51->serial, "");
    assert_int_equal(v51->type, ANPI_EV_EARTHQUAKE);
    assert_int_equal(v51->created_at, T("2021-02-19T09:12:52Z"));
    assert_int_equal(v51->issued_at, T("2021-02-19T18:12:00+09:00"));
    assert_int_equal(v51->occurred_at, T("2021-02-19T18:11:00+09:00"));  /* TargetDateTime */
    assert_int_equal(v51->max_intensity, ANPI_INT_4);
    assert_int_equal(v51->pref_intensity[3], ANPI_INT_4);
    assert_int_equal(v51->ncities, 0);
    assert_true(isnan(v51->magnitude));

    assert_string_equal(v52->kind, "VXSE52");
    assert_string_equal(v52->event_key, "20210219181113");
    assert_string_equal(v52->hypocenter, "岩手県内陸北部");
    assert_string_equal(v52->hypocenter_code, "212");
    assert_true(fabs(v52->lat - 40.2) < 1e-9 && fabs(v52->lon - 141.2) < 1e-9);
    assert_int_equal(v52->depth_km, 10);
    assert_true(fabs(v52->magnitude - 3.9) < 1e-9);
    assert_string_equal(v52->magnitude_text, "Ｍ３．９");
    assert_int_equal(v52->max_intensity, ANPI_INT_NONE);
    assert_int_equal(v52->occurred_at, T("2021-02-19T09:11:00Z"));

    assert_string_equal(v53->kind, "VXSE53");
    assert_string_equal(v53->serial, "1");
    assert_string_equal(v53->event_key, "20210219181113");
    assert_int_equal(v53->max_intensity, ANPI_INT_4);
    assert_int_equal(v53->pref_intensity[3], ANPI_INT_4);
    assert_int_equal(v53->pref_intensity[2], ANPI_INT_2);
    assert_int_equal(v53->pref_intensity[5], ANPI_INT_1);
    const struct anpi_city_intensity *c = jt_city(v53, "0321300");
    assert_non_null(c);
    assert_string_equal(c->name, "二戸市");
    assert_int_equal(c->pref, 3);
    assert_int_equal(c->intensity, ANPI_INT_4);
    assert_int_equal(v53->ncities, 13);
    assert_string_equal(v53->doc_id,
                        "震源・震度に関する情報/20210219181113/1/発表/2021-02-19T09:14:51Z");
    /* one event key, three different documents */
    assert_string_not_equal(v51->doc_id, v52->doc_id);
    assert_string_not_equal(v52->doc_id, v53->doc_id);
    anpi_event_free(v51);
    anpi_event_free(v52);
    anpi_event_free(v53);
}

static void
test_real_2021_02_18_okinawa(void **state)
{
    (void)state;
    struct anpi_event *v51 =
        parse_corpus("real/p2pquake-jmaxml-seis-parser-go/20210217164825_0_VXSE51_010000.xml");
    assert_string_equal(v51->event_key, "20210218014649");
    assert_string_equal(v51->title, "震度速報");
    assert_string_equal(v51->info_kind, "震度速報");
    assert_int_equal(v51->created_at, T("2021-02-17T16:48:24Z"));
    assert_int_equal(v51->occurred_at, T("2021-02-18T01:46:00+09:00"));
    assert_int_equal(v51->pref_intensity[46], ANPI_INT_3);
    assert_int_equal(v51->max_intensity, ANPI_INT_3);
    assert_string_equal(v51->headline,
        "１８日０１時４６分ころ、地震による強い揺れを感じました。震度３以上が観測された地域をお知らせします。");

    struct anpi_event *v53 =
        parse_corpus("real/p2pquake-jmaxml-seis-parser-go/20210217165040_0_VXSE53_270000.xml");
    assert_string_equal(v53->event_key, "20210218014649");
    assert_string_equal(v53->serial, "1");
    assert_int_equal(v53->issued_at, T("2021-02-18T01:50:00+09:00"));
    assert_int_equal(v53->occurred_at, T("2021-02-17T16:46:00Z"));
    assert_string_equal(v53->hypocenter, "沖縄本島近海");
    assert_string_equal(v53->hypocenter_code, "850");
    assert_true(fabs(v53->lat - 27.4) < 1e-9 && fabs(v53->lon - 128.6) < 1e-9);
    assert_int_equal(v53->depth_km, 40);
    assert_true(fabs(v53->magnitude - 4.0) < 1e-9);
    assert_int_equal(v53->max_intensity, ANPI_INT_3);
    const struct anpi_city_intensity *c = jt_city(v53, "4653400");
    assert_non_null(c);
    assert_string_equal(c->name, "知名町");
    assert_int_equal(c->pref, 46);
    assert_int_equal(c->intensity, ANPI_INT_3);
    c = jt_city(v53, "4652500");
    assert_non_null(c);
    assert_string_equal(c->name, "瀬戸内町");
    assert_int_equal(c->intensity, ANPI_INT_1);
    assert_int_equal(v53->ncities, 6);
    anpi_event_free(v51);
    anpi_event_free(v53);
}

static void
test_2011_tohoku_max7(void **state)
{
    (void)state;
    struct anpi_event *ev = parse_corpus("official-samples/32-39_11_05_240613_VXSE53.xml");
    assert_string_equal(ev->event_key, "20110311144640");
    assert_string_equal(ev->serial, "1");
    assert_int_equal(ev->created_at, T("2011-03-11T05:54:58Z"));
    assert_int_equal(ev->issued_at, T("2011-03-11T14:54:00+09:00"));
    assert_int_equal(ev->occurred_at, T("2011-03-11T14:46:00+09:00"));
    assert_int_equal(ev->max_intensity, ANPI_INT_7);
    assert_int_equal(ev->pref_intensity[4], ANPI_INT_7);    /* 宮城県 */
    assert_int_equal(ev->pref_intensity[7], ANPI_INT_6U);   /* 福島県 */
    assert_int_equal(ev->pref_intensity[3], ANPI_INT_6L);   /* 岩手県 */
    assert_int_equal(ev->pref_intensity[13], ANPI_INT_5U);  /* 東京都 */
    assert_int_equal(ev->pref_intensity[1], ANPI_INT_4);    /* 北海道 */
    /* "M unknown" here means huge */
    assert_true(isnan(ev->magnitude));
    assert_string_equal(ev->magnitude_text, "Ｍ８を超える巨大地震");
    assert_true(fabs(ev->lat - 38.0) < 1e-9 && fabs(ev->lon - 142.9) < 1e-9);
    assert_int_equal(ev->depth_km, 10);
    const struct anpi_city_intensity *c = jt_city(ev, "0421300");
    assert_non_null(c);
    assert_string_equal(c->name, "栗原市");
    assert_int_equal(c->intensity, ANPI_INT_7);
    anpi_prefset six = anpi_event_prefs_at_least(ev, ANPI_INT_6U);
    assert_true(six == (ANPI_PREFSET_BIT(4) | ANPI_PREFSET_BIT(7) | ANPI_PREFSET_BIT(8) |
                        ANPI_PREFSET_BIT(9)));
    anpi_event_free(ev);
}

static void
test_unreported_2008_iwate_miyagi(void **state)
{
    (void)state;
    struct anpi_event *ev = parse_corpus("official-samples/32-35_06_03_240613_VXSE53.xml");
    assert_string_equal(ev->event_key, "20080614084350");
    assert_int_equal(ev->status, ANPI_ST_ACTUAL);
    assert_int_equal(ev->max_intensity, ANPI_INT_6U);
    assert_true(fabs(ev->magnitude - 7.0) < 1e-9);
    /* 大蔵村: MaxInt 4 plus Condition 未入電 -> at least 5- */
    const struct anpi_city_intensity *c = jt_city(ev, "0636500");
    assert_non_null(c);
    assert_string_equal(c->name, "大蔵村");
    assert_int_equal(c->pref, 6);
    assert_int_equal(c->intensity, ANPI_INT_5L_UNREPORTED);
    /* 羽後町: Condition only, no MaxInt */
    c = jt_city(ev, "0546300");
    assert_non_null(c);
    assert_string_equal(c->name, "羽後町");
    assert_int_equal(c->pref, 5);
    assert_int_equal(c->intensity, ANPI_INT_5L_UNREPORTED);
    /* 金ケ崎町 (岩手県) also only Condition */
    c = jt_city(ev, "0338100");
    assert_non_null(c);
    assert_int_equal(c->intensity, ANPI_INT_5L_UNREPORTED);
    anpi_prefset five = anpi_event_prefs_at_least(ev, ANPI_INT_5L);
    assert_true(five & ANPI_PREFSET_BIT(5));
    assert_true(five & ANPI_PREFSET_BIT(6));
    assert_true(anpi_intensity_rank(ev->pref_intensity[6]) >= anpi_intensity_rank(ANPI_INT_5L));
    anpi_event_free(ev);
}

static void
test_unreported_2009_suruga(void **state)
{
    (void)state;
    struct anpi_event *ev = parse_corpus("official-samples/32-35_07_06_240613_VXSE53.xml");
    assert_string_equal(ev->event_key, "20090811050711");
    assert_int_equal(ev->max_intensity, ANPI_INT_6L);
    assert_int_equal(ev->pref_intensity[22], ANPI_INT_6L);
    assert_int_equal(ev->pref_intensity[20], ANPI_INT_5L);
    assert_int_equal(ev->pref_intensity[13], ANPI_INT_4);
    /* 藤枝市 / 富士市: MaxInt 4 + Condition 未入電 */
    const struct anpi_city_intensity *c = jt_city(ev, "2221400");
    assert_non_null(c);
    assert_string_equal(c->name, "藤枝市");
    assert_int_equal(c->intensity, ANPI_INT_5L_UNREPORTED);
    c = jt_city(ev, "2221000");
    assert_non_null(c);
    assert_string_equal(c->name, "富士市");
    assert_int_equal(c->intensity, ANPI_INT_5L_UNREPORTED);
    assert_int_equal(c->pref, 22);
    anpi_event_free(ev);
}

static void
test_drill_and_whitespace(void **state)
{
    (void)state;
    /* 訓練, and the file with 43 × "<MaxInt>4 </MaxInt>" */
    struct anpi_event *ev = parse_corpus("official-samples/32-35_01_03_240613_VXSE53.xml");
    assert_int_equal(ev->status, ANPI_ST_EXERCISE);
    assert_int_equal(ev->info_type, ANPI_IT_ISSUE);
    assert_string_equal(ev->event_key, "20091001134500");
    assert_int_equal(ev->created_at, T("2009-10-01T04:50:01Z"));
    assert_true(fabs(ev->magnitude - 5.9) < 1e-9);
    assert_true(fabs(ev->lat - 34.8) < 1e-9 && fabs(ev->lon - 138.5) < 1e-9);
    assert_int_equal(ev->max_intensity, ANPI_INT_5L);
    assert_int_equal(ev->pref_intensity[22], ANPI_INT_5L);
    assert_int_equal(ev->pref_intensity[14], ANPI_INT_4);   /* "4 " */
    assert_int_equal(ev->pref_intensity[19], ANPI_INT_4);   /* "4 " */
    assert_int_equal(ev->pref_intensity[11], ANPI_INT_3);
    size_t fours = 0;
    for (size_t i = 0; i < ev->ncities; i++)
        if (ev->cities[i].intensity == ANPI_INT_4)
            fours++;
    assert_true(fours > 0);
    anpi_event_free(ev);
}

static void
test_cancel(void **state)
{
    (void)state;
    struct anpi_event *ev = parse_corpus("official-samples/32-35_10_01_220510_VXSE51.xml");
    assert_int_equal(ev->info_type, ANPI_IT_CANCEL);
    assert_int_equal(ev->type, ANPI_EV_EARTHQUAKE);
    assert_string_equal(ev->kind, "VXSE51");
    assert_string_equal(ev->event_key, "20220509152315");
    assert_string_equal(ev->headline, "震度速報を取り消します。");
    assert_int_equal(ev->max_intensity, ANPI_INT_NONE);
    assert_int_equal(ev->ncities, 0);
    assert_int_equal(anpi_event_prefs_at_least(ev, ANPI_INT_1), 0);
    assert_string_equal(ev->doc_id, "震度速報/20220509152315//取消/2022-05-10T09:10:20Z");
    anpi_event_free(ev);

    ev = parse_optional("official-samples/32-35_06_06_100915_VXSE53.xml");
    if (ev) {
        assert_int_equal(ev->info_type, ANPI_IT_CANCEL);
        assert_string_equal(ev->serial, "3");
        assert_int_equal(ev->ncities, 0);
        assert_int_equal(ev->max_intensity, ANPI_INT_NONE);
        anpi_event_free(ev);
    }
}

static void
test_foreign_nan_no_depth(void **state)
{
    (void)state;
    struct anpi_event *ev =
        parse_corpus("real/p2pquake-jmaxml-seis-parser-go/20231120170318_06797589_VXSE53.xml");
    assert_string_equal(ev->event_key, "20231120153000");
    assert_true(isnan(ev->magnitude));
    assert_string_equal(ev->magnitude_text, "Ｍ不明");
    assert_true(fabs(ev->lat - -5.1) < 1e-9 && fabs(ev->lon - 151.3) < 1e-9);
    assert_int_equal(ev->depth_km, -1);
    assert_string_equal(ev->hypocenter_code, "955");
    assert_int_equal(ev->max_intensity, ANPI_INT_NONE);
    assert_int_equal(ev->occurred_at, T("2023-11-20T15:30:00+09:00"));
    anpi_event_free(ev);
}

static void
test_chile_south_west(void **state)
{
    (void)state;
    struct anpi_event *ev = parse_corpus("official-samples/32-39_05_01_100831_VXSE53.xml");
    assert_string_equal(ev->event_key, "20100227153529");
    assert_true(fabs(ev->lat - -36.1) < 1e-9);
    assert_true(fabs(ev->lon - -72.6) < 1e-9);
    assert_int_equal(ev->depth_km, 60);
    assert_true(fabs(ev->magnitude - 8.5) < 1e-9);
    assert_string_equal(ev->magnitude_text, "Ｍ８．５");
    assert_string_equal(ev->hypocenter_code, "946");
    assert_int_equal(ev->created_at, T("2010-02-27T07:00:44Z"));
    anpi_event_free(ev);

    /* Tonga 2022 in a tsunami telegram: S/W with no depth */
    ev = parse_corpus("real/shirasagi/20220116050009_0_VTSE41_010000.xml");
    assert_int_equal(ev->type, ANPI_EV_TSUNAMI);
    assert_string_equal(ev->kind, "VTSE41");
    assert_string_equal(ev->event_key, "20220115131000");
    assert_true(fabs(ev->lat - -20.3) < 1e-9 && fabs(ev->lon - -175.2) < 1e-9);
    assert_int_equal(ev->depth_km, -1);
    assert_true(isnan(ev->magnitude));
    assert_int_equal(ev->issued_at, T("2022-01-16T14:00:00+09:00"));
    assert_int_equal(ev->occurred_at, T("2022-01-15T13:10:00+09:00"));
    anpi_event_free(ev);
}

static void
test_other_types(void **state)
{
    (void)state;
    struct anpi_event *ev =
        parse_corpus("real/p2pquake-jmaxml-seis-parser-go/20240116184225_02245216_VXSE43.xml");
    assert_int_equal(ev->type, ANPI_EV_EEW);
    assert_string_equal(ev->kind, "VXSE43");
    assert_string_equal(ev->event_key, "20240116184216");
    assert_true(anpi_intensity_rank(ev->max_intensity) >= anpi_intensity_rank(ANPI_INT_4));
    anpi_event_free(ev);

    ev = parse_corpus("official-samples/54_01_01_100514_VXSE42.xml");
    assert_int_equal(ev->status, ANPI_ST_TEST);
    assert_int_equal(ev->type, ANPI_EV_EEW);
    anpi_event_free(ev);

    ev = parse_corpus("official-samples/10_05_01_200826_VPTW60.xml");
    assert_int_equal(ev->type, ANPI_EV_WEATHER);
    assert_string_equal(ev->kind, "");
    assert_string_equal(ev->event_key, "TC2001");
    anpi_event_free(ev);

    ev = parse_corpus("official-samples/38-39_02_03_250206_VTSE51.xml");
    assert_int_equal(ev->type, ANPI_EV_TSUNAMI);
    assert_string_equal(ev->event_key, "20151114055157 20151114061750");
    anpi_event_free(ev);

    ev = parse_corpus("official-samples/42_01_01_100514_VZSE40.xml");
    assert_int_equal(ev->type, ANPI_EV_UNKNOWN);
    assert_string_equal(ev->kind, "VZSE40");
    assert_true(ev->title[0] != '\0');
    anpi_event_free(ev);
}

/* ---- the P2P地震情報 JSON oracle -------------------------------------- */

static const char *const pref_names[ANPI_PREF_COUNT + 1] = {
    "", "北海道", "青森県", "岩手県", "宮城県", "秋田県", "山形県", "福島県", "茨城県",
    "栃木県", "群馬県", "埼玉県", "千葉県", "東京都", "神奈川県", "新潟県", "富山県",
    "石川県", "福井県", "山梨県", "長野県", "岐阜県", "静岡県", "愛知県", "三重県",
    "滋賀県", "京都府", "大阪府", "兵庫県", "奈良県", "和歌山県", "鳥取県", "島根県",
    "岡山県", "広島県", "山口県", "徳島県", "香川県", "愛媛県", "高知県", "福岡県",
    "佐賀県", "長崎県", "熊本県", "大分県", "宮崎県", "鹿児島県", "沖縄県",
};

static enum anpi_intensity
p2p_scale(json_int_t s)
{
    switch (s) {
    case 10: return ANPI_INT_1;
    case 20: return ANPI_INT_2;
    case 30: return ANPI_INT_3;
    case 40: return ANPI_INT_4;
    case 45: return ANPI_INT_5L;
    case 46: return ANPI_INT_5L_UNREPORTED;
    case 50: return ANPI_INT_5U;
    case 55: return ANPI_INT_6L;
    case 60: return ANPI_INT_6U;
    case 70: return ANPI_INT_7;
    default: return ANPI_INT_NONE;
    }
}

/* XML file paired with a P2P JSON file name, or "" when none.  New-style
 * names share the stem; old-style "YYYYMMDDhhmmssmmm-DDhhmmss.json" pair with
 * "YYYYMMDDhhmmss_0_VXSE5x_*.xml" one second later or at the same second. */
static void
pair_xml(const char *json_name, const char *issue_type, char *out, size_t outlen)
{
    out[0] = '\0';
    const char *xdir = jt_corpus_path("real/p2pquake-jmaxml-seis-parser-go");
    char dirbuf[4096];
    snprintf(dirbuf, sizeof(dirbuf), "%s", xdir);
    size_t n = strlen(json_name);
    if (n > 5 && strchr(json_name, '_')) {
        snprintf(out, outlen, "%s/%.*s.xml", dirbuf, (int)(n - 5), json_name);
        struct stat st;
        if (stat(out, &st) != 0)
            out[0] = '\0';
        return;
    }
    const char *code = strcmp(issue_type, "ScalePrompt") == 0   ? "VXSE51"
                     : strcmp(issue_type, "Destination") == 0   ? "VXSE52"
                                                                 : "VXSE53";
    char stamp[32];
    snprintf(stamp, sizeof(stamp), "%.4s-%.2s-%.2sT%.2s:%.2s:%.2sZ", json_name, json_name + 4,
             json_name + 6, json_name + 8, json_name + 10, json_name + 12);
    int64_t t;
    if (anpi_iso8601_parse(stamp, &t) != 0)
        return;
    for (int delta = 0; delta <= 1; delta++) {
        char iso[ANPI_ISO8601_LEN], want[32];
        anpi_iso8601_format_utc(t + delta, iso);
        snprintf(want, sizeof(want), "%.4s%.2s%.2s%.2s%.2s%.2s_0_%s_", iso, iso + 5, iso + 8,
                 iso + 11, iso + 14, iso + 17, code);
        DIR *d = opendir(dirbuf);
        assert_non_null(d);
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            if (strncmp(e->d_name, want, strlen(want)) == 0) {
                snprintf(out, outlen, "%s/%s", dirbuf, e->d_name);
                break;
            }
        }
        closedir(d);
        if (out[0])
            return;
    }
}

static void
test_p2p_oracle(void **state)
{
    (void)state;
    char jdir[4096];
    snprintf(jdir, sizeof(jdir), "%s", jt_corpus_path("p2pquake-epsp-json/from-jmaxml-seis-parser-go"));
    DIR *d = opendir(jdir);
    if (!d)
        fail_msg("cannot open %s", jdir);
    struct dirent *e;
    int pairs = 0, with_points = 0;
    while ((e = readdir(d)) != NULL) {
        size_t n = strlen(e->d_name);
        if (n < 6 || strcmp(e->d_name + n - 5, ".json") != 0)
            continue;
        char jp[4096 + 256];
        snprintf(jp, sizeof(jp), "%s/%s", jdir, e->d_name);
        json_error_t jerr;
        json_t *j = json_load_file(jp, 0, &jerr);
        if (!j)
            fail_msg("%s: %s", jp, jerr.text);
        json_t *eq = json_object_get(j, "earthquake");
        json_t *issue = json_object_get(j, "issue");
        if (!json_is_object(eq) || !json_is_integer(json_object_get(eq, "maxScale"))) {
            json_decref(j);   /* tsunami / EEW objects have another shape */
            continue;
        }
        char xp[4096 + 256];
        pair_xml(e->d_name, json_string_value(json_object_get(issue, "type")), xp, sizeof(xp));
        if (!xp[0]) {
            json_decref(j);   /* its XML is held back */
            continue;
        }
        struct anpi_event *ev = jt_parse_file(xp);
        pairs++;
        enum anpi_intensity want = p2p_scale(json_integer_value(json_object_get(eq, "maxScale")));
        if (ev->max_intensity != want)
            fail_msg("%s vs %s: max %s, P2P %s", xp, e->d_name,
                     anpi_intensity_name(ev->max_intensity), anpi_intensity_name(want));
        json_t *hy = json_object_get(eq, "hypocenter");
        double plat = json_number_value(json_object_get(hy, "latitude"));
        double plon = json_number_value(json_object_get(hy, "longitude"));
        double pmag = json_number_value(json_object_get(hy, "magnitude"));
        json_int_t pdepth = json_integer_value(json_object_get(hy, "depth"));
        if (plat > -200) {
            if (fabs(plat - ev->lat) > 1e-9 || fabs(plon - ev->lon) > 1e-9)
                fail_msg("%s: lat/lon %f/%f, P2P %f/%f", xp, ev->lat, ev->lon, plat, plon);
            if (pdepth != ev->depth_km)
                fail_msg("%s: depth %d, P2P %d", xp, ev->depth_km, (int)pdepth);
        }
        if (strcmp(json_string_value(json_object_get(issue, "type")), "ScalePrompt") != 0) {
            if (pmag < 0 ? !isnan(ev->magnitude) : fabs(pmag - ev->magnitude) > 1e-9)
                fail_msg("%s: magnitude %f, P2P %f", xp, ev->magnitude, pmag);
        }
        /* points: for ScalePrompt (areas) and DetailScale (every station)
         * the strongest point per prefecture is our prefecture value; other
         * types list a selection, which must not exceed it. */
        const char *itype = json_string_value(json_object_get(issue, "type"));
        int complete = strcmp(itype, "ScalePrompt") == 0 || strcmp(itype, "DetailScale") == 0;
        json_t *points = json_object_get(j, "points");
        if (json_array_size(points) > 0) {
            enum anpi_intensity per[ANPI_PREF_COUNT + 1] = { 0 };
            size_t i;
            json_t *pt;
            json_array_foreach(points, i, pt) {
                const char *pn = json_string_value(json_object_get(pt, "pref"));
                int code = 0;
                for (int k = 1; k <= ANPI_PREF_COUNT; k++)
                    if (pn && strcmp(pn, pref_names[k]) == 0)
                        code = k;
                if (!code)
                    fail_msg("%s: unknown prefecture %s", e->d_name, pn ? pn : "(null)");
                enum anpi_intensity v =
                    p2p_scale(json_integer_value(json_object_get(pt, "scale")));
                if (anpi_intensity_rank(v) > anpi_intensity_rank(per[code]))
                    per[code] = v;
            }
            for (int k = 1; k <= ANPI_PREF_COUNT; k++)
                if (complete ? per[k] != ev->pref_intensity[k]
                             : anpi_intensity_rank(per[k]) > anpi_intensity_rank(ev->pref_intensity[k]))
                    fail_msg("%s: %s %s, P2P %s", xp, pref_names[k],
                             anpi_intensity_name(ev->pref_intensity[k]),
                             anpi_intensity_name(per[k]));
            with_points++;
        }
        anpi_event_free(ev);
        json_decref(j);
    }
    closedir(d);
    print_message("# %d P2P pairs checked, %d with points\n", pairs, with_points);
    assert_true(pairs >= 40);
    assert_true(with_points >= 20);
}

/* ---- coordinates, times ----------------------------------------------- */

static void
test_coordinate_variants(void **state)
{
    (void)state;
    double la, lo;
    int d;
    assert_int_equal(anpi_jma_parse_coordinate("+40.2+141.2-10000/", 0, &la, &lo, &d), 0);
    assert_true(la == 40.2 && lo == 141.2 && d == 10);
    assert_int_equal(anpi_jma_parse_coordinate("+29.7+139.9+0/", 0, &la, &lo, &d), 0);
    assert_true(la == 29.7 && lo == 139.9 && d == 0);
    assert_int_equal(anpi_jma_parse_coordinate("+56.7+161.4/", 0, &la, &lo, &d), 0);
    assert_true(la == 56.7 && lo == 161.4 && d == -1);
    assert_int_equal(anpi_jma_parse_coordinate("-05.1+151.3/", 0, &la, &lo, &d), 0);
    assert_true(la == -5.1 && lo == 151.3 && d == -1);
    assert_int_equal(anpi_jma_parse_coordinate("-00.4+100.5/", 0, &la, &lo, &d), 0);
    assert_true(la == -0.4 && lo == 100.5);
    assert_int_equal(anpi_jma_parse_coordinate("-36.1-072.6-60000/", 0, &la, &lo, &d), 0);
    assert_true(la == -36.1 && lo == -72.6 && d == 60);
    assert_int_equal(anpi_jma_parse_coordinate("-20.3-175.2/", 0, &la, &lo, &d), 0);
    assert_true(la == -20.3 && lo == -175.2 && d == -1);
    assert_int_equal(anpi_jma_parse_coordinate("+1800+14210/", 1, &la, &lo, &d), 0);
    assert_true(fabs(la - 18.0) < 1e-12 && fabs(lo - (142 + 10.0 / 60)) < 1e-12);
    assert_int_equal(anpi_jma_parse_coordinate("+40.2+141.2-700000/", 0, &la, &lo, &d), 0);
    assert_int_equal(d, 700);
    /* rejected */
    assert_int_equal(anpi_jma_parse_coordinate("", 0, &la, &lo, &d), ANPI_EPARSE);
    assert_int_equal(anpi_jma_parse_coordinate("+40.2+141.2", 0, &la, &lo, &d), ANPI_EPARSE);
    assert_int_equal(anpi_jma_parse_coordinate("40.2+141.2/", 0, &la, &lo, &d), ANPI_EPARSE);
    assert_int_equal(anpi_jma_parse_coordinate("+95.0+141.2/", 0, &la, &lo, &d), ANPI_EPARSE);
    assert_int_equal(anpi_jma_parse_coordinate("+40.2+141.2-1.5/", 0, &la, &lo, &d), ANPI_EPARSE);
    assert_int_equal(anpi_jma_parse_coordinate("+40.+141.2/", 0, &la, &lo, &d), ANPI_EPARSE);
    assert_int_equal(anpi_jma_parse_coordinate("+40.2+141.2/x", 0, &la, &lo, &d), ANPI_EPARSE);
}

static void
test_iso8601(void **state)
{
    (void)state;
    int64_t t;
    assert_int_equal(anpi_iso8601_parse("1970-01-01T00:00:00Z", &t), 0);
    assert_int_equal(t, 0);
    assert_int_equal(anpi_iso8601_parse("2021-02-19T18:11:00+09:00", &t), 0);
    assert_int_equal(t, 1613725860);
    assert_int_equal(anpi_iso8601_parse("2021-02-19T09:11:00Z", &t), 0);
    assert_int_equal(t, 1613725860);
    assert_int_equal(anpi_iso8601_parse("2024-02-29T23:59:59-05:30", &t), 0);
    assert_int_equal(t, 1709270999);
    assert_int_equal(anpi_iso8601_parse("2011-03-11T14:46:18.1+09:00", &t), 0);
    assert_int_equal(t, 1299822378);
    assert_int_equal(anpi_iso8601_parse("1969-12-31T23:59:59Z", &t), 0);
    assert_int_equal(t, -1);
    char buf[ANPI_ISO8601_LEN];
    anpi_iso8601_format_utc(1613725860, buf);
    assert_string_equal(buf, "2021-02-19T09:11:00Z");
    anpi_iso8601_format_utc(-1, buf);
    assert_string_equal(buf, "1969-12-31T23:59:59Z");
    anpi_iso8601_format_utc(951782400, buf);    /* leap day 2000 */
    assert_string_equal(buf, "2000-02-29T00:00:00Z");
    /* the process TZ never matters */
    setenv("TZ", "America/New_York", 1);
    assert_int_equal(anpi_iso8601_parse("2021-02-19T18:11:00+09:00", &t), 0);
    assert_int_equal(t, 1613725860);
    unsetenv("TZ");
    static const char *const bad[] = {
        "", "2021-02-19", "2021-02-19T18:11:00", "2021-02-30T00:00:00Z",
        "2023-02-29T00:00:00Z", "2021-13-01T00:00:00Z", "2021-02-19T24:00:00Z",
        "2021-02-19 18:11:00+09:00", "2021-02-19T18:11:00+0900", "2021-02-19T18:11:00+09:00x",
        "２０２１-02-19T18:11:00Z", "2021-02-19T18:11:00.Z",
    };
    for (size_t i = 0; i < ANPI_ARRAY_LEN(bad); i++)
        if (anpi_iso8601_parse(bad[i], &t) != ANPI_EPARSE)
            fail_msg("accepted '%s'", bad[i]);
}

/* ---- bad input -------------------------------------------------------- */

static const char good_head[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    "<Report xmlns=\"http://xml.kishou.go.jp/jmaxml1/\">\n"
    "<Control><Title>震度速報</Title><DateTime>2030-04-01T01:02:03Z</DateTime>"
    "<Status>試験</Status><EditorialOffice>気象庁本庁</EditorialOffice>"
    "<PublishingOffice>気象庁</PublishingOffice></Control>\n"
    "<Head xmlns=\"http://xml.kishou.go.jp/jmaxml1/informationBasis1/\">"
    "<Title>震度速報</Title><ReportDateTime>2030-04-01T10:02:00+09:00</ReportDateTime>"
    "<TargetDateTime>2030-04-01T10:01:00+09:00</TargetDateTime>"
    "<EventID>20300401100100</EventID><InfoType>発表</InfoType><Serial/>"
    "<InfoKind>震度速報</InfoKind><Headline><Text>試験（架空）</Text></Headline></Head>\n";

static int
parse_str(const char *xml, char *err, size_t errlen)
{
    struct anpi_event *ev = NULL;
    int rc = anpi_jma_parse(xml, strlen(xml), &ev, err, errlen);
    if (rc == 0) {
        jt_assert_json_roundtrip(ev);
        anpi_event_free(ev);
    } else {
        assert_null(ev);
    }
    return rc;
}

static void
expect_error(const char *xml, const char *needle)
{
    char err[256] = "";
    int rc = parse_str(xml, err, sizeof(err));
    if (rc != ANPI_EPARSE)
        fail_msg("rc %d for:\n%s", rc, xml);
    if (!strstr(err, needle))
        fail_msg("error '%s' does not mention '%s'", err, needle);
}

static void
test_minimal_and_pref_only(void **state)
{
    (void)state;
    char xml[4096], err[256];
    /* a Pref without MaxInt whose city is 未入電 still ranks 5- */
    snprintf(xml, sizeof(xml), "%s%s", good_head,
             "<Body xmlns=\"http://xml.kishou.go.jp/jmaxml1/body/seismology1/\">"
             "<Intensity><Observation><MaxInt>4</MaxInt>"
             "<Pref><Name>茨城県</Name><Code>08</Code>"
             "<Area><Name>茨城県北部</Name><Code>300</Code>"
             "<City><Name>試験市</Name><Code>0899900</Code>"
             "<Condition>震度５弱以上未入電</Condition></City></Area></Pref>"
             "<Pref><Name>千葉県</Name><Code>12</Code><MaxInt>4</MaxInt>"
             "<Area><Name>千葉県北西部</Name><Code>341</Code><MaxInt>4</MaxInt></Area></Pref>"
             "</Observation></Intensity></Body></Report>");
    struct anpi_event *ev = NULL;
    assert_int_equal(anpi_jma_parse(xml, strlen(xml), &ev, err, sizeof(err)), 0);
    assert_int_equal(ev->status, ANPI_ST_TEST);
    assert_int_equal(ev->pref_intensity[8], ANPI_INT_5L_UNREPORTED);
    assert_int_equal(ev->pref_intensity[12], ANPI_INT_4);
    assert_int_equal(ev->max_intensity, ANPI_INT_5L_UNREPORTED);
    assert_int_equal(ev->occurred_at, T("2030-04-01T01:01:00Z"));
    assert_true(anpi_event_prefs_at_least(ev, ANPI_INT_5L) == ANPI_PREFSET_BIT(8));
    assert_string_equal(ev->doc_id, "震度速報/20300401100100//発表/2030-04-01T01:02:03Z");
    jt_assert_json_roundtrip(ev);
    anpi_event_free(ev);
}

static void
test_bad_input(void **state)
{
    (void)state;
    char xml[8192];
    const char *body = "<Body xmlns=\"http://xml.kishou.go.jp/jmaxml1/body/seismology1/\">"
                       "<Text>x</Text></Body></Report>";

    /* truncated */
    snprintf(xml, sizeof(xml), "%s%s", good_head, body);
    xml[strlen(xml) - 20] = '\0';
    expect_error(xml, "not well-formed XML at line");

    /* not XML at all */
    expect_error("hello", "not well-formed XML");
    expect_error("", "not well-formed XML");

    /* not a Report */
    expect_error("<?xml version=\"1.0\"?><feed xmlns=\"http://www.w3.org/2005/Atom\"/>",
                 "not a JMA <Report>");

    /* Report in the wrong namespace */
    expect_error("<Report xmlns=\"http://example.jp/other/\"><Control/></Report>",
                 "Report in namespace 'http://example.jp/other/'");
    /* Head in the wrong namespace */
    snprintf(xml, sizeof(xml),
             "<Report xmlns=\"http://xml.kishou.go.jp/jmaxml1/\"><Control><Title>t</Title>"
             "<DateTime>2030-04-01T01:02:03Z</DateTime><Status>通常</Status></Control>"
             "<Head><EventID>1</EventID></Head>%s", body);
    expect_error(xml, "Head in namespace");

    /* missing EventID */
    char *noid = anpi_xasprintf("%s%s", good_head, body);
    char *p = strstr(noid, "<EventID>");
    memcpy(p, "<EventXX>", 9);
    p = strstr(noid, "</EventID>");
    memcpy(p, "</EventXX>", 10);
    expect_error(noid, "Head/EventID missing");
    free(noid);

    /* bad values */
    char *bad = anpi_xasprintf("%s%s", good_head, body);
    p = strstr(bad, "試験</Status>");
    memcpy(p, "本番", strlen("本番"));     /* same byte length as 試験 */
    expect_error(bad, "Control/Status: unknown value");
    free(bad);
    bad = anpi_xasprintf("%s%s", good_head, body);
    p = strstr(bad, "2030-04-01T01:02:03Z");
    p[19] = 'X';
    expect_error(bad, "Control/DateTime: bad date-time");
    free(bad);

    /* no Body */
    snprintf(xml, sizeof(xml), "%s</Report>", good_head);
    expect_error(xml, "Body missing");

    /* billion laughs: stopped at the DOCTYPE, nothing expanded */
    snprintf(xml, sizeof(xml),
             "<?xml version=\"1.0\"?>\n<!DOCTYPE Report [\n"
             "<!ENTITY a \"aaaaaaaaaa\">\n"
             "<!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;\">\n"
             "<!ENTITY c \"&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;\">\n"
             "<!ENTITY d \"&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;\">\n"
             "<!ENTITY e \"&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;\">\n"
             "<!ENTITY f \"&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;\">\n"
             "<!ENTITY g \"&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;\">\n"
             "<!ENTITY h \"&g;&g;&g;&g;&g;&g;&g;&g;&g;&g;\">\n"
             "]>\n<Report xmlns=\"http://xml.kishou.go.jp/jmaxml1/\">&h;</Report>");
    expect_error(xml, "DOCTYPE at line 2");
    /* external entity (XXE) */
    expect_error("<?xml version=\"1.0\"?><!DOCTYPE Report SYSTEM \"file:///etc/passwd\">"
                 "<Report xmlns=\"http://xml.kishou.go.jp/jmaxml1/\"/>",
                 "DOCTYPE");
    /* an entity reference without a DTD is just malformed */
    snprintf(xml, sizeof(xml), "%s%s", good_head,
             "<Body xmlns=\"http://xml.kishou.go.jp/jmaxml1/body/seismology1/\">"
             "<Text>&xxe;</Text></Body></Report>");
    expect_error(xml, "not well-formed XML");

    /* well-formed but nested deeper than libxml2's limit (256 without HUGE) */
    size_t depth = 5000, n = 0;
    char *deep = anpi_xmalloc(depth * 7 + 128);
    n += (size_t)sprintf(deep, "<Report xmlns=\"http://xml.kishou.go.jp/jmaxml1/\">");
    for (size_t i = 0; i < depth; i++)
        n += (size_t)sprintf(deep + n, "<a>");
    for (size_t i = 0; i < depth; i++)
        n += (size_t)sprintf(deep + n, "</a>");
    sprintf(deep + n, "</Report>");
    expect_error(deep, "not well-formed XML");
    free(deep);

    /* over 10 MiB */
    size_t big = ANPI_JMA_MAX_DOC + 1;
    char *huge = anpi_xmalloc(big);
    memset(huge, ' ', big);
    struct anpi_event *ev = (struct anpi_event *)1;
    char err[128];
    assert_int_equal(anpi_jma_parse(huge, big, &ev, err, sizeof(err)), ANPI_ETOOBIG);
    assert_null(ev);
    assert_non_null(strstr(err, "limit"));
    free(huge);
}

/* ---- intensity scale (feeds/event.c) ---------------------------------- */

static void
test_intensity_order(void **state)
{
    (void)state;
    static const enum anpi_intensity order[] = {
        ANPI_INT_NONE, ANPI_INT_1, ANPI_INT_2, ANPI_INT_3, ANPI_INT_4, ANPI_INT_5L,
        ANPI_INT_5U, ANPI_INT_6L, ANPI_INT_6U, ANPI_INT_7,
    };
    for (size_t i = 1; i < ANPI_ARRAY_LEN(order); i++)
        assert_true(anpi_intensity_rank(order[i - 1]) < anpi_intensity_rank(order[i]));
    assert_int_equal(anpi_intensity_rank(ANPI_INT_5L_UNREPORTED),
                     anpi_intensity_rank(ANPI_INT_5L));
    assert_true(anpi_intensity_rank(ANPI_INT_5L_UNREPORTED) < anpi_intensity_rank(ANPI_INT_5U));
    assert_true(anpi_intensity_rank(ANPI_INT_5L_UNREPORTED) > anpi_intensity_rank(ANPI_INT_4));

    static const struct {
        const char *s;
        enum anpi_intensity v;
    } ok[] = {
        { "1", ANPI_INT_1 }, { "4 ", ANPI_INT_4 }, { " 5-", ANPI_INT_5L }, { "5+", ANPI_INT_5U },
        { "6-", ANPI_INT_6L }, { "6+\n", ANPI_INT_6U }, { "7", ANPI_INT_7 },
        { "5弱", ANPI_INT_5L }, { "6強", ANPI_INT_6U }, { "震度５強", ANPI_INT_5U }, { "震度５弱", ANPI_INT_5L },
        { "震度７", ANPI_INT_7 }, { "震度５弱以上未入電", ANPI_INT_5L_UNREPORTED },
        { "!5-", ANPI_INT_5L_UNREPORTED },
    };
    for (size_t i = 0; i < ANPI_ARRAY_LEN(ok); i++) {
        enum anpi_intensity v;
        if (anpi_intensity_parse(ok[i].s, &v) != 0 || v != ok[i].v)
            fail_msg("'%s'", ok[i].s);
    }
    static const char *const bad[] = { "", "0", "8", "5", "6", "5--", "震度", "弱", "4a" };
    for (size_t i = 0; i < ANPI_ARRAY_LEN(bad); i++) {
        enum anpi_intensity v;
        if (anpi_intensity_parse(bad[i], &v) == 0)
            fail_msg("accepted '%s'", bad[i]);
    }
    /* names round-trip through parse */
    for (int i = ANPI_INT_1; i <= ANPI_INT_5L_UNREPORTED; i++) {
        enum anpi_intensity v;
        assert_int_equal(anpi_intensity_parse(anpi_intensity_name((enum anpi_intensity)i), &v), 0);
        assert_int_equal(v, i);
    }
    assert_string_equal(anpi_intensity_name(ANPI_INT_5L_UNREPORTED), "!5-");
    assert_string_equal(anpi_intensity_name(ANPI_INT_NONE), "");
}

static int
in_corpus(const char *rel)
{
    struct stat st;
    return stat(jt_corpus_path(rel), &st) == 0;
}

int
main(void)
{
    struct CMUnitTest tests[32];
    size_t n = 0;
#define ADD(f) (tests[n++] = (struct CMUnitTest)cmocka_unit_test(f))
    ADD(test_corpus_present);
    ADD(test_corpus_all_documents);
    /* Documents FEEDS.md says are kept back for acceptance checks: their
     * tests run when the files are there and are left out (and said so)
     * otherwise; cmocka's skip would be counted as a failure by meson. */
    static const char *const seq[] = {
        "real/p2pquake-jmaxml-seis-parser-go/20210219091253_0_VXSE51_010000.xml",
        "real/p2pquake-jmaxml-seis-parser-go/20210219091354_0_VXSE52_010000.xml",
        "real/p2pquake-jmaxml-seis-parser-go/20210219091451_0_VXSE53_010000.xml",
    };
    if (in_corpus(seq[0]) && in_corpus(seq[1]) && in_corpus(seq[2]))
        ADD(test_2021_02_19_sequence);
    else
        printf("# 2021-02-19 sequence (EventID 20210219181113) held back: test not run\n");
    if (in_corpus("official-samples/32-35_06_03_240613_VXSE53.xml"))
        ADD(test_unreported_2008_iwate_miyagi);
    else
        printf("# 32-35_06_03_240613_VXSE53.xml held back: test not run\n");
    ADD(test_real_2021_02_18_okinawa);
    ADD(test_2011_tohoku_max7);
    ADD(test_unreported_2009_suruga);
    ADD(test_drill_and_whitespace);
    ADD(test_cancel);
    ADD(test_foreign_nan_no_depth);
    ADD(test_chile_south_west);
    ADD(test_other_types);
    ADD(test_p2p_oracle);
    ADD(test_coordinate_variants);
    ADD(test_iso8601);
    ADD(test_minimal_and_pref_only);
    ADD(test_bad_input);
    ADD(test_intensity_order);
#undef ADD
    return _cmocka_run_group_tests("jma_xml", tests, n, NULL, NULL);
}
