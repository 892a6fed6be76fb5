/* mime.c - RFC 5322 / MIME (RFC 2045-2047) message builder.
 *
 * Mail is UTF-8, or ISO-2022-JP for recipient domains that need it and
 * text that allows it exactly.  Headers are 7-bit: non-ASCII text goes
 * into RFC 2047 encoded words, each short enough that no header line
 * reaches 78 characters.  UTF-8 bodies are quoted-printable or base64,
 * whichever is shorter, so no body line exceeds 76 characters; ISO-2022-JP
 * bodies are 7bit, folded only inside Japanese runs. */
#include "channels/mime.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/evp.h>

#include "engine/buf.h"

#define MIME_MAX       (64u * 1024 * 1024)   /* a message over this is a bug upstream */
#define LINE_SOFT      78
#define WORD_RAW_MAX   42   /* bytes per encoded word: "=?UTF-8?B?" + 56 + "?=" = 68 chars */
#define ISO_WORD_RAW   36   /* "=?ISO-2022-JP?B?" + 48 + "?=" = 66 chars, after "Subject: " 75 */
#define ISO_SOFT       76   /* ISO-2022-JP body: fold Japanese runs here */
#define ISO_HARD       900  /* ... and ASCII runs only here (URLs stay whole) */
#define UNSUB_MAX      900

static bool
has_crlf(const char *s)
{
    return s && strpbrk(s, "\r\n") != NULL;
}

static bool
is_ascii(const char *s)
{
    for (; *s; s++) {
        if ((unsigned char)*s >= 0x80)
            return false;
    }
    return true;
}

/* Length of the UTF-8 sequence at s, 0 if invalid (overlong, surrogate,
 * out of range, truncated). */
static size_t
utf8_len(const unsigned char *s)
{
    unsigned c = s[0];
    if (c < 0x80)
        return 1;
    size_t n;
    unsigned min, cp;
    if ((c & 0xe0) == 0xc0) { n = 2; min = 0x80; cp = c & 0x1f; }
    else if ((c & 0xf0) == 0xe0) { n = 3; min = 0x800; cp = c & 0x0f; }
    else if ((c & 0xf8) == 0xf0) { n = 4; min = 0x10000; cp = c & 0x07; }
    else return 0;
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return n;
}

static bool
utf8_valid(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        size_t n = utf8_len(p);
        if (!n)
            return false;
        p += n;
    }
    return true;
}

static bool
addr_ok(const char *a)
{
    if (!a || !a[0] || strlen(a) > 320 || !strchr(a, '@'))
        return false;
    for (const unsigned char *s = (const unsigned char *)a; *s; s++) {
        if (*s <= 0x20 || *s >= 0x7f || *s == '<' || *s == '>' || *s == ',' || *s == '"')
            return false;
    }
    return true;
}

static bool
msgid_ok(const char *id)
{
    if (!id || !id[0] || strlen(id) > 250 || !strchr(id, '@'))
        return false;
    for (const unsigned char *s = (const unsigned char *)id; *s; s++) {
        if (*s <= 0x20 || *s >= 0x7f || *s == '<' || *s == '>')
            return false;
    }
    return true;
}

/* Header being written, with the current column for folding. */
struct hdr {
    struct anpi_buf *b;
    size_t col;
};

static void
hdr_put(struct hdr *h, const char *s, size_t n)
{
    anpi_buf_append(h->b, s, n);
    h->col += n;
}

static void
hdr_fold(struct hdr *h)
{
    anpi_buf_append(h->b, "\r\n ", 3);
    h->col = 1;
}

/* s as a run of RFC 2047 B encoded words, folded between words; chunks end
 * on UTF-8 character boundaries (RFC 2047 section 5 requires whole
 * characters per word). */
static void
put_encoded(struct hdr *h, const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    bool first = true;
    while (*p) {
        size_t n = 0;
        while (p[n]) {
            size_t cl = utf8_len(p + n);
            if (n + cl > WORD_RAW_MAX)
                break;
            n += cl;
        }
        char enc[4 * ((WORD_RAW_MAX + 2) / 3) + 1];
        int el = EVP_EncodeBlock((unsigned char *)enc, p, (int)n);
        size_t wl = 10 + (size_t)el + 2;
        if (!first || h->col + wl >= LINE_SOFT)
            hdr_fold(h);
        hdr_put(h, "=?UTF-8?B?", 10);
        hdr_put(h, enc, (size_t)el);
        hdr_put(h, "?=", 2);
        first = false;
        p += n;
    }
}

static void
put_word(struct hdr *h, const char *charset, const unsigned char *raw, size_t n, bool first)
{
    char enc[4 * ((WORD_RAW_MAX + 2) / 3) + 1];
    int el = EVP_EncodeBlock((unsigned char *)enc, raw, (int)n);
    size_t cl = strlen(charset);
    size_t wl = 2 + cl + 3 + (size_t)el + 2;
    if (!first || h->col + wl >= LINE_SOFT)
        hdr_fold(h);
    hdr_put(h, "=?", 2);
    hdr_put(h, charset, cl);
    hdr_put(h, "?B?", 3);
    hdr_put(h, enc, (size_t)el);
    hdr_put(h, "?=", 2);
}

/* ISO-2022-JP text (one line, as anpi_iso2022jp_encode writes it) as B
 * encoded words.  Each word is decoded on its own, so each starts in ASCII
 * and ends switched back to ASCII (RFC 1468 section 3); words are cut
 * between characters. */
static void
put_encoded_iso(struct hdr *h, const char *iso)
{
    const unsigned char *s = (const unsigned char *)iso;
    size_t len = strlen(iso);
    unsigned char raw[ISO_WORD_RAW + 8];
    size_t rn = 0;
    bool in_jis = false;     /* mode of the text */
    bool word_jis = false;   /* mode at the end of raw */
    bool first = true;
    for (size_t i = 0; i < len;) {
        if (s[i] == 0x1b && len - i >= 3) {
            in_jis = s[i + 1] == '$';
            i += 3;
            continue;
        }
        size_t ul = in_jis ? 2 : 1;
        if (len - i < ul)
            break;
        size_t need = rn + (in_jis != word_jis ? 3 : 0) + ul + (in_jis ? 3 : 0);
        if (need > ISO_WORD_RAW && rn > 0) {
            if (word_jis)
                memcpy(raw + rn, "\x1b(B", 3), rn += 3;
            put_word(h, "ISO-2022-JP", raw, rn, first);
            first = false;
            rn = 0;
            word_jis = false;
        }
        if (in_jis != word_jis) {
            memcpy(raw + rn, in_jis ? "\x1b$B" : "\x1b(B", 3);
            rn += 3;
            word_jis = in_jis;
        }
        memcpy(raw + rn, s + i, ul);
        rn += ul;
        i += ul;
    }
    if (rn > 0) {
        if (word_jis)
            memcpy(raw + rn, "\x1b(B", 3), rn += 3;
        put_word(h, "ISO-2022-JP", raw, rn, first);
    }
}

static const char *const wdays[] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
static const char *const months[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                      "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };

static void
put_date(struct anpi_buf *b, int64_t t)
{
    /* Japan time: the people reading these mails are there, and the
     * offset is part of the format so any reader converts it. */
    time_t tt = (time_t)(t + 9 * 3600);
    struct tm tm;
    gmtime_r(&tt, &tm);
    anpi_buf_printf(b, "Date: %s, %d %s %04d %02d:%02d:%02d +0900\r\n", wdays[tm.tm_wday],
                    tm.tm_mday, months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
                    tm.tm_sec);
}

static void
put_from(struct anpi_buf *b, const char *name, const char *name_iso, const char *addr)
{
    struct hdr h = { b, 0 };
    hdr_put(&h, "From: ", 6);
    if (name && name[0]) {
        size_t alen = strlen(addr);
        if (is_ascii(name) && strlen(name) + alen + 12 < LINE_SOFT && !strstr(name, "=?")) {
            hdr_put(&h, "\"", 1);
            for (const char *s = name; *s; s++) {
                if (*s == '"' || *s == '\\')
                    hdr_put(&h, "\\", 1);
                hdr_put(&h, s, 1);
            }
            hdr_put(&h, "\"", 1);
        } else if (name_iso) {
            put_encoded_iso(&h, name_iso);
        } else {
            put_encoded(&h, name);
        }
        if (h.col + alen + 3 >= LINE_SOFT)
            hdr_fold(&h);
        else
            hdr_put(&h, " ", 1);
        hdr_put(&h, "<", 1);
        hdr_put(&h, addr, alen);
        hdr_put(&h, ">", 1);
    } else {
        hdr_put(&h, addr, strlen(addr));
    }
    anpi_buf_append(b, "\r\n", 2);
}

static void
put_subject(struct anpi_buf *b, const char *subj, const char *subj_iso)
{
    struct hdr h = { b, 0 };
    hdr_put(&h, "Subject:", 8);
    size_t n = strlen(subj);
    if (is_ascii(subj) && 9 + n < LINE_SOFT && !strstr(subj, "=?")) {
        if (n)
            hdr_put(&h, " ", 1);
        hdr_put(&h, subj, n);
    } else if (subj_iso && !is_ascii(subj)) {
        hdr_put(&h, " ", 1);
        put_encoded_iso(&h, subj_iso);
    } else {
        hdr_put(&h, " ", 1);
        put_encoded(&h, subj);
    }
    anpi_buf_append(b, "\r\n", 2);
}

/* Quoted-printable (RFC 2045 6.7): lines of at most 76 characters, soft
 * breaks "=", trailing white space encoded, LF or CRLF -> CRLF. */
static void
encode_qp(struct anpi_buf *b, const char *s)
{
    size_t col = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        unsigned c = *p;
        if (c == '\r' && p[1] == '\n')
            continue;
        if (c == '\n') {
            anpi_buf_append(b, "\r\n", 2);
            col = 0;
            continue;
        }
        char tok[4];
        size_t tl;
        bool eol = p[1] == '\0' || p[1] == '\n' || (p[1] == '\r' && p[2] == '\n');
        if ((c >= 33 && c <= 126 && c != '=') || ((c == ' ' || c == '\t') && !eol)) {
            tok[0] = (char)c;
            tl = 1;
        } else {
            snprintf(tok, sizeof(tok), "=%02X", c);
            tl = 3;
        }
        /* Leave room for the soft-break '=' (76 including it). */
        if (col + tl > 75) {
            anpi_buf_append(b, "=\r\n", 3);
            col = 0;
        }
        anpi_buf_append(b, tok, tl);
        col += tl;
    }
    if (col > 0)
        anpi_buf_append(b, "\r\n", 2);
}

/* Base64 of the canonical (CRLF) form, 76 characters per line. */
static void
encode_b64(struct anpi_buf *b, const char *s)
{
    struct anpi_buf canon;
    anpi_buf_init(&canon, MIME_MAX);
    for (const char *p = s; *p; p++) {
        if (*p == '\n' && (p == s || p[-1] != '\r'))
            anpi_buf_putc(&canon, '\r');
        anpi_buf_putc(&canon, *p);
    }
    for (size_t off = 0; off < canon.len; off += 57) {
        size_t n = canon.len - off < 57 ? canon.len - off : 57;
        char line[80];
        int el = EVP_EncodeBlock((unsigned char *)line, (const unsigned char *)canon.data + off,
                                 (int)n);
        anpi_buf_append(b, line, (size_t)el);
        anpi_buf_append(b, "\r\n", 2);
    }
    anpi_buf_free(&canon);
}

/* One text part: headers and the shorter of the two encodings. */
static void
put_part(struct anpi_buf *b, const char *subtype, const char *content)
{
    struct anpi_buf qp, bs;
    anpi_buf_init(&qp, MIME_MAX);
    anpi_buf_init(&bs, MIME_MAX);
    encode_qp(&qp, content);
    encode_b64(&bs, content);
    bool use_qp = qp.len <= bs.len;
    anpi_buf_printf(b, "Content-Type: text/%s; charset=UTF-8\r\n"
                       "Content-Transfer-Encoding: %s\r\n\r\n",
                    subtype, use_qp ? "quoted-printable" : "base64");
    struct anpi_buf *src = use_qp ? &qp : &bs;
    if (src->len)
        anpi_buf_append(b, src->data, src->len);
    anpi_buf_free(&qp);
    anpi_buf_free(&bs);
}

/* The text part as ISO-2022-JP, 7bit. */
static int
put_part_iso(struct anpi_buf *b, const char *iso, size_t len)
{
    anpi_buf_puts(b, "Content-Type: text/plain; charset=ISO-2022-JP\r\n"
                     "Content-Transfer-Encoding: 7bit\r\n\r\n");
    size_t start = b->len;
    int rc = anpi_iso2022jp_fold(iso, len, ISO_SOFT, ISO_HARD, b);
    if (rc)
        return rc;
    if (b->len > start && b->data[b->len - 1] != '\n')
        anpi_buf_append(b, "\r\n", 2);
    return 0;
}

static const char *const reserved_headers[] = {
    "Date", "From", "To", "Cc", "Bcc", "Subject", "Message-ID", "MIME-Version",
    "Content-Type", "Content-Transfer-Encoding", "Auto-Submitted",
};

static bool
extra_header_ok(const char *h)
{
    const char *colon = strchr(h, ':');
    if (!colon || colon == h || colon[1] != ' ' || strlen(h) > 998)
        return false;
    for (const char *s = h; s < colon; s++) {
        if (*s <= 0x20 || *s >= 0x7f)
            return false;
    }
    for (size_t i = 0; i < ANPI_ARRAY_LEN(reserved_headers); i++) {
        size_t n = strlen(reserved_headers[i]);
        if ((size_t)(colon - h) == n && strncasecmp(h, reserved_headers[i], n) == 0)
            return false;
    }
    for (const unsigned char *s = (const unsigned char *)colon + 1; *s; s++) {
        if ((*s < 0x20 && *s != '\t') || *s >= 0x7f)
            return false;
    }
    return true;
}

/* RFC 8058 section 3.1: the one-click target must be an HTTPS URI. */
static bool
unsub_ok(const char *u)
{
    size_t n = strlen(u);
    if (n <= 8 || n > UNSUB_MAX || strncasecmp(u, "https://", 8) != 0)
        return false;
    for (const unsigned char *s = (const unsigned char *)u; *s; s++) {
        if (*s <= 0x20 || *s >= 0x7f || *s == '<' || *s == '>' || *s == ',' || *s == '"')
            return false;
    }
    return true;
}

static bool
is_header(const char *h, const char *name)
{
    size_t n = strlen(name);
    return strncasecmp(h, name, n) == 0 && h[n] == ':';
}

/* ISO-2022-JP forms of subject, display name and text, or all NULL when one
 * of them cannot be encoded exactly (the message then goes out as UTF-8). */
struct iso_parts {
    char *subject, *name, *text;
    size_t text_len;
    struct anpi_errors subs;
};

static void
iso_parts_free(struct iso_parts *p)
{
    free(p->subject);
    free(p->name);
    free(p->text);
    anpi_errors_free(&p->subs);
    memset(p, 0, sizeof(*p));
}

static int
iso_one(const struct anpi_mime_msg *m, struct iso_parts *p, const char *what, const char *in,
        char **out, size_t *outlen)
{
    struct anpi_errors subs = { 0 };
    size_t len;
    int rc = anpi_iso2022jp_encode(in, m->jis_fallbacks, m->njis_fallbacks, out,
                                   outlen ? outlen : &len, &subs);
    if (rc == 0) {
        for (size_t i = 0; i < subs.n; i++)
            anpi_errors_add(&p->subs, "%s: %s", what, subs.msg[i]);
    }
    anpi_errors_free(&subs);
    return rc;
}

static int
iso_encode(const struct anpi_mime_msg *m, struct iso_parts *p)
{
    memset(p, 0, sizeof(*p));
    int rc = iso_one(m, p, "subject", m->subject, &p->subject, NULL);
    if (rc == 0 && m->from_name && m->from_name[0])
        rc = iso_one(m, p, "from name", m->from_name, &p->name, NULL);
    if (rc == 0)
        rc = iso_one(m, p, "text", m->text, &p->text, &p->text_len);
    if (rc)
        iso_parts_free(p);
    return rc == ANPI_DECLINED ? 0 : rc;
}

int
anpi_mime_build(const struct anpi_mime_msg *m, char **out, size_t *outlen)
{
    *out = NULL;
    *outlen = 0;
    if (m && m->used_iso2022jp)
        *m->used_iso2022jp = false;
    if (!m || !m->subject || !m->text)
        return ANPI_EPARSE;
    /* Header injection first: a CR or LF anywhere in a header value. */
    if (has_crlf(m->from) || has_crlf(m->from_name) || has_crlf(m->to) ||
        has_crlf(m->subject) || has_crlf(m->message_id) || has_crlf(m->auto_submitted))
        return ANPI_EPARSE;
    if (!addr_ok(m->from) || !addr_ok(m->to) || !msgid_ok(m->message_id))
        return ANPI_EPARSE;
    if (!utf8_valid(m->subject) || !utf8_valid(m->text) ||
        (m->from_name && !utf8_valid(m->from_name)) || (m->html && !utf8_valid(m->html)))
        return ANPI_EPARSE;
    if (m->auto_submitted && (!m->auto_submitted[0] || !is_ascii(m->auto_submitted)))
        return ANPI_EPARSE;
    for (const char *const *h = m->extra_headers; h && *h; h++) {
        if (!extra_header_ok(*h))
            return ANPI_EPARSE;
        if (m->list_unsubscribe_url &&
            (is_header(*h, "List-Unsubscribe") || is_header(*h, "List-Unsubscribe-Post")))
            return ANPI_EPARSE;
    }
    if (m->list_unsubscribe_url && !unsub_ok(m->list_unsubscribe_url))
        return ANPI_EPARSE;
    /* Base64 grows by 4/3 plus line ends: stay far below the buffer cap. */
    if (strlen(m->text) + (m->html ? strlen(m->html) : 0) + strlen(m->subject) > MIME_MAX / 3)
        return ANPI_ETOOBIG;

    struct iso_parts iso = { 0 };
    if (m->iso2022jp) {
        int rc = iso_encode(m, &iso);
        if (rc)
            return rc;
    }
    bool use_iso = iso.text != NULL;

    struct anpi_buf b;
    anpi_buf_init(&b, MIME_MAX);
    put_date(&b, m->date);
    put_from(&b, m->from_name, iso.name, m->from);
    anpi_buf_printf(&b, "To: %s\r\n", m->to);
    put_subject(&b, m->subject, iso.subject);
    anpi_buf_printf(&b, "Message-ID: <%s>\r\n", m->message_id);
    anpi_buf_puts(&b, "MIME-Version: 1.0\r\n");
    if (m->auto_submitted)
        anpi_buf_printf(&b, "Auto-Submitted: %s\r\n", m->auto_submitted);
    if (m->list_unsubscribe_url) {
        size_t ul = strlen(m->list_unsubscribe_url);
        anpi_buf_printf(&b, "List-Unsubscribe:%s<%s>\r\n",
                        18 + ul + 2 >= LINE_SOFT ? "\r\n " : " ", m->list_unsubscribe_url);
        anpi_buf_puts(&b, "List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n");
    }
    for (const char *const *h = m->extra_headers; h && *h; h++)
        anpi_buf_printf(&b, "%s\r\n", *h);
    int rc = 0;
    if (!m->html) {
        if (use_iso)
            rc = put_part_iso(&b, iso.text, iso.text_len);
        else
            put_part(&b, "plain", m->text);
    } else {
        /* "=_" cannot occur in quoted-printable or base64 output, so the
         * boundary never collides with the content. */
        uint32_t hash = 2166136261u;
        for (const char *s = m->message_id; *s; s++)
            hash = (hash ^ (unsigned char)*s) * 16777619u;
        char boundary[40];
        snprintf(boundary, sizeof(boundary), "=_anpi_%08x", hash);
        /* 7bit text can contain anything, the boundary included. */
        while (use_iso && strstr(iso.text, boundary)) {
            hash = hash * 16777619u + 1;
            snprintf(boundary, sizeof(boundary), "=_anpi_%08x", hash);
        }
        anpi_buf_printf(&b, "Content-Type: multipart/alternative; boundary=\"%s\"\r\n\r\n",
                        boundary);
        anpi_buf_printf(&b, "--%s\r\n", boundary);
        if (use_iso)
            rc = put_part_iso(&b, iso.text, iso.text_len);
        else
            put_part(&b, "plain", m->text);
        anpi_buf_printf(&b, "--%s\r\n", boundary);
        put_part(&b, "html", m->html);
        anpi_buf_printf(&b, "--%s--\r\n", boundary);
    }
    if (rc == 0 && b.len >= MIME_MAX)
        rc = ANPI_ETOOBIG;
    if (rc) {
        anpi_buf_free(&b);
        iso_parts_free(&iso);
        return rc;
    }
    if (use_iso) {
        if (m->substitutions) {
            for (size_t i = 0; i < iso.subs.n; i++)
                anpi_errors_add(m->substitutions, "%s", iso.subs.msg[i]);
        }
        if (m->used_iso2022jp)
            *m->used_iso2022jp = true;
    }
    iso_parts_free(&iso);
    *outlen = b.len;
    *out = anpi_buf_steal(&b);
    return 0;
}
