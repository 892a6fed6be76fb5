/* pollround.h - the round machinery shared by the feed poller (poller.c)
 * and the single-document poller (docpoll.c).
 *
 * A round: conditional GET (If-None-Match / If-Modified-Since, validators
 * kept per URL) of the first URL; on failure the next one (the first that
 * answers wins).  A 304 ends the round as a success; a 200 goes to the
 * owner's on_body hook, which ends the round (now or later) or rejects the
 * URL.  Rounds in which no URL answered back off exponentially; a poll asked
 * for while a round runs follows right after it.  The round owns the timer
 * and the fetcher, and the owner's statistics it updates are bound by
 * pointer (ANPI_POLLROUND_STATS) so each owner keeps its public stats
 * struct. */
#ifndef ANPI_FEEDS_POLL_POLLROUND_H
#define ANPI_FEEDS_POLL_POLLROUND_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "engine/anpi.h"
#include "feeds/poll/http_fetch.h"

struct anpi_pollround;

/* The owner's statistics the round updates.  Both owners' stats structs
 * name these fields alike, so ANPI_POLLROUND_STATS(p->st) binds them. */
struct anpi_pollround_stats {
    int64_t *last_poll, *last_success, *next_poll;
    uint64_t *polls, *rounds, *not_modified, *errors, *consecutive_errors;
    char *last_error;
    size_t last_error_size;
};

#define ANPI_POLLROUND_STATS(st)                                                 \
    ((struct anpi_pollround_stats){                                              \
        .last_poll = &(st).last_poll, .last_success = &(st).last_success,        \
        .next_poll = &(st).next_poll, .polls = &(st).polls,                      \
        .rounds = &(st).rounds, .not_modified = &(st).not_modified,              \
        .errors = &(st).errors, .consecutive_errors = &(st).consecutive_errors,  \
        .last_error = (st).last_error, .last_error_size = sizeof((st).last_error) })

struct anpi_pollround_hooks {
    /* A 200 from the current URL (the owner checks the body).  It must end
     * the round (anpi_pollround_end), reject the URL (anpi_pollround_next_url)
     * or start work that ends the round later. */
    void (*on_body)(void *owner, const struct anpi_fetch_result *r);
    /* Every round end, before anything else is scheduled; may be NULL. */
    void (*on_round_end)(void *owner);
    /* Once every handle is closed: free the owner.  The round frees itself. */
    void (*on_free)(void *owner);
};

struct anpi_pollround_opts {
    const char *kind;                         /* log prefix: "poller", "docpoll" */
    const char *url_label;                    /* before the URL in errors: "feed " or "" */
    const char *source;
    const char *const *urls; size_t nurls;
    int interval_s;                           /* <= 0: default_interval_s */
    int default_interval_s;
    int max_backoff_s;                        /* <= 0: 600; never below the interval */
    size_t max_bytes;                         /* cap on a URL's body */
    int timeout_s;                            /* per request; <= 0: 30 */
};

/* NULL when opts are unusable (no source, no URL, an empty URL) or the
 * fetcher cannot be created. */
struct anpi_pollround *anpi_pollround_create(uv_loop_t *loop, const struct anpi_pollround_opts *o,
                                             const struct anpi_pollround_hooks *hooks,
                                             void *owner, struct anpi_pollround_stats st);

/* First round at once, then every interval.  ANPI_EPERM once closing. */
int anpi_pollround_start(struct anpi_pollround *r);
/* Start a round now; if one is running, another follows right after it. */
void anpi_pollround_poll_now(struct anpi_pollround *r);
/* End the current round: ok 0 counts towards the back-off. */
void anpi_pollround_end(struct anpi_pollround *r, int ok);
/* Give up on the current URL this round and try the next one. */
void anpi_pollround_next_url(struct anpi_pollround *r);
/* Keep (or with NULLs forget) the current URL's validators. */
void anpi_pollround_set_validators(struct anpi_pollround *r, const char *etag,
                                   const char *last_modified);
/* Record an error in the stats (last_error, errors) and the log. */
void anpi_pollround_error(struct anpi_pollround *r, const char *fmt, ...) ANPI_PRINTF(2, 3);

const char *anpi_pollround_source(const struct anpi_pollround *r);
const char *anpi_pollround_url(const struct anpi_pollround *r);    /* the current URL */
struct anpi_fetcher *anpi_pollround_fetcher(const struct anpi_pollround *r);
long anpi_pollround_timeout_s(const struct anpi_pollround *r);
int anpi_pollround_closing(const struct anpi_pollround *r);

/* Cancel the transfers and close the handles; then on_free(owner), then
 * closed(arg) (closed may be NULL).  No hook but on_free after this. */
void anpi_pollround_close(struct anpi_pollround *r, void (*closed)(void *), void *arg);

#endif
