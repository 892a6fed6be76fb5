/* totp.c - RFC 6238 TOTP with OpenSSL's HMAC-SHA1. */
#include "engine/auth/totp.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "engine/buf.h"

static const char b32_alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

int
anpi_totp_secret_new(char out_b32[ANPI_TOTP_SECRET_B32 + 1])
{
    uint8_t key[ANPI_TOTP_SECRET_BYTES];
    if (RAND_bytes(key, (int)sizeof key) != 1)
        return ANPI_ERROR;
    /* 20 bytes = 160 bits = exactly 32 five-bit groups */
    size_t o = 0;
    for (size_t i = 0; i < sizeof key; i += 5) {
        uint64_t v = 0;
        for (size_t j = 0; j < 5; j++)
            v = (v << 8) | key[i + j];
        for (int s = 35; s >= 0; s -= 5)
            out_b32[o++] = b32_alphabet[(v >> s) & 31];
    }
    out_b32[o] = '\0';
    OPENSSL_cleanse(key, sizeof key);
    return 0;
}

int
anpi_totp_secret_decode(const char *b32, uint8_t *out, size_t outlen)
{
    uint32_t acc = 0;
    int bits = 0;
    size_t n = 0, i = 0;
    for (; b32[i] && b32[i] != '='; i++) {
        char c = b32[i];
        uint32_t v;
        if (c >= 'A' && c <= 'Z')
            v = (uint32_t)(c - 'A');
        else if (c >= 'a' && c <= 'z')
            v = (uint32_t)(c - 'a');
        else if (c >= '2' && c <= '7')
            v = (uint32_t)(c - '2' + 26);
        else
            return ANPI_EPARSE;
        acc = (acc << 5) | v;
        bits += 5;
        if (bits >= 8) {
            if (n >= outlen || n >= 64)
                return ANPI_EPARSE;
            bits -= 8;
            out[n++] = (uint8_t)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    /* padding only at the end, at most 6 characters */
    size_t pad = 0;
    for (; b32[i]; i++, pad++)
        if (b32[i] != '=' || pad >= 6)
            return ANPI_EPARSE;
    if (n < 10)
        return ANPI_EPARSE;
    return (int)n;
}

int
anpi_totp_code_parse(const char *code, uint32_t *out)
{
    if (strnlen(code, ANPI_TOTP_CODE_MAX + 1) > ANPI_TOTP_CODE_MAX)
        return ANPI_EPARSE;
    uint32_t v = 0;
    int digits = 0;
    for (const char *p = code; *p; p++) {
        if (*p == ' ')
            continue;
        if (*p < '0' || *p > '9' || digits == ANPI_TOTP_DIGITS)
            return ANPI_EPARSE;
        v = v * 10 + (uint32_t)(*p - '0');
        digits++;
    }
    if (digits != ANPI_TOTP_DIGITS)
        return ANPI_EPARSE;
    *out = v;
    return 0;
}

int
anpi_totp_hotp(const uint8_t *key, size_t keylen, uint64_t counter, int digits,
               uint32_t *out)
{
    if (digits < 6 || digits > 8)
        return ANPI_EPARSE;
    uint8_t msg[8];
    for (int i = 7; i >= 0; i--) {
        msg[i] = (uint8_t)(counter & 0xff);
        counter >>= 8;
    }
    uint8_t mac[EVP_MAX_MD_SIZE];
    unsigned maclen = 0;
    if (!HMAC(EVP_sha1(), key, (int)keylen, msg, sizeof msg, mac, &maclen) || maclen != 20)
        return ANPI_ERROR;
    /* RFC 4226 5.3 dynamic truncation */
    unsigned off = mac[19] & 0x0f;
    uint32_t bin = ((uint32_t)(mac[off] & 0x7f) << 24) | ((uint32_t)mac[off + 1] << 16) |
                   ((uint32_t)mac[off + 2] << 8) | (uint32_t)mac[off + 3];
    uint32_t mod = 1;
    for (int i = 0; i < digits; i++)
        mod *= 10;
    *out = bin % mod;
    OPENSSL_cleanse(mac, sizeof mac);
    return 0;
}

static int64_t
step_of(int64_t now)
{
    /* floor division: times before 1970 are not expected, but must not
     * misbehave */
    return now >= 0 ? now / ANPI_TOTP_STEP_S : -((-now + ANPI_TOTP_STEP_S - 1) / ANPI_TOTP_STEP_S);
}

int
anpi_totp_code(const char *b32_secret, int64_t now, char out[ANPI_TOTP_DIGITS + 1])
{
    uint8_t key[64];
    int klen = anpi_totp_secret_decode(b32_secret, key, sizeof key);
    if (klen < 0)
        return klen;
    int64_t step = step_of(now);
    uint32_t v;
    int rc = step < 0 ? ANPI_EPARSE : anpi_totp_hotp(key, (size_t)klen, (uint64_t)step,
                                                    ANPI_TOTP_DIGITS, &v);
    OPENSSL_cleanse(key, sizeof key);
    if (rc)
        return rc;
    snprintf(out, ANPI_TOTP_DIGITS + 1, "%06u", (unsigned)v);
    return 0;
}

int
anpi_totp_verify(const char *b32_secret, const char *code, int64_t now, int window,
                 int64_t *matched_step)
{
    uint32_t want;
    int rc = anpi_totp_code_parse(code, &want);
    if (rc)
        return rc;
    uint8_t key[64];
    int klen = anpi_totp_secret_decode(b32_secret, key, sizeof key);
    if (klen < 0)
        return klen;
    if (window < 0)
        window = 0;
    if (window > ANPI_TOTP_MAX_WINDOW)
        window = ANPI_TOTP_MAX_WINDOW;
    int64_t last = *matched_step;
    int64_t center = step_of(now);
    int64_t found = -1;
    rc = 0;
    /* Walk every candidate and compare without branching on the code, so
     * the time taken does not tell which step (if any) matched. */
    for (int64_t s = center - window; s <= center + window; s++) {
        if (s < 0)
            continue;
        uint32_t v;
        rc = anpi_totp_hotp(key, (size_t)klen, (uint64_t)s, ANPI_TOTP_DIGITS, &v);
        if (rc)
            break;
        bool eq = CRYPTO_memcmp(&v, &want, sizeof v) == 0;
        /* prefer the latest matching step that has not been used */
        if (eq && s > last)
            found = s;
    }
    OPENSSL_cleanse(key, sizeof key);
    if (rc)
        return rc;
    if (found < 0)
        return ANPI_EPERM;
    *matched_step = found;
    return 0;
}

/* RFC 3986 unreserved characters stay; everything else is %XX. */
static void
put_pct(struct anpi_buf *b, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
            (*p >= '0' && *p <= '9') || *p == '-' || *p == '.' || *p == '_' || *p == '~') {
            anpi_buf_putc(b, (char)*p);
        } else {
            char e[3] = { '%', hex[*p >> 4], hex[*p & 15] };
            anpi_buf_append(b, e, 3);
        }
    }
}

char *
anpi_totp_uri(const char *b32_secret, const char *issuer, const char *account)
{
    if (!b32_secret || !issuer || !account ||
        strnlen(b32_secret, 257) > 256 || strnlen(issuer, 257) > 256 ||
        strnlen(account, 257) > 256)
        return NULL;
    uint8_t key[64];
    int klen = anpi_totp_secret_decode(b32_secret, key, sizeof key);
    OPENSSL_cleanse(key, sizeof key);
    if (klen < 0)
        return NULL;
    struct anpi_buf b;
    /* 3 * (256 + 256 + 256) escaped bytes plus the fixed text fit easily */
    anpi_buf_init(&b, 4096);
    anpi_buf_puts(&b, "otpauth://totp/");
    put_pct(&b, issuer);
    anpi_buf_putc(&b, ':');
    put_pct(&b, account);
    anpi_buf_puts(&b, "?secret=");
    for (const char *p = b32_secret; *p && *p != '='; p++)
        anpi_buf_putc(&b, (*p >= 'a' && *p <= 'z') ? (char)(*p - 'a' + 'A') : *p);
    anpi_buf_puts(&b, "&issuer=");
    put_pct(&b, issuer);
    anpi_buf_printf(&b, "&algorithm=SHA1&digits=%d&period=%d", ANPI_TOTP_DIGITS,
                    ANPI_TOTP_STEP_S);
    return anpi_buf_steal(&b);
}
