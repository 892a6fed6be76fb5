/* broadcasts.h - the parts of the broadcast endpoints (broadcasts.c) that
 * the console's forms (console.c) share, so a broadcast composed or a
 * message written back from a phone goes through exactly the checks and
 * the SQL of POST /api/v1/broadcasts and /{id}/people/{pid}/message.
 * Internal to admin-api/endpoints/. */
#ifndef ANPI_ENDPOINTS_BROADCASTS_H
#define ANPI_ENDPOINTS_BROADCASTS_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "admin-api/endpoints/api.h"

/* The longest text written back to a person (bytes). */
#define API_WRITE_BACK_MAX 2000

/* Check body, a compose request in the JSON shape of POST
 * /api/v1/broadcasts, and run it through api_query(c, ...): with preview,
 * anpi_audience_preview (subject, body and questions may be left out);
 * else anpi_manual_broadcast (and its follow-up rounds when asked).  cb
 * gets the database's JSON answer as the one text cell ("created",
 * "preview", "empty", "unknown_people", "unknown_groups").  false with err
 * when the body is refused: then nothing was queried and c is untouched. */
bool api_broadcast_compose(struct api_call *c, json_t *body, bool preview, anpi_db_cb cb, char *err,
                           size_t errlen);

/* Store a write-back of text to recipient recipient_id (found with
 * anpi_write_back_target) and mail it with the person's reply link
 * (anpi_write_back through api_query(c, ...)); note (or NULL) goes to the
 * audit entry.  cb gets the JSON answer ("stored" or "not_found"). */
void api_write_back_store(struct api_call *c, long long recipient_id, const char *text, const char *note,
                          anpi_db_cb cb);

#endif
