/* test_rules_match.c - rule matching and aftershock grouping, on events and
 * rules built by hand (no JMA parser, no loader). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rules/rules.h"

#define B(p) ANPI_PREFSET_BIT(p)
#define CHIBA 12
#define TOKYO 13
#define KANAGAWA 14
#define IBARAKI 8
#define FUKUSHIMA 7
#define OSAKA 27
#define OKINAWA 47
#define T0 1700000000   /* main shock origin time */

static struct anpi_rule
quake_rule(enum anpi_intensity threshold)
{
    struct anpi_rule r;
    memset(&r, 0, sizeof(r));
    r.id = (char *)"test-rule";
    r.event = ANPI_EV_EARTHQUAKE;
    r.statuses = 1u << ANPI_ST_ACTUAL;
    r.intensity_at_least = threshold;
    r.opens_incident = true;
    r.aftershock_window_s = 6 * 3600;
    r.aftershock_area = ANPI_AREA_SAME;
    r.notify_group = (char *)"duty-officers";
    r.resend_if_stronger = true;
    return r;
}

static struct anpi_event *
quake(const char *key, int64_t t)
{
    struct anpi_event *ev = anpi_event_new();
    ev->type = ANPI_EV_EARTHQUAKE;
    ev->status = ANPI_ST_ACTUAL;
    ev->event_key = anpi_xstrdup(key);
    ev->occurred_at = t;
    return ev;
}

static void
shake(struct anpi_event *ev, int pref, enum anpi_intensity i)
{
    ev->pref_intensity[pref] = i;
    if (anpi_intensity_rank(i) > anpi_intensity_rank(ev->max_intensity))
        ev->max_intensity = i;
}

/* ---- matching ----------------------------------------------------------- */

static void
test_threshold_order(void **state)
{
    (void)state;
    struct anpi_rule r5l = quake_rule(ANPI_INT_5L), r5u = quake_rule(ANPI_INT_5U);
    anpi_prefset aff;
    char why[256];

    struct anpi_event *ev = quake("E1", T0);
    shake(ev, CHIBA, ANPI_INT_4);
    assert_false(anpi_rule_match(&r5l, ev, 0, &aff, why, sizeof(why)));
    assert_string_equal(why, "max intensity 4 < 5-");

    shake(ev, CHIBA, ANPI_INT_5L);
    assert_true(anpi_rule_match(&r5l, ev, 0, &aff, why, sizeof(why)));
    assert_true(aff == B(CHIBA));
    assert_string_equal(why, "intensity 5- in 千葉県 >= 5-");
    assert_false(anpi_rule_match(&r5u, ev, 0, &aff, why, sizeof(why)));
    assert_true(aff == 0);

    shake(ev, CHIBA, ANPI_INT_5U);
    assert_true(anpi_rule_match(&r5u, ev, 0, &aff, why, sizeof(why)));
    shake(ev, TOKYO, ANPI_INT_6L);
    assert_true(anpi_rule_match(&r5u, ev, 0, &aff, why, sizeof(why)));
    assert_true(aff == (B(CHIBA) | B(TOKYO)));
    assert_string_equal(why, "intensity 6- in 東京都 >= 5+");
    anpi_event_free(ev);

    /* "!5-" (5- or more, not yet received) counts as 5-, not as 5+. */
    ev = quake("E2", T0);
    ev->pref_intensity[IBARAKI] = ANPI_INT_5L_UNREPORTED;
    assert_true(anpi_rule_match(&r5l, ev, 0, &aff, why, sizeof(why)));
    assert_true(aff == B(IBARAKI));
    assert_false(anpi_rule_match(&r5u, ev, 0, &aff, why, sizeof(why)));
    anpi_event_free(ev);

    /* ... also when only a city carries the marker. */
    ev = quake("E3", T0);
    ev->pref_intensity[IBARAKI] = ANPI_INT_4;
    ev->ncities = 1;
    ev->cities = anpi_xcalloc(1, sizeof(*ev->cities));
    ev->cities[0].pref = IBARAKI;
    ev->cities[0].intensity = ANPI_INT_5L_UNREPORTED;
    assert_true(anpi_rule_match(&r5l, ev, 0, &aff, why, sizeof(why)));
    assert_true(aff == B(IBARAKI));
    assert_string_equal(why, "intensity !5- in 茨城県 >= 5-");
    anpi_event_free(ev);
}

static void
test_status_and_type(void **state)
{
    (void)state;
    struct anpi_rule r = quake_rule(ANPI_INT_5L);
    anpi_prefset aff;
    char why[256];
    struct anpi_event *ev = quake("E1", T0);
    shake(ev, CHIBA, ANPI_INT_6L);

    ev->status = ANPI_ST_EXERCISE;
    assert_false(anpi_rule_match(&r, ev, 0, &aff, why, sizeof(why)));
    assert_string_equal(why, "status exercise not enabled for this rule");
    r.statuses |= 1u << ANPI_ST_EXERCISE;
    assert_true(anpi_rule_match(&r, ev, 0, &aff, why, sizeof(why)));
    ev->status = ANPI_ST_TEST;
    assert_false(anpi_rule_match(&r, ev, 0, &aff, why, sizeof(why)));
    assert_string_equal(why, "status test not enabled for this rule");

    ev->status = ANPI_ST_ACTUAL;
    ev->type = ANPI_EV_TSUNAMI;
    assert_false(anpi_rule_match(&r, ev, 0, &aff, why, sizeof(why)));
    assert_string_equal(why, "event type tsunami, rule wants earthquake");
    anpi_event_free(ev);
}

static void
test_where(void **state)
{
    (void)state;
    struct anpi_rule r = quake_rule(ANPI_INT_5L);
    anpi_prefset aff;
    char why[256];
    struct anpi_event *ev = quake("E1", T0);
    shake(ev, CHIBA, ANPI_INT_6L);
    shake(ev, TOKYO, ANPI_INT_5L);
    shake(ev, KANAGAWA, ANPI_INT_4);

    /* where: list */
    r.where_prefs = B(TOKYO) | B(KANAGAWA);
    assert_true(anpi_rule_match(&r, ev, 0, &aff, why, sizeof(why)));
    assert_true(aff == B(TOKYO));   /* Kanagawa is below the threshold */
    r.where_prefs = B(KANAGAWA) | B(OSAKA);
    assert_false(anpi_rule_match(&r, ev, 0, &aff, why, sizeof(why)));
    assert_string_equal(why, "intensity 6- in 千葉県, outside this rule's where list");
    r.where_prefs = 0;

    /* where: staff_regions */
    r.where_staff_regions = true;
    assert_true(anpi_rule_match(&r, ev, B(CHIBA) | B(OSAKA), &aff, why, sizeof(why)));
    assert_true(aff == B(CHIBA));
    assert_false(anpi_rule_match(&r, ev, B(OSAKA), &aff, why, sizeof(why)));
    assert_string_equal(why, "intensity 6- in 千葉県, but no staff live in any prefecture at or over 5-");
    assert_false(anpi_rule_match(&r, ev, 0, &aff, why, sizeof(why)));
    anpi_event_free(ev);

    /* A report with only a max intensity (no prefecture detail) matches a
     * rule without where, and not one with where. */
    ev = quake("E2", T0);
    ev->max_intensity = ANPI_INT_5U;
    r.where_staff_regions = false;
    assert_true(anpi_rule_match(&r, ev, 0, &aff, why, sizeof(why)));
    assert_true(aff == 0);
    assert_string_equal(why, "max intensity 5+ >= 5- (no prefecture detail in the report)");
    r.where_staff_regions = true;
    assert_false(anpi_rule_match(&r, ev, B(CHIBA), &aff, why, sizeof(why)));
    anpi_event_free(ev);
}

/* ---- grouping ----------------------------------------------------------- */

static struct anpi_incident_state
incident(int64_t id, const char *const *keys, size_t nkeys, int64_t main_t,
         enum anpi_intensity main_max, anpi_prefset covered)
{
    struct anpi_incident_state s = {
        .id = id, .event_keys = keys, .nevent_keys = nkeys,
        .main_occurred_at = main_t, .window_end = main_t + 6 * 3600,
        .main_max = main_max, .main_lat = NAN, .main_lon = NAN, .covered = covered,
    };
    return s;
}

static void
test_group_new(void **state)
{
    (void)state;
    struct anpi_rule r = quake_rule(ANPI_INT_5L);
    struct anpi_group_decision d;
    struct anpi_event *ev = quake("E1", T0);
    shake(ev, CHIBA, ANPI_INT_5L);
    anpi_group_decide(&r, ev, B(CHIBA), NULL, 0, T0, &d);
    assert_int_equal(d.action, ANPI_GROUP_NEW);
    assert_false(d.same_event);
    assert_string_equal(d.reason, "new incident: no open incident of rule test-rule");

    /* An unrelated incident far away. */
    static const char *const k[] = { "OTHER" };
    struct anpi_incident_state o = incident(3, k, 1, T0 - 60, ANPI_INT_5L, B(OKINAWA));
    anpi_group_decide(&r, ev, B(CHIBA), &o, 1, T0, &d);
    assert_int_equal(d.action, ANPI_GROUP_NEW);
    anpi_event_free(ev);
}

static void
test_group_same_event(void **state)
{
    (void)state;
    struct anpi_rule r = quake_rule(ANPI_INT_5L);
    struct anpi_group_decision d;
    static const char *const k[] = { "20240101161010" };
    struct anpi_incident_state inc = incident(12, k, 1, T0, ANPI_INT_5U, B(CHIBA));

    /* Same key, nothing new -> silent. */
    struct anpi_event *ev = quake("20240101161010", T0);
    shake(ev, CHIBA, ANPI_INT_5U);
    anpi_group_decide(&r, ev, B(CHIBA), &inc, 1, T0 + 120, &d);
    assert_int_equal(d.action, ANPI_GROUP_SILENT);
    assert_true(d.same_event);
    assert_int_equal(d.incident_id, 12);
    assert_string_equal(d.reason, "joined incident 12: same event (key 20240101161010); no new "
                                  "prefecture, nobody re-mailed");

    /* The same quake revised upward with a new prefecture: added, not
     * "stronger" (its people were already asked). */
    shake(ev, CHIBA, ANPI_INT_6U);
    shake(ev, TOKYO, ANPI_INT_5L);
    anpi_group_decide(&r, ev, B(CHIBA) | B(TOKYO), &inc, 1, T0 + 300, &d);
    assert_int_equal(d.action, ANPI_GROUP_ADD_PREFS);
    assert_true(d.same_event);
    assert_true(d.add_prefs == B(TOKYO));
    assert_string_equal(d.reason, "joined incident 12: same event (key 20240101161010); adds 東京都");

    /* Revised upward, no new prefecture -> silent, even far outside the
     * window (the event key decides). */
    ev->occurred_at = T0 + 10 * 3600;
    anpi_group_decide(&r, ev, B(CHIBA), &inc, 1, T0, &d);
    assert_int_equal(d.action, ANPI_GROUP_SILENT);
    assert_true(d.same_event);
    anpi_event_free(ev);
}

static void
test_group_multikey(void **state)
{
    (void)state;
    struct anpi_rule r = quake_rule(ANPI_INT_5L);
    struct anpi_group_decision d;
    static const char *const k1[] = { "AAA", "BBB" };
    static const char *const k2[] = { "XXX  CCC" };    /* multi-key stored as joined */
    struct anpi_incident_state incs[2] = {
        incident(1, k1, 2, T0 - 7 * 3600, ANPI_INT_5L, B(OKINAWA)),
        incident(2, k2, 1, T0 - 8 * 3600, ANPI_INT_5L, B(OSAKA)),
    };
    struct anpi_event *ev = quake("ZZZ BBB", T0);
    shake(ev, CHIBA, ANPI_INT_5L);
    anpi_group_decide(&r, ev, B(CHIBA), incs, 2, T0, &d);
    assert_int_equal(d.action, ANPI_GROUP_ADD_PREFS);
    assert_true(d.same_event);
    assert_int_equal(d.incident_id, 1);

    free(ev->event_key);
    ev->event_key = anpi_xstrdup("CCC");
    anpi_group_decide(&r, ev, B(CHIBA), incs, 2, T0, &d);
    assert_true(d.same_event);
    assert_int_equal(d.incident_id, 2);

    /* A key that is only a prefix of a stored key does not join. */
    free(ev->event_key);
    ev->event_key = anpi_xstrdup("CC");
    anpi_group_decide(&r, ev, B(CHIBA), incs, 2, T0, &d);
    assert_int_equal(d.action, ANPI_GROUP_NEW);
    anpi_event_free(ev);
}

static void
test_group_window_edges(void **state)
{
    (void)state;
    struct anpi_rule r = quake_rule(ANPI_INT_5L);
    struct anpi_group_decision d;
    static const char *const k[] = { "MAIN" };
    struct anpi_incident_state inc = incident(7, k, 1, T0, ANPI_INT_6L, B(CHIBA));
    struct anpi_event *ev = quake("AFTER", T0);
    shake(ev, CHIBA, ANPI_INT_5L);

    /* the window reaches back one window length before the main shock
     * (late foreshock reports, replays shifted per document) */
    int64_t w = r.aftershock_window_s;
    int64_t times[] = { T0 - w - 1, T0 - w, T0 - 1, T0, T0 + 2400, inc.window_end, inc.window_end + 1 };
    enum anpi_group_action want[] = { ANPI_GROUP_NEW, ANPI_GROUP_SILENT, ANPI_GROUP_SILENT,
                                      ANPI_GROUP_SILENT, ANPI_GROUP_SILENT, ANPI_GROUP_SILENT,
                                      ANPI_GROUP_NEW };
    for (size_t i = 0; i < 7; i++) {
        ev->occurred_at = times[i];
        anpi_group_decide(&r, ev, B(CHIBA), &inc, 1, T0, &d);
        assert_int_equal(d.action, want[i]);
        assert_false(d.same_event);
    }
    ev->occurred_at = T0 + 2400;
    anpi_group_decide(&r, ev, B(CHIBA), &inc, 1, T0, &d);
    assert_string_equal(d.reason, "joined incident 7: same area (千葉県), 0h40m after the main "
                                  "shock; aftershock 5-, nobody re-mailed, duty-officers told");

    /* An officer extended the window. */
    inc.window_end += 3600;
    ev->occurred_at = T0 + 6 * 3600 + 1800;
    anpi_group_decide(&r, ev, B(CHIBA), &inc, 1, T0, &d);
    assert_int_equal(d.action, ANPI_GROUP_SILENT);

    /* Unknown origin time: the issue time stands in. */
    ev->occurred_at = 0;
    ev->issued_at = T0 + 60;
    anpi_group_decide(&r, ev, B(CHIBA), &inc, 1, T0 + 999999, &d);
    assert_int_equal(d.action, ANPI_GROUP_SILENT);
    anpi_event_free(ev);
}

static void
test_group_area(void **state)
{
    (void)state;
    struct anpi_rule r = quake_rule(ANPI_INT_5L);
    struct anpi_group_decision d;
    static const char *const k[] = { "MAIN" };
    struct anpi_incident_state inc = incident(5, k, 1, T0, ANPI_INT_6L, B(CHIBA));
    struct anpi_event *ev = quake("AFTER", T0 + 3600);
    shake(ev, IBARAKI, ANPI_INT_5L);     /* borders Chiba */

    r.aftershock_area = ANPI_AREA_SAME;
    anpi_group_decide(&r, ev, B(IBARAKI), &inc, 1, T0, &d);
    assert_int_equal(d.action, ANPI_GROUP_NEW);

    r.aftershock_area = ANPI_AREA_ADJACENT;
    anpi_group_decide(&r, ev, B(IBARAKI), &inc, 1, T0, &d);
    assert_int_equal(d.action, ANPI_GROUP_ADD_PREFS);
    assert_true(d.add_prefs == B(IBARAKI));
    assert_int_equal(d.incident_id, 5);
    assert_string_equal(d.reason, "joined incident 5: adjacent area (茨城県), 1h00m after the "
                                  "main shock; adds 茨城県");

    /* Fukushima does not border Chiba. */
    anpi_event_free(ev);
    ev = quake("AFTER2", T0 + 3600);
    shake(ev, FUKUSHIMA, ANPI_INT_5L);
    anpi_group_decide(&r, ev, B(FUKUSHIMA), &inc, 1, T0, &d);
    assert_int_equal(d.action, ANPI_GROUP_NEW);

    /* Radius: main shock in Chiba, aftershock 30 km away but in a
     * prefecture that neither overlaps nor borders. */
    r.aftershock_area = ANPI_AREA_RADIUS;
    r.aftershock_radius_km = 50;
    inc.main_lat = 35.6;
    inc.main_lon = 140.1;
    ev->lat = 35.6;
    ev->lon = 140.43;        /* ~30 km east */
    anpi_group_decide(&r, ev, B(FUKUSHIMA), &inc, 1, T0, &d);
    assert_int_equal(d.action, ANPI_GROUP_ADD_PREFS);
    assert_non_null(strstr(d.reason, "epicentre 30 km from the main shock (radius 50 km)"));
    ev->lon = 141.0;          /* ~80 km */
    anpi_group_decide(&r, ev, B(FUKUSHIMA), &inc, 1, T0, &d);
    assert_int_equal(d.action, ANPI_GROUP_NEW);

    /* Unknown epicentre: falls back to adjacency. */
    ev->lat = NAN;
    anpi_group_decide(&r, ev, B(FUKUSHIMA), &inc, 1, T0, &d);
    assert_int_equal(d.action, ANPI_GROUP_NEW);
    anpi_group_decide(&r, ev, B(IBARAKI), &inc, 1, T0, &d);
    assert_int_equal(d.action, ANPI_GROUP_ADD_PREFS);
    ev->lat = 35.6;
    inc.main_lon = NAN;
    anpi_group_decide(&r, ev, B(IBARAKI), &inc, 1, T0, &d);
    assert_int_equal(d.action, ANPI_GROUP_ADD_PREFS);
    anpi_event_free(ev);
}

static void
test_group_stronger(void **state)
{
    (void)state;
    struct anpi_rule r = quake_rule(ANPI_INT_5L);
    struct anpi_group_decision d;
    static const char *const k[] = { "MAIN" };
    struct anpi_incident_state inc = incident(9, k, 1, T0, ANPI_INT_5U, B(CHIBA));
    struct anpi_event *ev = quake("BIG", T0 + 7200);
    shake(ev, CHIBA, ANPI_INT_6L);
    shake(ev, TOKYO, ANPI_INT_5L);

    anpi_group_decide(&r, ev, B(CHIBA) | B(TOKYO), &inc, 1, T0, &d);
    assert_int_equal(d.action, ANPI_GROUP_STRONGER);
    assert_true(d.add_prefs == (B(CHIBA) | B(TOKYO)));
    assert_false(d.same_event);
    assert_string_equal(d.reason, "joined incident 9: same area (千葉県), 2h00m after the main "
                                  "shock; stronger than the main shock (6- > 5+): new round to "
                                  "千葉県, 東京都");

    /* Equal strength is not stronger. */
    shake(ev, CHIBA, ANPI_INT_5U);
    ev->max_intensity = ANPI_INT_5U;
    anpi_group_decide(&r, ev, B(CHIBA) | B(TOKYO), &inc, 1, T0, &d);
    assert_int_equal(d.action, ANPI_GROUP_ADD_PREFS);
    assert_true(d.add_prefs == B(TOKYO));

    /* resend_if_stronger: false -> only new prefectures. */
    shake(ev, CHIBA, ANPI_INT_7);
    r.resend_if_stronger = false;
    anpi_group_decide(&r, ev, B(CHIBA) | B(TOKYO), &inc, 1, T0, &d);
    assert_int_equal(d.action, ANPI_GROUP_ADD_PREFS);
    assert_true(d.add_prefs == B(TOKYO));
    anpi_group_decide(&r, ev, B(CHIBA), &inc, 1, T0, &d);
    assert_int_equal(d.action, ANPI_GROUP_SILENT);
    anpi_event_free(ev);
}

static void
test_group_most_recent(void **state)
{
    (void)state;
    struct anpi_rule r = quake_rule(ANPI_INT_5L);
    struct anpi_group_decision d;
    static const char *const k1[] = { "OLD" }, *const k2[] = { "NEWER" }, *const k3[] = { "KEYED" };
    struct anpi_incident_state incs[3] = {
        incident(1, k1, 1, T0 - 3600, ANPI_INT_6L, B(CHIBA)),
        incident(2, k2, 1, T0 - 600, ANPI_INT_6L, B(CHIBA)),
        incident(3, k3, 1, T0 - 5000, ANPI_INT_6L, B(OSAKA)),
    };
    struct anpi_event *ev = quake("AFTER", T0);
    shake(ev, CHIBA, ANPI_INT_5L);
    anpi_group_decide(&r, ev, B(CHIBA), incs, 3, T0, &d);
    assert_int_equal(d.action, ANPI_GROUP_SILENT);
    assert_int_equal(d.incident_id, 2);

    /* Order of the array does not matter. */
    struct anpi_incident_state rev[2] = { incs[1], incs[0] };
    anpi_group_decide(&r, ev, B(CHIBA), rev, 2, T0, &d);
    assert_int_equal(d.incident_id, 2);

    /* A shared event key wins over a more recent window/area match. */
    free(ev->event_key);
    ev->event_key = anpi_xstrdup("KEYED");
    anpi_group_decide(&r, ev, B(CHIBA), incs, 3, T0, &d);
    assert_int_equal(d.incident_id, 3);
    assert_true(d.same_event);
    assert_int_equal(d.action, ANPI_GROUP_ADD_PREFS);
    assert_true(d.add_prefs == B(CHIBA));
    anpi_event_free(ev);
    assert_string_equal(anpi_group_action_name(ANPI_GROUP_STRONGER), "stronger");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_threshold_order),
        cmocka_unit_test(test_status_and_type),
        cmocka_unit_test(test_where),
        cmocka_unit_test(test_group_new),
        cmocka_unit_test(test_group_same_event),
        cmocka_unit_test(test_group_multikey),
        cmocka_unit_test(test_group_window_edges),
        cmocka_unit_test(test_group_area),
        cmocka_unit_test(test_group_stronger),
        cmocka_unit_test(test_group_most_recent),
    };
    return cmocka_run_group_tests_name("rules_match", tests, NULL, NULL);
}
