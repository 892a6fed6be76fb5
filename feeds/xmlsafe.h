/* xmlsafe.h - the one hardened way feeds/ hands outside XML to libxml2.
 *
 * Every feed document is hostile input.  The bytes are parsed with NONET and
 * without NOENT, DTDLOAD, DTDVALID or HUGE; any DOCTYPE stops the parse from
 * the SAX internalSubset/externalSubset hooks before a single declaration
 * (and so any entity) is read; libxml2's default depth limit applies.
 * Callers cap the size before calling (anpi_xmlsafe_load does it for them). */
#ifndef ANPI_FEEDS_XMLSAFE_H
#define ANPI_FEEDS_XMLSAFE_H

#include <stddef.h>

#include <libxml/tree.h>

/* Why anpi_xmlsafe_read failed. */
struct anpi_xmlsafe_fail {
    int doctype;    /* 1: a DOCTYPE stopped the parse; line is its line */
    int line;       /* line of the DOCTYPE or of libxml2's last error */
    char *message;  /* libxml2's last error text as it gave it (trailing
                     * newline kept), heap; NULL when it gave none */
};

/* Parse len bytes of doc (doc not NULL; len at most INT_MAX) into *out.
 * url names the document to libxml2 (may be NULL).  ANPI_OK, ANPI_ENOMEM
 * (no parser context) or ANPI_EPARSE with *fail filled in; release it with
 * anpi_xmlsafe_fail_free whatever the result. */
int anpi_xmlsafe_read(const char *doc, size_t len, const char *url, xmlDocPtr *out,
                      struct anpi_xmlsafe_fail *fail);
void anpi_xmlsafe_fail_free(struct anpi_xmlsafe_fail *fail);

/* anpi_xmlsafe_read with the error text written to err:
 *   "out of memory creating the XML parser"                      ANPI_ENOMEM
 *   "<prefix>DOCTYPE at line N: not allowed<doctype_tail>"       ANPI_EPARSE
 *   "<prefix>not well-formed XML at line N: <message>"           ANPI_EPARSE
 *   "<prefix>not well-formed XML" (libxml2 said nothing)         ANPI_EPARSE
 * with the message's trailing blanks removed. */
int anpi_xmlsafe_parse(const char *doc, size_t len, const char *url, const char *prefix,
                       const char *doctype_tail, xmlDocPtr *out, char *err, size_t errlen);

/* The whole load for a single-document parser: "no document" (ANPI_EPARSE)
 * for NULL doc, "document is N bytes, over the M byte limit" (ANPI_ETOOBIG)
 * when len > max, else anpi_xmlsafe_parse with an empty prefix. */
int anpi_xmlsafe_load(const char *doc, size_t len, size_t max, const char *url,
                      const char *doctype_tail, xmlDocPtr *out, char *err, size_t errlen);

#endif
