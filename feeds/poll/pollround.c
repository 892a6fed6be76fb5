/* pollround.c - URL fail-over, per-URL conditional-GET validators,
 * exponential back-off and round scheduling for poller.c and docpoll.c. */
#include "feeds/poll/pollround.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/log.h"

#define DEFAULT_BACKOFF_S    600
#define DEFAULT_TIMEOUT_S    30

struct round_url {
    char *url;
    char *etag, *last_modified;   /* validators of the last accepted 200 from this URL */
};

struct anpi_pollround {
    struct anpi_fetcher *fetcher;
    uv_timer_t timer;
    const char *kind, *url_label;   /* static strings from the owner */
    char *source;
    struct round_url *urls;
    size_t nurls;
    int64_t interval_ms, max_backoff_ms;
    size_t max_bytes;
    long timeout_s;
    struct anpi_pollround_hooks hooks;
    void *owner;
    struct anpi_pollround_stats st;

    int started, busy, again;
    int64_t round_start;
    size_t url_idx;

    int closing;
    int pending_closes;
    void (*closed)(void *);
    void *closed_arg;
};

static void start_round(struct anpi_pollround *r);

void
anpi_pollround_error(struct anpi_pollround *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->st.last_error, r->st.last_error_size, fmt, ap);
    va_end(ap);
    (*r->st.errors)++;
    anpi_warn(ANPI_LG_FEED, "%s %s: %s", r->kind, r->source, r->st.last_error);
}

static void
set_str(char **dst, const char *src)
{
    free(*dst);
    *dst = src ? anpi_xstrdup(src) : NULL;
}

struct anpi_pollround *
anpi_pollround_create(uv_loop_t *loop, const struct anpi_pollround_opts *o,
                      const struct anpi_pollround_hooks *hooks, void *owner,
                      struct anpi_pollround_stats st)
{
    if (!o || !o->source || !*o->source || !o->urls || o->nurls == 0 || !hooks ||
        !hooks->on_body || !hooks->on_free)
        return NULL;
    for (size_t i = 0; i < o->nurls; i++)
        if (!o->urls[i] || !*o->urls[i])
            return NULL;
    struct anpi_fetcher *f = anpi_fetcher_create(loop);
    if (!f)
        return NULL;
    struct anpi_pollround *r = anpi_xcalloc(1, sizeof(*r));
    r->fetcher = f;
    r->kind = o->kind;
    r->url_label = o->url_label ? o->url_label : "";
    r->source = anpi_xstrdup(o->source);
    r->nurls = o->nurls;
    r->urls = anpi_xcalloc(o->nurls, sizeof(*r->urls));
    for (size_t i = 0; i < o->nurls; i++)
        r->urls[i].url = anpi_xstrdup(o->urls[i]);
    r->interval_ms =
        (int64_t)(o->interval_s > 0 ? o->interval_s : o->default_interval_s) * 1000;
    r->max_backoff_ms =
        (int64_t)(o->max_backoff_s > 0 ? o->max_backoff_s : DEFAULT_BACKOFF_S) * 1000;
    if (r->max_backoff_ms < r->interval_ms)
        r->max_backoff_ms = r->interval_ms;
    r->max_bytes = o->max_bytes;
    r->timeout_s = o->timeout_s > 0 ? o->timeout_s : DEFAULT_TIMEOUT_S;
    r->hooks = *hooks;
    r->owner = owner;
    r->st = st;
    uv_timer_init(loop, &r->timer);
    r->timer.data = r;
    return r;
}

const char *
anpi_pollround_source(const struct anpi_pollround *r)
{
    return r->source;
}

const char *
anpi_pollround_url(const struct anpi_pollround *r)
{
    return r->urls[r->url_idx].url;
}

struct anpi_fetcher *
anpi_pollround_fetcher(const struct anpi_pollround *r)
{
    return r->fetcher;
}

long
anpi_pollround_timeout_s(const struct anpi_pollround *r)
{
    return r->timeout_s;
}

int
anpi_pollround_closing(const struct anpi_pollround *r)
{
    return r->closing;
}

void
anpi_pollround_set_validators(struct anpi_pollround *r, const char *etag,
                              const char *last_modified)
{
    struct round_url *u = &r->urls[r->url_idx];
    set_str(&u->etag, etag);
    set_str(&u->last_modified, last_modified);
}

static void
on_timer(uv_timer_t *t)
{
    start_round(t->data);
}

void
anpi_pollround_end(struct anpi_pollround *r, int ok)
{
    int64_t now = anpi_now_ms();
    int64_t delay = r->interval_ms;
    r->busy = 0;
    (*r->st.rounds)++;
    if (ok) {
        *r->st.last_success = now;
        *r->st.consecutive_errors = 0;
    } else {
        (*r->st.consecutive_errors)++;
        uint64_t n = *r->st.consecutive_errors;
        uint64_t shift = n < 20 ? n : 20;
        delay = r->interval_ms << shift;
        if (delay > r->max_backoff_ms)
            delay = r->max_backoff_ms;
    }
    if (r->hooks.on_round_end)
        r->hooks.on_round_end(r->owner);
    if (r->closing)
        return;
    if (r->again) {
        start_round(r);
        return;
    }
    if (!r->started) {
        *r->st.next_poll = 0;
        return;
    }
    int64_t next = r->round_start + delay;
    *r->st.next_poll = next;
    uv_timer_start(&r->timer, on_timer, next > now ? (uint64_t)(next - now) : 0, 0);
}

static void fetch_next(struct anpi_pollround *r);

static void
on_fetch(void *arg, const struct anpi_fetch_result *res)
{
    struct anpi_pollround *r = arg;
    if (r->closing)
        return;
    struct round_url *u = &r->urls[r->url_idx];
    if (res->error || (res->status != 200 && res->status != 304)) {
        if (res->error)
            anpi_pollround_error(r, "%s%s: %s", r->url_label, u->url, res->error);
        else
            anpi_pollround_error(r, "%s%s: HTTP %d", r->url_label, u->url, res->status);
        anpi_pollround_next_url(r);
        return;
    }
    if (res->status == 304) {
        (*r->st.not_modified)++;
        anpi_pollround_end(r, 1);
        return;
    }
    r->hooks.on_body(r->owner, res);
}

static void
fetch_next(struct anpi_pollround *r)
{
    while (r->url_idx < r->nurls) {
        struct round_url *u = &r->urls[r->url_idx];
        struct anpi_fetch_opts fo = {
            .etag = u->etag, .last_modified = u->last_modified,
            .max_bytes = r->max_bytes, .timeout_s = r->timeout_s,
        };
        int rc = anpi_fetch(r->fetcher, u->url, &fo, on_fetch, r);
        if (rc == 0)
            return;
        anpi_pollround_error(r, "%s%s: cannot start request: %s", r->url_label, u->url,
                             anpi_strerror(rc));
        r->url_idx++;
    }
    anpi_pollround_end(r, 0);
}

void
anpi_pollround_next_url(struct anpi_pollround *r)
{
    r->url_idx++;
    fetch_next(r);
}

static void
start_round(struct anpi_pollround *r)
{
    if (r->closing)
        return;
    if (r->busy) {
        r->again = 1;
        return;
    }
    uv_timer_stop(&r->timer);
    r->busy = 1;
    r->again = 0;
    r->round_start = anpi_now_ms();
    (*r->st.polls)++;
    *r->st.last_poll = r->round_start;
    *r->st.next_poll = 0;
    r->url_idx = 0;
    fetch_next(r);
}

int
anpi_pollround_start(struct anpi_pollround *r)
{
    if (r->closing)
        return ANPI_EPERM;
    if (r->started)
        return ANPI_OK;
    r->started = 1;
    start_round(r);
    return ANPI_OK;
}

void
anpi_pollround_poll_now(struct anpi_pollround *r)
{
    start_round(r);
}

static void
release(struct anpi_pollround *r)
{
    if (--r->pending_closes > 0)
        return;
    void (*closed)(void *) = r->closed;
    void *arg = r->closed_arg;
    r->hooks.on_free(r->owner);
    for (size_t i = 0; i < r->nurls; i++) {
        free(r->urls[i].url);
        free(r->urls[i].etag);
        free(r->urls[i].last_modified);
    }
    free(r->urls);
    free(r->source);
    free(r);
    if (closed)
        closed(arg);
}

static void
on_timer_closed(uv_handle_t *h)
{
    release(h->data);
}

static void
on_fetcher_closed(void *arg)
{
    release(arg);
}

void
anpi_pollround_close(struct anpi_pollround *r, void (*closed)(void *), void *arg)
{
    if (!r || r->closing)
        return;
    r->closing = 1;
    r->closed = closed;
    r->closed_arg = arg;
    r->pending_closes = 2;
    uv_timer_stop(&r->timer);
    uv_close((uv_handle_t *)&r->timer, on_timer_closed);
    anpi_fetcher_close(r->fetcher, on_fetcher_closed, r);
}
