/* iso2022jp.h - UTF-8 -> ISO-2022-JP (RFC 1468) for mail to Japanese carriers. */
#ifndef ANPI_ISO2022JP_H
#define ANPI_ISO2022JP_H

#include <stddef.h>
#include "engine/anpi.h"
#include "engine/buf.h"

/* A replacement for text that has no JIS X 0208 code: `from` is one or more
 * UTF-8 characters ("①", "ｶﾞ"), `to` UTF-8 text made only of ASCII and
 * JIS X 0208 characters ("(1)", "ガ").  The longest matching `from` wins. */
struct anpi_jis_fallback {
    const char *from;
    const char *to;
};

/* The built-in table: circled numbers, ㈱ ㈲, 髙 﨑, half-width kana (with
 * voiced combinations) -> full-width, and the Windows code points for
 * ～ － ∥ ￠ ￡ ￢ — that are not in JIS X 0208. */
const struct anpi_jis_fallback *anpi_jis_fallback_defaults(size_t *n);

/* Convert NUL-terminated UTF-8 text to ISO-2022-JP (ASCII and JIS X 0208
 * only, ESC $ B / ESC ( B).  Every character outside JIS X 0208 is looked up
 * in fb (NULL = anpi_jis_fallback_defaults) first and each replacement is
 * reported in *substitutions (may be NULL) as "U+2460 ① -> (1)".  Every line
 * ends, and the text ends, in ASCII mode, so a line can be handled alone.
 * Line ends are kept as they are.
 *
 * Returns 0 with *out (malloc'ed, NUL-terminated) and *outlen;
 * ANPI_DECLINED when some character has no JIS X 0208 code and no fallback
 * (each such character is listed in *substitutions as "U+1F600 😀: no JIS
 * X 0208 code and no fallback"; the caller then sends UTF-8); ANPI_EPARSE for
 * invalid UTF-8; ANPI_ETOOBIG over 16 MiB.  Thread-safe. */
int anpi_iso2022jp_encode(const char *utf8, const struct anpi_jis_fallback *fb, size_t nfb,
                          char **out, size_t *outlen, struct anpi_errors *substitutions);

/* Append ISO-2022-JP text (as produced above, LF or CRLF line ends) to b with
 * CRLF line ends and no line longer than `soft` octets where it can be
 * helped: a line is broken only inside a run of JIS X 0208 characters
 * (between two characters, closing with ESC ( B and reopening with ESC $ B
 * on the next line), so ASCII runs such as URLs stay whole.  An ASCII run
 * is broken only at `hard` octets.  Escape sequences and the two bytes of a
 * character are never split.  soft >= 16, hard >= soft.  Returns 0 or
 * ANPI_ETOOBIG (b's cap) / ANPI_EPARSE (not ISO-2022-JP of that form). */
int anpi_iso2022jp_fold(const char *in, size_t len, size_t soft, size_t hard,
                        struct anpi_buf *b);

#endif
