/* dsn.c - MIME reader helpers and the bounce (DSN) parser. */
#include "channels/dsn.h"

#include <ctype.h>
#include <errno.h>
#include <iconv.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "channels/smtp_reply.h"

#define ADDR_MAX       320     /* RFC 5321 path limit, rounded */
#define PART_DECODE_MAX (2u * 1024 * 1024)  /* decoded DSN / header / text part */

/* ---- small helpers --------------------------------------------------------- */

static bool
is_wsp(char c)
{
    return c == ' ' || c == '\t';
}

/* End of the line starting at i (index of '\n' or len). */
static size_t
line_end(const char *s, size_t len, size_t i)
{
    const char *nl = i < len ? memchr(s + i, '\n', len - i) : NULL;
    return nl ? (size_t)(nl - s) : len;
}

/* Length of a line's content without a trailing '\r'. */
static size_t
trim_cr(const char *s, size_t start, size_t end)
{
    if (end > start && s[end - 1] == '\r')
        end--;
    return end - start;
}

static void
seterr(char *err, size_t errlen, const char *fmt, ...) ANPI_PRINTF(3, 4);

static void
seterr(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || !errlen)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* Cut s (NUL-terminated) to at most max bytes without splitting a UTF-8
 * sequence. */
static void
utf8_truncate(char *s, size_t max)
{
    size_t n = strlen(s);
    if (n <= max)
        return;
    n = max;
    while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
        n--;
    s[n] = '\0';
}

/* ---- MIME reader ------------------------------------------------------------ */

void
anpi_mimer_split(const char *msg, size_t len, size_t *hlen, const char **body, size_t *blen)
{
    size_t i = 0;
    while (i < len) {
        size_t e = line_end(msg, len, i);
        if (trim_cr(msg, i, e) == 0) {
            *hlen = i;
            size_t b = e < len ? e + 1 : len;
            *body = msg + b;
            *blen = len - b;
            return;
        }
        i = e < len ? e + 1 : len;
    }
    *hlen = len;
    *body = msg + len;
    *blen = 0;
}

int
anpi_mimer_header(const char *hdrs, size_t hlen, const char *name, char *out, size_t outlen)
{
    size_t nlen = strlen(name);
    size_t i = 0;
    if (outlen)
        out[0] = '\0';
    while (i < hlen) {
        size_t e = line_end(hdrs, hlen, i);
        size_t n = trim_cr(hdrs, i, e);
        if (!is_wsp(hdrs[i]) && n > nlen && strncasecmp(hdrs + i, name, nlen) == 0) {
            size_t j = i + nlen;
            while (j < i + n && is_wsp(hdrs[j]))
                j++;
            if (j < i + n && hdrs[j] == ':') {
                size_t o = 0;
                j++;
                for (;;) {
                    for (; j < i + n; j++) {
                        if (o + 1 >= outlen)
                            return ANPI_ETOOBIG;
                        out[o++] = hdrs[j];
                    }
                    i = e < hlen ? e + 1 : hlen;
                    if (i >= hlen || !is_wsp(hdrs[i]))
                        break;
                    e = line_end(hdrs, hlen, i);
                    n = trim_cr(hdrs, i, e);
                    j = i;
                }
                /* trim */
                size_t s = 0;
                while (s < o && is_wsp(out[s]))
                    s++;
                while (o > s && is_wsp(out[o - 1]))
                    o--;
                memmove(out, out + s, o - s);
                out[o - s] = '\0';
                return 1;
            }
        }
        i = e < hlen ? e + 1 : hlen;
    }
    return 0;
}

void
anpi_mimer_ctype(const char *value, char *out, size_t outlen)
{
    const char *p = value;
    size_t o = 0;
    bool slash = false;
    while (is_wsp(*p))
        p++;
    while (*p && *p != ';' && !is_wsp(*p) && *p != '(') {
        if (o + 1 >= outlen) {
            o = 0;
            break;
        }
        if (*p == '/')
            slash = true;
        out[o++] = (char)tolower((unsigned char)*p);
        p++;
    }
    if (!slash || o == 0 || out[0] == '/' || out[o - 1] == '/')
        o = 0;
    if (outlen)
        out[o] = '\0';
}

/* Skip a quoted string starting at p ('"'); returns the char after it. */
static const char *
skip_quoted(const char *p)
{
    p++;
    while (*p && *p != '"') {
        if (*p == '\\' && p[1])
            p++;
        p++;
    }
    return *p ? p + 1 : p;
}

int
anpi_mimer_param(const char *value, const char *name, char *out, size_t outlen)
{
    const char *p = value;
    size_t nlen = strlen(name);
    if (outlen)
        out[0] = '\0';
    while (*p && *p != ';')
        p = *p == '"' ? skip_quoted(p) : p + 1;
    while (*p == ';') {
        p++;
        while (is_wsp(*p))
            p++;
        const char *n = p;
        while (*p && *p != '=' && *p != ';')
            p++;
        const char *ne = p;
        while (ne > n && is_wsp(ne[-1]))
            ne--;
        if (*p != '=')
            continue;
        p++;
        while (is_wsp(*p))
            p++;
        bool match = (size_t)(ne - n) == nlen && strncasecmp(n, name, nlen) == 0;
        size_t o = 0;
        if (*p == '"') {
            p++;
            while (*p && *p != '"') {
                if (*p == '\\' && p[1])
                    p++;
                if (match) {
                    if (o + 1 >= outlen)
                        return ANPI_ETOOBIG;
                    out[o++] = *p;
                }
                p++;
            }
            if (*p == '"')
                p++;
        } else {
            while (*p && *p != ';' && !is_wsp(*p)) {
                if (match) {
                    if (o + 1 >= outlen)
                        return ANPI_ETOOBIG;
                    out[o++] = *p;
                }
                p++;
            }
        }
        if (match) {
            out[o] = '\0';
            return 1;
        }
        while (*p && *p != ';')
            p = *p == '"' ? skip_quoted(p) : p + 1;
    }
    return 0;
}

/* Offset of a "--boundary" delimiter line at or after `from` (which is at
 * the start of a line), or SIZE_MAX. */
static size_t
find_delim(const char *b, size_t blen, size_t from, const char *bd, size_t bdlen)
{
    size_t i = from;
    while (i < blen) {
        if (blen - i >= bdlen + 2 && b[i] == '-' && b[i + 1] == '-'
            && memcmp(b + i + 2, bd, bdlen) == 0) {
            size_t k = i + 2 + bdlen;
            if (k == blen || b[k] == '-' || is_wsp(b[k]) || b[k] == '\r' || b[k] == '\n')
                return i;
        }
        size_t e = line_end(b, blen, i);
        i = e < blen ? e + 1 : blen;
    }
    return SIZE_MAX;
}

int
anpi_mimer_next_part(const char *body, size_t blen, const char *boundary,
                     size_t *pos, const char **part, size_t *plen)
{
    size_t bdlen = strlen(boundary);
    if (bdlen == 0)
        return ANPI_EPARSE;
    if (*pos == SIZE_MAX)
        return 0;
    size_t d;
    if (*pos == 0) {
        d = find_delim(body, blen, 0, boundary, bdlen);
        if (d == SIZE_MAX)
            return ANPI_EPARSE;
    } else {
        d = *pos;
    }
    /* d is at a delimiter: closing one ends the walk */
    size_t k = d + 2 + bdlen;
    if (k + 2 <= blen && body[k] == '-' && body[k + 1] == '-') {
        *pos = SIZE_MAX;
        return 0;
    }
    size_t e = line_end(body, blen, k);
    if (e >= blen) {
        *pos = SIZE_MAX;
        return 0;
    }
    size_t start = e + 1;
    size_t next = find_delim(body, blen, start, boundary, bdlen);
    size_t end;
    if (next == SIZE_MAX) {
        end = blen;           /* missing closing delimiter: take the rest */
        *pos = SIZE_MAX;
    } else {
        end = next;
        if (end > start && body[end - 1] == '\n')
            end--;
        if (end > start && body[end - 1] == '\r')
            end--;
        *pos = next;
    }
    *part = body + start;
    *plen = end - start;
    return 1;
}

static int
b64val(unsigned char c)
{
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

static int
hexval(unsigned char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

/* Output staging so that decoding does not call anpi_buf_append per byte. */
struct stage {
    char b[1024];
    size_t n;
    struct anpi_buf *out;
    int rc;
};

static void
stage_put(struct stage *s, char c)
{
    if (s->n == sizeof(s->b)) {
        if (!s->rc)
            s->rc = anpi_buf_append(s->out, s->b, s->n);
        s->n = 0;
    }
    s->b[s->n++] = c;
}

static int
stage_flush(struct stage *s)
{
    if (!s->rc && s->n)
        s->rc = anpi_buf_append(s->out, s->b, s->n);
    s->n = 0;
    return s->rc;
}

static int
decode_b64(const char *in, size_t len, struct anpi_buf *out)
{
    struct stage s = { .out = out };
    unsigned acc = 0;
    int nbits = 0;
    for (size_t i = 0; i < len && !s.rc; i++) {
        int v = b64val((unsigned char)in[i]);
        if (v < 0)
            continue;
        acc = ((acc << 6) | (unsigned)v) & 0xFFFFFFu;
        nbits += 6;
        if (nbits >= 8) {
            nbits -= 8;
            stage_put(&s, (char)((acc >> nbits) & 0xFF));
        }
    }
    return stage_flush(&s);
}

/* q_header: RFC 2047 "Q" ('_' is a space, no soft line breaks). */
static int
decode_qp(const char *in, size_t len, struct anpi_buf *out, bool q_header)
{
    struct stage s = { .out = out };
    for (size_t i = 0; i < len && !s.rc; i++) {
        char c = in[i];
        if (c == '_' && q_header) {
            stage_put(&s, ' ');
        } else if (c == '=') {
            /* soft line break: "=" then blanks then line end */
            size_t j = i + 1;
            while (!q_header && j < len && is_wsp(in[j]))
                j++;
            if (!q_header && j < len && (in[j] == '\n' || (in[j] == '\r' && j + 1 < len && in[j + 1] == '\n'))) {
                i = in[j] == '\r' ? j + 1 : j;
            } else if (!q_header && j == len) {
                i = j;
            } else if (i + 2 < len && hexval((unsigned char)in[i + 1]) >= 0
                       && hexval((unsigned char)in[i + 2]) >= 0) {
                stage_put(&s, (char)(hexval((unsigned char)in[i + 1]) * 16 + hexval((unsigned char)in[i + 2])));
                i += 2;
            } else {
                stage_put(&s, '=');
            }
        } else {
            stage_put(&s, c);
        }
    }
    return stage_flush(&s);
}

int
anpi_mimer_decode(const char *cte, const char *in, size_t len, struct anpi_buf *out)
{
    if (cte && strcasecmp(cte, "base64") == 0)
        return decode_b64(in, len, out);
    if (cte && strcasecmp(cte, "quoted-printable") == 0)
        return decode_qp(in, len, out, false);
    return anpi_buf_append(out, in, len);
}

static const char *
iconv_name(const char *cs)
{
    static const struct { const char *alias, *name; } map[] = {
        { "shift_jis", "CP932" }, { "shift-jis", "CP932" }, { "sjis", "CP932" },
        { "x-sjis", "CP932" }, { "windows-31j", "CP932" }, { "cp932", "CP932" },
        /* ISO-2022-JP-2 decodes everything ISO-2022-JP does and more */
        { "iso-2022-jp", "ISO-2022-JP-2" }, { "euc-jp", "EUC-JP-MS" },
    };
    for (size_t i = 0; i < ANPI_ARRAY_LEN(map); i++)
        if (strcasecmp(cs, map[i].alias) == 0)
            return map[i].name;
    return cs;
}

static const char REPL[] = "\xEF\xBF\xBD";   /* U+FFFD */

/* Copy UTF-8, replacing invalid sequences with U+FFFD. */
static int
copy_utf8(const unsigned char *s, size_t len, struct anpi_buf *out)
{
    struct stage st = { .out = out };
    size_t i = 0;
    while (i < len && !st.rc) {
        unsigned char c = s[i];
        size_t n = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3
                 : (c & 0xF8) == 0xF0 ? 4 : 0;
        bool ok = n > 0 && i + n <= len;
        for (size_t k = 1; ok && k < n; k++)
            if ((s[i + k] & 0xC0) != 0x80)
                ok = false;
        if (ok && n == 2 && c < 0xC2)
            ok = false;                                   /* overlong */
        if (ok && n == 3 && c == 0xE0 && s[i + 1] < 0xA0)
            ok = false;
        if (ok && n == 3 && c == 0xED && s[i + 1] >= 0xA0)
            ok = false;                                   /* surrogates */
        if (ok && n == 4 && ((c == 0xF0 && s[i + 1] < 0x90) || c > 0xF4 || (c == 0xF4 && s[i + 1] >= 0x90)))
            ok = false;
        if (!ok) {
            for (size_t k = 0; k < 3; k++)
                stage_put(&st, REPL[k]);
            i++;
            continue;
        }
        for (size_t k = 0; k < n; k++)
            stage_put(&st, (char)s[i + k]);
        i += n;
    }
    return stage_flush(&st);
}

int
anpi_mimer_to_utf8(const char *charset, const char *in, size_t len, struct anpi_buf *out)
{
    if (!charset || !*charset || strcasecmp(charset, "utf-8") == 0 || strcasecmp(charset, "utf8") == 0
        || strcasecmp(charset, "us-ascii") == 0 || strcasecmp(charset, "ascii") == 0)
        return copy_utf8((const unsigned char *)in, len, out);
    iconv_t cd = iconv_open("UTF-8", iconv_name(charset));
    if (cd == (iconv_t)-1)
        return ANPI_DECLINED;
    char obuf[4096];
    char *ip = (char *)(uintptr_t)in;
    size_t ileft = len;
    int rc = 0;
    while (!rc) {
        char *op = obuf;
        size_t oleft = sizeof(obuf);
        size_t r = ileft ? iconv(cd, &ip, &ileft, &op, &oleft) : iconv(cd, NULL, NULL, &op, &oleft);
        int e = errno;
        if (op > obuf)
            rc = anpi_buf_append(out, obuf, (size_t)(op - obuf));
        if (r != (size_t)-1) {
            if (ileft == 0)
                break;
            continue;
        }
        if (e == E2BIG)
            continue;
        /* EILSEQ / EINVAL: one replacement character, skip one byte */
        if (!rc)
            rc = anpi_buf_append(out, REPL, 3);
        if (ileft) {
            ip++;
            ileft--;
        }
        if (ileft == 0 && e == EINVAL)
            break;
    }
    iconv_close(cd);
    return rc;
}

/* If p starts a well-formed encoded word "=?cs?B|Q?text?=", return the
 * character after it and fill charset/enc/text; else NULL. */
static const char *
encoded_word(const char *p, char *charset, size_t cslen_max, char *enc, const char **txt, size_t *tlen)
{
    if (p[0] != '=' || p[1] != '?')
        return NULL;
    const char *cs = p + 2;
    const char *q1 = strchr(cs, '?');
    if (!q1 || q1 == cs || (size_t)(q1 - cs) >= cslen_max)
        return NULL;
    char e = q1[1];
    if (!(e == 'B' || e == 'b' || e == 'Q' || e == 'q') || q1[2] != '?')
        return NULL;
    const char *t = q1 + 3;
    const char *end = strstr(t, "?=");
    if (!end || memchr(t, ' ', (size_t)(end - t)))
        return NULL;
    memcpy(charset, cs, (size_t)(q1 - cs));
    charset[q1 - cs] = '\0';
    char *star = strchr(charset, '*');      /* RFC 2231 language */
    if (star)
        *star = '\0';
    *enc = e;
    *txt = t;
    *tlen = (size_t)(end - t);
    return end + 2;
}

int
anpi_mimer_decode_words(const char *value, struct anpi_buf *out)
{
    const char *p = value;
    bool last_word = false;
    int rc = 0;
    while (*p && !rc) {
        char charset[64], enc;
        const char *txt;
        size_t tlen;
        const char *after = encoded_word(p, charset, sizeof(charset), &enc, &txt, &tlen);
        if (after) {
            struct anpi_buf raw;
            anpi_buf_init(&raw, ANPI_MIMER_VALUE_MAX);
            rc = (enc == 'B' || enc == 'b') ? decode_b64(txt, tlen, &raw) : decode_qp(txt, tlen, &raw, true);
            size_t before = out->len;
            last_word = true;
            if (!rc) {
                rc = anpi_mimer_to_utf8(charset, raw.data ? raw.data : "", raw.len, out);
                if (rc == ANPI_DECLINED) {      /* unknown charset: keep the word */
                    out->len = before;
                    if (out->data)
                        out->data[before] = '\0';
                    rc = anpi_buf_append(out, p, (size_t)(after - p));
                    last_word = false;
                }
            }
            anpi_buf_free(&raw);
            p = after;
            continue;
        }
        if (is_wsp(*p) && last_word) {
            /* whitespace between two encoded words disappears */
            const char *q = p;
            while (is_wsp(*q) || *q == '\r' || *q == '\n')
                q++;
            if (encoded_word(q, charset, sizeof(charset), &enc, &txt, &tlen)) {
                p = q;
                continue;
            }
        }
        last_word = false;
        rc = anpi_buf_putc(out, *p++);
    }
    return rc;
}

/* ---- DSN ----------------------------------------------------------------- */

const char *
anpi_dsn_class_name(enum anpi_dsn_class c)
{
    switch (c) {
    case ANPI_DSN_NONE: return "none";
    case ANPI_DSN_HARD: return "hard";
    case ANPI_DSN_SOFT: return "soft";
    case ANPI_DSN_UNPARSED: return "unparsed";
    }
    return "?";
}

const char *
anpi_dsn_action_name(enum anpi_dsn_action a)
{
    switch (a) {
    case ANPI_DSN_ACTION_UNKNOWN: return "unknown";
    case ANPI_DSN_ACTION_FAILED: return "failed";
    case ANPI_DSN_ACTION_DELAYED: return "delayed";
    case ANPI_DSN_ACTION_DELIVERED: return "delivered";
    case ANPI_DSN_ACTION_RELAYED: return "relayed";
    case ANPI_DSN_ACTION_EXPANDED: return "expanded";
    }
    return "?";
}

void
anpi_dsn_free(struct anpi_dsn *d)
{
    if (!d)
        return;
    for (size_t i = 0; i < d->nrcpts; i++) {
        free(d->rcpts[i].final_recipient);
        free(d->rcpts[i].original_recipient);
        free(d->rcpts[i].diagnostic);
        free(d->rcpts[i].remote_mta);
    }
    free(d->rcpts);
    free(d->reporting_mta);
    free(d->orig_message_id);
    memset(d, 0, sizeof(*d));
}

struct loc {
    const char *p;
    size_t len;
    char cte[32];
    char charset[64];
    char path[48];
};

struct walk {
    struct loc ds;       /* message/delivery-status */
    struct loc orig;     /* text/rfc822-headers or message/rfc822 */
    struct loc text;     /* first text/plain */
    bool have_ds, have_orig, have_text;
    bool is_report;
    char report_type[64];
    char top_ctype[128];
    size_t nparts;
    char *err;
    size_t errlen;
};

static int
walk_part(struct walk *w, const char *msg, size_t len, unsigned depth, const char *path)
{
    size_t hlen, blen;
    const char *body;
    anpi_mimer_split(msg, len, &hlen, &body, &blen);
    char ctv[ANPI_MIMER_VALUE_MAX], ctype[128];
    int rc = anpi_mimer_header(msg, hlen, "Content-Type", ctv, sizeof(ctv));
    if (rc < 0) {
        seterr(w->err, w->errlen, "%s: Content-Type header over %d bytes", path, ANPI_MIMER_VALUE_MAX);
        return rc;
    }
    anpi_mimer_ctype(rc ? ctv : "", ctype, sizeof(ctype));
    if (depth == 0)
        snprintf(w->top_ctype, sizeof(w->top_ctype), "%s", ctype);
    if (depth == 0 && strcmp(ctype, "multipart/report") == 0) {
        w->is_report = true;
        if (anpi_mimer_param(ctv, "report-type", w->report_type, sizeof(w->report_type)) < 0)
            w->report_type[0] = '\0';
    }
    char cte[32];
    if (anpi_mimer_header(msg, hlen, "Content-Transfer-Encoding", cte, sizeof(cte)) != 1)
        cte[0] = '\0';

    if (strncmp(ctype, "multipart/", 10) == 0) {
        char boundary[128];
        rc = anpi_mimer_param(ctv, "boundary", boundary, sizeof(boundary));
        if (rc <= 0 || !boundary[0]) {
            seterr(w->err, w->errlen, "%s: %s without a usable boundary parameter", path, ctype);
            return ANPI_EPARSE;
        }
        if (depth + 1 > ANPI_MIMER_DEPTH_MAX) {
            seterr(w->err, w->errlen, "%s: multiparts nested deeper than %d", path, ANPI_MIMER_DEPTH_MAX);
            return ANPI_ETOOBIG;
        }
        size_t pos = 0;
        const char *part;
        size_t plen;
        unsigned idx = 0;
        while ((rc = anpi_mimer_next_part(body, blen, boundary, &pos, &part, &plen)) == 1) {
            if (++w->nparts > ANPI_MIMER_PARTS_MAX) {
                seterr(w->err, w->errlen, "%s: more than %d MIME parts", path, ANPI_MIMER_PARTS_MAX);
                return ANPI_ETOOBIG;
            }
            char sub[48];
            snprintf(sub, sizeof(sub), "%s.%u", path, ++idx);
            rc = walk_part(w, part, plen, depth + 1, sub);
            if (rc)
                return rc;
        }
        if (rc < 0) {
            seterr(w->err, w->errlen, "%s: %s body has no \"--%s\" delimiter line", path, ctype, boundary);
            return rc;
        }
        return 0;
    }

    struct loc *slot = NULL;
    if (!w->have_ds && (strcmp(ctype, "message/delivery-status") == 0
                        || strcmp(ctype, "message/global-delivery-status") == 0)) {
        slot = &w->ds;
        w->have_ds = true;
    } else if (!w->have_orig && depth > 0
               && (strcmp(ctype, "text/rfc822-headers") == 0 || strcmp(ctype, "message/rfc822") == 0
                   || strcmp(ctype, "message/global") == 0
                   || strcmp(ctype, "message/global-headers") == 0)) {
        slot = &w->orig;
        w->have_orig = true;
    } else if (!w->have_text && (strcmp(ctype, "text/plain") == 0 || ctype[0] == '\0')) {
        slot = &w->text;
        w->have_text = true;
    }
    if (slot) {
        slot->p = body;
        slot->len = blen;
        memcpy(slot->cte, cte, sizeof(slot->cte));
        slot->charset[0] = '\0';
        if (rc == 1 && anpi_mimer_param(ctv, "charset", slot->charset, sizeof(slot->charset)) < 0)
            slot->charset[0] = '\0';
        snprintf(slot->path, sizeof(slot->path), "%s", path);
    }
    return 0;
}

/* "rfc822; <taro@example.jp>" -> "taro@example.jp" (malloc'ed), or NULL
 * when empty.  Control characters are replaced so the value is safe to log
 * masked and to store. */
static char *
typed_value(const char *v, bool strip_angle, size_t max)
{
    const char *semi = strchr(v, ';');
    const char *s = semi ? semi + 1 : v;
    while (is_wsp(*s))
        s++;
    size_t n = strlen(s);
    while (n && is_wsp(s[n - 1]))
        n--;
    if (strip_angle && n >= 2 && s[0] == '<' && s[n - 1] == '>') {
        s++;
        n -= 2;
    }
    if (n == 0)
        return NULL;
    char *r = anpi_xstrndup(s, n);
    for (char *c = r; *c; c++)
        if ((unsigned char)*c < 0x20 || *c == 0x7F)
            *c = '?';
    utf8_truncate(r, max);
    return r;
}

static enum anpi_dsn_action
parse_action(const char *v)
{
    static const struct { const char *w; enum anpi_dsn_action a; } t[] = {
        { "failed", ANPI_DSN_ACTION_FAILED }, { "delayed", ANPI_DSN_ACTION_DELAYED },
        { "delivered", ANPI_DSN_ACTION_DELIVERED }, { "relayed", ANPI_DSN_ACTION_RELAYED },
        { "expanded", ANPI_DSN_ACTION_EXPANDED },
    };
    size_t n = 0;
    while (v[n] && !is_wsp(v[n]) && v[n] != '(' && v[n] != ';')
        n++;
    for (size_t i = 0; i < ANPI_ARRAY_LEN(t); i++)
        if (strlen(t[i].w) == n && strncasecmp(v, t[i].w, n) == 0)
            return t[i].a;
    return ANPI_DSN_ACTION_UNKNOWN;
}

static enum anpi_dsn_class
classify(enum anpi_dsn_action a, const char *status)
{
    switch (a) {
    case ANPI_DSN_ACTION_DELIVERED:
    case ANPI_DSN_ACTION_RELAYED:
    case ANPI_DSN_ACTION_EXPANDED:
        return ANPI_DSN_NONE;
    case ANPI_DSN_ACTION_DELAYED:
        return ANPI_DSN_SOFT;
    case ANPI_DSN_ACTION_FAILED:
        if (status[0] == '5')
            return ANPI_DSN_HARD;
        if (status[0] == '4')
            return ANPI_DSN_SOFT;
        return ANPI_DSN_UNPARSED;
    case ANPI_DSN_ACTION_UNKNOWN:
        break;
    }
    return ANPI_DSN_UNPARSED;
}

static struct anpi_dsn_rcpt *
add_rcpt(struct anpi_dsn *d)
{
    d->rcpts = anpi_xrealloc(d->rcpts, (d->nrcpts + 1) * sizeof(*d->rcpts));
    struct anpi_dsn_rcpt *r = &d->rcpts[d->nrcpts++];
    memset(r, 0, sizeof(*r));
    return r;
}

/* Check that every line of a field group is "Name: value" or a folded
 * continuation; returns the 1-based line number of the first bad one, 0. */
static size_t
group_bad_line(const char *g, size_t glen, size_t first_line)
{
    size_t i = 0, ln = first_line;
    while (i < glen) {
        size_t e = line_end(g, glen, i);
        size_t n = trim_cr(g, i, e);
        if (n && !is_wsp(g[i])) {
            size_t k = i;
            while (k < i + n && g[k] != ':' && g[k] > ' ' && g[k] < 0x7F)
                k++;
            if (k == i || k >= i + n || g[k] != ':')
                return ln;
        } else if (n && i == 0) {
            return ln;             /* a group cannot start with a continuation */
        }
        ln++;
        i = e < glen ? e + 1 : glen;
    }
    return 0;
}

static int
parse_status_part(const char *s, size_t len, struct anpi_dsn *d, const char *path, char *err, size_t errlen)
{
    size_t i = 0, ln = 1;
    unsigned group = 0;
    char v[ANPI_MIMER_VALUE_MAX];
    while (i < len) {
        /* skip blank lines between groups */
        size_t e = line_end(s, len, i);
        size_t n = trim_cr(s, i, e);
        bool blank = true;
        for (size_t k = i; k < i + n; k++)
            if (!is_wsp(s[k]))
                blank = false;
        if (blank) {
            i = e < len ? e + 1 : len;
            ln++;
            continue;
        }
        size_t gstart = i, gline = ln;
        while (i < len) {
            e = line_end(s, len, i);
            n = trim_cr(s, i, e);
            blank = true;
            for (size_t k = i; k < i + n; k++)
                if (!is_wsp(s[k]))
                    blank = false;
            if (blank)
                break;
            i = e < len ? e + 1 : len;
            ln++;
        }
        const char *g = s + gstart;
        size_t glen = i - gstart;
        group++;
        size_t bad = group_bad_line(g, glen, gline);
        if (bad) {
            seterr(err, errlen, "%s (delivery-status) line %zu: expected \"Field: value\"", path, bad);
            return ANPI_EPARSE;
        }
        int hf = anpi_mimer_header(g, glen, "Final-Recipient", v, sizeof(v));
        int ho = hf;
        if (hf < 0) {
            seterr(err, errlen, "%s (delivery-status) line %zu: field over %d bytes", path, gline, ANPI_MIMER_VALUE_MAX);
            return hf;
        }
        if (group == 1 && hf == 0) {
            /* the per-message group */
            if (anpi_mimer_header(g, glen, "Reporting-MTA", v, sizeof(v)) == 1)
                d->reporting_mta = typed_value(v, false, 255);
            continue;
        }
        char ov[ANPI_MIMER_VALUE_MAX];
        ho = anpi_mimer_header(g, glen, "Original-Recipient", ov, sizeof(ov));
        if (hf == 0 && ho != 1) {
            seterr(err, errlen, "%s (delivery-status) line %zu: recipient group %u has no Final-Recipient field",
                   path, gline, group - 1);
            return ANPI_EPARSE;
        }
        if (d->nrcpts >= ANPI_DSN_RCPTS_MAX) {
            seterr(err, errlen, "%s (delivery-status): more than %d recipient groups", path, ANPI_DSN_RCPTS_MAX);
            return ANPI_ETOOBIG;
        }
        struct anpi_dsn_rcpt *r = add_rcpt(d);
        r->final_recipient = hf == 1 ? typed_value(v, true, ADDR_MAX) : NULL;
        r->original_recipient = ho == 1 ? typed_value(ov, true, ADDR_MAX) : NULL;
        if (!r->final_recipient && !r->original_recipient) {
            seterr(err, errlen, "%s (delivery-status) line %zu: empty Final-Recipient", path, gline);
            return ANPI_EPARSE;
        }
        if (anpi_mimer_header(g, glen, "Action", v, sizeof(v)) == 1)
            r->action = parse_action(v);
        if (anpi_mimer_header(g, glen, "Status", v, sizeof(v)) == 1) {
            size_t vl = strlen(v);
            if (!anpi_smtp_parse_enhanced(v, vl, r->status)) {
                /* "5.1.1 (user unknown)" is common: allow a comment */
                char *sp = strpbrk(v, " \t(");
                size_t k = sp ? (size_t)(sp - v) : vl;
                char tmp[16];
                if (k < sizeof(tmp)) {
                    memcpy(tmp, v, k);
                    tmp[k] = '\0';
                    if (!anpi_smtp_parse_enhanced(tmp, k, r->status))
                        r->status[0] = '\0';
                }
            }
        }
        if (anpi_mimer_header(g, glen, "Diagnostic-Code", v, sizeof(v)) == 1)
            r->diagnostic = typed_value(v, false, ANPI_DSN_TEXT_MAX);
        if (anpi_mimer_header(g, glen, "Remote-MTA", v, sizeof(v)) == 1)
            r->remote_mta = typed_value(v, false, 255);
        r->cls = classify(r->action, r->status);
    }
    if (d->nrcpts == 0) {
        seterr(err, errlen, "%s (delivery-status): no per-recipient fields", path);
        return ANPI_EPARSE;
    }
    return 0;
}

/* Message-ID of a header block, without <>. */
static char *
header_msgid(const char *h, size_t hlen)
{
    char v[ANPI_MIMER_VALUE_MAX];
    if (anpi_mimer_header(h, hlen, "Message-ID", v, sizeof(v)) != 1)
        return NULL;
    char *lt = strchr(v, '<');
    char *s = lt ? lt + 1 : v;
    char *gt = strchr(s, '>');
    if (gt)
        *gt = '\0';
    else if (lt)
        return NULL;
    return typed_value(s, false, 255);  /* no ';' in a msg-id: trims blanks */
}

/* ---- non-standard bounces ------------------------------------------------- */

static bool
contains_ci(const char *hay, size_t len, const char *needle)
{
    size_t n = strlen(needle);
    for (size_t i = 0; i + n <= len; i++)
        if (strncasecmp(hay + i, needle, n) == 0)
            return true;
    return false;
}

/* Phrases that say "no such mailbox" (hard) or "try later" (soft), in the
 * English of common MTAs and the Japanese of carrier bounces. */
static const char *const HARD_PHRASES[] = {
    "user unknown", "unknown user", "no such user", "no such mailbox",
    "mailbox unavailable", "recipient address rejected", "does not exist",
    "no mailbox here", "address rejected",
    "\xE5\xAE\x9B\xE5\x85\x88\xE4\xB8\x8D\xE6\x98\x8E",                         /* 宛先不明 */
    "\xE5\xAD\x98\xE5\x9C\xA8\xE3\x81\x97\xE3\x81\xBE\xE3\x81\x9B\xE3\x82\x93", /* 存在しません */
};
static const char *const SOFT_PHRASES[] = {
    "mailbox full", "mailbox is full", "over quota", "quota exceeded",
    "\xE5\xAE\xB9\xE9\x87\x8F\xE3\x82\xAA\xE3\x83\xBC\xE3\x83\x90\xE3\x83\xBC", /* 容量オーバー */
};
static const char *const ORIG_MARKERS[] = {
    "original message follows", "unsent message follows", "copy of the message",
    "returned message follows", "message header follows", "below this line is a copy",
    "\xE5\x85\x83\xE3\x81\xAE\xE3\x83\xA1\xE3\x83\x83\xE3\x82\xBB\xE3\x83\xBC\xE3\x82\xB8", /* 元のメッセージ */
};
static const char *const BOUNCE_SUBJECTS[] = {
    "undeliverable", "undelivered", "returned mail", "delivery status notification",
    "mail delivery", "failure notice", "delivery failure",
    "\xE9\x85\x8D\xE4\xBF\xA1\xE3\x82\xA8\xE3\x83\xA9\xE3\x83\xBC",   /* 配信エラー */
    "\xE9\x80\x81\xE4\xBF\xA1\xE3\x82\xA8\xE3\x83\xA9\xE3\x83\xBC",   /* 送信エラー */
    "\xE5\xAE\x9B\xE5\x85\x88\xE4\xB8\x8D\xE6\x98\x8E",               /* 宛先不明 */
};

static bool
addr_char(char c)
{
    return isalnum((unsigned char)c) || strchr("._%+-=!#$&'*/?^`{|}~", c);
}

/* Find "local@domain.tld" in line [s, s+n); copies it into out. */
static bool
find_addr(const char *s, size_t n, char *out, size_t outlen)
{
    for (size_t i = 0; i < n; i++) {
        if (s[i] != '@')
            continue;
        size_t a = i, b = i + 1;
        while (a > 0 && addr_char(s[a - 1]))
            a--;
        bool dot = false;
        while (b < n && (isalnum((unsigned char)s[b]) || s[b] == '-' || s[b] == '.')) {
            if (s[b] == '.')
                dot = true;
            b++;
        }
        while (b > i + 1 && s[b - 1] == '.')
            b--;
        if (a < i && b > i + 1 && dot && b - a < outlen && b - a <= ADDR_MAX) {
            memcpy(out, s + a, b - a);
            out[b - a] = '\0';
            return true;
        }
    }
    return false;
}

/* A status in a line: "5.1.1" (also "(#5.1.1)") or a bare "550"-style code. */
static void
find_status(const char *s, size_t n, char *status)
{
    status[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        if (i > 0 && (isalnum((unsigned char)s[i - 1]) || s[i - 1] == '.'))
            continue;
        if (anpi_smtp_parse_enhanced(s + i, n - i, status))
            return;
        char tmp[16];
        size_t k = i;
        while (k < n && k - i < sizeof(tmp) - 1 && s[k] != ')' && !is_wsp(s[k]))
            k++;
        memcpy(tmp, s + i, k - i);
        tmp[k - i] = '\0';
        if (anpi_smtp_parse_enhanced(tmp, k - i, status))
            return;
    }
    for (size_t i = 0; i + 3 <= n; i++) {
        if ((s[i] == '4' || s[i] == '5') && isdigit((unsigned char)s[i + 1]) && isdigit((unsigned char)s[i + 2])
            && (i == 0 || s[i - 1] == ' ') && (i + 3 == n || s[i + 3] == ' ' || s[i + 3] == '-')) {
            snprintf(status, 16, "%c.0.0", s[i]);
            return;
        }
    }
}

static int
heuristic(struct anpi_dsn *d, const char *hdrs, size_t hlen, const char *text, size_t tlen,
          char *err, size_t errlen)
{
    char v[ANPI_MIMER_VALUE_MAX];
    bool bounceish = false;
    if (anpi_mimer_header(hdrs, hlen, "From", v, sizeof(v)) == 1
        && (contains_ci(v, strlen(v), "mailer-daemon") || contains_ci(v, strlen(v), "postmaster")))
        bounceish = true;
    if (!bounceish && anpi_mimer_header(hdrs, hlen, "Subject", v, sizeof(v)) == 1) {
        struct anpi_buf sb;
        anpi_buf_init(&sb, ANPI_MIMER_VALUE_MAX * 2);
        if (anpi_mimer_decode_words(v, &sb) == 0 && sb.data)
            for (size_t i = 0; i < ANPI_ARRAY_LEN(BOUNCE_SUBJECTS); i++)
                if (contains_ci(sb.data, sb.len, BOUNCE_SUBJECTS[i]))
                    bounceish = true;
        anpi_buf_free(&sb);
    }
    if (!bounceish) {
        seterr(err, errlen, "not a delivery status notification (no multipart/report, "
               "not from MAILER-DAEMON, no bounce subject)");
        return ANPI_DECLINED;
    }
    size_t i = 0;
    bool unsure = false;
    while (i < tlen) {
        size_t e = line_end(text, tlen, i);
        size_t n = trim_cr(text, i, e);
        const char *ln = text + i;
        size_t next = e < tlen ? e + 1 : tlen;
        bool marker = false;
        for (size_t k = 0; k < ANPI_ARRAY_LEN(ORIG_MARKERS); k++)
            if (contains_ci(ln, n, ORIG_MARKERS[k]))
                marker = true;
        if (marker) {
            /* the returned message: take its Message-ID, stop looking */
            const char *rest = text + next;
            size_t rlen = tlen - next;
            while (rlen && (*rest == '\n' || *rest == '\r')) {
                rest++;
                rlen--;
            }
            size_t rh;
            const char *rb;
            size_t rbl;
            anpi_mimer_split(rest, rlen, &rh, &rb, &rbl);
            if (!d->orig_message_id)
                d->orig_message_id = header_msgid(rest, rh);
            break;
        }
        char addr[ADDR_MAX + 1];
        if (!find_addr(ln, n, addr, sizeof(addr))) {
            i = next;
            continue;
        }
        /* look at this line and the following ones up to a blank line or
         * the next address for a status or a known phrase */
        char status[16] = "";
        enum anpi_dsn_class cls = ANPI_DSN_UNPARSED;
        size_t j = i, lines = 0;
        while (j < tlen && lines < 4) {
            size_t ej = line_end(text, tlen, j);
            size_t nj = trim_cr(text, j, ej);
            const char *lj = text + j;
            char other[ADDR_MAX + 1];
            if (lines > 0 && (nj == 0 || (find_addr(lj, nj, other, sizeof(other)) && strcasecmp(other, addr))))
                break;
            if (!status[0])
                find_status(lj, nj, status);
            for (size_t k = 0; cls == ANPI_DSN_UNPARSED && k < ANPI_ARRAY_LEN(HARD_PHRASES); k++)
                if (contains_ci(lj, nj, HARD_PHRASES[k]))
                    cls = ANPI_DSN_HARD;
            for (size_t k = 0; cls == ANPI_DSN_UNPARSED && k < ANPI_ARRAY_LEN(SOFT_PHRASES); k++)
                if (contains_ci(lj, nj, SOFT_PHRASES[k]))
                    cls = ANPI_DSN_SOFT;
            lines++;
            j = ej < tlen ? ej + 1 : tlen;
        }
        if (status[0] == '5')
            cls = ANPI_DSN_HARD;
        else if (status[0] == '4')
            cls = ANPI_DSN_SOFT;
        else if (cls == ANPI_DSN_HARD)
            snprintf(status, sizeof(status), "5.1.1");
        else if (cls == ANPI_DSN_SOFT)
            snprintf(status, sizeof(status), "4.2.2");
        bool seen = false;
        for (size_t k = 0; k < d->nrcpts; k++)
            if (d->rcpts[k].final_recipient && strcasecmp(d->rcpts[k].final_recipient, addr) == 0) {
                seen = true;
                if (d->rcpts[k].cls == ANPI_DSN_UNPARSED && cls != ANPI_DSN_UNPARSED) {
                    d->rcpts[k].cls = cls;
                    snprintf(d->rcpts[k].status, sizeof(d->rcpts[k].status), "%s", status);
                }
            }
        if (!seen) {
            if (d->nrcpts >= ANPI_DSN_RCPTS_MAX) {
                seterr(err, errlen, "bounce text names more than %d addresses", ANPI_DSN_RCPTS_MAX);
                return ANPI_ETOOBIG;
            }
            struct anpi_dsn_rcpt *r = add_rcpt(d);
            r->final_recipient = anpi_xstrdup(addr);
            r->cls = cls;
            r->action = cls == ANPI_DSN_HARD ? ANPI_DSN_ACTION_FAILED
                      : cls == ANPI_DSN_SOFT ? ANPI_DSN_ACTION_DELAYED : ANPI_DSN_ACTION_UNKNOWN;
            snprintf(r->status, sizeof(r->status), "%s", status);
            char diag[ANPI_DSN_TEXT_MAX + 1];
            size_t dl = n < ANPI_DSN_TEXT_MAX ? n : ANPI_DSN_TEXT_MAX;
            memcpy(diag, ln, dl);
            diag[dl] = '\0';
            r->diagnostic = typed_value(diag, false, ANPI_DSN_TEXT_MAX);
        }
        i = next;
    }
    for (size_t k = 0; k < d->nrcpts; k++)
        if (d->rcpts[k].cls == ANPI_DSN_UNPARSED)
            unsure = true;
    if (d->nrcpts == 0 || unsure) {
        /* classify only when confident: one unsure address spoils all */
        char *keep = d->orig_message_id;
        d->orig_message_id = NULL;
        anpi_dsn_free(d);
        d->orig_message_id = keep;
        seterr(err, errlen, d->nrcpts == 0 && !unsure
               ? "bounce without a delivery-status part: no failed address recognised"
               : "bounce without a delivery-status part: an address without a recognisable reason");
        return ANPI_DECLINED;
    }
    return 0;
}

int
anpi_dsn_parse(const char *msg, size_t len, struct anpi_dsn *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    if (err && errlen)
        err[0] = '\0';
    if (len > ANPI_DSN_MSG_MAX) {
        seterr(err, errlen, "message of %zu bytes is over the %u byte cap", len, ANPI_DSN_MSG_MAX);
        return ANPI_ETOOBIG;
    }
    struct walk w;
    memset(&w, 0, sizeof(w));
    w.err = err;
    w.errlen = errlen;
    int rc = walk_part(&w, msg, len, 0, "part 1");
    if (rc)
        return rc;

    struct anpi_buf b;
    anpi_buf_init(&b, PART_DECODE_MAX);
    if (w.have_orig) {
        rc = anpi_mimer_decode(w.orig.cte, w.orig.p, w.orig.len, &b);
        if (rc) {
            seterr(err, errlen, "%s: returned headers decode to more than %u bytes", w.orig.path, PART_DECODE_MAX);
            goto out;
        }
        size_t hl, bl;
        const char *bd;
        anpi_mimer_split(b.data ? b.data : "", b.len, &hl, &bd, &bl);
        out->orig_message_id = header_msgid(b.data ? b.data : "", hl);
        anpi_buf_reset(&b);
    }
    if (w.have_ds) {
        out->standard = true;
        rc = anpi_mimer_decode(w.ds.cte, w.ds.p, w.ds.len, &b);
        if (rc) {
            seterr(err, errlen, "%s: delivery-status decodes to more than %u bytes", w.ds.path, PART_DECODE_MAX);
            goto out;
        }
        rc = parse_status_part(b.data ? b.data : "", b.len, out, w.ds.path, err, errlen);
        goto out;
    }
    if (w.is_report && strcasecmp(w.report_type, "delivery-status") != 0) {
        seterr(err, errlen, "multipart/report with report-type \"%s\" is not a delivery status notification",
               w.report_type);
        rc = ANPI_DECLINED;
        goto out;
    }
    if (w.is_report) {
        seterr(err, errlen, "multipart/report; report-type=delivery-status without a "
               "message/delivery-status part");
        rc = ANPI_EPARSE;
        goto out;
    }
    /* non-standard bounce: read the text as UTF-8 */
    size_t hlen, blen;
    const char *body;
    anpi_mimer_split(msg, len, &hlen, &body, &blen);
    if (w.have_text) {
        struct anpi_buf raw;
        anpi_buf_init(&raw, PART_DECODE_MAX);
        rc = anpi_mimer_decode(w.text.cte, w.text.p, w.text.len, &raw);
        if (!rc) {
            rc = anpi_mimer_to_utf8(w.text.charset, raw.data ? raw.data : "", raw.len, &b);
            if (rc == ANPI_DECLINED)
                rc = anpi_buf_append(&b, raw.data ? raw.data : "", raw.len);
        }
        anpi_buf_free(&raw);
        if (rc) {
            seterr(err, errlen, "%s: text decodes to more than %u bytes", w.text.path, PART_DECODE_MAX);
            goto out;
        }
    }
    rc = heuristic(out, msg, hlen, b.data ? b.data : "", b.len, err, errlen);
out:
    anpi_buf_free(&b);
    return rc;
}
