/* linereader.c - lines from a TCP endpoint or a serial device.
 *
 * One connection at a time.  Each connection (a uv_tcp_t, or a uv_poll_t on
 * the device's descriptor) lives in its own heap block that is freed from
 * its close callback, so a reconnect never waits for the old handle to
 * close.  One timer serves as the retry timer while waiting and as the
 * connect timeout while resolving or connecting. */
#include "feeds/poll/linereader.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "engine/anpi.h"
#include "engine/log.h"

#define DEFAULT_BAUD            9600
#define DEFAULT_MIN_BACKOFF_MS  1000
#define DEFAULT_MAX_BACKOFF_S   60
#define DEFAULT_CONNECT_S       10
#define KEEPALIVE_S             30
#define READS_PER_WAKEUP        16      /* a chatty device must not starve the loop */

enum state { S_IDLE, S_WAIT, S_RESOLVING, S_CONNECTING, S_OPEN };

struct conn {
    struct anpi_linereader *r;
    int is_tcp;
    int fd;                     /* serial: the device, closed with the handle */
    union {
        uv_handle_t handle;
        uv_tcp_t tcp;
        uv_poll_t poll;
    } h;
    uv_connect_t creq;
};

struct anpi_linereader {
    uv_loop_t *loop;
    uv_timer_t timer;
    char *source;
    char *host, *port;          /* tcp */
    char *device;               /* serial */
    speed_t speed;
    size_t max_line;
    uint64_t min_backoff_ms, max_backoff_ms, connect_timeout_ms;
    anpi_linereader_cb cb;
    void *arg;
    struct anpi_linereader_stats st;

    enum state state;
    struct conn *conn;          /* the current connection, or NULL */
    uv_getaddrinfo_t *gai;      /* the current resolution, or NULL */
    unsigned failures;          /* in a row, without a line in between */

    char *line;                 /* max_line + 2: the line, its CR, a NUL */
    size_t linelen;
    bool overlong;
    char rbuf[64 * 1024];

    int started;
    int closing;
    int pending;                /* timer + connections + resolutions not yet finished */
    void (*closed)(void *);
    void *closed_arg;
};

static void connect_now(struct anpi_linereader *r);

static const struct { int baud; speed_t speed; } speeds[] = {
    { 1200, B1200 }, { 2400, B2400 }, { 4800, B4800 }, { 9600, B9600 }, { 19200, B19200 },
    { 38400, B38400 }, { 57600, B57600 }, { 115200, B115200 }, { 230400, B230400 },
};

static void record_error(struct anpi_linereader *r, const char *fmt, ...) ANPI_PRINTF(2, 3);

static void
record_error(struct anpi_linereader *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->st.last_error, sizeof(r->st.last_error), fmt, ap);
    va_end(ap);
    r->st.errors++;
    anpi_warn(ANPI_LG_FEED, "linereader %s: %s", r->source, r->st.last_error);
}

static const char *
where(const struct anpi_linereader *r)
{
    return r->device ? r->device : r->host;
}

/* Split "host:port" / "[v6]:port"; false if malformed. */
static bool
split_hostport(const char *s, char **host, char **port)
{
    const char *h = s, *colon;
    size_t hlen;
    if (s[0] == '[') {
        const char *close = strchr(s, ']');
        if (!close || close[1] != ':')
            return false;
        h = s + 1;
        hlen = (size_t)(close - h);
        colon = close + 1;
    } else {
        colon = strrchr(s, ':');
        if (!colon || memchr(s, ':', (size_t)(colon - s)))
            return false;
        hlen = (size_t)(colon - s);
    }
    int64_t p;
    if (hlen == 0 || anpi_parse_int64(colon + 1, 1, 65535, &p) != 0 || colon[1] == '+')
        return false;
    *host = anpi_xstrndup(h, hlen);
    *port = anpi_xstrdup(colon + 1);
    return true;
}

struct anpi_linereader *
anpi_linereader_create(uv_loop_t *loop, const struct anpi_linereader_opts *o,
                       anpi_linereader_cb cb, void *arg)
{
    if (!o || !cb || !o->tcp == !o->device)
        return NULL;
    char *host = NULL, *port = NULL;
    if (o->tcp && !split_hostport(o->tcp, &host, &port))
        return NULL;
    if (o->device && o->device[0] != '/')
        return NULL;
    int baud = o->baud > 0 ? o->baud : DEFAULT_BAUD;
    size_t i;
    for (i = 0; i < ANPI_ARRAY_LEN(speeds); i++)
        if (speeds[i].baud == baud)
            break;
    if (i == ANPI_ARRAY_LEN(speeds)) {
        free(host);
        free(port);
        return NULL;
    }
    struct anpi_linereader *r = anpi_xcalloc(1, sizeof(*r));
    r->loop = loop;
    r->source = anpi_xstrdup(o->source && *o->source ? o->source : "qzss");
    r->host = host;
    r->port = port;
    r->device = o->device ? anpi_xstrdup(o->device) : NULL;
    r->speed = speeds[i].speed;
    r->max_line = o->max_line ? o->max_line : ANPI_LINEREADER_MAX_LINE;
    r->min_backoff_ms = (uint64_t)(o->min_backoff_ms > 0 ? o->min_backoff_ms
                                                         : DEFAULT_MIN_BACKOFF_MS);
    r->max_backoff_ms = (uint64_t)(o->max_backoff_s > 0 ? o->max_backoff_s
                                                        : DEFAULT_MAX_BACKOFF_S) * 1000;
    if (r->max_backoff_ms < r->min_backoff_ms)
        r->max_backoff_ms = r->min_backoff_ms;
    r->connect_timeout_ms = (uint64_t)(o->connect_timeout_s > 0 ? o->connect_timeout_s
                                                                : DEFAULT_CONNECT_S) * 1000;
    r->cb = cb;
    r->arg = arg;
    r->line = anpi_xmalloc(r->max_line + 2);
    uv_timer_init(loop, &r->timer);
    r->timer.data = r;
    r->pending = 1;
    return r;
}

const struct anpi_linereader_stats *
anpi_linereader_stats(const struct anpi_linereader *r)
{
    return &r->st;
}

/* ---- lifetime ------------------------------------------------------------ */

static void
maybe_release(struct anpi_linereader *r)
{
    if (!r->closing || r->pending > 0)
        return;
    void (*closed)(void *) = r->closed;
    void *arg = r->closed_arg;
    free(r->source);
    free(r->host);
    free(r->port);
    free(r->device);
    free(r->line);
    free(r);
    if (closed)
        closed(arg);
}

static void
on_conn_closed(uv_handle_t *h)
{
    struct conn *c = h->data;
    struct anpi_linereader *r = c->r;
    if (!c->is_tcp && c->fd >= 0)
        close(c->fd);       /* only now: libuv must not poll a closed descriptor */
    free(c);
    r->pending--;
    maybe_release(r);
}

static void
drop_conn(struct anpi_linereader *r)
{
    struct conn *c = r->conn;
    if (!c)
        return;
    r->conn = NULL;
    if (r->st.connected)
        r->st.disconnects++;
    r->st.connected = false;
    r->linelen = 0;             /* a partial line is lost with its connection */
    r->overlong = false;
    uv_close(&c->h.handle, on_conn_closed);
}

static void
on_timer(uv_timer_t *t);

/* Give up on the current attempt or connection and retry after a delay that
 * doubles with each failure in a row. */
static void fail(struct anpi_linereader *r, const char *fmt, ...) ANPI_PRINTF(2, 3);

static void
fail(struct anpi_linereader *r, const char *fmt, ...)
{
    if (r->closing)
        return;
    char msg[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    record_error(r, "%s: %s", where(r), msg);
    drop_conn(r);
    r->gai = NULL;              /* a late resolution is freed by its callback */
    unsigned shift = r->failures < 20 ? r->failures : 20;
    r->failures++;
    uint64_t delay = r->min_backoff_ms << shift;
    if (delay > r->max_backoff_ms)
        delay = r->max_backoff_ms;
    r->state = S_WAIT;
    uv_timer_start(&r->timer, on_timer, delay, 0);
}

/* ---- lines --------------------------------------------------------------- */

static void
end_line(struct anpi_linereader *r)
{
    size_t n = r->linelen;
    r->linelen = 0;
    while (n && r->line[n - 1] == '\r')
        n--;
    if (r->overlong || n > r->max_line) {
        r->overlong = false;
        record_error(r, "%s: line longer than %zu bytes dropped", where(r), r->max_line);
        return;
    }
    if (n == 0)
        return;
    r->line[n] = '\0';
    r->st.lines++;
    r->st.last_line = anpi_now_ms();
    r->failures = 0;
    r->cb(r->arg, r->line, n);
}

/* Split data into lines.  Stops when the callback closed the reader or the
 * connection went away. */
static void
feed(struct anpi_linereader *r, struct conn *c, const char *data, size_t len)
{
    r->st.bytes += len;
    while (len && !r->closing && r->conn == c) {
        const char *nl = memchr(data, '\n', len);
        size_t seg = nl ? (size_t)(nl - data) : len;
        if (!r->overlong) {
            /* room for max_line bytes and the CR of a CRLF */
            if (r->linelen + seg > r->max_line + 1)
                r->overlong = true;
            else {
                memcpy(r->line + r->linelen, data, seg);
                r->linelen += seg;
            }
        }
        if (!nl)
            return;
        data += seg + 1;
        len -= seg + 1;
        end_line(r);
    }
}

static void
connected(struct anpi_linereader *r)
{
    uv_timer_stop(&r->timer);
    r->state = S_OPEN;
    r->st.connected = true;
    r->st.connects++;
    r->st.last_connect = anpi_now_ms();
    r->linelen = 0;
    r->overlong = false;
    anpi_info(ANPI_LG_FEED, "linereader %s: connected to %s", r->source, where(r));
}

/* ---- TCP ------------------------------------------------------------------ */

static void
on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    struct conn *c = h->data;
    (void)suggested;
    *buf = uv_buf_init(c->r->rbuf, sizeof(c->r->rbuf));
}

static void
on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    struct conn *c = s->data;
    struct anpi_linereader *r = c->r;
    if (r->closing || r->conn != c)
        return;
    if (nread > 0)
        feed(r, c, buf->base, (size_t)nread);
    else if (nread == UV_EOF)
        fail(r, "connection closed by the peer");
    else if (nread < 0)
        fail(r, "read: %s", uv_strerror((int)nread));
}

static void
on_connect(uv_connect_t *req, int status)
{
    struct conn *c = req->data;
    struct anpi_linereader *r = c->r;
    if (r->closing || r->conn != c)
        return;
    if (status < 0) {
        fail(r, "connect: %s", uv_strerror(status));
        return;
    }
    connected(r);
    uv_tcp_keepalive(&c->h.tcp, 1, KEEPALIVE_S);
    int rc = uv_read_start((uv_stream_t *)&c->h.tcp, on_alloc, on_read);
    if (rc < 0)
        fail(r, "read: %s", uv_strerror(rc));
}

static void
on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
    struct anpi_linereader *r = req->data;
    int current = r->gai == req;
    free(req);
    r->pending--;
    if (!current || r->closing) {
        if (res)
            uv_freeaddrinfo(res);
        maybe_release(r);
        return;
    }
    r->gai = NULL;
    if (status < 0) {
        fail(r, "cannot resolve: %s", uv_strerror(status));
        return;
    }
    struct conn *c = anpi_xcalloc(1, sizeof(*c));
    c->r = r;
    c->is_tcp = 1;
    c->fd = -1;
    uv_tcp_init(r->loop, &c->h.tcp);
    c->h.handle.data = c;
    c->creq.data = c;
    r->pending++;
    r->conn = c;
    r->state = S_CONNECTING;
    int rc = uv_tcp_connect(&c->creq, &c->h.tcp, res->ai_addr, on_connect);
    uv_freeaddrinfo(res);
    if (rc < 0)
        fail(r, "connect: %s", uv_strerror(rc));
}

static void
connect_tcp(struct anpi_linereader *r)
{
    struct addrinfo hints = { 0 };
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    uv_getaddrinfo_t *req = anpi_xcalloc(1, sizeof(*req));
    req->data = r;
    r->state = S_RESOLVING;
    uv_timer_start(&r->timer, on_timer, r->connect_timeout_ms, 0);
    int rc = uv_getaddrinfo(r->loop, req, on_resolved, r->host, r->port, &hints);
    if (rc < 0) {
        free(req);
        fail(r, "cannot resolve: %s", uv_strerror(rc));
        return;
    }
    r->gai = req;
    r->pending++;
}

/* ---- serial device ------------------------------------------------------ */

static void
on_poll(uv_poll_t *h, int status, int events)
{
    struct conn *c = h->data;
    struct anpi_linereader *r = c->r;
    (void)events;
    if (r->closing || r->conn != c)
        return;
    if (status < 0) {
        fail(r, "poll: %s", uv_strerror(status));
        return;
    }
    for (int i = 0; i < READS_PER_WAKEUP && r->conn == c && !r->closing; i++) {
        ssize_t n = read(c->fd, r->rbuf, sizeof(r->rbuf));
        if (n > 0) {
            feed(r, c, r->rbuf, (size_t)n);
            continue;
        }
        if (n == 0) {
            fail(r, "end of file");
            return;
        }
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return;
        /* a pty whose other side closed, an unplugged USB adapter: EIO */
        fail(r, "read: %s", strerror(errno));
        return;
    }
}

static void
open_serial(struct anpi_linereader *r)
{
    int fd = open(r->device, O_RDONLY | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        fail(r, "cannot open: %s", strerror(errno));
        return;
    }
    struct termios t;
    if (tcgetattr(fd, &t) != 0) {
        int e = errno;
        close(fd);
        fail(r, "not a serial device: %s", strerror(e));
        return;
    }
    cfmakeraw(&t);
    t.c_cflag |= CLOCAL | CREAD;
    t.c_cc[VMIN] = 1;
    t.c_cc[VTIME] = 0;
    if (cfsetispeed(&t, r->speed) != 0 || cfsetospeed(&t, r->speed) != 0 ||
        tcsetattr(fd, TCSANOW, &t) != 0) {
        int e = errno;
        close(fd);
        fail(r, "cannot set raw mode: %s", strerror(e));
        return;
    }
    struct conn *c = anpi_xcalloc(1, sizeof(*c));
    c->r = r;
    c->fd = fd;
    int rc = uv_poll_init(r->loop, &c->h.poll, fd);
    if (rc < 0) {
        close(fd);
        free(c);
        fail(r, "cannot poll: %s", uv_strerror(rc));
        return;
    }
    c->h.handle.data = c;
    r->pending++;
    r->conn = c;
    connected(r);
    rc = uv_poll_start(&c->h.poll, UV_READABLE | UV_DISCONNECT, on_poll);
    if (rc < 0)
        fail(r, "cannot poll: %s", uv_strerror(rc));
}

/* ---- scheduling ----------------------------------------------------------- */

static void
on_timer(uv_timer_t *t)
{
    struct anpi_linereader *r = t->data;
    if (r->closing)
        return;
    if (r->state == S_WAIT)
        connect_now(r);
    else if (r->state == S_RESOLVING || r->state == S_CONNECTING)
        fail(r, "no connection after %llus", (unsigned long long)(r->connect_timeout_ms / 1000));
}

static void
connect_now(struct anpi_linereader *r)
{
    if (r->device)
        open_serial(r);
    else
        connect_tcp(r);
}

int
anpi_linereader_start(struct anpi_linereader *r)
{
    if (r->closing)
        return ANPI_EPERM;
    if (r->started)
        return ANPI_OK;
    r->started = 1;
    connect_now(r);
    return ANPI_OK;
}

static void
on_timer_closed(uv_handle_t *h)
{
    struct anpi_linereader *r = h->data;
    r->pending--;
    maybe_release(r);
}

void
anpi_linereader_close(struct anpi_linereader *r, void (*closed)(void *), void *arg)
{
    if (!r || r->closing)
        return;
    r->closed = closed;
    r->closed_arg = arg;
    drop_conn(r);
    r->closing = 1;
    if (r->gai)
        uv_cancel((uv_req_t *)r->gai);  /* its callback still runs, with UV_ECANCELED */
    r->gai = NULL;
    uv_timer_stop(&r->timer);
    uv_close((uv_handle_t *)&r->timer, on_timer_closed);
}
