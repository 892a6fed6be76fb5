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
 *    "cities":[{"code":"0321300","name":"二戸市","pref":3,"intensity":"4"}]}
 *
 * Times are whole seconds in years 0001..9999. */
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
