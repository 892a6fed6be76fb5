/* event_json.h - struct anpi_event <-> JSON (jansson).
 *
 * Shape (every field always present):
 *   {"type":"earthquake","source":"jma","doc_id":"...","kind":"VXSE53",
 *    "status":"actual","info_type":"issue","event_key":"20210219181113",
 *    "serial":"1","title":"...","headline":"...","info_kind":"地震情報",
 *    "issued_at":"2021-02-19T09:14:00Z","occurred_at":"2021-02-19T09:11:00Z",
 *    "created_at":"2021-02-19T09:14:51Z",      (UTC; null when 0 = unknown)
 *    "magnitude":3.9,"magnitude_text":"Ｍ３．９", (null when NAN)
 *    "hypocenter":"岩手県内陸北部","hypocenter_code":"212",
 *    "lat":40.2,"lon":141.2,"depth_km":10,       (lat/lon null when NAN)
 *    "max_intensity":"4",                         ("" none, "!5-" unreported)
 *    "prefectures":{"03":"4","02":"2"},           (JIS code -> intensity)
 *    "cities":[{"code":"0321300","name":"二戸市","pref":3,"intensity":"4"}],
 *    "description":"...","url":"","target_prefs":[13,14],   (JIS codes, ascending)
 *    "tsunami":[{"code":"320","name":"伊豆諸島","prefs":[13],"grade":"advisory",
 *                "last_grade":"none","kind_code":"62",
 *                "first_arrival":"津波到達中と推測","max_height":"１ｍ"}],
 *    "max_tsunami":"advisory","pref_tsunami":{"13":"advisory"},
 *    "tsunami_expires":false,"valid_until":null,
 *    "weather":[{"area_code":"1310100","area_name":"千代田区","pref":13,
 *                "kind_code":"03","kind_name":"大雨警報","level":"warning",
 *                "status":"発表"}],
 *    "max_weather":"warning","pref_weather":{"13":"warning"},
 *    "typhoon_name":"","typhoon_class":"","typhoon_pressure_hpa":0,
 *    "typhoon_wind_ms":null,
 *    "eew_warning":false,"eew_final":false,
 *    "missile_phase":"none","hazard":"",
 *    "country":"","countries":["TH"],"risk_level":0,"risk_kind":""}
 *
 * Grades and levels use anpi_tsunami_grade_name / anpi_weather_level_name;
 * the per-prefecture maps list only prefectures above "none".
 * Times are whole seconds in years 0001..9999.
 *
 * anpi_event_from_json requires the fields up to "cities"; the later ones
 * (added with tsunami, weather, EEW, missile and overseas events) may be
 * absent and then take their anpi_event_new defaults, so JSON stored before
 * they existed still reads back. */
#ifndef ANPI_FEEDS_EVENT_JSON_H
#define ANPI_FEEDS_EVENT_JSON_H

#include <stddef.h>
#include <jansson.h>

#include "feeds/event.h"

/* New reference, or NULL when a string field is NULL-free but not valid
 * UTF-8 (jansson refuses it). */
json_t *anpi_event_to_json(const struct anpi_event *ev);

/* Exact inverse of anpi_event_to_json.  Returns 0 and a new event in *out,
 * or ANPI_EPARSE with the offending field named in err. */
int anpi_event_from_json(json_t *j, struct anpi_event **out, char *err, size_t errlen);

#endif
