/* rfc822.h - RSS dates (RFC 822 / RFC 1123 as RSS 2.0 uses them):
 * "Sun, 29 Dec 2019 12:00:00 GMT", "29 Dec 2019 12:00 +0900".
 * Pure arithmetic through anpi_iso8601_parse: the process TZ never matters. */
#ifndef ANPI_FEEDS_OVERSEAS_RFC822_H
#define ANPI_FEEDS_OVERSEAS_RFC822_H

#include <stdint.h>

/* Weekday optional (checked against the date when present), day 1 or 2
 * digits, English month abbreviation, year of 4 digits (2 digits: 19xx for
 * 50..99, 20xx below), hh:mm or hh:mm:ss, zone GMT/UT/UTC/Z, +hhmm/-hhmm
 * or the US zones EST/EDT/CST/CDT/MST/MDT/PST/PDT.  Surrounding blanks are
 * ignored.  Returns 0 and seconds since the epoch, or ANPI_EPARSE. */
int anpi_rfc822_parse(const char *s, int64_t *out);

#endif
