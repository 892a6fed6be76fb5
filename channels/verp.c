/* verp.c - variable envelope return paths (VERP) with a short MAC.
 *
 * The delivery id travels in the envelope sender so that an asynchronous
 * bounce, which often quotes nothing useful, still names the delivery.  A
 * bare id would let anyone mark any address invalid by mailing
 * bounce+d<n>@; 32 bits of HMAC make guessing pointless at the rate bounces
 * can be sent, while keeping the local part short (RFC 5321: 64 octets). */
#include "channels/verp.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#define BASE_MAX 40

static bool
base_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > BASE_MAX)
        return false;
    for (; *s; s++) {
        if (!isalnum((unsigned char)*s) && *s != '.' && *s != '_' && *s != '-')
            return false;
    }
    return true;
}

static bool
domain_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 253)
        return false;
    for (; *s; s++) {
        if (!isalnum((unsigned char)*s) && *s != '.' && *s != '-')
            return false;
    }
    return true;
}

/* 8 lowercase hex digits of HMAC-SHA256(key, "<base>+d<id>"); the base is
 * lowercased first because the local part may come back case-folded. */
static int
mac8(const char *base, int64_t id, const unsigned char *key, size_t keylen, char hex[9])
{
    char msg[BASE_MAX + 32];
    size_t n = strlen(base);
    for (size_t i = 0; i < n; i++)
        msg[i] = (char)tolower((unsigned char)base[i]);
    snprintf(msg + n, sizeof(msg) - n, "+d%" PRId64, id);
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned mdlen = 0;
    if (!HMAC(EVP_sha256(), key, (int)keylen, (const unsigned char *)msg, strlen(msg), md,
              &mdlen))
        return ANPI_ERROR;
    snprintf(hex, 9, "%02x%02x%02x%02x", md[0], md[1], md[2], md[3]);
    return 0;
}

int
anpi_verp_encode(const char *base_local, const char *domain, int64_t delivery_id,
                 const unsigned char *key, size_t keylen, char *out, size_t len)
{
    if (len)
        out[0] = '\0';
    if (!base_local || !domain || !base_ok(base_local) || !domain_ok(domain) ||
        delivery_id < 0 || !key || keylen == 0 || keylen > INT32_MAX)
        return ANPI_EPARSE;
    char hex[9];
    int rc = mac8(base_local, delivery_id, key, keylen, hex);
    if (rc)
        return rc;
    int w = snprintf(out, len, "%s+d%" PRId64 ".%s@%s", base_local, delivery_id, hex, domain);
    if (w < 0 || (size_t)w >= len) {
        if (len)
            out[0] = '\0';
        return ANPI_ETOOBIG;
    }
    return 0;
}

int
anpi_verp_decode(const char *addr, const char *base_local, const char *domain,
                 const unsigned char *key, size_t keylen, int64_t *delivery_id)
{
    *delivery_id = 0;
    if (!addr || !base_local || !base_ok(base_local) || !key || keylen == 0 ||
        keylen > INT32_MAX)
        return ANPI_ENOTFOUND;
    const char *at = strrchr(addr, '@');
    if (!at)
        return ANPI_ENOTFOUND;
    if (domain && strcasecmp(at + 1, domain) != 0)
        return ANPI_ENOTFOUND;
    size_t bl = strlen(base_local);
    if ((size_t)(at - addr) <= bl + 2 || strncasecmp(addr, base_local, bl) != 0 ||
        addr[bl] != '+' || (addr[bl + 1] != 'd' && addr[bl + 1] != 'D'))
        return ANPI_ENOTFOUND;
    /* "<digits>.<8 hex>" up to the '@' */
    const char *digits = addr + bl + 2;
    const char *dot = memchr(digits, '.', (size_t)(at - digits));
    if (!dot || dot == digits || at - dot != 9 || dot - digits > 19)
        return ANPI_ENOTFOUND;
    char num[20];
    memcpy(num, digits, (size_t)(dot - digits));
    num[dot - digits] = '\0';
    if (num[0] == '0' && num[1] != '\0')
        return ANPI_ENOTFOUND;          /* one spelling per id */
    int64_t id;
    if (anpi_parse_int64(num, 0, INT64_MAX, &id) != 0 || !isdigit((unsigned char)num[0]))
        return ANPI_ENOTFOUND;
    char got[9];
    for (int i = 0; i < 8; i++) {
        unsigned char c = (unsigned char)dot[1 + i];
        if (!isxdigit(c))
            return ANPI_ENOTFOUND;
        got[i] = (char)tolower(c);
    }
    got[8] = '\0';
    char want[9];
    if (mac8(base_local, id, key, keylen, want) != 0)
        return ANPI_ERROR;
    if (CRYPTO_memcmp(got, want, 8) != 0)
        return ANPI_EPERM;
    *delivery_id = id;
    return 0;
}
