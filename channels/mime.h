/* mime.h - building one personal RFC 5322 / MIME message. */
#ifndef ANPI_MIME_H
#define ANPI_MIME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "engine/anpi.h"
#include "channels/iso2022jp.h"

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

    /* ISO-2022-JP for recipient domains configured for it (old carrier
     * phones): subject, display name and text go out as ISO-2022-JP when
     * they can be encoded exactly after the fallbacks, else the whole
     * message is UTF-8.  The HTML alternative always stays UTF-8. */
    bool iso2022jp;
    const struct anpi_jis_fallback *jis_fallbacks;  /* NULL = anpi_jis_fallback_defaults() */
    size_t njis_fallbacks;

    /* RFC 8058 one-click unsubscribe (HR bulk mail only; never for safety
     * mail): an https URL -> List-Unsubscribe: <url> and
     * List-Unsubscribe-Post: List-Unsubscribe=One-Click.  NULL = none. */
    const char *list_unsubscribe_url;

    /* Out, each may be NULL.  *substitutions gets one "subject: U+2460 ① ->
     * (1)" ("from name: ", "text: ") per replaced character, to be reported
     * before sending; *used_iso2022jp says which charset was used. */
    struct anpi_errors *substitutions;
    bool *used_iso2022jp;
};

/* Build an RFC 5322/MIME message with CRLF line ends: Date, From, To, Subject (RFC 2047
 * B-encoded UTF-8 when non-ASCII, folded to stay under 78 chars per line), Message-ID,
 * MIME-Version, Content-Type text/plain; charset=UTF-8 with Content-Transfer-Encoding
 * quoted-printable or base64 (pick the shorter for the content: mostly-ASCII -> QP, Japanese ->
 * base64), multipart/alternative when html is set.  No line over 998 octets; body lines folded
 * per the encoding.  Header values containing CR, LF or NUL -> ANPI_EPARSE (header injection).
 * Also ANPI_EPARSE: missing from/to/subject/text/message_id, '<' '>' or spaces in an address or
 * the message id, invalid UTF-8, an extra header that is not "Name: printable-ASCII value",
 * a list_unsubscribe_url that is not a printable https URL (or with an extra List-Unsubscribe
 * header beside it).  With iso2022jp (and every character encodable): Subject and display
 * name as ISO-2022-JP B encoded words (each starting and ending in ASCII), the text part
 * "charset=ISO-2022-JP", 7bit, lines folded at 76 octets inside Japanese runs only (never
 * inside an escape sequence or a character; ASCII runs such as URLs are broken only past 900).
 * On success *out is malloc'ed (NUL-terminated) and *outlen its length. */
int anpi_mime_build(const struct anpi_mime_msg *m, char **out, size_t *outlen);

#endif
