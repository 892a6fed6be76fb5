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
#define ANPI_PEOPLE_CSV_MAX_VALUES  16u   /* emails, regions, cities, groups per person */
#define ANPI_PEOPLE_CSV_MAX_ERRORS  1000u /* further errors are counted, not listed */
#define ANPI_PEOPLE_CSV_MAX_ATTRS   64u   /* attributes per person */
#define ANPI_PEOPLE_CSV_MAX_ATTR_KEY   64u  /* characters of an attribute key */
#define ANPI_PEOPLE_CSV_MAX_ATTR_VALUE 256u /* characters of an attribute value */

/* One free attribute of a person ("内線=1234"). */
struct anpi_person_attr { char *key, *value; };

struct anpi_person_row {
    int line;                  /* 1-based line in the input where the row starts */
    char *id, *name, *kana;    /* kana is "" when the cell is empty */
    size_t nemails; char **emails;      /* domain part lower-cased, duplicates collapsed;
                                         * "****@domain" = masked (see below) */
    size_t nregions; int *regions;      /* prefecture codes 1..47, incl. the cities' */
    size_t ncities; int *cities;        /* JIS X 0402 municipality codes, 5-digit form
                                         * (1001..47999, check digit dropped) */
    size_t ngroups; char **groups;      /* group names or paths like "本省/大臣官房" */
    size_t nattrs; struct anpi_person_attr *attrs; /* input order, keys unique */
};

struct anpi_people_csv {
    size_t nrows;
    struct anpi_person_row *rows;
    bool has_attributes;        /* the header has the attributes column: when it
                                 * does not, the import leaves attributes alone */
};

/* Parse a whole people CSV (UTF-8, optional BOM, CRLF or LF, RFC 4180 quoting
 * incl. quoted newlines and "" escapes).  The header row must name the columns
 * id,name,kana,emails,regions,groups, and may name attributes and
 * addresses_status (any order, case-insensitive; unknown or duplicate columns
 * are errors; a missing required column is an error).  addresses_status is
 * the export's column: it is accepted and ignored so that an export can be
 * imported again.  Multi-valued fields are separated by ';' with surrounding
 * white space trimmed.
 *
 * Regions are prefecture codes ("13", "01", "1"), prefecture names
 * ("東京都") or JIS X 0402 municipality codes: 5 digits ("13101") or 6 with
 * the check digit ("131016", verified: modulus 11, weights 6-5-4-3-2).  A
 * city's prefecture is added to the regions; "13000" (the prefecture's own
 * code) means the prefecture alone.
 *
 * Attributes: "key=value;key=value", keys 1..64 characters (no '=' or ';',
 * unique within the cell), values up to 256 (split at the first '='; may be
 * empty), no control characters, at most ANPI_PEOPLE_CSV_MAX_ATTRS.  An
 * empty cell is a person without attributes.
 *
 * A masked address as the export writes it ("****@example.jp", any number
 * of '*') is kept as "****@domain" and never collapsed with another: it
 * stands for the person's current address at that domain (the n-th masked
 * one for the n-th such address), which the database import resolves.
 *
 * Every problem is reported into errs as "line N: column: message" (or
 * "line N: message" for problems of the whole row).  On any error returns
 * ANPI_EPARSE and leaves *out empty: nothing is partially applied.  Limits:
 * the ANPI_PEOPLE_CSV_MAX_* values above. */
int anpi_people_csv_parse(const char *data, size_t len, struct anpi_people_csv *out,
                          struct anpi_errors *errs);
void anpi_people_csv_free(struct anpi_people_csv *p);

/* The character encoding of an uploaded directory file, made UTF-8.
 * Spreadsheets on Japanese Windows save CSV as Shift_JIS (CP932), so that
 * is accepted too:
 *   - a UTF-8 BOM, or input that is valid UTF-8 (or mostly so: more valid
 *     multi-byte sequences than broken ones, i.e. a UTF-8 file with a few bad
 *     bytes, whose bad lines are then reported by the parser) -> "UTF-8",
 *     *out = NULL (use the input as it is);
 *   - otherwise the input is converted from CP932 -> "Shift_JIS", *out is the
 *     malloc'd UTF-8 text (NUL-terminated) and *outlen its length.
 * Bytes that are neither are reported for every physical line that has them,
 * as "line N: garbled text: neither UTF-8 nor Shift_JIS (byte 0xXX at byte
 * M of the line)", and ANPI_EPARSE is returned with *out = NULL.  Input over
 * ANPI_PEOPLE_CSV_MAX_INPUT is refused the same way (before or after
 * conversion). */
int anpi_people_csv_decode(const char *data, size_t len, char **out, size_t *outlen,
                           const char **encoding, struct anpi_errors *errs);

/* anpi_people_csv_decode() then anpi_people_csv_parse().  encoding may be
 * NULL; it is set whenever the encoding was recognised. */
int anpi_people_csv_parse_any(const char *data, size_t len, struct anpi_people_csv *out,
                              const char **encoding, struct anpi_errors *errs);

/* True if s[0..len) is a plausible mail address: local@domain, ASCII, no
 * white space or control characters, one '@', a domain of at least two
 * LDH labels, at most 254 bytes.  Dots in the local part are not policed
 * because Japanese mobile carriers issued addresses like "taro..x.@...". */
bool anpi_mail_addr_ok(const char *s, size_t len);

/* Prefecture code (1..47) for a JIS code ("13", "1") or a name ("東京都");
 * 0 if s[0..len) is neither. */
int anpi_prefecture_code(const char *s, size_t len);

/* The JIS X 0402 check digit (0..9) of a 5-digit municipality code
 * (code5 = 0..99999): 11 minus the remainder of the sum of the digits
 * weighted 6,5,4,3,2 divided by 11, last digit ("13101" -> 6). */
int anpi_jisx0402_check_digit(int code5);

/* True if s is a masked address as the export writes it: one or more '*',
 * '@', a domain. */
bool anpi_mail_addr_masked(const char *s, size_t len);

#endif
