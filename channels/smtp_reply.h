/* smtp_reply.h - incremental parser for SMTP server replies (RFC 5321 4.2).
 *
 * Bytes may arrive in any split, down to one at a time.  A reply is one or
 * more lines "DDD-text" ... "DDD text" with the same code.  Lines are capped
 * (ANPI_SMTP_REPLY_LINE_MAX) and so is the number of lines per reply
 * (ANPI_SMTP_REPLY_LINES_MAX): a peer cannot make us buffer without bound.
 * Errors are sticky: once the parser has failed, the connection is to be
 * dropped.  No libuv here, so the parser can be fuzzed on its own. */
#ifndef ANPI_SMTP_REPLY_H
#define ANPI_SMTP_REPLY_H

#include <stdbool.h>
#include <stddef.h>
#include "engine/anpi.h"
#include "engine/buf.h"

#define ANPI_SMTP_REPLY_LINE_MAX  2048   /* bytes per line, CRLF included */
#define ANPI_SMTP_REPLY_LINES_MAX 100

struct anpi_smtp_reply {
    int code;                /* 200..599 */
    char enhanced[16];       /* "5.1.1" from the first line, or "" */
    size_t nlines;
    /* Text of every line (after "DDD-" / "DDD "), each ended by '\n',
     * NUL-terminated.  Valid until the next anpi_smtp_reply_feed(). */
    const char *lines;
    size_t lines_len;
};

struct anpi_smtp_reply_parser {
    char line[ANPI_SMTP_REPLY_LINE_MAX + 1];
    size_t linelen;
    int code;                /* code of the reply being read, 0 = none yet */
    char enhanced[16];
    size_t nlines;
    bool done;               /* last call returned a complete reply */
    int err;                 /* sticky error, 0 = fine */
    char errmsg[96];
    struct anpi_buf text;
};

void anpi_smtp_reply_init(struct anpi_smtp_reply_parser *p);
void anpi_smtp_reply_free(struct anpi_smtp_reply_parser *p);

/* Feed up to len bytes.  Returns 1 when a complete reply was read (*used
 * bytes were consumed, the rest belongs to the next reply; *out is filled),
 * 0 when all bytes were consumed and more are needed, or ANPI_EPARSE /
 * ANPI_ETOOBIG (see anpi_smtp_reply_error()). */
int anpi_smtp_reply_feed(struct anpi_smtp_reply_parser *p, const char *data, size_t len,
                         size_t *used, struct anpi_smtp_reply *out);

/* What went wrong, e.g. "reply line over 2048 bytes". */
const char *anpi_smtp_reply_error(const struct anpi_smtp_reply_parser *p);

/* True while part of a reply has been read but not all of it. */
bool anpi_smtp_reply_partial(const struct anpi_smtp_reply_parser *p);

/* Parse "X.Y.Z" (class 2, 4 or 5; Y 0..999; Z 0..999) at the start of s,
 * followed by a space or the end.  Returns its length (0 = none) and copies
 * it into out (at least 16 bytes). */
size_t anpi_smtp_parse_enhanced(const char *s, size_t len, char *out);

#endif
