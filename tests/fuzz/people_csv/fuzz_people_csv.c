/* fuzz_people_csv.c - libFuzzer target for engine/people_csv.c. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "engine/people_csv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct anpi_people_csv out;
    struct anpi_errors errs = { 0 };
    int rc = anpi_people_csv_parse((const char *)data, size, &out, &errs);
    if (rc != 0 && (out.nrows != 0 || out.rows || errs.n == 0))
        abort();
    if (rc == 0) {
        if (errs.n != 0)
            abort();
        /* every row handed out satisfies the documented invariants */
        for (size_t i = 0; i < out.nrows; i++) {
            const struct anpi_person_row *r = &out.rows[i];
            if (!r->id || !r->name || !r->kana || r->nemails == 0 ||
                r->nemails > ANPI_PEOPLE_CSV_MAX_VALUES)
                abort();
            for (size_t k = 0; k < r->nemails; k++)
                if (!anpi_mail_addr_ok(r->emails[k], strlen(r->emails[k])))
                    abort();
            for (size_t k = 0; k < r->nregions; k++)
                if (r->regions[k] < 1 || r->regions[k] > 47)
                    abort();
        }
    }
    anpi_people_csv_free(&out);
    anpi_errors_free(&errs);
    return 0;
}
