/* smtp.c - SMTP client on libuv: relay pool, destination groups with
 * limits, per-connection state machine with PIPELINING, TLS through OpenSSL
 * memory BIOs over the uv_tcp stream.
 *
 * Lifecycle rules (libuv design): a connection owns a uv_tcp_t and a
 * uv_timer_t (plus a getaddrinfo request while resolving); it is freed only
 * when the last of them has called back (refs == 0).  The pool owns one
 * uv_timer_t used to run user callbacks from the loop, never from inside a
 * call the user made or from the middle of a state transition, so a
 * callback may queue more mail or close the pool safely, and one that
 * wakes the dispatcher when a group's token bucket has refilled.
 *
 * Transactions: once a connection is set up it is in CS_TXN and every
 * command sent leaves an expectation (RSET, MAIL, RCPT, DATA, EOM) in a
 * small FIFO; replies are matched to it in order.  That one mechanism
 * covers lock-step (one expectation at a time) and PIPELINING (RFC 2920:
 * RSET+MAIL+RCPT+DATA in one write, the body only after the 354, the next
 * envelope right behind the final dot).  An expectation whose job already
 * failed holds NULL: its reply is read and ignored, and a 354 for it gets
 * a lone "." so the server's transaction ends empty. */
#include "channels/smtp.h"

#include <arpa/inet.h>
#include <math.h>
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

#include "channels/smtp_limits.h"
#include "channels/smtp_policy.h"
#include "channels/smtp_reply.h"
#include "engine/buf.h"
#include "engine/log.h"

#define IDLE_MAX_S        5     /* QUIT an idle connection after this long */
#define QUIT_WAIT_MAX_S   2     /* how long to wait for the 221 */
#define HOST_MAX          255
#define RELAY_FAILS_DOWN  3     /* connection failures in a row that mark a relay down */
#define RELAY_DOWN_MS     60000 /* how long it stays down */
#define GROUP_BUCKETS     256   /* hash buckets for destination groups */
#define EXP_MAX           12    /* expectations per connection (two pipelined transactions) */

enum conn_state {
    CS_RESOLVE, CS_CONNECT, CS_BANNER, CS_EHLO, CS_HELO, CS_STARTTLS, CS_TLS,
    CS_AUTH_PLAIN, CS_AUTH_LOGIN, CS_AUTH_USER, CS_AUTH_PASS,
    CS_TXN, CS_IDLE, CS_QUIT, CS_CLOSED,
};

static const char *const state_names[] = {
    "RESOLVE", "CONNECT", "BANNER", "EHLO", "HELO", "STARTTLS", "TLS",
    "AUTH PLAIN", "AUTH LOGIN", "AUTH USER", "AUTH PASS",
    "TXN", "IDLE", "QUIT", "CLOSED",
};

/* What a reply in CS_TXN answers. */
enum exp_kind { EX_RSET, EX_MAIL, EX_RCPT, EX_DATA, EX_EOM };
static const char *const exp_names[] = { "RSET", "MAIL", "RCPT", "DATA", "end of DATA" };

struct group;

struct job {
    struct job *next;
    char *from, *rcpt;
    char *data;                  /* CRLF, dot-stuffed, ends with ".\r\n" */
    size_t len;
    anpi_smtp_cb cb;
    void *arg;
    size_t relay;                /* index of the relay it is queued for */
    struct group *grp;           /* NULL only for jobs rejected at anpi_smtp_send */
    bool stale_retry;            /* already retried once after a reused connection died */
    bool reused;                 /* sent behind RSET on a connection that had a transaction */
    bool eightbit;               /* body has bytes >= 0x80 */
    bool utf8addr;               /* an envelope address has bytes >= 0x80 */
    struct anpi_smtp_outcome out;
};

struct jqueue {
    struct job *head, *tail;
    size_t n;
};

struct group {
    struct group *hnext;          /* hash chain */
    struct group *lnext;          /* all groups, creation order */
    struct anpi_limit_group lim;
    struct anpi_rate rate;
    struct jqueue *q;             /* one per relay */
    size_t waiting;               /* sum of q[].n */
    size_t *nconns;               /* per relay: connections working for this group now
                                     (caps are per relay, like max_connections) */
    size_t sent, deferred, failed;
    int64_t win_start_ms;         /* current-rate window */
    size_t win_count;
    double cur_rate;
};

struct relay {
    struct anpi_relay_conf conf;  /* deep copy */
    char hostport[HOST_MAX + 16];
    bool host_is_ip;
    SSL_CTX *ctx;                 /* NULL when tls == none */
    size_t nconns;                /* connections counted against max_connections */
    int fails;                    /* connection failures in a row */
    int64_t down_until_ms;        /* uv_now() time; 0 = up */
    size_t sent, deferred, failed;
};

struct exp {
    enum exp_kind kind;
    struct job *j;                /* NULL: its job already failed, ignore the reply */
};

struct conn {
    struct conn *prev, *next;     /* pool->conns */
    struct anpi_smtp_pool *pool;
    size_t relay;
    struct group *grp;            /* counted in grp->nconns while set */
    bool counted;                 /* still counted in relay->nconns */
    int refs;                     /* open handles + pending requests */
    bool closing;
    bool reconnecting;            /* tcp handle closed to try the next address */
    bool resolving;               /* getaddrinfo pending (holds a ref) */
    bool tcp_open;
    bool ready;                   /* reached CS_TXN once */

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
    bool ext_pipelining, ext_8bitmime, ext_smtputf8;
    struct job *job;              /* the job a new connection was opened for */
    int nmsgs;                    /* transactions started on this connection */
    bool body_pending;            /* a body write has not completed yet */

    struct exp exps[EXP_MAX];
    unsigned ehead, ecount;

    char readbuf[65536];
    char plain[16384];
};

struct anpi_smtp_pool {
    uv_loop_t *loop;
    struct relay *relays;
    size_t nrelays;
    char *helo;
    int timeout_s, max_conns, max_msgs;
    bool no_pipelining;
    struct anpi_smtp_limit *limits;   /* deep copy of opts->limits */
    size_t nlimits;
    double share;

    struct group *gtab[GROUP_BUCKETS];
    struct group *groups, *groups_tail;
    size_t ngroups;

    struct conn *conns;           /* every live connection */
    size_t nlive;
    size_t queued;                /* accepted by anpi_smtp_send, cb not yet run */

    uv_timer_t defer;             /* runs completions */
    bool defer_closed;
    struct job *done_head, *done_tail;

    uv_timer_t wake;              /* a token bucket or a down relay is due */
    bool wake_closed;
    uint64_t wake_due;            /* uv_now() of the armed wake-up, 0 = none */

    bool closing;
    void (*closed)(void *);
    void *closed_arg;
    struct anpi_smtp_stats stats;
};

static void conn_close(struct conn *c);
static void conn_fail(struct conn *c, const char *fmt, ...) ANPI_PRINTF(2, 3);
static void relay_dispatch(struct anpi_smtp_pool *p, size_t ri);
static void conn_next(struct conn *c);
static void tls_pump(struct conn *c);
static void pool_maybe_finish(struct anpi_smtp_pool *p);
static void conn_quit(struct conn *c);

/* ---- groups ------------------------------------------------------------------ */

static unsigned
hash_str(const char *s)
{
    unsigned h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

static int64_t
now_ms(const struct anpi_smtp_pool *p)
{
    return (int64_t)uv_now(p->loop);
}

static size_t
group_cap(const struct anpi_smtp_pool *p, const struct group *g)
{
    if (g->lim.is_default || g->lim.connections <= 0)
        return (size_t)p->max_conns;
    double c = ceil((double)g->lim.connections * p->share);
    return c < 1 ? 1 : (size_t)c;
}

static int
group_mpc(const struct anpi_smtp_pool *p, const struct group *g)
{
    int a = p->max_msgs, b = g ? g->lim.messages_per_connection : 0;
    if (a > 0 && b > 0)
        return a < b ? a : b;
    return a > 0 ? a : b;
}

static struct group *
group_for(struct anpi_smtp_pool *p, const char *rcpt)
{
    const char *at = strrchr(rcpt, '@');
    struct anpi_limit_group lim;
    anpi_limits_resolve(p->limits, p->nlimits, at ? at + 1 : "", &lim);
    unsigned b = hash_str(lim.name) % GROUP_BUCKETS;
    for (struct group *g = p->gtab[b]; g; g = g->hnext)
        if (strcmp(g->lim.name, lim.name) == 0)
            return g;
    struct group *g = anpi_xcalloc(1, sizeof(*g));
    g->lim = lim;
    g->q = anpi_xcalloc(p->nrelays, sizeof(*g->q));
    g->nconns = anpi_xcalloc(p->nrelays, sizeof(*g->nconns));
    anpi_rate_init(&g->rate, lim.rate, lim.burst, now_ms(p));
    anpi_rate_set_share(&g->rate, p->share);
    g->win_start_ms = now_ms(p);
    g->hnext = p->gtab[b];
    p->gtab[b] = g;
    if (p->groups_tail)
        p->groups_tail->lnext = g;
    else
        p->groups = g;
    p->groups_tail = g;
    p->ngroups++;
    return g;
}

static void
group_count_sent(struct anpi_smtp_pool *p, struct group *g)
{
    int64_t now = now_ms(p);
    g->win_count++;
    if (now - g->win_start_ms >= 1000) {
        g->cur_rate = (double)g->win_count * 1000.0 / (double)(now - g->win_start_ms);
        g->win_start_ms = now;
        g->win_count = 0;
    }
}

static void
conn_set_group(struct conn *c, struct group *g)
{
    if (c->grp == g)
        return;
    if (c->grp)
        c->grp->nconns[c->relay]--;
    c->grp = g;
    if (g)
        g->nconns[c->relay]++;
}

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
        struct relay *r = &p->relays[j->relay];
        if (j->out.result == ANPI_SMTP_SENT) {
            p->stats.messages_sent++;
            r->sent++;
            if (j->grp)
                j->grp->sent++;
        } else {
            p->stats.messages_failed++;
            if (j->out.result == ANPI_SMTP_TEMPFAIL) {
                p->stats.messages_deferred++;
                r->deferred++;
                if (j->grp)
                    j->grp->deferred++;
            } else {
                r->failed++;
                if (j->grp)
                    j->grp->failed++;
            }
        }
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
queue_push(struct anpi_smtp_pool *p, struct job *j, bool front)
{
    (void)p;
    struct jqueue *q = &j->grp->q[j->relay];
    j->next = NULL;
    if (!q->head) {
        q->head = q->tail = j;
    } else if (front) {
        j->next = q->head;
        q->head = j;
    } else {
        q->tail->next = j;
        q->tail = j;
    }
    q->n++;
    j->grp->waiting++;
}

static struct job *
queue_pop(struct group *g, size_t ri)
{
    struct jqueue *q = &g->q[ri];
    struct job *j = q->head;
    if (j) {
        q->head = j->next;
        if (!q->head)
            q->tail = NULL;
        q->n--;
        g->waiting--;
        j->next = NULL;
    }
    return j;
}

static bool
relay_is_down(const struct anpi_smtp_pool *p, size_t ri)
{
    return p->relays[ri].down_until_ms > now_ms(p);
}

/* The first relay from `from` on that is up, or nrelays. */
static size_t
relay_pick(const struct anpi_smtp_pool *p, size_t from)
{
    for (size_t i = from; i < p->nrelays; i++)
        if (!relay_is_down(p, i))
            return i;
    return p->nrelays;
}

/* Queue j on relay ri (or the next relay that is up); when every relay
 * from there on is down, report TEMPFAIL: the engine retries later. */
static void
job_route(struct anpi_smtp_pool *p, struct job *j, size_t from, bool front)
{
    size_t ri = relay_pick(p, from);
    if (ri >= p->nrelays) {
        anpi_smtp_policy_local(ANPI_SMTP_STAGE_CONNECT, "relay down (too many connection failures)",
                               &j->out);
        j->out.relay = p->relays[j->relay].hostport;
        job_complete(p, j);
        return;
    }
    j->relay = ri;
    queue_push(p, j, front);
    relay_dispatch(p, ri);
}

static void
on_wake(uv_timer_t *t)
{
    struct anpi_smtp_pool *p = t->data;
    p->wake_due = 0;
    for (size_t i = 0; i < p->nrelays && !p->closing; i++)
        relay_dispatch(p, i);
}

/* Run the dispatcher again in in_ms (the earliest request wins). */
static void
wake_arm(struct anpi_smtp_pool *p, int64_t in_ms)
{
    if (p->closing || p->wake_closed)
        return;
    uint64_t delay = (uint64_t)(in_ms > 0 ? in_ms : 1);
    uint64_t due = uv_now(p->loop) + delay;
    if (p->wake_due && p->wake_due <= due && uv_is_active((uv_handle_t *)&p->wake))
        return;
    p->wake_due = due;
    uv_timer_start(&p->wake, on_wake, delay, 0);
}

/* Three connection failures in a row: the relay is down for a while and
 * what waits for it moves on. */
static void
relay_conn_failed(struct anpi_smtp_pool *p, size_t ri)
{
    struct relay *r = &p->relays[ri];
    if (relay_is_down(p, ri) || ++r->fails < RELAY_FAILS_DOWN)
        return;
    r->fails = 0;
    r->down_until_ms = now_ms(p) + RELAY_DOWN_MS;
    p->stats.relays_marked_down++;
    anpi_warn(ANPI_LG_SMTP, "smtp %s: %d connection failures in a row, relay down for %d s",
              r->hostport, RELAY_FAILS_DOWN, RELAY_DOWN_MS / 1000);
    for (struct group *g = p->groups; g; g = g->lnext) {
        struct job *j;
        while ((j = queue_pop(g, ri)))
            job_route(p, j, ri + 1, false);
    }
}

/* The destination pushed back (421, 450): its group slows down. */
static void
group_pushback(struct anpi_smtp_pool *p, struct group *g, int code)
{
    if (!g || (code != 421 && code != 450))
        return;
    int64_t before = g->rate.last_slow_ms;
    anpi_rate_slowdown(&g->rate, now_ms(p), g->cur_rate);
    if (g->rate.last_slow_ms != before) {
        p->stats.slowdowns++;
        anpi_info(ANPI_LG_SMTP, "smtp group %s: %d from the destination, rate now %.1f/s",
                  g->lim.name, code, anpi_rate_effective(&g->rate, now_ms(p)));
    }
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
        relay_pick(p, j->relay + 1) < p->nrelays && anpi_smtp_policy_failover(st, &j->out)) {
        j->stale_retry = false;
        job_route(p, j, j->relay + 1, false);
        return;
    }
    job_complete(p, j);
}

/* ---- expectations -------------------------------------------------------------- */

static void
exp_push(struct conn *c, enum exp_kind k, struct job *j)
{
    /* EXP_MAX covers two transactions; callers never go beyond. */
    c->exps[(c->ehead + c->ecount) % EXP_MAX] = (struct exp){ k, j };
    c->ecount++;
}

static struct exp
exp_pop(struct conn *c)
{
    struct exp e = c->exps[c->ehead];
    c->ehead = (c->ehead + 1) % EXP_MAX;
    c->ecount--;
    return e;
}

static struct exp *
exp_head(struct conn *c)
{
    return c->ecount ? &c->exps[c->ehead] : NULL;
}

/* j is finished: later replies for it are read and ignored. */
static void
exp_forget(struct conn *c, const struct job *j)
{
    for (unsigned i = 0; i < c->ecount; i++)
        if (c->exps[(c->ehead + i) % EXP_MAX].j == j)
            c->exps[(c->ehead + i) % EXP_MAX].j = NULL;
}

static enum anpi_smtp_stage
exp_stage(const struct conn *c, enum exp_kind k)
{
    switch (k) {
    case EX_RSET: return ANPI_SMTP_STAGE_RSET;
    case EX_MAIL: return ANPI_SMTP_STAGE_MAIL;
    case EX_RCPT: return ANPI_SMTP_STAGE_RCPT;
    case EX_DATA: return ANPI_SMTP_STAGE_DATA;
    default: return c->body_pending ? ANPI_SMTP_STAGE_BODY : ANPI_SMTP_STAGE_EOM;
    }
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
    case CS_TXN: {
        const struct exp *e = exp_head(c);
        if (e && e->kind == EX_EOM)
            conn_fail(c, c->body_pending ? "timeout sending message body"
                                         : "timeout waiting for reply to end of DATA");
        else
            conn_fail(c, "timeout waiting for reply to %s", e ? exp_names[e->kind] : "command");
        return;
    }
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
    if (last) {
        /* The whole body is out: from now on wait for the final reply. */
        c->body_pending = false;
        if (c->ecount)
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
/* Send one command line and wait for its reply in state st (set-up). */
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
    struct anpi_smtp_pool *p = c->pool;
    if (c->counted) {
        c->counted = false;
        p->relays[c->relay].nconns--;
    }
    conn_set_group(c, NULL);
    int wait = p->timeout_s < QUIT_WAIT_MAX_S ? p->timeout_s : QUIT_WAIT_MAX_S;
    conn_cmd(c, CS_QUIT, "QUIT");
    if (!c->closing)
        conn_arm(c, wait);
}

/* Append the command line for step k of job j to b. */
static int
txn_line(struct conn *c, struct job *j, enum exp_kind k, struct anpi_buf *b)
{
    switch (k) {
    case EX_RSET:
        return anpi_buf_puts(b, "RSET\r\n");
    case EX_MAIL: {
        int r = anpi_buf_printf(b, "MAIL FROM:<%s>", j->from);
        if (r == 0 && c->ext_size)
            r = anpi_buf_printf(b, " SIZE=%zu", j->len);
        if (r == 0 && j->eightbit && c->ext_8bitmime)
            r = anpi_buf_puts(b, " BODY=8BITMIME");
        if (r == 0 && j->utf8addr && c->ext_smtputf8)
            r = anpi_buf_puts(b, " SMTPUTF8");
        return r == 0 ? anpi_buf_puts(b, "\r\n") : r;
    }
    case EX_RCPT:
        return anpi_buf_printf(b, "RCPT TO:<%s>\r\n", j->rcpt);
    case EX_DATA:
        return anpi_buf_puts(b, "DATA\r\n");
    default:
        return ANPI_ERROR;
    }
}

/* Send the commands of step k of j (and, with PIPELINING, every step up to
 * DATA) and leave their expectations. */
static void
txn_send_from(struct conn *c, struct job *j, enum exp_kind k)
{
    struct anpi_buf b;
    anpi_buf_init(&b, 4096);
    bool pipe = c->ext_pipelining && !c->pool->no_pipelining;
    enum exp_kind last = pipe ? EX_DATA : k;
    int r = 0;
    for (enum exp_kind i = k; i <= last && r == 0; i++)
        r = txn_line(c, j, i, &b);
    if (r != 0) {
        anpi_buf_free(&b);
        conn_fail(c, "command too long");
        return;
    }
    for (enum exp_kind i = k; i <= last; i++)
        exp_push(c, i, j);
    if (pipe && k <= EX_MAIL)
        c->pool->stats.txn_pipelined++;
    conn_send(c, b.data, b.len, false);
    anpi_buf_free(&b);
}

/* Start the transaction of j on c (RSET first when the connection was used). */
static void
txn_start(struct conn *c, struct job *j)
{
    if (j->utf8addr && !c->ext_smtputf8) {
        anpi_smtp_policy_local(ANPI_SMTP_STAGE_MAIL,
                               "address is not ASCII and the relay does not offer SMTPUTF8", &j->out);
        j->out.result = ANPI_SMTP_PERMFAIL;
        job_finish(c->pool, j, ANPI_SMTP_STAGE_MAIL);
        return;
    }
    j->reused = c->nmsgs > 0;
    c->nmsgs++;
    txn_send_from(c, j, j->reused ? EX_RSET : EX_MAIL);
}

/* A job for connection c from its own group, or from another group this
 * relay has work for (the connection changes group).  Takes the group's
 * token; NULL when nothing may go now (the wake timer is armed when a
 * bucket is what holds it back). */
static struct job *
conn_pick_job(struct conn *c)
{
    struct anpi_smtp_pool *p = c->pool;
    size_t ri = c->relay;
    int64_t now = now_ms(p);
    int64_t wait_min = 0;
    for (int pass = 0; pass < 2; pass++) {
        for (struct group *g = pass == 0 ? c->grp : p->groups; g; g = pass == 0 ? NULL : g->lnext) {
            if (pass == 1 && g == c->grp)
                continue;
            if (!g->q[ri].n)
                continue;
            int mpc = group_mpc(p, g);
            if (mpc > 0 && c->nmsgs >= mpc)
                continue;
            if (g != c->grp && g->nconns[ri] >= group_cap(p, g))
                continue;
            int64_t w = anpi_rate_take(&g->rate, now,
                                       g->lim.carrier && anpi_limits_quiet_window(anpi_now_ms()));
            if (w > 0) {
                if (!wait_min || w < wait_min)
                    wait_min = w;
                continue;
            }
            conn_set_group(c, g);
            return queue_pop(g, ri);
        }
    }
    if (wait_min > 0)
        wake_arm(p, wait_min);
    return NULL;
}

/* Connection set up (EHLO, TLS, AUTH done): start on the job it was made
 * for, or take the next one. */
static void
conn_ready(struct conn *c)
{
    struct anpi_smtp_pool *p = c->pool;
    p->relays[c->relay].fails = 0;
    c->ready = true;
    conn_enter(c, CS_TXN);
    struct job *j = c->job;
    c->job = NULL;
    if (j) {
        txn_start(c, j);
        if (c->closing)
            return;
        if (c->ecount) {
            conn_arm(c, p->timeout_s);
            return;
        }
    }
    conn_next(c);
}

/* Nothing in flight on c: take the next job, go idle, or QUIT. */
static void
conn_next(struct conn *c)
{
    struct anpi_smtp_pool *p = c->pool;
    if (c->closing)
        return;
    if (p->closing || relay_is_down(p, c->relay)) {
        conn_quit(c);
        return;
    }
    int mpc = group_mpc(p, c->grp);
    bool full = mpc > 0 && c->nmsgs >= mpc;
    for (;;) {
        struct job *j = conn_pick_job(c);
        if (!j)
            break;
        txn_start(c, j);
        if (c->closing)
            return;
        if (c->ecount) {
            conn_enter(c, CS_TXN);
            conn_arm(c, p->timeout_s);
            return;
        }
    }
    /* Its own group's per-connection cap is used up and that group still
     * has mail: make room for a fresh connection. */
    if (full && c->grp && c->grp->q[c->relay].n) {
        conn_quit(c);
        relay_dispatch(p, c->relay);
        return;
    }
    if (p->max_msgs > 0 && c->nmsgs >= p->max_msgs) {
        conn_quit(c);
        relay_dispatch(p, c->relay);
        return;
    }
    conn_set_group(c, NULL);
    conn_enter(c, CS_IDLE);
    conn_arm(c, p->timeout_s < IDLE_MAX_S ? p->timeout_s : IDLE_MAX_S);
}

/* Jobs still in flight on a connection that is going away: one whose
 * body went out gets the failure (it may have been delivered, never
 * resend); the others never started and go back to the queue once. */
static void
conn_drop_jobs(struct conn *c, const char *text)
{
    struct anpi_smtp_pool *p = c->pool;
    bool first = true;
    while (c->ecount) {
        struct exp e = exp_pop(c);
        struct job *j = e.j;
        if (!j)
            continue;
        enum anpi_smtp_stage st = exp_stage(c, e.kind);
        exp_forget(c, j);
        bool behind = !first;     /* pipelined behind another transaction */
        first = false;
        if (e.kind != EX_EOM && !p->closing && !j->stale_retry &&
            ((e.kind == EX_RSET && j->reused) || behind)) {
            /* A reused connection the server had already dropped: the
             * message never started, give it a fresh connection. */
            j->stale_retry = true;
            queue_push(p, j, true);
            continue;
        }
        if (p->closing)
            anpi_smtp_policy_local(st, "shutting down", &j->out);
        else
            anpi_smtp_policy_local(st, text, &j->out);
        job_finish(p, j, st);
    }
}

/* Local failure: the jobs (if any) get TEMPFAIL with text, the connection
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
    bool setup = !c->ready;
    conn_close(c);
    if (j) {
        anpi_smtp_policy_local(st, text, &j->out);
        job_finish(p, j, st);
    }
    conn_drop_jobs(c, text);
    if (setup)
        relay_conn_failed(p, c->relay);
    relay_dispatch(p, c->relay);
}

/* ---- EHLO capabilities, AUTH ------------------------------------------------ */

static void
ext_clear(struct conn *c)
{
    c->ext_starttls = c->ext_size = c->ext_auth_plain = c->ext_auth_login = false;
    c->ext_pipelining = c->ext_8bitmime = c->ext_smtputf8 = false;
}

static void
parse_ehlo(struct conn *c, const struct anpi_smtp_reply *rep)
{
    c->esmtp = true;
    ext_clear(c);
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
        } else if (strcasecmp(kw, "PIPELINING") == 0) {
            c->ext_pipelining = true;
        } else if (strcasecmp(kw, "8BITMIME") == 0) {
            c->ext_8bitmime = true;
        } else if (strcasecmp(kw, "SMTPUTF8") == 0) {
            c->ext_smtputf8 = true;
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

static bool
conn_pipelining(const struct conn *c)
{
    return c->ext_pipelining && !c->pool->no_pipelining;
}

/* 354 for a live job: the body, then (PIPELINING) the next envelope right
 * behind the final dot. */
static void
txn_body(struct conn *c, struct job *j)
{
    struct anpi_smtp_pool *p = c->pool;
    exp_push(c, EX_EOM, j);
    c->body_pending = true;
    conn_send(c, j->data, j->len, true);
    if (c->closing || !conn_pipelining(c) || c->ecount != 1 || p->closing ||
        relay_is_down(p, c->relay))
        return;
    struct job *n;
    while (c->ecount == 1 && !c->closing && (n = conn_pick_job(c)))
        txn_start(c, n);
}

/* A reply while in CS_TXN: match it to the oldest expectation. */
static void
txn_reply(struct conn *c, const struct anpi_smtp_reply *rep)
{
    struct anpi_smtp_pool *p = c->pool;
    int code = rep->code;
    struct exp *h = exp_head(c);
    if (!h) {
        conn_fail(c, "protocol error: unexpected reply %d", code);
        return;
    }
    if (h->kind == EX_EOM && c->body_pending) {
        if (uv_stream_get_write_queue_size((uv_stream_t *)&c->tcp) > 0) {
            /* RFC 5321 4.3.2: no reply before the final ".".  A server
             * that answers (or gives up) while we are still sending has
             * not judged this message: not a reason to bounce it. */
            conn_fail(c, "protocol error: reply %d before end of DATA", code);
            return;
        }
        c->body_pending = false;   /* all handed to the kernel; write callback still queued */
    }
    struct exp e = exp_pop(c);
    struct job *j = e.j;
    enum anpi_smtp_stage st = exp_stage(c, e.kind);
    bool ok;
    switch (e.kind) {
    case EX_RCPT: ok = code == 250 || code == 251; break;
    case EX_DATA: ok = code == 354; break;
    default: ok = code == 250; break;
    }

    if (e.kind == EX_RSET && !ok) {
        /* The server will not reset: this connection is of no more use. */
        if (j) {
            exp_forget(c, j);
            anpi_smtp_policy_reply(st, code, rep->enhanced, rep->lines, &j->out);
            group_pushback(p, j->grp, code);
            job_finish(p, j, st);
        }
        conn_close(c);
        conn_drop_jobs(c, "connection dropped: RSET refused");
        relay_dispatch(p, c->relay);
        return;
    }
    if (e.kind == EX_DATA && ok) {
        if (j) {
            txn_body(c, j);
        } else {
            /* A failed envelope the server still opened DATA for (it
             * should not): end that empty transaction. */
            exp_push(c, EX_EOM, NULL);
            conn_send(c, ".\r\n", 3, false);
        }
    } else if (j && !ok) {
        exp_forget(c, j);
        anpi_smtp_policy_reply(st, code, rep->enhanced, rep->lines, &j->out);
        group_pushback(p, j->grp, code);
        job_finish(p, j, st);
    } else if (j && e.kind == EX_EOM) {
        anpi_smtp_policy_local(ANPI_SMTP_STAGE_EOM, rep->lines, &j->out);
        j->out.result = ANPI_SMTP_SENT;
        j->out.code = code;
        snprintf(j->out.enhanced, sizeof(j->out.enhanced), "%s", rep->enhanced);
        exp_forget(c, j);
        if (j->grp)
            group_count_sent(p, j->grp);
        job_finish(p, j, ANPI_SMTP_STAGE_EOM);
    } else if (j && !conn_pipelining(c) && e.kind < EX_DATA) {
        txn_send_from(c, j, (enum exp_kind)(e.kind + 1));
    }
    if (c->closing)
        return;
    if (code == 421) {
        /* The server is going away: what is still in flight never got an
         * answer. */
        if (!j)
            group_pushback(p, c->grp, code);
        conn_close(c);
        conn_drop_jobs(c, "connection closed by peer after 421");
        relay_dispatch(p, c->relay);
        return;
    }
    if (c->ecount) {
        conn_arm(c, p->timeout_s);
        return;
    }
    uv_timer_stop(&c->timer);
    conn_next(c);
}

static void
on_reply(struct conn *c, const struct anpi_smtp_reply *rep)
{
    struct anpi_smtp_pool *p = c->pool;
    const struct anpi_relay_conf *rc = &p->relays[c->relay].conf;
    int code = rep->code;
    uv_timer_stop(&c->timer);

    switch (c->st) {
    case CS_TXN:
        txn_reply(c, rep);
        return;
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
        ext_clear(c);
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
    group_pushback(p, j ? j->grp : c->grp, code);
    conn_close(c);
    if (j) {
        anpi_smtp_policy_reply(st, code, rep->enhanced, rep->lines, &j->out);
        job_finish(p, j, st);
    }
    relay_conn_failed(p, c->relay);
    relay_dispatch(p, c->relay);
}

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
    ext_clear(c);
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
    conn_set_group(c, NULL);
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
conn_new(struct anpi_smtp_pool *p, size_t ri, struct group *g, struct job *j)
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
    conn_set_group(c, g);

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

/* Give relay ri's waiting jobs to idle connections, then open new ones
 * within the relay's and each group's connection caps and token buckets. */
static void
relay_dispatch(struct anpi_smtp_pool *p, size_t ri)
{
    struct relay *r = &p->relays[ri];
    if (p->closing)
        return;
    if (relay_is_down(p, ri)) {
        for (struct group *g = p->groups; g; g = g->lnext) {
            struct job *j;
            while ((j = queue_pop(g, ri)))
                job_route(p, j, ri + 1, false);
        }
        return;
    }
    bool any = false;
    for (struct group *g = p->groups; g && !any; g = g->lnext)
        any = g->q[ri].n > 0;
    if (!any)
        return;
    struct conn *next;
    for (struct conn *c = p->conns; c; c = next) {
        next = c->next;
        if (c->relay == ri && c->st == CS_IDLE && !c->closing) {
            uv_timer_stop(&c->timer);
            conn_next(c);
        }
    }
    int64_t now = now_ms(p);
    for (struct group *g = p->groups; g && !p->closing; g = g->lnext) {
        while (g->q[ri].n && r->nconns < (size_t)p->max_conns && g->nconns[ri] < group_cap(p, g) &&
               !relay_is_down(p, ri)) {
            int64_t w = anpi_rate_take(&g->rate, now,
                                       g->lim.carrier && anpi_limits_quiet_window(anpi_now_ms()));
            if (w > 0) {
                wake_arm(p, w);
                break;
            }
            conn_new(p, ri, g, queue_pop(g, ri));
        }
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
    struct group *gn;
    for (struct group *g = p->groups; g; g = gn) {
        gn = g->lnext;
        free(g->q);
        free(g->nconns);
        free(g);
    }
    for (size_t i = 0; i < p->nlimits; i++)
        free(p->limits[i].match);
    free(p->limits);
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
    p->no_pipelining = opts && opts->no_pipelining;
    p->share = 1.0;
    if (opts && opts->nlimits && opts->limits) {
        p->limits = anpi_xcalloc(opts->nlimits, sizeof(*p->limits));
        p->nlimits = opts->nlimits;
        for (size_t i = 0; i < opts->nlimits; i++) {
            p->limits[i] = opts->limits[i];
            p->limits[i].match = anpi_xstrdup(opts->limits[i].match ? opts->limits[i].match : "");
        }
    }
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
    uv_timer_init(loop, &p->wake);
    p->wake.data = p;
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

static bool
has_high_bytes(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] >= 0x80)
            return true;
    return false;
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
    j->eightbit = has_high_bytes(j->data, j->len);
    j->utf8addr = has_high_bytes(j->from, strlen(j->from)) || has_high_bytes(j->rcpt, strlen(j->rcpt));
    j->grp = group_for(p, rcpt);
    job_route(p, j, 0, false);
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

size_t
anpi_smtp_pool_relay_stats(const struct anpi_smtp_pool *p, struct anpi_smtp_relay_stats *out,
                           size_t max)
{
    for (size_t i = 0; i < p->nrelays && i < max; i++) {
        const struct relay *r = &p->relays[i];
        out[i] = (struct anpi_smtp_relay_stats){
            .relay = r->hostport, .down = relay_is_down(p, i), .connections = r->nconns,
            .sent = r->sent, .deferred = r->deferred, .failed = r->failed,
        };
    }
    return p->nrelays;
}

size_t
anpi_smtp_pool_group_stats(const struct anpi_smtp_pool *p, struct anpi_smtp_group_stats *out,
                           size_t max)
{
    size_t i = 0;
    int64_t now = now_ms(p);
    for (struct group *g = p->groups; g; g = g->lnext, i++) {
        if (i >= max)
            continue;
        /* A window that ended long ago says nothing about now. */
        double cur = now - g->win_start_ms > 3000 ? 0.0 : g->cur_rate;
        size_t nc = 0;
        for (size_t k = 0; k < p->nrelays; k++)
            nc += g->nconns[k];
        out[i] = (struct anpi_smtp_group_stats){
            .group = g->lim.name, .queued = g->waiting, .connections = nc,
            .sent = g->sent, .deferred = g->deferred, .failed = g->failed,
            .rate_limit = anpi_rate_effective(&g->rate, now), .current_rate = cur,
        };
    }
    return p->ngroups;
}

void
anpi_smtp_set_share(struct anpi_smtp_pool *p, unsigned numerator, unsigned denominator)
{
    if (!p || denominator == 0 || numerator == 0)
        return;
    p->share = numerator >= denominator ? 1.0 : (double)numerator / (double)denominator;
    for (struct group *g = p->groups; g; g = g->lnext)
        anpi_rate_set_share(&g->rate, p->share);
}

static void
on_handle_closed_pool(uv_handle_t *h)
{
    struct anpi_smtp_pool *p = h->data;
    if (h == (uv_handle_t *)&p->defer)
        p->defer_closed = true;
    else
        p->wake_closed = true;
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
    if (!p->wake_closed) {
        if (!uv_is_closing((uv_handle_t *)&p->wake))
            uv_close((uv_handle_t *)&p->wake, on_handle_closed_pool);
        return;
    }
    if (!p->defer_closed) {
        if (!uv_is_closing((uv_handle_t *)&p->defer))
            uv_close((uv_handle_t *)&p->defer, on_handle_closed_pool);
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
    uv_timer_stop(&p->wake);
    for (struct group *g = p->groups; g; g = g->lnext) {
        for (size_t i = 0; i < p->nrelays; i++) {
            struct job *j;
            while ((j = queue_pop(g, i))) {
                anpi_smtp_policy_local(ANPI_SMTP_STAGE_CONNECT, "shutting down", &j->out);
                j->out.relay = p->relays[i].hostport;
                job_complete(p, j);
            }
        }
    }
    struct conn *next;
    for (struct conn *c = p->conns; c; c = next) {
        next = c->next;
        if (c->closing)
            continue;
        if (c->job || c->ecount) {
            struct job *j = c->job;
            c->job = NULL;
            if (j) {
                anpi_smtp_policy_local(conn_stage(c), "shutting down", &j->out);
                j->out.relay = p->relays[c->relay].hostport;
                job_complete(p, j);
            }
            conn_close(c);
            conn_drop_jobs(c, "shutting down");
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
