/* gdacs.h - GDACS RSS 2.0 (Global Disaster Alert and Coordination System,
 * https://www.gdacs.org/xml/rss.xml and the 24h/7d variants) -> anpi events,
 * one per <item> (field mapping: block comment at the top of gdacs.c).
 * GDACS CAP documents are not read here: they go through the CAP parser. */
#ifndef ANPI_FEEDS_OVERSEAS_GDACS_H
#define ANPI_FEEDS_OVERSEAS_GDACS_H

#include <stddef.h>

#include "feeds/feed.h"

#define ANPI_GDACS_MAX_DOC (32u * 1024 * 1024)   /* larger documents: ANPI_ETOOBIG */

/* anpi_feed_parse_fn.  Appends one event per usable <item> (an item without
 * gdacs:eventtype, eventid or episodeid is skipped with a warning in the
 * log).  ANPI_EPARSE with a message in err when the document is not an RSS
 * 2.0 <rss><channel>.  On error out is left as it was. */
int anpi_gdacs_parse(const char *doc, size_t len, struct anpi_event_list *out, char *err,
                     size_t errlen);

/* "Green" 1, "Orange" 2, "Red" 3 (case-insensitive, blanks ignored), else 0. */
int anpi_gdacs_alert_level(const char *s);

#endif
