/* jmx_dom.c - libxml2 tree helpers shared by the JMA XML readers. */
#include "feeds/jma/jmx_dom.h"

#include <stdlib.h>
#include <string.h>

#include "engine/anpi.h"

int
anpi_jmx_is(const xmlNode *n, const char *ns, const char *name)
{
    if (!n || n->type != XML_ELEMENT_NODE || strcmp((const char *)n->name, name) != 0)
        return 0;
    if (!ns)
        return 1;
    return n->ns && n->ns->href && strcmp((const char *)n->ns->href, ns) == 0;
}

xmlNode *
anpi_jmx_child(const xmlNode *parent, const char *ns, const char *name)
{
    if (!parent)
        return NULL;
    for (xmlNode *n = parent->children; n; n = n->next)
        if (anpi_jmx_is(n, ns, name))
            return n;
    return NULL;
}

xmlNode *
anpi_jmx_next(const xmlNode *n, const char *ns, const char *name)
{
    if (!n)
        return NULL;
    for (n = n->next; n; n = n->next)
        if (anpi_jmx_is(n, ns, name))
            return (xmlNode *)n;
    return NULL;
}

static int
is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static char *
trimmed(const char *s)
{
    while (is_space(*s))
        s++;
    size_t len = strlen(s);
    while (len && is_space(s[len - 1]))
        len--;
    return anpi_xstrndup(s, len);
}

char *
anpi_jmx_text(const xmlNode *n)
{
    if (!n)
        return NULL;
    xmlChar *c = xmlNodeGetContent(n);
    if (!c)
        return anpi_xstrdup("");
    char *r = trimmed((const char *)c);
    xmlFree(c);
    return r;
}

char *
anpi_jmx_text0(const xmlNode *n)
{
    char *t = anpi_jmx_text(n);
    return t ? t : anpi_xstrdup("");
}

char *
anpi_jmx_attr(const xmlNode *n, const char *name)
{
    if (!n)
        return NULL;
    xmlChar *v = xmlGetNoNsProp(n, (const xmlChar *)name);
    if (!v)
        return NULL;
    char *r = anpi_xstrdup((const char *)v);
    xmlFree(v);
    return r;
}

int
anpi_jmx_attr_is(const xmlNode *n, const char *name, const char *value)
{
    char *v = anpi_jmx_attr(n, name);
    int eq = v && strcmp(v, value) == 0;
    free(v);
    return eq;
}

enum anpi_intensity
anpi_jmx_stronger(enum anpi_intensity a, enum anpi_intensity b)
{
    int ra = anpi_intensity_rank(a), rb = anpi_intensity_rank(b);
    if (ra != rb)
        return ra > rb ? a : b;
    return a == ANPI_INT_5L_UNREPORTED ? b : a;
}

enum anpi_intensity
anpi_jmx_intensity(const xmlNode *n)
{
    char *t = anpi_jmx_text(n);
    enum anpi_intensity v = ANPI_INT_NONE;
    if (t && anpi_intensity_parse(t, &v) != 0)
        v = ANPI_INT_NONE;
    free(t);
    return v;
}

void
anpi_jmx_append_line(char **text, const char *line)
{
    if (!line)
        return;
    char *l = trimmed(line);
    if (!*l) {
        free(l);
        return;
    }
    size_t have = *text ? strlen(*text) : 0;
    if (have >= ANPI_JMX_TEXT_MAX) {
        free(l);
        return;
    }
    size_t add = strlen(l), room = ANPI_JMX_TEXT_MAX - have - (have ? 1 : 0);
    if (add > room) {
        add = room;
        /* never end inside a UTF-8 sequence */
        while (add > 0 && ((unsigned char)l[add] & 0xC0) == 0x80)
            add--;
    }
    char *r = anpi_xmalloc(have + 1 + add + 1);
    size_t pos = 0;
    if (have) {
        memcpy(r, *text, have);
        r[have] = '\n';
        pos = have + 1;
    }
    memcpy(r + pos, l, add);
    r[pos + add] = '\0';
    free(*text);
    free(l);
    *text = r;
}
