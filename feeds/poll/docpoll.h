/* docpoll.h - polls one logical document: a CAP alert URL, MOFA's
 * newarrivalL.xml, GDACS rss.xml.
 *
 * Each round: conditional GET (If-None-Match / If-Modified-Since, kept per
 * URL) of the first URL; on failure the next one (redundancy: the first that
 * answers wins).  A 304 delivers nothing.  A 200 is delivered only when its
 * body differs (SHA-256) from the last body delivered for this source, so a
 * server that ignores conditional GET does not re-deliver the same document.
 * An empty 200 counts as a failure of that URL (a broken server or proxy,
 * not a document).  Rounds in which no URL answered back off exponentially. */
#ifndef ANPI_FEEDS_POLL_DOCPOLL_H
#define ANPI_FEEDS_POLL_DOCPOLL_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

struct anpi_docpoll;

/* Called when the document changed; body (NUL-terminated) is valid only
 * during the call.  url is the URL that answered. */
typedef void (*anpi_docpoll_cb)(void *arg, const char *source, const char *url,
                                const char *body, size_t len);

struct anpi_docpoll_stats {
    int64_t last_poll, last_success, last_document;   /* ms since epoch, 0 = never */
    uint64_t polls, not_modified, documents, errors, consecutive_errors;
    char last_error[256];
    /* errors counts every failed fetch (a URL, even when a later URL
     * answered); consecutive_errors counts rounds in a row in which no URL
     * answered, and drives the back-off. */
    uint64_t rounds;          /* rounds finished (success or failure) */
    uint64_t unchanged;       /* 200 answers whose body was the one delivered last */
    int64_t next_poll;        /* ms since epoch of the next scheduled round, 0 = none */
};

struct anpi_docpoll_opts {
    const char *source;                       /* "cap", "mofa", "gdacs" */
    const char *const *urls; size_t nurls;    /* the first that answers wins each round */
    int interval_s;                           /* default 300 */
    int max_backoff_s;                        /* errors: the interval doubles up to this;
                                                 default 600 (never below the interval) */
    size_t max_bytes;                         /* default 10 MiB */
    int timeout_s;                            /* per request; default 30 */
};

/* NULL when opts are unusable (no source, no URL, an empty URL, no cb). */
struct anpi_docpoll *anpi_docpoll_create(uv_loop_t *loop, const struct anpi_docpoll_opts *o,
                                         anpi_docpoll_cb cb, void *arg);
/* The SHA-256 (64 hex digits, either case) of the body delivered last, e.g.
 * loaded from the database at start-up, so a restart does not re-deliver.
 * ANPI_EPARSE if hex is not 64 hex digits. */
int anpi_docpoll_set_last_sha256(struct anpi_docpoll *p, const char *hex);
int anpi_docpoll_start(struct anpi_docpoll *p);     /* first poll at once, then every interval */
/* Poll now; if a round is running, another follows right after it. */
void anpi_docpoll_poll_now(struct anpi_docpoll *p);
const struct anpi_docpoll_stats *anpi_docpoll_stats(const struct anpi_docpoll *p);
/* Cancel the transfer and free the poller; closed(arg) runs from the loop
 * once every handle is closed (closed may be NULL).  No callback after this. */
void anpi_docpoll_close(struct anpi_docpoll *p, void (*closed)(void *), void *arg);

#endif
