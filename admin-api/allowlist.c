/* allowlist.c - the peer addresses a listener serves (api.allow).
 *
 * Both families are compared as 128-bit IPv6 values: an IPv4 entry or
 * peer becomes ::ffff:a.b.c.d, so an IPv4 client seen through a dual-stack
 * socket (::ffff:10.1.2.3) meets the same entries as one seen over IPv4.
 * Addresses are read with inet_pton only: no name lookups, no
 * "10.1" shorthand, no zones; what the config says is what is matched. */
#include "admin-api/allowlist.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "engine/anpi.h"
#include "engine/log.h"

#define CIDR_TEXT_MAX (INET6_ADDRSTRLEN + 4)   /* address, '/', up to 3 digits */

static const unsigned char v4_mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

/* Text address -> 16 bytes (IPv4 as mapped); false if it is not one. */
static bool
addr_parse(const char *s, unsigned char out[16], bool *v4)
{
    if (strchr(s, ':')) {
        *v4 = false;
        return inet_pton(AF_INET6, s, out) == 1;
    }
    *v4 = true;
    memcpy(out, v4_mapped, sizeof(v4_mapped));
    return inet_pton(AF_INET, s, out + 12) == 1;
}

/* Does addr lie in the first `prefix` bits of net? */
static bool
prefix_equal(const unsigned char *a, const unsigned char *net, unsigned prefix)
{
    unsigned full = prefix / 8, rest = prefix % 8;
    if (memcmp(a, net, full) != 0)
        return false;
    if (rest == 0)
        return true;
    unsigned char mask = (unsigned char)(0xffu << (8 - rest));
    return (a[full] & mask) == (net[full] & mask);
}

int
anpi_cidr_parse(const char *s, struct anpi_cidr *out, char *err, size_t errlen)
{
    size_t len = strlen(s);
    if (len == 0) {
        snprintf(err, errlen, "an empty entry; expected an address or CIDR block like 10.0.0.0/8");
        return ANPI_EPARSE;
    }
    if (len > CIDR_TEXT_MAX) {
        snprintf(err, errlen, "too long for an address or CIDR block");
        return ANPI_EPARSE;
    }
    char text[CIDR_TEXT_MAX + 1];
    memcpy(text, s, len + 1);
    char *slash = strchr(text, '/');
    const char *plen = NULL;
    if (slash) {
        *slash = '\0';
        plen = slash + 1;
    }
    bool v4;
    unsigned char a[16];
    if (!addr_parse(text, a, &v4)) {
        snprintf(err, errlen, "not an IPv4 or IPv6 address or CIDR block (like 10.0.0.0/8 or "
                 "2001:db8::/32)");
        return ANPI_EPARSE;
    }
    unsigned max = v4 ? 32 : 128, prefix = max;
    if (plen) {
        size_t n = strlen(plen);
        bool digits = n >= 1 && n <= 3 && strspn(plen, "0123456789") == n && !(n > 1 && plen[0] == '0');
        int64_t v = 0;
        if (!digits || anpi_parse_int64(plen, 0, max, &v) != 0) {
            snprintf(err, errlen, "the prefix length after '/' must be a number from 0 to %u", max);
            return ANPI_EPARSE;
        }
        prefix = (unsigned)v;
    }
    unsigned bits = v4 ? prefix + 96 : prefix;
    /* a set host bit is most likely a typo in the prefix: say so instead of
     * silently widening or narrowing what the admin listener serves */
    struct anpi_cidr c = { .prefix = bits };
    for (unsigned i = 0; i < 16; i++) {
        unsigned lo = i * 8;
        unsigned keep = bits >= lo + 8 ? 8 : bits > lo ? bits - lo : 0;
        unsigned char mask = keep == 0 ? 0 : (unsigned char)(0xffu << (8 - keep));
        c.addr[i] = a[i] & mask;
    }
    if (memcmp(c.addr, a, 16) != 0) {
        char net[INET6_ADDRSTRLEN];
        inet_ntop(v4 ? AF_INET : AF_INET6, v4 ? c.addr + 12 : c.addr, net, sizeof(net));
        snprintf(err, errlen, "host bits are set below the /%u prefix; the block is %s/%u", prefix, net,
                 prefix);
        return ANPI_EPARSE;
    }
    *out = c;
    return ANPI_OK;
}

int
anpi_allowlist_build(struct anpi_allowlist *a, char *const *entries, size_t n, char *err, size_t errlen)
{
    a->n = 0;
    if (n > ANPI_ALLOW_MAX) {
        snprintf(err, errlen, "api.allow: more than %d entries", ANPI_ALLOW_MAX);
        return ANPI_ETOOBIG;
    }
    for (size_t i = 0; i < n; i++) {
        char why[160];
        if (anpi_cidr_parse(entries[i] ? entries[i] : "", &a->v[a->n], why, sizeof(why)) != ANPI_OK) {
            snprintf(err, errlen, "api.allow[%zu]: %s", i, why);
            a->n = 0;
            return ANPI_EPARSE;
        }
        a->n++;
    }
    return ANPI_OK;
}

bool
anpi_allowlist_match(const struct anpi_allowlist *a, const char *peer)
{
    if (a->n == 0)
        return true;
    if (!peer || strlen(peer) >= INET6_ADDRSTRLEN)
        return false;
    unsigned char p[16];
    bool v4;
    if (!addr_parse(peer, p, &v4))
        return false;
    for (size_t i = 0; i < a->n; i++)
        if (prefix_equal(p, a->v[i].addr, a->v[i].prefix))
            return true;
    return false;
}

bool
anpi_allowlist_allow(const char *peer, void *arg)
{
    return anpi_allowlist_match(arg, peer);
}

int
anpi_allowlist_setup(struct anpi_allowlist *a, struct anpi_http_opts *o, const char *what,
                     char *const *entries, size_t n, char *err, size_t errlen)
{
    int rc = anpi_allowlist_build(a, entries, n, err, errlen);
    if (rc != ANPI_OK)
        return rc;
    if (a->n == 0) {
        o->allow = NULL;
        o->allow_arg = NULL;
        anpi_info(ANPI_LG_API, "%s listener: every peer address is allowed (api.allow is empty)", what);
        return ANPI_OK;
    }
    o->allow = anpi_allowlist_allow;
    o->allow_arg = a;
    anpi_info(ANPI_LG_API, "%s listener: %zu allowed address block(s) (api.allow); other peers get 403",
              what, a->n);
    return ANPI_OK;
}
