/* smtp_limits.h - delivery limits per destination group: which group a
 * recipient domain belongs to (operator's smtp.limits first, then the
 * built-in carrier profiles), and the rate state of a group (token bucket
 * with burst, slow-down after 421/450, share across nodes).
 *
 * No libuv and no clock of its own: every function takes "now" in
 * milliseconds, so the arithmetic can be tested with an injected clock.
 *
 * Carrier profiles (a static table, no MX lookups): domains served by the
 * same carrier's MX hosts share one group and so one budget:
 *   docomo   docomo.ne.jp
 *   au       ezweb.ne.jp, au.com, biz.ezweb.ne.jp (subdomains of ezweb.ne.jp)
 *   softbank softbank.ne.jp, i.softbank.jp, disney.ne.jp
 *   yahoo    yahoo.co.jp, ymail.ne.jp
 *   gmail    gmail.com, googlemail.com
 * Each allows 2 connections, 100 messages per connection (docomo's
 * published per-session limit) and a modest rate (see limits.c).  A domain
 * matches a table entry when it equals it or is a subdomain of it. */
#ifndef ANPI_SMTP_LIMITS_H
#define ANPI_SMTP_LIMITS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "engine/config.h"

#define ANPI_LIMIT_GROUP_MAX 96   /* bytes of a group name, NUL included */

/* What applies to one destination group. */
struct anpi_limit_group {
    char name[ANPI_LIMIT_GROUP_MAX]; /* "carrier:docomo", "limit:example.jp", "domain:x.jp", "default" */
    bool carrier;          /* a built-in carrier profile: quiet at the top of the hour */
    bool is_default;       /* no entry and no profile matched: the pool's own defaults */
    int connections;       /* 0 = the pool's default */
    double rate;           /* messages per second, 0 = no limit */
    int burst;             /* tokens the bucket may hold, >= 1 */
    int messages_per_connection;  /* 0 = no limit */
};

/* The group for a recipient domain.  limits[] is smtp.limits in file order:
 * the first entry whose match equals the domain, is a parent domain of it,
 * or is "*", wins.  An entry naming a domain makes one group for it and its
 * subdomains; "*" makes one group per domain.  No entry: the carrier
 * profile, else the default group (unlimited).  Case-insensitive. */
void anpi_limits_resolve(const struct anpi_smtp_limit *limits, size_t nlimits,
                         const char *domain, struct anpi_limit_group *out);

/* The carrier profile a domain belongs to, or NULL ("docomo", "au", ...). */
const char *anpi_limits_carrier(const char *domain);

/* "No bursts at the top of the hour": true from hh:59:30 to hh:00:30 JST.
 * JST is UTC+9 without daylight saving, so this is the same window in UTC
 * seconds of the hour; now_ms is Unix time in milliseconds. */
bool anpi_limits_quiet_window(int64_t now_ms);

#define ANPI_RATE_SLOW_HOLD_MS   600000   /* a halved rate holds for 10 minutes */
#define ANPI_RATE_STEP_MS        60000    /* then recovers by a quarter per minute */
#define ANPI_RATE_SLOW_DEBOUNCE_MS 5000   /* 421s within 5 s of each other halve once */
#define ANPI_RATE_MIN_FACTOR     (1.0 / 64)

struct anpi_rate {
    double rate;           /* configured messages/s, 0 = unlimited */
    int burst;             /* configured burst, >= 1 */
    double share;          /* this node's share (0, 1] */
    double factor;         /* slow-down factor, 1 = full rate */
    double slow_base;      /* unlimited group slowed down: the rate it was seen to take */
    int64_t hold_until_ms; /* factor stays until then, then recovers stepwise */
    int64_t last_slow_ms;
    double tokens;
    int64_t last_ms;       /* last refill */
};

void anpi_rate_init(struct anpi_rate *r, double rate, int burst, int64_t now_ms);

/* The rate in force now (messages/s, 0 = no limit), after slow-down and
 * share.  Applies due recovery steps. */
double anpi_rate_effective(struct anpi_rate *r, int64_t now_ms);

/* Take one token.  Returns 0 when taken, else how many ms until one is due
 * (nothing taken).  quiet caps the bucket at one token (top of the hour). */
int64_t anpi_rate_take(struct anpi_rate *r, int64_t now_ms, bool quiet);

/* The destination said 421/450: halve the rate (observed_rate is the rate
 * the group was actually sending at, used when it has no limit). */
void anpi_rate_slowdown(struct anpi_rate *r, int64_t now_ms, double observed_rate);

/* This node's share of the group's budget (numerator/denominator, clamped
 * to (0, 1]). */
void anpi_rate_set_share(struct anpi_rate *r, double share);

#endif
