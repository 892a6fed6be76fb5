/* links.c - login-free link tokens.
 *
 * token = base64url( kind(1) | id(8, big-endian) | HMAC-SHA256(key, kind|id)[0..15] )
 *
 * 128 bits of MAC make a token unguessable; because it is derived, nothing
 * secret is stored per recipient, every node computes the same link, and a
 * restarted node re-renders the same link for a retried delivery.  The key
 * lives in the database (settings.link_key), made once at first start. */
#include "engine/engine.h"

#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "engine/anpi.h"

#define RAW_LEN 25

static const char b64u[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static void
mac(const unsigned char key[32], const unsigned char *msg, size_t len, unsigned char out[32])
{
    unsigned int outlen = 32;
    HMAC(EVP_sha256(), key, 32, msg, len, out, &outlen);
}

void
anpi_link_make(const unsigned char key[32], enum anpi_link_kind kind, int64_t id,
               char out[ANPI_LINK_TOKEN_LEN + 1])
{
    unsigned char raw[RAW_LEN + 2] = { 0 };
    unsigned char m[32];
    raw[0] = (unsigned char)kind;
    uint64_t u = (uint64_t)id;
    for (int i = 0; i < 8; i++)
        raw[1 + i] = (unsigned char)(u >> (56 - 8 * i));
    mac(key, raw, 9, m);
    memcpy(raw + 9, m, 16);
    /* 25 bytes -> 34 base64url chars (no padding) */
    size_t o = 0;
    for (size_t i = 0; i < RAW_LEN; i += 3) {
        uint32_t v = (uint32_t)raw[i] << 16 | (uint32_t)raw[i + 1] << 8 | raw[i + 2];
        size_t left = RAW_LEN - i;
        out[o++] = b64u[(v >> 18) & 63];
        out[o++] = b64u[(v >> 12) & 63];
        if (left > 1)
            out[o++] = b64u[(v >> 6) & 63];
        if (left > 2)
            out[o++] = b64u[v & 63];
    }
    out[o] = '\0';
}

static int
b64u_val(char c)
{
    const char *p = c ? strchr(b64u, c) : NULL;
    return p ? (int)(p - b64u) : -1;
}

int
anpi_link_parse(const unsigned char key[32], const char *token, enum anpi_link_kind *kind,
                int64_t *id)
{
    if (!token || strlen(token) != ANPI_LINK_TOKEN_LEN)
        return ANPI_EPARSE;
    unsigned char raw[RAW_LEN + 2] = { 0 };
    size_t o = 0;
    for (size_t i = 0; i < ANPI_LINK_TOKEN_LEN; i += 4) {
        uint32_t v = 0;
        size_t n = ANPI_LINK_TOKEN_LEN - i < 4 ? ANPI_LINK_TOKEN_LEN - i : 4;
        for (size_t j = 0; j < 4; j++) {
            int d = j < n ? b64u_val(token[i + j]) : 0;
            if (d < 0)
                return ANPI_EPARSE;
            v = v << 6 | (uint32_t)d;
        }
        unsigned char b[3] = { (unsigned char)(v >> 16), (unsigned char)(v >> 8), (unsigned char)v };
        for (size_t j = 0; j < n - 1 && o < RAW_LEN; j++)
            raw[o++] = b[j];
    }
    if (o != RAW_LEN)
        return ANPI_EPARSE;
    unsigned char m[32];
    mac(key, raw, 9, m);
    if (CRYPTO_memcmp(m, raw + 9, 16) != 0)
        return ANPI_EPARSE;
    if (raw[0] != ANPI_LINK_REPLY && raw[0] != ANPI_LINK_APPROVE && raw[0] != ANPI_LINK_REJECT &&
        raw[0] != ANPI_LINK_CONFIRM && raw[0] != ANPI_LINK_UNSUBSCRIBE)
        return ANPI_EPARSE;
    uint64_t u = 0;
    for (int i = 0; i < 8; i++)
        u = u << 8 | raw[1 + i];
    if (u > (uint64_t)INT64_MAX)
        return ANPI_EPARSE;
    /* a non-canonical encoding of the same bytes (trailing bits) is refused */
    char again[ANPI_LINK_TOKEN_LEN + 1];
    anpi_link_make(key, (enum anpi_link_kind)raw[0], (int64_t)u, again);
    if (strcmp(again, token) != 0)
        return ANPI_EPARSE;
    *kind = (enum anpi_link_kind)raw[0];
    *id = (int64_t)u;
    return ANPI_OK;
}
