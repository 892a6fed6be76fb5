/* iso8601.h - the ISO 8601 date-times JMA and the event JSON use.
 *
 * Only the complete form "YYYY-MM-DDThh:mm:ss[.fff](Z|+hh:mm|-hh:mm)" is
 * accepted; the offset is mandatory because a time without one is ambiguous
 * (JMA writes Control in UTC and Head/Body in JST).  Conversion is pure
 * arithmetic: no mktime/timegm, so the process TZ never matters. */
#ifndef ANPI_FEEDS_ISO8601_H
#define ANPI_FEEDS_ISO8601_H

#include <stddef.h>
#include <stdint.h>

/* "2021-02-19T18:11:00+09:00" -> seconds since the epoch.  Fractions of a
 * second are accepted and dropped.  Surrounding whitespace is ignored.
 * Returns 0 or ANPI_EPARSE. */
int anpi_iso8601_parse(const char *s, int64_t *out);

#define ANPI_ISO8601_LEN 32   /* enough for "-YYYYYY-MM-DDThh:mm:ssZ" */

/* Seconds since the epoch -> "2021-02-19T09:11:00Z" (UTC) in buf. */
void anpi_iso8601_format_utc(int64_t t, char buf[ANPI_ISO8601_LEN]);

#endif
