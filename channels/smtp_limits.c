/* smtp_limits.c - destination groups, carrier profiles, token buckets. */
#include "channels/smtp_limits.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

/* Built-in profiles.  Rates are modest on purpose: a broadcast to a
 * carrier's customers must not look like a spam run (the carriers
 * throttle or block senders that open many sessions or burst).  Grouped by
 * the carrier's MX so domains hosted together share one budget. */
struct carrier {
    const char *group;
    const char *const *domains;
    int connections;
    double rate;
    int burst;
    int messages_per_connection;
};

static const char *const dom_docomo[] = { "docomo.ne.jp", NULL };
static const char *const dom_au[] = { "ezweb.ne.jp", "au.com", NULL };
static const char *const dom_softbank[] = { "softbank.ne.jp", "i.softbank.jp", "disney.ne.jp", NULL };
static const char *const dom_yahoo[] = { "yahoo.co.jp", "ymail.ne.jp", NULL };
static const char *const dom_gmail[] = { "gmail.com", "googlemail.com", NULL };

static const struct carrier carriers[] = {
    { "docomo", dom_docomo, 2, 20.0, 10, 100 },
    { "au", dom_au, 2, 20.0, 10, 100 },
    { "softbank", dom_softbank, 2, 20.0, 10, 100 },
    { "yahoo", dom_yahoo, 2, 20.0, 10, 100 },
    { "gmail", dom_gmail, 2, 30.0, 10, 100 },
};

/* domain equals d or ends with "." d */
static bool
domain_in(const char *domain, const char *d)
{
    size_t dl = strlen(domain), l = strlen(d);
    if (dl == l)
        return strcasecmp(domain, d) == 0;
    return dl > l && domain[dl - l - 1] == '.' && strcasecmp(domain + dl - l, d) == 0;
}

static const struct carrier *
carrier_of(const char *domain)
{
    for (size_t i = 0; i < ANPI_ARRAY_LEN(carriers); i++)
        for (const char *const *d = carriers[i].domains; *d; d++)
            if (domain_in(domain, *d))
                return &carriers[i];
    return NULL;
}

const char *
anpi_limits_carrier(const char *domain)
{
    const struct carrier *c = domain ? carrier_of(domain) : NULL;
    return c ? c->group : NULL;
}

static void
lower_into(char *dst, size_t cap, const char *prefix, const char *s)
{
    int n = snprintf(dst, cap, "%s", prefix);
    size_t j = n > 0 ? (size_t)n : 0;
    for (; s && *s && j + 1 < cap; s++)
        dst[j++] = (*s >= 'A' && *s <= 'Z') ? (char)(*s - 'A' + 'a') : *s;
    dst[j < cap ? j : cap - 1] = '\0';
}

void
anpi_limits_resolve(const struct anpi_smtp_limit *limits, size_t nlimits, const char *domain,
                    struct anpi_limit_group *out)
{
    memset(out, 0, sizeof(*out));
    out->burst = 1;
    if (!domain)
        domain = "";
    for (size_t i = 0; i < nlimits; i++) {
        const struct anpi_smtp_limit *l = &limits[i];
        if (!l->match)
            continue;
        bool star = strcmp(l->match, "*") == 0;
        if (!star && !domain_in(domain, l->match))
            continue;
        if (star)
            lower_into(out->name, sizeof(out->name), "domain:", domain);
        else
            lower_into(out->name, sizeof(out->name), "limit:", l->match);
        out->connections = l->connections > 0 ? l->connections : 0;
        out->rate = l->rate > 0 ? l->rate : 0;
        out->burst = l->burst > 0 ? l->burst : 1;
        out->messages_per_connection = l->messages_per_connection > 0 ? l->messages_per_connection : 0;
        return;
    }
    const struct carrier *c = carrier_of(domain);
    if (c) {
        snprintf(out->name, sizeof(out->name), "carrier:%s", c->group);
        out->carrier = true;
        out->connections = c->connections;
        out->rate = c->rate;
        out->burst = c->burst;
        out->messages_per_connection = c->messages_per_connection;
        return;
    }
    snprintf(out->name, sizeof(out->name), "default");
    out->is_default = true;
}

bool
anpi_limits_quiet_window(int64_t now_ms)
{
    int64_t s = now_ms / 1000;
    /* +9 h does not move the second within the hour */
    int64_t sec_of_hour = ((s % 3600) + 3600) % 3600;
    return sec_of_hour >= 3570 || sec_of_hour < 30;
}

void
anpi_rate_init(struct anpi_rate *r, double rate, int burst, int64_t now_ms)
{
    memset(r, 0, sizeof(*r));
    r->rate = rate > 0 ? rate : 0;
    r->burst = burst > 0 ? burst : 1;
    r->share = 1.0;
    r->factor = 1.0;
    r->tokens = r->burst;
    r->last_ms = now_ms;
    r->last_slow_ms = INT64_MIN / 2;
}

double
anpi_rate_effective(struct anpi_rate *r, int64_t now_ms)
{
    if (r->factor < 1.0 && now_ms >= r->hold_until_ms) {
        /* Recover a quarter of the full rate per step after the hold. */
        int64_t steps = (now_ms - r->hold_until_ms) / ANPI_RATE_STEP_MS + 1;
        r->factor += 0.25 * (double)steps;
        r->hold_until_ms += steps * ANPI_RATE_STEP_MS;
        if (r->factor >= 1.0) {
            r->factor = 1.0;
            r->slow_base = 0;
        }
    }
    if (r->rate > 0)
        return r->rate * r->share * r->factor;
    /* unlimited: only while slowed down, relative to what it was sending */
    if (r->factor >= 1.0 || r->slow_base <= 0)
        return 0;
    return r->slow_base * r->factor;
}

int64_t
anpi_rate_take(struct anpi_rate *r, int64_t now_ms, bool quiet)
{
    double rate = anpi_rate_effective(r, now_ms);
    if (rate <= 0) {
        r->last_ms = now_ms;
        return 0;
    }
    double cap = quiet ? 1.0 : (double)r->burst;
    if (now_ms > r->last_ms)
        r->tokens += (double)(now_ms - r->last_ms) * rate / 1000.0;
    r->last_ms = now_ms > r->last_ms ? now_ms : r->last_ms;
    if (r->tokens > cap)
        r->tokens = cap;
    if (r->tokens >= 1.0 - 1e-9) {
        r->tokens -= 1.0;
        return 0;
    }
    double wait = (1.0 - r->tokens) * 1000.0 / rate;
    int64_t ms = (int64_t)wait;
    return (double)ms < wait ? ms + 1 : (ms > 0 ? ms : 1);
}

void
anpi_rate_slowdown(struct anpi_rate *r, int64_t now_ms, double observed_rate)
{
    /* Many connections see the same 421 at once: halve once per episode. */
    if (now_ms - r->last_slow_ms < ANPI_RATE_SLOW_DEBOUNCE_MS) {
        r->hold_until_ms = now_ms + ANPI_RATE_SLOW_HOLD_MS;
        return;
    }
    (void)anpi_rate_effective(r, now_ms);
    if (r->rate <= 0 && r->factor >= 1.0)
        r->slow_base = observed_rate >= 1.0 ? observed_rate : 1.0;
    r->factor /= 2;
    if (r->factor < ANPI_RATE_MIN_FACTOR)
        r->factor = ANPI_RATE_MIN_FACTOR;
    r->hold_until_ms = now_ms + ANPI_RATE_SLOW_HOLD_MS;
    r->last_slow_ms = now_ms;
    if (r->tokens > 1.0)
        r->tokens = 1.0;
}

void
anpi_rate_set_share(struct anpi_rate *r, double share)
{
    r->share = share > 1.0 ? 1.0 : share > 0.0 ? share : 1.0;
}
