/* fuzz_people_csv.c - libFuzzer target for engine/people_csv.c. */
#include <stdbool.h>
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
            /* a city is a real municipality code and its prefecture is
             * one of the regions */
            for (size_t k = 0; k < r->ncities; k++) {
                int c = r->cities[k];
                bool pref_in = false;
                for (size_t j = 0; j < r->nregions; j++)
                    pref_in |= r->regions[j] == c / 1000;
                if (c < 1001 || c > 47999 || c % 1000 == 0 || !pref_in)
                    abort();
            }
            /* attributes only with the column; keys non-empty and unique */
            if ((!out.has_attributes && r->nattrs) || r->nattrs > ANPI_PEOPLE_CSV_MAX_ATTRS)
                abort();
            for (size_t k = 0; k < r->nattrs; k++) {
                if (!r->attrs[k].key[0] || strchr(r->attrs[k].key, '=') ||
                    strchr(r->attrs[k].key, ';') || strchr(r->attrs[k].value, ';'))
                    abort();
                for (size_t j = 0; j < k; j++)
                    if (strcmp(r->attrs[j].key, r->attrs[k].key) == 0)
                        abort();
            }
        }
    }
    anpi_people_csv_free(&out);
    anpi_errors_free(&errs);
    return 0;
}
