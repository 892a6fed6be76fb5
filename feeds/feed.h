/* feed.h - the parsers of every source behind one signature.
 *
 * A source document may carry several events (a MOFA new-arrivals file, a
 * GDACS RSS feed, a QZSS receiver log), so parsers return a list.  Each
 * event's doc_id must be unique within its source and stable: the engine
 * stores an event once per (source, doc_id), so a feed that repeats items
 * in every version never triggers twice. */
#ifndef ANPI_FEEDS_FEED_H
#define ANPI_FEEDS_FEED_H

#include <stddef.h>

#include "feeds/event.h"

struct anpi_event_list {
    size_t n;
    struct anpi_event **ev;
};

/* Returns 0 with at least zero events, or ANPI_EPARSE / ANPI_ETOOBIG with a
 * message in err naming what and where.  A well-formed document with no
 * usable item is 0 with n == 0 (not an error). */
typedef int (*anpi_feed_parse_fn)(const char *doc, size_t len, struct anpi_event_list *out,
                                  char *err, size_t errlen);

struct anpi_feed_source {
    const char *name;           /* "jma", "cap", "qzss", "mofa", "gdacs" */
    anpi_feed_parse_fn parse;
};

/* NULL for an unknown source name. */
const struct anpi_feed_source *anpi_feed_source_find(const char *name);
/* "jma, cap, qzss, mofa, gdacs" for error messages. */
const char *anpi_feed_source_names(void);

void anpi_event_list_push(struct anpi_event_list *l, struct anpi_event *ev);
void anpi_event_list_free(struct anpi_event_list *l);

#endif
