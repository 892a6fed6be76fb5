/* password.c - argon2id hashing and the password strength policy.
 *
 * libargon2 does the hashing and the constant-time tag comparison; this file
 * adds the limits around it (length before hashing, a cap on the memory a
 * stored hash may ask for), the policy and the thread-pool wrappers. */
#include "engine/auth/password.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <argon2.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>

static void
set_why(char *why, size_t whylen, const char *msg)
{
    if (why && whylen > 0)
        snprintf(why, whylen, "%s", msg);
}

int
anpi_password_check_length(const char *pw, char *why, size_t whylen)
{
    if (strnlen(pw, ANPI_PASSWORD_MAX_BYTES + 1) > ANPI_PASSWORD_MAX_BYTES) {
        set_why(why, whylen, ANPI_PASSWORD_TOOLONG_MSG);
        return ANPI_ETOOBIG;
    }
    return 0;
}

int
anpi_password_hash(const char *pw, char *out, size_t outlen)
{
    int rc = anpi_password_check_length(pw, NULL, 0);
    if (rc)
        return rc;
    if (outlen < ANPI_PASSWORD_HASH_MAX)
        return ANPI_ETOOBIG;
    uint8_t salt[ANPI_PASSWORD_SALT_BYTES];
    if (RAND_bytes(salt, (int)sizeof salt) != 1)
        return ANPI_ERROR;
    int arc = argon2id_hash_encoded(ANPI_PASSWORD_T_COST, ANPI_PASSWORD_M_COST_KIB,
                                    ANPI_PASSWORD_LANES, pw, strlen(pw),
                                    salt, sizeof salt, ANPI_PASSWORD_TAG_BYTES,
                                    out, outlen);
    OPENSSL_cleanse(salt, sizeof salt);
    return arc == ARGON2_OK ? 0 : ANPI_ERROR;
}

/* The parameters of an encoded argon2id string. */
struct enc_params {
    uint32_t v, m, t, p;
    size_t salt_chars, tag_chars;
};

/* Read "<key>=<decimal>" at *s; the number must fit in 32 bits. */
static bool
read_param(const char **s, char key, uint32_t *out)
{
    const char *p = *s;
    if (p[0] != key || p[1] != '=')
        return false;
    p += 2;
    uint64_t v = 0;
    const char *start = p;
    while (*p >= '0' && *p <= '9') {
        v = v * 10 + (uint64_t)(*p - '0');
        if (v > UINT32_MAX)
            return false;
        p++;
    }
    if (p == start || (p - start > 1 && *start == '0'))
        return false;
    *out = (uint32_t)v;
    *s = p;
    return true;
}

static size_t
b64_run(const char *s)
{
    size_t n = 0;
    while ((s[n] >= 'A' && s[n] <= 'Z') || (s[n] >= 'a' && s[n] <= 'z') ||
           (s[n] >= '0' && s[n] <= '9') || s[n] == '+' || s[n] == '/')
        n++;
    return n;
}

/* Parse "$argon2id$v=19$m=..,t=..,p=..$salt$tag" without trusting it. */
static int
parse_encoded(const char *enc, struct enc_params *ep)
{
    if (strnlen(enc, ANPI_PASSWORD_ENCODED_MAX + 1) > ANPI_PASSWORD_ENCODED_MAX)
        return ANPI_EPARSE;
    static const char prefix[] = "$argon2id$";
    if (strncmp(enc, prefix, sizeof prefix - 1) != 0)
        return ANPI_EPARSE;
    const char *s = enc + sizeof prefix - 1;
    if (!read_param(&s, 'v', &ep->v) || *s++ != '$' ||
        !read_param(&s, 'm', &ep->m) || *s++ != ',' ||
        !read_param(&s, 't', &ep->t) || *s++ != ',' ||
        !read_param(&s, 'p', &ep->p) || *s++ != '$')
        return ANPI_EPARSE;
    ep->salt_chars = b64_run(s);
    s += ep->salt_chars;
    if (*s++ != '$')
        return ANPI_EPARSE;
    ep->tag_chars = b64_run(s);
    s += ep->tag_chars;
    if (*s != '\0' || ep->salt_chars == 0 || ep->tag_chars == 0)
        return ANPI_EPARSE;
    if (ep->v != ARGON2_VERSION_13 || ep->m > ANPI_PASSWORD_M_COST_MAX_KIB ||
        ep->t == 0 || ep->t > 64 || ep->p == 0 || ep->p > 16)
        return ANPI_EPARSE;
    return 0;
}

static char dummy_hash[ANPI_PASSWORD_HASH_MAX];
static pthread_once_t dummy_once = PTHREAD_ONCE_INIT;

static void
make_dummy(void)
{
    /* A fixed salt is fine: nothing ever matches, it only has to cost the
     * same as a real verification. */
    static const uint8_t salt[ANPI_PASSWORD_SALT_BYTES] = "anpi-dummy-salt";
    if (argon2id_hash_encoded(ANPI_PASSWORD_T_COST, ANPI_PASSWORD_M_COST_KIB,
                              ANPI_PASSWORD_LANES, "\x01", 1, salt, sizeof salt,
                              ANPI_PASSWORD_TAG_BYTES, dummy_hash, sizeof dummy_hash) != ARGON2_OK)
        dummy_hash[0] = '\0';
}

int
anpi_password_verify(const char *encoded, const char *pw)
{
    int rc = anpi_password_check_length(pw, NULL, 0);
    if (rc)
        return rc;
    bool dummy = encoded == NULL;
    if (dummy) {
        pthread_once(&dummy_once, make_dummy);
        if (dummy_hash[0] == '\0')
            return ANPI_EPERM;
        encoded = dummy_hash;
    }
    struct enc_params ep;
    rc = parse_encoded(encoded, &ep);
    if (rc)
        return rc;
    int arc = argon2id_verify(encoded, pw, strlen(pw));
    if (dummy)
        return ANPI_EPERM;
    if (arc == ARGON2_OK)
        return 0;
    if (arc == ARGON2_VERIFY_MISMATCH)
        return ANPI_EPERM;
    if (arc == ARGON2_MEMORY_ALLOCATION_ERROR)
        return ANPI_ENOMEM;
    return ANPI_EPARSE;
}

bool
anpi_password_needs_rehash(const char *encoded)
{
    struct enc_params ep;
    if (!encoded || parse_encoded(encoded, &ep) != 0)
        return true;
    /* unpadded base64: 16 bytes -> 22 chars, 32 bytes -> 43 chars */
    return ep.m != ANPI_PASSWORD_M_COST_KIB || ep.t != ANPI_PASSWORD_T_COST ||
           ep.p != ANPI_PASSWORD_LANES ||
           ep.salt_chars != (ANPI_PASSWORD_SALT_BYTES * 4 + 2) / 3 ||
           ep.tag_chars != (ANPI_PASSWORD_TAG_BYTES * 4 + 2) / 3;
}

void
anpi_password_policy_default(struct anpi_password_policy *p)
{
    p->min_chars = 12;
    p->min_classes = 3;
    p->history = 5;
    p->remind_after_s = 0;
}

/* Count code points of valid UTF-8 without control characters and note the
 * character classes.  Returns false for invalid UTF-8 (overlong forms,
 * surrogates, beyond U+10FFFF) or a C0/DEL control character. */
static bool
scan_utf8(const char *s, size_t *nchars, int *classes)
{
    const unsigned char *p = (const unsigned char *)s;
    bool lower = false, upper = false, digit = false, symbol = false;
    size_t n = 0;
    while (*p) {
        unsigned c = *p;
        if (c < 0x80) {
            if (c < 0x20 || c == 0x7f)
                return false;
            if (c >= 'a' && c <= 'z')
                lower = true;
            else if (c >= 'A' && c <= 'Z')
                upper = true;
            else if (c >= '0' && c <= '9')
                digit = true;
            else
                symbol = true;
            p++;
        } else {
            size_t len;
            uint32_t cp, min;
            if ((c & 0xe0) == 0xc0) {
                len = 2; cp = c & 0x1f; min = 0x80;
            } else if ((c & 0xf0) == 0xe0) {
                len = 3; cp = c & 0x0f; min = 0x800;
            } else if ((c & 0xf8) == 0xf0) {
                len = 4; cp = c & 0x07; min = 0x10000;
            } else {
                return false;
            }
            for (size_t i = 1; i < len; i++) {
                if ((p[i] & 0xc0) != 0x80)
                    return false;
                cp = (cp << 6) | (p[i] & 0x3fu);
            }
            if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
                return false;
            symbol = true;   /* non-ASCII counts as a symbol */
            p += len;
        }
        n++;
    }
    *nchars = n;
    *classes = (int)lower + (int)upper + (int)digit + (int)symbol;
    return true;
}

/* A small list of the most common passwords and their bases.  Compared with
 * the password's core: lower-cased, leading digits and trailing non-letters
 * removed, common substitutions undone ("P@ssw0rd2024!" -> "password"). */
static const char *const common_words[] = {
    "password", "passwort", "qwerty", "qwertyuiop", "asdfghjkl", "zxcvbnm",
    "letmein", "welcome", "admin", "administrator", "root", "iloveyou",
    "dragon", "monkey", "sunshine", "princess", "football", "baseball",
    "soccer", "master", "superman", "batman", "trustno", "abc", "abcdef",
    "changeme", "secret", "login", "guest", "test", "default", "hello",
    "shadow", "michael", "jennifer", "starwars", "whatever", "freedom",
    "japan", "nippon", "tokyo", "osaka", "sakura", "pokemon", "pikachu",
    "doraemon", "naruto", "arashi", "anpi", "summer", "winter", "spring",
    "autumn", "january", "december", "company", "office", "system",
};

/* Whole passwords that the core rule does not catch (no letters). */
static const char *const common_whole[] = {
    "123456789012", "1234567890123", "12345678901234", "123123123123",
    "111111111111", "000000000000", "1q2w3e4r5t6y", "1qaz2wsx3edc",
    "!qaz2wsx#edc", "1qaz@wsx#edc",
};

static bool
is_common(const char *pw)
{
    char low[ANPI_PASSWORD_MAX_BYTES + 1];
    size_t n = strlen(pw);
    if (n > ANPI_PASSWORD_MAX_BYTES)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = pw[i];
        low[i] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
    }
    low[n] = '\0';
    for (size_t i = 0; i < ANPI_ARRAY_LEN(common_whole); i++)
        if (strcmp(low, common_whole[i]) == 0)
            return true;

    size_t b = 0, e = n;
    while (b < e && low[b] >= '0' && low[b] <= '9')
        b++;
    while (e > b && !(low[e - 1] >= 'a' && low[e - 1] <= 'z'))
        e--;
    char core[ANPI_PASSWORD_MAX_BYTES + 1];
    size_t k = 0;
    for (size_t i = b; i < e; i++) {
        char c = low[i];
        switch (c) {
        case '@': case '4': c = 'a'; break;
        case '0': c = 'o'; break;
        case '3': c = 'e'; break;
        case '$': case '5': c = 's'; break;
        case '1': case '!': c = 'i'; break;
        case '7': c = 't'; break;
        default: break;
        }
        core[k++] = c;
    }
    core[k] = '\0';
    if (k == 0)
        return false;
    for (size_t i = 0; i < ANPI_ARRAY_LEN(common_words); i++)
        if (strcmp(core, common_words[i]) == 0)
            return true;
    return false;
}

/* Does pw contain login, or the local part of a mail-address login?  ASCII
 * case-insensitive; logins shorter than 3 characters are not checked (every
 * password would contain "a"). */
static bool
contains_login(const char *pw, const char *login)
{
    if (!login)
        return false;
    size_t len = strlen(login);
    const char *at = strchr(login, '@');
    size_t local = at ? (size_t)(at - login) : len;
    char part[256];
    for (int pass = 0; pass < 2; pass++) {
        size_t n = pass == 0 ? len : local;
        if (pass == 1 && local == len)
            break;
        if (n < 3 || n >= sizeof part)
            continue;
        memcpy(part, login, n);
        part[n] = '\0';
        if (strcasestr(pw, part))
            return true;
    }
    return false;
}

int
anpi_password_policy(const char *pw, const char *login,
                     const char *const *previous_hashes, size_t nprev,
                     const struct anpi_password_policy *pol,
                     char *why, size_t whylen)
{
    struct anpi_password_policy def;
    if (!pol) {
        anpi_password_policy_default(&def);
        pol = &def;
    }
    int rc = anpi_password_check_length(pw, why, whylen);
    if (rc)
        return rc;
    size_t nchars;
    int classes;
    if (!scan_utf8(pw, &nchars, &classes)) {
        set_why(why, whylen, "パスワードに使えない文字が含まれています "
                             "(invalid UTF-8 or a control character)");
        return ANPI_EPARSE;
    }
    if (nchars < pol->min_chars) {
        if (why && whylen)
            snprintf(why, whylen, "パスワードは%zu文字以上にしてください (at least %zu characters)",
                     pol->min_chars, pol->min_chars);
        return ANPI_EPERM;
    }
    if (classes < pol->min_classes) {
        if (why && whylen)
            snprintf(why, whylen,
                     "英小文字・英大文字・数字・記号のうち%d種類以上を含めてください "
                     "(use at least %d of: lower case, upper case, digits, symbols)",
                     pol->min_classes, pol->min_classes);
        return ANPI_EPERM;
    }
    if (contains_login(pw, login)) {
        set_why(why, whylen, "パスワードにログイン名を含めないでください "
                             "(must not contain the login name)");
        return ANPI_EPERM;
    }
    if (is_common(pw)) {
        set_why(why, whylen, "よく使われるパスワードは使えません (too common)");
        return ANPI_EPERM;
    }
    size_t n = nprev < pol->history ? nprev : pol->history;
    for (size_t i = 0; i < n; i++) {
        if (previous_hashes[i] && anpi_password_verify(previous_hashes[i], pw) == 0) {
            if (why && whylen)
                snprintf(why, whylen, "最近使ったパスワードは使えません "
                         "(must differ from the last %zu passwords)", pol->history);
            return ANPI_EPERM;
        }
    }
    set_why(why, whylen, "");
    return 0;
}

enum anpi_password_status
anpi_password_status(bool must_change, int64_t changed_at, int64_t now,
                     const struct anpi_password_policy *pol)
{
    if (must_change)
        return ANPI_PASSWORD_MUST_CHANGE;
    if (pol && pol->remind_after_s > 0 && now - changed_at >= pol->remind_after_s)
        return ANPI_PASSWORD_REMIND;
    return ANPI_PASSWORD_OK;
}

/* ---- thread-pool wrappers ---- */

enum pw_op { OP_HASH, OP_VERIFY, OP_POLICY };

struct pw_work {
    uv_work_t req;
    enum pw_op op;
    char *pw, *encoded, *login;
    char **prev;
    size_t nprev;
    struct anpi_password_policy pol;
    int rc;
    char out[ANPI_PASSWORD_HASH_MAX];
    char why[512];
    anpi_password_hash_cb hash_cb;
    anpi_password_verify_cb verify_cb;
    anpi_password_policy_cb policy_cb;
    void *data;
};

static void
free_secret(char *s)
{
    if (s) {
        OPENSSL_cleanse(s, strlen(s));
        free(s);
    }
}

static void
pw_work_free(struct pw_work *w)
{
    free_secret(w->pw);
    free(w->encoded);
    free(w->login);
    for (size_t i = 0; i < w->nprev; i++)
        free(w->prev[i]);
    free(w->prev);
    OPENSSL_cleanse(w, sizeof *w);
    free(w);
}

static void
pw_work_run(uv_work_t *req)
{
    struct pw_work *w = req->data;
    switch (w->op) {
    case OP_HASH:
        w->rc = anpi_password_hash(w->pw, w->out, sizeof w->out);
        break;
    case OP_VERIFY:
        w->rc = anpi_password_verify(w->encoded, w->pw);
        break;
    case OP_POLICY:
        w->rc = anpi_password_policy(w->pw, w->login, (const char *const *)w->prev,
                                     w->nprev, &w->pol, w->why, sizeof w->why);
        break;
    }
}

static void
pw_work_done(uv_work_t *req, int status)
{
    struct pw_work *w = req->data;
    int rc = status ? status : w->rc;
    switch (w->op) {
    case OP_HASH:
        w->hash_cb(rc, rc == 0 ? w->out : NULL, w->data);
        break;
    case OP_VERIFY:
        w->verify_cb(rc, w->data);
        break;
    case OP_POLICY:
        w->policy_cb(rc, w->why, w->data);
        break;
    }
    pw_work_free(w);
}

/* Copy pw only after the length check, so a 10 KB password is refused on the
 * loop without a thread-pool round trip. */
static struct pw_work *
pw_work_new(enum pw_op op, const char *pw, void *data)
{
    struct pw_work *w = anpi_xcalloc(1, sizeof *w);
    w->op = op;
    w->pw = anpi_xstrdup(pw);
    w->data = data;
    w->req.data = w;
    return w;
}

static int
pw_work_queue(uv_loop_t *loop, struct pw_work *w)
{
    int rc = uv_queue_work(loop, &w->req, pw_work_run, pw_work_done);
    if (rc)
        pw_work_free(w);
    return rc;
}

int
anpi_password_hash_async(uv_loop_t *loop, const char *pw,
                         anpi_password_hash_cb cb, void *data)
{
    int rc = anpi_password_check_length(pw, NULL, 0);
    if (rc)
        return rc;
    struct pw_work *w = pw_work_new(OP_HASH, pw, data);
    w->hash_cb = cb;
    return pw_work_queue(loop, w);
}

int
anpi_password_verify_async(uv_loop_t *loop, const char *encoded, const char *pw,
                           anpi_password_verify_cb cb, void *data)
{
    int rc = anpi_password_check_length(pw, NULL, 0);
    if (rc)
        return rc;
    struct pw_work *w = pw_work_new(OP_VERIFY, pw, data);
    w->encoded = encoded ? anpi_xstrndup(encoded, ANPI_PASSWORD_ENCODED_MAX + 1) : NULL;
    w->verify_cb = cb;
    return pw_work_queue(loop, w);
}

int
anpi_password_policy_async(uv_loop_t *loop, const char *pw, const char *login,
                           const char *const *previous_hashes, size_t nprev,
                           const struct anpi_password_policy *pol,
                           anpi_password_policy_cb cb, void *data)
{
    int rc = anpi_password_check_length(pw, NULL, 0);
    if (rc)
        return rc;
    struct pw_work *w = pw_work_new(OP_POLICY, pw, data);
    w->login = login ? anpi_xstrdup(login) : NULL;
    if (pol)
        w->pol = *pol;
    else
        anpi_password_policy_default(&w->pol);
    if (nprev > w->pol.history)
        nprev = w->pol.history;
    if (nprev > 0) {
        w->prev = anpi_xcalloc(nprev, sizeof *w->prev);
        for (size_t i = 0; i < nprev; i++)
            w->prev[i] = previous_hashes[i]
                ? anpi_xstrndup(previous_hashes[i], ANPI_PASSWORD_ENCODED_MAX + 1) : NULL;
    }
    w->nprev = nprev;
    w->policy_cb = cb;
    return pw_work_queue(loop, w);
}
