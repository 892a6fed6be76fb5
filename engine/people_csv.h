/* people_csv.h - the staff directory CSV (HR export) parser.
 *
 * Pure: bytes in, rows out, no I/O and no database.  The directory module
 * applies the rows; this file only decides whether the input is acceptable,
 * and if it is not, lists every problem so HR can fix the export in one go. */
#ifndef ANPI_PEOPLE_CSV_H
#define ANPI_PEOPLE_CSV_H

#include <stdbool.h>
#include <stddef.h>
#include "engine/anpi.h"

#define ANPI_PEOPLE_CSV_MAX_INPUT   (50u * 1024 * 1024)
#define ANPI_PEOPLE_CSV_MAX_ROWS    200000u
#define ANPI_PEOPLE_CSV_MAX_FIELD   (64u * 1024)
#define ANPI_PEOPLE_CSV_MAX_VALUES  16u   /* emails, regions, groups per person */
#define ANPI_PEOPLE_CSV_MAX_ERRORS  1000u /* further errors are counted, not listed */

struct anpi_person_row {
    int line;                  /* 1-based line in the input where the row starts */
    char *id, *name, *kana;    /* kana is "" when the cell is empty */
    size_t nemails; char **emails;      /* domain part lower-cased, duplicates collapsed */
    size_t nregions; int *regions;      /* prefecture codes 1..47 */
    size_t ngroups; char **groups;      /* group names or paths like "本省/大臣官房" */
};

struct anpi_people_csv { size_t nrows; struct anpi_person_row *rows; };

/* Parse a whole people CSV (UTF-8, optional BOM, CRLF or LF, RFC 4180 quoting
 * incl. quoted newlines and "" escapes).  The header row must name the columns
 * id,name,kana,emails,regions,groups (any order; unknown or duplicate columns
 * are errors; a missing column is an error).  Multi-valued fields are
 * separated by ';' with surrounding white space trimmed.  Regions are
 * prefecture codes ("13", "01", "1") or prefecture names ("東京都").
 *
 * Every problem is reported into errs as "line N: column: message" (or
 * "line N: message" for problems of the whole row).  On any error returns
 * ANPI_EPARSE and leaves *out empty: nothing is partially applied.  Limits:
 * the ANPI_PEOPLE_CSV_MAX_* values above. */
int anpi_people_csv_parse(const char *data, size_t len, struct anpi_people_csv *out,
                          struct anpi_errors *errs);
void anpi_people_csv_free(struct anpi_people_csv *p);

/* True if s[0..len) is a plausible mail address: local@domain, ASCII, no
 * white space or control characters, one '@', a domain of at least two
 * LDH labels, at most 254 bytes.  Dots in the local part are not policed
 * because Japanese mobile carriers issued addresses like "taro..x.@...". */
bool anpi_mail_addr_ok(const char *s, size_t len);

/* Prefecture code (1..47) for a JIS code ("13", "1") or a name ("東京都");
 * 0 if s[0..len) is neither. */
int anpi_prefecture_code(const char *s, size_t len);

#endif
