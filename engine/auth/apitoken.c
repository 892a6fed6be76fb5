/* apitoken.c - random API tokens, their stored SHA-256 and scope lists. */
#include "engine/auth/apitoken.h"

#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

static const char b64url[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static int
b64url_value(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '-')
        return 62;
    if (c == '_')
        return 63;
    return -1;
}

static int
sha256_hex(const char *s, size_t n, char hex[ANPI_APITOKEN_HASH_HEX + 1])
{
    uint8_t md[32];
    unsigned mdlen = 0;
    if (EVP_Digest(s, n, md, &mdlen, EVP_sha256(), NULL) != 1 || mdlen != sizeof md)
        return ANPI_ERROR;
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < sizeof md; i++) {
        hex[2 * i] = digits[md[i] >> 4];
        hex[2 * i + 1] = digits[md[i] & 15];
    }
    hex[ANPI_APITOKEN_HASH_HEX] = '\0';
    return 0;
}

int
anpi_apitoken_new(char token[ANPI_APITOKEN_LEN + 1], char hash_hex[ANPI_APITOKEN_HASH_HEX + 1])
{
    uint8_t raw[ANPI_APITOKEN_RAW_BYTES];
    if (RAND_bytes(raw, (int)sizeof raw) != 1)
        return ANPI_ERROR;
    size_t o = sizeof ANPI_APITOKEN_PREFIX - 1;
    memcpy(token, ANPI_APITOKEN_PREFIX, o);
    /* 32 bytes: ten 3-byte groups, then 2 bytes -> 3 characters */
    size_t i = 0;
    for (; i + 3 <= sizeof raw; i += 3) {
        uint32_t v = ((uint32_t)raw[i] << 16) | ((uint32_t)raw[i + 1] << 8) | raw[i + 2];
        token[o++] = b64url[(v >> 18) & 63];
        token[o++] = b64url[(v >> 12) & 63];
        token[o++] = b64url[(v >> 6) & 63];
        token[o++] = b64url[v & 63];
    }
    uint32_t v = ((uint32_t)raw[i] << 16) | ((uint32_t)raw[i + 1] << 8);
    token[o++] = b64url[(v >> 18) & 63];
    token[o++] = b64url[(v >> 12) & 63];
    token[o++] = b64url[(v >> 6) & 63];
    token[o] = '\0';
    OPENSSL_cleanse(raw, sizeof raw);
    return sha256_hex(token, o, hash_hex);
}

int
anpi_apitoken_hash(const char *token, char hash_hex[ANPI_APITOKEN_HASH_HEX + 1])
{
    size_t plen = sizeof ANPI_APITOKEN_PREFIX - 1;
    if (strnlen(token, ANPI_APITOKEN_LEN + 1) != ANPI_APITOKEN_LEN ||
        memcmp(token, ANPI_APITOKEN_PREFIX, plen) != 0)
        return ANPI_EPARSE;
    int last = 0;
    for (size_t i = plen; i < ANPI_APITOKEN_LEN; i++) {
        last = b64url_value(token[i]);
        if (last < 0)
            return ANPI_EPARSE;
    }
    /* 43 characters carry 258 bits for 256: the last one's low 2 bits must
     * be zero, so each token has exactly one spelling. */
    if (last & 3)
        return ANPI_EPARSE;
    return sha256_hex(token, ANPI_APITOKEN_LEN, hash_hex);
}

bool
anpi_apitoken_hash_equal(const char *a_hex, const char *b_hex)
{
    if (strnlen(a_hex, ANPI_APITOKEN_HASH_HEX + 1) != ANPI_APITOKEN_HASH_HEX ||
        strnlen(b_hex, ANPI_APITOKEN_HASH_HEX + 1) != ANPI_APITOKEN_HASH_HEX)
        return false;
    return CRYPTO_memcmp(a_hex, b_hex, ANPI_APITOKEN_HASH_HEX) == 0;
}

static const struct {
    const char *name;
    unsigned bit;
} scope_names[] = {
    { "read", ANPI_SCOPE_READ },
    { "approve", ANPI_SCOPE_APPROVE },
    { "broadcast", ANPI_SCOPE_BROADCAST },
    { "directory", ANPI_SCOPE_DIRECTORY },
    { "admin", ANPI_SCOPE_ADMIN },
};

int
anpi_scopes_parse(const char *s, unsigned *mask)
{
    if (strnlen(s, 257) > 256)
        return ANPI_EPARSE;
    unsigned m = 0;
    const char *p = s;
    while (*p == ' ')
        p++;
    if (*p == '\0') {
        *mask = 0;
        return 0;
    }
    for (;;) {
        while (*p == ' ')
            p++;
        const char *start = p;
        while (*p && *p != ',' && *p != ' ')
            p++;
        size_t n = (size_t)(p - start);
        while (*p == ' ')
            p++;
        if (*p != ',' && *p != '\0')
            return ANPI_EPARSE;    /* "read approve": a space inside an item */
        bool known = false;
        for (size_t i = 0; i < ANPI_ARRAY_LEN(scope_names); i++) {
            if (strlen(scope_names[i].name) == n && memcmp(scope_names[i].name, start, n) == 0) {
                m |= scope_names[i].bit;
                known = true;
                break;
            }
        }
        if (!known)
            return ANPI_EPARSE;
        if (*p == '\0')
            break;
        p++;   /* the comma; an item must follow */
    }
    *mask = m;
    return 0;
}

int
anpi_scopes_format(unsigned mask, char *out, size_t len)
{
    if (mask & ~ANPI_SCOPE_ALL)
        return ANPI_EPARSE;
    if (len == 0)
        return ANPI_ETOOBIG;
    size_t o = 0;
    out[0] = '\0';
    for (size_t i = 0; i < ANPI_ARRAY_LEN(scope_names); i++) {
        if (!(mask & scope_names[i].bit))
            continue;
        int n = snprintf(out + o, len - o, "%s%s", o ? "," : "", scope_names[i].name);
        if (n < 0 || (size_t)n >= len - o)
            return ANPI_ETOOBIG;
        o += (size_t)n;
    }
    return 0;
}

bool
anpi_scopes_allow(unsigned granted, unsigned needed)
{
    return (granted & needed) == needed;
}
