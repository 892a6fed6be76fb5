/* lockout.h - login throttling with exponential backoff, as a pure state
 * machine over a small struct.
 *
 * The caller keeps one struct anpi_lockout per key: one per account and one
 * per source address (anpi_lockout_addr_key), checks both before a login
 * and updates both after it.  The struct is three integers so it maps to
 * three columns in PostgreSQL; anpi_lockout_format/_parse give a text form.
 *
 * Timeline: the first ANPI_LOCKOUT_FREE failures cost nothing; the 5th
 * failure makes the next try wait at least 1 s, the 6th 2 s, the 7th 4 s,
 * ... up to ANPI_LOCKOUT_MAX_DELAY_S (15 min).  Times are whole seconds, so
 * a wait of d seconds ends with the second after now + d (d to d + 1 s of
 * real time, never less than d).  A success resets the key; so does a
 * quiet period of ANPI_LOCKOUT_FORGET_S without failures. */
#ifndef ANPI_AUTH_LOCKOUT_H
#define ANPI_AUTH_LOCKOUT_H

#include <stddef.h>
#include <stdint.h>

#include "engine/anpi.h"

#define ANPI_LOCKOUT_FREE         4       /* failures before any delay */
#define ANPI_LOCKOUT_BASE_DELAY_S 1
#define ANPI_LOCKOUT_MAX_DELAY_S  900     /* 15 minutes */
#define ANPI_LOCKOUT_FORGET_S     86400   /* failures older than a day are forgotten */

struct anpi_lockout {
    uint32_t failures;      /* consecutive failures */
    int64_t last_failure;   /* unix seconds of the latest failure, 0 = none */
    int64_t locked_until;   /* no attempt before this time (unix seconds) */
};

#define ANPI_LOCKOUT_INIT { 0, 0, 0 }

/* 0 if an attempt is allowed at now, else the seconds to wait (>= 1, at
 * most ANPI_LOCKOUT_MAX_DELAY_S + 1 even if the clock went backwards):
 * an attempt made after that many seconds is allowed (Retry-After). */
int64_t anpi_lockout_check(const struct anpi_lockout *s, int64_t now);

/* Record a failed attempt at now. */
void anpi_lockout_fail(struct anpi_lockout *s, int64_t now);

/* Record a successful attempt: forget all failures. */
void anpi_lockout_ok(struct anpi_lockout *s);

/* Text form "failures:last_failure:locked_until" (decimal), e.g. "6:1700000000:1700000002".
 * format returns 0 or ANPI_ETOOBIG if len is too small (64 always fits). */
int anpi_lockout_format(const struct anpi_lockout *s, char *out, size_t len);
/* Parse the text form; ANPI_EPARSE for anything else (at most 64 bytes). */
int anpi_lockout_parse(const char *text, struct anpi_lockout *s);

/* The per-source key for an address string: IPv4 as is ("192.0.2.7"),
 * IPv4-mapped IPv6 as IPv4, other IPv6 reduced to its /64 ("2001:db8:1:2::/64")
 * because one client usually holds a whole /64.  ANPI_EPARSE if addr is not
 * an IP address.  len >= 64 always fits. */
int anpi_lockout_addr_key(const char *addr, char *out, size_t len);

#endif
