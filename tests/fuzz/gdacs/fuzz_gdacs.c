/* fuzz_gdacs.c - libFuzzer target for anpi_gdacs_parse.
 *
 * Besides memory safety it checks the parser's contract: an error leaves
 * the list untouched and says why; every event is complete (type, source,
 * doc_id, country consistent with countries, level in range) and survives
 * event -> JSON text -> event -> JSON unchanged. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <libxml/parser.h>

#include "engine/anpi.h"
#include "engine/log.h"
#include "feeds/event.h"
#include "feeds/event_json.h"
#include "feeds/feed.h"
#include "feeds/overseas/country.h"
#include "feeds/overseas/gdacs.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
silence(void *ctx, const char *msg, ...)
{
    (void)ctx;
    (void)msg;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int init;
    if (!init) {
        xmlSetGenericErrorFunc(NULL, silence);
        anpi_log_set_level(ANPI_LOG_ERROR);   /* skipped items warn; keep the run quiet */
        init = 1;
    }
    struct anpi_event_list l = { 0 };
    char err[256];
    int rc = anpi_gdacs_parse((const char *)data, size, &l, err, sizeof(err));
    if (rc != 0) {
        if (l.n != 0 || l.ev != NULL || err[0] == '\0')
            abort();
        return 0;
    }
    for (size_t i = 0; i < l.n; i++) {
        const struct anpi_event *ev = l.ev[i];
        if (ev->type != ANPI_EV_OVERSEAS || strcmp(ev->source, "gdacs") != 0 ||
            !ev->doc_id[0] || !ev->event_key[0] || !ev->title || !ev->description || !ev->url ||
            !ev->risk_kind || ev->risk_level < 0 || ev->risk_level > 4)
            abort();
        if (ev->ncountries ? strcmp(ev->country, ev->countries[0]) != 0 : ev->country[0] != '\0')
            abort();
        for (size_t c = 0; c < ev->ncountries; c++)
            if (!anpi_country_by_alpha2(ev->countries[c]))
                abort();
        json_t *j1 = anpi_event_to_json(ev);
        if (!j1)
            abort();   /* libxml2 hands out valid UTF-8 only */
        char *text = json_dumps(j1, JSON_COMPACT);
        json_error_t jerr;
        json_t *parsed = text ? json_loads(text, 0, &jerr) : NULL;
        struct anpi_event *back = NULL;
        if (!parsed || anpi_event_from_json(parsed, &back, err, sizeof(err)) != 0)
            abort();
        json_t *j2 = anpi_event_to_json(back);
        if (!j2 || !json_equal(j1, j2))
            abort();
        json_decref(j1);
        json_decref(j2);
        json_decref(parsed);
        free(text);
        anpi_event_free(back);
    }
    anpi_event_list_free(&l);
    return 0;
}
