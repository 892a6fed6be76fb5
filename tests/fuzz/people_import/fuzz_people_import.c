/* fuzz_people_import.c - libFuzzer target for the directory import's
 * encoding step: UTF-8 / Shift_JIS detection, CP932 conversion, then the
 * CSV parser on the result. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "engine/people_csv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *conv = NULL;
    size_t clen = 0;
    const char *enc = NULL;
    struct anpi_errors errs = { 0 };
    int rc = anpi_people_csv_decode((const char *)data, size, &conv, &clen, &enc, &errs);
    if (rc != 0 && (conv || enc || errs.n == 0))
        abort();
    if (rc == 0) {
        if (!enc || errs.n != 0)
            abort();
        if (conv) {
            /* converted text is NUL-terminated */
            if (strcmp(enc, "Shift_JIS") != 0 || conv[clen] != '\0')
                abort();
        } else if (strcmp(enc, "UTF-8") != 0) {
            abort();
        }
    }
    free(conv);
    anpi_errors_free(&errs);

    struct anpi_people_csv out;
    rc = anpi_people_csv_parse_any((const char *)data, size, &out, &enc, &errs);
    if (rc != 0 && (out.nrows != 0 || out.rows || errs.n == 0))
        abort();
    if (rc == 0 && errs.n != 0)
        abort();
    anpi_people_csv_free(&out);
    anpi_errors_free(&errs);
    return 0;
}
