/* fuzz_mime.c - the MIME encoder round trip.
 *
 * Input: one flag byte (1 = try ISO-2022-JP, 2 = HTML part, 4 = display
 * name, 8 = List-Unsubscribe), then subject, text, display name and HTML
 * separated by NUL bytes.  anpi_mime_build must either refuse (ANPI_EPARSE)
 * or write a message whose lines are CRLF-ended, 7-bit and at most 998
 * octets, and whose text part decodes (base64, quoted-printable or 7bit
 * ISO-2022-JP) back to the text given. */
#include <iconv.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>

#include "channels/iso2022jp.h"
#include "channels/mime.h"
#include "engine/buf.h"

#define FIELDS 4

static void
check(bool ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fuzz_mime: %s\n", what);
        abort();
    }
}

/* The text as the encoders see it: every line end CRLF (a lone LF becomes
 * CRLF, a CR not before LF stays a plain octet). */
static void
canonical(struct anpi_buf *b, const char *s)
{
    for (const char *p = s; *p; p++) {
        if (*p == '\n' && (p == s || p[-1] != '\r'))
            anpi_buf_putc(b, '\r');
        anpi_buf_putc(b, *p);
    }
}

static void
decode_b64(struct anpi_buf *out, const char *s, size_t len)
{
    struct anpi_buf in;
    anpi_buf_init(&in, 0);
    for (size_t i = 0; i < len; i++) {
        if (s[i] != '\r' && s[i] != '\n')
            anpi_buf_putc(&in, s[i]);
    }
    check(in.len % 4 == 0, "base64 length not a multiple of 4");
    if (in.len) {
        unsigned char *d = malloc(in.len);
        int n = EVP_DecodeBlock(d, (unsigned char *)in.data, (int)in.len);
        check(n >= 0, "bad base64");
        if (in.data[in.len - 1] == '=')
            n--;
        if (in.data[in.len - 2] == '=')
            n--;
        anpi_buf_append(out, d, (size_t)n);
        free(d);
    }
    anpi_buf_free(&in);
}

static int
hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static void
decode_qp(struct anpi_buf *out, const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (s[i] != '=') {
            anpi_buf_putc(out, s[i]);
            continue;
        }
        if (len - i >= 3 && s[i + 1] == '\r' && s[i + 2] == '\n') {
            i += 2;                             /* soft line break */
            continue;
        }
        check(len - i >= 3, "truncated =XX");
        int h = hexval(s[i + 1]), l = hexval(s[i + 2]);
        check(h >= 0 && l >= 0, "bad =XX");
        anpi_buf_putc(out, (char)(h * 16 + l));
        i += 2;
    }
}

/* ISO-2022-JP without the folds and line ends, to compare content. */
static void
unfold_iso(struct anpi_buf *out, const char *s, size_t len)
{
    for (size_t i = 0; i < len;) {
        if (len - i >= 8 && memcmp(s + i, "\x1b(B\r\n\x1b$B", 8) == 0)
            i += 8;
        else if (len - i >= 7 && memcmp(s + i, "\x1b(B\n\x1b$B", 7) == 0)
            i += 7;
        else if (s[i] == '\r' || s[i] == '\n')
            i++;
        else
            anpi_buf_putc(out, s[i++]);
    }
}

static const char *
header_value(const char *head, size_t headlen, const char *name)
{
    size_t nl = strlen(name);
    for (const char *p = head; p && p < head + headlen;) {
        if (strncasecmp(p, name, nl) == 0)
            return p + nl;
        p = strstr(p, "\r\n");
        if (p)
            p += 2;
    }
    return NULL;
}

static void
check_text_part(const char *part, size_t len, const struct anpi_mime_msg *m, bool iso_used)
{
    const char *sep = strstr(part, "\r\n\r\n");
    check(sep && sep < part + len, "part without a blank line");
    size_t hl = (size_t)(sep - part);
    const char *body = sep + 4;
    size_t bl = len - hl - 4;
    const char *ct = header_value(part, hl, "Content-Type: ");
    const char *cte = header_value(part, hl, "Content-Transfer-Encoding: ");
    check(ct && cte, "part without Content-Type or Content-Transfer-Encoding");

    struct anpi_buf got, want;
    anpi_buf_init(&got, 0);
    anpi_buf_init(&want, 0);
    if (strncmp(cte, "7bit\r\n", 6) == 0) {
        check(iso_used, "7bit without ISO-2022-JP");
        check(strncmp(ct, "text/plain; charset=ISO-2022-JP\r\n", 33) == 0, "7bit charset");
        char *iso;
        size_t isolen;
        check(anpi_iso2022jp_encode(m->text, NULL, 0, &iso, &isolen, NULL) == 0,
              "used ISO-2022-JP for text it cannot encode");
        unfold_iso(&got, body, bl);
        unfold_iso(&want, iso, isolen);
        free(iso);
        /* glibc reads the body */
        iconv_t cd = iconv_open("UTF-8", "ISO-2022-JP");
        check(cd != (iconv_t)-1, "iconv_open");
        size_t cap = bl * 3 + 16;
        char *dec = malloc(cap);
        char *ip = (char *)body, *op = dec;
        size_t il = bl, ol = cap;
        check(iconv(cd, &ip, &il, &op, &ol) != (size_t)-1, "body is not ISO-2022-JP");
        iconv_close(cd);
        free(dec);
    } else {
        check(!iso_used, "ISO-2022-JP announced but the text part is not 7bit");
        check(strncmp(ct, "text/plain; charset=UTF-8\r\n", 27) == 0, "charset");
        if (strncmp(cte, "base64\r\n", 8) == 0) {
            decode_b64(&got, body, bl);
            canonical(&want, m->text);
        } else {
            check(strncmp(cte, "quoted-printable\r\n", 18) == 0, "unknown encoding");
            decode_qp(&got, body, bl);
            canonical(&want, m->text);
            if (want.len && want.data[want.len - 1] != '\n')
                anpi_buf_append(&want, "\r\n", 2);
        }
    }
    check(got.len == want.len && (got.len == 0 || memcmp(got.data, want.data, got.len) == 0),
          "text part does not decode to the text");
    anpi_buf_free(&got);
    anpi_buf_free(&want);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 65536)
        return 0;
    unsigned flags = data[0];
    char *field[FIELDS] = { 0 };
    size_t start = 1;
    for (int f = 0; f < FIELDS; f++) {
        size_t end = start;
        while (end < size && data[end] != '\0')
            end++;
        field[f] = anpi_xstrndup((const char *)data + (start < size ? start : size),
                                 end > start ? end - start : 0);
        start = end + 1;
    }
    struct anpi_errors subs = { 0 };
    bool iso_used = false;
    struct anpi_mime_msg m = {
        .from = "anpi@example.jp",
        .from_name = (flags & 4) ? field[2] : NULL,
        .to = "taro@example.jp",
        .subject = field[0],
        .text = field[1],
        .html = (flags & 2) ? field[3] : NULL,
        .message_id = "b1.p2.a3@anpi.example.jp",
        .date = 1735689600,
        .auto_submitted = "auto-generated",
        .iso2022jp = (flags & 1) != 0,
        .list_unsubscribe_url = (flags & 8) ? "https://anpi.example.jp/u/x" : NULL,
        .substitutions = &subs,
        .used_iso2022jp = &iso_used,
    };
    char *out;
    size_t len;
    int rc = anpi_mime_build(&m, &out, &len);
    if (rc != 0) {
        check(rc == ANPI_EPARSE || rc == ANPI_ETOOBIG, "unexpected error code");
        check(out == NULL, "output on error");
    } else {
        check(strlen(out) == len, "NUL in the message");
        check(!iso_used || (flags & 1), "ISO-2022-JP not asked for");
        check(iso_used || subs.n == 0, "substitutions reported for UTF-8");
        /* CRLF only, 7-bit, no line over 998 octets */
        size_t col = 0;
        for (size_t i = 0; i < len; i++) {
            unsigned char c = (unsigned char)out[i];
            check(c < 0x80, "8-bit octet");
            if (c == '\r') {
                check(i + 1 < len && out[i + 1] == '\n', "bare CR");
                i++;
                col = 0;
                continue;
            }
            check(c != '\n', "bare LF");
            col++;
            check(col <= 998, "line over 998 octets");
        }
        check(len >= 2 && out[len - 2] == '\r' && out[len - 1] == '\n', "no final CRLF");
        const char *sep = strstr(out, "\r\n\r\n");
        check(sep != NULL, "no end of header");
        size_t hl = (size_t)(sep - out);
        const char *b = header_value(out, hl, "Content-Type: multipart/alternative; boundary=\"");
        if (!b) {
            check(!m.html, "HTML without multipart");
            check_text_part(out, len, &m, iso_used);
        } else {
            check(m.html != NULL, "multipart without HTML");
            const char *q = strchr(b, '"');
            char delim[64];
            check(q && q - b < 40, "boundary");
            snprintf(delim, sizeof(delim), "--%.*s\r\n", (int)(q - b), b);
            const char *p1 = strstr(sep, delim);
            check(p1 != NULL, "first part");
            p1 += strlen(delim);
            snprintf(delim, sizeof(delim), "\r\n--%.*s", (int)(q - b), b);
            const char *e1 = strstr(p1, delim);
            check(e1 != NULL, "end of first part");
            check_text_part(p1, (size_t)(e1 - p1) + 2, &m, iso_used);
        }
        free(out);
    }
    anpi_errors_free(&subs);
    for (int f = 0; f < FIELDS; f++)
        free(field[f]);
    return 0;
}
