/* test_event_json.c - struct anpi_event <-> JSON: shape and exact inverse. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <jansson.h>

#include "engine/anpi.h"
#include "feeds/event.h"
#include "feeds/event_json.h"
#include "tests/unit/jma/jma_test_util.h"

static struct anpi_event *
sample(void)
{
    struct anpi_event *ev = anpi_event_new();
    ev->type = ANPI_EV_EARTHQUAKE;
    ev->source = anpi_xstrdup("jma");
    ev->doc_id = anpi_xstrdup("震源・震度に関する情報/20300401100500/1/発表/2030-04-01T01:08:30Z");
    ev->kind = anpi_xstrdup("VXSE53");
    ev->status = ANPI_ST_EXERCISE;
    ev->info_type = ANPI_IT_CORRECTION;
    ev->event_key = anpi_xstrdup("20300401100500");
    ev->serial = anpi_xstrdup("1");
    ev->title = anpi_xstrdup("震源・震度に関する情報");
    ev->headline = anpi_xstrdup("１日１０時０５分ころ、地震がありました。（架空）\n\"引用\"");
    ev->info_kind = anpi_xstrdup("地震情報");
    ev->issued_at = 1901236080;   /* 2030-04-01T10:08:00+09:00 */
    ev->occurred_at = 1901235900;
    ev->created_at = 1901236110;
    ev->magnitude = 6.3;
    ev->magnitude_text = anpi_xstrdup("Ｍ６．３");
    ev->hypocenter = anpi_xstrdup("千葉県北西部");
    ev->hypocenter_code = anpi_xstrdup("341");
    ev->lat = 35.7;
    ev->lon = 140.1;
    ev->depth_km = 60;
    ev->max_intensity = ANPI_INT_6L;
    ev->pref_intensity[12] = ANPI_INT_6L;
    ev->pref_intensity[13] = ANPI_INT_5U;
    ev->pref_intensity[8] = ANPI_INT_5L_UNREPORTED;
    ev->ncities = 2;
    ev->cities = anpi_xcalloc(2, sizeof(*ev->cities));
    ev->cities[0] = (struct anpi_city_intensity){ anpi_xstrdup("1220400"), anpi_xstrdup("船橋市"),
                                                  12, ANPI_INT_6L };
    ev->cities[1] = (struct anpi_city_intensity){ anpi_xstrdup("0899901"), anpi_xstrdup("試験町"),
                                                  8, ANPI_INT_5L_UNREPORTED };
    return ev;
}

static void
test_shape(void **state)
{
    (void)state;
    struct anpi_event *ev = sample();
    json_t *j = anpi_event_to_json(ev);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "type")), "earthquake");
    assert_string_equal(json_string_value(json_object_get(j, "status")), "exercise");
    assert_string_equal(json_string_value(json_object_get(j, "info_type")), "correction");
    assert_string_equal(json_string_value(json_object_get(j, "issued_at")), "2030-04-01T01:08:00Z");
    assert_string_equal(json_string_value(json_object_get(j, "occurred_at")), "2030-04-01T01:05:00Z");
    assert_string_equal(json_string_value(json_object_get(j, "max_intensity")), "6-");
    json_t *prefs = json_object_get(j, "prefectures");
    assert_int_equal(json_object_size(prefs), 3);
    assert_string_equal(json_string_value(json_object_get(prefs, "12")), "6-");
    assert_string_equal(json_string_value(json_object_get(prefs, "13")), "5+");
    assert_string_equal(json_string_value(json_object_get(prefs, "08")), "!5-");
    json_t *c = json_array_get(json_object_get(j, "cities"), 1);
    assert_string_equal(json_string_value(json_object_get(c, "code")), "0899901");
    assert_string_equal(json_string_value(json_object_get(c, "name")), "試験町");
    assert_int_equal(json_integer_value(json_object_get(c, "pref")), 8);
    assert_string_equal(json_string_value(json_object_get(c, "intensity")), "!5-");
    assert_true(json_real_value(json_object_get(j, "magnitude")) == 6.3);
    json_decref(j);

    /* unknowns are null */
    ev->magnitude = NAN;
    ev->lat = NAN;
    ev->lon = NAN;
    ev->occurred_at = 0;
    j = anpi_event_to_json(ev);
    assert_true(json_is_null(json_object_get(j, "magnitude")));
    assert_true(json_is_null(json_object_get(j, "lat")));
    assert_true(json_is_null(json_object_get(j, "occurred_at")));
    json_decref(j);
    anpi_event_free(ev);
}

static void
test_roundtrip(void **state)
{
    (void)state;
    struct anpi_event *ev = sample();
    jt_assert_json_roundtrip(ev);
    json_t *j = anpi_event_to_json(ev);
    struct anpi_event *back = NULL;
    char err[128];
    assert_int_equal(anpi_event_from_json(j, &back, err, sizeof(err)), 0);
    /* field by field, not only via JSON */
    assert_int_equal(back->type, ev->type);
    assert_int_equal(back->status, ev->status);
    assert_int_equal(back->info_type, ev->info_type);
    assert_string_equal(back->doc_id, ev->doc_id);
    assert_string_equal(back->headline, ev->headline);
    assert_int_equal(back->issued_at, ev->issued_at);
    assert_int_equal(back->occurred_at, ev->occurred_at);
    assert_int_equal(back->created_at, ev->created_at);
    assert_true(back->magnitude == ev->magnitude);
    assert_true(back->lat == ev->lat && back->lon == ev->lon);
    assert_int_equal(back->depth_km, ev->depth_km);
    assert_int_equal(back->max_intensity, ev->max_intensity);
    assert_memory_equal(back->pref_intensity, ev->pref_intensity, sizeof(ev->pref_intensity));
    assert_int_equal(back->ncities, 2);
    assert_string_equal(back->cities[1].name, "試験町");
    assert_int_equal(back->cities[1].intensity, ANPI_INT_5L_UNREPORTED);
    anpi_event_free(back);
    json_decref(j);

    /* empty event (all unknown) */
    struct anpi_event *empty = anpi_event_new();
    jt_assert_json_roundtrip(empty);
    j = anpi_event_to_json(empty);
    assert_int_equal(anpi_event_from_json(j, &back, err, sizeof(err)), 0);
    assert_true(isnan(back->magnitude) && isnan(back->lat));
    assert_int_equal(back->depth_km, -1);
    assert_int_equal(back->occurred_at, 0);
    assert_string_equal(back->source, "");
    anpi_event_free(back);
    json_decref(j);
    anpi_event_free(empty);
    anpi_event_free(ev);
}

static void
expect_bad(const char *key, json_t *value, const char *needle)
{
    struct anpi_event *ev = sample();
    json_t *j = anpi_event_to_json(ev);
    anpi_event_free(ev);
    if (value)
        json_object_set_new(j, key, value);
    else
        json_object_del(j, key);
    struct anpi_event *out = (struct anpi_event *)1;
    char err[200] = "";
    assert_int_equal(anpi_event_from_json(j, &out, err, sizeof(err)), ANPI_EPARSE);
    assert_null(out);
    if (!strstr(err, needle))
        fail_msg("error '%s' does not mention '%s'", err, needle);
    json_decref(j);
}

static void
test_from_json_errors(void **state)
{
    (void)state;
    struct anpi_event *out = NULL;
    char err[200];
    json_t *arr = json_array();
    assert_int_equal(anpi_event_from_json(arr, &out, err, sizeof(err)), ANPI_EPARSE);
    json_decref(arr);
    expect_bad("type", json_string("volcano"), "type");
    expect_bad("status", json_string("real"), "status");
    expect_bad("info_type", NULL, "info_type");
    expect_bad("doc_id", json_integer(3), "doc_id");
    expect_bad("issued_at", json_string("2030-04-01 01:08:00"), "issued_at");
    expect_bad("magnitude", json_string("6.3"), "magnitude");
    expect_bad("depth_km", json_integer(-2), "depth_km");
    expect_bad("max_intensity", json_string("5弱"), "max_intensity");
    expect_bad("prefectures", json_pack("{s:s}", "48", "4"), "prefectures");
    expect_bad("prefectures", json_pack("{s:s}", "3", "4"), "prefectures");
    expect_bad("prefectures", json_pack("{s:s}", "13", ""), "prefectures.13");
    expect_bad("cities", json_pack("[{s:s,s:s,s:i,s:s}]", "code", "1", "name", "n", "pref", 48,
                                   "intensity", "4"),
               "cities[0].pref");
    expect_bad("cities", json_pack("[{s:s,s:i,s:s}]", "code", "1", "pref", 1, "intensity", "4"),
               "cities[0].name");
    expect_bad("cities", json_object(), "cities");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shape),
        cmocka_unit_test(test_roundtrip),
        cmocka_unit_test(test_from_json_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
