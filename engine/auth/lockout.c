/* lockout.c - backoff state machine for login failures. */
#include "engine/auth/lockout.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

/* A quiet day wipes the slate, so one forgotten password in March does not
 * make a login in June start at a delay. */
static void
forget_if_stale(struct anpi_lockout *s, int64_t now)
{
    if (s->failures && now - s->last_failure >= ANPI_LOCKOUT_FORGET_S)
        *s = (struct anpi_lockout)ANPI_LOCKOUT_INIT;
}

int64_t
anpi_lockout_check(const struct anpi_lockout *s, int64_t now)
{
    if (s->failures == 0 || now >= s->locked_until)
        return 0;
    if (now - s->last_failure >= ANPI_LOCKOUT_FORGET_S)
        return 0;
    /* the longest lock ends a second after now + MAX (see fail); more than
     * that only after the clock went backwards */
    int64_t wait = s->locked_until - now;
    return wait > ANPI_LOCKOUT_MAX_DELAY_S + 1 ? ANPI_LOCKOUT_MAX_DELAY_S + 1 : wait;
}

static int64_t
delay_for(uint32_t failures)
{
    if (failures <= ANPI_LOCKOUT_FREE)
        return 0;
    uint32_t doublings = failures - ANPI_LOCKOUT_FREE - 1;
    int64_t d = ANPI_LOCKOUT_BASE_DELAY_S;
    for (uint32_t i = 0; i < doublings && d < ANPI_LOCKOUT_MAX_DELAY_S; i++)
        d *= 2;
    return d > ANPI_LOCKOUT_MAX_DELAY_S ? ANPI_LOCKOUT_MAX_DELAY_S : d;
}

void
anpi_lockout_fail(struct anpi_lockout *s, int64_t now)
{
    forget_if_stale(s, now);
    if (s->failures < UINT32_MAX)
        s->failures++;
    s->last_failure = now;
    int64_t d = delay_for(s->failures);
    /* now is whole seconds, rounded down: a lock that ended at now + d
     * could last anything from d - 1 to d seconds of real time (a failure
     * at 10.95 locked "1 s" until 11.00), so it ends a second later and
     * lasts at least d.  A failure while still locked (the caller ignored
     * check) does not shorten an existing lock. */
    int64_t until = now + d + 1;
    if (d > 0 && until > s->locked_until)
        s->locked_until = until;
}

void
anpi_lockout_ok(struct anpi_lockout *s)
{
    *s = (struct anpi_lockout)ANPI_LOCKOUT_INIT;
}

int
anpi_lockout_format(const struct anpi_lockout *s, char *out, size_t len)
{
    int n = snprintf(out, len, "%u:%lld:%lld", (unsigned)s->failures,
                     (long long)s->last_failure, (long long)s->locked_until);
    return n < 0 || (size_t)n >= len ? ANPI_ETOOBIG : 0;
}

int
anpi_lockout_parse(const char *text, struct anpi_lockout *s)
{
    if (strnlen(text, 65) > 64)
        return ANPI_EPARSE;
    char tmp[65];
    snprintf(tmp, sizeof tmp, "%s", text);
    char *f[3];
    char *p = tmp;
    for (int i = 0; i < 3; i++) {
        f[i] = p;
        char *c = strchr(p, ':');
        if (i < 2) {
            if (!c)
                return ANPI_EPARSE;
            *c = '\0';
            p = c + 1;
        } else if (c) {
            return ANPI_EPARSE;
        }
    }
    int64_t a, b, c;
    if (anpi_parse_int64(f[0], 0, UINT32_MAX, &a) || anpi_parse_int64(f[1], 0, INT64_MAX / 2, &b) ||
        anpi_parse_int64(f[2], 0, INT64_MAX / 2, &c))
        return ANPI_EPARSE;
    s->failures = (uint32_t)a;
    s->last_failure = b;
    s->locked_until = c;
    return 0;
}

int
anpi_lockout_addr_key(const char *addr, char *out, size_t len)
{
    if (strnlen(addr, INET6_ADDRSTRLEN + 1) > INET6_ADDRSTRLEN)
        return ANPI_EPARSE;
    struct in_addr a4;
    struct in6_addr a6;
    char txt[INET6_ADDRSTRLEN];
    int n;
    if (inet_pton(AF_INET, addr, &a4) == 1) {
        inet_ntop(AF_INET, &a4, txt, sizeof txt);
        n = snprintf(out, len, "%s", txt);
    } else if (inet_pton(AF_INET6, addr, &a6) == 1) {
        if (IN6_IS_ADDR_V4MAPPED(&a6)) {
            memcpy(&a4, &a6.s6_addr[12], 4);
            inet_ntop(AF_INET, &a4, txt, sizeof txt);
            n = snprintf(out, len, "%s", txt);
        } else {
            memset(&a6.s6_addr[8], 0, 8);
            inet_ntop(AF_INET6, &a6, txt, sizeof txt);
            n = snprintf(out, len, "%s/64", txt);
        }
    } else {
        return ANPI_EPARSE;
    }
    return n < 0 || (size_t)n >= len ? ANPI_ETOOBIG : 0;
}
