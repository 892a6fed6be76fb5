/* travellers_csv.h - the traveller registry CSV (who is abroad where, when).
 *
 * Pure: bytes in, rows out, no I/O and no database.  The same rules as the
 * people CSV (engine/people_csv.h): UTF-8 with an optional BOM, CRLF or LF,
 * RFC 4180 quoting, every problem listed, nothing handed out when anything is
 * wrong. */
#ifndef ANPI_TRAVELLERS_CSV_H
#define ANPI_TRAVELLERS_CSV_H

#include <stdbool.h>
#include <stddef.h>
#include "engine/anpi.h"

#define ANPI_TRAVELLERS_CSV_MAX_INPUT   (10u * 1024 * 1024)
#define ANPI_TRAVELLERS_CSV_MAX_ROWS    200000u
#define ANPI_TRAVELLERS_CSV_MAX_FIELD   4096u
#define ANPI_TRAVELLERS_CSV_MAX_ERRORS  1000u   /* further errors are counted, not listed */

struct anpi_trip_row {
    int line;                   /* 1-based line in the input where the row starts */
    char *person_id;            /* 1..64 of [A-Za-z0-9._-], as in the people CSV */
    char country[3];            /* ISO 3166-1 alpha-2, upper case ("PE") */
    char from[11], to[11];      /* "YYYY-MM-DD", valid dates, from <= to */
};

struct anpi_travellers_csv {
    size_t nrows;
    struct anpi_trip_row *rows;
};

/* Parse a whole traveller CSV.  The header row names the columns
 * person_id,country,from,to (any order, case-insensitive; unknown, duplicate
 * or missing columns are errors).  Cells are trimmed of blanks.  country is
 * an assigned ISO 3166-1 alpha-2 code in any case; from and to are calendar
 * dates YYYY-MM-DD with to >= from and to at most 2 years after from.  A
 * person may have several trips.
 *
 * Every problem is reported into errs as "line N: column: message" (or
 * "line N: message" for the whole row).  On any error returns ANPI_EPARSE and
 * leaves *out empty.  Limits: the ANPI_TRAVELLERS_CSV_MAX_* values above. */
int anpi_travellers_csv_parse(const char *data, size_t len, struct anpi_travellers_csv *out,
                              struct anpi_errors *errs);
void anpi_travellers_csv_free(struct anpi_travellers_csv *t);

/* True if s[0..len) is an assigned ISO 3166-1 alpha-2 code (either case). */
bool anpi_iso3166_alpha2_ok(const char *s, size_t len);

#endif
