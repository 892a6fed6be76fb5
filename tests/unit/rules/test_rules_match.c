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

/* ---- every alert source ---------------------------------------------------- */

static struct anpi_rule
info_rule(enum anpi_event_type t)
{
    struct anpi_rule r;
    memset(&r, 0, sizeof(r));
    r.id = (char *)"info";
    r.event = t;
    r.event_types = 1u << t;
    r.statuses = 1u << ANPI_ST_ACTUAL;
    return r;
}

static struct anpi_event *
event_of(enum anpi_event_type t, const char *key)
{
    struct anpi_event *ev = anpi_event_new();
    ev->type = t;
    ev->event_key = anpi_xstrdup(key);
    ev->occurred_at = T0;
    return ev;
}

static void
test_match_event_list_and_eew(void **state)
{
    (void)state;
    anpi_prefset aff;
    char why[256];
    struct anpi_rule r = info_rule(ANPI_EV_EARTHQUAKE);
    r.event_types |= 1u << ANPI_EV_EEW;
    r.intensity_at_least = ANPI_INT_5L;

    struct anpi_event *ev = event_of(ANPI_EV_EEW, "E1");
    shake(ev, TOKYO, ANPI_INT_5U);          /* forecast intensity */
    assert_true(anpi_rule_match(&r, ev, 0, &aff, why, sizeof(why)));
    assert_true(aff == B(TOKYO));
    assert_string_equal(why, "intensity 5+ in 東京都 >= 5-");
    r.eew_warning_only = true;
    assert_false(anpi_rule_match(&r, ev, 0, &aff, why, sizeof(why)));
    assert_string_equal(why, "EEW forecast (予報), rule wants warnings (警報) only");
    ev->eew_warning = true;
    assert_true(anpi_rule_match(&r, ev, 0, &aff, why, sizeof(why)));
    shake(ev, TOKYO, ANPI_INT_4);
    ev->max_intensity = ANPI_INT_4;
    assert_false(anpi_rule_match(&r, ev, 0, &aff, why, sizeof(why)));
    assert_string_equal(why, "max intensity 4 < 5-");
    ev->type = ANPI_EV_TSUNAMI;
    assert_false(anpi_rule_match(&r, ev, 0, &aff, why, sizeof(why)));
    assert_string_equal(why, "event type tsunami, rule wants earthquake, eew");
    anpi_event_free(ev);
}

static void
test_match_tsunami(void **state)
{
    (void)state;
    anpi_prefset aff;
    char why[256];
    struct anpi_rule r = info_rule(ANPI_EV_TSUNAMI);
    r.tsunami_at_least = ANPI_TS_ADVISORY;
    struct anpi_event *ev = event_of(ANPI_EV_TSUNAMI, "T1");
    ev->pref_tsunami[CHIBA] = ANPI_TS_FORECAST;
    ev->max_tsunami = ANPI_TS_FORECAST;
    assert_false(anpi_rule_match(&r, ev, 0, &aff, why, sizeof(why)));
    assert_string_equal(why, "max tsunami grade forecast < advisory");

    /* Only the forecast areas carry the grade: they count too. */
    ev->ntsunami = 1;
    ev->tsunami = anpi_xcalloc(1, sizeof(*ev->tsunami));
    ev->tsunami[0].name = anpi_xstrdup("千葉県九十九里・外房");
    ev->tsunami[0].prefs = B(CHIBA);
    ev->tsunami[0].grade = ANPI_TS_WARNING;
    ev->pref_tsunami[FUKUSHIMA] = ANPI_TS_ADVISORY;
    assert_true(anpi_rule_match(&r, ev, 0, &aff, why, sizeof(why)));
    assert_true(aff == (B(CHIBA) | B(FUKUSHIMA)));
    assert_string_equal(why, "tsunami warning in 千葉県 >= advisory");

    r.tsunami_at_least = ANPI_TS_MAJOR;
    assert_false(anpi_rule_match(&r, ev, 0, &aff, why, sizeof(why)));
    assert_string_equal(why, "max tsunami grade warning < major");

    /* where: staff_regions */
    r.tsunami_at_least = ANPI_TS_ADVISORY;
    r.where_staff_regions = true;
    assert_true(anpi_rule_match(&r, ev, B(FUKUSHIMA) | B(OSAKA), &aff, why, sizeof(why)));
    assert_true(aff == B(FUKUSHIMA));
    assert_false(anpi_rule_match(&r, ev, B(OSAKA), &aff, why, sizeof(why)));
    assert_string_equal(why, "tsunami warning in 千葉県, but no staff live in any prefecture at "
                             "or over advisory");
    assert_true(aff == 0);

    /* No prefecture detail, no where: the maximum decides. */
    struct anpi_rule r2 = info_rule(ANPI_EV_TSUNAMI);
    r2.tsunami_at_least = ANPI_TS_WARNING;
    struct anpi_event *bare = event_of(ANPI_EV_TSUNAMI, "T2");
    bare->max_tsunami = ANPI_TS_MAJOR;
    assert_true(anpi_rule_match(&r2, bare, 0, &aff, why, sizeof(why)));
    assert_string_equal(why, "max tsunami grade major >= warning (no prefecture detail in the report)");
    bare->max_tsunami = ANPI_TS_NONE;   /* 解除: nothing left */
    assert_false(anpi_rule_match(&r2, bare, 0, &aff, why, sizeof(why)));
    assert_string_equal(why, "no tsunami grade reported, rule wants warning");
    anpi_event_free(bare);
    anpi_event_free(ev);
}

static void
add_weather(struct anpi_event *ev, int pref, const char *kind, enum anpi_weather_level lv)
{
    ev->weather = anpi_xrealloc(ev->weather, (ev->nweather + 1) * sizeof(*ev->weather));
    struct anpi_weather_item *w = &ev->weather[ev->nweather++];
    memset(w, 0, sizeof(*w));
    w->pref = pref;
    w->kind_name = anpi_xstrdup(kind);
    w->level = lv;
    if (pref && lv > ev->pref_weather[pref])
        ev->pref_weather[pref] = lv;
    if (lv > ev->max_weather)
        ev->max_weather = lv;
}

static void
test_match_weather(void **state)
{
    (void)state;
    anpi_prefset aff;
    char why[256];
    struct anpi_rule r = info_rule(ANPI_EV_WEATHER);
    r.weather_at_least = ANPI_WX_WARNING;
    struct anpi_event *ev = event_of(ANPI_EV_WEATHER, "W1");
    add_weather(ev, TOKYO, "大雨注意報", ANPI_WX_ADVISORY);
    assert_false(anpi_rule_match(&r, ev, 0, &aff, why, sizeof(why)));
    assert_string_equal(why, "max weather grade advisory < warning");
    add_weather(ev, CHIBA, "暴風警報", ANPI_WX_WARNING);
    add_weather(ev, KANAGAWA, "大雨特別警報", ANPI_WX_EMERGENCY);
    assert_true(anpi_rule_match(&r, ev, 0, &aff, why, sizeof(why)));
    assert_true(aff == (B(CHIBA) | B(KANAGAWA)));
    assert_string_equal(why, "weather emergency in 神奈川県 >= warning");

    /* Kinds: substring of kind_name; the level still applies per item. */
    char *kinds[] = { (char *)"大雨" };
    r.weather_kinds = kinds;
    r.nweather_kinds = 1;
    assert_true(anpi_rule_match(&r, ev, 0, &aff, why, sizeof(why)));
    assert_true(aff == B(KANAGAWA));
    assert_string_equal(why, "weather (大雨) emergency in 神奈川県 >= warning");
    kinds[0] = (char *)"大雪";
    assert_false(anpi_rule_match(&r, ev, 0, &aff, why, sizeof(why)));
    assert_string_equal(why, "no weather (大雪) grade reported, rule wants warning");

    /* Typhoon: only reports with a typhoon. */
    struct anpi_rule ty = info_rule(ANPI_EV_WEATHER);
    ty.typhoon_only = true;
    assert_false(anpi_rule_match(&ty, ev, 0, &aff, why, sizeof(why)));
    assert_string_equal(why, "no typhoon in this weather report (rule has typhoon: true)");
    struct anpi_event *tev = event_of(ANPI_EV_WEATHER, "TY10");
    tev->typhoon_name = anpi_xstrdup("台風第10号");
    assert_true(anpi_rule_match(&ty, tev, 0, &aff, why, sizeof(why)));
    assert_string_equal(why, "typhoon 台風第10号");
    /* ... and the warning rule does not mail a typhoon report without warnings. */
    r.nweather_kinds = 0;
    r.weather_kinds = NULL;
    assert_false(anpi_rule_match(&r, tev, 0, &aff, why, sizeof(why)));
    anpi_event_free(tev);
    anpi_event_free(ev);
}

static void
test_match_missile(void **state)
{
    (void)state;
    anpi_prefset aff;
    char why[256];
    struct anpi_rule r = info_rule(ANPI_EV_MISSILE);
    struct anpi_event *ev = event_of(ANPI_EV_MISSILE, "M1");
    ev->missile_phase = ANPI_MS_LAUNCH;
    ev->target_prefs = B(OKINAWA);
    assert_true(anpi_rule_match(&r, ev, 0, &aff, why, sizeof(why)));
    assert_true(aff == B(OKINAWA));
    assert_string_equal(why, "missile launch, prefectures 沖縄県");

    /* Default phases leave out the all-clear, interception and impacts outside. */
    ev->missile_phase = ANPI_MS_ALL_CLEAR;
    assert_false(anpi_rule_match(&r, ev, 0, &aff, why, sizeof(why)));
    assert_string_equal(why, "missile phase all_clear is not among this rule's phases (default: "
                             "launch, imminent, impact, overflight, other)");
    ev->missile_phase = ANPI_MS_IMPACT_OUTSIDE;
    assert_false(anpi_rule_match(&r, ev, 0, &aff, why, sizeof(why)));
    r.missile_phases = (1u << ANPI_MS_ALL_CLEAR) | (1u << ANPI_MS_IMPACT_OUTSIDE);
    assert_true(anpi_rule_match(&r, ev, 0, &aff, why, sizeof(why)));
    ev->missile_phase = ANPI_MS_LAUNCH;
    assert_false(anpi_rule_match(&r, ev, 0, &aff, why, sizeof(why)));
    assert_string_equal(why, "missile phase launch is not among this rule's phases");

    /* where intersects the target prefectures. */
    r.missile_phases = 0;
    r.where_staff_regions = true;
    ev->target_prefs = B(OKINAWA) | B(TOKYO);
    assert_true(anpi_rule_match(&r, ev, B(TOKYO) | B(OSAKA), &aff, why, sizeof(why)));
    assert_true(aff == B(TOKYO));
    assert_false(anpi_rule_match(&r, ev, B(OSAKA), &aff, why, sizeof(why)));
    assert_string_equal(why, "missile launch in 東京都, 沖縄県, but no staff live there");
    ev->target_prefs = 0;
    assert_false(anpi_rule_match(&r, ev, B(OSAKA), &aff, why, sizeof(why)));
    assert_string_equal(why, "no prefecture of this rule's where list is named in the report");
    r.where_staff_regions = false;
    assert_true(anpi_rule_match(&r, ev, 0, &aff, why, sizeof(why)));
    assert_true(aff == 0);
    assert_string_equal(why, "missile launch (no prefecture named)");
    anpi_event_free(ev);
}

static void
test_match_overseas(void **state)
{
    (void)state;
    anpi_prefset aff = 123;
    char why[256];
    struct anpi_rule r = info_rule(ANPI_EV_OVERSEAS);
    r.risk_level_at_least = 2;
    char *kinds[] = { (char *)"T40", (char *)"EQ" };
    r.risk_kinds = kinds;
    r.nrisk_kinds = 2;
    char countries[][3] = { "TH", "US" };
    r.countries = countries;
    r.ncountries = 2;

    struct anpi_event *ev = event_of(ANPI_EV_OVERSEAS, "MOFA1");
    memcpy(ev->country, "LA", 3);
    ev->ncountries = 2;
    ev->countries = anpi_xcalloc(2, sizeof(*ev->countries));
    memcpy(ev->countries[0], "LA", 3);
    memcpy(ev->countries[1], "TH", 3);
    ev->risk_level = 1;
    ev->risk_kind = anpi_xstrdup("T40");
    assert_false(anpi_rule_match(&r, ev, 0, &aff, why, sizeof(why)));
    assert_string_equal(why, "risk level 1 < 2");
    ev->risk_level = 3;
    assert_true(anpi_rule_match(&r, ev, 0, &aff, why, sizeof(why)));
    assert_true(aff == 0);   /* overseas events affect no prefecture */
    assert_string_equal(why, "overseas risk level 3 >= 2, kind T40 in LA, TH");
    free(ev->risk_kind);
    ev->risk_kind = anpi_xstrdup("C31");
    assert_false(anpi_rule_match(&r, ev, 0, &aff, why, sizeof(why)));
    assert_string_equal(why, "risk kind C31 is not in this rule's risk_kinds");
    free(ev->risk_kind);
    ev->risk_kind = anpi_xstrdup("EQ");
    memcpy(ev->countries[1], "KH", 3);
    assert_false(anpi_rule_match(&r, ev, 0, &aff, why, sizeof(why)));
    assert_string_equal(why, "countries LA, KH are not in this rule's countries");
    r.ncountries = 0;   /* any country */
    assert_true(anpi_rule_match(&r, ev, 0, &aff, why, sizeof(why)));
    anpi_event_free(ev);
}

static void
test_match_corrections_cancels_drills(void **state)
{
    (void)state;
    anpi_prefset aff;
    char why[256];
    struct anpi_rule info = quake_rule(ANPI_INT_5L);
    info.opens_incident = false;
    struct anpi_rule check = quake_rule(ANPI_INT_5L);
    struct anpi_event *ev = quake("E1", T0);
    shake(ev, TOKYO, ANPI_INT_6L);

    ev->info_type = ANPI_IT_CORRECTION;
    assert_false(anpi_rule_match(&info, ev, 0, &aff, why, sizeof(why)));
    assert_string_equal(why, "correction report, this rule ignores corrections (on_correction: ignore)");
    info.send_corrections = true;
    assert_true(anpi_rule_match(&info, ev, 0, &aff, why, sizeof(why)));
    /* Incident rules always see corrections: the event key joins the incident. */
    assert_true(anpi_rule_match(&check, ev, 0, &aff, why, sizeof(why)));

    ev->info_type = ANPI_IT_CANCEL;
    check.notify_cancellations = true;
    assert_false(anpi_rule_match(&check, ev, 0, &aff, why, sizeof(why)));
    assert_string_equal(why, "cancellation report: handled by event key (on_cancel: notify)");
    assert_false(anpi_rule_match(&info, ev, 0, &aff, why, sizeof(why)));
    assert_string_equal(why, "cancellation report: handled by event key (on_cancel: ignore)");

    /* A drill rule matches no event. */
    struct anpi_rule drill;
    memset(&drill, 0, sizeof(drill));
    drill.statuses = ~0u;
    drill.schedule_every_s = 7 * 86400;
    ev->info_type = ANPI_IT_ISSUE;
    assert_false(anpi_rule_match(&drill, ev, 0, &aff, why, sizeof(why)));
    assert_string_equal(why, "scheduled drill rule: not triggered by events");
    anpi_event_free(ev);
}

static void
test_group_by_type(void **state)
{
    (void)state;
    struct anpi_group_decision d;
    const char *keys[] = { "T1" };
    struct anpi_incident_state inc = {
        .id = 5, .event_keys = keys, .nevent_keys = 1, .main_occurred_at = T0,
        .window_end = T0 + 6 * 3600, .main_max = ANPI_INT_NONE, .main_lat = NAN,
        .main_lon = NAN, .covered = B(CHIBA),
    };
    struct anpi_rule r = info_rule(ANPI_EV_TSUNAMI);
    r.opens_incident = true;
    r.aftershock_window_s = 6 * 3600;
    r.aftershock_area = ANPI_AREA_ADJACENT;

    /* Tsunami: later reports of one EventID update one incident... */
    struct anpi_event *ev = event_of(ANPI_EV_TSUNAMI, "T1");
    ev->occurred_at = T0 + 600;
    anpi_group_decide(&r, ev, B(CHIBA) | B(IBARAKI), &inc, 1, T0 + 600, &d);
    assert_int_equal(d.action, ANPI_GROUP_ADD_PREFS);
    assert_int_equal(d.incident_id, 5);
    assert_true(d.same_event);
    assert_true(d.add_prefs == B(IBARAKI));
    anpi_group_decide(&r, ev, B(CHIBA), &inc, 1, T0 + 600, &d);
    assert_int_equal(d.action, ANPI_GROUP_SILENT);
    /* ... another EventID in the same window and area is a new incident. */
    free(ev->event_key);
    ev->event_key = anpi_xstrdup("T2");
    anpi_group_decide(&r, ev, B(CHIBA), &inc, 1, T0 + 600, &d);
    assert_int_equal(d.action, ANPI_GROUP_NEW);
    assert_string_equal(d.reason, "new incident: no open incident of rule info shares the event "
                                  "key (tsunami events join an incident by event key only)");
    anpi_event_free(ev);

    /* A second missile launch minutes later is a new incident. */
    struct anpi_rule m = info_rule(ANPI_EV_MISSILE);
    m.opens_incident = true;
    m.aftershock_window_s = 6 * 3600;
    const char *mkeys[] = { "M1" };
    inc.event_keys = mkeys;
    inc.covered = B(OKINAWA);
    struct anpi_event *second = event_of(ANPI_EV_MISSILE, "M2");
    second->missile_phase = ANPI_MS_LAUNCH;
    anpi_group_decide(&m, second, B(OKINAWA), &inc, 1, T0 + 300, &d);
    assert_int_equal(d.action, ANPI_GROUP_NEW);
    free(second->event_key);
    second->event_key = anpi_xstrdup("M1");
    anpi_group_decide(&m, second, B(OKINAWA), &inc, 1, T0 + 300, &d);
    assert_int_equal(d.action, ANPI_GROUP_SILENT);
    anpi_event_free(second);

    /* EEW keeps window/area grouping like earthquakes. */
    struct anpi_rule q = quake_rule(ANPI_INT_5L);
    q.event_types = (1u << ANPI_EV_EARTHQUAKE) | (1u << ANPI_EV_EEW);
    const char *qkeys[] = { "Q1" };
    inc.event_keys = qkeys;
    inc.covered = B(CHIBA);
    inc.main_max = ANPI_INT_6L;
    struct anpi_event *eew = event_of(ANPI_EV_EEW, "Q2");
    shake(eew, CHIBA, ANPI_INT_5L);
    anpi_group_decide(&q, eew, B(CHIBA), &inc, 1, T0 + 600, &d);
    assert_int_equal(d.action, ANPI_GROUP_SILENT);
    assert_false(d.same_event);
    anpi_event_free(eew);
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
        cmocka_unit_test(test_match_event_list_and_eew),
        cmocka_unit_test(test_match_tsunami),
        cmocka_unit_test(test_match_weather),
        cmocka_unit_test(test_match_missile),
        cmocka_unit_test(test_match_overseas),
        cmocka_unit_test(test_match_corrections_cancels_drills),
        cmocka_unit_test(test_group_by_type),
    };
    return cmocka_run_group_tests_name("rules_match", tests, NULL, NULL);
}
