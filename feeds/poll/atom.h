/* atom.h - Atom feed parser for the JMA PULL feeds (outside input).
 *
 * libxml2 with no network access, no DTD (a document carrying one is
 * rejected), no entity substitution and a size cap. */
#ifndef ANPI_FEEDS_POLL_ATOM_H
#define ANPI_FEEDS_POLL_ATOM_H

#include <stddef.h>
#include <stdint.h>

#define ANPI_ATOM_MAX_BYTES (10u * 1024 * 1024)

struct anpi_atom_entry {
    char *id;
    char *href;         /* the document URL (http or https); never NULL */
    char *title;        /* NULL when absent */
    char *updated;      /* as written, NULL when absent */
    int64_t updated_at; /* ms since the epoch, 0 when absent or unreadable */
    char *author;       /* author/name, NULL when absent */
};

struct anpi_atom_feed {
    char *title;
    char *updated;
    size_t n;
    struct anpi_atom_entry *entries;   /* in document order */
};

/* Parse an Atom feed.  Entry href: the link with type application/xml, else
 * the first link with an href; when that is not an absolute http(s) URL, the
 * entry id if it is one.  Entries without a usable URL are skipped with a
 * warning.  Returns 0, ANPI_EPARSE (not XML, not Atom, DTD present) or
 * ANPI_ETOOBIG; on error err holds "line N: what" and *out is empty. */
int anpi_atom_parse(const char *xml, size_t len, struct anpi_atom_feed *out,
                    char *err, size_t errlen);
void anpi_atom_free(struct anpi_atom_feed *f);

/* RFC 3339 date-time ("2024-03-12T05:12:33Z", "...+09:00", fractions
 * allowed) to ms since the epoch.  Returns 0 or ANPI_EPARSE. */
int anpi_atom_parse_time(const char *s, int64_t *out_ms);

#endif
