/* jmx_dom.h - small libxml2 tree helpers shared by the JMA XML readers.
 *
 * Internal to feeds/jma/: jma_xml.c (the Report and the earthquake body),
 * jma_tsunami.c, jma_eew.c and jma_weather.c.  Elements are always matched by
 * namespace URI and local name, child by child, never "anywhere below". */
#ifndef ANPI_FEEDS_JMX_DOM_H
#define ANPI_FEEDS_JMX_DOM_H

#include <stddef.h>

#include <libxml/tree.h>

#include "feeds/event.h"

#define ANPI_NS_JMX  "http://xml.kishou.go.jp/jmaxml1/"
#define ANPI_NS_IB   "http://xml.kishou.go.jp/jmaxml1/informationBasis1/"
#define ANPI_NS_EB   "http://xml.kishou.go.jp/jmaxml1/elementBasis1/"
#define ANPI_NS_BODY "http://xml.kishou.go.jp/jmaxml1/body/"
#define ANPI_NS_SEIS "http://xml.kishou.go.jp/jmaxml1/body/seismology1/"
#define ANPI_NS_METE "http://xml.kishou.go.jp/jmaxml1/body/meteorology1/"

/* Element `name` in namespace `ns` (NULL: any namespace)? */
int anpi_jmx_is(const xmlNode *n, const char *ns, const char *name);
/* First element child / next element sibling with that name; NULL when none
 * (a NULL parent is allowed and gives NULL, so paths can be chained). */
xmlNode *anpi_jmx_child(const xmlNode *parent, const char *ns, const char *name);
xmlNode *anpi_jmx_next(const xmlNode *n, const char *ns, const char *name);
/* Text content, ASCII whitespace trimmed; new string, NULL when n is NULL. */
char *anpi_jmx_text(const xmlNode *n);
/* Like anpi_jmx_text but "" instead of NULL. */
char *anpi_jmx_text0(const xmlNode *n);
/* Attribute value (no namespace); new string or NULL. */
char *anpi_jmx_attr(const xmlNode *n, const char *name);
/* Is the attribute present and equal to value? */
int anpi_jmx_attr_is(const xmlNode *n, const char *name, const char *value);

/* The stronger of two intensities; on equal rank a received 5- beats the
 * "at least 5-, not received" marker. */
enum anpi_intensity anpi_jmx_stronger(enum anpi_intensity a, enum anpi_intensity b);
/* Intensity text of an element ("5-", "震度５弱以上未入電"); NONE when absent
 * or not an intensity ("0", "over", "不明"). */
enum anpi_intensity anpi_jmx_intensity(const xmlNode *n);

/* Append "line" to *text (a heap string or NULL), separated by a newline;
 * empty lines are skipped.  The result is capped at ANPI_JMX_TEXT_MAX bytes
 * (cut on a UTF-8 boundary) so a hostile document cannot grow it without
 * bound beyond what libxml2 already holds. */
#define ANPI_JMX_TEXT_MAX (64u * 1024)
void anpi_jmx_append_line(char **text, const char *line);

#endif
