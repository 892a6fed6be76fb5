/* docpoll.c - single-document poller: conditional GET, URL fail-over,
 * change detection on the body's SHA-256, exponential back-off.
 *
 * Validators are kept per URL (two mirrors have different ETags), the hash
 * of the last delivered body per poller (two mirrors serve the same
 * document: the second must not re-deliver it). */
#include "feeds/poll/docpoll.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "engine/anpi.h"
#include "engine/log.h"
#include "feeds/poll/http_fetch.h"

#define DEFAULT_INTERVAL_S   300
#define DEFAULT_BACKOFF_S    600
#define DEFAULT_TIMEOUT_S    30

struct doc_url {
    char *url;
    char *etag, *last_modified;   /* validators of the last 200 from this URL */
};

struct anpi_docpoll {
    uv_loop_t *loop;
    struct anpi_fetcher *fetcher;
    uv_timer_t timer;
    char *source;
    struct doc_url *urls;
    size_t nurls;
    int64_t interval_ms, max_backoff_ms;
    size_t max_bytes;
    long timeout_s;
    anpi_docpoll_cb cb;
    void *arg;
    struct anpi_docpoll_stats st;

    unsigned char last_sha[32];
    int have_sha;

    int started, busy, again;
    int64_t round_start;
    size_t url_idx;

    int closing;
    int pending_closes;
    void (*closed)(void *);
    void *closed_arg;
};

static void start_round(struct anpi_docpoll *p);
static void fetch_next(struct anpi_docpoll *p);

static void record_error(struct anpi_docpoll *p, const char *fmt, ...) ANPI_PRINTF(2, 3);

static void
record_error(struct anpi_docpoll *p, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->st.last_error, sizeof(p->st.last_error), fmt, ap);
    va_end(ap);
    p->st.errors++;
    anpi_warn(ANPI_LG_FEED, "docpoll %s: %s", p->source, p->st.last_error);
}

static void
set_str(char **dst, const char *src)
{
    free(*dst);
    *dst = src ? anpi_xstrdup(src) : NULL;
}

struct anpi_docpoll *
anpi_docpoll_create(uv_loop_t *loop, const struct anpi_docpoll_opts *o, anpi_docpoll_cb cb,
                    void *arg)
{
    if (!o || !o->source || !*o->source || !o->urls || o->nurls == 0 || !cb)
        return NULL;
    for (size_t i = 0; i < o->nurls; i++)
        if (!o->urls[i] || !*o->urls[i])
            return NULL;
    struct anpi_fetcher *f = anpi_fetcher_create(loop);
    if (!f)
        return NULL;
    struct anpi_docpoll *p = anpi_xcalloc(1, sizeof(*p));
    p->loop = loop;
    p->fetcher = f;
    p->source = anpi_xstrdup(o->source);
    p->nurls = o->nurls;
    p->urls = anpi_xcalloc(o->nurls, sizeof(*p->urls));
    for (size_t i = 0; i < o->nurls; i++)
        p->urls[i].url = anpi_xstrdup(o->urls[i]);
    p->interval_ms = (int64_t)(o->interval_s > 0 ? o->interval_s : DEFAULT_INTERVAL_S) * 1000;
    p->max_backoff_ms =
        (int64_t)(o->max_backoff_s > 0 ? o->max_backoff_s : DEFAULT_BACKOFF_S) * 1000;
    if (p->max_backoff_ms < p->interval_ms)
        p->max_backoff_ms = p->interval_ms;
    p->max_bytes = o->max_bytes ? o->max_bytes : ANPI_FETCH_DEFAULT_MAX_BYTES;
    p->timeout_s = o->timeout_s > 0 ? o->timeout_s : DEFAULT_TIMEOUT_S;
    p->cb = cb;
    p->arg = arg;
    uv_timer_init(loop, &p->timer);
    p->timer.data = p;
    return p;
}

static int
hexval(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

int
anpi_docpoll_set_last_sha256(struct anpi_docpoll *p, const char *hex)
{
    unsigned char sha[32];
    if (!hex || strlen(hex) != 64)
        return ANPI_EPARSE;
    for (size_t i = 0; i < 32; i++) {
        int hi = hexval(hex[2 * i]), lo = hexval(hex[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return ANPI_EPARSE;
        sha[i] = (unsigned char)(hi << 4 | lo);
    }
    memcpy(p->last_sha, sha, sizeof(sha));
    p->have_sha = 1;
    return ANPI_OK;
}

const struct anpi_docpoll_stats *
anpi_docpoll_stats(const struct anpi_docpoll *p)
{
    return &p->st;
}

static void
on_timer(uv_timer_t *t)
{
    start_round(t->data);
}

static void
round_end(struct anpi_docpoll *p, int ok)
{
    int64_t now = anpi_now_ms();
    int64_t delay = p->interval_ms;
    p->busy = 0;
    p->st.rounds++;
    if (ok) {
        p->st.last_success = now;
        p->st.consecutive_errors = 0;
    } else {
        p->st.consecutive_errors++;
        uint64_t shift = p->st.consecutive_errors < 20 ? p->st.consecutive_errors : 20;
        delay = p->interval_ms << shift;
        if (delay > p->max_backoff_ms)
            delay = p->max_backoff_ms;
    }
    if (p->closing)
        return;
    if (p->again) {
        start_round(p);
        return;
    }
    if (!p->started) {
        p->st.next_poll = 0;
        return;
    }
    int64_t next = p->round_start + delay;
    p->st.next_poll = next;
    uv_timer_start(&p->timer, on_timer, next > now ? (uint64_t)(next - now) : 0, 0);
}

static void
on_fetch(void *arg, const struct anpi_fetch_result *r)
{
    struct anpi_docpoll *p = arg;
    if (p->closing)
        return;
    struct doc_url *du = &p->urls[p->url_idx];
    if (r->error || (r->status != 200 && r->status != 304) ||
        (r->status == 200 && r->len == 0)) {
        if (r->error)
            record_error(p, "%s: %s", du->url, r->error);
        else if (r->status == 200)
            /* an empty 200 is a broken server or proxy, not a document */
            record_error(p, "%s: empty body", du->url);
        else
            record_error(p, "%s: HTTP %d", du->url, r->status);
        p->url_idx++;
        fetch_next(p);
        return;
    }
    if (r->status == 304) {
        p->st.not_modified++;
        round_end(p, 1);
        return;
    }
    unsigned char sha[32];
    unsigned int shalen = 0;
    if (EVP_Digest(r->body, r->len, sha, &shalen, EVP_sha256(), NULL) != 1 || shalen != 32) {
        record_error(p, "%s: cannot hash the body", du->url);
        round_end(p, 0);
        return;
    }
    /* kept only once the body is hashed: a 304 must never hide a body that
     * was not looked at */
    set_str(&du->etag, r->etag);
    set_str(&du->last_modified, r->last_modified);
    if (p->have_sha && memcmp(sha, p->last_sha, sizeof(sha)) == 0) {
        p->st.unchanged++;
        round_end(p, 1);
        return;
    }
    memcpy(p->last_sha, sha, sizeof(sha));
    p->have_sha = 1;
    p->st.documents++;
    p->st.last_document = anpi_now_ms();
    p->cb(p->arg, p->source, du->url, r->body, r->len);
    if (p->closing)
        return;     /* closed from the callback: round_end would touch the timer */
    round_end(p, 1);
}

static void
fetch_next(struct anpi_docpoll *p)
{
    while (p->url_idx < p->nurls) {
        struct doc_url *du = &p->urls[p->url_idx];
        struct anpi_fetch_opts fo = {
            .etag = du->etag, .last_modified = du->last_modified,
            .max_bytes = p->max_bytes, .timeout_s = p->timeout_s,
        };
        int rc = anpi_fetch(p->fetcher, du->url, &fo, on_fetch, p);
        if (rc == 0)
            return;
        record_error(p, "%s: cannot start request: %s", du->url, anpi_strerror(rc));
        p->url_idx++;
    }
    round_end(p, 0);
}

static void
start_round(struct anpi_docpoll *p)
{
    if (p->closing)
        return;
    if (p->busy) {
        p->again = 1;
        return;
    }
    uv_timer_stop(&p->timer);
    p->busy = 1;
    p->again = 0;
    p->round_start = anpi_now_ms();
    p->st.polls++;
    p->st.last_poll = p->round_start;
    p->st.next_poll = 0;
    p->url_idx = 0;
    fetch_next(p);
}

int
anpi_docpoll_start(struct anpi_docpoll *p)
{
    if (p->closing)
        return ANPI_EPERM;
    if (p->started)
        return ANPI_OK;
    p->started = 1;
    start_round(p);
    return ANPI_OK;
}

void
anpi_docpoll_poll_now(struct anpi_docpoll *p)
{
    start_round(p);
}

static void
release(struct anpi_docpoll *p)
{
    if (--p->pending_closes > 0)
        return;
    void (*closed)(void *) = p->closed;
    void *arg = p->closed_arg;
    for (size_t i = 0; i < p->nurls; i++) {
        free(p->urls[i].url);
        free(p->urls[i].etag);
        free(p->urls[i].last_modified);
    }
    free(p->urls);
    free(p->source);
    free(p);
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
anpi_docpoll_close(struct anpi_docpoll *p, void (*closed)(void *), void *arg)
{
    if (!p || p->closing)
        return;
    p->closing = 1;
    p->closed = closed;
    p->closed_arg = arg;
    p->pending_closes = 2;
    uv_timer_stop(&p->timer);
    uv_close((uv_handle_t *)&p->timer, on_timer_closed);
    anpi_fetcher_close(p->fetcher, on_fetcher_closed, p);
}
