/* dsn.h - reading bounce messages: RFC 3464 delivery status notifications
 * inside RFC 6522 multipart/report, plus a cautious look at the
 * non-standard bounces some (Japanese carrier) MTAs still send.
 *
 * Also declares the small MIME reader (anpi_mimer_*) that dsn.c and
 * mailreply.c share: header lookup with unfolding, Content-Type parameters,
 * multipart splitting, base64 / quoted-printable decoding, charset
 * conversion to UTF-8 and RFC 2047 encoded words.  Everything works on the
 * caller's bytes without copying them and every output is capped.  No libuv
 * here, so all of it can be fuzzed. */
#ifndef ANPI_DSN_H
#define ANPI_DSN_H

#include <stdbool.h>
#include <stddef.h>
#include "engine/anpi.h"
#include "engine/buf.h"

/* ---- MIME reader -------------------------------------------------------- */

#define ANPI_MIMER_VALUE_MAX   8192   /* one unfolded header value */
#define ANPI_MIMER_DEPTH_MAX   8      /* nested multiparts */
#define ANPI_MIMER_PARTS_MAX   200    /* parts in one message, all levels */

/* Split a message (or a MIME part) at the first empty line.  *hlen is the
 * length of the header block (without the empty line), *body points after
 * the empty line.  A block with no empty line is all headers. */
void anpi_mimer_split(const char *msg, size_t len, size_t *hlen,
                      const char **body, size_t *blen);

/* Find header `name` (case-insensitive) in a header block and copy its
 * unfolded value (leading/trailing blanks removed, line ends of folded lines
 * dropped) into out.  Returns 1 found, 0 not found, ANPI_ETOOBIG when the
 * value does not fit in outlen. */
int anpi_mimer_header(const char *hdrs, size_t hlen, const char *name,
                      char *out, size_t outlen);

/* The lower-cased "type/subtype" of a Content-Type value into out; "" when
 * absent or malformed (the caller then applies the RFC 2045 default). */
void anpi_mimer_ctype(const char *value, char *out, size_t outlen);

/* Parameter `name` (case-insensitive) of a structured header value such as
 * Content-Type, quotes removed.  Returns 1 found, 0 not, ANPI_ETOOBIG. */
int anpi_mimer_param(const char *value, const char *name, char *out, size_t outlen);

/* Iterate the body parts of a multipart body.  *pos starts at 0.  Returns 1
 * with the next part in *part and *plen (headers and body, without the line end
 * before the next delimiter), 0 after the closing delimiter (or at the end
 * of input when the closing delimiter is missing), ANPI_EPARSE when no
 * opening delimiter exists at all. */
int anpi_mimer_next_part(const char *body, size_t blen, const char *boundary,
                         size_t *pos, const char **part, size_t *plen);

/* Append the body decoded per Content-Transfer-Encoding `cte` ("base64",
 * "quoted-printable", anything else is copied) to out.  Invalid base64
 * characters are skipped, a bad "=XY" in QP is kept literally (RFC 2045
 * 6.7 note 1).  Returns 0 or ANPI_ETOOBIG (out's cap). */
int anpi_mimer_decode(const char *cte, const char *in, size_t len, struct anpi_buf *out);

/* Append `in` converted from `charset` to UTF-8 (via iconv; "" and us-ascii
 * count as UTF-8).  Invalid or unconvertible bytes become U+FFFD.  Returns 0,
 * ANPI_ETOOBIG, or ANPI_DECLINED when the charset is unknown (nothing is
 * appended then). */
int anpi_mimer_to_utf8(const char *charset, const char *in, size_t len, struct anpi_buf *out);

/* Decode RFC 2047 encoded words ("=?ISO-2022-JP?B?...?=") in a header value
 * to UTF-8; whitespace between adjacent encoded words is dropped.  Malformed
 * words are kept as they are.  Returns 0 or ANPI_ETOOBIG. */
int anpi_mimer_decode_words(const char *value, struct anpi_buf *out);

/* ---- DSN ---------------------------------------------------------------- */

#define ANPI_DSN_MSG_MAX    (16u * 1024 * 1024)  /* whole message */
#define ANPI_DSN_RCPTS_MAX  100                  /* recipient groups kept */
#define ANPI_DSN_TEXT_MAX   1024                 /* diagnostic text kept */

enum anpi_dsn_action {
    ANPI_DSN_ACTION_UNKNOWN,
    ANPI_DSN_ACTION_FAILED,
    ANPI_DSN_ACTION_DELAYED,
    ANPI_DSN_ACTION_DELIVERED,
    ANPI_DSN_ACTION_RELAYED,
    ANPI_DSN_ACTION_EXPANDED,
};

enum anpi_dsn_class {
    ANPI_DSN_NONE,      /* delivered / relayed / expanded: not a problem */
    ANPI_DSN_HARD,      /* failed with 5.x.x: the address is bad */
    ANPI_DSN_SOFT,      /* delayed, or 4.x.x: try again later */
    ANPI_DSN_UNPARSED,  /* not sure: the engine must not change the address */
};

struct anpi_dsn_rcpt {
    char *final_recipient;     /* address without "rfc822;" and <>, or NULL */
    char *original_recipient;  /* likewise, or NULL */
    enum anpi_dsn_action action;
    char status[16];           /* "5.1.1", or "" */
    char *diagnostic;          /* Diagnostic-Code without its type, or NULL */
    char *remote_mta;          /* Remote-MTA without its type, or NULL */
    enum anpi_dsn_class cls;
};

struct anpi_dsn {
    bool standard;             /* true: from a message/delivery-status part */
    char *reporting_mta;       /* or NULL */
    char *orig_message_id;     /* Message-ID of the returned message, no <> */
    size_t nrcpts;
    struct anpi_dsn_rcpt *rcpts;
};

const char *anpi_dsn_class_name(enum anpi_dsn_class c);   /* "hard", ... */
const char *anpi_dsn_action_name(enum anpi_dsn_action a); /* "failed", ... */

/* Parse a bounce.  Returns:
 *   0               *out holds one entry per recipient (standard DSN, or a
 *                   non-standard bounce recognised with confidence);
 *   ANPI_DECLINED   not a DSN and not a bounce we are sure about ("unparsed");
 *                   *out may still carry orig_message_id;
 *   ANPI_EPARSE     a malformed DSN (bad MIME structure, delivery-status
 *                   fields that do not parse, no recipient groups);
 *   ANPI_ETOOBIG    over a cap (message, header value, parts, nesting).
 * err gets a message saying what and where in every non-zero case.  The
 * envelope recipient (VERP) is the caller's business.  Always call
 * anpi_dsn_free() afterwards, whatever the result. */
int anpi_dsn_parse(const char *msg, size_t len, struct anpi_dsn *out, char *err, size_t errlen);

void anpi_dsn_free(struct anpi_dsn *d);

#endif
