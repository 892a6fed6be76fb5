/* http_fetch.c - libcurl multi driven by the libuv loop.
 *
 * The pattern from curl's multi-uv example: CURLMOPT_SOCKETFUNCTION keeps one
 * uv_poll_t per socket (attached with curl_multi_assign), CURLMOPT_TIMERFUNCTION
 * one uv_timer_t; both call curl_multi_socket_action and then drain
 * curl_multi_info_read.  Teardown is deferred to a loop turn of its own so a
 * completion callback may close the fetcher while check_multi() still holds
 * the multi handle. */
#include "feeds/poll/http_fetch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "engine/anpi.h"
#include "engine/buf.h"
#include "engine/log.h"
#include "feeds/poll/poll_version.h"

/* A transfer moving less than this many bytes per second for this long is
 * dropped: a stalled peer must not hold a slot until the total timeout. */
#define LOW_SPEED_BYTES 64L
#define LOW_SPEED_SECS  20L
#define CONNECT_TIMEOUT_S 10L

struct sock_ctx {
    uv_poll_t poll;
    curl_socket_t fd;
    struct anpi_fetcher *f;
    struct sock_ctx *prev, *next;
    int closing;
};

struct xfer {
    struct anpi_fetcher *f;
    CURL *easy;
    struct curl_slist *hdrs;
    struct anpi_buf body;
    size_t max_bytes;
    long timeout_s;
    int too_big;
    anpi_fetch_cb cb;
    void *arg;
    struct xfer *prev, *next;
    char errbuf[CURL_ERROR_SIZE];
};

struct anpi_fetcher {
    uv_loop_t *loop;
    CURLM *multi;
    uv_timer_t timer;
    struct xfer *xfers;
    size_t nxfers;
    struct sock_ctx *socks;
    unsigned open_handles;      /* timer + poll handles not yet closed */
    int closing;
    int torn_down;
    void (*closed)(void *);
    void *closed_arg;
};

static void check_multi(struct anpi_fetcher *f);

static void
maybe_finish(struct anpi_fetcher *f)
{
    if (!f->torn_down || f->open_handles > 0)
        return;
    void (*closed)(void *) = f->closed;
    void *arg = f->closed_arg;
    free(f);
    if (closed)
        closed(arg);
}

static void
on_sock_closed(uv_handle_t *h)
{
    struct sock_ctx *c = h->data;
    struct anpi_fetcher *f = c->f;
    free(c);
    f->open_handles--;
    maybe_finish(f);
}

static void
sock_close(struct sock_ctx *c)
{
    if (c->closing)
        return;
    c->closing = 1;
    struct anpi_fetcher *f = c->f;
    if (c->prev)
        c->prev->next = c->next;
    else
        f->socks = c->next;
    if (c->next)
        c->next->prev = c->prev;
    uv_poll_stop(&c->poll);
    uv_close((uv_handle_t *)&c->poll, on_sock_closed);
}

static void
on_poll(uv_poll_t *h, int status, int events)
{
    struct sock_ctx *c = h->data;
    struct anpi_fetcher *f = c->f;
    if (f->closing || c->closing)
        return;
    int flags = 0;
    if (status < 0) {
        flags = CURL_CSELECT_ERR;
    } else {
        if (events & UV_READABLE)
            flags |= CURL_CSELECT_IN;
        if (events & UV_WRITABLE)
            flags |= CURL_CSELECT_OUT;
    }
    int running;
    curl_multi_socket_action(f->multi, c->fd, flags, &running);
    check_multi(f);
}

static int
on_socket(CURL *easy, curl_socket_t s, int what, void *userp, void *socketp)
{
    (void)easy;
    struct anpi_fetcher *f = userp;
    struct sock_ctx *c = socketp;
    if (what == CURL_POLL_REMOVE) {
        if (c && !c->closing) {
            curl_multi_assign(f->multi, s, NULL);
            sock_close(c);
        }
        return 0;
    }
    if (f->closing)
        return 0;
    if (!c) {
        c = anpi_xcalloc(1, sizeof(*c));
        c->fd = s;
        c->f = f;
        int rc = uv_poll_init_socket(f->loop, &c->poll, s);
        if (rc != 0) {
            anpi_error(ANPI_LG_FEED, "http: cannot watch socket %d: %s", (int)s, uv_strerror(rc));
            free(c);
            return -1;
        }
        c->poll.data = c;
        c->next = f->socks;
        if (f->socks)
            f->socks->prev = c;
        f->socks = c;
        f->open_handles++;
        curl_multi_assign(f->multi, s, c);
    }
    int ev = 0;
    if (what & CURL_POLL_IN)
        ev |= UV_READABLE;
    if (what & CURL_POLL_OUT)
        ev |= UV_WRITABLE;
    uv_poll_start(&c->poll, ev, on_poll);
    return 0;
}

static void
on_timeout(uv_timer_t *t)
{
    struct anpi_fetcher *f = t->data;
    if (f->closing)
        return;
    int running;
    curl_multi_socket_action(f->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    check_multi(f);
}

static int
on_timer_set(CURLM *m, long timeout_ms, void *userp)
{
    (void)m;
    struct anpi_fetcher *f = userp;
    if (f->closing)
        return 0;
    if (timeout_ms < 0)
        uv_timer_stop(&f->timer);
    else
        uv_timer_start(&f->timer, on_timeout, (uint64_t)timeout_ms, 0);
    return 0;
}

struct anpi_fetcher *
anpi_fetcher_create(uv_loop_t *loop)
{
    static int curl_ready;
    if (!curl_ready) {
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
            return NULL;
        curl_ready = 1;
    }
    struct anpi_fetcher *f = anpi_xcalloc(1, sizeof(*f));
    f->loop = loop;
    f->multi = curl_multi_init();
    if (!f->multi) {
        free(f);
        return NULL;
    }
    uv_timer_init(loop, &f->timer);
    f->timer.data = f;
    f->open_handles = 1;
    curl_multi_setopt(f->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
    curl_multi_setopt(f->multi, CURLMOPT_SOCKETDATA, f);
    curl_multi_setopt(f->multi, CURLMOPT_TIMERFUNCTION, on_timer_set);
    curl_multi_setopt(f->multi, CURLMOPT_TIMERDATA, f);
    return f;
}

size_t
anpi_fetcher_active(const struct anpi_fetcher *f)
{
    return f->nxfers;
}

static size_t
on_write(char *p, size_t size, size_t n, void *ud)
{
    struct xfer *x = ud;
    size_t len = size * n;
    if (anpi_buf_append(&x->body, p, len) != ANPI_OK) {
        /* Returning short makes curl abort with CURLE_WRITE_ERROR: the cap
         * holds while receiving, nothing past it is ever buffered. */
        x->too_big = 1;
        return 0;
    }
    return len;
}

static void
xfer_unlink(struct xfer *x)
{
    struct anpi_fetcher *f = x->f;
    if (x->prev)
        x->prev->next = x->next;
    else
        f->xfers = x->next;
    if (x->next)
        x->next->prev = x->prev;
    f->nxfers--;
}

static void
xfer_free(struct xfer *x)
{
    curl_easy_cleanup(x->easy);
    curl_slist_free_all(x->hdrs);
    anpi_buf_free(&x->body);
    free(x);
}

static char *
header_value(CURL *easy, const char *name)
{
    struct curl_header *h = NULL;
    if (curl_easy_header(easy, name, 0, CURLH_HEADER, -1, &h) != CURLHE_OK || !h || !h->value)
        return NULL;
    return h->value[0] ? anpi_xstrdup(h->value) : NULL;
}

static void
finish(struct xfer *x, CURLcode res)
{
    struct anpi_fetcher *f = x->f;
    struct anpi_fetch_result r = { 0 };
    char msg[CURL_ERROR_SIZE + 64];
    long code = 0;
    double secs = 0, conn = 0;
    curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &code);
    curl_easy_getinfo(x->easy, CURLINFO_TOTAL_TIME, &secs);
    curl_easy_getinfo(x->easy, CURLINFO_CONNECT_TIME, &conn);
    char *etag = NULL, *lm = NULL;
    if (res == CURLE_OK) {
        etag = header_value(x->easy, "ETag");
        lm = header_value(x->easy, "Last-Modified");
        r.status = (int)code;
    } else {
        if (x->too_big || res == CURLE_FILESIZE_EXCEEDED)
            snprintf(msg, sizeof(msg), "too large: over %zu bytes", x->max_bytes);
        else if (res == CURLE_TOO_MANY_REDIRECTS)
            snprintf(msg, sizeof(msg), "too many redirects");
        else if (res == CURLE_OPERATION_TIMEDOUT && conn <= 0 && secs + 0.05 < (double)x->timeout_s)
            snprintf(msg, sizeof(msg), "connect timeout after %lds",
                     x->timeout_s < CONNECT_TIMEOUT_S ? x->timeout_s : CONNECT_TIMEOUT_S);
        else if (res == CURLE_OPERATION_TIMEDOUT && secs + 0.05 < (double)x->timeout_s)
            snprintf(msg, sizeof(msg), "too slow: under %ld bytes/s for %lds",
                     LOW_SPEED_BYTES, LOW_SPEED_SECS);
        else if (res == CURLE_OPERATION_TIMEDOUT)
            snprintf(msg, sizeof(msg), "timeout after %lds", x->timeout_s);
        else
            snprintf(msg, sizeof(msg), "%s", x->errbuf[0] ? x->errbuf : curl_easy_strerror(res));
        r.error = msg;
        r.code = x->too_big || res == CURLE_FILESIZE_EXCEEDED ? ANPI_ETOOBIG
               : res == CURLE_OPERATION_TIMEDOUT ? ANPI_ETIMEDOUT : ANPI_ERROR;
    }
    curl_multi_remove_handle(f->multi, x->easy);
    xfer_unlink(x);
    r.body = x->body.data ? x->body.data : "";
    r.len = res == CURLE_OK ? x->body.len : 0;
    r.etag = etag;
    r.last_modified = lm;
    r.seconds = secs;
    x->cb(x->arg, &r);
    free(etag);
    free(lm);
    xfer_free(x);
}

static void
check_multi(struct anpi_fetcher *f)
{
    CURLMsg *m;
    int pending;
    while ((m = curl_multi_info_read(f->multi, &pending))) {
        if (m->msg != CURLMSG_DONE)
            continue;
        struct xfer *x = NULL;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&x);
        finish(x, m->data.result);
    }
}

static int
has_crlf(const char *s)
{
    return s && strpbrk(s, "\r\n") != NULL;
}

int
anpi_fetch(struct anpi_fetcher *f, const char *url, const struct anpi_fetch_opts *o,
           anpi_fetch_cb cb, void *arg)
{
    if (f->closing)
        return ANPI_EPERM;
    if (!url || !cb)
        return ANPI_ERROR;
    struct anpi_fetch_opts d = { 0 };
    if (!o)
        o = &d;
    if (has_crlf(o->etag) || has_crlf(o->last_modified))
        return ANPI_EPARSE;   /* a validator must never inject a header line */
    struct xfer *x = anpi_xcalloc(1, sizeof(*x));
    x->f = f;
    x->cb = cb;
    x->arg = arg;
    x->max_bytes = o->max_bytes ? o->max_bytes : ANPI_FETCH_DEFAULT_MAX_BYTES;
    x->timeout_s = o->timeout_s > 0 ? o->timeout_s : ANPI_FETCH_DEFAULT_TIMEOUT_S;
    anpi_buf_init(&x->body, x->max_bytes);
    x->easy = curl_easy_init();
    if (!x->easy) {
        free(x);
        return ANPI_ENOMEM;
    }
    if (o->etag && *o->etag) {
        char *h = anpi_xasprintf("If-None-Match: %s", o->etag);
        x->hdrs = curl_slist_append(x->hdrs, h);
        free(h);
    }
    if (o->last_modified && *o->last_modified) {
        char *h = anpi_xasprintf("If-Modified-Since: %s", o->last_modified);
        x->hdrs = curl_slist_append(x->hdrs, h);
        free(h);
    }
    CURL *e = x->easy;
    CURLcode rc = CURLE_OK;
    long connect_s = x->timeout_s < CONNECT_TIMEOUT_S ? x->timeout_s : CONNECT_TIMEOUT_S;
#define SET(opt, val) do { if (rc == CURLE_OK) rc = curl_easy_setopt(e, opt, val); } while (0)
    SET(CURLOPT_URL, url);
    SET(CURLOPT_PRIVATE, (void *)x);
    SET(CURLOPT_ERRORBUFFER, x->errbuf);
    SET(CURLOPT_WRITEFUNCTION, on_write);
    SET(CURLOPT_WRITEDATA, (void *)x);
    SET(CURLOPT_NOSIGNAL, 1L);
    SET(CURLOPT_PROTOCOLS_STR, "http,https");
    SET(CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    SET(CURLOPT_FOLLOWLOCATION, 1L);
    SET(CURLOPT_MAXREDIRS, ANPI_FETCH_MAX_REDIRECTS);
    SET(CURLOPT_CONNECTTIMEOUT, connect_s);
    SET(CURLOPT_TIMEOUT, x->timeout_s);
    SET(CURLOPT_LOW_SPEED_LIMIT, LOW_SPEED_BYTES);
    SET(CURLOPT_LOW_SPEED_TIME, LOW_SPEED_SECS);
    SET(CURLOPT_USERAGENT, "anpi/" ANPI_POLL_VERSION);
    SET(CURLOPT_ACCEPT_ENCODING, "gzip");
    SET(CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)x->max_bytes);
    if (x->hdrs)
        SET(CURLOPT_HTTPHEADER, x->hdrs);
#undef SET
    if (rc != CURLE_OK) {
        anpi_error(ANPI_LG_FEED, "http: cannot set up transfer for %s: %s", url, curl_easy_strerror(rc));
        xfer_free(x);
        return ANPI_ERROR;
    }
    x->next = f->xfers;
    if (f->xfers)
        f->xfers->prev = x;
    f->xfers = x;
    f->nxfers++;
    if (curl_multi_add_handle(f->multi, e) != CURLM_OK) {
        xfer_unlink(x);
        xfer_free(x);
        return ANPI_ERROR;
    }
    return ANPI_OK;
}

static void
on_timer_closed(uv_handle_t *h)
{
    struct anpi_fetcher *f = h->data;
    f->open_handles--;
    maybe_finish(f);
}

static void
on_teardown(uv_timer_t *t)
{
    struct anpi_fetcher *f = t->data;
    /* Close our poll handles before curl closes the sockets; REMOVE
     * callbacks from curl_multi_cleanup then find them already closing. */
    while (f->socks)
        sock_close(f->socks);
    curl_multi_cleanup(f->multi);
    f->multi = NULL;
    f->torn_down = 1;
    uv_close((uv_handle_t *)&f->timer, on_timer_closed);
}

void
anpi_fetcher_close(struct anpi_fetcher *f, void (*closed)(void *), void *arg)
{
    if (!f || f->closing)
        return;
    f->closing = 1;
    f->closed = closed;
    f->closed_arg = arg;
    while (f->xfers) {
        struct xfer *x = f->xfers;
        curl_multi_remove_handle(f->multi, x->easy);
        xfer_unlink(x);
        struct anpi_fetch_result r = { 0 };
        r.error = "cancelled";
        r.code = ANPI_ERROR;
        r.body = "";
        x->cb(x->arg, &r);
        xfer_free(x);
    }
    uv_timer_stop(&f->timer);
    uv_timer_start(&f->timer, on_teardown, 0, 0);
}
