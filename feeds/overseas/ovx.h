/* ovx.h - the XML plumbing the overseas parsers share (MOFA, GDACS).
 *
 * Hostile input is handled once here: size cap before libxml2 sees the
 * bytes, no network, no entity substitution, no DTD loading, and any
 * DOCTYPE stops the parse from the SAX hook before a single declaration is
 * read (the same rule as the JMA parser). */
#ifndef ANPI_FEEDS_OVERSEAS_OVX_H
#define ANPI_FEEDS_OVERSEAS_OVX_H

#include <stddef.h>

#include <libxml/tree.h>

#include "engine/anpi.h"

void anpi_ovx_err(char *err, size_t errlen, const char *fmt, ...) ANPI_PRINTF(3, 4);

/* Bytes to skip at the start of doc: a UTF-8 BOM, then blanks. */
size_t anpi_ovx_skip_head(const char *doc, size_t len);

/* Parse doc (at most max bytes, else ANPI_ETOOBIG) into *out.  what names
 * the source in messages ("MOFA", "GDACS").  ANPI_EPARSE with "not
 * well-formed XML at line N: ..." or "DOCTYPE at line N: not allowed". */
int anpi_ovx_read(const char *doc, size_t len, size_t max, const char *what, xmlDocPtr *out,
                  char *err, size_t errlen);

/* Element n with local name `name` in namespace ns (NULL: no namespace). */
int anpi_ovx_is(const xmlNode *n, const char *ns, const char *name);
/* First element child / next element sibling with that name. */
xmlNode *anpi_ovx_child(const xmlNode *parent, const char *ns, const char *name);
xmlNode *anpi_ovx_next(const xmlNode *n, const char *ns, const char *name);

/* Text content of n with surrounding blanks removed, heap-allocated;
 * "" for a missing node. */
char *anpi_ovx_text(const xmlNode *n);
/* Same for the first child element `name`. */
char *anpi_ovx_child_text(const xmlNode *parent, const char *ns, const char *name);

#endif
