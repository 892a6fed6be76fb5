/* fuzz_dsn.c - the bounce parser and the MIME reader under it.  The input is
 * copied to a buffer of exactly its size so reads past the end are caught. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "channels/dsn.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *msg = malloc(size ? size : 1);
    if (size)
        memcpy(msg, data, size);
    struct anpi_dsn d;
    char err[256];
    int rc = anpi_dsn_parse(msg, size, &d, err, sizeof(err));
    if (rc == 0) {
        /* a success always names at least one recipient with a known class */
        if (d.nrcpts == 0)
            abort();
        for (size_t i = 0; i < d.nrcpts; i++)
            if ((unsigned)d.rcpts[i].cls > ANPI_DSN_UNPARSED || strlen(d.rcpts[i].status) > 15)
                abort();
    } else if (rc != ANPI_DECLINED && rc != ANPI_EPARSE && rc != ANPI_ETOOBIG) {
        abort();
    } else if (!err[0]) {
        abort();                  /* every failure says why */
    }
    anpi_dsn_free(&d);

    /* encoded words on the input as one header value */
    char *s = malloc(size + 1);
    memcpy(s, data, size);
    s[size] = '\0';
    struct anpi_buf b;
    anpi_buf_init(&b, 64 * 1024);
    (void)anpi_mimer_decode_words(s, &b);
    anpi_buf_free(&b);
    free(s);
    free(msg);
    return 0;
}
