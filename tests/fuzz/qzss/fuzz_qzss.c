/* fuzz_qzss.c - libFuzzer target for the QZSS DCX receiver-log parser.
 *
 * Besides memory safety: a failure leaves no event and says why; the counts
 * add up; every event is a missile event with a unique doc_id and only
 * prefecture bits 1..47. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "engine/anpi.h"
#include "feeds/event.h"
#include "feeds/feed.h"
#include "feeds/qzss/dcx.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct anpi_event_list l = { 0 };
    struct anpi_qzss_stats st;
    char err[256];
    int rc = anpi_qzss_parse_stats((const char *)data, size, &l, &st, err, sizeof(err));
    if (rc != 0) {
        if (l.n || err[0] == '\0')
            abort();
        return 0;
    }
    if (st.events != l.n || st.duplicates > st.dcx ||
        st.malformed + st.bad_checksum + st.bad_frame + st.dcr + st.other_mt + st.dcx !=
            st.sentences)
        abort();
    const anpi_prefset valid = ((anpi_prefset)1 << (ANPI_PREF_COUNT + 1)) - 2;
    for (size_t i = 0; i < l.n; i++) {
        const struct anpi_event *ev = l.ev[i];
        if (ev->type != ANPI_EV_MISSILE || strncmp(ev->doc_id, "dcx:", 4) != 0 ||
            strlen(ev->doc_id) != 53 || !ev->event_key || !ev->headline || !ev->hazard ||
            (ev->target_prefs & ~valid) || ev->missile_phase > ANPI_MS_OTHER)
            abort();
        for (size_t j = 0; j < i; j++)
            if (strcmp(ev->doc_id, l.ev[j]->doc_id) == 0)
                abort();
    }
    anpi_event_list_free(&l);
    return 0;
}
