/* mailreply.c - the answer in a plain mail reply to a safety check. */
#include "channels/mailreply.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "channels/dsn.h"     /* the shared MIME reader */
#include "engine/buf.h"

#define TEXT_MAX (2u * 1024 * 1024)   /* decoded body kept for line search */

static bool
is_wsp(char c)
{
    return c == ' ' || c == '\t';
}

static void
seterr(char *err, size_t errlen, const char *what)
{
    if (err && errlen)
        snprintf(err, errlen, "%s", what);
}

void
anpi_mailreply_free(struct anpi_mailreply *r)
{
    if (!r)
        return;
    free(r->in_reply_to);
    for (size_t i = 0; i < r->nrefs; i++)
        free(r->refs[i]);
    free(r->refs);
    free(r->first_line);
    memset(r, 0, sizeof(*r));
}

/* Every "<id>" in a header value, in order; keeps the last `max`. */
static size_t
msgids(const char *v, char ***out, size_t max)
{
    size_t n = 0;
    char **ids = NULL;
    const char *p = v;
    while ((p = strchr(p, '<')) != NULL) {
        const char *e = strchr(p + 1, '>');
        if (!e)
            break;
        size_t l = (size_t)(e - p - 1);
        bool ok = l > 0 && l <= 250;
        for (size_t i = 1; ok && i <= l; i++)
            if ((unsigned char)p[i] <= ' ' || p[i] == '<' || p[i] == 0x7F)
                ok = false;
        if (ok) {
            if (n == max) {
                free(ids[0]);
                memmove(ids, ids + 1, (n - 1) * sizeof(*ids));
                n--;
            }
            ids = anpi_xrealloc(ids, (n + 1) * sizeof(*ids));
            ids[n++] = anpi_xstrndup(p + 1, l);
        }
        p = e + 1;
    }
    *out = ids;
    return n;
}

struct body {
    const char *p;
    size_t len;
    char cte[32];
    char charset[64];
    bool found;
    size_t nparts;
};

static int
find_text(struct body *b, const char *msg, size_t len, unsigned depth, char *err, size_t errlen)
{
    size_t hlen, blen;
    const char *body;
    anpi_mimer_split(msg, len, &hlen, &body, &blen);
    char ctv[ANPI_MIMER_VALUE_MAX], ctype[128], v[ANPI_MIMER_VALUE_MAX];
    int hc = anpi_mimer_header(msg, hlen, "Content-Type", ctv, sizeof(ctv));
    if (hc < 0) {
        seterr(err, errlen, "Content-Type header too long");
        return hc;
    }
    anpi_mimer_ctype(hc ? ctv : "", ctype, sizeof(ctype));
    if (strncmp(ctype, "multipart/", 10) == 0) {
        char boundary[128];
        if (anpi_mimer_param(ctv, "boundary", boundary, sizeof(boundary)) <= 0 || !boundary[0]) {
            seterr(err, errlen, "multipart without a usable boundary parameter");
            return ANPI_EPARSE;
        }
        if (depth + 1 > ANPI_MIMER_DEPTH_MAX) {
            seterr(err, errlen, "MIME parts nested too deep");
            return ANPI_ETOOBIG;
        }
        size_t pos = 0, plen;
        const char *part;
        int rc;
        while (!b->found && (rc = anpi_mimer_next_part(body, blen, boundary, &pos, &part, &plen)) == 1) {
            if (++b->nparts > ANPI_MIMER_PARTS_MAX) {
                seterr(err, errlen, "too many MIME parts");
                return ANPI_ETOOBIG;
            }
            rc = find_text(b, part, plen, depth + 1, err, errlen);
            if (rc)
                return rc;
        }
        if (!b->found && rc < 0) {
            seterr(err, errlen, "multipart body without its boundary delimiter line");
            return rc;
        }
        return 0;
    }
    if (strcmp(ctype, "text/plain") != 0 && ctype[0] != '\0')
        return 0;
    if (anpi_mimer_header(msg, hlen, "Content-Disposition", v, sizeof(v)) == 1
        && strncasecmp(v, "attachment", 10) == 0)
        return 0;
    b->found = true;
    b->p = body;
    b->len = blen;
    b->cte[0] = b->charset[0] = '\0';
    if (anpi_mimer_header(msg, hlen, "Content-Transfer-Encoding", b->cte, sizeof(b->cte)) != 1)
        b->cte[0] = '\0';
    if (hc == 1 && anpi_mimer_param(ctv, "charset", b->charset, sizeof(b->charset)) < 0)
        b->charset[0] = '\0';
    return 0;
}

/* Blanks at either end: ASCII space/tab, U+3000, U+00A0, U+FEFF. */
static void
trim(const char **s, size_t *n)
{
    const char *p = *s;
    size_t l = *n;
    for (;;) {
        if (l >= 1 && is_wsp(p[0])) {
            p++; l--;
        } else if (l >= 3 && memcmp(p, "\xE3\x80\x80", 3) == 0) {
            p += 3; l -= 3;
        } else if (l >= 3 && memcmp(p, "\xEF\xBB\xBF", 3) == 0) {
            p += 3; l -= 3;
        } else if (l >= 2 && memcmp(p, "\xC2\xA0", 2) == 0) {
            p += 2; l -= 2;
        } else {
            break;
        }
    }
    for (;;) {
        if (l >= 1 && (is_wsp(p[l - 1]) || p[l - 1] == '\r')) {
            l--;
        } else if (l >= 3 && memcmp(p + l - 3, "\xE3\x80\x80", 3) == 0) {
            l -= 3;
        } else if (l >= 2 && memcmp(p + l - 2, "\xC2\xA0", 2) == 0) {
            l -= 2;
        } else {
            break;
        }
    }
    *s = p;
    *n = l;
}

static bool
quoted(const char *s, size_t n)
{
    return (n >= 1 && s[0] == '>') || (n >= 3 && memcmp(s, "\xEF\xBC\x9E", 3) == 0);
}

static bool
ends_colon(const char *s, size_t n)
{
    return (n >= 1 && s[n - 1] == ':') || (n >= 3 && memcmp(s + n - 3, "\xEF\xBC\x9A", 3) == 0);
}

static bool
stop_line(const char *raw, size_t rn, const char *s, size_t n)
{
    if ((rn >= 3 && memcmp(raw, "-- ", 3) == 0 && n == 2) || (n == 2 && memcmp(s, "--", 2) == 0))
        return true;                       /* signature delimiter */
    static const char *const marks[] = { "-----Original Message-----", "----- Original Message -----" };
    for (size_t i = 0; i < ANPI_ARRAY_LEN(marks); i++)
        if (n == strlen(marks[i]) && strncasecmp(s, marks[i], n) == 0)
            return true;
    return false;
}

static char *
first_line(const char *t, size_t len)
{
    size_t i = 0;
    while (i < len) {
        const char *nl = memchr(t + i, '\n', len - i);
        size_t e = nl ? (size_t)(nl - t) : len;
        const char *raw = t + i;
        size_t rn = e - i;
        if (rn && raw[rn - 1] == '\r')
            rn--;
        const char *s = raw;
        size_t n = rn;
        trim(&s, &n);
        size_t next = nl ? e + 1 : len;
        if (stop_line(raw, rn, s, n))
            return NULL;
        if (n == 0 || quoted(s, n)) {
            i = next;
            continue;
        }
        if (ends_colon(s, n)) {
            /* "On ..., X wrote:" right before quoted text is not an answer */
            size_t j = next;
            bool attribution = false;
            while (j < len) {
                const char *nj = memchr(t + j, '\n', len - j);
                size_t ej = nj ? (size_t)(nj - t) : len;
                const char *s2 = t + j;
                size_t n2 = ej - j;
                trim(&s2, &n2);
                if (n2) {
                    attribution = quoted(s2, n2);
                    break;
                }
                j = nj ? ej + 1 : len;
            }
            if (attribution) {
                i = next;
                continue;
            }
        }
        /* NUL and other controls become spaces, then trim again */
        char *r = anpi_xmalloc(n + 1);
        memcpy(r, s, n);
        r[n] = '\0';
        for (size_t k = 0; k < n; k++)
            if ((unsigned char)r[k] < 0x20 || r[k] == 0x7F)
                r[k] = ' ';
        const char *rs = r;
        size_t cn = n;
        trim(&rs, &cn);
        if (cn == 0) {
            free(r);
            i = next;
            continue;
        }
        memmove(r, rs, cn);
        r[cn] = '\0';
        if (cn > ANPI_MAILREPLY_LINE_MAX) {
            size_t k = ANPI_MAILREPLY_LINE_MAX;
            while (k > 0 && ((unsigned char)r[k] & 0xC0) == 0x80)
                k--;
            r[k] = '\0';
        }
        return r;
    }
    return NULL;
}

int
anpi_mailreply_parse(const char *msg, size_t len, struct anpi_mailreply *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    if (err && errlen)
        err[0] = '\0';
    if (len > ANPI_MAILREPLY_MSG_MAX) {
        seterr(err, errlen, "reply message over the 4 MiB cap");
        return ANPI_ETOOBIG;
    }
    size_t hlen, blen;
    const char *body;
    anpi_mimer_split(msg, len, &hlen, &body, &blen);
    char v[ANPI_MIMER_VALUE_MAX];
    char **ids;
    if (anpi_mimer_header(msg, hlen, "In-Reply-To", v, sizeof(v)) == 1) {
        size_t n = msgids(v, &ids, 1);
        if (n) {
            out->in_reply_to = ids[0];
            free(ids);
        }
    }
    if (anpi_mimer_header(msg, hlen, "References", v, sizeof(v)) == 1)
        out->nrefs = msgids(v, &out->refs, ANPI_MAILREPLY_REFS_MAX);
    if (anpi_mimer_header(msg, hlen, "Auto-Submitted", v, sizeof(v)) == 1 && strncasecmp(v, "no", 2) != 0)
        out->auto_submitted = true;
    if (anpi_mimer_header(msg, hlen, "Precedence", v, sizeof(v)) == 1
        && (strcasecmp(v, "bulk") == 0 || strcasecmp(v, "junk") == 0 || strcasecmp(v, "list") == 0
            || strcasecmp(v, "auto_reply") == 0))
        out->auto_submitted = true;
    if (anpi_mimer_header(msg, hlen, "X-Autoreply", v, sizeof(v)) == 1
        || anpi_mimer_header(msg, hlen, "X-Autorespond", v, sizeof(v)) == 1)
        out->auto_submitted = true;

    struct body b;
    memset(&b, 0, sizeof(b));
    int rc = find_text(&b, msg, len, 0, err, errlen);
    if (rc || !b.found)
        return rc;
    struct anpi_buf raw, text;
    anpi_buf_init(&raw, TEXT_MAX);
    anpi_buf_init(&text, TEXT_MAX * 2);
    rc = anpi_mimer_decode(b.cte, b.p, b.len, &raw);
    if (!rc) {
        rc = anpi_mimer_to_utf8(b.charset, raw.data ? raw.data : "", raw.len, &text);
        if (rc == ANPI_DECLINED)      /* unknown charset: read it as UTF-8 */
            rc = anpi_mimer_to_utf8("utf-8", raw.data ? raw.data : "", raw.len, &text);
    }
    if (rc)
        seterr(err, errlen, "reply text decodes to more than 2 MiB");
    else
        out->first_line = first_line(text.data ? text.data : "", text.len);
    anpi_buf_free(&raw);
    anpi_buf_free(&text);
    return rc;
}

/* Full-width ASCII (U+FF01..U+FF5E) and U+3000 to ASCII, circled digits
 * (U+2460..U+2473) to "1".."20"; the rest as it is.  Output capped. */
static void
normalize(const char *s, char *out, size_t outlen)
{
    size_t o = 0;
    const unsigned char *p = (const unsigned char *)s;
    while (*p && o + 3 < outlen) {
        if (p[0] == 0xEF && (p[1] == 0xBC || p[1] == 0xBD) && (p[2] & 0xC0) == 0x80) {
            unsigned cp = 0xF000u + ((p[1] & 0x3Fu) << 6) + (p[2] & 0x3Fu);
            if (cp >= 0xFF01 && cp <= 0xFF5E) {
                out[o++] = (char)(cp - 0xFF01 + 0x21);
                p += 3;
                continue;
            }
        }
        if (p[0] == 0xE3 && p[1] == 0x80 && p[2] == 0x80) {
            out[o++] = ' ';
            p += 3;
            continue;
        }
        if (p[0] == 0xE2 && p[1] == 0x91 && p[2] >= 0xA0 && p[2] <= 0xB3) {
            int v = p[2] - 0xA0 + 1;
            o += (size_t)snprintf(out + o, outlen - o, "%d", v);
            p += 3;
            continue;
        }
        out[o++] = (char)*p++;
    }
    out[o] = '\0';
}

/* Drop trailing ". ! 。 、 ," from s (NUL-terminated, normalized). */
static void
strip_punct(char *s)
{
    size_t n = strlen(s);
    for (;;) {
        if (n >= 1 && strchr(".!,;", s[n - 1]) && s[n - 1]) {
            n--;
        } else if (n >= 3 && (memcmp(s + n - 3, "\xE3\x80\x82", 3) == 0 || memcmp(s + n - 3, "\xE3\x80\x81", 3) == 0)) {
            n -= 3;
        } else {
            break;
        }
        s[n] = '\0';
    }
}

int
anpi_mailreply_choice(const char *line, const char *const *choices, size_t n)
{
    char norm[ANPI_MAILREPLY_LINE_MAX + 64];
    if (!line)
        return -1;
    normalize(line, norm, sizeof(norm));
    const char *s = norm;
    size_t l = strlen(norm);
    trim(&s, &l);
    if (l == 0)
        return -1;
    char w[sizeof(norm)];
    memcpy(w, s, l);
    w[l] = '\0';

    /* a number: "1", "1.", "1)", "(1)", "1 無事" */
    const char *d = w;
    if (*d == '(')
        d++;
    size_t nd = 0;
    long num = 0;
    while (d[nd] >= '0' && d[nd] <= '9' && nd < 4) {
        num = num * 10 + (d[nd] - '0');
        nd++;
    }
    if (nd > 0 && nd < 4) {
        const char *r = d + nd;
        if (*r == '.' || *r == ')' || *r == ':' || *r == ',')
            r++;
        else if (strncmp(r, "\xE3\x80\x82", 3) == 0 || strncmp(r, "\xE3\x80\x81", 3) == 0)
            r += 3;
        if ((*r == '\0' || is_wsp(*r)) && num >= 1 && (size_t)num <= n)
            return (int)num - 1;
        if (*r == '\0' || is_wsp(*r))
            return -1;               /* a number, but not one of ours */
    }

    /* a label: the whole line, then its first word */
    char whole[sizeof(norm)], first[sizeof(norm)];
    snprintf(whole, sizeof(whole), "%s", w);
    strip_punct(whole);
    size_t fw = strcspn(w, " \t");
    memcpy(first, w, fw);
    first[fw] = '\0';
    strip_punct(first);
    for (int pass = 0; pass < 2; pass++) {
        const char *cand = pass == 0 ? whole : first;
        if (!*cand)
            continue;
        for (size_t i = 0; i < n; i++) {
            if (!choices[i])
                continue;
            char lab[ANPI_MAILREPLY_LINE_MAX + 64];
            normalize(choices[i], lab, sizeof(lab));
            const char *ls = lab;
            size_t ll = strlen(lab);
            trim(&ls, &ll);
            if (ll && strlen(cand) == ll && strncasecmp(cand, ls, ll) == 0)
                return (int)i;
        }
    }
    return -1;
}
