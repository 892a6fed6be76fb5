/* mofa.h - MOFA 海外安全情報オープンデータ (外務省) -> anpi events.
 *
 * Reads the <opendata> documents of https://www.ezairyu.mofa.go.jp/opendata/:
 * area/newarrival{A,,L}.xml, area/{00,areaCd}{A,,L}.xml,
 * country/{countryCd}{A,,L}.xml and mail/{keyCd}{A,,L}.xml; one event per
 * <mail> (field mapping: block comment at the top of mofa.c). */
#ifndef ANPI_FEEDS_OVERSEAS_MOFA_H
#define ANPI_FEEDS_OVERSEAS_MOFA_H

#include <stddef.h>

#include "feeds/feed.h"

#define ANPI_MOFA_MAX_DOC (32u * 1024 * 1024)   /* larger documents: ANPI_ETOOBIG */

/* anpi_feed_parse_fn.  Appends one event per usable <mail> to out (a mail
 * without keyCd or with an unreadable leaveDate is skipped with a warning
 * in the log).  ANPI_EPARSE with a message in err for a document that is
 * not MOFA open data: an HTML page served with HTTP 200 during maintenance
 * or for an unknown code gives "not MOFA open data (maintenance page?)".
 * On error out is left as it was. */
int anpi_mofa_parse(const char *doc, size_t len, struct anpi_event_list *out, char *err,
                    size_t errlen);

/* Risk flag value: 1 for "1"/"Y"/"y", 0 for "0"/"N"/"n"/"" (surrounding
 * blanks ignored), -1 for anything else. */
int anpi_mofa_flag(const char *s);

/* "2026/03/31 00:00:00" (JST, no zone; seconds optional) -> epoch seconds.
 * 0 or ANPI_EPARSE. */
int anpi_mofa_parse_time(const char *s, int64_t *out);

/* Japanese name of an infoType code ("T40" -> "危険情報"); "" if unknown. */
const char *anpi_mofa_info_type_name(const char *info_type);

#endif
