/* atom.c - Atom feed parser (libxml2 tree API).
 *
 * The feed is outside input: libxml2 runs without network access and without
 * entity substitution, and a DOCTYPE stops the parse at once (Atom has no
 * DTD, so one can only be an attempt at entity expansion or external
 * fetches). */
#include "feeds/poll/atom.h"

#include <ctype.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libxml/parser.h>
#include <libxml/tree.h>

#include "engine/anpi.h"
#include "engine/log.h"
#include "feeds/xmlsafe.h"

#define ATOM_NS "http://www.w3.org/2005/Atom"

static int
is_atom(const xmlNode *n, const char *name)
{
    if (n->type != XML_ELEMENT_NODE || strcmp((const char *)n->name, name) != 0)
        return 0;
    /* Old or hand-made feeds sometimes omit the namespace; accept those, but
     * never an element that belongs to another vocabulary. */
    return n->ns == NULL || (n->ns->href && strcmp((const char *)n->ns->href, ATOM_NS) == 0);
}

/* Trimmed text content, or NULL when empty. */
static char *
text_of(const xmlNode *n)
{
    xmlChar *c = xmlNodeGetContent(n);
    if (!c)
        return NULL;
    const char *s = (const char *)c;
    while (*s && isspace((unsigned char)*s))
        s++;
    size_t len = strlen(s);
    while (len > 0 && isspace((unsigned char)s[len - 1]))
        len--;
    char *r = len ? anpi_xstrndup(s, len) : NULL;
    xmlFree(c);
    return r;
}

static char *
attr_of(const xmlNode *n, const char *name)
{
    xmlChar *v = xmlGetNoNsProp(n, (const xmlChar *)name);
    if (!v)
        return NULL;
    char *r = anpi_xstrdup((const char *)v);
    xmlFree(v);
    return r;
}

static int
is_http_url(const char *s)
{
    if (!s)
        return 0;
    size_t skip;
    if (strncasecmp(s, "http://", 7) == 0)
        skip = 7;
    else if (strncasecmp(s, "https://", 8) == 0)
        skip = 8;
    else
        return 0;
    if (s[skip] == '\0' || s[skip] == '/')
        return 0;                       /* no host */
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p <= 0x20 || *p == 0x7f)
            return 0;                   /* whitespace or control characters */
    return 1;
}

static int
digits(const char *s, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

int
anpi_atom_parse_time(const char *s, int64_t *out_ms)
{
    int Y, M, D, h, m, sec;
    if (!s || strlen(s) < 20)
        return ANPI_EPARSE;
    if (digits(s, 4, &Y) || s[4] != '-' || digits(s + 5, 2, &M) || s[7] != '-' ||
        digits(s + 8, 2, &D) || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
        digits(s + 11, 2, &h) || s[13] != ':' || digits(s + 14, 2, &m) || s[16] != ':' ||
        digits(s + 17, 2, &sec))
        return ANPI_EPARSE;
    if (Y < 1970 || M < 1 || M > 12 || D < 1 || D > 31 || h > 23 || m > 59 || sec > 60)
        return ANPI_EPARSE;
    const char *p = s + 19;
    int ms = 0;
    if (*p == '.') {
        p++;
        if (*p < '0' || *p > '9')
            return ANPI_EPARSE;
        int scale = 100;
        for (; *p >= '0' && *p <= '9'; p++) {
            ms += (*p - '0') * scale;
            scale /= 10;
        }
    }
    int off = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int oh, om;
        if (digits(p + 1, 2, &oh) || p[3] != ':' || digits(p + 4, 2, &om) || oh > 23 || om > 59)
            return ANPI_EPARSE;
        off = (oh * 60 + om) * 60 * (*p == '-' ? -1 : 1);
        p += 6;
    } else {
        return ANPI_EPARSE;
    }
    if (*p != '\0')
        return ANPI_EPARSE;
    struct tm tm = { 0 };
    tm.tm_year = Y - 1900;
    tm.tm_mon = M - 1;
    tm.tm_mday = D;
    tm.tm_hour = h;
    tm.tm_min = m;
    tm.tm_sec = sec;
    time_t t = timegm(&tm);
    if (t == (time_t)-1)
        return ANPI_EPARSE;
    *out_ms = ((int64_t)t - off) * 1000 + ms;
    return ANPI_OK;
}

static void
entry_free(struct anpi_atom_entry *e)
{
    free(e->id);
    free(e->href);
    free(e->title);
    free(e->updated);
    free(e->author);
}

/* Fill e from an <entry>; returns 0, or -1 when it has no usable URL. */
static int
read_entry(const xmlNode *en, struct anpi_atom_entry *e)
{
    memset(e, 0, sizeof(*e));
    char *first_link = NULL, *xml_link = NULL;
    for (const xmlNode *c = en->children; c; c = c->next) {
        if (is_atom(c, "id") && !e->id) {
            e->id = text_of(c);
        } else if (is_atom(c, "title") && !e->title) {
            e->title = text_of(c);
        } else if (is_atom(c, "updated") && !e->updated) {
            e->updated = text_of(c);
        } else if (is_atom(c, "author") && !e->author) {
            for (const xmlNode *a = c->children; a; a = a->next)
                if (is_atom(a, "name")) {
                    e->author = text_of(a);
                    break;
                }
        } else if (is_atom(c, "link")) {
            char *href = attr_of(c, "href");
            if (!href)
                continue;
            char *type = attr_of(c, "type");
            if (!xml_link && type && strcmp(type, "application/xml") == 0)
                xml_link = anpi_xstrdup(href);
            free(type);
            if (!first_link)
                first_link = href;
            else
                free(href);
        }
    }
    char *pick = xml_link ? xml_link : first_link;
    if (is_http_url(pick))
        e->href = anpi_xstrdup(pick);
    else if (is_http_url(e->id))
        e->href = anpi_xstrdup(e->id);
    free(xml_link);
    free(first_link);
    if (!e->href)
        return -1;
    if (e->updated && anpi_atom_parse_time(e->updated, &e->updated_at) != 0)
        e->updated_at = 0;
    return 0;
}

int
anpi_atom_parse(const char *xml, size_t len, struct anpi_atom_feed *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    if (errlen)
        err[0] = '\0';
    if (len > ANPI_ATOM_MAX_BYTES) {
        snprintf(err, errlen, "feed too large: %zu bytes, limit %u", len, ANPI_ATOM_MAX_BYTES);
        return ANPI_ETOOBIG;
    }
    if (len == 0) {
        snprintf(err, errlen, "empty document");
        return ANPI_EPARSE;
    }
    xmlInitParser();
    /* The feed is hostile: feeds/xmlsafe.c refuses DOCTYPE and the network. */
    xmlDocPtr doc;
    struct anpi_xmlsafe_fail fail;
    int rc = anpi_xmlsafe_read(xml, len, NULL, &doc, &fail);
    if (rc == ANPI_ENOMEM) {
        snprintf(err, errlen, "out of memory");
        return ANPI_ENOMEM;
    }
    if (rc != ANPI_OK && fail.doctype) {
        snprintf(err, errlen, "line %d: DOCTYPE not allowed in a feed", fail.line);
    } else if (rc != ANPI_OK && fail.message) {
        size_t n = strlen(fail.message);
        while (n > 0 && (fail.message[n - 1] == '\n' || fail.message[n - 1] == ' '))
            n--;
        snprintf(err, errlen, "line %d: not well-formed XML: %.*s", fail.line, (int)n,
                 fail.message);
    } else if (rc != ANPI_OK) {
        snprintf(err, errlen, "not well-formed XML");
    }
    anpi_xmlsafe_fail_free(&fail);
    xmlNodePtr root = doc && rc == ANPI_OK ? xmlDocGetRootElement(doc) : NULL;
    if (rc == ANPI_OK && (!root || !is_atom(root, "feed"))) {
        snprintf(err, errlen, "line %d: not an Atom feed: root element is <%s>",
                 root ? root->line : 1, root ? (const char *)root->name : "(none)");
        rc = ANPI_EPARSE;
    }
    if (rc == ANPI_OK) {
        size_t cap = 0;
        for (const xmlNode *c = root->children; c; c = c->next) {
            if (is_atom(c, "title") && !out->title) {
                out->title = text_of(c);
            } else if (is_atom(c, "updated") && !out->updated) {
                out->updated = text_of(c);
            } else if (is_atom(c, "entry")) {
                struct anpi_atom_entry e;
                if (read_entry(c, &e) != 0) {
                    anpi_warn(ANPI_LG_FEED, "atom: entry at line %u (id %s) has no http(s) URL; skipped",
                              c->line, e.id ? e.id : "none");
                    entry_free(&e);
                    continue;
                }
                if (out->n == cap) {
                    cap = cap ? cap * 2 : 16;
                    out->entries = anpi_xrealloc(out->entries, cap * sizeof(*out->entries));
                }
                out->entries[out->n++] = e;
            }
        }
    }
    if (doc)
        xmlFreeDoc(doc);
    if (rc != ANPI_OK)
        anpi_atom_free(out);
    return rc;
}

void
anpi_atom_free(struct anpi_atom_feed *f)
{
    if (!f)
        return;
    for (size_t i = 0; i < f->n; i++)
        entry_free(&f->entries[i]);
    free(f->entries);
    free(f->title);
    free(f->updated);
    memset(f, 0, sizeof(*f));
}
