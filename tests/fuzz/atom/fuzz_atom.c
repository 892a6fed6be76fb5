/* fuzz_atom.c - libFuzzer target for anpi_atom_parse (feed XML is outside
 * input).  Checks the parser's promises on every input: on success every
 * entry has an http(s) href; on failure the output is empty and err says
 * why. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "engine/log.h"
#include "feeds/poll/atom.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int quiet;
    if (!quiet) {
        anpi_log_set_level(ANPI_LOG_ERROR);   /* skipped-entry warnings are expected */
        quiet = 1;
    }
    struct anpi_atom_feed f;
    char err[256];
    int rc = anpi_atom_parse((const char *)data, size, &f, err, sizeof(err));
    if (rc == 0) {
        for (size_t i = 0; i < f.n; i++) {
            const char *h = f.entries[i].href;
            if (!h || (strncasecmp(h, "http://", 7) != 0 && strncasecmp(h, "https://", 8) != 0))
                abort();
        }
    } else if (f.n != 0 || f.entries != NULL || err[0] == '\0') {
        abort();
    }
    anpi_atom_free(&f);
    return 0;
}
