/* csv.h - the RFC 4180 reader shared by the directory CSV (people_csv.c) and
 * the traveller registry CSV (travellers_csv.c).
 *
 * Pure: bytes in, records out, no I/O.  anpi_csv_read() does everything that
 * does not depend on what the columns mean: the input size limit, an optional
 * UTF-8 BOM, a UTF-8 scan by physical line, RFC 4180 records (CRLF or LF,
 * quoted fields with newlines and "" escapes), line numbers, the header row
 * (named columns in any order, case-insensitive), the field count of each row
 * and the row limit.  Each good row is handed to a callback that checks the
 * cells.  Errors are collected, not stopped at, so an uploader can fix every
 * problem in one go. */
#ifndef ANPI_CSV_H
#define ANPI_CSV_H

#include <stdbool.h>
#include <stddef.h>
#include "engine/anpi.h"
#include "engine/buf.h"

#define ANPI_CSV_QUOTED_MAX 60  /* bytes of a bad value echoed in a message */

/* Error collection: every error counts, the first max_errors are listed. */
struct anpi_csv_ctx {
    struct anpi_errors *errs;
    size_t nerr;                /* all errors, including those not listed */
    size_t max_errors;
};

void anpi_csv_err(struct anpi_csv_ctx *c, const char *fmt, ...) ANPI_PRINTF(2, 3);

/* Adds "N more errors not listed" if more than max_errors were counted. */
void anpi_csv_note_unlisted(struct anpi_csv_ctx *c);

/* One record as read; fields past the spec's max_stored_fields are counted
 * in nfields but not kept. */
struct anpi_csv_record {
    int line;                   /* 1-based line where the record starts */
    size_t nfields;             /* all fields seen */
    bool bad;                   /* a syntax error was reported for it */
    bool *quoted;               /* per stored field */
    bool *too_long;             /* per stored field: over max_field bytes */
    struct anpi_buf *f;         /* per stored field: the unquoted bytes */
};

struct anpi_csv_spec {
    const char *const *columns; /* the header names, in the caller's order */
    size_t ncolumns;
    size_t max_input;           /* bytes of the whole input */
    size_t max_rows;            /* data rows */
    size_t max_field;           /* bytes of one field */
    size_t max_stored_fields;   /* fields of a record kept (>= ncolumns) */
    bool mask_bad_utf8;         /* header names in messages: as anpi_csv_shown() */
};

/* Called for each data row with exactly ncolumns fields and no syntax error;
 * colidx[k] is the field index of spec->columns[k]. */
typedef void (*anpi_csv_row_fn)(void *arg, struct anpi_csv_ctx *c,
                                const struct anpi_csv_record *rec, const int *colidx);

/* Read the whole input.  Blank lines are skipped; the first other record is
 * the header, which must name every column once and nothing else.  Errors
 * go to c as "line N: ..." (syntax errors name the column, by the header's
 * order once it is read).  Returns ANPI_OK if c->nerr is 0 at the end, else
 * ANPI_EPARSE (after anpi_csv_note_unlisted()). */
int anpi_csv_read(const struct anpi_csv_spec *spec, const char *data, size_t len,
                  struct anpi_csv_ctx *c, anpi_csv_row_fn fn, void *arg);

/* Field idx of rec (a column index from colidx), trimmed as anpi_csv_trim(). */
void anpi_csv_cell(const struct anpi_csv_record *rec, int idx, const char **s, size_t *len);

/* Length of the well-formed UTF-8 sequence at s (RFC 3629: no overlongs, no
 * surrogates, nothing past U+10FFFF), or 0. */
size_t anpi_csv_utf8_seq(const unsigned char *s, size_t avail);

/* Trim ASCII white space and U+3000 (ideographic space, common in Japanese
 * spreadsheets) from both ends of s[0..*len). */
void anpi_csv_trim(const char **s, size_t *len);

/* A value for an error message in dst: at most ANPI_CSV_QUOTED_MAX bytes
 * (and dstlen - 4), cut on a character boundary with "..." when cut, control
 * characters and quotes as '?' so a message stays one line.  With
 * mask_bad_utf8, bytes that are not well-formed UTF-8 are '?' too; without
 * it they are copied as they are.  Returns dst. */
const char *anpi_csv_shown(char *dst, size_t dstlen, const char *s, size_t len,
                           bool mask_bad_utf8);

/* True if s[0..len) is a person id: 1..64 of [A-Za-z0-9._-] (the rule both
 * the directory and the traveller registry use). */
bool anpi_csv_id_ok(const char *s, size_t len);

#endif
