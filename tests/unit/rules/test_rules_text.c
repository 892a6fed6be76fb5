/* test_rules_text.c - template rendering/checking and the prefecture table. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rules/rules.h"

static const char *
lookup(void *ctx, const char *name)
{
    (void)ctx;
    if (strcmp(name, "person.name") == 0)
        return "試験 太郎";
    if (strcmp(name, "reply_url") == 0)
        return "https://anpi.example.jp/r/abc?x=1&y=<2>";
    if (strcmp(name, "reason") == 0)
        return "it's \"urgent\"";
    if (strcmp(name, "drill_banner") == 0)
        return "";
    return NULL;
}

static void
test_render(void **state)
{
    (void)state;
    struct anpi_errors errs = { 0 };
    char *s = anpi_template_render("{{drill_banner}}{{person.name}} 様\n{{ reply_url }}\n",
                                   lookup, NULL, false, &errs);
    assert_string_equal(s, "試験 太郎 様\nhttps://anpi.example.jp/r/abc?x=1&y=<2>\n");
    assert_int_equal(errs.n, 0);
    free(s);

    /* Single braces and "}}" alone are literal text. */
    s = anpi_template_render("a {b} }} {{person.name}}", lookup, NULL, false, &errs);
    assert_string_equal(s, "a {b} }} 試験 太郎");
    free(s);
    s = anpi_template_render("", lookup, NULL, false, NULL);
    assert_string_equal(s, "");
    free(s);
}

static void
test_render_html(void **state)
{
    (void)state;
    char *s = anpi_template_render("<a href=\"{{reply_url}}\">{{reason}}</a>", lookup, NULL, true,
                                   NULL);
    /* Values escaped, template markup kept. */
    assert_string_equal(s, "<a href=\"https://anpi.example.jp/r/abc?x=1&amp;y=&lt;2&gt;\">"
                           "it&#39;s &quot;urgent&quot;</a>");
    free(s);
}

static void
test_render_unknown(void **state)
{
    (void)state;
    struct anpi_errors errs = { 0 };
    char *s = anpi_template_render("x\n  {{nope}}|", lookup, NULL, false, &errs);
    assert_string_equal(s, "x\n  |");
    assert_int_equal(errs.n, 1);
    assert_string_equal(errs.msg[0], "template:2:3: unknown variable {{nope}}");
    anpi_errors_free(&errs);
    free(s);

    s = anpi_template_render("abc {{person.name", lookup, NULL, false, &errs);
    assert_string_equal(s, "abc {{person.name");
    assert_int_equal(errs.n, 1);
    assert_string_equal(errs.msg[0], "template:1:5: unterminated {{");
    anpi_errors_free(&errs);
    free(s);
}

static void
test_check(void **state)
{
    (void)state;
    struct anpi_errors errs = { 0 };
    assert_int_equal(anpi_template_check("{{reply_url}} {{ person.name }}", anpi_template_vars,
                                         "t.txt", &errs), 0);
    assert_int_equal(errs.n, 0);

    assert_int_equal(anpi_template_check("ok\n日本語 {{person.nmae}} {{round}}",
                                         anpi_template_vars, "t.txt", &errs), ANPI_EPARSE);
    assert_int_equal(errs.n, 1);
    assert_string_equal(errs.msg[0], "t.txt:2:5: unknown template variable {{person.nmae}}");
    anpi_errors_free(&errs);

    assert_int_equal(anpi_template_check("a\nb {{reply_url\n}}", anpi_template_vars, "t.txt",
                                         &errs), ANPI_EPARSE);
    assert_string_equal(errs.msg[0], "t.txt:2:3: unterminated {{ (expected {{name}})");
    anpi_errors_free(&errs);

    assert_int_equal(anpi_template_check("{{Bad-Name}}", anpi_template_vars, "t.txt", &errs),
                     ANPI_EPARSE);
    assert_string_equal(errs.msg[0], "t.txt:1:1: bad template variable {{Bad-Name}} (names use "
                                     "a-z, 0-9, _ and .)");
    anpi_errors_free(&errs);

    assert_int_equal(anpi_template_check_at("x\n{{zzz}}", anpi_template_vars, "f", 3, &errs),
                     ANPI_EPARSE);
    assert_string_equal(errs.msg[0], "f:4:1: unknown template variable {{zzz}}");
    anpi_errors_free(&errs);

    /* Every documented variable is allowed. */
    static const char *const doc[] = {
        "event.title", "event.headline", "event.hypocenter", "event.magnitude",
        "event.max_intensity", "event.occurred_at", "event.status", "affected_prefectures",
        "incident.id", "incident.title", "person.name", "reply_url", "approve_url",
        "reject_url", "incident_url", "drill_banner", "round", "reason",
        "event.description", "event.url", "event.tsunami", "event.tsunami_areas",
        "event.weather", "event.missile", "event.country", "event.risk_level", "event.hazard",
    };
    size_t n = 0;
    while (anpi_template_vars[n])
        n++;
    assert_int_equal(n, sizeof(doc) / sizeof(doc[0]));
    for (size_t i = 0; i < n; i++) {
        char t[64];
        snprintf(t, sizeof(t), "{{%s}}", doc[i]);
        assert_int_equal(anpi_template_check(t, anpi_template_vars, "t", &errs), 0);
    }
}

static void
test_pref_table(void **state)
{
    (void)state;
    int count = 0;
    for (int c = 1; c <= ANPI_PREF_COUNT; c++) {
        const char *name = anpi_pref_name(c);
        assert_non_null(name);
        assert_int_equal(anpi_pref_parse(name), c);
        count++;
        for (int o = 1; o < c; o++)
            assert_string_not_equal(anpi_pref_name(o), name);
    }
    assert_int_equal(count, 47);
    assert_null(anpi_pref_name(0));
    assert_null(anpi_pref_name(48));
    assert_string_equal(anpi_pref_name(13), "東京都");
    assert_string_equal(anpi_pref_name(1), "北海道");
    assert_string_equal(anpi_pref_name(47), "沖縄県");

    assert_int_equal(anpi_pref_parse("13"), 13);
    assert_int_equal(anpi_pref_parse("01"), 1);
    assert_int_equal(anpi_pref_parse("東京"), 13);
    assert_int_equal(anpi_pref_parse("tokyo"), 13);
    assert_int_equal(anpi_pref_parse("Kyoto"), 26);
    assert_int_equal(anpi_pref_parse("京都"), 26);
    assert_int_equal(anpi_pref_parse("0"), -1);
    assert_int_equal(anpi_pref_parse("48"), -1);
    assert_int_equal(anpi_pref_parse("013"), -1);
    assert_int_equal(anpi_pref_parse("13x"), -1);
    assert_int_equal(anpi_pref_parse("atlantis"), -1);
    assert_int_equal(anpi_pref_parse(""), -1);

    double lat, lon;
    assert_int_equal(anpi_pref_centroid(13, &lat, &lon), 0);
    assert_true(lat > 35 && lat < 36 && lon > 139 && lon < 140);
    assert_int_equal(anpi_pref_centroid(99, &lat, &lon), ANPI_ENOTFOUND);
    /* Tokyo - Osaka is about 400 km. */
    double d = anpi_distance_km(35.690, 139.692, 34.686, 135.520);
    assert_true(d > 390 && d < 410);
}

static void
test_adjacency(void **state)
{
    (void)state;
    for (int a = 1; a <= ANPI_PREF_COUNT; a++) {
        anpi_prefset na = anpi_pref_neighbours(a);
        assert_false(na & ANPI_PREFSET_BIT(a));               /* not its own neighbour */
        assert_false(na & ANPI_PREFSET_BIT(0));
        assert_true((na >> (ANPI_PREF_COUNT + 1)) == 0);
        for (int b = 1; b <= ANPI_PREF_COUNT; b++) {
            bool ab = (na & ANPI_PREFSET_BIT(b)) != 0;
            bool ba = (anpi_pref_neighbours(b) & ANPI_PREFSET_BIT(a)) != 0;
            assert_true(ab == ba);
        }
        if (a != 47)
            assert_true(na != 0);                              /* only Okinawa is alone */
    }
    assert_true(anpi_pref_neighbours(47) == 0);
    assert_true(anpi_pref_neighbours(13) == (ANPI_PREFSET_BIT(11) | ANPI_PREFSET_BIT(12) |
                                             ANPI_PREFSET_BIT(14) | ANPI_PREFSET_BIT(19)));
    assert_true(anpi_pref_neighbours(1) == ANPI_PREFSET_BIT(2));   /* Seikan tunnel */
    assert_true(anpi_pref_neighbours(0) == 0);
    assert_true(anpi_pref_neighbours(48) == 0);
}

static void
test_prefset_format(void **state)
{
    (void)state;
    char buf[64];
    anpi_prefset_format(ANPI_PREFSET_BIT(13) | ANPI_PREFSET_BIT(12), buf, sizeof(buf));
    assert_string_equal(buf, "千葉県, 東京都");
    anpi_prefset_format(0, buf, sizeof(buf));
    assert_string_equal(buf, "");
    /* Too small: whole names only, never half a character. */
    char small[16];
    anpi_prefset_format(ANPI_PREFSET_BIT(12) | ANPI_PREFSET_BIT(13), small, sizeof(small));
    assert_string_equal(small, "千葉県");
    char tiny[4];
    anpi_prefset_format(ANPI_PREFSET_BIT(12), tiny, sizeof(tiny));
    assert_string_equal(tiny, "");
}

static void
test_event_vars(void **state)
{
    (void)state;
    struct anpi_event *ev = anpi_event_new();
    ev->type = ANPI_EV_TSUNAMI;
    ev->description = anpi_xstrdup("津波警報を発表しました。");
    ev->ntsunami = 3;
    ev->tsunami = anpi_xcalloc(3, sizeof(*ev->tsunami));
    ev->tsunami[0].name = anpi_xstrdup("岩手県");
    ev->tsunami[0].grade = ANPI_TS_WARNING;
    ev->tsunami[1].name = anpi_xstrdup("宮城県");
    ev->tsunami[1].grade = ANPI_TS_ADVISORY;
    ev->tsunami[2].name = anpi_xstrdup("青森県太平洋沿岸");
    ev->tsunami[2].grade = ANPI_TS_FORECAST;   /* below advisory: not listed */
    char *v;
    assert_string_equal((v = anpi_template_event_var(ev, "event.tsunami")), "津波警報");
    free(v);
    assert_string_equal((v = anpi_template_event_var(ev, "event.tsunami_areas")), "岩手県, 宮城県");
    free(v);
    assert_string_equal((v = anpi_template_event_var(ev, "event.description")), "津波警報を発表しました。");
    free(v);
    assert_string_equal((v = anpi_template_event_var(ev, "event.url")), "");   /* NULL field */
    free(v);
    assert_string_equal((v = anpi_template_event_var(ev, "event.weather")), "");
    free(v);
    assert_string_equal((v = anpi_template_event_var(ev, "event.risk_level")), "");
    free(v);
    /* the engine's own variables are not computed here */
    assert_null(anpi_template_event_var(ev, "event.country"));
    assert_null(anpi_template_event_var(ev, "person.name"));

    ev->weather = anpi_xcalloc(3, sizeof(*ev->weather));
    ev->nweather = 3;
    ev->weather[0].kind_name = anpi_xstrdup("大雨警報");
    ev->weather[0].level = ANPI_WX_WARNING;
    ev->weather[1].kind_name = anpi_xstrdup("洪水");          /* no level suffix */
    ev->weather[1].level = ANPI_WX_WARNING;
    ev->weather[2].kind_name = anpi_xstrdup("大雨警報");      /* another area, same kind */
    ev->weather[2].level = ANPI_WX_WARNING;
    ev->max_weather = ANPI_WX_WARNING;
    assert_string_equal((v = anpi_template_event_var(ev, "event.weather")), "大雨警報, 洪水警報");
    free(v);
    ev->missile_phase = ANPI_MS_LAUNCH;
    assert_string_equal((v = anpi_template_event_var(ev, "event.missile")), "ミサイル発射");
    free(v);
    ev->risk_level = 3;
    assert_string_equal((v = anpi_template_event_var(ev, "event.risk_level")), "3");
    free(v);
    ev->hazard = anpi_xstrdup("弾道ミサイル");
    assert_string_equal((v = anpi_template_event_var(ev, "event.hazard")), "弾道ミサイル");
    free(v);
    anpi_event_free(ev);

    /* Every new name is in the allowed list, so packs may use it. */
    static const char *const added[] = { "event.description", "event.url", "event.tsunami",
                                         "event.tsunami_areas", "event.weather", "event.missile",
                                         "event.country", "event.risk_level", "event.hazard" };
    for (size_t i = 0; i < sizeof(added) / sizeof(added[0]); i++) {
        char t[96];
        snprintf(t, sizeof(t), "{{%s}}", added[i]);
        struct anpi_errors errs = { 0 };
        assert_int_equal(anpi_template_check(t, anpi_template_vars, "t", &errs), 0);
        assert_int_equal(errs.n, 0);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_render),
        cmocka_unit_test(test_render_html),
        cmocka_unit_test(test_render_unknown),
        cmocka_unit_test(test_check),
        cmocka_unit_test(test_pref_table),
        cmocka_unit_test(test_adjacency),
        cmocka_unit_test(test_prefset_format),
        cmocka_unit_test(test_event_vars),
    };
    return cmocka_run_group_tests_name("rules_text", tests, NULL, NULL);
}
