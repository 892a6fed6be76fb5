/* cap.h - OASIS CAP 1.2 alerts -> struct anpi_event (one per <info>).
 * The input for missile / civil-protection alerts fed by an operator console
 * or an adapter (FEEDS.md §2.4).  Field mapping: see the comment at the top
 * of cap.c. */
#ifndef ANPI_FEEDS_CAP_H
#define ANPI_FEEDS_CAP_H

#include <stddef.h>

#include "feeds/event.h"
#include "feeds/feed.h"

#define ANPI_CAP_NS      "urn:oasis:names:tc:emergency:cap:1.2"
#define ANPI_CAP_MAX_DOC (10u * 1024 * 1024)   /* larger documents: ANPI_ETOOBIG */
#define ANPI_CAP_MAX_INFO 64u                  /* more <info> blocks: ANPI_EPARSE */

/* anpi_feed_parse_fn for CAP 1.2.  0 with one event per <info> in the
 * alert's first language (n == 0 for msgType Ack/Error), or ANPI_EPARSE /
 * ANPI_ETOOBIG with a message in err ("CAP info 1 has no area: target
 * prefectures unknown"). */
int anpi_cap_parse(const char *doc, size_t len, struct anpi_event_list *out, char *err,
                   size_t errlen);

/* The phase a CAP event text / parameter names (Japanese J-ALERT wording or
 * English), ANPI_MS_NONE when none. */
enum anpi_missile_phase anpi_cap_phase_from_text(const char *s);

#endif
