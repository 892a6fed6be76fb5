/* http_fetch.h - HTTP(S) GET on the libuv loop (libcurl multi interface).
 *
 * Sockets are watched with one uv_poll_t each (curl_multi_assign), curl's
 * timeout with one uv_timer_t.  Every transfer is limited: http/https only,
 * at most 5 redirects, connect/total timeouts, a low-speed limit and a body
 * cap enforced while receiving. */
#ifndef ANPI_FEEDS_POLL_HTTP_FETCH_H
#define ANPI_FEEDS_POLL_HTTP_FETCH_H

#include <stddef.h>
#include <uv.h>

#define ANPI_FETCH_DEFAULT_MAX_BYTES (10u * 1024 * 1024)
#define ANPI_FETCH_DEFAULT_TIMEOUT_S 30L
#define ANPI_FETCH_MAX_REDIRECTS     5L

struct anpi_fetcher;

struct anpi_fetch_result {
    int status;               /* HTTP status, 0 on transport error */
    const char *error;        /* transport/limit error text or NULL ("timeout after 30s",
                                 "too large: over 10485760 bytes", "too many redirects",
                                 "cancelled") */
    const char *body;         /* NUL-terminated; "" when empty */
    size_t len;
    const char *etag, *last_modified;   /* response validators or NULL */
    double seconds;           /* total time */
    int code;                 /* with error: ANPI_ETOOBIG (over max_bytes), ANPI_ETIMEDOUT,
                                 ANPI_ERROR (other); 0 without error */
};

/* Called exactly once per successful anpi_fetch(), from the loop (never from
 * inside anpi_fetch itself).  r and everything it points to is valid only
 * during the call. */
typedef void (*anpi_fetch_cb)(void *arg, const struct anpi_fetch_result *r);

struct anpi_fetch_opts {
    const char *etag;           /* conditional GET: If-None-Match */
    const char *last_modified;  /* conditional GET: If-Modified-Since */
    size_t max_bytes;           /* default 10 MiB */
    long timeout_s;             /* default 30 */
};

struct anpi_fetcher *anpi_fetcher_create(uv_loop_t *loop);

/* Start a GET.  o may be NULL.  Returns 0 (cb will be called), or a negative
 * code (cb will never be called): ANPI_EPERM when the fetcher is closing,
 * ANPI_EPARSE for a validator containing CR/LF, ANPI_ERROR when curl refuses. */
int anpi_fetch(struct anpi_fetcher *f, const char *url, const struct anpi_fetch_opts *o,
               anpi_fetch_cb cb, void *arg);

/* Number of transfers in progress. */
size_t anpi_fetcher_active(const struct anpi_fetcher *f);

/* Abort all transfers (each cb gets status 0, error "cancelled"), then close
 * the handles; closed(arg) runs from the loop once everything is freed.
 * closed may be NULL. */
void anpi_fetcher_close(struct anpi_fetcher *f, void (*closed)(void *), void *arg);

#endif
