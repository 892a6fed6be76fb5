/* fuzz_cap.c - libFuzzer target for anpi_cap_parse.
 *
 * Besides memory safety: a failure leaves no event and says why; every
 * event has its identity, a known type/status/phase and only prefecture
 * bits 1..47. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>

#include "engine/anpi.h"
#include "feeds/cap/cap.h"
#include "feeds/event.h"
#include "feeds/feed.h"

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
        init = 1;
    }
    struct anpi_event_list l = { 0 };
    char err[256];
    int rc = anpi_cap_parse((const char *)data, size, &l, err, sizeof(err));
    if (rc != 0) {
        if (l.n || err[0] == '\0')
            abort();
        return 0;
    }
    const anpi_prefset valid = ((anpi_prefset)1 << (ANPI_PREF_COUNT + 1)) - 2;
    for (size_t i = 0; i < l.n; i++) {
        const struct anpi_event *ev = l.ev[i];
        if (!ev->doc_id || !*ev->doc_id || !ev->event_key || !*ev->event_key ||
            strcmp(ev->source, "cap") != 0 || !ev->title || !ev->headline || !ev->description)
            abort();
        if (ev->type != ANPI_EV_MISSILE && ev->type != ANPI_EV_UNKNOWN)
            abort();
        if (ev->type == ANPI_EV_MISSILE && ev->target_prefs == 0)
            abort();   /* a missile event always knows its targets */
        if ((ev->target_prefs & ~valid) || ev->missile_phase > ANPI_MS_OTHER ||
            ev->status > ANPI_ST_TEST || ev->info_type > ANPI_IT_DELAY)
            abort();
        for (size_t j = 0; j < i; j++)
            if (strcmp(ev->doc_id, l.ev[j]->doc_id) == 0)
                abort();
    }
    anpi_event_list_free(&l);
    return 0;
}
