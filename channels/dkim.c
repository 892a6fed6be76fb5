/* dkim.c - DKIM signing (RFC 6376; Ed25519 per RFC 8463) with OpenSSL 3.
 *
 * Only relaxed/relaxed is written: it survives the whitespace changes and
 * header refolding that relays and carrier gateways do.  The signer keeps
 * no state between calls and the key is only read, so signing runs on the
 * libuv thread pool (anpi_dkim_sign_async) and never on the loop. */
#include "channels/dkim.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "engine/buf.h"

#define DKIM_MAX     (64u * 1024 * 1024)
#define MAX_HEADERS  512
#define B64_LINE     72

enum dkim_alg { ALG_RSA_SHA256, ALG_ED25519_SHA256 };

struct anpi_dkim_key {
    enum dkim_alg alg;
    char *domain;
    char *selector;
    EVP_PKEY *pkey;
};

/* The fields signed, in h= order (RFC 6376 5.4.1 lists the ones that
 * matter: those a reader sees and those that change how the body is read). */
static const char *const signed_fields[] = {
    "From", "To", "Subject", "Date", "Message-ID", "MIME-Version", "Content-Type",
    "Content-Transfer-Encoding", "Auto-Submitted", "List-Unsubscribe",
    "List-Unsubscribe-Post",
};

static bool
name_ok(const char *s, size_t max, const char *extra)
{
    size_t n = strlen(s);
    if (n == 0 || n > max || s[0] == '.' || s[0] == '-')
        return false;
    for (; *s; s++) {
        if (!isalnum((unsigned char)*s) && !strchr(extra, *s))
            return false;
    }
    return true;
}

/* Never prompt on the terminal for an encrypted key: fail instead. */
static int
no_passphrase(char *buf, int size, int rwflag, void *u)
{
    (void)buf;
    (void)size;
    (void)rwflag;
    (void)u;
    return -1;
}

struct anpi_dkim_key *
anpi_dkim_key_load(const char *pem_path, const char *algorithm, const char *domain,
                   const char *selector, char *err, size_t errlen)
{
    if (errlen)
        err[0] = '\0';
    enum dkim_alg alg;
    if (algorithm && strcmp(algorithm, "rsa-sha256") == 0) {
        alg = ALG_RSA_SHA256;
    } else if (algorithm && strcmp(algorithm, "ed25519-sha256") == 0) {
        alg = ALG_ED25519_SHA256;
    } else {
        snprintf(err, errlen, "dkim: algorithm \"%s\": expected rsa-sha256 or ed25519-sha256",
                 algorithm ? algorithm : "");
        return NULL;
    }
    if (!domain || !name_ok(domain, 253, ".-")) {
        snprintf(err, errlen, "dkim: domain \"%s\" is not a domain name", domain ? domain : "");
        return NULL;
    }
    if (!selector || !name_ok(selector, 63, ".-_")) {
        snprintf(err, errlen, "dkim: selector \"%s\": letters, digits, '.', '-', '_' only",
                 selector ? selector : "");
        return NULL;
    }
    if (!pem_path) {
        snprintf(err, errlen, "dkim: no key file");
        return NULL;
    }
    FILE *f = fopen(pem_path, "r");
    if (!f) {
        snprintf(err, errlen, "%s: cannot open DKIM key: %s", pem_path, strerror(errno));
        return NULL;
    }
    EVP_PKEY *pkey = PEM_read_PrivateKey(f, NULL, no_passphrase, NULL);
    fclose(f);
    if (!pkey) {
        unsigned long e = ERR_get_error();
        char why[160] = "no PEM private key found";
        if (e)
            ERR_error_string_n(e, why, sizeof(why));
        ERR_clear_error();
        snprintf(err, errlen, "%s: not an unencrypted PEM private key (%s)", pem_path, why);
        return NULL;
    }
    int id = EVP_PKEY_get_base_id(pkey);
    if (alg == ALG_RSA_SHA256 && id != EVP_PKEY_RSA) {
        snprintf(err, errlen, "%s: rsa-sha256 needs an RSA key, the file holds %s", pem_path,
                 OBJ_nid2sn(id));
        EVP_PKEY_free(pkey);
        return NULL;
    }
    if (alg == ALG_RSA_SHA256 && EVP_PKEY_get_bits(pkey) < 1024) {
        /* RFC 8301 section 3.2: verifiers reject smaller keys. */
        snprintf(err, errlen, "%s: RSA key of %d bits, DKIM needs at least 1024 (use 2048)",
                 pem_path, EVP_PKEY_get_bits(pkey));
        EVP_PKEY_free(pkey);
        return NULL;
    }
    if (alg == ALG_ED25519_SHA256 && id != EVP_PKEY_ED25519) {
        snprintf(err, errlen, "%s: ed25519-sha256 needs an Ed25519 key, the file holds %s",
                 pem_path, OBJ_nid2sn(id));
        EVP_PKEY_free(pkey);
        return NULL;
    }
    struct anpi_dkim_key *k = anpi_xcalloc(1, sizeof(*k));
    k->alg = alg;
    k->domain = anpi_xstrdup(domain);
    k->selector = anpi_xstrdup(selector);
    k->pkey = pkey;
    return k;
}

void
anpi_dkim_key_free(struct anpi_dkim_key *k)
{
    if (!k)
        return;
    EVP_PKEY_free(k->pkey);
    free(k->domain);
    free(k->selector);
    free(k);
}

static char *
b64(const unsigned char *p, size_t n)
{
    char *out = anpi_xmalloc(4 * ((n + 2) / 3) + 1);
    EVP_EncodeBlock((unsigned char *)out, p, (int)n);
    return out;
}

char *
anpi_dkim_dns_txt(const struct anpi_dkim_key *k)
{
    if (!k)
        return NULL;
    if (k->alg == ALG_ED25519_SHA256) {
        unsigned char raw[32];
        size_t n = sizeof(raw);
        if (EVP_PKEY_get_raw_public_key(k->pkey, raw, &n) != 1 || n != 32) {
            ERR_clear_error();
            return NULL;
        }
        char *p = b64(raw, n);
        char *txt = anpi_xasprintf("v=DKIM1; k=ed25519; p=%s", p);
        free(p);
        return txt;
    }
    unsigned char *der = NULL;
    int n = i2d_PUBKEY(k->pkey, &der);
    if (n <= 0) {
        ERR_clear_error();
        return NULL;
    }
    char *p = b64(der, (size_t)n);
    OPENSSL_free(der);
    char *txt = anpi_xasprintf("v=DKIM1; k=rsa; p=%s", p);
    free(p);
    return txt;
}

/* One header field of the message: name and the raw value after the colon
 * (folding included), up to but not including its final line end. */
struct field {
    const char *name;
    size_t namelen;
    const char *val;
    size_t vallen;
    bool used;
};

/* Split msg into header fields and the body offset. */
static int
parse_header(const char *msg, size_t len, struct field *f, size_t *nf, size_t *body)
{
    size_t i = 0, n = 0;
    *body = len;
    while (i < len) {
        /* an empty line ends the header */
        if (msg[i] == '\n') {
            *body = i + 1;
            break;
        }
        if (msg[i] == '\r' && i + 1 < len && msg[i + 1] == '\n') {
            *body = i + 2;
            break;
        }
        if (msg[i] == ' ' || msg[i] == '\t')
            return ANPI_EPARSE;          /* continuation with nothing to continue */
        const char *colon = memchr(msg + i, ':', len - i);
        const char *eol = memchr(msg + i, '\n', len - i);
        if (!colon || (eol && colon > eol) || colon == msg + i)
            return ANPI_EPARSE;
        if (n == MAX_HEADERS)
            return ANPI_ETOOBIG;
        f[n].name = msg + i;
        f[n].namelen = (size_t)(colon - (msg + i));
        while (f[n].namelen && (f[n].name[f[n].namelen - 1] == ' ' ||
                                f[n].name[f[n].namelen - 1] == '\t'))
            f[n].namelen--;
        f[n].val = colon + 1;
        f[n].used = false;
        /* the value runs on over continuation lines */
        size_t j = (size_t)(colon + 1 - msg);
        for (;;) {
            const char *e = memchr(msg + j, '\n', len - j);
            if (!e) {
                j = len;
                break;
            }
            j = (size_t)(e - msg) + 1;
            if (j < len && (msg[j] == ' ' || msg[j] == '\t'))
                continue;
            break;
        }
        size_t end = j;
        if (end > 0 && msg[end - 1] == '\n')
            end--;
        if (end > 0 && msg[end - 1] == '\r')
            end--;
        f[n].vallen = end - (size_t)(f[n].val - msg);
        n++;
        i = j;
    }
    *nf = n;
    return 0;
}

/* RFC 6376 3.4.2: lowercase name, unfold, runs of WSP -> one SP, no WSP
 * around the colon or at the end; CRLF appended when crlf. */
static void
canon_header(struct anpi_buf *b, const char *name, size_t namelen, const char *val,
             size_t vallen, bool crlf)
{
    for (size_t i = 0; i < namelen; i++)
        anpi_buf_putc(b, (char)tolower((unsigned char)name[i]));
    anpi_buf_putc(b, ':');
    bool sp = false, any = false;
    for (size_t i = 0; i < vallen; i++) {
        char c = val[i];
        if (c == '\r' || c == '\n')
            continue;
        if (c == ' ' || c == '\t') {
            sp = true;
            continue;
        }
        if (sp && any)
            anpi_buf_putc(b, ' ');
        sp = false;
        any = true;
        anpi_buf_putc(b, c);
    }
    if (crlf)
        anpi_buf_append(b, "\r\n", 2);
}

/* RFC 6376 3.4.4 body hash: WSP runs -> one SP, no WSP at line ends, no
 * empty lines at the end, CRLF line ends.  Empty lines are held back until
 * a non-empty line shows they are not trailing. */
static int
body_hash(const char *body, size_t len, unsigned char md[32])
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (!ctx || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1) {
        EVP_MD_CTX_free(ctx);
        return ANPI_ERROR;
    }
    char line[1024];
    size_t pending = 0;
    size_t i = 0;
    while (i < len) {
        const char *e = memchr(body + i, '\n', len - i);
        size_t end = e ? (size_t)(e - body) : len;
        size_t next = e ? end + 1 : len;
        if (end > i && body[end - 1] == '\r' && e)
            end--;
        /* canonicalize [i, end) in chunks of line[] */
        size_t ln = 0;
        bool sp = false, content = false;
        for (size_t k = i; k < end; k++) {
            char c = body[k];
            if (c == ' ' || c == '\t') {
                sp = true;
                continue;
            }
            if (!content) {
                while (pending) {
                    EVP_DigestUpdate(ctx, "\r\n", 2);
                    pending--;
                }
                content = true;
            }
            if (ln + 2 > sizeof(line)) {
                EVP_DigestUpdate(ctx, line, ln);
                ln = 0;
            }
            if (sp)
                line[ln++] = ' ';
            sp = false;
            line[ln++] = c;
        }
        if (content) {
            EVP_DigestUpdate(ctx, line, ln);
            EVP_DigestUpdate(ctx, "\r\n", 2);
        } else {
            pending++;
        }
        i = next;
    }
    unsigned mdlen = 0;
    int ok = EVP_DigestFinal_ex(ctx, md, &mdlen);
    EVP_MD_CTX_free(ctx);
    return ok == 1 && mdlen == 32 ? 0 : ANPI_ERROR;
}

static int
sign_data(const struct anpi_dkim_key *k, const unsigned char *data, size_t len,
          unsigned char **sig, size_t *siglen)
{
    *sig = NULL;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (!ctx)
        return ANPI_ERROR;
    int rc = ANPI_ERROR;
    unsigned char digest[32];
    if (k->alg == ALG_ED25519_SHA256) {
        /* RFC 8463 section 3: PureEdDSA over the SHA-256 of the data
         * that rsa-sha256 would hash. */
        unsigned dl = 0;
        if (EVP_Digest(data, len, digest, &dl, EVP_sha256(), NULL) != 1 || dl != 32)
            goto out;
        data = digest;
        len = 32;
        if (EVP_DigestSignInit(ctx, NULL, NULL, NULL, k->pkey) != 1)
            goto out;
    } else if (EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, k->pkey) != 1) {
        goto out;
    }
    size_t n = 0;
    if (EVP_DigestSign(ctx, NULL, &n, data, len) != 1)
        goto out;
    *sig = anpi_xmalloc(n);
    if (EVP_DigestSign(ctx, *sig, &n, data, len) != 1) {
        free(*sig);
        *sig = NULL;
        goto out;
    }
    *siglen = n;
    rc = 0;
out:
    if (rc)
        ERR_clear_error();
    EVP_MD_CTX_free(ctx);
    return rc;
}

/* The field for the k-th use of name in h=: bottom-most unused first
 * (RFC 6376 5.4.2), or NULL when all are used (an oversigned name). */
static struct field *
pick(struct field *f, size_t nf, const char *name)
{
    size_t nl = strlen(name);
    for (size_t i = nf; i-- > 0;) {
        if (!f[i].used && f[i].namelen == nl && strncasecmp(f[i].name, name, nl) == 0)
            return &f[i];
    }
    return NULL;
}

/* One DKIM-Signature field (with CRLF) for key k, appended to out. */
static int
sign_one(const struct anpi_dkim_key *k, struct field *f, size_t nf, const char *bh, int64_t t,
         struct anpi_buf *out)
{
    /* h=: each signed field once per occurrence, then From again. */
    struct anpi_buf h;
    anpi_buf_init(&h, 4096);
    size_t col = 2, nh = 0;
    const char *names[MAX_HEADERS + 1];
    for (size_t s = 0; s < ANPI_ARRAY_LEN(signed_fields); s++) {
        size_t nl = strlen(signed_fields[s]);
        for (size_t i = 0; i < nf; i++) {
            if (f[i].namelen == nl && strncasecmp(f[i].name, signed_fields[s], nl) == 0 &&
                nh < MAX_HEADERS)
                names[nh++] = signed_fields[s];
        }
    }
    names[nh++] = "From";
    for (size_t i = 0; i < nh; i++) {
        size_t nl = strlen(names[i]);
        if (i > 0) {
            anpi_buf_putc(&h, ':');
            col++;
            if (col + nl > 70) {
                anpi_buf_puts(&h, "\r\n\t");
                col = 1;
            }
        }
        for (size_t c = 0; c < nl; c++)
            anpi_buf_putc(&h, (char)tolower((unsigned char)names[i][c]));
        col += nl;
    }

    struct anpi_buf sh;
    anpi_buf_init(&sh, 8192);
    anpi_buf_printf(&sh, "DKIM-Signature: v=1; a=%s; c=relaxed/relaxed;\r\n"
                         "\td=%s; s=%s; t=%" PRId64 ";\r\n\th=%s;\r\n\tbh=%s;\r\n\tb=",
                    k->alg == ALG_RSA_SHA256 ? "rsa-sha256" : "ed25519-sha256", k->domain,
                    k->selector, t, h.data, bh);
    anpi_buf_free(&h);

    /* Hash input: the signed fields, then this field with b= empty and
     * without its CRLF (RFC 6376 3.7). */
    struct anpi_buf in;
    anpi_buf_init(&in, DKIM_MAX);
    for (size_t i = 0; i < nf; i++)
        f[i].used = false;
    for (size_t i = 0; i < nh; i++) {
        struct field *x = pick(f, nf, names[i]);
        if (!x)
            continue;
        x->used = true;
        canon_header(&in, x->name, x->namelen, x->val, x->vallen, true);
    }
    canon_header(&in, "DKIM-Signature", 14, sh.data + 15, sh.len - 15, false);
    unsigned char *sig;
    size_t siglen;
    int rc = in.len >= DKIM_MAX ? ANPI_ETOOBIG
                                : sign_data(k, (unsigned char *)in.data, in.len, &sig, &siglen);
    anpi_buf_free(&in);
    if (rc) {
        anpi_buf_free(&sh);
        return rc;
    }
    char *b = b64(sig, siglen);
    free(sig);
    /* b= folded: "\tb=" is 3 columns, then 72 per continuation line */
    size_t bl = strlen(b);
    for (size_t off = 0; off < bl; off += B64_LINE) {
        if (off > 0)
            anpi_buf_puts(&sh, "\r\n\t");
        anpi_buf_append(&sh, b + off, bl - off < B64_LINE ? bl - off : B64_LINE);
    }
    free(b);
    anpi_buf_append(&sh, "\r\n", 2);
    rc = anpi_buf_append(out, sh.data, sh.len);
    anpi_buf_free(&sh);
    return rc;
}

int
anpi_dkim_sign_at(const struct anpi_dkim_key *const *keys, size_t nkeys, const char *msg,
                  size_t len, int64_t t, char **signed_msg, size_t *signed_len)
{
    *signed_msg = NULL;
    *signed_len = 0;
    if (!msg || len == 0 || (nkeys && !keys))
        return ANPI_EPARSE;
    if (len > DKIM_MAX / 2)
        return ANPI_ETOOBIG;
    struct field *f = anpi_xcalloc(MAX_HEADERS, sizeof(*f));
    size_t nf, body;
    int rc = parse_header(msg, len, f, &nf, &body);
    if (rc == 0 && !pick(f, nf, "From"))
        rc = ANPI_EPARSE;
    char *bh = NULL;
    if (rc == 0) {
        unsigned char md[32];
        rc = body_hash(msg + body, len - body, md);
        if (rc == 0)
            bh = b64(md, sizeof(md));
    }
    struct anpi_buf out;
    anpi_buf_init(&out, DKIM_MAX);
    for (size_t i = 0; rc == 0 && i < nkeys; i++) {
        if (!keys[i])
            rc = ANPI_EPARSE;
        else
            rc = sign_one(keys[i], f, nf, bh, t, &out);
    }
    free(bh);
    free(f);
    if (rc == 0)
        rc = anpi_buf_append(&out, msg, len);
    if (rc) {
        anpi_buf_free(&out);
        return rc;
    }
    *signed_len = out.len;
    *signed_msg = anpi_buf_steal(&out);
    return 0;
}

int
anpi_dkim_sign(const struct anpi_dkim_key *const *keys, size_t nkeys, const char *msg,
               size_t len, char **signed_msg, size_t *signed_len)
{
    return anpi_dkim_sign_at(keys, nkeys, msg, len, (int64_t)time(NULL), signed_msg,
                             signed_len);
}

struct sign_job {
    uv_work_t work;
    const struct anpi_dkim_key **keys;
    size_t nkeys;
    char *msg;
    size_t len;
    char *out;
    size_t outlen;
    int rc;
    anpi_dkim_done_cb cb;
    void *arg;
};

static void
sign_work(uv_work_t *w)
{
    struct sign_job *j = w->data;
    j->rc = anpi_dkim_sign(j->keys, j->nkeys, j->msg, j->len, &j->out, &j->outlen);
}

static void
sign_after(uv_work_t *w, int status)
{
    struct sign_job *j = w->data;
    if (status != 0) {            /* UV_ECANCELED: the work never ran */
        free(j->out);
        j->out = NULL;
        j->outlen = 0;
        j->rc = ANPI_ERROR;
    }
    j->cb(j->rc, j->out, j->outlen, j->arg);
    free(j->keys);
    free(j->msg);
    free(j);
}

int
anpi_dkim_sign_async(uv_loop_t *loop, const struct anpi_dkim_key *const *keys, size_t nkeys,
                     const char *msg, size_t len, anpi_dkim_done_cb cb, void *arg)
{
    if (!loop || !cb || !msg || (nkeys && !keys))
        return ANPI_EPARSE;
    if (len > DKIM_MAX / 2)
        return ANPI_ETOOBIG;
    struct sign_job *j = anpi_xcalloc(1, sizeof(*j));
    j->keys = anpi_xcalloc(nkeys ? nkeys : 1, sizeof(*j->keys));
    if (nkeys)
        memcpy(j->keys, keys, nkeys * sizeof(*keys));
    j->nkeys = nkeys;
    j->msg = anpi_xmalloc(len + 1);
    memcpy(j->msg, msg, len);
    j->msg[len] = '\0';
    j->len = len;
    j->rc = ANPI_ERROR;
    j->cb = cb;
    j->arg = arg;
    j->work.data = j;
    int rc = uv_queue_work(loop, &j->work, sign_work, sign_after);
    if (rc) {
        free(j->keys);
        free(j->msg);
        free(j);
        return rc;
    }
    return 0;
}
