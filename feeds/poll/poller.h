/* poller.h - the feed poller: one per source (JMA Atom feeds).
 *
 * Each round: conditional GET of the feed (If-None-Match / If-Modified-Since
 * per feed URL; 304 means nothing to do), parse the Atom, fetch every entry
 * whose URL this poller has never fetched, a few at a time, oldest first.  A
 * document that answered 200 is never fetched again (JMA blocks clients that
 * re-download).  Feed failures back off exponentially; each poller has its
 * own fetcher, so one failing source never stalls another. */
#ifndef ANPI_FEEDS_POLL_POLLER_H
#define ANPI_FEEDS_POLL_POLLER_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

struct anpi_poller;

/* Called once per NEW document (its URL never fetched before by this poller). The engine stores
 * it; body is valid only during the call. */
typedef void (*anpi_poller_doc_cb)(void *arg, const char *source, const char *url,
                                   const char *title, const char *body, size_t len);

struct anpi_poller_stats {
    int64_t last_poll, last_success, last_document;   /* ms since epoch, 0 = never */
    uint64_t polls, not_modified, documents, errors, consecutive_errors;
    char last_error[256];
    /* errors counts every failed fetch or parse (a feed URL, even when a
     * later URL answered, or a document); consecutive_errors counts rounds
     * in a row in which no feed URL answered, and drives the back-off.
     * additions: */
    uint64_t rounds;          /* rounds finished (success or failure) */
    uint64_t feeds_parsed;    /* feed bodies parsed (a 304 parses nothing) */
    int64_t next_poll;        /* ms since epoch of the next scheduled round, 0 = none */
};

struct anpi_poller_opts {
    const char *source;                 /* "jma" */
    const char *const *urls; size_t nurls;   /* feed URLs: the first that answers wins each round (redundancy) */
    int interval_s;                     /* default 60 */
    int max_backoff_s;                  /* errors: interval doubles up to this; default 600 */
    size_t max_doc_bytes;               /* default 10 MiB */
    /* additions */
    int timeout_s;                      /* per request; default 30 */
    int parallel;                       /* documents fetched at once; default 3 */
    size_t max_seen;                    /* URLs remembered; default 50,000 */
};

/* Returns NULL when opts are unusable (no source, no URL). */
struct anpi_poller *anpi_poller_create(uv_loop_t *loop, const struct anpi_poller_opts *o,
                                       anpi_poller_doc_cb cb, void *arg);
/* Seed the set of already-fetched document URLs (the engine loads them from the database at
 * start-up so a restart does not re-download). */
void anpi_poller_mark_seen(struct anpi_poller *p, const char *url);
int anpi_poller_start(struct anpi_poller *p);      /* first poll at once, then every interval */
/* Poll now; if a round is running, another follows right after it. */
void anpi_poller_poll_now(struct anpi_poller *p);
const struct anpi_poller_stats *anpi_poller_stats(const struct anpi_poller *p);
/* Cancel transfers and free the poller; closed(arg) runs from the loop once
 * every handle is closed (closed may be NULL).  No doc callback after this. */
void anpi_poller_close(struct anpi_poller *p, void (*closed)(void *), void *arg);

#endif
