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

/* ---- fields added for tsunami / weather / EEW / missile / overseas ---- */

static struct anpi_event *
sample_hazards(void)
{
    struct anpi_event *ev = anpi_event_new();
    ev->type = ANPI_EV_TSUNAMI;
    ev->source = anpi_xstrdup("jma");
    ev->doc_id = anpi_xstrdup("津波警報・注意報・予報a/20300401100500//発表/2030-04-01T01:10:00Z");
    ev->kind = anpi_xstrdup("VTSE41");
    ev->event_key = anpi_xstrdup("20300401100500 20300401101500");
    ev->serial = anpi_xstrdup("");
    ev->title = anpi_xstrdup("津波警報・注意報・予報a");
    ev->headline = anpi_xstrdup("津波注意報を発表しました。（架空）");
    ev->info_kind = anpi_xstrdup("津波警報・注意報・予報");
    ev->issued_at = 1901236200;
    ev->description = anpi_xstrdup("試験 太郎さんへ\n架空の説明文");
    ev->url = anpi_xstrdup("https://alerts.example.jp/e/1");
    ev->target_prefs = ANPI_PREFSET_BIT(1) | ANPI_PREFSET_BIT(47);
    ev->ntsunami = 2;
    ev->tsunami = anpi_xcalloc(2, sizeof(*ev->tsunami));
    ev->tsunami[0] = (struct anpi_tsunami_area){
        anpi_xstrdup("312"), anpi_xstrdup("東京湾内湾"),
        ANPI_PREFSET_BIT(12) | ANPI_PREFSET_BIT(13) | ANPI_PREFSET_BIT(14), ANPI_TS_WARNING,
        ANPI_TS_ADVISORY, anpi_xstrdup("51"), anpi_xstrdup("2030-04-01T10:30:00+09:00"),
        anpi_xstrdup("３ｍ") };
    ev->tsunami[1] = (struct anpi_tsunami_area){
        anpi_xstrdup("320"), anpi_xstrdup("伊豆諸島"), ANPI_PREFSET_BIT(13), ANPI_TS_FORECAST,
        ANPI_TS_NONE, anpi_xstrdup("71"), anpi_xstrdup(""), anpi_xstrdup("") };
    ev->max_tsunami = ANPI_TS_WARNING;
    ev->pref_tsunami[12] = ev->pref_tsunami[13] = ev->pref_tsunami[14] = ANPI_TS_WARNING;
    ev->tsunami_expires = true;
    ev->valid_until = 1901300000;
    ev->nweather = 1;
    ev->weather = anpi_xcalloc(1, sizeof(*ev->weather));
    ev->weather[0] = (struct anpi_weather_item){
        anpi_xstrdup("1310100"), anpi_xstrdup("千代田区"), 13, anpi_xstrdup("33"),
        anpi_xstrdup("大雨特別警報"), ANPI_WX_EMERGENCY, anpi_xstrdup("発表") };
    ev->max_weather = ANPI_WX_EMERGENCY;
    ev->pref_weather[13] = ANPI_WX_EMERGENCY;
    ev->pref_weather[47] = ANPI_WX_ADVISORY;
    ev->typhoon_name = anpi_xstrdup("台風第10号 (TESTNAME)");
    ev->typhoon_class = anpi_xstrdup("台風(TS)");
    ev->typhoon_pressure_hpa = 986;
    ev->typhoon_wind_ms = 17.5;
    ev->eew_warning = true;
    ev->eew_final = true;
    ev->missile_phase = ANPI_MS_OVERFLIGHT;
    ev->hazard = anpi_xstrdup("弾道ミサイル（架空）");
    memcpy(ev->country, "TH", 3);
    ev->ncountries = 2;
    ev->countries = anpi_xcalloc(2, sizeof(*ev->countries));
    memcpy(ev->countries[0], "TH", 3);
    memcpy(ev->countries[1], "LA", 3);
    ev->risk_level = 3;
    ev->risk_kind = anpi_xstrdup("T40");
    return ev;
}

static void
test_hazard_fields_roundtrip(void **state)
{
    (void)state;
    struct anpi_event *ev = sample_hazards();
    jt_assert_json_roundtrip(ev);
    json_t *j = anpi_event_to_json(ev);
    assert_non_null(j);
    /* the shape the lead documents and the rules read */
    json_t *t0 = json_array_get(json_object_get(j, "tsunami"), 0);
    assert_string_equal(json_string_value(json_object_get(t0, "grade")), "warning");
    assert_string_equal(json_string_value(json_object_get(t0, "last_grade")), "advisory");
    assert_int_equal(json_array_size(json_object_get(t0, "prefs")), 3);
    assert_int_equal(json_integer_value(json_array_get(json_object_get(t0, "prefs"), 2)), 14);
    assert_string_equal(json_string_value(json_object_get(json_object_get(j, "pref_tsunami"), "13")),
                        "warning");
    assert_int_equal(json_object_size(json_object_get(j, "pref_tsunami")), 3);
    assert_string_equal(json_string_value(json_object_get(json_object_get(j, "pref_weather"), "47")),
                        "advisory");
    assert_true(json_is_true(json_object_get(j, "tsunami_expires")));
    assert_string_equal(json_string_value(json_object_get(j, "valid_until")), "2030-04-01T18:53:20Z");
    assert_string_equal(json_string_value(json_object_get(j, "missile_phase")), "overflight");
    assert_string_equal(json_string_value(json_array_get(json_object_get(j, "countries"), 1)), "LA");

    struct anpi_event *back = NULL;
    char err[200];
    if (anpi_event_from_json(j, &back, err, sizeof(err)) != 0)
        fail_msg("%s", err);
    assert_string_equal(back->description, ev->description);
    assert_string_equal(back->url, ev->url);
    assert_true(back->target_prefs == ev->target_prefs);
    assert_int_equal(back->ntsunami, 2);
    assert_true(back->tsunami[0].prefs == ev->tsunami[0].prefs);
    assert_int_equal(back->tsunami[0].grade, ANPI_TS_WARNING);
    assert_int_equal(back->tsunami[0].last_grade, ANPI_TS_ADVISORY);
    assert_string_equal(back->tsunami[0].first_arrival, "2030-04-01T10:30:00+09:00");
    assert_string_equal(back->tsunami[1].kind_code, "71");
    assert_int_equal(back->max_tsunami, ANPI_TS_WARNING);
    assert_memory_equal(back->pref_tsunami, ev->pref_tsunami, sizeof(ev->pref_tsunami));
    assert_true(back->tsunami_expires);
    assert_int_equal(back->valid_until, ev->valid_until);
    assert_int_equal(back->nweather, 1);
    assert_int_equal(back->weather[0].pref, 13);
    assert_int_equal(back->weather[0].level, ANPI_WX_EMERGENCY);
    assert_string_equal(back->weather[0].status, "発表");
    assert_int_equal(back->max_weather, ANPI_WX_EMERGENCY);
    assert_memory_equal(back->pref_weather, ev->pref_weather, sizeof(ev->pref_weather));
    assert_string_equal(back->typhoon_name, "台風第10号 (TESTNAME)");
    assert_string_equal(back->typhoon_class, "台風(TS)");
    assert_int_equal(back->typhoon_pressure_hpa, 986);
    assert_true(back->typhoon_wind_ms == 17.5);
    assert_true(back->eew_warning && back->eew_final);
    assert_int_equal(back->missile_phase, ANPI_MS_OVERFLIGHT);
    assert_string_equal(back->hazard, ev->hazard);
    assert_string_equal(back->country, "TH");
    assert_int_equal(back->ncountries, 2);
    assert_string_equal(back->countries[1], "LA");
    assert_int_equal(back->risk_level, 3);
    assert_string_equal(back->risk_kind, "T40");
    anpi_event_free(back);

    /* JSON written before these fields existed reads back with defaults */
    static const char *const added[] = {
        "description", "url", "target_prefs", "tsunami", "max_tsunami", "pref_tsunami",
        "tsunami_expires", "valid_until", "weather", "max_weather", "pref_weather",
        "typhoon_name", "typhoon_class", "typhoon_pressure_hpa", "typhoon_wind_ms",
        "eew_warning", "eew_final", "missile_phase", "hazard", "country", "countries",
        "risk_level", "risk_kind",
    };
    for (size_t i = 0; i < ANPI_ARRAY_LEN(added); i++)
        assert_int_equal(json_object_del(j, added[i]), 0);
    assert_int_equal(anpi_event_from_json(j, &back, err, sizeof(err)), 0);
    assert_string_equal(back->description, "");
    assert_int_equal(back->ntsunami, 0);
    assert_int_equal(back->max_tsunami, ANPI_TS_NONE);
    assert_true(isnan(back->typhoon_wind_ms));
    assert_false(back->eew_warning);
    assert_string_equal(back->country, "");
    anpi_event_free(back);
    json_decref(j);
    anpi_event_free(ev);
}

static void
expect_bad_hazard(const char *key, json_t *value, const char *needle)
{
    struct anpi_event *ev = sample_hazards();
    json_t *j = anpi_event_to_json(ev);
    anpi_event_free(ev);
    json_object_set_new(j, key, value);
    struct anpi_event *out = (struct anpi_event *)1;
    char err[200] = "";
    assert_int_equal(anpi_event_from_json(j, &out, err, sizeof(err)), ANPI_EPARSE);
    assert_null(out);
    if (!strstr(err, needle))
        fail_msg("error '%s' does not mention '%s'", err, needle);
    json_decref(j);
}

static void
test_hazard_fields_errors(void **state)
{
    (void)state;
    expect_bad_hazard("target_prefs", json_pack("[i]", 48), "target_prefs[0]");
    expect_bad_hazard("target_prefs", json_string("13"), "target_prefs");
    expect_bad_hazard("max_tsunami", json_string("huge"), "max_tsunami");
    expect_bad_hazard("pref_tsunami", json_pack("{s:s}", "13", "none"), "pref_tsunami.13");
    expect_bad_hazard("pref_tsunami", json_pack("{s:s}", "00", "warning"), "pref_tsunami");
    expect_bad_hazard("tsunami", json_pack("[{s:s}]", "code", "320"), "tsunami[0].name");
    expect_bad_hazard("tsunami",
                      json_pack("[{s:s,s:s,s:s,s:s,s:s,s:s,s:s}]", "code", "1", "name", "n",
                                "kind_code", "", "first_arrival", "", "max_height", "",
                                "grade", "big", "last_grade", "none"),
                      "tsunami[0]: grade");
    expect_bad_hazard("tsunami_expires", json_string("yes"), "tsunami_expires");
    expect_bad_hazard("valid_until", json_string("tomorrow"), "valid_until");
    expect_bad_hazard("weather", json_pack("[{s:s}]", "area_code", "1310100"), "weather[0]");
    expect_bad_hazard("max_weather", json_string("storm"), "max_weather");
    expect_bad_hazard("pref_weather", json_pack("{s:s}", "48", "warning"), "pref_weather");
    expect_bad_hazard("typhoon_pressure_hpa", json_integer(-1), "typhoon_pressure_hpa");
    expect_bad_hazard("typhoon_wind_ms", json_string("fast"), "typhoon_wind_ms");
    expect_bad_hazard("eew_final", json_integer(1), "eew_final");
    expect_bad_hazard("missile_phase", json_string("boom"), "missile_phase");
    expect_bad_hazard("country", json_string("THA"), "country");
    expect_bad_hazard("countries", json_pack("[s]", "X"), "countries[0]");
    expect_bad_hazard("risk_level", json_integer(5), "risk_level");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shape),
        cmocka_unit_test(test_roundtrip),
        cmocka_unit_test(test_from_json_errors),
        cmocka_unit_test(test_hazard_fields_roundtrip),
        cmocka_unit_test(test_hazard_fields_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
