/* sources.c - the table of feed sources and their parsers. */
#include "feeds/feed.h"

#include <stdlib.h>
#include <string.h>

#include "engine/anpi.h"
#include "feeds/cap/cap.h"
#include "feeds/jma/jma_xml.h"
#include "feeds/overseas/gdacs.h"
#include "feeds/overseas/mofa.h"
#include "feeds/qzss/dcx.h"

void
anpi_event_list_push(struct anpi_event_list *l, struct anpi_event *ev)
{
    l->ev = anpi_xrealloc(l->ev, (l->n + 1) * sizeof(*l->ev));
    l->ev[l->n++] = ev;
}

void
anpi_event_list_free(struct anpi_event_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        anpi_event_free(l->ev[i]);
    free(l->ev);
    l->ev = NULL;
    l->n = 0;
}

static int
parse_jma(const char *doc, size_t len, struct anpi_event_list *out, char *err, size_t errlen)
{
    struct anpi_event *ev = NULL;
    int rc = anpi_jma_parse(doc, len, &ev, err, errlen);
    if (rc == ANPI_OK)
        anpi_event_list_push(out, ev);
    return rc;
}

static const struct anpi_feed_source sources[] = {
    { "jma", parse_jma },
    { "cap", anpi_cap_parse },
    { "qzss", anpi_qzss_parse },
    { "mofa", anpi_mofa_parse },
    { "gdacs", anpi_gdacs_parse },
};

const struct anpi_feed_source *
anpi_feed_source_find(const char *name)
{
    for (size_t i = 0; name && i < ANPI_ARRAY_LEN(sources); i++)
        if (strcmp(sources[i].name, name) == 0)
            return &sources[i];
    return NULL;
}

const char *
anpi_feed_source_names(void)
{
    return "jma, cap, qzss, mofa, gdacs";
}
