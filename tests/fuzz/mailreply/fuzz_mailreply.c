/* fuzz_mailreply.c - the mail-reply parser, then choice mapping of the line
 * it found and of the raw input. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "channels/mailreply.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const choices[] = {
        "\xE7\x84\xA1\xE4\xBA\x8B", "\xE8\xBB\xBD\xE5\x82\xB7", "Help",
    };
    char *msg = malloc(size ? size : 1);
    if (size)
        memcpy(msg, data, size);
    struct anpi_mailreply r;
    char err[256];
    int rc = anpi_mailreply_parse(msg, size, &r, err, sizeof(err));
    if (rc != 0 && rc != ANPI_EPARSE && rc != ANPI_ETOOBIG)
        abort();
    if (r.first_line) {
        if (strlen(r.first_line) > ANPI_MAILREPLY_LINE_MAX || !r.first_line[0])
            abort();
        int c = anpi_mailreply_choice(r.first_line, choices, 3);
        if (c < -1 || c > 2)
            abort();
    }
    if (r.nrefs > ANPI_MAILREPLY_REFS_MAX)
        abort();
    anpi_mailreply_free(&r);

    char *s = malloc(size + 1);
    memcpy(s, data, size);
    s[size] = '\0';
    int c = anpi_mailreply_choice(s, choices, 3);
    if (c < -1 || c > 2)
        abort();
    free(s);
    free(msg);
    return 0;
}
