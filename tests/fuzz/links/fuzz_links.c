/* fuzz_links.c - the login-free link token decoder (engine/links.c).
 *
 * Any input must either be refused or decode to a (kind, id) whose
 * re-encoding is exactly the input: no other string may be accepted. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "engine/anpi.h"
#include "engine/engine.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const unsigned char key[32] = "anpi-fuzz-key-0123456789abcdef!";
    char *s = malloc(size + 1);
    if (!s)
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    enum anpi_link_kind kind;
    int64_t id;
    if (anpi_link_parse(key, s, &kind, &id) == ANPI_OK) {
        char again[ANPI_LINK_TOKEN_LEN + 1];
        anpi_link_make(key, kind, id, again);
        if (strcmp(again, s) != 0)
            abort();
    }
    /* every id must round-trip */
    if (size >= 8) {
        int64_t v;
        memcpy(&v, data, sizeof(v));
        if (v < 0)
            v = -(v + 1);
        char tok[ANPI_LINK_TOKEN_LEN + 1];
        anpi_link_make(key, ANPI_LINK_REPLY, v, tok);
        if (anpi_link_parse(key, tok, &kind, &id) != ANPI_OK || id != v || kind != ANPI_LINK_REPLY)
            abort();
    }
    free(s);
    return 0;
}
