/* xmlsafe.c - hardened libxml2 document loading for the feed parsers (see
 * xmlsafe.h).  One copy of the rules, so a parser cannot forget one. */
#include "feeds/xmlsafe.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/SAX2.h>
#include <libxml/parser.h>
#include <libxml/xmlerror.h>

#include "engine/anpi.h"

struct read_state {
    int doctype;
};

/* SAX hook: no feed document needs a DTD; one can only be an attempt at
 * entity expansion or an external fetch.  Stop before its internal subset
 * (and any entity declaration) is read. */
static void
on_doctype(void *ctx, const xmlChar *name, const xmlChar *eid, const xmlChar *sid)
{
    (void)name;
    (void)eid;
    (void)sid;
    xmlParserCtxtPtr ctxt = ctx;
    struct read_state *st = ctxt->_private;
    st->doctype = 1;
    xmlStopParser(ctxt);
}

int
anpi_xmlsafe_read(const char *doc, size_t len, const char *url, xmlDocPtr *out,
                  struct anpi_xmlsafe_fail *fail)
{
    *out = NULL;
    memset(fail, 0, sizeof(*fail));
    xmlParserCtxtPtr ctxt = xmlNewParserCtxt();
    if (!ctxt)
        return ANPI_ENOMEM;
    struct read_state st = { 0 };
    ctxt->_private = &st;
    ctxt->sax->internalSubset = on_doctype;
    ctxt->sax->externalSubset = on_doctype;
    xmlDocPtr d = xmlCtxtReadMemory(ctxt, doc, (int)len, url, NULL,
                                    XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING |
                                        XML_PARSE_NOCDATA);
    int rc = ANPI_EPARSE;
    if (st.doctype) {
        fail->doctype = 1;
        fail->line = xmlSAX2GetLineNumber(ctxt);
    } else if (!d || !ctxt->wellFormed) {
        const xmlError *e = xmlCtxtGetLastError(ctxt);
        if (e) {
            fail->line = e->line;
            if (e->message)
                fail->message = anpi_xstrdup(e->message);
        }
    } else {
        *out = d;
        d = NULL;
        rc = ANPI_OK;
    }
    if (d)
        xmlFreeDoc(d);
    xmlFreeParserCtxt(ctxt);
    return rc;
}

void
anpi_xmlsafe_fail_free(struct anpi_xmlsafe_fail *fail)
{
    free(fail->message);
    fail->message = NULL;
}

int
anpi_xmlsafe_parse(const char *doc, size_t len, const char *url, const char *prefix,
                   const char *doctype_tail, xmlDocPtr *out, char *err, size_t errlen)
{
    if (!err)
        errlen = 0;     /* snprintf(NULL, 0, ...) writes nothing */
    struct anpi_xmlsafe_fail f;
    int rc = anpi_xmlsafe_read(doc, len, url, out, &f);
    if (rc == ANPI_ENOMEM) {
        snprintf(err, errlen, "out of memory creating the XML parser");
    } else if (rc != ANPI_OK && f.doctype) {
        snprintf(err, errlen, "%sDOCTYPE at line %d: not allowed%s", prefix, f.line,
                 doctype_tail);
    } else if (rc != ANPI_OK && f.message) {
        size_t n = strlen(f.message);
        while (n && strchr(" \t\r\n", f.message[n - 1]))
            n--;
        snprintf(err, errlen, "%snot well-formed XML at line %d: %.*s", prefix, f.line, (int)n,
                 f.message);
    } else if (rc != ANPI_OK) {
        snprintf(err, errlen, "%snot well-formed XML", prefix);
    }
    anpi_xmlsafe_fail_free(&f);
    return rc;
}

int
anpi_xmlsafe_load(const char *doc, size_t len, size_t max, const char *url,
                  const char *doctype_tail, xmlDocPtr *out, char *err, size_t errlen)
{
    *out = NULL;
    if (!err)
        errlen = 0;
    if (!doc) {
        snprintf(err, errlen, "no document");
        return ANPI_EPARSE;
    }
    if (len > max) {
        snprintf(err, errlen, "document is %zu bytes, over the %zu byte limit", len, max);
        return ANPI_ETOOBIG;
    }
    return anpi_xmlsafe_parse(doc, len, url, "", doctype_tail, out, err, errlen);
}
