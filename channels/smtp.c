/* smtp.c - SMTP client on libuv: relay pool, per-connection state machine,
 * TLS through OpenSSL memory BIOs over the uv_tcp stream.
 *
 * Lifecycle rules (libuv design): a connection owns a uv_tcp_t and a
 * uv_timer_t (plus a getaddrinfo request while resolving); it is freed only
 * when the last of them has called back (refs == 0).  The pool owns one
 * uv_timer_t used to run user callbacks from the loop, never from inside a
 * call the user made or from the middle of a state transition, so a
 * callback may queue more mail or close the pool safely. */
#include "channels/smtp.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "channels/smtp_policy.h"
#include "channels/smtp_reply.h"
#include "engine/buf.h"
#include "engine/log.h"

#define IDLE_MAX_S      5     /* QUIT an idle connection after this long */
#define QUIT_WAIT_MAX_S 2     /* how long to wait for the 221 */
#define HOST_MAX        255

enum conn_state {
    CS_RESOLVE, CS_CONNECT, CS_BANNER, CS_EHLO, CS_HELO, CS_STARTTLS, CS_TLS,
    CS_AUTH_PLAIN, CS_AUTH_LOGIN, CS_AUTH_USER, CS_AUTH_PASS,
    CS_RSET, CS_MAIL, CS_RCPT, CS_DATA, CS_BODY, CS_IDLE, CS_QUIT, CS_CLOSED,
};

static const char *const state_names[] = {
    "RESOLVE", "CONNECT", "BANNER", "EHLO", "HELO", "STARTTLS", "TLS",
    "AUTH PLAIN", "AUTH LOGIN", "AUTH USER", "AUTH PASS",
    "RSET", "MAIL", "RCPT", "DATA", "BODY", "IDLE", "QUIT", "CLOSED",
};

struct job {
    struct job *next;
    char *from, *rcpt;
    char *data;                  /* CRLF, dot-stuffed, ends with ".\r\n" */
    size_t len;
    anpi_smtp_cb cb;
    void *arg;
    size_t relay;                /* index of the relay it is queued for */
    bool stale_retry;            /* already retried once after a reused connection died */
    struct anpi_smtp_outcome out;
};

struct relay {
    struct anpi_relay_conf conf;  /* deep copy */
    char hostport[HOST_MAX + 16];
    bool host_is_ip;
    SSL_CTX *ctx;                 /* NULL when tls == none */
    struct job *qhead, *qtail;
    size_t qlen;
    size_t nconns;                /* connections counted against max_connections */
};

struct conn {
    struct conn *prev, *next;     /* pool->conns */
    struct anpi_smtp_pool *pool;
    size_t relay;
    bool counted;                 /* still counted in relay->nconns */
    int refs;                     /* open handles + pending requests */
    bool closing;
    bool reconnecting;            /* tcp handle closed to try the next address */
    bool resolving;               /* getaddrinfo pending (holds a ref) */
    bool tcp_open;

    uv_tcp_t tcp;
    uv_timer_t timer;
    uv_getaddrinfo_t gai;
    uv_connect_t creq;
    struct addrinfo *ai, *ai_cur;

    enum conn_state st;
    struct anpi_smtp_reply_parser rp;

    SSL *ssl;
    bool handshaking, tls_on;

    bool esmtp, ext_starttls, ext_size, ext_auth_plain, ext_auth_login;
    struct job *job;
    int nmsgs;                    /* transactions finished on this connection */
    bool body_written;

    char readbuf[65536];
    char plain[16384];
};

struct anpi_smtp_pool {
    uv_loop_t *loop;
    struct relay *relays;
    size_t nrelays;
    char *helo;
    int timeout_s, max_conns, max_msgs;

    struct conn *conns;           /* every live connection */
    size_t nlive;
    size_t queued;                /* accepted by anpi_smtp_send, cb not yet run */

    uv_timer_t defer;             /* runs completions */
    bool defer_closed;
    struct job *done_head, *done_tail;

    bool closing;
    void (*closed)(void *);
    void *closed_arg;
    struct anpi_smtp_stats stats;
};

static void conn_close(struct conn *c);
static void conn_fail(struct conn *c, const char *fmt, ...) ANPI_PRINTF(2, 3);
static void relay_dispatch(struct anpi_smtp_pool *p, size_t ri);
static void conn_after_txn(struct conn *c, bool drop);
static void tls_pump(struct conn *c);
static void pool_maybe_finish(struct anpi_smtp_pool *p);

/* ---- jobs and completions ------------------------------------------------ */

static void
job_free(struct job *j)
{
    free(j->from);
    free(j->rcpt);
    free(j->data);
    free(j);
}

static void
on_defer(uv_timer_t *t)
{
    struct anpi_smtp_pool *p = t->data;
    /* Take the whole list: callbacks may add more (they go to the new list
     * and another round is scheduled). */
    while (p->done_head) {
        struct job *j = p->done_head;
        p->done_head = j->next;
        if (!p->done_head)
            p->done_tail = NULL;
        p->queued--;
        if (j->out.result == ANPI_SMTP_SENT)
            p->stats.messages_sent++;
        else
            p->stats.messages_failed++;
        j->cb(j->arg, &j->out);
        job_free(j);
    }
    pool_maybe_finish(p);
}

static void
job_complete(struct anpi_smtp_pool *p, struct job *j)
{
    j->next = NULL;
    if (p->done_tail)
        p->done_tail->next = j;
    else
        p->done_head = j;
    p->done_tail = j;
    if (!p->defer_closed && !uv_is_closing((uv_handle_t *)&p->defer))
        uv_timer_start(&p->defer, on_defer, 0, 0);
}

static void
queue_push(struct relay *r, struct job *j, bool front)
{
    j->next = NULL;
    if (!r->qhead) {
        r->qhead = r->qtail = j;
    } else if (front) {
        j->next = r->qhead;
        r->qhead = j;
    } else {
        r->qtail->next = j;
        r->qtail = j;
    }
    r->qlen++;
}

static struct job *
queue_pop(struct relay *r)
{
    struct job *j = r->qhead;
    if (j) {
        r->qhead = j->next;
        if (!r->qhead)
            r->qtail = NULL;
        r->qlen--;
        j->next = NULL;
    }
    return j;
}

/* The job failed (or succeeded) at stage st with j->out filled: report it,
 * or move it to the next relay when the policy says so. */
static void
job_finish(struct anpi_smtp_pool *p, struct job *j, enum anpi_smtp_stage st)
{
    j->out.relay = p->relays[j->relay].hostport;
    if (j->out.result != ANPI_SMTP_SENT) {
        char masked[128];
        anpi_logf(ANPI_LOG_INFO, ANPI_LG_SMTP, "smtp %s: %s at %s: %d %s %s",
                  j->out.relay, anpi_log_mask_addr(j->rcpt, masked, sizeof(masked)),
                  anpi_smtp_stage_name(st), j->out.code,
                  j->out.result == ANPI_SMTP_PERMFAIL ? "permfail" : "tempfail", j->out.text);
    }
    if (!p->closing && j->out.result == ANPI_SMTP_TEMPFAIL && j->relay + 1 < p->nrelays &&
        anpi_smtp_policy_failover(st, &j->out)) {
        j->relay++;
        j->stale_retry = false;
        queue_push(&p->relays[j->relay], j, false);
        relay_dispatch(p, j->relay);
        return;
    }
    job_complete(p, j);
}

/* ---- state machine --------------------------------------------------------- */

static enum anpi_smtp_stage
conn_stage(const struct conn *c)
{
    switch (c->st) {
    case CS_RESOLVE: case CS_CONNECT: return ANPI_SMTP_STAGE_CONNECT;
    case CS_BANNER: return ANPI_SMTP_STAGE_BANNER;
    case CS_EHLO: case CS_HELO: return ANPI_SMTP_STAGE_EHLO;
    case CS_STARTTLS: case CS_TLS: return ANPI_SMTP_STAGE_STARTTLS;
    case CS_AUTH_PLAIN: case CS_AUTH_LOGIN: case CS_AUTH_USER: case CS_AUTH_PASS:
        return ANPI_SMTP_STAGE_AUTH;
    case CS_RSET: return ANPI_SMTP_STAGE_RSET;
    case CS_MAIL: return ANPI_SMTP_STAGE_MAIL;
    case CS_RCPT: return ANPI_SMTP_STAGE_RCPT;
    case CS_DATA: return ANPI_SMTP_STAGE_DATA;
    case CS_BODY: return c->body_written ? ANPI_SMTP_STAGE_EOM : ANPI_SMTP_STAGE_BODY;
    default: return ANPI_SMTP_STAGE_CONNECT;
    }
}

/* Every transition goes through here (one place to log and to trace). */
static void
conn_enter(struct conn *c, enum conn_state st)
{
    anpi_debug(ANPI_LG_SMTP, "smtp %s: %s -> %s", c->pool->relays[c->relay].hostport,
               state_names[c->st], state_names[st]);
    c->st = st;
}

static void
on_timeout(uv_timer_t *t)
{
    struct conn *c = t->data;
    switch (c->st) {
    case CS_IDLE:
    case CS_QUIT:
        conn_close(c);
        relay_dispatch(c->pool, c->relay);
        return;
    case CS_RESOLVE: conn_fail(c, "timeout resolving host"); return;
    case CS_CONNECT: conn_fail(c, "connect: timeout"); return;
    case CS_TLS: conn_fail(c, "TLS: handshake timeout"); return;
    case CS_BANNER: conn_fail(c, "timeout waiting for banner"); return;
    case CS_BODY:
        conn_fail(c, c->body_written ? "timeout waiting for reply to end of DATA"
                                     : "timeout sending message body");
        return;
    default:
        conn_fail(c, "timeout waiting for reply to %s", state_names[c->st]);
        return;
    }
}

static void
conn_arm(struct conn *c, int secs)
{
    uv_timer_start(&c->timer, on_timeout, (uint64_t)secs * 1000u, 0);
}

struct wreq {
    uv_write_t req;
    struct conn *c;
    bool last_body;
    char data[];
};

static void
on_write(uv_write_t *req, int status)
{
    struct wreq *w = (struct wreq *)req;
    struct conn *c = w->c;
    bool last = w->last_body;
    free(w);
    if (c->closing)
        return;
    if (status < 0) {
        conn_fail(c, "write: %s", uv_strerror(status));
        return;
    }
    if (last && c->st == CS_BODY) {
        /* The whole body is out: from now on wait for the final reply. */
        c->body_written = true;
        conn_arm(c, c->pool->timeout_s);
    }
}

static void
conn_write_raw(struct conn *c, const char *data, size_t len, bool last_body)
{
    struct wreq *w = anpi_xmalloc(sizeof(*w) + len);
    w->c = c;
    w->last_body = last_body;
    memcpy(w->data, data, len);
    uv_buf_t b = uv_buf_init(w->data, (unsigned)len);
    int r = uv_write(&w->req, (uv_stream_t *)&c->tcp, &b, 1, on_write);
    if (r < 0) {
        free(w);
        conn_fail(c, "write: %s", uv_strerror(r));
    }
}

/* Move whatever OpenSSL produced (handshake records, ciphertext, alerts)
 * onto the socket. */
static void
tls_flush(struct conn *c, bool last_body)
{
    BIO *wbio = SSL_get_wbio(c->ssl);
    size_t pending;
    while (!c->closing && (pending = BIO_ctrl_pending(wbio)) > 0) {
        char *tmp = anpi_xmalloc(pending);
        int n = BIO_read(wbio, tmp, (int)pending);
        if (n > 0)
            conn_write_raw(c, tmp, (size_t)n, last_body && (size_t)n == pending);
        free(tmp);
        if (n <= 0)
            break;
    }
}

static void
conn_send(struct conn *c, const char *data, size_t len, bool last_body)
{
    if (c->closing)
        return;
    if (!c->tls_on) {
        conn_write_raw(c, data, len, last_body);
        return;
    }
    size_t off = 0;
    while (off < len) {
        size_t chunk = len - off > 1u << 30 ? 1u << 30 : len - off;
        ERR_clear_error();
        int n = SSL_write(c->ssl, data + off, (int)chunk);
        if (n <= 0) {
            conn_fail(c, "TLS: write failed");
            return;
        }
        off += (size_t)n;
    }
    tls_flush(c, last_body);
}

/* Send one command line and wait for its reply in state st. */
static void
conn_cmd(struct conn *c, enum conn_state st, const char *fmt, ...) ANPI_PRINTF(3, 4);
static void
conn_cmd(struct conn *c, enum conn_state st, const char *fmt, ...)
{
    struct anpi_buf b;
    anpi_buf_init(&b, 4096);
    va_list ap;
    va_start(ap, fmt);
    int r = anpi_buf_vprintf(&b, fmt, ap);
    va_end(ap);
    if (r == 0)
        r = anpi_buf_puts(&b, "\r\n");
    if (r != 0) {
        anpi_buf_free(&b);
        conn_fail(c, "command too long");
        return;
    }
    conn_enter(c, st);
    conn_send(c, b.data, b.len, false);
    anpi_buf_free(&b);
    if (!c->closing)
        conn_arm(c, c->pool->timeout_s);
}

static void
conn_quit(struct conn *c)
{
    if (c->counted) {
        c->counted = false;
        c->pool->relays[c->relay].nconns--;
    }
    int wait = c->pool->timeout_s < QUIT_WAIT_MAX_S ? c->pool->timeout_s : QUIT_WAIT_MAX_S;
    conn_cmd(c, CS_QUIT, "QUIT");
    if (!c->closing)
        conn_arm(c, wait);
}

static void
conn_start_txn(struct conn *c)
{
    struct job *j = c->job;
    if (c->ext_size)
        conn_cmd(c, CS_MAIL, "MAIL FROM:<%s> SIZE=%zu", j->from, j->len);
    else
        conn_cmd(c, CS_MAIL, "MAIL FROM:<%s>", j->from);
}

/* Connection set up (EHLO, TLS, AUTH done): start on the job it was made
 * for, or take the next one. */
static void
conn_ready(struct conn *c)
{
    if (c->job) {
        conn_start_txn(c);
        return;
    }
    conn_after_txn(c, false);
}

/* A transaction ended (or the connection just became ready without a job):
 * take the next queued job, go idle, or QUIT. */
static void
conn_after_txn(struct conn *c, bool drop)
{
    struct anpi_smtp_pool *p = c->pool;
    struct relay *r = &p->relays[c->relay];
    c->job = NULL;
    if (drop || p->closing) {
        if (drop)
            conn_close(c);
        else
            conn_quit(c);
        relay_dispatch(p, c->relay);
        return;
    }
    if (p->max_msgs > 0 && c->nmsgs >= p->max_msgs) {
        conn_quit(c);
        relay_dispatch(p, c->relay);
        return;
    }
    struct job *j = queue_pop(r);
    if (j) {
        c->job = j;
        if (c->nmsgs > 0)
            conn_cmd(c, CS_RSET, "RSET");
        else
            conn_start_txn(c);
        return;
    }
    conn_enter(c, CS_IDLE);
    conn_arm(c, p->timeout_s < IDLE_MAX_S ? p->timeout_s : IDLE_MAX_S);
}

/* The job on c failed because of a reply: decide via the policy, then keep
 * the connection for the next message unless the server is going away. */
static void
conn_job_reply_fail(struct conn *c, const struct anpi_smtp_reply *rep)
{
    struct job *j = c->job;
    enum anpi_smtp_stage st = conn_stage(c);
    anpi_smtp_policy_reply(st, rep->code, rep->enhanced, rep->lines, &j->out);
    c->job = NULL;
    c->nmsgs++;
    job_finish(c->pool, j, st);
    conn_after_txn(c, rep->code == 421);
}

/* Local failure: the job (if any) gets TEMPFAIL with text, the connection
 * is dropped. */
static void
conn_fail(struct conn *c, const char *fmt, ...)
{
    if (c->closing)
        return;
    char text[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    struct anpi_smtp_pool *p = c->pool;
    struct job *j = c->job;
    enum anpi_smtp_stage st = conn_stage(c);
    anpi_debug(ANPI_LG_SMTP, "smtp %s: %s in %s", p->relays[c->relay].hostport, text,
               state_names[c->st]);
    c->job = NULL;
    conn_close(c);
    if (j) {
        if (st == ANPI_SMTP_STAGE_RSET && c->nmsgs > 0 && !j->stale_retry && !p->closing) {
            /* A reused connection the server had already dropped: the
             * message never started, give it a fresh connection. */
            j->stale_retry = true;
            queue_push(&p->relays[c->relay], j, true);
        } else {
            anpi_smtp_policy_local(st, text, &j->out);
            job_finish(p, j, st);
        }
    }
    relay_dispatch(p, c->relay);
}

/* ---- EHLO capabilities, AUTH ------------------------------------------------ */

static void
parse_ehlo(struct conn *c, const struct anpi_smtp_reply *rep)
{
    c->esmtp = true;
    c->ext_starttls = c->ext_size = c->ext_auth_plain = c->ext_auth_login = false;
    const char *s = rep->lines;
    const char *nl = strchr(s, '\n');     /* first line is the greeting */
    s = nl ? nl + 1 : s + strlen(s);
    while (*s) {
        nl = strchr(s, '\n');
        size_t n = nl ? (size_t)(nl - s) : strlen(s);
        char line[ANPI_SMTP_REPLY_LINE_MAX];
        memcpy(line, s, n);
        line[n] = '\0';
        s += n + (nl ? 1 : 0);
        char *save = NULL;
        char *kw = strtok_r(line, " =", &save);
        if (!kw)
            continue;
        if (strcasecmp(kw, "STARTTLS") == 0) {
            c->ext_starttls = true;
        } else if (strcasecmp(kw, "SIZE") == 0) {
            c->ext_size = true;
        } else if (strcasecmp(kw, "AUTH") == 0) {
            char *mech;
            while ((mech = strtok_r(NULL, " ", &save))) {
                if (strcasecmp(mech, "PLAIN") == 0)
                    c->ext_auth_plain = true;
                else if (strcasecmp(mech, "LOGIN") == 0)
                    c->ext_auth_login = true;
            }
        }
    }
}

static char *
b64(const char *data, size_t len)
{
    char *out = anpi_xmalloc(4 * ((len + 2) / 3) + 1);
    EVP_EncodeBlock((unsigned char *)out, (const unsigned char *)data, (int)len);
    return out;
}

static void tls_start(struct conn *c);

/* After EHLO/HELO: STARTTLS, AUTH, or ready. */
static void
conn_after_ehlo(struct conn *c)
{
    const struct anpi_relay_conf *rc = &c->pool->relays[c->relay].conf;
    if (rc->tls == ANPI_TLS_STARTTLS && !c->tls_on) {
        if (!c->ext_starttls) {
            conn_fail(c, "relay does not offer STARTTLS");
            return;
        }
        conn_cmd(c, CS_STARTTLS, "STARTTLS");
        return;
    }
    if (rc->username && rc->username[0]) {
        if (!c->tls_on) {
            conn_fail(c, "AUTH refused: connection is not encrypted");
            return;
        }
        if (c->ext_auth_plain) {
            size_t ul = strlen(rc->username), pl = rc->password ? strlen(rc->password) : 0;
            char *raw = anpi_xmalloc(ul + pl + 2);
            raw[0] = '\0';
            memcpy(raw + 1, rc->username, ul);
            raw[1 + ul] = '\0';
            if (pl)
                memcpy(raw + 2 + ul, rc->password, pl);
            char *enc = b64(raw, ul + pl + 2);
            OPENSSL_cleanse(raw, ul + pl + 2);
            free(raw);
            conn_cmd(c, CS_AUTH_PLAIN, "AUTH PLAIN %s", enc);
            OPENSSL_cleanse(enc, strlen(enc));
            free(enc);
        } else if (c->ext_auth_login) {
            conn_cmd(c, CS_AUTH_LOGIN, "AUTH LOGIN");
        } else {
            conn_fail(c, "relay offers neither AUTH PLAIN nor AUTH LOGIN");
        }
        return;
    }
    conn_ready(c);
}

static void
on_reply(struct conn *c, const struct anpi_smtp_reply *rep)
{
    struct anpi_smtp_pool *p = c->pool;
    const struct anpi_relay_conf *rc = &p->relays[c->relay].conf;
    int code = rep->code;
    uv_timer_stop(&c->timer);

    switch (c->st) {
    case CS_BANNER:
        if (code != 220)
            break;
        conn_cmd(c, CS_EHLO, "EHLO %s", p->helo);
        return;
    case CS_EHLO:
        if (code == 250) {
            parse_ehlo(c, rep);
            conn_after_ehlo(c);
            return;
        }
        if (code >= 500 && code != 421) {
            conn_cmd(c, CS_HELO, "HELO %s", p->helo);
            return;
        }
        break;
    case CS_HELO:
        if (code != 250)
            break;
        c->esmtp = false;
        c->ext_starttls = c->ext_size = c->ext_auth_plain = c->ext_auth_login = false;
        conn_after_ehlo(c);
        return;
    case CS_STARTTLS:
        if (code != 220)
            break;
        tls_start(c);
        return;
    case CS_AUTH_PLAIN:
    case CS_AUTH_PASS:
        if (code != 235)
            break;
        conn_ready(c);
        return;
    case CS_AUTH_LOGIN:
    case CS_AUTH_USER: {
        if (code != 334)
            break;
        const char *v = c->st == CS_AUTH_LOGIN ? rc->username : (rc->password ? rc->password : "");
        char *enc = b64(v, strlen(v));
        conn_cmd(c, c->st == CS_AUTH_LOGIN ? CS_AUTH_USER : CS_AUTH_PASS, "%s", enc);
        OPENSSL_cleanse(enc, strlen(enc));
        free(enc);
        return;
    }
    case CS_RSET:
        if (code != 250)
            break;
        conn_start_txn(c);
        return;
    case CS_MAIL:
        if (code != 250) {
            conn_job_reply_fail(c, rep);
            return;
        }
        conn_cmd(c, CS_RCPT, "RCPT TO:<%s>", c->job->rcpt);
        return;
    case CS_RCPT:
        if (code != 250 && code != 251) {
            conn_job_reply_fail(c, rep);
            return;
        }
        conn_cmd(c, CS_DATA, "DATA");
        return;
    case CS_DATA:
        if (code != 354) {
            conn_job_reply_fail(c, rep);
            return;
        }
        conn_enter(c, CS_BODY);
        c->body_written = false;
        conn_arm(c, p->timeout_s);
        conn_send(c, c->job->data, c->job->len, true);
        return;
    case CS_BODY:
        if (!c->body_written &&
            uv_stream_get_write_queue_size((uv_stream_t *)&c->tcp) == 0 && !c->closing) {
            /* All handed to the kernel; the write callback is still queued. */
            c->body_written = true;
        }
        if (!c->body_written) {
            /* RFC 5321 4.3.2: no reply before the final ".".  A server that
             * answers (or gives up) while we are still sending has not
             * judged this message: not a reason to bounce it. */
            conn_fail(c, "protocol error: reply %d before end of DATA", code);
            return;
        }
        if (code != 250) {
            conn_job_reply_fail(c, rep);
            return;
        }
        {
            struct job *j = c->job;
            j->out.result = ANPI_SMTP_SENT;
            j->out.code = code;
            snprintf(j->out.enhanced, sizeof(j->out.enhanced), "%s", rep->enhanced);
            anpi_smtp_policy_local(ANPI_SMTP_STAGE_EOM, rep->lines, &j->out);
            j->out.result = ANPI_SMTP_SENT;
            j->out.code = code;
            snprintf(j->out.enhanced, sizeof(j->out.enhanced), "%s", rep->enhanced);
            c->job = NULL;
            c->nmsgs++;
            job_finish(p, j, ANPI_SMTP_STAGE_EOM);
            conn_after_txn(c, false);
        }
        return;
    case CS_QUIT:
        conn_close(c);
        return;
    case CS_IDLE:
        /* Unsolicited (typically "421 timeout"): the server is leaving. */
        conn_close(c);
        relay_dispatch(p, c->relay);
        return;
    default:
        conn_fail(c, "protocol error: unexpected reply %d in %s", code, state_names[c->st]);
        return;
    }

    /* A reply that ends the connection before any transaction could run. */
    struct job *j = c->job;
    enum anpi_smtp_stage st = conn_stage(c);
    c->job = NULL;
    conn_close(c);
    if (j) {
        anpi_smtp_policy_reply(st, code, rep->enhanced, rep->lines, &j->out);
        job_finish(p, j, st);
    }
    relay_dispatch(p, c->relay);
}

/* Plaintext from the server (after TLS, if any). */
static void
feed_plain(struct conn *c, const char *data, size_t n)
{
    while (n > 0 && !c->closing) {
        size_t used;
        struct anpi_smtp_reply rep;
        int r = anpi_smtp_reply_feed(&c->rp, data, n, &used, &rep);
        if (r < 0) {
            conn_fail(c, "protocol error: %s", anpi_smtp_reply_error(&c->rp));
            return;
        }
        if (r == 0)
            return;
        data += used;
        n -= used;
        if (c->st == CS_STARTTLS && n > 0) {
            /* Bytes after the STARTTLS reply would be read as if they came
             * over TLS (CVE-2011-0411 class): refuse. */
            conn_fail(c, "protocol error: data after STARTTLS reply");
            return;
        }
        on_reply(c, &rep);
    }
}

/* ---- TLS ---------------------------------------------------------------------- */

static void
tls_fail(struct conn *c)
{
    long vr = SSL_get_verify_result(c->ssl);
    unsigned long e = ERR_peek_error();
    tls_flush(c, false);            /* let the alert reach the peer */
    if (vr != X509_V_OK)
        conn_fail(c, "TLS: certificate verify failed: %s", X509_verify_cert_error_string(vr));
    else if (e && ERR_GET_REASON(e) == SSL_R_CERTIFICATE_VERIFY_FAILED)
        conn_fail(c, "TLS: certificate verify failed");
    else
        conn_fail(c, "TLS: handshake failed: %s",
                  e ? ERR_reason_error_string(e) ? ERR_reason_error_string(e) : "error"
                    : "peer closed");
    ERR_clear_error();
}

static void
tls_start(struct conn *c)
{
    struct relay *r = &c->pool->relays[c->relay];
    c->ssl = SSL_new(r->ctx);
    if (!c->ssl) {
        conn_fail(c, "TLS: SSL_new failed");
        return;
    }
    BIO *rbio = BIO_new(BIO_s_mem()), *wbio = BIO_new(BIO_s_mem());
    SSL_set_bio(c->ssl, rbio, wbio);
    SSL_set_connect_state(c->ssl);
    if (!r->host_is_ip)
        SSL_set_tlsext_host_name(c->ssl, r->conf.host);
    if (r->conf.tls_verify) {
        int ok = r->host_is_ip
                     ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(c->ssl), r->conf.host)
                     : SSL_set1_host(c->ssl, r->conf.host);
        if (ok != 1) {
            conn_fail(c, "TLS: cannot set host name for verification");
            return;
        }
    }
    c->handshaking = true;
    conn_enter(c, CS_TLS);
    conn_arm(c, c->pool->timeout_s);
    tls_pump(c);
}

/* After the handshake: implicit TLS waits for the banner, STARTTLS says EHLO
 * again (capabilities from before TLS are forgotten, RFC 3207). */
static void
tls_done(struct conn *c)
{
    const struct anpi_relay_conf *rc = &c->pool->relays[c->relay].conf;
    c->tls_on = true;
    c->ext_starttls = c->ext_size = c->ext_auth_plain = c->ext_auth_login = false;
    if (rc->tls == ANPI_TLS_IMPLICIT) {
        conn_enter(c, CS_BANNER);
        conn_arm(c, c->pool->timeout_s);
    } else {
        conn_cmd(c, CS_EHLO, "EHLO %s", c->pool->helo);
    }
}

static void
tls_pump(struct conn *c)
{
    if (c->handshaking) {
        ERR_clear_error();
        int r = SSL_do_handshake(c->ssl);
        if (r != 1) {
            int e = SSL_get_error(c->ssl, r);
            if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
                tls_flush(c, false);
                return;
            }
            tls_fail(c);
            return;
        }
        c->handshaking = false;
        tls_flush(c, false);
        if (c->closing)
            return;
        uv_timer_stop(&c->timer);
        tls_done(c);
    }
    while (!c->closing) {
        ERR_clear_error();
        int n = SSL_read(c->ssl, c->plain, (int)sizeof(c->plain));
        if (n > 0) {
            feed_plain(c, c->plain, (size_t)n);
            continue;
        }
        int e = SSL_get_error(c->ssl, n);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
            break;
        if (e == SSL_ERROR_ZERO_RETURN)
            conn_fail(c, "connection closed by peer");
        else
            conn_fail(c, "TLS: read error");
        return;
    }
    if (!c->closing)
        tls_flush(c, false);
}

/* ---- socket I/O --------------------------------------------------------------- */

static void
on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)suggested;
    struct conn *c = h->data;
    *buf = uv_buf_init(c->readbuf, sizeof(c->readbuf));
}

static void
on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    struct conn *c = s->data;
    if (c->closing || nread == 0)
        return;
    if (nread < 0) {
        if (nread == UV_EOF)
            conn_fail(c, "connection closed by peer");
        else
            conn_fail(c, "read: %s", uv_strerror((int)nread));
        return;
    }
    if (c->ssl) {
        BIO_write(SSL_get_rbio(c->ssl), buf->base, (int)nread);
        tls_pump(c);
    } else {
        feed_plain(c, buf->base, (size_t)nread);
    }
}

static void connect_next(struct conn *c);
static void on_handle_closed(uv_handle_t *h);
static void conn_free(struct conn *c);

static void
on_connect(uv_connect_t *req, int status)
{
    struct conn *c = req->data;
    if (c->closing)
        return;
    if (status < 0) {
        if (c->ai_cur && c->ai_cur->ai_next) {
            /* Try the next address (e.g. ::1 refused, 127.0.0.1 next) on a
             * fresh handle: a failed uv_tcp_t cannot connect again. */
            c->ai_cur = c->ai_cur->ai_next;
            c->reconnecting = true;
            c->tcp_open = false;
            uv_close((uv_handle_t *)&c->tcp, on_handle_closed);
            return;
        }
        conn_fail(c, "connect: %s", uv_strerror(status));
        return;
    }
    c->pool->stats.connections_opened++;
    uv_timer_stop(&c->timer);
    int r = uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
    if (r < 0) {
        conn_fail(c, "read: %s", uv_strerror(r));
        return;
    }
    if (c->pool->relays[c->relay].conf.tls == ANPI_TLS_IMPLICIT) {
        tls_start(c);
        return;
    }
    conn_enter(c, CS_BANNER);
    conn_arm(c, c->pool->timeout_s);
}

static void
connect_next(struct conn *c)
{
    for (; c->ai_cur; c->ai_cur = c->ai_cur->ai_next) {
        if (c->ai_cur->ai_family != AF_INET && c->ai_cur->ai_family != AF_INET6)
            continue;
        int r = uv_tcp_connect(&c->creq, &c->tcp, c->ai_cur->ai_addr, on_connect);
        if (r == 0)
            return;
        if (!c->ai_cur->ai_next) {
            conn_fail(c, "connect: %s", uv_strerror(r));
            return;
        }
        /* The handle may hold a socket now: start over on a fresh one. */
        c->ai_cur = c->ai_cur->ai_next;
        c->reconnecting = true;
        c->tcp_open = false;
        uv_close((uv_handle_t *)&c->tcp, on_handle_closed);
        return;
    }
    conn_fail(c, "connect: no usable address");
}

static void
on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
    struct conn *c = req->data;
    c->refs--;
    c->resolving = false;
    if (c->closing) {
        if (res)
            uv_freeaddrinfo(res);
        if (c->refs == 0)
            conn_free(c);
        return;
    }
    if (status < 0) {
        conn_fail(c, "resolve %s: %s", c->pool->relays[c->relay].conf.host, uv_strerror(status));
        return;
    }
    c->ai = c->ai_cur = res;
    conn_enter(c, CS_CONNECT);
    connect_next(c);
}

static void
conn_free(struct conn *c)
{
    struct anpi_smtp_pool *p = c->pool;
    if (c->prev)
        c->prev->next = c->next;
    else
        p->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    p->nlive--;
    if (c->ai)
        uv_freeaddrinfo(c->ai);
    if (c->ssl)
        SSL_free(c->ssl);
    anpi_smtp_reply_free(&c->rp);
    free(c);
    pool_maybe_finish(p);
}

static void
on_handle_closed(uv_handle_t *h)
{
    struct conn *c = h->data;
    if (h == (uv_handle_t *)&c->tcp && c->reconnecting && !c->closing) {
        c->reconnecting = false;
        uv_tcp_init(c->pool->loop, &c->tcp);
        c->tcp.data = c;
        c->tcp_open = true;
        connect_next(c);
        return;
    }
    c->reconnecting = false;
    if (--c->refs == 0)
        conn_free(c);
}

/* Stop everything on c; it is freed when its handles have closed.  Takes it
 * out of the relay's count at once so a new connection may start. */
static void
conn_close(struct conn *c)
{
    if (c->closing)
        return;
    struct anpi_smtp_pool *p = c->pool;
    if (c->counted) {
        c->counted = false;
        p->relays[c->relay].nconns--;
    }
    if (c->st != CS_CLOSED)
        conn_enter(c, CS_CLOSED);
    c->closing = true;
    uv_timer_stop(&c->timer);
    if (c->resolving)
        uv_cancel((uv_req_t *)&c->gai);   /* on_resolved still runs and drops its ref */
    uv_close((uv_handle_t *)&c->timer, on_handle_closed);
    /* When !tcp_open a close for the next-address retry is pending; its
     * callback sees c->closing and drops the ref. */
    if (c->tcp_open) {
        c->tcp_open = false;
        uv_close((uv_handle_t *)&c->tcp, on_handle_closed);
    }
}

static void
conn_new(struct anpi_smtp_pool *p, size_t ri, struct job *j)
{
    struct relay *r = &p->relays[ri];
    struct conn *c = anpi_xcalloc(1, sizeof(*c));
    c->pool = p;
    c->relay = ri;
    c->job = j;
    c->st = CS_RESOLVE;
    anpi_smtp_reply_init(&c->rp);
    c->next = p->conns;
    if (p->conns)
        p->conns->prev = c;
    p->conns = c;
    p->nlive++;
    c->counted = true;
    r->nconns++;

    uv_timer_init(p->loop, &c->timer);
    c->timer.data = c;
    uv_tcp_init(p->loop, &c->tcp);
    c->tcp.data = c;
    c->tcp_open = true;
    c->refs = 2;
    c->gai.data = c;
    c->creq.data = c;

    char port[16];
    snprintf(port, sizeof(port), "%d", r->conf.port);
    struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM };
    conn_arm(c, p->timeout_s);   /* one deadline for resolve + connect */
    c->refs++;
    c->resolving = true;
    int rc = uv_getaddrinfo(p->loop, &c->gai, on_resolved, r->conf.host, port, &hints);
    if (rc < 0) {
        c->refs--;
        c->resolving = false;
        conn_fail(c, "resolve %s: %s", r->conf.host, uv_strerror(rc));
    }
}

static void
relay_dispatch(struct anpi_smtp_pool *p, size_t ri)
{
    struct relay *r = &p->relays[ri];
    while (r->qhead && !p->closing) {
        struct conn *idle = NULL;
        for (struct conn *c = p->conns; c; c = c->next) {
            if (c->relay == ri && c->st == CS_IDLE && !c->closing) {
                idle = c;
                break;
            }
        }
        if (idle) {
            uv_timer_stop(&idle->timer);
            conn_after_txn(idle, false);
            continue;
        }
        if (r->nconns >= (size_t)p->max_conns)
            break;
        conn_new(p, ri, queue_pop(r));
    }
}

/* ---- pool ------------------------------------------------------------------------- */

static void
relay_free(struct relay *r)
{
    free(r->conf.host);
    free(r->conf.ca_file);
    free(r->conf.username);
    if (r->conf.password) {
        OPENSSL_cleanse(r->conf.password, strlen(r->conf.password));
        free(r->conf.password);
    }
    if (r->ctx)
        SSL_CTX_free(r->ctx);
}

static void
pool_free(struct anpi_smtp_pool *p)
{
    for (size_t i = 0; i < p->nrelays; i++)
        relay_free(&p->relays[i]);
    free(p->relays);
    free(p->helo);
    free(p);
}

static int
relay_init(struct relay *r, const struct anpi_relay_conf *src)
{
    memset(r, 0, sizeof(*r));
    if (!src->host || !src->host[0] || strlen(src->host) > HOST_MAX ||
        strpbrk(src->host, "\r\n /"))
        return ANPI_EPARSE;
    r->conf.host = anpi_xstrdup(src->host);
    r->conf.tls = src->tls;
    r->conf.port = src->port > 0 ? src->port : (src->tls == ANPI_TLS_IMPLICIT ? 465 : 25);
    r->conf.tls_verify = src->tls_verify;
    r->conf.ca_file = src->ca_file ? anpi_xstrdup(src->ca_file) : NULL;
    r->conf.username = src->username ? anpi_xstrdup(src->username) : NULL;
    r->conf.password = src->password ? anpi_xstrdup(src->password) : NULL;
    unsigned char tmp[16];
    r->host_is_ip = inet_pton(AF_INET, src->host, tmp) == 1 ||
                    inet_pton(AF_INET6, src->host, tmp) == 1;
    if (strchr(src->host, ':'))
        snprintf(r->hostport, sizeof(r->hostport), "[%s]:%d", src->host, r->conf.port);
    else
        snprintf(r->hostport, sizeof(r->hostport), "%s:%d", src->host, r->conf.port);
    if (src->tls == ANPI_TLS_NONE)
        return 0;
    r->ctx = SSL_CTX_new(TLS_client_method());
    if (!r->ctx)
        return ANPI_ERROR;
    SSL_CTX_set_min_proto_version(r->ctx, TLS1_2_VERSION);
    if (src->tls_verify) {
        SSL_CTX_set_verify(r->ctx, SSL_VERIFY_PEER, NULL);
        int ok = src->ca_file ? SSL_CTX_load_verify_locations(r->ctx, src->ca_file, NULL)
                              : SSL_CTX_set_default_verify_paths(r->ctx);
        if (ok != 1) {
            anpi_error(ANPI_LG_SMTP, "smtp %s: cannot load CA certificates from %s",
                       r->hostport, src->ca_file ? src->ca_file : "the default store");
            ERR_clear_error();
            return ANPI_ERROR;
        }
    } else {
        SSL_CTX_set_verify(r->ctx, SSL_VERIFY_NONE, NULL);
    }
    return 0;
}

struct anpi_smtp_pool *
anpi_smtp_pool_create(uv_loop_t *loop, const struct anpi_relay_conf *relays, size_t nrelays,
                      const struct anpi_smtp_opts *opts)
{
    if (!loop || !relays || nrelays == 0)
        return NULL;
    struct anpi_smtp_pool *p = anpi_xcalloc(1, sizeof(*p));
    p->loop = loop;
    p->relays = anpi_xcalloc(nrelays, sizeof(*p->relays));
    const char *helo = opts && opts->helo_name && opts->helo_name[0] ? opts->helo_name : "localhost";
    p->helo = anpi_xstrdup(helo);
    p->timeout_s = opts && opts->timeout_s > 0 ? opts->timeout_s : 60;
    p->max_conns = opts && opts->max_connections > 0 ? opts->max_connections : 4;
    p->max_msgs = opts && opts->max_msgs_per_conn > 0 ? opts->max_msgs_per_conn : 0;
    bool bad = strpbrk(helo, "\r\n \t") != NULL;
    for (size_t i = 0; i < nrelays; i++) {
        p->nrelays = i + 1;
        if (relay_init(&p->relays[i], &relays[i]) != 0) {
            anpi_error(ANPI_LG_SMTP, "smtp: relay %zu (%s) is not usable", i + 1,
                       relays[i].host ? relays[i].host : "no host");
            bad = true;
            break;
        }
    }
    if (bad) {
        pool_free(p);
        return NULL;
    }
    uv_timer_init(loop, &p->defer);
    p->defer.data = p;
    return p;
}

static bool
addr_ok(const char *a, bool empty_ok)
{
    if (!a || (!a[0] && !empty_ok) || strlen(a) > 320)
        return false;
    for (const unsigned char *s = (const unsigned char *)a; *s; s++) {
        if (*s < 0x20 || *s == 0x7f || *s == '<' || *s == '>')
            return false;
    }
    return true;
}

/* CRLF line ends (from LF, CRLF or a bare CR), a '.' doubled at the start of
 * each line (RFC 5321 4.5.2), and the final ".". */
static char *
prepare_body(const char *msg, size_t len, size_t *outlen)
{
    size_t cap = len + len / 8 + 8, n = 0;
    char *out = anpi_xmalloc(cap);
    bool bol = true;
    for (size_t i = 0; i < len; i++) {
        if (n + 4 > cap) {
            cap *= 2;
            out = anpi_xrealloc(out, cap);
        }
        char ch = msg[i];
        if (ch == '\r' || ch == '\n') {
            if (ch == '\r' && i + 1 < len && msg[i + 1] == '\n')
                i++;
            out[n++] = '\r';
            out[n++] = '\n';
            bol = true;
            continue;
        }
        if (bol && ch == '.')
            out[n++] = '.';
        out[n++] = ch;
        bol = false;
    }
    if (n + 6 > cap)
        out = anpi_xrealloc(out, n + 6);
    if (!bol) {
        out[n++] = '\r';
        out[n++] = '\n';
    }
    memcpy(out + n, ".\r\n", 3);
    *outlen = n + 3;
    return out;
}

int
anpi_smtp_send(struct anpi_smtp_pool *p, const char *mail_from, const char *rcpt,
               const char *msg, size_t len, anpi_smtp_cb cb, void *arg)
{
    if (!p || !cb || (!msg && len))
        return ANPI_ERROR;
    if (p->closing)
        return ANPI_EPERM;
    struct job *j = anpi_xcalloc(1, sizeof(*j));
    j->cb = cb;
    j->arg = arg;
    p->queued++;
    j->out.relay = p->relays[0].hostport;
    if (!addr_ok(mail_from, true) || !addr_ok(rcpt, false)) {
        /* Never let a CR/LF or '>' from directory data reach a command line. */
        anpi_smtp_policy_local(ANPI_SMTP_STAGE_CONNECT, "invalid address", &j->out);
        j->out.result = ANPI_SMTP_PERMFAIL;
        job_complete(p, j);
        return 0;
    }
    j->from = anpi_xstrdup(mail_from);
    j->rcpt = anpi_xstrdup(rcpt);
    j->data = prepare_body(msg ? msg : "", len, &j->len);
    queue_push(&p->relays[0], j, false);
    relay_dispatch(p, 0);
    return 0;
}

size_t
anpi_smtp_queued(const struct anpi_smtp_pool *p)
{
    return p ? p->queued : 0;
}

void
anpi_smtp_pool_stats(const struct anpi_smtp_pool *p, struct anpi_smtp_stats *out)
{
    *out = p->stats;
}

static void
on_defer_closed(uv_handle_t *h)
{
    struct anpi_smtp_pool *p = h->data;
    p->defer_closed = true;
    pool_maybe_finish(p);
}

static void
pool_maybe_finish(struct anpi_smtp_pool *p)
{
    if (!p->closing)
        return;
    if (p->done_head) {
        if (!uv_is_closing((uv_handle_t *)&p->defer))
            uv_timer_start(&p->defer, on_defer, 0, 0);
        return;
    }
    if (p->nlive > 0)
        return;
    if (!p->defer_closed) {
        if (!uv_is_closing((uv_handle_t *)&p->defer))
            uv_close((uv_handle_t *)&p->defer, on_defer_closed);
        return;
    }
    void (*closed)(void *) = p->closed;
    void *arg = p->closed_arg;
    pool_free(p);
    if (closed)
        closed(arg);
}

void
anpi_smtp_pool_close(struct anpi_smtp_pool *p, void (*closed)(void *arg), void *arg)
{
    if (!p || p->closing)
        return;
    p->closing = true;
    p->closed = closed;
    p->closed_arg = arg;
    for (size_t i = 0; i < p->nrelays; i++) {
        struct job *j;
        while ((j = queue_pop(&p->relays[i]))) {
            anpi_smtp_policy_local(ANPI_SMTP_STAGE_CONNECT, "shutting down", &j->out);
            j->out.relay = p->relays[i].hostport;
            job_complete(p, j);
        }
    }
    struct conn *next;
    for (struct conn *c = p->conns; c; c = next) {
        next = c->next;
        if (c->closing)
            continue;
        if (c->job) {
            struct job *j = c->job;
            c->job = NULL;
            anpi_smtp_policy_local(conn_stage(c), "shutting down", &j->out);
            j->out.relay = p->relays[c->relay].hostport;
            job_complete(p, j);
            conn_close(c);
        } else if (c->st == CS_IDLE) {
            uv_timer_stop(&c->timer);
            conn_quit(c);
        } else if (c->st != CS_QUIT) {
            conn_close(c);
        }
    }
    /* Run the completions (and then finish) from the loop. */
    uv_timer_start(&p->defer, on_defer, 0, 0);
}
