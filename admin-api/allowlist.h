/* allowlist.h - the peer addresses a listener serves (api.allow).
 *
 * Entries are CIDR blocks, IPv4 ("10.0.0.0/8") or IPv6 ("2001:db8::/32");
 * a bare address is one host (/32 or /128).  Everything is held as IPv6,
 * IPv4 as the mapped form ::ffff:a.b.c.d with the prefix plus 96, so an
 * IPv4 peer and an IPv4-mapped IPv6 peer (a dual-stack listener's view of
 * the same client) match the same IPv4 entries.  An empty list allows
 * every peer.  No allocation: the list has a fixed capacity (the config
 * caps lists at the same size). */
#ifndef ANPI_ADMIN_API_ALLOWLIST_H
#define ANPI_ADMIN_API_ALLOWLIST_H

#include <stdbool.h>
#include <stddef.h>

#include "admin-api/http.h"

#define ANPI_ALLOW_MAX 256

struct anpi_cidr {
    unsigned char addr[16];     /* network address, host bits zero */
    unsigned prefix;            /* 0..128 over the 16 bytes */
};

struct anpi_allowlist {
    struct anpi_cidr v[ANPI_ALLOW_MAX];
    size_t n;                   /* 0 = every peer is allowed */
};

/* One entry: "a.b.c.d[/0-32]" or "v6[/0-128]".  Refused: anything else,
 * leading zeros or signs in the prefix, a zone ("%eth0"), host bits set
 * below the prefix ("10.1.0.0/8": a typo for /16?).  Returns 0, or
 * ANPI_EPARSE with the reason in err. */
int anpi_cidr_parse(const char *s, struct anpi_cidr *out, char *err, size_t errlen);

/* Compile entries into *a (emptied first).  ANPI_EPARSE with
 * "api.allow[i]: reason" in err on the first bad entry, ANPI_ETOOBIG over
 * ANPI_ALLOW_MAX entries. */
int anpi_allowlist_build(struct anpi_allowlist *a, char *const *entries, size_t n, char *err,
                         size_t errlen);

/* true when peer (as inet_ntop writes it: "127.0.0.1", "::1",
 * "::ffff:10.1.2.3") is inside an entry, or the list is empty.  A peer that
 * is not an address is refused. */
bool anpi_allowlist_match(const struct anpi_allowlist *a, const char *peer);

/* The http server's opts.allow hook; arg is a struct anpi_allowlist *. */
bool anpi_allowlist_allow(const char *peer, void *arg);

/* Build *a from the configured entries and, when there are any, hook it
 * into o (opts.allow / allow_arg); logs which peers the listener serves.
 * *a must outlive the server.  `what` names the listener in the log. */
int anpi_allowlist_setup(struct anpi_allowlist *a, struct anpi_http_opts *o, const char *what,
                         char *const *entries, size_t n, char *err, size_t errlen);

#endif
