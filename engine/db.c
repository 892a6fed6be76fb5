/* db.c - asynchronous libpq connection pool on the libuv loop.
 *
 * Lifecycle rules (libuv's): a uv_poll_t is heap-allocated and freed only
 * in its close callback; libpq may close and reopen its socket during
 * PQconnectPoll (even with the same fd number), so the poll handle is
 * closed before every PQconnectPoll and a fresh one is made afterwards
 * (see shared/REFERENCE.md). */
#include "engine/db.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/anpi.h"
#include "engine/log.h"
#include "engine/migrations.h"

enum conn_state { C_DOWN, C_CONNECTING, C_IDLE, C_BUSY };

struct query {
    struct query *next;
    char *sql;
    int nparams;
    char **params;
    anpi_db_cb cb;
    void *arg;
};

struct waiter {
    struct waiter *next;
    anpi_db_lease_cb cb;
    void *arg;
};

struct anpi_db_conn {
    struct anpi_db *db;
    int index;
    PGconn *pg;
    uv_poll_t *poll;
    uv_timer_t retry;
    enum conn_state state;
    bool leased;
    bool rolling_back;
    struct query *cur;
    struct query *own_head, *own_tail;   /* leased: this connection's queue */
    unsigned backoff_ms;
    PGresult *pending;                   /* result collected until PQgetResult returns NULL */
    int listens;                         /* listeners whose LISTEN this connection has sent */
};

struct listener;

struct anpi_db {
    uv_loop_t *loop;
    char *conninfo;
    int n;
    struct anpi_db_conn *conns;
    struct query *q_head, *q_tail;       /* shared queue */
    struct waiter *w_head, *w_tail;      /* lease waiters */
    struct listener *listeners;          /* anpi_db_listen(), in order */
    int nlisteners;
    unsigned long queued;
    bool closing;
    int open_handles;
    void (*closed)(void *);
    void *closed_arg;
};

/* A LISTEN connection (anpi_db_listen): outside the pool, never leased. */
enum listen_state { L_DOWN, L_CONNECTING, L_STARTING, L_READY };

struct listener {
    struct anpi_db *db;
    struct listener *next;
    char *channel;
    void (*cb)(const char *payload, void *arg);
    void *arg;
    PGconn *pg;
    uv_poll_t *poll;
    uv_timer_t retry;
    enum listen_state state;
    unsigned backoff_ms;
};

static void conn_connect(struct anpi_db_conn *c);
static void pool_notified(struct anpi_db_conn *c);
static void conn_dispatch(struct anpi_db *db);
static void conn_io(uv_poll_t *h, int status, int events);

static struct query *
query_new(const char *sql, int nparams, const char *const *params, anpi_db_cb cb, void *arg)
{
    struct query *q = anpi_xcalloc(1, sizeof(*q));
    q->sql = anpi_xstrdup(sql);
    q->nparams = nparams;
    if (nparams > 0) {
        q->params = anpi_xcalloc((size_t)nparams, sizeof(char *));
        for (int i = 0; i < nparams; i++)
            q->params[i] = params[i] ? anpi_xstrdup(params[i]) : NULL;
    }
    q->cb = cb;
    q->arg = arg;
    return q;
}

static void
query_free(struct query *q)
{
    for (int i = 0; i < q->nparams; i++)
        free(q->params[i]);
    free(q->params);
    free(q->sql);
    free(q);
}


static void
maybe_closed(struct anpi_db *db)
{
    if (db->closing && db->open_handles == 0) {
        void (*cb)(void *) = db->closed;
        void *arg = db->closed_arg;
        while (db->listeners) {
            struct listener *l = db->listeners;
            db->listeners = l->next;
            free(l->channel);
            free(l);
        }
        free(db->conns);
        free(db->conninfo);
        free(db);
        if (cb)
            cb(arg);
    }
}

/* The loop handles of a pool connection and of a listener.  Both owners
 * begin with their struct anpi_db * (a pointer to a struct may be read as
 * a pointer to its first member), which is all the close callbacks need;
 * the poll callbacks get the owner itself. */
static struct anpi_db *
owner_db(const uv_handle_t *h)
{
    return *(struct anpi_db *const *)h->data;
}

static void
poll_closed(uv_handle_t *h)
{
    struct anpi_db *db = owner_db(h);
    free(h);
    db->open_handles--;
    maybe_closed(db);
}

static void
timer_closed(uv_handle_t *h)
{
    struct anpi_db *db = owner_db(h);
    db->open_handles--;
    maybe_closed(db);
}

static void
poll_close(uv_poll_t **slot)
{
    if (*slot) {
        uv_poll_stop(*slot);
        uv_close((uv_handle_t *)*slot, poll_closed);
        *slot = NULL;
    }
}

/* Watch pg's socket for events: cb gets owner (which begins with db). */
static int
poll_open(struct anpi_db *db, PGconn *pg, uv_poll_t **slot, void *owner, int events, uv_poll_cb cb)
{
    int fd = PQsocket(pg);
    if (fd < 0)
        return ANPI_ERROR;
    *slot = anpi_xmalloc(sizeof(**slot));
    if (uv_poll_init_socket(db->loop, *slot, fd) != 0) {
        free(*slot);
        *slot = NULL;
        return ANPI_ERROR;
    }
    (*slot)->data = owner;
    db->open_handles++;
    uv_poll_start(*slot, events, cb);
    return ANPI_OK;
}

static void
fail_query(struct query *q, const char *err)
{
    if (q->cb)
        q->cb(q->arg, NULL, err);
    query_free(q);
}

static void
retry_cb(uv_timer_t *t)
{
    conn_connect(t->data);
}

/* The wait after a failed connection: 250 ms, doubling up to 10 s. */
static unsigned
next_backoff(unsigned ms)
{
    return ms ? (ms >= 5000 ? 10000 : ms * 2) : 250;
}

static void
conn_broken(struct anpi_db_conn *c, const char *why)
{
    char msg[512];
    snprintf(msg, sizeof(msg), "%s", why && *why ? why : "connection lost");
    msg[strcspn(msg, "\n")] = '\0';
    anpi_warn(ANPI_LG_DB, "connection %d: %s", c->index, msg);
    poll_close(&c->poll);
    if (c->pending) {
        PQclear(c->pending);
        c->pending = NULL;
    }
    if (c->pg) {
        PQfinish(c->pg);
        c->pg = NULL;
    }
    c->state = C_DOWN;
    c->rolling_back = false;
    c->listens = 0;
    if (c->cur) {
        struct query *q = c->cur;
        c->cur = NULL;
        fail_query(q, msg);
    }
    /* a lease holder's transaction is gone with the connection: fail its
     * queued statements; it must call anpi_db_release() as usual */
    while (c->own_head) {
        struct query *q = c->own_head;
        c->own_head = q->next;
        fail_query(q, msg);
    }
    c->own_tail = NULL;
    if (c->db->closing)
        return;
    c->backoff_ms = next_backoff(c->backoff_ms);
    uv_timer_start(&c->retry, retry_cb, c->backoff_ms, 0);
}

/* One step of PQconnectPoll on pg (a pool connection's or a listener's),
 * its socket then watched for what libpq waits for.  1: connected, not
 * watched; 0: waiting; ANPI_ERROR: broken, why set (valid until pg is
 * finished). */
static int
connect_poll(struct anpi_db *db, PGconn *pg, uv_poll_t **slot, void *owner, uv_poll_cb cb, const char **why)
{
    /* libpq may swap the socket during PQconnectPoll (see the top) */
    poll_close(slot);
    int events;
    switch (PQconnectPoll(pg)) {
    case PGRES_POLLING_OK:
        return 1;
    case PGRES_POLLING_READING:
        events = UV_READABLE;
        break;
    case PGRES_POLLING_WRITING:
        events = UV_WRITABLE;
        break;
    default:
        *why = PQerrorMessage(pg);
        return ANPI_ERROR;
    }
    if (poll_open(db, pg, slot, owner, events, cb) != ANPI_OK) {
        *why = "cannot watch the database socket";
        return ANPI_ERROR;
    }
    return 0;
}

static void
connect_step(struct anpi_db_conn *c)
{
    const char *why = NULL;
    int rc = connect_poll(c->db, c->pg, &c->poll, c, conn_io, &why);
    if (rc < 0) {
        conn_broken(c, why);
        return;
    }
    if (rc == 0)
        return;
    PQsetnonblocking(c->pg, 1);
    c->state = C_IDLE;
    c->backoff_ms = 0;
    anpi_debug(ANPI_LG_DB, "connection %d ready", c->index);
    if (poll_open(c->db, c->pg, &c->poll, c, UV_READABLE, conn_io) != ANPI_OK)
        conn_broken(c, "cannot watch the database socket");
    else
        conn_dispatch(c->db);
}

static void
conn_connect(struct anpi_db_conn *c)
{
    if (c->db->closing)
        return;
    c->pg = PQconnectStart(c->db->conninfo);
    if (!c->pg) {
        conn_broken(c, "out of memory");
        return;
    }
    if (PQstatus(c->pg) == CONNECTION_BAD) {
        conn_broken(c, PQerrorMessage(c->pg));
        return;
    }
    c->state = C_CONNECTING;
    connect_step(c);
}

static void
finish_query(struct anpi_db_conn *c)
{
    struct query *q = c->cur;
    PGresult *last = c->pending;
    c->cur = NULL;
    c->pending = NULL;
    c->state = C_IDLE;
    if (c->rolling_back) {
        /* a release with an open transaction ends only now */
        c->rolling_back = false;
        c->leased = false;
    }
    if (q) {
        ExecStatusType st = last ? PQresultStatus(last) : PGRES_FATAL_ERROR;
        if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK || st == PGRES_EMPTY_QUERY) {
            if (q->cb)
                q->cb(q->arg, last, NULL);
        } else {
            char msg[1024];
            const char *e = last ? PQresultErrorMessage(last) : PQerrorMessage(c->pg);
            snprintf(msg, sizeof(msg), "%s", e && *e ? e : "query failed");
            msg[strcspn(msg, "\n")] = '\0';
            anpi_warn(ANPI_LG_DB, "query failed: %s", msg);
            if (q->cb)
                q->cb(q->arg, NULL, msg);
        }
        query_free(q);
    }
    if (last)
        PQclear(last);
    conn_dispatch(c->db);
}

static void
conn_read(struct anpi_db_conn *c)
{
    if (!PQconsumeInput(c->pg)) {
        conn_broken(c, PQerrorMessage(c->pg));
        return;
    }
    pool_notified(c);
    if (c->state != C_BUSY)
        return;
    while (!PQisBusy(c->pg)) {
        PGresult *r = PQgetResult(c->pg);
        if (!r) {
            /* this session's own notifications come before its
             * ReadyForQuery: handled before the statement's callback */
            pool_notified(c);
            finish_query(c);
            return;
        }
        /* keep the first error, else the latest result */
        if (c->pending && PQresultStatus(c->pending) == PGRES_FATAL_ERROR) {
            PQclear(r);
            continue;
        }
        if (c->pending)
            PQclear(c->pending);
        c->pending = r;
    }
}

static void
conn_io(uv_poll_t *h, int status, int events)
{
    struct anpi_db_conn *c = h->data;
    if (c->state == C_CONNECTING) {
        /* POLLERR arrives as status UV_EBADF with no events: libpq decides */
        connect_step(c);
        return;
    }
    if (status < 0)
        events = UV_READABLE | UV_WRITABLE;
    if (events & UV_WRITABLE) {
        int f = PQflush(c->pg);
        if (f < 0) {
            conn_broken(c, PQerrorMessage(c->pg));
            return;
        }
        if (f == 0)
            uv_poll_start(c->poll, UV_READABLE, conn_io);
    }
    if (events & UV_READABLE)
        conn_read(c);
}

static void
conn_send(struct anpi_db_conn *c, struct query *q)
{
    c->cur = q;
    c->state = C_BUSY;
    if (!PQsendQueryParams(c->pg, q->sql, q->nparams, NULL, (const char *const *)q->params,
                           NULL, NULL, 0)) {
        conn_broken(c, PQerrorMessage(c->pg));
        return;
    }
    int f = PQflush(c->pg);
    if (f < 0) {
        conn_broken(c, PQerrorMessage(c->pg));
        return;
    }
    uv_poll_start(c->poll, f ? UV_READABLE | UV_WRITABLE : UV_READABLE, conn_io);
}

/* Pool connections LISTEN too (outside any lease, so never inside a
 * caller's transaction).  Not to learn of other sessions' changes (the
 * listener's own connection does that) but for this process's own: a
 * session's own notifications reach it before its ReadyForQuery, so a
 * change made through this node is handled before the callback of the
 * statement that made it, and so before any answer that reports it. */
static bool
pool_listen(struct anpi_db_conn *c)
{
    struct listener *l = c->db->listeners;
    for (int k = 0; l && k < c->listens; k++)
        l = l->next;
    c->listens++;
    if (!l)
        return false;
    char *id = PQescapeIdentifier(c->pg, l->channel, strlen(l->channel));
    if (!id)
        return false;
    char *sql = anpi_xasprintf("LISTEN %s", id);
    PQfreemem(id);
    struct query *q = query_new(sql, 0, NULL, NULL, NULL);
    free(sql);
    conn_send(c, q);
    return true;
}

static void
conn_dispatch(struct anpi_db *db)
{
    for (int i = 0; i < db->n; i++) {
        struct anpi_db_conn *c = &db->conns[i];
        if (c->state != C_IDLE)
            continue;
        if (!c->leased && c->listens < db->nlisteners && pool_listen(c))
            continue;
        if (c->leased) {
            if (c->own_head) {
                struct query *q = c->own_head;
                c->own_head = q->next;
                if (!c->own_head)
                    c->own_tail = NULL;
                conn_send(c, q);
            }
            continue;
        }
        if (db->w_head) {
            struct waiter *w = db->w_head;
            db->w_head = w->next;
            if (!db->w_head)
                db->w_tail = NULL;
            c->leased = true;
            w->cb(w->arg, c);
            free(w);
            /* the callback may have queued work or released: look again */
            i = -1;
            continue;
        }
        if (db->q_head) {
            struct query *q = db->q_head;
            db->q_head = q->next;
            if (!db->q_head)
                db->q_tail = NULL;
            db->queued--;
            conn_send(c, q);
        }
    }
}

int
anpi_db_create(uv_loop_t *loop, const char *conninfo, int pool_size, struct anpi_db **out)
{
    struct anpi_db *db = anpi_xcalloc(1, sizeof(*db));
    db->loop = loop;
    db->conninfo = anpi_xstrdup(conninfo);
    db->n = pool_size > 0 ? pool_size : 4;
    db->conns = anpi_xcalloc((size_t)db->n, sizeof(*db->conns));
    for (int i = 0; i < db->n; i++) {
        struct anpi_db_conn *c = &db->conns[i];
        c->db = db;
        c->index = i;
        uv_timer_init(loop, &c->retry);
        c->retry.data = c;
        db->open_handles++;
    }
    for (int i = 0; i < db->n; i++)
        conn_connect(&db->conns[i]);
    *out = db;
    return ANPI_OK;
}

void
anpi_db_close(struct anpi_db *db, void (*closed)(void *), void *arg)
{
    db->closing = true;
    db->closed = closed;
    db->closed_arg = arg;
    while (db->q_head) {
        struct query *q = db->q_head;
        db->q_head = q->next;
        fail_query(q, "shutting down");
    }
    db->q_tail = NULL;
    while (db->w_head) {
        struct waiter *w = db->w_head;
        db->w_head = w->next;
        free(w);
    }
    for (int i = 0; i < db->n; i++) {
        struct anpi_db_conn *c = &db->conns[i];
        poll_close(&c->poll);
        if (c->cur) {
            struct query *q = c->cur;
            c->cur = NULL;
            fail_query(q, "shutting down");
        }
        while (c->own_head) {
            struct query *q = c->own_head;
            c->own_head = q->next;
            fail_query(q, "shutting down");
        }
        if (c->pending)
            PQclear(c->pending);
        c->pending = NULL;
        if (c->pg)
            PQfinish(c->pg);
        c->pg = NULL;
        uv_timer_stop(&c->retry);
        uv_close((uv_handle_t *)&c->retry, timer_closed);
    }
    for (struct listener *l = db->listeners; l; l = l->next) {
        poll_close(&l->poll);
        if (l->pg)
            PQfinish(l->pg);
        l->pg = NULL;
        l->state = L_DOWN;
        uv_timer_stop(&l->retry);
        uv_close((uv_handle_t *)&l->retry, timer_closed);
    }
}

void
anpi_db_query(struct anpi_db *db, const char *sql, int nparams, const char *const *params,
              anpi_db_cb cb, void *arg)
{
    struct query *q = query_new(sql, nparams, params, cb, arg);
    if (db->closing) {
        fail_query(q, "shutting down");
        return;
    }
    if (db->q_tail)
        db->q_tail->next = q;
    else
        db->q_head = q;
    db->q_tail = q;
    db->queued++;
    conn_dispatch(db);
}

void
anpi_db_acquire(struct anpi_db *db, anpi_db_lease_cb cb, void *arg)
{
    struct waiter *w = anpi_xcalloc(1, sizeof(*w));
    w->cb = cb;
    w->arg = arg;
    if (db->w_tail)
        db->w_tail->next = w;
    else
        db->w_head = w;
    db->w_tail = w;
    conn_dispatch(db);
}

void
anpi_db_conn_query(struct anpi_db_conn *c, const char *sql, int nparams,
                   const char *const *params, anpi_db_cb cb, void *arg)
{
    struct query *q = query_new(sql, nparams, params, cb, arg);
    if (c->db->closing || c->state == C_DOWN || c->state == C_CONNECTING) {
        fail_query(q, c->db->closing ? "shutting down" : "database connection lost");
        return;
    }
    if (c->own_tail)
        c->own_tail->next = q;
    else
        c->own_head = q;
    c->own_tail = q;
    conn_dispatch(c->db);
}

void
anpi_db_release(struct anpi_db_conn *c)
{
    if (!c->leased)
        return;
    if (c->state == C_IDLE && c->pg) {
        PGTransactionStatusType ts = PQtransactionStatus(c->pg);
        if (ts == PQTRANS_INTRANS || ts == PQTRANS_INERROR) {
            /* never hand a connection with an open transaction to the next user */
            c->rolling_back = true;
            conn_send(c, query_new("ROLLBACK", 0, NULL, NULL, NULL));
            return;
        }
    }
    c->leased = false;
    while (c->own_head) {
        struct query *q = c->own_head;
        c->own_head = q->next;
        fail_query(q, "connection released");
    }
    c->own_tail = NULL;
    conn_dispatch(c->db);
}

/* --- LISTEN ---------------------------------------------------------------- */

static void listen_connect(struct listener *l);
static void listen_io(uv_poll_t *h, int status, int events);

static void
listen_retry_cb(uv_timer_t *t)
{
    listen_connect(t->data);
}

/* Whatever was happening, notifications may have been missed from here on:
 * tell the owner (cb NULL) and try again later. */
static void
listen_broken(struct listener *l, const char *why)
{
    char msg[512];
    snprintf(msg, sizeof(msg), "%s", why && *why ? why : "connection lost");
    msg[strcspn(msg, "\n")] = '\0';
    anpi_warn(ANPI_LG_DB, "LISTEN %s: %s", l->channel, msg);
    poll_close(&l->poll);
    if (l->pg) {
        PQfinish(l->pg);
        l->pg = NULL;
    }
    l->state = L_DOWN;
    if (l->db->closing)
        return;
    l->cb(NULL, l->arg);
    l->backoff_ms = next_backoff(l->backoff_ms);
    uv_timer_start(&l->retry, listen_retry_cb, l->backoff_ms, 0);
}

/* Connected: send LISTEN; the connection is READY when its result comes. */
static void
listen_start(struct listener *l)
{
    PQsetnonblocking(l->pg, 1);
    char *id = PQescapeIdentifier(l->pg, l->channel, strlen(l->channel));
    if (!id) {
        listen_broken(l, PQerrorMessage(l->pg));
        return;
    }
    char *sql = anpi_xasprintf("LISTEN %s", id);
    PQfreemem(id);
    int ok = PQsendQuery(l->pg, sql);
    free(sql);
    if (!ok) {
        listen_broken(l, PQerrorMessage(l->pg));
        return;
    }
    l->state = L_STARTING;
    int f = PQflush(l->pg);
    if (f < 0) {
        listen_broken(l, PQerrorMessage(l->pg));
        return;
    }
    if (poll_open(l->db, l->pg, &l->poll, l, f ? UV_READABLE | UV_WRITABLE : UV_READABLE, listen_io) != ANPI_OK)
        listen_broken(l, "cannot watch the database socket");
}

static void
listen_step(struct listener *l)
{
    const char *why = NULL;
    int rc = connect_poll(l->db, l->pg, &l->poll, l, listen_io, &why);
    if (rc < 0)
        listen_broken(l, why);
    else if (rc == 1)
        listen_start(l);
}

static void
listen_connect(struct listener *l)
{
    if (l->db->closing)
        return;
    /* named, so that an operator (and the tests) can tell it in pg_stat_activity */
    static const char *const keys[] = { "dbname", "application_name", NULL };
    const char *vals[] = { l->db->conninfo, "anpid-listen", NULL };
    l->pg = PQconnectStartParams(keys, vals, 1);
    if (!l->pg || PQstatus(l->pg) == CONNECTION_BAD) {
        listen_broken(l, l->pg ? PQerrorMessage(l->pg) : "out of memory");
        return;
    }
    l->state = L_CONNECTING;
    listen_step(l);
}

static void
listen_read(struct listener *l)
{
    if (!PQconsumeInput(l->pg) || PQstatus(l->pg) == CONNECTION_BAD) {
        listen_broken(l, PQerrorMessage(l->pg));
        return;
    }
    while (!PQisBusy(l->pg)) {
        PGresult *r = PQgetResult(l->pg);
        if (!r)
            break;
        bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
        char msg[512];
        snprintf(msg, sizeof(msg), "LISTEN failed: %s", PQresultErrorMessage(r));
        PQclear(r);
        if (!ok) {
            listen_broken(l, msg);
            return;
        }
        if (l->state == L_STARTING) {
            l->state = L_READY;
            l->backoff_ms = 0;
            anpi_debug(ANPI_LG_DB, "listening on %s", l->channel);
            /* what happened while nobody listened is unknown */
            l->cb(NULL, l->arg);
            if (!l->pg)
                return;
        }
    }
    PGnotify *n;
    while (l->pg && (n = PQnotifies(l->pg)) != NULL) {
        if (l->state == L_READY)
            l->cb(n->extra, l->arg);
        PQfreemem(n);
    }
}

static void
listen_io(uv_poll_t *h, int status, int events)
{
    struct listener *l = h->data;
    if (l->state == L_CONNECTING) {
        listen_step(l);
        return;
    }
    if (status < 0)
        events = UV_READABLE | UV_WRITABLE;
    if (events & UV_WRITABLE) {
        int f = PQflush(l->pg);
        if (f < 0) {
            listen_broken(l, PQerrorMessage(l->pg));
            return;
        }
        if (f == 0)
            uv_poll_start(l->poll, UV_READABLE, listen_io);
    }
    if (events & UV_READABLE)
        listen_read(l);
}

/* Notifications that arrived on a pool connection, for the listeners that
 * are up (while one is down its owner does not rely on it anyway). */
static void
pool_notified(struct anpi_db_conn *c)
{
    PGnotify *n;
    while (c->pg && (n = PQnotifies(c->pg)) != NULL) {
        /* only this session's own changes: the others' reach the listener's
         * connection, and handling them here too would handle each one once
         * per pool connection */
        if (n->be_pid == PQbackendPID(c->pg))
            for (struct listener *l = c->db->listeners; l; l = l->next)
                if (l->state == L_READY && strcmp(l->channel, n->relname) == 0)
                    l->cb(n->extra, l->arg);
        PQfreemem(n);
    }
}

int
anpi_db_listen(struct anpi_db *db, const char *channel, void (*cb)(const char *payload, void *arg), void *arg)
{
    /* NAMEDATALEN - 1: a longer name would be truncated by the server */
    if (db->closing || !cb || !channel || !*channel || strlen(channel) > 63)
        return ANPI_EPARSE;
    for (const struct listener *l = db->listeners; l; l = l->next)
        if (strcmp(l->channel, channel) == 0)
            return ANPI_EPARSE;
    struct listener *l = anpi_xcalloc(1, sizeof(*l));
    l->db = db;
    l->channel = anpi_xstrdup(channel);
    l->cb = cb;
    l->arg = arg;
    uv_timer_init(db->loop, &l->retry);
    l->retry.data = l;
    db->open_handles++;
    struct listener **tail = &db->listeners;
    while (*tail)
        tail = &(*tail)->next;
    *tail = l;
    db->nlisteners++;
    listen_connect(l);
    conn_dispatch(db);   /* idle pool connections LISTEN as well */
    return ANPI_OK;
}

bool
anpi_db_listening(struct anpi_db *db, const char *channel)
{
    for (struct listener *l = db->listeners; l; l = l->next)
        if (strcmp(l->channel, channel) == 0) {
            /* notifications already in the socket are read now, not when the
             * loop gets to them: a request that arrives after a commit does
             * not overtake its notification */
            if (l->state == L_READY)
                listen_read(l);
            return l->state == L_READY;
        }
    return false;
}

int
anpi_db_connected(const struct anpi_db *db)
{
    int n = 0;
    for (int i = 0; i < db->n; i++)
        n += db->conns[i].state == C_IDLE || db->conns[i].state == C_BUSY;
    return n;
}

unsigned long
anpi_db_queue_depth(const struct anpi_db *db)
{
    return db->queued;
}

int
anpi_db_migrate(const char *conninfo, char *err, size_t errlen)
{
    PGconn *pg = PQconnectdb(conninfo);
    if (PQstatus(pg) != CONNECTION_OK) {
        snprintf(err, errlen, "cannot connect to the database: %s", PQerrorMessage(pg));
        err[strcspn(err, "\n")] = '\0';
        PQfinish(pg);
        return ANPI_ERROR;
    }
    int rc = ANPI_OK;
    PGresult *r = PQexec(pg, "SET client_min_messages = warning;"
                             "CREATE TABLE IF NOT EXISTS schema_migrations ("
                             " version int PRIMARY KEY, name text NOT NULL,"
                             " applied_at timestamptz NOT NULL DEFAULT now())");
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        snprintf(err, errlen, "schema_migrations: %s", PQresultErrorMessage(r));
        rc = ANPI_ERROR;
    }
    PQclear(r);
    for (unsigned i = 0; rc == ANPI_OK && i < anpi_migration_count; i++) {
        const struct anpi_migration *m = &anpi_migrations[i];
        char ver[16];
        snprintf(ver, sizeof(ver), "%d", m->version);
        const char *p[2] = { ver, m->name };
        /* one migration per transaction; the advisory lock keeps two nodes
         * starting together from applying the same migration twice */
        r = PQexec(pg, "BEGIN; SELECT pg_advisory_xact_lock(4242)");
        PQclear(r);
        r = PQexecParams(pg, "SELECT 1 FROM schema_migrations WHERE version = $1", 1, NULL, p,
                         NULL, NULL, 0);
        bool done = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) > 0;
        PQclear(r);
        if (done) {
            PQclear(PQexec(pg, "COMMIT"));
            continue;
        }
        r = PQexec(pg, m->sql);
        if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK) {
            snprintf(err, errlen, "migration %s failed: %s", m->name, PQresultErrorMessage(r));
            rc = ANPI_ERROR;
        }
        PQclear(r);
        if (rc == ANPI_OK) {
            r = PQexecParams(pg, "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
                             2, NULL, p, NULL, NULL, 0);
            PQclear(r);
            r = PQexec(pg, "COMMIT");
            if (PQresultStatus(r) != PGRES_COMMAND_OK) {
                snprintf(err, errlen, "migration %s: commit failed: %s", m->name, PQresultErrorMessage(r));
                rc = ANPI_ERROR;
            } else {
                anpi_info(ANPI_LG_DB, "applied migration %s", m->name);
            }
            PQclear(r);
        } else {
            PQclear(PQexec(pg, "ROLLBACK"));
        }
    }
    if (rc != ANPI_OK)
        err[strcspn(err, "\n")] = '\0';
    PQfinish(pg);
    return rc;
}
