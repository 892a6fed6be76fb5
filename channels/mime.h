/* mime.h - building one personal RFC 5322 / MIME message. */
#ifndef ANPI_MIME_H
#define ANPI_MIME_H

#include <stddef.h>
#include <stdint.h>
#include "engine/anpi.h"

struct anpi_mime_msg {
    const char *from;        /* "anpi@example.jp" */
    const char *from_name;   /* display name, UTF-8, may be NULL */
    const char *to;          /* one recipient address (never a list) */
    const char *subject;     /* UTF-8 */
    const char *text;        /* UTF-8 body, LF line ends */
    const char *html;        /* optional HTML alternative, or NULL */
    const char *message_id;  /* without <> e.g. "b12.p34.a56@anpi.example.jp" */
    int64_t date;            /* seconds since epoch */
    const char *auto_submitted;          /* e.g. "auto-generated"; NULL = omit */
    const char *const *extra_headers;    /* "Name: value" strings, NULL-terminated, may be NULL */
};

/* Build an RFC 5322/MIME message with CRLF line ends: Date, From, To, Subject (RFC 2047
 * B-encoded UTF-8 when non-ASCII, folded to stay under 78 chars per line), Message-ID,
 * MIME-Version, Content-Type text/plain; charset=UTF-8 with Content-Transfer-Encoding
 * quoted-printable or base64 (pick the shorter for the content: mostly-ASCII -> QP, Japanese ->
 * base64), multipart/alternative when html is set.  No line over 998 octets; body lines folded
 * per the encoding.  Header values containing CR, LF or NUL -> ANPI_EPARSE (header injection).
 * Also ANPI_EPARSE: missing from/to/subject/text/message_id, '<' '>' or spaces in an address or
 * the message id, invalid UTF-8, an extra header that is not "Name: printable-ASCII value".
 * On success *out is malloc'ed (NUL-terminated) and *outlen its length. */
int anpi_mime_build(const struct anpi_mime_msg *m, char **out, size_t *outlen);

#endif
