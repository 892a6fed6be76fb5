/* schedule.c - when a scheduled drill rule runs next.
 *
 * Runs fall at start + at + k * every (k = 0, 1, ...), all in JST: the
 * schedule is anchored to a day, not to when the daemon happened to start,
 * so a restart neither skips nor repeats a drill and every node of a cluster
 * computes the same times. */
#include "rules/rules.h"

int64_t
anpi_rule_next_drill(const struct anpi_rule *r, int64_t after)
{
    if (!r || r->schedule_every_s <= 0)
        return 0;
    /* 0 = 1970-01-01 00:00 JST, which is -9h in UTC. */
    int64_t first = (r->schedule_start ? r->schedule_start : -9 * 3600) +
                    (r->schedule_at_min > 0 ? (int64_t)r->schedule_at_min * 60 : 0);
    if (after < first)
        return first;
    int64_t k = (after - first) / r->schedule_every_s + 1;
    return first + k * r->schedule_every_s;
}
