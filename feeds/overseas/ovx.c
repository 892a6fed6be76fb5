/* ovx.c - shared XML reading for the overseas feeds (see ovx.h). */
#include "feeds/overseas/ovx.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/tree.h>

#include "feeds/xmlsafe.h"

void
anpi_ovx_err(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || errlen == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

static int
blank(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

size_t
anpi_ovx_skip_head(const char *doc, size_t len)
{
    size_t i = 0;
    if (len >= 3 && (unsigned char)doc[0] == 0xEF && (unsigned char)doc[1] == 0xBB &&
        (unsigned char)doc[2] == 0xBF)
        i = 3;
    while (i < len && blank(doc[i]))
        i++;
    return i;
}

int
anpi_ovx_read(const char *doc, size_t len, size_t max, const char *what, xmlDocPtr *out,
              char *err, size_t errlen)
{
    *out = NULL;
    if (!doc) {
        anpi_ovx_err(err, errlen, "no %s document", what);
        return ANPI_EPARSE;
    }
    if (len > max) {
        anpi_ovx_err(err, errlen, "%s document is %zu bytes, over the %zu byte limit", what, len,
                     max);
        return ANPI_ETOOBIG;
    }
    /* The BOM is skipped here rather than left to libxml2 so that a BOM
     * followed by blanks and then the declaration is accepted too. */
    size_t skip = anpi_ovx_skip_head(doc, len);
    char *prefix = anpi_xasprintf("%s: ", what);
    xmlDocPtr d;
    int rc = anpi_xmlsafe_parse(doc + skip, len - skip, what, prefix, "", &d, err, errlen);
    free(prefix);
    if (rc != ANPI_OK)
        return rc;
    if (!xmlDocGetRootElement(d)) {
        anpi_ovx_err(err, errlen, "%s: document has no root element", what);
        xmlFreeDoc(d);
        return ANPI_EPARSE;
    }
    *out = d;
    return ANPI_OK;
}

int
anpi_ovx_is(const xmlNode *n, const char *ns, const char *name)
{
    if (!n || n->type != XML_ELEMENT_NODE || strcmp((const char *)n->name, name) != 0)
        return 0;
    if (!ns)
        return n->ns == NULL || n->ns->href == NULL || n->ns->href[0] == '\0';
    return n->ns && n->ns->href && strcmp((const char *)n->ns->href, ns) == 0;
}

xmlNode *
anpi_ovx_child(const xmlNode *parent, const char *ns, const char *name)
{
    if (!parent)
        return NULL;
    for (xmlNode *n = parent->children; n; n = n->next)
        if (anpi_ovx_is(n, ns, name))
            return n;
    return NULL;
}

xmlNode *
anpi_ovx_next(const xmlNode *n, const char *ns, const char *name)
{
    for (n = n->next; n; n = n->next)
        if (anpi_ovx_is(n, ns, name))
            return (xmlNode *)n;
    return NULL;
}

char *
anpi_ovx_text(const xmlNode *n)
{
    if (!n)
        return anpi_xstrdup("");
    xmlChar *c = xmlNodeGetContent(n);
    if (!c)
        return anpi_xstrdup("");
    const char *s = (const char *)c;
    size_t len = strlen(s);
    size_t b = 0;
    while (b < len && blank(s[b]))
        b++;
    while (len > b && blank(s[len - 1]))
        len--;
    char *r = anpi_xstrndup(s + b, len - b);
    xmlFree(c);
    return r;
}

char *
anpi_ovx_child_text(const xmlNode *parent, const char *ns, const char *name)
{
    return anpi_ovx_text(anpi_ovx_child(parent, ns, name));
}
