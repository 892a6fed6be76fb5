/* http.c - libmicrohttpd driven from the libuv loop.
 *
 * MHD runs in external-epoll mode with no thread of its own: a uv_poll
 * watches MHD's epoll fd, and after every MHD_run() a uv_timer is re-armed
 * from MHD_get_timeout() (REFERENCE.md has the measurements behind this).
 *
 * Request lifetime.  A struct anpi_http_req is referenced by up to three
 * owners and freed when the last lets go (maybe_free):
 *   - MHD, from the first access-handler call until NOTIFY_COMPLETED;
 *   - the application, from the handler call until it responds;
 *   - a uv_poll that watches a suspended connection for the client hanging
 *     up, until its close callback.
 * So a client that disconnects while its request is suspended is noticed at
 * once (anpi_http_req_gone), MHD can release the connection, and the
 * handler's later respond just frees. */
#include "admin-api/http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <microhttpd.h>

#include "engine/buf.h"
#include "engine/log.h"

#define DEFAULT_MAX_BODY        (1024 * 1024)
#define DEFAULT_MAX_CONNECTIONS 512
#define DEFAULT_TIMEOUT_S       30
#define LISTEN_BACKLOG          511
#define MAX_CAPTURES            16

struct route_seg {
    char *text;        /* literal, or the capture name */
    bool capture;
};

struct route {
    struct route *next;
    char *method;
    char *pattern;     /* logged instead of the path: paths may carry tokens */
    struct route_seg *segs;
    size_t nsegs, ncaptures;
    anpi_http_handler handler;
    void *ctx;
};

struct hdr {
    struct hdr *next;
    char *name, *value;
};

struct anpi_http_server {
    uv_loop_t *loop;
    struct MHD_Daemon *mhd;
    uv_poll_t poll;
    uv_timer_t timer;
    int port;
    size_t max_body;
    bool cookies;                      /* anpi_http_set_cookie allowed (console listener) */
    bool (*allow)(const char *peer, void *arg);
    void *allow_arg;
    struct route *routes, **routes_tail;
    struct anpi_http_req *reqs;        /* live requests, for close */
    bool in_run, kick, closing;
    int open_handles;
    void (*closed)(void *);
    void *closed_arg;
};

struct anpi_http_req {
    struct anpi_http_server *srv;      /* NULL once the server closed */
    struct anpi_http_req *prev, *next;
    struct MHD_Connection *conn;       /* NULL once MHD completed the request */
    char *method, *path;
    char peer[INET6_ADDRSTRLEN];
    const struct route *route;
    char *pattern;                     /* the matched route's pattern */
    size_t ncaps;
    struct capture { char *name, *value; } *caps;   /* copies: may outlive the server */
    size_t drained;                    /* body bytes discarded after a 413 */
    struct anpi_buf body;
    struct hdr *hdrs;                  /* headers set by the handler */
    struct MHD_Response *resp;         /* built, not yet queued */
    unsigned status;
    uint64_t start_ns;
    bool mhd_live, app_owned, poll_open;
    bool started, queued, suspended, gone, must_close;
    unsigned reject;                   /* status decided before the handler */
    void *user;                        /* anpi_http_req_set_user */
    void (*user_free)(void *);
    uv_poll_t hup;                     /* watches a suspended connection */
};

static void run_mhd(struct anpi_http_server *s);
static void timer_cb(uv_timer_t *t);

/* ---- routes -------------------------------------------------------------- */

static void
route_free(struct route *r)
{
    for (size_t i = 0; i < r->nsegs; i++)
        free(r->segs[i].text);
    free(r->segs);
    free(r->method);
    free(r->pattern);
    free(r);
}

int
anpi_http_route(struct anpi_http_server *s, const char *method, const char *pattern,
                anpi_http_handler h, void *ctx)
{
    if (!method || !*method || !pattern || pattern[0] != '/' || !h) {
        anpi_error(ANPI_LG_API, "route %s %s: need a method, a pattern starting with '/' "
                   "and a handler", method ? method : "(null)", pattern ? pattern : "(null)");
        return ANPI_EPARSE;
    }
    struct route *r = anpi_xcalloc(1, sizeof(*r));
    r->method = anpi_xstrdup(method);
    r->pattern = anpi_xstrdup(pattern);
    r->handler = h;
    r->ctx = ctx;
    const char *p = pattern + 1;
    for (;;) {
        size_t n = strcspn(p, "/");
        r->segs = anpi_xrealloc(r->segs, (r->nsegs + 1) * sizeof(*r->segs));
        struct route_seg *seg = &r->segs[r->nsegs++];
        seg->capture = n >= 2 && p[0] == '{' && p[n - 1] == '}';
        seg->text = seg->capture ? anpi_xstrndup(p + 1, n - 2) : anpi_xstrndup(p, n);
        if ((seg->capture && !seg->text[0]) || strpbrk(seg->text, "{}")) {
            anpi_error(ANPI_LG_API, "route %s %s: a capture must be a whole segment "
                       "\"{name}\" with a non-empty name", method, pattern);
            route_free(r);
            return ANPI_EPARSE;
        }
        if (seg->capture)
            r->ncaptures++;
        if (!p[n])
            break;
        p += n + 1;
    }
    if (r->ncaptures > MAX_CAPTURES) {
        anpi_error(ANPI_LG_API, "route %s %s: more than %d captures", method, pattern,
                   MAX_CAPTURES);
        route_free(r);
        return ANPI_EPARSE;
    }
    *s->routes_tail = r;
    s->routes_tail = &r->next;
    return ANPI_OK;
}

/* Does path match r?  Fills caps[i] with (start, len) of each capture. */
static bool
route_match(const struct route *r, const char *path, const char **cap, size_t *caplen)
{
    if (path[0] != '/')
        return false;
    const char *p = path + 1;
    size_t ci = 0;
    for (size_t i = 0; i < r->nsegs; i++) {
        size_t n = strcspn(p, "/");
        const struct route_seg *seg = &r->segs[i];
        if (seg->capture) {
            if (n == 0)
                return false;
            cap[ci] = p;
            caplen[ci++] = n;
        } else if (strlen(seg->text) != n || memcmp(seg->text, p, n) != 0) {
            return false;
        }
        bool last = i + 1 == r->nsegs;
        if (last)
            return p[n] == '\0';
        if (p[n] != '/')
            return false;
        p += n + 1;
    }
    return false;
}

static bool
method_matches(const char *route_method, const char *method)
{
    if (strcmp(route_method, method) == 0)
        return true;
    return strcmp(method, "HEAD") == 0 && strcmp(route_method, "GET") == 0;
}

/* ---- responses ----------------------------------------------------------- */

static struct hdr *
find_hdr(struct hdr *h, const char *name)
{
    for (; h; h = h->next)
        if (strcasecmp(h->name, name) == 0)
            return h;
    return NULL;
}

/* Set header name of r's response to value, replacing an earlier one. */
static void
put_hdr(struct anpi_http_req *r, const char *name, const char *value)
{
    struct hdr *h = find_hdr(r->hdrs, name);
    if (h) {
        free(h->value);
        h->value = anpi_xstrdup(value);
        return;
    }
    h = anpi_xmalloc(sizeof(*h));
    h->name = anpi_xstrdup(name);
    h->value = anpi_xstrdup(value);
    h->next = r->hdrs;
    r->hdrs = h;
}

void
anpi_http_set_header(struct anpi_http_req *r, const char *name, const char *value)
{
    if (!name || !value || !*name || strpbrk(name, "\r\n: \t") || strpbrk(value, "\r\n")) {
        anpi_warn(ANPI_LG_API, "refusing response header with an empty name, or CR/LF");
        return;
    }
    /* Reply links are login-free: a cookie would only make a shared phone
     * remember someone else's session. */
    if (strcasecmp(name, "Set-Cookie") == 0) {
        anpi_warn(ANPI_LG_API, "refusing to set a cookie on %s",
                  r->pattern ? r->pattern : "(no route)");
        return;
    }
    put_hdr(r, name, value);
}

void
anpi_http_set_cookie(struct anpi_http_req *r, const char *name, const char *value, long long max_age_s)
{
    /* Names and values are ours (base64url tokens), never user text; refuse
     * anything outside the cookie-octet set rather than quoting it. */
    static const char ok[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.";
    if (!r->srv || !r->srv->cookies || !name || !value || !*name || name[strspn(name, ok)] ||
        value[strspn(value, ok)] || strlen(value) > 256) {
        anpi_warn(ANPI_LG_API, "refusing to set a cookie on %s", r->pattern ? r->pattern : "(no route)");
        return;
    }
    /* Only one cookie is ever set per response, so replacing is right. */
    char v[512];
    snprintf(v, sizeof(v), "%s=%s; Path=/; Max-Age=%lld; HttpOnly; Secure; SameSite=Strict", name, value,
             max_age_s < 0 ? 0 : max_age_s);
    put_hdr(r, "Set-Cookie", v);
}

void
anpi_http_req_set_user(struct anpi_http_req *r, void *user, void (*user_free)(void *))
{
    if (r->user_free)
        r->user_free(r->user);
    r->user = user;
    r->user_free = user_free;
}

void *
anpi_http_req_user(const struct anpi_http_req *r)
{
    return r->user;
}

static void
add_default(struct anpi_http_req *r, struct MHD_Response *resp, const char *name,
            const char *value)
{
    if (!find_hdr(r->hdrs, name))
        MHD_add_response_header(resp, name, value);
}

/* Build the response; it is queued on the next access-handler call. */
static void
build_response(struct anpi_http_req *r, unsigned status, const char *ctype, const char *body,
               size_t len)
{
    if (r->resp) {
        MHD_destroy_response(r->resp);
        r->resp = NULL;
    }
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(len, (void *)(body ? body : ""), MHD_RESPMEM_MUST_COPY);
    if (!resp) {
        anpi_error(ANPI_LG_API, "cannot create a response (out of memory?)");
        return;
    }
    for (struct hdr *h = r->hdrs; h; h = h->next)
        MHD_add_response_header(resp, h->name, h->value);
    if (ctype && *ctype && !find_hdr(r->hdrs, "Content-Type"))
        MHD_add_response_header(resp, "Content-Type", ctype);
    add_default(r, resp, "Cache-Control", "no-store");
    add_default(r, resp, "X-Content-Type-Options", "nosniff");
    add_default(r, resp, "Referrer-Policy", "no-referrer");
    if (ctype && strncasecmp(ctype, "text/html", 9) == 0)
        add_default(r, resp, "Content-Security-Policy",
                    "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
                    "frame-ancestors 'none'");
    if (r->must_close)
        MHD_add_response_header(resp, "Connection", "close");
    r->resp = resp;
    r->status = status;
}

static void
build_error(struct anpi_http_req *r, unsigned status, const char *msg)
{
    json_t *j = json_pack("{s:s}", "error", msg);
    if (!j)   /* msg was not UTF-8 */
        j = json_pack("{s:s}", "error", "error");
    char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    build_response(r, status, "application/json; charset=utf-8", s ? s : "{}",
                   s ? strlen(s) : 2);
    free(s);
}

/* ---- request lifetime ---------------------------------------------------- */

static void
req_free(struct anpi_http_req *r)
{
    if (r->srv) {
        if (r->prev)
            r->prev->next = r->next;
        else
            r->srv->reqs = r->next;
        if (r->next)
            r->next->prev = r->prev;
    }
    if (r->resp)
        MHD_destroy_response(r->resp);
    for (size_t i = 0; i < r->ncaps; i++) {
        free(r->caps[i].name);
        free(r->caps[i].value);
    }
    free(r->caps);
    free(r->pattern);
    while (r->hdrs) {
        struct hdr *h = r->hdrs;
        r->hdrs = h->next;
        free(h->name);
        free(h->value);
        free(h);
    }
    anpi_buf_free(&r->body);
    if (r->user_free)
        r->user_free(r->user);
    free(r->method);
    free(r->path);
    free(r);
}

static void
maybe_free(struct anpi_http_req *r)
{
    if (!r->mhd_live && !r->app_owned && !r->poll_open)
        req_free(r);
}

static void
hup_closed(uv_handle_t *h)
{
    struct anpi_http_req *r = h->data;
    r->poll_open = false;
    maybe_free(r);
}

static void
hup_stop(struct anpi_http_req *r)
{
    if (r->poll_open && !uv_is_closing((uv_handle_t *)&r->hup))
        uv_close((uv_handle_t *)&r->hup, hup_closed);
}

static void
resume(struct anpi_http_req *r)
{
    hup_stop(r);
    if (!r->suspended)
        return;
    r->suspended = false;
    MHD_resume_connection(r->conn);
    r->srv->kick = true;
    if (!r->srv->in_run && !r->srv->closing)
        uv_timer_start(&r->srv->timer, timer_cb, 0, 0);
}

/* The client hung up while its request was suspended.  Release the MHD
 * connection now (with an answer nobody reads); the request stays for the
 * handler, whose respond will only free it. */
static void
hup_cb(uv_poll_t *h, int status, int events)
{
    struct anpi_http_req *r = h->data;
    if (status >= 0 && !(events & (UV_DISCONNECT | UV_READABLE)))
        return;
    r->gone = true;
    build_error(r, 503, "client went away");
    resume(r);
}

static void
hup_watch(struct anpi_http_req *r)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (!ci)
        return;
    if (uv_poll_init(r->srv->loop, &r->hup, ci->connect_fd) != 0)
        return;   /* gone is then only noticed when the handler responds */
    r->hup.data = r;
    r->poll_open = true;
    /* Only the hang-up, not POLLIN: pipelined bytes must stay for MHD and
     * would make a level-triggered watcher spin. */
    if (uv_poll_start(&r->hup, UV_DISCONNECT, hup_cb) != 0)
        hup_stop(r);
}

static void
queue_response(struct anpi_http_req *r)
{
    if (!r->resp || r->queued)
        return;
    if (MHD_queue_response(r->conn, r->status, r->resp) != MHD_YES)
        anpi_warn(ANPI_LG_API, "cannot queue the %u response for %s", r->status, r->method);
    MHD_destroy_response(r->resp);   /* MHD keeps its own reference */
    r->resp = NULL;
    r->queued = true;
}

/* Log path: the route pattern when one matched (paths carry link tokens);
 * otherwise the path with long segments (possible tokens) masked. */
static void
log_request(struct anpi_http_req *r, const char *how)
{
    char pathbuf[256];
    const char *path = r->pattern ? r->pattern : pathbuf;
    if (!r->pattern) {
        size_t o = 0;
        for (const char *p = r->path; *p && o + 4 < sizeof(pathbuf);) {
            size_t n = strcspn(p, "/");
            if (n > 16) {
                memcpy(pathbuf + o, "*", 1);
                o += 1;
            } else {
                size_t k = n < sizeof(pathbuf) - o - 4 ? n : sizeof(pathbuf) - o - 4;
                memcpy(pathbuf + o, p, k);
                o += k;
            }
            p += n;
            if (*p == '/' && o + 4 < sizeof(pathbuf)) {
                pathbuf[o++] = '/';
                p++;
            }
        }
        pathbuf[o] = '\0';
    }
    char status[16], ms[32];
    snprintf(status, sizeof(status), "%u", r->status);
    snprintf(ms, sizeof(ms), "%.3f", (double)(uv_hrtime() - r->start_ns) / 1e6);
    anpi_log_kv(ANPI_LOG_DEBUG, ANPI_LG_API, "http request", "method", r->method, "path", path,
                "status", status, "ms", ms, "end", how, NULL);
}

static void
completed_cb(void *cls, struct MHD_Connection *conn, void **con_cls,
             enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)conn;
    struct anpi_http_req *r = *con_cls;
    if (!r)
        return;
    *con_cls = NULL;
    log_request(r, toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? "ok" : "aborted");
    r->mhd_live = false;
    r->conn = NULL;
    if (r->app_owned)
        r->gone = true;
    hup_stop(r);
    maybe_free(r);
}

static struct anpi_http_req *
req_new(struct anpi_http_server *s, struct MHD_Connection *conn, const char *url,
        const char *method)
{
    struct anpi_http_req *r = anpi_xcalloc(1, sizeof(*r));
    r->srv = s;
    r->conn = conn;
    r->mhd_live = true;
    r->start_ns = uv_hrtime();
    r->method = anpi_xstrdup(method);
    r->path = anpi_xstrdup(url);
    anpi_buf_init(&r->body, s->max_body);
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (ci && ci->client_addr) {
        const struct sockaddr *sa = ci->client_addr;
        if (sa->sa_family == AF_INET)
            inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr,
                      r->peer, sizeof(r->peer));
        else if (sa->sa_family == AF_INET6)
            inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr,
                      r->peer, sizeof(r->peer));
    }
    r->next = s->reqs;
    if (s->reqs)
        s->reqs->prev = r;
    s->reqs = r;
    return r;
}

/* First call: route the request and check the announced body size. */
static void
req_start(struct anpi_http_req *r)
{
    struct anpi_http_server *s = r->srv;
    /* MHD passes any bytes as the method; only an RFC 9110 token is one. */
    if (!r->method[0] || r->method[strspn(r->method, "!#$%&'*+-.^_`|~0123456789"
                                          "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")]) {
        r->reject = 400;
        r->must_close = true;
        build_error(r, 400, "malformed request method");
        return;
    }
    if (s->allow && !s->allow(r->peer, s->allow_arg)) {
        r->reject = 403;
        r->must_close = true;
        char msg[INET6_ADDRSTRLEN + 64];
        snprintf(msg, sizeof(msg), "address %s is not allowed on this listener", r->peer);
        build_error(r, 403, msg);
        return;
    }
    const char *cl = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND,
                                                 MHD_HTTP_HEADER_CONTENT_LENGTH);
    int64_t clen = 0;
    if (cl && anpi_parse_int64(cl, 0, INT64_MAX, &clen) == 0 && (uint64_t)clen > s->max_body) {
        /* Answer before reading a byte of it (and before any 100 Continue). */
        r->reject = 413;
        r->must_close = true;
        build_error(r, 413, "request body too large");
        return;
    }
    const char *cap[MAX_CAPTURES];
    size_t caplen[MAX_CAPTURES];
    bool path_known = false;
    struct anpi_buf allow;
    anpi_buf_init(&allow, 1024);
    for (const struct route *rt = s->routes; rt; rt = rt->next) {
        if (!route_match(rt, r->path, cap, caplen))
            continue;
        path_known = true;
        if (method_matches(rt->method, r->method)) {
            r->route = rt;
            r->pattern = anpi_xstrdup(rt->pattern);
            r->ncaps = rt->ncaptures;
            r->caps = anpi_xcalloc(rt->ncaptures ? rt->ncaptures : 1, sizeof(*r->caps));
            for (size_t i = 0, ci = 0; i < rt->nsegs; i++) {
                if (!rt->segs[i].capture)
                    continue;
                r->caps[ci].name = anpi_xstrdup(rt->segs[i].text);
                r->caps[ci].value = anpi_xstrndup(cap[ci], caplen[ci]);
                ci++;
            }
            break;
        }
        if (!allow.len || !strstr(allow.data, rt->method))
            anpi_buf_printf(&allow, "%s%s", allow.len ? ", " : "", rt->method);
    }
    if (!r->route) {
        if (path_known) {
            r->reject = 405;
            anpi_http_set_header(r, "Allow", allow.data);
        } else {
            r->reject = 404;
        }
    }
    anpi_buf_free(&allow);
}

static size_t
drain_allowance(const struct anpi_http_server *s)
{
    return s->max_body > 1024 * 1024 ? s->max_body : 1024 * 1024;
}

static const char *
reject_msg(unsigned status)
{
    switch (status) {
    case 400: return "malformed request";
    case 404: return "not found";
    case 405: return "method not allowed";
    case 403: return "address not allowed";
    case 413: return "request body too large";
    default:  return "error";
    }
}

static enum MHD_Result
access_cb(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
          const char *version, const char *upload, size_t *upload_size, void **con_cls)
{
    (void)version;
    struct anpi_http_server *s = cls;
    struct anpi_http_req *r = *con_cls;
    if (!r) {
        r = req_new(s, conn, url, method);
        *con_cls = r;
        req_start(r);
        /* Queue on the second call (REFERENCE.md: answering on the first
         * makes MHD close the connection), except for a body or request we
         * refuse to read at all. */
        if (r->resp)
            queue_response(r);
        return MHD_YES;
    }
    if (*upload_size) {
        size_t n = *upload_size;
        *upload_size = 0;
        if (r->queued)
            return MHD_YES;   /* answered already; MHD discards the rest */
        if (r->reject == 413) {
            /* MHD 0.9.75 refuses to queue a response while a body is still
             * arriving.  Discard a bounded amount more so that an honest
             * client gets its 413 at the end; past that, drop it. */
            r->drained += n;
            return r->drained > drain_allowance(s) ? MHD_NO : MHD_YES;
        }
        /* Bodies of 404/405 requests are read too (and bounded the same
         * way) so the connection stays usable. */
        if (anpi_buf_append(&r->body, upload, n) != ANPI_OK) {
            /* A chunked body has no Content-Length to check up front. */
            r->reject = 413;
            r->status = 413;   /* for the log line if the client is dropped */
            r->must_close = true;
            r->drained = r->body.len + n;
            anpi_buf_free(&r->body);
        }
        return MHD_YES;
    }
    if (r->queued)
        return MHD_YES;
    if (r->resp) {            /* resumed with an answer */
        queue_response(r);
        return MHD_YES;
    }
    if (r->started) {         /* resumed without one: cannot happen; be safe */
        MHD_suspend_connection(conn);
        r->suspended = true;
        return MHD_YES;
    }
    r->started = true;
    if (r->reject) {
        build_error(r, r->reject, reject_msg(r->reject));
        queue_response(r);
        return MHD_YES;
    }
    if (!r->body.data)
        anpi_buf_append(&r->body, "", 0);
    r->app_owned = true;
    r->route->handler(r, r->route->ctx);
    if (r->resp) {
        queue_response(r);
    } else if (!r->queued && r->app_owned) {
        MHD_suspend_connection(conn);
        r->suspended = true;
        hup_watch(r);
    }
    return MHD_YES;
}

/* ---- respond ------------------------------------------------------------- */

/* The application lets go of r.  Returns true if the response must not be
 * built (client gone, server closed): r may then already be freed. */
static bool
app_release(struct anpi_http_req *r)
{
    if (!r->app_owned) {
        anpi_error(ANPI_LG_API, "respond called twice for one request");
        return true;
    }
    r->app_owned = false;
    if (r->gone || !r->mhd_live || !r->srv || r->resp || r->queued) {
        maybe_free(r);
        return true;
    }
    return false;
}

void
anpi_http_respond(struct anpi_http_req *r, unsigned status, const char *content_type,
                  const char *body, size_t len)
{
    if (app_release(r))
        return;
    build_response(r, status, content_type, body, len);
    if (r->suspended)
        resume(r);
}

void
anpi_http_respond_json(struct anpi_http_req *r, unsigned status, json_t *j)
{
    char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (!s) {
        anpi_error(ANPI_LG_API, "cannot serialise the JSON response");
        anpi_http_respond_error(r, 500, "internal error");
        return;
    }
    anpi_http_respond(r, status, "application/json; charset=utf-8", s, strlen(s));
    free(s);
}

void
anpi_http_respond_error(struct anpi_http_req *r, unsigned status, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (app_release(r))
        return;
    build_error(r, status, msg);
    if (r->suspended)
        resume(r);
}

bool
anpi_http_req_gone(const struct anpi_http_req *r)
{
    return r->gone;
}

/* ---- accessors ----------------------------------------------------------- */

const char *
anpi_http_method(const struct anpi_http_req *r)
{
    return r->method;
}

const char *
anpi_http_path(const struct anpi_http_req *r)
{
    return r->path;
}

const char *
anpi_http_param(const struct anpi_http_req *r, const char *name)
{
    for (size_t i = 0; i < r->ncaps; i++)
        if (strcmp(r->caps[i].name, name) == 0)
            return r->caps[i].value;
    return NULL;
}

const char *
anpi_http_query(const struct anpi_http_req *r, const char *name)
{
    if (!r->conn)
        return NULL;
    return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, name);
}

const char *
anpi_http_header(const struct anpi_http_req *r, const char *name)
{
    if (!r->conn)
        return NULL;
    return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

const char *
anpi_http_body(const struct anpi_http_req *r, size_t *len)
{
    if (len)
        *len = r->body.len;
    return r->body.data ? r->body.data : "";
}

const char *
anpi_http_peer(const struct anpi_http_req *r)
{
    return r->peer;
}

/* ---- the loop glue ------------------------------------------------------- */

static void
run_mhd(struct anpi_http_server *s)
{
    if (s->closing || s->in_run)
        return;
    s->in_run = true;
    s->kick = false;
    MHD_run(s->mhd);
    s->in_run = false;
    MHD_UNSIGNED_LONG_LONG ms = 0;
    if (s->kick)                      /* resumed during the run */
        uv_timer_start(&s->timer, timer_cb, 0, 0);
    else if (MHD_get_timeout(s->mhd, &ms) == MHD_YES)
        uv_timer_start(&s->timer, timer_cb, ms, 0);
    else
        uv_timer_stop(&s->timer);
}

static void
timer_cb(uv_timer_t *t)
{
    run_mhd(t->data);
}

static void
poll_cb(uv_poll_t *p, int status, int events)
{
    (void)status;
    (void)events;
    run_mhd(p->data);
}

static void
mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    /* MHD's messages are about protocol errors from clients; keep them out
     * of the normal log (they may quote request lines). */
    char msg[256];
    vsnprintf(msg, sizeof(msg), fmt, ap);
    msg[strcspn(msg, "\r\n")] = '\0';
    anpi_debug(ANPI_LG_API, "libmicrohttpd: %s", msg);
}

/* "host:port" or "[v6]:port", numeric host only. */
static int
parse_listen(const char *addr, struct sockaddr_storage *ss, socklen_t *sl, char *err,
             size_t errlen)
{
    memset(ss, 0, sizeof(*ss));
    const char *colon = addr ? strrchr(addr, ':') : NULL;
    if (!colon) {
        snprintf(err, errlen, "listen \"%s\": expected host:port", addr ? addr : "");
        return ANPI_EPARSE;
    }
    char host[INET6_ADDRSTRLEN + 2];
    size_t hl = (size_t)(colon - addr);
    bool v6 = addr[0] == '[';
    if (v6) {
        if (hl < 2 || addr[hl - 1] != ']') {
            snprintf(err, errlen, "listen \"%s\": expected [IPv6]:port", addr);
            return ANPI_EPARSE;
        }
        addr++;
        hl -= 2;
    }
    if (hl >= sizeof(host)) {
        snprintf(err, errlen, "listen \"%s\": host too long", addr);
        return ANPI_EPARSE;
    }
    memcpy(host, addr, hl);
    host[hl] = '\0';
    int64_t port;
    if (anpi_parse_int64(colon + 1, 0, 65535, &port) != 0) {
        snprintf(err, errlen, "listen \"%s\": port must be 0..65535", v6 ? addr - 1 : addr);
        return ANPI_EPARSE;
    }
    if (v6) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;
        a->sin6_family = AF_INET6;
        a->sin6_port = htons((uint16_t)port);
        if (inet_pton(AF_INET6, host, &a->sin6_addr) != 1) {
            snprintf(err, errlen, "listen: \"%s\" is not an IPv6 address", host);
            return ANPI_EPARSE;
        }
        *sl = sizeof(*a);
    } else {
        struct sockaddr_in *a = (struct sockaddr_in *)ss;
        a->sin_family = AF_INET;
        a->sin_port = htons((uint16_t)port);
        if (inet_pton(AF_INET, host, &a->sin_addr) != 1) {
            snprintf(err, errlen, "listen: \"%s\" is not an IPv4 address (use [v6] for IPv6)",
                     host);
            return ANPI_EPARSE;
        }
        *sl = sizeof(*a);
    }
    return ANPI_OK;
}

/* Bind ourselves (MHD would only say "failed") and learn the port picked
 * for port 0. */
static int
open_listener(const char *addr, int *port, bool *v6, char *err, size_t errlen)
{
    struct sockaddr_storage ss;
    socklen_t sl;
    if (parse_listen(addr, &ss, &sl, err, errlen) != 0)
        return -1;
    *v6 = ss.ss_family == AF_INET6;
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(err, errlen, "listen %s: socket: %s", addr, strerror(errno));
        return -1;
    }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (*v6)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
    if (bind(fd, (struct sockaddr *)&ss, sl) != 0 || listen(fd, LISTEN_BACKLOG) != 0) {
        snprintf(err, errlen, "listen %s: %s", addr, strerror(errno));
        close(fd);
        return -1;
    }
    struct sockaddr_storage got;
    socklen_t gl = sizeof(got);
    getsockname(fd, (struct sockaddr *)&got, &gl);
    *port = ntohs(got.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&got)->sin6_port
                                           : ((struct sockaddr_in *)&got)->sin_port);
    return fd;
}

struct anpi_http_server *
anpi_http_server_create(uv_loop_t *loop, const struct anpi_http_opts *o, char *err,
                        size_t errlen)
{
    bool v6 = false;
    int port = 0;
    int fd = open_listener(o->listen, &port, &v6, err, errlen);
    if (fd < 0)
        return NULL;
    struct anpi_http_server *s = anpi_xcalloc(1, sizeof(*s));
    s->loop = loop;
    s->port = port;
    s->max_body = o->max_body ? o->max_body : DEFAULT_MAX_BODY;
    s->cookies = o->cookies;
    s->allow = o->allow;
    s->allow_arg = o->allow_arg;
    s->routes_tail = &s->routes;
    unsigned maxconn = o->max_connections ? o->max_connections : DEFAULT_MAX_CONNECTIONS;
    unsigned timeout = o->timeout_s ? o->timeout_s : DEFAULT_TIMEOUT_S;
    unsigned flags = MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
    if (v6)
        flags |= MHD_USE_IPv6;
    s->mhd = MHD_start_daemon(flags, 0, NULL, NULL, access_cb, s,
                              MHD_OPTION_LISTEN_SOCKET, (MHD_socket)fd,
                              MHD_OPTION_CONNECTION_LIMIT, maxconn,
                              MHD_OPTION_CONNECTION_TIMEOUT, timeout,
                              MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)ANPI_HTTP_HEADER_MAX,
                              MHD_OPTION_NOTIFY_COMPLETED, completed_cb, s,
                              MHD_OPTION_EXTERNAL_LOGGER, mhd_log, s,
                              MHD_OPTION_END);
    if (!s->mhd) {
        snprintf(err, errlen, "listen %s: libmicrohttpd failed to start", o->listen);
        close(fd);
        free(s);
        return NULL;
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(s->mhd, MHD_DAEMON_INFO_EPOLL_FD);
    int rc = di ? uv_poll_init(loop, &s->poll, di->epoll_fd) : UV_EINVAL;
    if (rc != 0) {
        snprintf(err, errlen, "listen %s: cannot watch the epoll fd: %s", o->listen,
                 uv_strerror(rc));
        MHD_stop_daemon(s->mhd);
        free(s);
        return NULL;
    }
    s->poll.data = s;
    uv_timer_init(loop, &s->timer);
    s->timer.data = s;
    s->open_handles = 2;
    uv_poll_start(&s->poll, UV_READABLE, poll_cb);
    run_mhd(s);
    anpi_info(ANPI_LG_API, "http listening on %s (port %d)", o->listen, port);
    return s;
}

int
anpi_http_server_port(const struct anpi_http_server *s)
{
    return s->port;
}

static void
server_handle_closed(uv_handle_t *h)
{
    struct anpi_http_server *s = h->data;
    if (--s->open_handles > 0)
        return;
    while (s->routes) {
        struct route *r = s->routes;
        s->routes = r->next;
        route_free(r);
    }
    void (*closed)(void *) = s->closed;
    void *arg = s->closed_arg;
    free(s);
    if (closed)
        closed(arg);
}

void
anpi_http_server_close(struct anpi_http_server *s, void (*closed)(void *), void *arg)
{
    if (!s || s->closing)
        return;
    /* MHD 0.9.75 must not be stopped with suspended connections: answer
     * them first, and let one run move them back. */
    bool resumed = false;
    for (struct anpi_http_req *r = s->reqs; r; r = r->next) {
        if (r->suspended) {
            build_error(r, 503, "server shutting down");
            resume(r);
            resumed = true;
        }
    }
    if (resumed)
        MHD_run(s->mhd);
    s->closing = true;
    s->closed = closed;
    s->closed_arg = arg;
    uv_close((uv_handle_t *)&s->poll, server_handle_closed);
    uv_close((uv_handle_t *)&s->timer, server_handle_closed);
    MHD_stop_daemon(s->mhd);   /* runs completed_cb for every connection */
    s->mhd = NULL;
    /* Requests a handler still holds outlive the server. */
    while (s->reqs) {
        struct anpi_http_req *r = s->reqs;
        s->reqs = r->next;
        r->prev = r->next = NULL;
        r->srv = NULL;
        r->gone = true;
        hup_stop(r);
    }
}
