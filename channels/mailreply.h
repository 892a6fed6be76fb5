/* mailreply.h - a plain mail reply to a safety check, for phones that cannot
 * open the reply link: which message it answers (In-Reply-To / References,
 * the engine maps those Message-IDs to the delivery) and the answer, the
 * first line the person wrote.  No libuv; fuzzed. */
#ifndef ANPI_MAILREPLY_H
#define ANPI_MAILREPLY_H

#include <stdbool.h>
#include <stddef.h>
#include "engine/anpi.h"

#define ANPI_MAILREPLY_MSG_MAX   (4u * 1024 * 1024)  /* whole message */
#define ANPI_MAILREPLY_LINE_MAX  512                 /* answer line kept, bytes */
#define ANPI_MAILREPLY_REFS_MAX  32                  /* Message-IDs kept */

struct anpi_mailreply {
    char *in_reply_to;       /* first Message-ID of In-Reply-To, no <>, or NULL */
    char **refs;             /* Message-IDs of References, oldest first, no <> */
    size_t nrefs;
    char *first_line;        /* trimmed UTF-8 answer line, or NULL when none */
    bool auto_submitted;     /* Auto-Submitted (not "no"), Precedence bulk/junk/
                              * auto_reply or X-Autoreply: not a person's answer */
};

/* Read a reply.  The body is the first text/plain part that is not an
 * attachment (any nesting), decoded from base64 / quoted-printable and
 * converted to UTF-8 from its charset (ISO-2022-JP, Shift_JIS, ...).  The
 * answer is its first non-empty line, skipping quoted lines ("> ...",
 * "＞ ..."), an attribution line ("... wrote:") before quoted text, and
 * stopping at a signature ("-- ").  Trimmed of ASCII and ideographic
 * blanks, cut to ANPI_MAILREPLY_LINE_MAX bytes on a character boundary.
 * Returns 0 (first_line may be NULL), ANPI_EPARSE for a broken MIME
 * structure or ANPI_ETOOBIG over a cap, with err saying what.  Always call
 * anpi_mailreply_free(). */
int anpi_mailreply_parse(const char *msg, size_t len, struct anpi_mailreply *out,
                         char *err, size_t errlen);

void anpi_mailreply_free(struct anpi_mailreply *r);

/* Map an answer line to a choice index: "1", "１", "1.", "1)" or "1 無事です"
 * -> 0 (numbers 1..n); a label ("無事") equal to the line or to its first
 * word (trailing 。．.!！ ignored, ASCII compared case-insensitively) -> its
 * index.  Otherwise -1. */
int anpi_mailreply_choice(const char *line, const char *const *choices, size_t n);

#endif
