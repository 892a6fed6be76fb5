/* fuzz_travellers_csv.c - libFuzzer target for engine/travellers_csv.c. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "engine/travellers_csv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
date_ok(const char *d)
{
    if (strlen(d) != 10 || d[4] != '-' || d[7] != '-')
        return 0;
    for (int i = 0; i < 10; i++)
        if (i != 4 && i != 7 && (d[i] < '0' || d[i] > '9'))
            return 0;
    return 1;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct anpi_travellers_csv out;
    struct anpi_errors errs = { 0 };
    int rc = anpi_travellers_csv_parse((const char *)data, size, &out, &errs);
    if (rc != 0 && (out.nrows != 0 || out.rows || errs.n == 0))
        abort();
    if (rc == 0) {
        if (errs.n != 0)
            abort();
        /* every row handed out satisfies the documented invariants */
        for (size_t i = 0; i < out.nrows; i++) {
            const struct anpi_trip_row *r = &out.rows[i];
            size_t idlen = r->person_id ? strlen(r->person_id) : 0;
            if (idlen == 0 || idlen > 64 || strspn(r->person_id,
                    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") != idlen)
                abort();
            if (!anpi_iso3166_alpha2_ok(r->country, strlen(r->country)) ||
                r->country[0] < 'A' || r->country[0] > 'Z' || r->country[1] < 'A' ||
                r->country[1] > 'Z')
                abort();
            /* ISO dates compare as strings */
            if (!date_ok(r->from) || !date_ok(r->to) || strcmp(r->from, r->to) > 0)
                abort();
            if (r->line < 2 || (i > 0 && r->line <= out.rows[i - 1].line))
                abort();
        }
    }
    anpi_travellers_csv_free(&out);
    anpi_errors_free(&errs);
    return 0;
}
