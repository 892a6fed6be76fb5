/* token.c - login-free link tokens: 256 random bits as base64url, stored only
 * as a SHA-256 hex digest. */
#include "admin-api/token.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "engine/anpi.h"

static const char b64url[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static int
b64val(char c)
{
    const char *p = c ? strchr(b64url, c) : NULL;
    return p ? (int)(p - b64url) : -1;
}

void
anpi_token_new(char out[ANPI_TOKEN_LEN + 1])
{
    unsigned char raw[33] = { 0 };   /* 32 random bytes + a zero pad byte for the last group */
    if (RAND_bytes(raw, 32) != 1) {
        fprintf(stderr, "anpi: RAND_bytes failed; refusing to issue a guessable link token\n");
        abort();
    }
    size_t o = 0;
    for (size_t i = 0; i < 33; i += 3) {
        unsigned v = (unsigned)raw[i] << 16 | (unsigned)raw[i + 1] << 8 | raw[i + 2];
        out[o++] = b64url[(v >> 18) & 63];
        out[o++] = b64url[(v >> 12) & 63];
        out[o++] = b64url[(v >> 6) & 63];
        if (o < ANPI_TOKEN_LEN)
            out[o++] = b64url[v & 63];
    }
    out[ANPI_TOKEN_LEN] = '\0';
    OPENSSL_cleanse(raw, sizeof(raw));
}

int
anpi_token_hash(const char *token, char hex_out[65])
{
    hex_out[0] = '\0';
    if (!token)
        return ANPI_EPARSE;
    size_t n = strnlen(token, ANPI_TOKEN_LEN + 1);
    if (n != ANPI_TOKEN_LEN)
        return ANPI_EPARSE;
    for (size_t i = 0; i < n; i++)
        if (b64val(token[i]) < 0)
            return ANPI_EPARSE;
    /* 43 characters carry 258 bits; the last one holds only 4 of the 256,
     * so its two low bits are zero in every token we issue. */
    if (b64val(token[n - 1]) & 3)
        return ANPI_EPARSE;
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    if (EVP_Digest(token, n, md, &mdlen, EVP_sha256(), NULL) != 1 || mdlen != 32)
        return ANPI_ERROR;
    static const char hex[] = "0123456789abcdef";
    for (unsigned i = 0; i < 32; i++) {
        hex_out[2 * i] = hex[md[i] >> 4];
        hex_out[2 * i + 1] = hex[md[i] & 15];
    }
    hex_out[64] = '\0';
    return ANPI_OK;
}
