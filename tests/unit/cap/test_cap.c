/* test_cap.c - the CAP 1.2 parser on synthetic alerts written here (a
 * fictional launch sequence: launch, imminent, impact, overflight, all
 * clear, an exercise, an update with references, a cancel) and on bad
 * input (no area, wrong namespace, malformed, DOCTYPE, bad codes). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "engine/anpi.h"
#include "feeds/cap/cap.h"
#include "feeds/event.h"
#include "feeds/feed.h"

#define SENDER "jalert-relay@example.jp"

/* A CAP 1.2 alert around `infos`. */
static char *
alert(const char *id, const char *status, const char *msg_type, const char *refs,
      const char *infos)
{
    char refs_el[512] = "";
    if (refs)
        snprintf(refs_el, sizeof(refs_el), "  <references>%s</references>\n", refs);
    return anpi_xasprintf(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        "<alert xmlns=\"urn:oasis:names:tc:emergency:cap:1.2\">\n"
        "  <identifier>%s</identifier>\n"
        "  <sender>" SENDER "</sender>\n"
        "  <sent>2031-05-12T07:02:10+09:00</sent>\n"
        "  <status>%s</status>\n"
        "  <msgType>%s</msgType>\n"
        "  <scope>Public</scope>\n"
        "%s%s</alert>\n",
        id, status, msg_type, refs_el, infos);
}

/* One Japanese missile info with event text and prefecture geocodes. */
static char *
info(const char *event, const char *codes)
{
    char areas[1024] = "";
    size_t n = 0;
    for (const char *p = codes; *p;) {
        size_t l = strcspn(p, ",");
        n += (size_t)snprintf(areas + n, sizeof(areas) - n,
                              "      <geocode><valueName>JIS X 0401</valueName><value>%.*s</value>"
                              "</geocode>\n", (int)l, p);
        p += l + (p[l] == ',');
    }
    return anpi_xasprintf(
        "  <info>\n"
        "    <language>ja-JP</language>\n"
        "    <category>Security</category>\n"
        "    <event>%s</event>\n"
        "    <urgency>Immediate</urgency><severity>Extreme</severity><certainty>Likely</certainty>\n"
        "    <onset>2031-05-12T07:01:00+09:00</onset>\n"
        "    <expires>2031-05-12T09:00:00+09:00</expires>\n"
        "    <headline>%s</headline>\n"
        "    <description>試験用の文面です。建物の中、又は地下に避難して下さい。</description>\n"
        "    <web>https://alerts.example.jp/j/1</web>\n"
        "    <area>\n      <areaDesc>試験地域</areaDesc>\n%s    </area>\n"
        "  </info>\n",
        event, event, areas);
}

static struct anpi_event_list
parse_ok(const char *doc)
{
    struct anpi_event_list l = { 0 };
    char err[256];
    int rc = anpi_cap_parse(doc, strlen(doc), &l, err, sizeof(err));
    if (rc != 0)
        fail_msg("parse failed (%d): %s\n%s", rc, err, doc);
    return l;
}

static struct anpi_event *
one(const char *id, const char *status, const char *type, const char *refs, const char *event,
    const char *codes)
{
    char *i = info(event, codes);
    char *doc = alert(id, status, type, refs, i);
    struct anpi_event_list l = parse_ok(doc);
    free(i);
    free(doc);
    if (l.n != 1)
        fail_msg("%zu events", l.n);
    struct anpi_event *ev = l.ev[0];
    free(l.ev);
    return ev;
}

/* Error message of a failing document. */
static void
expect_error(const char *doc, int want_rc, const char *want)
{
    struct anpi_event_list l = { 0 };
    char err[256];
    int rc = anpi_cap_parse(doc, strlen(doc), &l, err, sizeof(err));
    if (rc != want_rc || !strstr(err, want))
        fail_msg("rc %d (want %d), err '%s' (want '%s')", rc, want_rc, err, want);
    assert_int_equal(l.n, 0);
}

static void
test_launch(void **state)
{
    (void)state;
    struct anpi_event *ev = one("J-2031-0001", "Actual", "Alert", NULL, "ミサイル発射", "01,02,47");
    assert_int_equal(ev->type, ANPI_EV_MISSILE);
    assert_string_equal(ev->source, "cap");
    assert_int_equal(ev->status, ANPI_ST_ACTUAL);
    assert_int_equal(ev->info_type, ANPI_IT_ISSUE);
    assert_int_equal(ev->missile_phase, ANPI_MS_LAUNCH);
    assert_true(ev->target_prefs ==
                (ANPI_PREFSET_BIT(1) | ANPI_PREFSET_BIT(2) | ANPI_PREFSET_BIT(47)));
    assert_string_equal(ev->doc_id, SENDER ",J-2031-0001,2031-05-12T07:02:10+09:00");
    assert_string_equal(ev->event_key, "J-2031-0001");
    assert_string_equal(ev->title, "ミサイル発射");
    assert_string_equal(ev->hazard, "ミサイル発射");
    assert_string_equal(ev->info_kind, "Security");
    assert_string_equal(ev->url, "https://alerts.example.jp/j/1");
    assert_non_null(strstr(ev->description, "地下に避難"));
    assert_int_equal(ev->issued_at, 1936303330);     /* 2031-05-11T22:02:10Z (date -d) */
    assert_int_equal(ev->occurred_at, 1936303260);
    assert_int_equal(ev->valid_until, 1936310400);
    anpi_event_free(ev);
}

static void
test_phases(void **state)
{
    (void)state;
    static const struct { const char *event; enum anpi_missile_phase phase; } cases[] = {
        { "ミサイル直ちに避難", ANPI_MS_IMMINENT },
        { "ミサイル落下", ANPI_MS_IMPACT },
        { "ミサイル通過", ANPI_MS_OVERFLIGHT },
        { "ミサイル落下(領海外)", ANPI_MS_IMPACT_OUTSIDE },
        { "ミサイル落下（EEZ内）", ANPI_MS_IMPACT_OUTSIDE },
        { "迎撃", ANPI_MS_INTERCEPTION },
        { "ミサイル飛来しない", ANPI_MS_ALL_CLEAR },
        { "避難の呼びかけ解除", ANPI_MS_ALL_CLEAR },
        { "Missile launch", ANPI_MS_LAUNCH },
        { "Missile impact imminent", ANPI_MS_IMMINENT },
        { "Missile landed", ANPI_MS_IMPACT },
        { "Missile overflight", ANPI_MS_OVERFLIGHT },
        { "Missile intercepted", ANPI_MS_INTERCEPTION },
        { "Missile ALL CLEAR", ANPI_MS_ALL_CLEAR },
        { "弾道ミサイル", ANPI_MS_LAUNCH },        /* no phase word: treated as a launch */
        { "テスト", ANPI_MS_NONE },                /* Security category, no missile word */
    };
    for (size_t i = 0; i < ANPI_ARRAY_LEN(cases); i++) {
        struct anpi_event *ev = one("J-2031-0002", "Actual", "Alert", NULL, cases[i].event, "13");
        if (ev->missile_phase != cases[i].phase)
            fail_msg("'%s': %s, want %s", cases[i].event, anpi_missile_phase_name(ev->missile_phase),
                     anpi_missile_phase_name(cases[i].phase));
        assert_int_equal(ev->type, ANPI_EV_MISSILE);
        anpi_event_free(ev);
    }
}

static void
test_parameters(void **state)
{
    (void)state;
    /* An explicit phase parameter wins over the event text; A11 codes are read. */
    const char *tmpl =
        "  <info><category>CBRNE</category><event>ミサイル</event>\n"
        "    <parameter><valueName>%s</valueName><value>%s</value></parameter>\n"
        "    <area><areaDesc>沖縄県</areaDesc></area></info>\n";
    static const struct { const char *name, *value; enum anpi_missile_phase phase; } cases[] = {
        { "missile_phase", "interception", ANPI_MS_INTERCEPTION },
        { "A11", "132", ANPI_MS_IMMINENT },
        { "A11", "130", ANPI_MS_IMPACT_OUTSIDE },
        { "source", "DCX", ANPI_MS_LAUNCH },
    };
    for (size_t i = 0; i < ANPI_ARRAY_LEN(cases); i++) {
        char *in = anpi_xasprintf(tmpl, cases[i].name, cases[i].value);
        char *doc = alert("J-2031-0003", "Actual", "Alert", NULL, in);
        struct anpi_event_list l = parse_ok(doc);
        assert_int_equal(l.n, 1);
        assert_int_equal(l.ev[0]->missile_phase, cases[i].phase);
        assert_true(l.ev[0]->target_prefs == ANPI_PREFSET_BIT(47));   /* from areaDesc */
        assert_string_equal(l.ev[0]->info_kind, "CBRNE");
        assert_string_equal(l.ev[0]->headline, "");
        anpi_event_list_free(&l);
        free(doc);
        free(in);
    }
}

static void
test_exercise_and_test(void **state)
{
    (void)state;
    static const struct { const char *status; enum anpi_event_status want; } cases[] = {
        { "Exercise", ANPI_ST_EXERCISE }, { "Test", ANPI_ST_TEST },
        { "System", ANPI_ST_TEST },       { "Draft", ANPI_ST_TEST },
    };
    for (size_t i = 0; i < ANPI_ARRAY_LEN(cases); i++) {
        struct anpi_event *ev = one("J-2031-0004", cases[i].status, "Alert", NULL,
                                    "ミサイル発射", "27");
        assert_int_equal(ev->status, cases[i].want);
        anpi_event_free(ev);
    }
}

static void
test_update_and_cancel(void **state)
{
    (void)state;
    const char *refs = SENDER ",J-2031-0001,2031-05-12T07:02:10+09:00 "
                       SENDER ",J-2031-0005,2031-05-12T07:05:00+09:00";
    struct anpi_event *up = one("J-2031-0006", "Actual", "Update", refs, "ミサイル落下", "01");
    assert_int_equal(up->info_type, ANPI_IT_ISSUE);   /* a follow-up phase is news */
    assert_string_equal(up->event_key, "J-2031-0001");    /* the launch it belongs to */
    assert_int_equal(up->missile_phase, ANPI_MS_IMPACT);
    anpi_event_free(up);

    struct anpi_event *cl = one("J-2031-0007", "Actual", "Cancel", refs, "ミサイル", "01");
    assert_int_equal(cl->info_type, ANPI_IT_CANCEL);
    assert_int_equal(cl->missile_phase, ANPI_MS_ALL_CLEAR);   /* Cancel without a phase word */
    assert_string_equal(cl->event_key, "J-2031-0001");
    anpi_event_free(cl);

    char *in = info("ミサイル", "01");
    char *doc = alert("J-2031-0008", "Actual", "Update", "no-commas-here", in);
    expect_error(doc, ANPI_EPARSE, "<references> entry 1 'no-commas-here'");
    free(doc);
    doc = alert("J-2031-0008", "Actual", "Ack", NULL, in);
    struct anpi_event_list l = parse_ok(doc);
    assert_int_equal(l.n, 0);
    free(doc);
    free(in);
}

static void
test_other_hazard_unknown(void **state)
{
    (void)state;
    const char *in =
        "  <info><language>ja-JP</language><category>Met</category><event>大雨</event>\n"
        "    <area><areaDesc>試験市</areaDesc></area></info>\n";
    char *doc = alert("W-2031-0001", "Actual", "Alert", NULL, in);
    struct anpi_event_list l = parse_ok(doc);
    assert_int_equal(l.n, 1);
    assert_int_equal(l.ev[0]->type, ANPI_EV_UNKNOWN);
    assert_int_equal(l.ev[0]->missile_phase, ANPI_MS_NONE);
    assert_string_equal(l.ev[0]->title, "大雨");
    assert_true(l.ev[0]->target_prefs == 0);
    anpi_event_list_free(&l);
    free(doc);
}

static void
test_languages_and_several_infos(void **state)
{
    (void)state;
    char *ja1 = info("ミサイル発射", "40"), *ja2 = info("ミサイル発射", "46");
    const char *en =
        "  <info><language>en-US</language><category>Security</category><event>Missile launch</event>\n"
        "    <area><areaDesc>Fukuoka</areaDesc></area></info>\n";
    char *infos = anpi_xasprintf("%s%s%s", ja1, en, ja2);
    char *doc = alert("J-2031-0009", "Actual", "Alert", NULL, infos);
    struct anpi_event_list l = parse_ok(doc);
    assert_int_equal(l.n, 2);      /* the English translation is not a third alert */
    assert_string_equal(l.ev[0]->doc_id, SENDER ",J-2031-0009,2031-05-12T07:02:10+09:00");
    assert_string_equal(l.ev[1]->doc_id, SENDER ",J-2031-0009,2031-05-12T07:02:10+09:00#3");
    assert_true(l.ev[1]->target_prefs == ANPI_PREFSET_BIT(46));
    anpi_event_list_free(&l);
    free(doc);
    free(infos);
    free(ja1);
    free(ja2);
}

static void
test_area_forms(void **state)
{
    (void)state;
    const char *in =
        "  <info><category>Security</category><event>ミサイル通過</event>\n"
        "    <area><areaDesc>x</areaDesc>\n"
        "      <geocode><valueName>jis_x_0401</valueName><value>4</value></geocode>\n"
        "      <geocode><valueName>JIS X 0402</valueName><value>131016</value></geocode>\n"
        "      <geocode><valueName>JIS X 0402</valueName><value>01101</value></geocode>\n"
        "      <geocode><valueName>SAME</valueName><value>999999</value></geocode></area>\n"
        "    <area><areaDesc>宮城県、山形県、新潟県</areaDesc></area>\n"
        "  </info>\n";
    char *doc = alert("J-2031-0010", "Actual", "Alert", NULL, in);
    struct anpi_event_list l = parse_ok(doc);
    assert_int_equal(l.n, 1);
    assert_true(l.ev[0]->target_prefs == (ANPI_PREFSET_BIT(1) | ANPI_PREFSET_BIT(4) |
                                          ANPI_PREFSET_BIT(6) | ANPI_PREFSET_BIT(13) |
                                          ANPI_PREFSET_BIT(15)));
    anpi_event_list_free(&l);
    free(doc);

    const char *all = "  <info><category>Security</category><event>ミサイル発射</event>\n"
                      "    <area><areaDesc>全国</areaDesc></area></info>\n";
    doc = alert("J-2031-0011", "Actual", "Alert", NULL, all);
    l = parse_ok(doc);
    for (int c = 1; c <= ANPI_PREF_COUNT; c++)
        assert_true(l.ev[0]->target_prefs & ANPI_PREFSET_BIT(c));
    assert_false(l.ev[0]->target_prefs & ANPI_PREFSET_BIT(0));
    anpi_event_list_free(&l);
    free(doc);
}

static void
test_no_area(void **state)
{
    (void)state;
    const char *in = "  <info><category>Security</category><event>ミサイル発射</event></info>\n";
    char *doc = alert("J-2031-0012", "Actual", "Alert", NULL, in);
    expect_error(doc, ANPI_EPARSE, "CAP info 1 has no area: target prefectures unknown");
    free(doc);

    const char *vague = "  <info><category>Security</category><event>ミサイル発射</event>\n"
                        "    <area><areaDesc>日本海側</areaDesc></area></info>\n";
    doc = alert("J-2031-0013", "Actual", "Alert", NULL, vague);
    expect_error(doc, ANPI_EPARSE, "CAP info 1: no area names a prefecture");
    free(doc);

    char *bad = info("ミサイル発射", "48");
    doc = alert("J-2031-0014", "Actual", "Alert", NULL, bad);
    expect_error(doc, ANPI_EPARSE, "value '48' is not a prefecture code 01-47");
    free(doc);
    free(bad);
}

static void
test_bad_documents(void **state)
{
    (void)state;
    char *in = info("ミサイル発射", "01");
    char *doc = alert("J-2031-0015", "Actual", "Alert", NULL, in);
    char *p = strstr(doc, "cap:1.2");
    p[6] = '1';     /* CAP 1.1 */
    expect_error(doc, ANPI_EPARSE, "alert in namespace 'urn:oasis:names:tc:emergency:cap:1.1'");
    free(doc);

    expect_error("<alert xmlns=\"urn:oasis:names:tc:emergency:cap:1.2\"><identifier>x",
                 ANPI_EPARSE, "not well-formed XML at line 1");
    expect_error("<feed/>", ANPI_EPARSE, "root element is <feed>, not a CAP <alert>");
    expect_error("<?xml version=\"1.0\"?><!DOCTYPE alert [<!ENTITY a \"aaaa\">]>"
                 "<alert xmlns=\"urn:oasis:names:tc:emergency:cap:1.2\">&a;</alert>",
                 ANPI_EPARSE, "DOCTYPE at line 1");

    doc = alert("J-2031-0016", "Real", "Alert", NULL, in);
    expect_error(doc, ANPI_EPARSE, "CAP <status> 'Real'");
    free(doc);
    doc = alert("J-2031-0016", "Actual", "Notice", NULL, in);
    expect_error(doc, ANPI_EPARSE, "CAP <msgType> 'Notice'");
    free(doc);
    doc = alert("", "Actual", "Alert", NULL, in);
    expect_error(doc, ANPI_EPARSE, "CAP alert has no <identifier>");
    free(doc);
    doc = alert("J-2031-0017", "Actual", "Alert", NULL, in);
    p = strstr(doc, "+09:00</sent>");
    memcpy(p, "      ", 6);    /* no offset */
    expect_error(doc, ANPI_EPARSE, "CAP <sent> '2031-05-12T07:02:10");
    free(doc);
    free(in);

    size_t n = ANPI_CAP_MAX_DOC + 1;
    char *big = anpi_xmalloc(n);
    memset(big, ' ', n);
    struct anpi_event_list l = { 0 };
    char err[128];
    assert_int_equal(anpi_cap_parse(big, n, &l, err, sizeof(err)), ANPI_ETOOBIG);
    free(big);
}

static void
test_phase_text(void **state)
{
    (void)state;
    assert_int_equal(anpi_cap_phase_from_text("ミサイル落下しないものとみられます"), ANPI_MS_ALL_CLEAR);
    assert_int_equal(anpi_cap_phase_from_text("直ちに避難。ミサイルが落下するものとみられます"),
                     ANPI_MS_IMMINENT);
    assert_int_equal(anpi_cap_phase_from_text("迎撃により破壊。破片の落下の可能性"),
                     ANPI_MS_INTERCEPTION);
    assert_int_equal(anpi_cap_phase_from_text("地震"), ANPI_MS_NONE);
    assert_int_equal(anpi_cap_phase_from_text(NULL), ANPI_MS_NONE);
}

static void
test_feed_source(void **state)
{
    (void)state;
    const struct anpi_feed_source *src = anpi_feed_source_find("cap");
    if (!src)
        skip();    /* until feeds/sources.c lists the parser */
    assert_ptr_equal(src->parse, anpi_cap_parse);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_launch),
        cmocka_unit_test(test_phases),
        cmocka_unit_test(test_parameters),
        cmocka_unit_test(test_exercise_and_test),
        cmocka_unit_test(test_update_and_cancel),
        cmocka_unit_test(test_other_hazard_unknown),
        cmocka_unit_test(test_languages_and_several_infos),
        cmocka_unit_test(test_area_forms),
        cmocka_unit_test(test_no_area),
        cmocka_unit_test(test_bad_documents),
        cmocka_unit_test(test_phase_text),
        cmocka_unit_test(test_feed_source),
    };
    return cmocka_run_group_tests_name("cap", tests, NULL, NULL);
}
