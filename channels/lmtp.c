/* lmtp.c - inbound LMTP server (RFC 2033): sessions, commands, DATA. */
#include "channels/lmtp.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "engine/buf.h"
#include "engine/log.h"

#define READ_CHUNK     65536
/* Input kept between reads: at most one read plus an unfinished line. */
#define IN_MAX         (READ_CHUNK + ANPI_LMTP_LINE_MAX + 16)
#define OUT_QUEUE_MAX  (1024 * 1024)   /* replies a client left unread */
#define ADDR_MAX       320
#define QUIT_GRACE_MS  10000

enum sess_state {
    ST_LHLO,    /* greeted, waiting for LHLO */
    ST_READY,   /* no transaction */
    ST_MAIL,    /* MAIL FROM accepted */
    ST_RCPT,    /* at least one RCPT TO */
    ST_DATA,    /* reading the message */
    ST_WAIT,    /* message handed to the consumer, waiting for done() */
    ST_QUIT,    /* last reply queued, shutting down */
};

struct anpi_lmtp;

struct sess {
    struct anpi_lmtp *srv;
    struct sess *prev, *next;
    uv_tcp_t tcp;
    uv_timer_t timer;
    uv_shutdown_t shut;
    int refs;                 /* open handles + a pending done() */
    bool closing;
    bool processing;          /* inside process(): done() must not re-enter */
    bool skip_line;           /* discarding the rest of an over-long command */
    bool data_bol;            /* DATA: at the beginning of a line */
    bool oversize;            /* DATA: over max_msg, discarding */
    enum sess_state st;
    unsigned errors;
    struct anpi_buf in, out, msg;
    char *from;
    char **rcpts;
    size_t nrcpts;
    char readbuf[READ_CHUNK];
};

struct anpi_lmtp {
    uv_loop_t *loop;
    uv_tcp_t listener;
    char hostname[256];
    size_t max_msg, max_rcpts;
    unsigned max_conns;
    uint64_t timeout_ms;
    anpi_lmtp_msg_cb cb;
    void *cb_arg;
    struct sess *sessions;
    size_t nsess;             /* allocated sessions (some may wait for done) */
    size_t nopen;             /* open connections */
    bool closing, listener_closed;
    void (*closed_cb)(void *);
    void *closed_arg;
};

struct wreq {
    uv_write_t req;
    char *data;
};

static void process(struct sess *s);
static void resume(struct sess *s);

/* ---- server lifetime ------------------------------------------------------ */

static void
maybe_finish(struct anpi_lmtp *srv)
{
    if (!srv->closing || !srv->listener_closed || srv->nsess)
        return;
    void (*cb)(void *) = srv->closed_cb;
    void *arg = srv->closed_arg;
    free(srv);
    if (cb)
        cb(arg);
}

static void
tx_reset(struct sess *s)
{
    free(s->from);
    s->from = NULL;
    for (size_t i = 0; i < s->nrcpts; i++)
        free(s->rcpts[i]);
    free(s->rcpts);
    s->rcpts = NULL;
    s->nrcpts = 0;
    anpi_buf_free(&s->msg);
    s->oversize = false;
}

static void
sess_unref(struct sess *s)
{
    if (--s->refs > 0)
        return;
    struct anpi_lmtp *srv = s->srv;
    if (s->prev)
        s->prev->next = s->next;
    else
        srv->sessions = s->next;
    if (s->next)
        s->next->prev = s->prev;
    tx_reset(s);
    anpi_buf_free(&s->in);
    anpi_buf_free(&s->out);
    free(s);
    srv->nsess--;
    maybe_finish(srv);
}

static void
on_handle_closed(uv_handle_t *h)
{
    sess_unref(h->data);
}

static void
sess_close(struct sess *s)
{
    if (s->closing)
        return;
    s->closing = true;
    s->srv->nopen--;
    uv_read_stop((uv_stream_t *)&s->tcp);
    uv_close((uv_handle_t *)&s->tcp, on_handle_closed);
    uv_close((uv_handle_t *)&s->timer, on_handle_closed);
}

/* ---- output ---------------------------------------------------------------- */

static void
on_write(uv_write_t *req, int status)
{
    struct wreq *w = (struct wreq *)req;
    struct sess *s = req->data;
    free(w->data);
    free(w);
    if (status < 0 && status != UV_ECANCELED)
        sess_close(s);
}

static void
flush(struct sess *s)
{
    if (s->out.len == 0)
        return;
    if (s->closing) {
        anpi_buf_reset(&s->out);
        return;
    }
    if (uv_stream_get_write_queue_size((uv_stream_t *)&s->tcp) > OUT_QUEUE_MAX) {
        /* pipelining without reading the replies: drop the client */
        anpi_warn(ANPI_LG_SMTP, "lmtp: client does not read its replies, closing");
        anpi_buf_reset(&s->out);
        sess_close(s);
        return;
    }
    struct wreq *w = anpi_xmalloc(sizeof(*w));
    size_t len = s->out.len;
    w->data = anpi_buf_steal(&s->out);
    w->req.data = s;
    uv_buf_t b = uv_buf_init(w->data, (unsigned)len);
    if (uv_write(&w->req, (uv_stream_t *)&s->tcp, &b, 1, on_write) < 0) {
        free(w->data);
        free(w);
        sess_close(s);
    }
}

static void reply(struct sess *s, const char *fmt, ...) ANPI_PRINTF(2, 3);

static void
reply(struct sess *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    /* replies are short and the buffer has no cap of its own */
    (void)anpi_buf_vprintf(&s->out, fmt, ap);
    va_end(ap);
    (void)anpi_buf_puts(&s->out, "\r\n");
}

static void
on_shutdown(uv_shutdown_t *req, int status)
{
    (void)status;
    sess_close(req->data);
}

static void
on_timer(uv_timer_t *t)
{
    struct sess *s = t->data;
    if (s->st == ST_QUIT) {
        sess_close(s);          /* the client never took the last reply */
        return;
    }
    reply(s, "421 4.4.2 %s Timeout, closing connection", s->srv->hostname);
    s->st = ST_QUIT;
    flush(s);
    if (!s->closing) {
        uv_read_stop((uv_stream_t *)&s->tcp);
        s->shut.data = s;
        if (uv_shutdown(&s->shut, (uv_stream_t *)&s->tcp, on_shutdown) < 0)
            sess_close(s);
        else
            uv_timer_start(&s->timer, on_timer, QUIT_GRACE_MS, 0);
    }
}

/* Queue the last reply, then close once it is written. */
static void
sess_quit(struct sess *s)
{
    s->st = ST_QUIT;
    flush(s);
    if (s->closing)
        return;
    uv_read_stop((uv_stream_t *)&s->tcp);
    s->shut.data = s;
    if (uv_shutdown(&s->shut, (uv_stream_t *)&s->tcp, on_shutdown) < 0)
        sess_close(s);
    else
        uv_timer_start(&s->timer, on_timer, QUIT_GRACE_MS, 0);
}

static void
timer_restart(struct sess *s)
{
    if (!s->closing)
        uv_timer_start(&s->timer, on_timer, s->srv->timeout_ms, 0);
}

/* ---- the consumer's answer ------------------------------------------------ */

static void
lmtp_done(void *arg, const int *codes, size_t ncodes)
{
    struct sess *s = arg;
    if (!s->closing) {
        bool ok = codes && ncodes == s->nrcpts;
        for (size_t i = 0; i < s->nrcpts; i++) {
            int c = ok ? codes[i] : 451;
            if (c >= 200 && c < 300)
                reply(s, "250 2.0.0 Message accepted for delivery");
            else if (c >= 500 && c < 600)
                reply(s, "%d 5.0.0 Message rejected", c);
            else if (c >= 400 && c < 500)
                reply(s, "%d 4.3.0 Temporary failure storing the message, try again later", c);
            else
                reply(s, "451 4.3.0 Temporary failure storing the message, try again later");
        }
        tx_reset(s);
        s->st = ST_READY;
        resume(s);    /* pipelined commands may already be buffered */
    } else {
        tx_reset(s);
    }
    sess_unref(s);
}

/* ---- commands --------------------------------------------------------------- */

static bool
count_error(struct sess *s)
{
    if (++s->errors < ANPI_LMTP_ERRORS_MAX)
        return false;
    reply(s, "421 4.7.0 %s Too many errors, closing connection", s->srv->hostname);
    sess_quit(s);
    return true;
}

/* "<path> params" after "FROM:" / "TO:".  Returns the address (malloc'ed,
 * "" for <>) and sets *params, or NULL with a reply queued. */
static char *
parse_path(struct sess *s, const char *p, const char **params, const char *what)
{
    while (*p == ' ')
        p++;
    if (*p != '<') {
        reply(s, "501 5.5.4 Syntax: %s:<address>", what);
        return NULL;
    }
    const char *a = p + 1;
    const char *e = strchr(a, '>');
    if (!e) {
        reply(s, "501 5.5.4 Syntax: %s:<address>, missing '>'", what);
        return NULL;
    }
    if (*a == '@') {            /* source route "@a,@b:user@c": drop it */
        const char *colon = memchr(a, ':', (size_t)(e - a));
        if (colon)
            a = colon + 1;
    }
    size_t n = (size_t)(e - a);
    if (n > ADDR_MAX) {
        reply(s, "501 5.1.3 Address over %d bytes", ADDR_MAX);
        return NULL;
    }
    for (const char *c = a; c < e; c++)
        if ((unsigned char)*c <= ' ' || *c == 0x7F || *c == '<') {
            reply(s, "501 5.1.3 Bad character in address");
            return NULL;
        }
    *params = e + 1;
    return anpi_xstrndup(a, n);
}

static void
cmd_mail(struct sess *s, const char *arg)
{
    if (s->st == ST_LHLO) {
        reply(s, "503 5.5.1 Send LHLO first");
        count_error(s);
        return;
    }
    if (s->st != ST_READY) {
        reply(s, "503 5.5.1 Nested MAIL command");
        count_error(s);
        return;
    }
    if (strncasecmp(arg, "FROM:", 5) != 0) {
        reply(s, "501 5.5.4 Syntax: MAIL FROM:<address>");
        count_error(s);
        return;
    }
    const char *params;
    char *from = parse_path(s, arg + 5, &params, "MAIL FROM");
    if (!from) {
        count_error(s);
        return;
    }
    /* ESMTP parameters: SIZE and BODY are what we advertise */
    const char *p = params;
    while (*p) {
        while (*p == ' ')
            p++;
        if (!*p)
            break;
        size_t n = strcspn(p, " ");
        char prm[128];
        if (n >= sizeof(prm)) {
            reply(s, "501 5.5.4 Parameter too long");
            free(from);
            return;
        }
        memcpy(prm, p, n);
        prm[n] = '\0';
        p += n;
        if (strncasecmp(prm, "SIZE=", 5) == 0) {
            int64_t v;
            if (anpi_parse_int64(prm + 5, 0, INT64_MAX, &v) < 0) {
                reply(s, "501 5.5.4 Bad SIZE parameter");
                free(from);
                return;
            }
            if ((uint64_t)v > s->srv->max_msg) {
                reply(s, "552 5.3.4 Message size exceeds fixed limit of %zu bytes", s->srv->max_msg);
                free(from);
                return;
            }
        } else if (strcasecmp(prm, "BODY=7BIT") == 0 || strcasecmp(prm, "BODY=8BITMIME") == 0) {
            /* fine: the body is stored as bytes */
        } else {
            reply(s, "555 5.5.4 Unsupported MAIL parameter");
            free(from);
            return;
        }
    }
    s->from = from;
    s->st = ST_MAIL;
    reply(s, "250 2.1.0 Sender OK");
}

static void
cmd_rcpt(struct sess *s, const char *arg)
{
    if (s->st != ST_MAIL && s->st != ST_RCPT) {
        reply(s, "503 5.5.1 Need MAIL command");
        count_error(s);
        return;
    }
    if (strncasecmp(arg, "TO:", 3) != 0) {
        reply(s, "501 5.5.4 Syntax: RCPT TO:<address>");
        count_error(s);
        return;
    }
    const char *params;
    char *to = parse_path(s, arg + 3, &params, "RCPT TO");
    if (!to) {
        count_error(s);
        return;
    }
    while (*params == ' ')
        params++;
    if (!*to || *params) {
        reply(s, *to ? "555 5.5.4 RCPT parameters not supported" : "501 5.1.3 Empty recipient");
        free(to);
        count_error(s);
        return;
    }
    if (s->nrcpts >= s->srv->max_rcpts) {
        reply(s, "452 4.5.3 Too many recipients");
        free(to);
        return;
    }
    s->rcpts = anpi_xrealloc(s->rcpts, (s->nrcpts + 1) * sizeof(*s->rcpts));
    s->rcpts[s->nrcpts++] = to;
    s->st = ST_RCPT;
    reply(s, "250 2.1.5 Recipient OK");
}

static void
command(struct sess *s, const char *line, size_t n)
{
    if (strlen(line) != n) {
        reply(s, "500 5.5.2 Syntax error: NUL in command");
        count_error(s);
        return;
    }
    size_t vl = strcspn(line, " ");
    const char *arg = line + vl;
    while (*arg == ' ')
        arg++;
#define IS(v) (vl == sizeof(v) - 1 && strncasecmp(line, v, vl) == 0)
    if (IS("LHLO")) {
        if (!*arg) {
            reply(s, "501 5.5.4 Syntax: LHLO domain");
            count_error(s);
            return;
        }
        tx_reset(s);
        s->st = ST_READY;
        reply(s, "250-%s", s->srv->hostname);
        reply(s, "250-PIPELINING");
        reply(s, "250-ENHANCEDSTATUSCODES");
        reply(s, "250-8BITMIME");
        reply(s, "250 SIZE %zu", s->srv->max_msg);
    } else if (IS("HELO") || IS("EHLO")) {
        reply(s, "500 5.5.1 This is LMTP: use LHLO");
        count_error(s);
    } else if (IS("MAIL")) {
        cmd_mail(s, arg);
    } else if (IS("RCPT")) {
        cmd_rcpt(s, arg);
    } else if (IS("DATA")) {
        if (*arg) {
            reply(s, "501 5.5.4 DATA takes no arguments");
            count_error(s);
        } else if (s->st != ST_RCPT) {
            reply(s, s->st == ST_MAIL ? "503 5.5.1 No valid recipients" : "503 5.5.1 Need MAIL and RCPT first");
            count_error(s);
        } else {
            anpi_buf_init(&s->msg, s->srv->max_msg);
            s->oversize = false;
            s->data_bol = true;
            s->st = ST_DATA;
            reply(s, "354 Start mail input; end with <CRLF>.<CRLF>");
        }
    } else if (IS("RSET")) {
        tx_reset(s);
        if (s->st != ST_LHLO)
            s->st = ST_READY;
        reply(s, "250 2.0.0 OK");
    } else if (IS("NOOP")) {
        reply(s, "250 2.0.0 OK");
    } else if (IS("VRFY")) {
        reply(s, "252 2.5.0 Cannot VRFY user");
    } else if (IS("QUIT")) {
        reply(s, "221 2.0.0 %s Bye", s->srv->hostname);
        sess_quit(s);
    } else {
        reply(s, "500 5.5.1 Command unrecognized");
        count_error(s);
    }
#undef IS
}

/* ---- DATA ---------------------------------------------------------------- */

static void
msg_append(struct sess *s, const char *p, size_t n)
{
    if (s->oversize || n == 0)
        return;
    if (anpi_buf_append(&s->msg, p, n) < 0) {
        /* keep reading to the end of DATA, store nothing more */
        s->oversize = true;
        anpi_buf_free(&s->msg);
    }
}

static void
end_data(struct sess *s)
{
    struct anpi_lmtp *srv = s->srv;
    if (s->oversize) {
        anpi_warn(ANPI_LG_SMTP, "lmtp: message over %zu bytes refused for %zu recipients",
                  srv->max_msg, s->nrcpts);
        for (size_t i = 0; i < s->nrcpts; i++)
            reply(s, "552 5.3.4 Message size exceeds fixed limit of %zu bytes", srv->max_msg);
        tx_reset(s);
        s->st = ST_READY;
        return;
    }
    if (!s->msg.data)
        (void)anpi_buf_append(&s->msg, "", 0);
    s->st = ST_WAIT;
    uv_read_stop((uv_stream_t *)&s->tcp);
    uv_timer_stop(&s->timer);         /* the store may take its time */
    s->refs++;
    anpi_debug(ANPI_LG_SMTP, "lmtp: message of %zu bytes for %zu recipients", s->msg.len, s->nrcpts);
    srv->cb(srv->cb_arg, s->from, (const char *const *)s->rcpts, s->nrcpts,
            s->msg.data, s->msg.len, lmtp_done, s);
}

/* One line of DATA including its '\n'. */
static void
data_line(struct sess *s, const char *b, size_t n)
{
    if (s->data_bol) {
        if ((n == 2 && b[0] == '.' && b[1] == '\n') || (n == 3 && b[0] == '.' && b[1] == '\r' && b[2] == '\n')) {
            end_data(s);
            return;
        }
        if (b[0] == '.') {      /* dot-unstuffing */
            b++;
            n--;
        }
    }
    msg_append(s, b, n);
    s->data_bol = true;
}

/* Part of a DATA line longer than the line cap: stored as it is. */
static void
data_chunk(struct sess *s, const char *b, size_t n)
{
    if (s->data_bol && b[0] == '.') {
        b++;
        n--;
    }
    msg_append(s, b, n);
    s->data_bol = false;
}

/* ---- input ----------------------------------------------------------------- */

static void
process(struct sess *s)
{
    if (s->processing)
        return;
    s->processing = true;
    size_t off = 0;
    char line[ANPI_LMTP_LINE_MAX + 1];
    while (!s->closing && s->st != ST_WAIT && s->st != ST_QUIT && off < s->in.len) {
        const char *b = s->in.data + off;
        size_t n = s->in.len - off;
        const char *nl = memchr(b, '\n', n);
        if (s->st == ST_DATA) {
            if (nl) {
                size_t ll = (size_t)(nl - b) + 1;
                off += ll;
                data_line(s, b, ll);
            } else if (n > ANPI_LMTP_LINE_MAX) {
                off += n;
                data_chunk(s, b, n);
            } else {
                break;
            }
            continue;
        }
        if (s->skip_line) {
            if (!nl) {
                off += n;
                break;
            }
            off += (size_t)(nl - b) + 1;
            s->skip_line = false;
            continue;
        }
        if (!nl) {
            if (n > ANPI_LMTP_LINE_MAX) {
                reply(s, "500 5.5.2 Line too long (max %d bytes)", ANPI_LMTP_LINE_MAX);
                s->skip_line = true;
                off += n;
                count_error(s);
            }
            break;
        }
        size_t ll = (size_t)(nl - b) + 1;
        off += ll;
        if (ll > ANPI_LMTP_LINE_MAX) {
            reply(s, "500 5.5.2 Line too long (max %d bytes)", ANPI_LMTP_LINE_MAX);
            count_error(s);
            continue;
        }
        size_t cl = ll - 1;
        if (cl && b[cl - 1] == '\r')
            cl--;
        memcpy(line, b, cl);
        line[cl] = '\0';
        command(s, line, cl);
    }
    anpi_buf_consume(&s->in, off < s->in.len ? off : s->in.len);
    flush(s);
    s->processing = false;
}

static void
on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)suggested;
    struct sess *s = h->data;
    *buf = uv_buf_init(s->readbuf, sizeof(s->readbuf));
}

static void
on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf)
{
    struct sess *s = st->data;
    (void)buf;
    if (nread < 0) {
        if (s->st == ST_DATA)
            anpi_warn(ANPI_LG_SMTP, "lmtp: client went away during DATA; message dropped");
        sess_close(s);
        return;
    }
    if (nread == 0)
        return;
    if (s->st == ST_QUIT)
        return;                 /* after QUIT or a 421 nothing more is read */
    if (anpi_buf_append(&s->in, s->readbuf, (size_t)nread) < 0) {
        reply(s, "421 4.3.0 %s Input buffer overflow, closing connection", s->srv->hostname);
        sess_quit(s);
        return;
    }
    timer_restart(s);
    process(s);
}

static void
resume(struct sess *s)
{
    if (s->closing)
        return;
    uv_read_start((uv_stream_t *)&s->tcp, on_alloc, on_read);
    timer_restart(s);
    process(s);
}

static void
on_connection(uv_stream_t *server, int status)
{
    struct anpi_lmtp *srv = server->data;
    if (status < 0) {
        anpi_warn(ANPI_LG_SMTP, "lmtp: accept failed: %s", uv_strerror(status));
        return;
    }
    struct sess *s = anpi_xcalloc(1, sizeof(*s));
    s->srv = srv;
    uv_tcp_init(srv->loop, &s->tcp);
    uv_timer_init(srv->loop, &s->timer);
    s->tcp.data = s->timer.data = s;
    s->refs = 2;
    anpi_buf_init(&s->in, IN_MAX);
    anpi_buf_init(&s->out, 0);
    s->next = srv->sessions;
    if (s->next)
        s->next->prev = s;
    srv->sessions = s;
    srv->nsess++;
    srv->nopen++;
    if (uv_accept(server, (uv_stream_t *)&s->tcp) < 0) {
        sess_close(s);
        return;
    }
    if (srv->nopen > srv->max_conns) {
        reply(s, "421 4.3.2 %s Too many connections, try again later", srv->hostname);
        sess_quit(s);
        return;
    }
    reply(s, "220 %s LMTP anpi ready", srv->hostname);
    flush(s);
    s->st = ST_LHLO;
    resume(s);
}

/* ---- public API ---------------------------------------------------------- */

static int
parse_listen(const char *spec, struct sockaddr_storage *ss, char *err, size_t errlen)
{
    char host[128];
    const char *colon;
    if (!spec || !*spec) {
        snprintf(err, errlen, "inbound.lmtp: empty address (expected \"host:port\")");
        return ANPI_EPARSE;
    }
    if (spec[0] == '[') {
        const char *rb = strchr(spec, ']');
        if (!rb || rb[1] != ':' || (size_t)(rb - spec - 1) >= sizeof(host)) {
            snprintf(err, errlen, "inbound.lmtp \"%s\": expected \"[v6addr]:port\"", spec);
            return ANPI_EPARSE;
        }
        memcpy(host, spec + 1, (size_t)(rb - spec - 1));
        host[rb - spec - 1] = '\0';
        colon = rb + 1;
    } else {
        colon = strrchr(spec, ':');
        if (!colon || (size_t)(colon - spec) >= sizeof(host)) {
            snprintf(err, errlen, "inbound.lmtp \"%s\": expected \"host:port\"", spec);
            return ANPI_EPARSE;
        }
        memcpy(host, spec, (size_t)(colon - spec));
        host[colon - spec] = '\0';
    }
    int64_t port;
    if (anpi_parse_int64(colon + 1, 0, 65535, &port) < 0) {
        snprintf(err, errlen, "inbound.lmtp \"%s\": port must be 0..65535", spec);
        return ANPI_EPARSE;
    }
    if (strcmp(host, "localhost") == 0)
        snprintf(host, sizeof(host), "127.0.0.1");
    if (uv_ip4_addr(host, (int)port, (struct sockaddr_in *)ss) == 0)
        return 0;
    if (uv_ip6_addr(host, (int)port, (struct sockaddr_in6 *)ss) == 0)
        return 0;
    snprintf(err, errlen, "inbound.lmtp \"%s\": host must be an IP address or localhost", spec);
    return ANPI_EPARSE;
}

static void
on_listener_closed(uv_handle_t *h)
{
    struct anpi_lmtp *srv = h->data;
    srv->listener_closed = true;
    maybe_finish(srv);
}

int
anpi_lmtp_create(uv_loop_t *loop, const struct anpi_lmtp_opts *o, struct anpi_lmtp **out,
                 char *err, size_t errlen)
{
    char dummy[8];
    if (!err || !errlen) {
        err = dummy;
        errlen = sizeof(dummy);
    }
    err[0] = '\0';
    *out = NULL;
    if (!o->cb) {
        snprintf(err, errlen, "lmtp: no message callback");
        return ANPI_ERROR;
    }
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    int rc = parse_listen(o->listen, &ss, err, errlen);
    if (rc)
        return rc;
    struct anpi_lmtp *srv = anpi_xcalloc(1, sizeof(*srv));
    srv->loop = loop;
    snprintf(srv->hostname, sizeof(srv->hostname), "%s", o->hostname && *o->hostname ? o->hostname : "anpi");
    for (char *c = srv->hostname; *c; c++)
        if ((unsigned char)*c <= ' ' || *c == 0x7F)
            *c = '-';               /* never let a config value break a reply line */
    srv->max_msg = o->max_msg ? o->max_msg : ANPI_LMTP_MSG_MAX_DEFAULT;
    srv->max_rcpts = o->max_rcpts ? o->max_rcpts : ANPI_LMTP_RCPTS_DEFAULT;
    srv->max_conns = o->max_conns ? o->max_conns : ANPI_LMTP_CONNS_DEFAULT;
    srv->timeout_ms = o->timeout_ms ? o->timeout_ms : ANPI_LMTP_TIMEOUT_DEFAULT;
    srv->cb = o->cb;
    srv->cb_arg = o->cb_arg;
    uv_tcp_init(loop, &srv->listener);
    srv->listener.data = srv;
    rc = uv_tcp_bind(&srv->listener, (const struct sockaddr *)&ss, 0);
    if (!rc)
        rc = uv_listen((uv_stream_t *)&srv->listener, 128, on_connection);
    if (rc < 0) {
        snprintf(err, errlen, "inbound.lmtp \"%s\": cannot listen: %s", o->listen, uv_strerror(rc));
        srv->closing = true;     /* freed by the close callback */
        uv_close((uv_handle_t *)&srv->listener, on_listener_closed);
        return rc;
    }
    *out = srv;
    return 0;
}

int
anpi_lmtp_port(const struct anpi_lmtp *s)
{
    struct sockaddr_storage ss;
    int len = sizeof(ss);
    int rc = uv_tcp_getsockname(&s->listener, (struct sockaddr *)&ss, &len);
    if (rc < 0)
        return rc;
    if (ss.ss_family == AF_INET)
        return ntohs(((struct sockaddr_in *)&ss)->sin_port);
    return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
}

size_t
anpi_lmtp_sessions(const struct anpi_lmtp *s)
{
    return s->nopen;
}

void
anpi_lmtp_close(struct anpi_lmtp *s, void (*closed_cb)(void *arg), void *arg)
{
    if (!s || s->closing)
        return;
    s->closing = true;
    s->closed_cb = closed_cb;
    s->closed_arg = arg;
    for (struct sess *x = s->sessions; x; x = x->next)
        sess_close(x);
    uv_close((uv_handle_t *)&s->listener, on_listener_closed);
}
