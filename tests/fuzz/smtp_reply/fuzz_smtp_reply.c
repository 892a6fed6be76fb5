/* fuzz_smtp_reply.c - the incremental reply parser fed in chunks whose sizes
 * come from the input itself (first byte seeds the chunk pattern). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "channels/smtp_reply.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    unsigned seed = data[0];
    data++;
    size--;
    struct anpi_smtp_reply_parser p;
    anpi_smtp_reply_init(&p);
    size_t off = 0;
    while (off < size) {
        seed = seed * 1103515245u + 12345u;
        size_t chunk = 1 + (seed >> 16) % 64;
        if (chunk > size - off)
            chunk = size - off;
        size_t pos = 0;
        while (pos < chunk) {
            size_t used = 0;
            struct anpi_smtp_reply r;
            int rc = anpi_smtp_reply_feed(&p, (const char *)data + off + pos, chunk - pos,
                                          &used, &r);
            if (rc < 0)
                goto out;
            if (used > chunk - pos)
                abort();
            if (rc == 1) {
                if (r.code < 200 || r.code > 599 || r.nlines == 0 ||
                    r.nlines > ANPI_SMTP_REPLY_LINES_MAX || strlen(r.lines) != r.lines_len)
                    abort();
            } else if (used != chunk - pos) {
                abort();
            }
            pos += used;
            if (rc == 0)
                break;
        }
        off += chunk;
    }
out:
    anpi_smtp_reply_free(&p);
    return 0;
}
