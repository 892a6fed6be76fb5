/* jma_xml.h - JMA 気象庁防災情報XML telegram -> struct anpi_event.
 *
 * Handles every Report type (head fields always filled); earthquake detail
 * (hypocenter, magnitude, intensities per prefecture and city) is read from
 * VXSE51/52/53/61/62 and the Body/Earthquake of EEW and tsunami telegrams;
 * tsunami areas and grades from VTSE41/51/52; EEW forecasts per prefecture
 * from VXSE43/44/45; weather warnings from VPWW53/54; typhoon analysis from
 * VPTW6x; text from VPTI5x and any Body/Text or Comments.  The mapping of
 * XML paths to event fields is documented at the top of jma_xml.c,
 * jma_tsunami.c, jma_eew.c and jma_weather.c. */
#ifndef ANPI_FEEDS_JMA_XML_H
#define ANPI_FEEDS_JMA_XML_H

#include <stddef.h>

#include "feeds/event.h"

#define ANPI_JMA_MAX_DOC (10u * 1024 * 1024)   /* larger documents: ANPI_ETOOBIG */

/* Parse one JMA XML telegram (a <Report>). Returns 0 and a new event in *out (caller frees with
 * anpi_event_free). Returns ANPI_EPARSE with a message in err (what and where, e.g.
 * "Head/EventID missing", "not well-formed XML at line 12: ...") for anything that is not a
 * JMA Report. Documents over 10 MiB -> ANPI_ETOOBIG. Never reads files or the network.
 *
 * doc_id is Control/Title "/" Head/EventID "/" Head/Serial "/" Head/InfoType
 * "/" Control/DateTime (the text as written): the same telegram fetched twice
 * gives the same id, while a correction (訂正) or a cancel (取消) of the same
 * serial, or a re-issue with a new DateTime, gives a new one. */
int anpi_jma_parse(const char *xml, size_t len, struct anpi_event **out, char *err, size_t errlen);

/* ISO 6709 subset used by jmx_eb:Coordinate ("+40.2+141.2-10000/",
 * "-36.1-072.6-60000/", "+56.7+161.4/", "+29.7+139.9+0/").  degmin: the
 * @type says 度分 (typhoon centres, "+1800+14210/").  Returns 0 and sets
 * lat/lon (degrees) and depth_km (-1 when the text has no depth, 0 for
 * "+0" / very shallow); ANPI_EPARSE otherwise.  An empty text (hypocenter
 * unknown) is ANPI_EPARSE too; callers keep NAN/-1 then. */
int anpi_jma_parse_coordinate(const char *s, int degmin, double *lat, double *lon, int *depth_km);

/* JMA data type code ("VXSE53") from Control/Title and Head/InfoKind; ""
 * when the title does not tell it (e.g. VPTW60..65 share one title). */
const char *anpi_jma_kind(const char *control_title, const char *info_kind);

#endif
