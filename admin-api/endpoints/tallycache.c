/* tallycache.c - one whole-tree tally per broadcast per second, shared by
 * every caller of this process.
 *
 * During a disaster hundreds of group admins keep the tally page of the
 * same broadcast open.  Asked one by one, anpi_broadcast_groups_json()
 * (engine/schema/0024) saturated PostgreSQL at ~250 requests/s.  But a
 * group admin's scope is whole subtrees (its groups and every group below
 * them, anpi_scope_groups), and a group's row counts the recipients of its
 * subtree: so its rows are exactly the whole tree's rows of the groups in
 * its scope, in the same order (by path), without the "no group" row (id
 * null) that only the system-wide roles see.  Hence:
 *
 *   - the whole-tree tally of a broadcast (the function called for account
 *     0, which sees everything) is kept here, as the database's own jsonb
 *     text, for at most TALLY_CACHE_MS; requests that miss while it is
 *     being counted wait for that one query instead of sending their own.
 *     A count older than TALLY_REFRESH_MS that is asked for is counted
 *     again in the background while it is still served (the whole tree
 *     takes 100-250 ms: waiting for it at every expiry put a fifth of the
 *     requests of a busy second behind it), and while that count is under
 *     way the previous one is served up to TALLY_STALE_MS (on two busy
 *     cores the count can take longer than the second it has); so a
 *     broadcast in use costs one to two whole-tree queries a second, one
 *     that nobody asks for none;
 *   - system-admin, duty-officer and viewer get that text as it is; a
 *     group admin gets the same text with only the array elements of its
 *     groups (cut out of the text, so the bytes are the database's); none
 *     of them in scope -> 404, exactly like the SQL function's NULL;
 *   - a group admin's set of groups is asked for again after
 *     SCOPE_REFRESH_MS.  While the database notifies changes (gate.c:
 *     an account's groups, the group tree), the gate forgets the account's
 *     set at once, so the set is exact and the old one is served while
 *     the new one is fetched (up to SCOPE_STALE_MS, a safety net); without
 *     the notifications a change shows within SCOPE_REFRESH_MS.  Who the
 *     caller is (token, session, disabled account) is the gate's business:
 *     nothing about authentication is decided here;
 *   - hr (HR broadcasts only, no groups) keeps the plain SQL path.
 *
 * Staleness: an answer stored by this process (reply page, mail reply)
 * drops the broadcast's entry at once, so one node shows its own answers
 * immediately (a resend changes no count: deliveries are not in it); answers stored by another node show within
 * TALLY_CACHE_MS (TALLY_STALE_MS while the database is slow).  A tally
 * still being counted when its entry is dropped answers only the requests
 * that came before, never later ones.  During a burst of answers (the
 * next within TALLY_REFRESH_MS of the last: a disaster, thousands a
 * minute) dropping the count at each would make every reader wait for a
 * whole-tree count that the next answer drops again; instead the
 * broadcast is counted again back to back and the last count is served
 * meanwhile, so the tally trails the answers by about one count.
 *
 * The tables are small arrays searched linearly (64 broadcasts, a few
 * thousand accounts): one request costs microseconds against a database
 * round trip.  An entry being loaded is never evicted; when every slot is
 * loading, the request falls back to its own SQL query. */
#include "admin-api/endpoints/tallycache.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "admin-api/endpoints/api.h"
#include "engine/anpi.h"
#include "engine/log.h"

/* One element of the "groups" array of a cached text. */
struct tally_row {
    long long id;
    bool no_group;           /* id null: people in no group */
    size_t off, len;         /* the element's bytes in the text */
};

/* A group's row, for finding a group admin's rows by id. */
struct row_ref {
    long long id;
    size_t row;              /* index into rows, i.e. the place in path order */
};

/* A request waiting for a scope or a tally. */
struct waiter {
    struct anpi_engine *e;
    struct anpi_http_req *req;
    anpi_tally_cb cb;        /* NULL: answer req with the JSON; else hand the text to cb */
    void *arg;
    long long bid, acc;
    bool scoped;             /* a group admin: filter by ids */
    long long *ids;          /* its groups (sorted), owned while it waits for a tally */
    size_t nids;
    unsigned gen;            /* the tally entry's generation when it joined */
    unsigned sgen;           /* the scope entry's generation when it joined */
    struct waiter *next;
};

/* A counted tally: the database's jsonb text and where its rows are. */
struct tally_value {
    char *text;
    size_t text_len;
    size_t open, close;      /* just after the groups array's '[', at its ']' */
    struct tally_row *rows;
    size_t nrows;
    struct row_ref *by_id;   /* the rows with a group id, sorted by id */
    size_t nby_id;
};

struct tally {
    struct anpi_engine *e;
    bool used, loading, have;
    bool dirty;              /* answers came in a burst: counting again, the last count served meanwhile */
    long long bid;
    unsigned gen, load_gen;  /* gen is bumped by every invalidation */
    uint64_t invalidated_ms; /* the last invalidation */
    uint64_t fetched_ms;     /* when the query of v was sent */
    uint64_t load_ms;        /* when the query under way was sent */
    uint64_t used_ms;
    struct tally_value v;    /* valid when have */
    struct waiter *head, **tail;
};

struct scope {
    bool used, loading, have;
    long long acc;
    unsigned gen, load_gen;  /* gen is bumped when the account is forgotten */
    uint64_t fetched_ms;     /* when the query of ids was sent */
    uint64_t load_ms;        /* when the query under way was sent */
    uint64_t used_ms;
    long long *ids;
    size_t n;
    struct waiter *head, **tail;
};

/* One admin listener per process (like gate.c's route table). */
static struct tally tallies[TALLY_CACHE_MAX];
static struct scope scopes[SCOPE_CACHE_MAX];

static uint64_t
now_ms(void)
{
    return uv_hrtime() / 1000000u;
}

/* --- answering ------------------------------------------------------------- */

static int
cmp_ll(const void *a, const void *b)
{
    long long x = *(const long long *)a, y = *(const long long *)b;
    return x < y ? -1 : x > y;
}

static int
cmp_ref(const void *a, const void *b)
{
    const struct row_ref *x = a, *y = b;
    return x->id < y->id ? -1 : x->id > y->id;
}

static int
cmp_size(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return x < y ? -1 : x > y;
}

/* The answer for one caller: the JSON text (200), or why not (404, 503). */
static void
deliver(const struct waiter *w, unsigned status, const char *text, size_t len)
{
    if (w->cb)
        w->cb(w->arg, status, text, len);
    else if (status == 200)
        anpi_http_respond(w->req, 200, "application/json", text, len);
    else
        anpi_http_respond_error(w->req, status, "%.*s", (int)len, text);
}

static void
deliver_not_found(const struct waiter *w)
{
    char msg[64];
    int n = snprintf(msg, sizeof(msg), "no broadcast %lld", w->bid);   /* as the SQL path */
    deliver(w, 404, msg, (size_t)n);
}

static void
deliver_error(const struct waiter *w, const char *err)
{
    char msg[512];
    int n = snprintf(msg, sizeof(msg), "database error: %s", err);
    deliver(w, 503, msg, n < (int)sizeof(msg) ? (size_t)n : sizeof(msg) - 1);
}

/* The answer for one caller from a loaded entry (ids: a group admin's
 * sorted set, not owned). */
static void
serve(const struct waiter *w, const struct tally_value *t, const long long *ids, size_t nids)
{
    if (!w->scoped) {
        deliver(w, 200, t->text, t->text_len);
        return;
    }
    /* the caller's rows, found by id (a scope is usually a few groups of
     * a thousand) and put back in the tree's order */
    size_t *mine = anpi_xmalloc((nids ? nids : 1) * sizeof(*mine)), n = 0;
    for (size_t i = 0; i < nids; i++) {
        struct row_ref key = { .id = ids[i] };
        const struct row_ref *r = bsearch(&key, t->by_id, t->nby_id, sizeof(key), cmp_ref);
        if (r)
            mine[n++] = r->row;
    }
    qsort(mine, n, sizeof(*mine), cmp_size);
    /* the text around the array, and the caller's elements joined the way
     * jsonb joins them */
    size_t len = t->open + (t->text_len - t->close);
    for (size_t i = 0; i < n; i++)
        len += t->rows[mine[i]].len + 2;
    char *out = anpi_xmalloc(len + 1), *p = out;
    memcpy(p, t->text, t->open);
    p += t->open;
    for (size_t i = 0; i < n; i++) {
        const struct tally_row *r = &t->rows[mine[i]];
        if (i) {
            memcpy(p, ", ", 2);
            p += 2;
        }
        memcpy(p, t->text + r->off, r->len);
        p += r->len;
    }
    free(mine);
    memcpy(p, t->text + t->close, t->text_len - t->close);
    p += t->text_len - t->close;
    if (n == 0)
        deliver_not_found(w);
    else
        deliver(w, 200, out, (size_t)(p - out));
    free(out);
}

static void
waiter_free(struct waiter *w)
{
    free(w->ids);
    free(w);
}

/* --- the fallback: the caller's own query ----------------------------------- */

static void
direct_cb(void *arg, const PGresult *res, const char *err)
{
    struct waiter *w = arg;
    if (err)
        deliver_error(w, err);
    else if (PQntuples(res) == 0 || PQgetisnull(res, 0, 0))
        deliver_not_found(w);
    else
        deliver(w, 200, PQgetvalue(res, 0, 0), strlen(PQgetvalue(res, 0, 0)));
    waiter_free(w);
}

static void
direct(struct waiter *w)
{
    char acc[24], bid[24];
    snprintf(acc, sizeof(acc), "%lld", w->acc);
    snprintf(bid, sizeof(bid), "%lld", w->bid);
    const char *p[2] = { acc, bid };
    anpi_db_query(w->e->db, "SELECT anpi_broadcast_groups_json($1::bigint, $2::bigint)::text", 2, p, direct_cb, w);
}

/* --- reading the database's text -------------------------------------------- */

static const char *
skip_ws(const char *p)
{
    while (*p == ' ' || *p == '\n' || *p == '\t' || *p == '\r')
        p++;
    return p;
}

static const char *
skip_string(const char *p)
{
    for (p++; *p && *p != '"'; p += (*p == '\\' && p[1]) ? 2 : 1)
        ;
    return *p ? p + 1 : NULL;
}

/* Past one JSON value of text jansson has already accepted; NULL if not. */
static const char *
skip_value(const char *p)
{
    p = skip_ws(p);
    if (*p == '"')
        return skip_string(p);
    if (*p == '{' || *p == '[') {
        int depth = 0;
        while (*p) {
            if (*p == '"') {
                if (!(p = skip_string(p)))
                    return NULL;
                continue;
            }
            if (*p == '{' || *p == '[')
                depth++;
            else if ((*p == '}' || *p == ']') && --depth == 0)
                return p + 1;
            p++;
        }
        return NULL;
    }
    while (*p && !strchr(",}] \n\t\r", *p))
        p++;
    return p;
}

/* Find the elements of the top-level "groups" array in t->text and their
 * group ids.  ANPI_EPARSE when the text is not the function's shape. */
static int
index_rows(struct tally_value *t)
{
    json_error_t jerr;
    json_t *j = json_loadb(t->text, t->text_len, 0, &jerr);
    json_t *groups = json_object_get(j, "groups");
    if (!json_is_array(groups)) {
        json_decref(j);
        return ANPI_EPARSE;
    }
    size_t n = json_array_size(groups);
    struct tally_row *rows = anpi_xcalloc(n ? n : 1, sizeof(*rows));
    for (size_t i = 0; i < n; i++) {
        json_t *id = json_object_get(json_array_get(groups, i), "id");
        rows[i].no_group = json_is_null(id);
        rows[i].id = json_is_integer(id) ? (long long)json_integer_value(id) : 0;
        if (!rows[i].no_group && !json_is_integer(id)) {
            json_decref(j);
            free(rows);
            return ANPI_EPARSE;
        }
    }
    json_decref(j);

    const char *base = t->text, *p = skip_ws(base);
    bool found = false;
    if (*p++ != '{')
        goto bad;
    for (;;) {
        p = skip_ws(p);
        if (*p == '}')
            break;
        if (*p != '"')
            goto bad;
        const char *k = p + 1;
        if (!(p = skip_string(p)))
            goto bad;
        bool is_groups = (size_t)(p - 1 - k) == 6 && memcmp(k, "groups", 6) == 0;
        p = skip_ws(p);
        if (*p++ != ':')
            goto bad;
        p = skip_ws(p);
        if (is_groups) {
            if (*p != '[')
                goto bad;
            t->open = (size_t)(p + 1 - base);
            size_t i = 0;
            p = skip_ws(p + 1);
            while (*p != ']') {
                const char *end = skip_value(p);
                if (!end || i >= n)
                    goto bad;
                rows[i].off = (size_t)(p - base);
                rows[i].len = (size_t)(end - p);
                i++;
                p = skip_ws(end);
                if (*p == ',')
                    p = skip_ws(p + 1);
                else if (*p != ']')
                    goto bad;
            }
            if (i != n)
                goto bad;
            t->close = (size_t)(p - base);
            p++;
            found = true;
        } else if (!(p = skip_value(p))) {
            goto bad;
        }
        p = skip_ws(p);
        if (*p == ',')
            p++;
        else if (*p != '}')
            goto bad;
    }
    if (!found)
        goto bad;
    t->rows = rows;
    t->nrows = n;
    t->by_id = anpi_xmalloc((n ? n : 1) * sizeof(*t->by_id));
    t->nby_id = 0;
    for (size_t i = 0; i < n; i++)
        if (!rows[i].no_group)
            t->by_id[t->nby_id++] = (struct row_ref){ .id = rows[i].id, .row = i };
    qsort(t->by_id, t->nby_id, sizeof(*t->by_id), cmp_ref);
    return ANPI_OK;
bad:
    free(rows);
    return ANPI_EPARSE;
}

/* --- the tally entries ------------------------------------------------------- */

static void
value_free(struct tally_value *v)
{
    free(v->text);
    free(v->rows);
    free(v->by_id);
    memset(v, 0, sizeof(*v));
}

static void
tally_drop(struct tally *t)
{
    value_free(&t->v);
    t->have = false;
}

static struct tally *
tally_find(long long bid)
{
    for (size_t i = 0; i < TALLY_CACHE_MAX; i++)
        if (tallies[i].used && tallies[i].bid == bid)
            return &tallies[i];
    return NULL;
}

/* A free slot, or the least recently used one not being loaded; NULL when
 * every slot is loading. */
static struct tally *
tally_slot(struct anpi_engine *e, long long bid)
{
    struct tally *best = NULL;
    for (size_t i = 0; i < TALLY_CACHE_MAX; i++) {
        struct tally *t = &tallies[i];
        if (!t->used) {
            best = t;
            break;
        }
        if (!t->loading && (!best || t->used_ms < best->used_ms))
            best = t;
    }
    if (!best)
        return NULL;
    tally_drop(best);
    memset(best, 0, sizeof(*best));
    best->e = e;
    best->used = true;
    best->bid = bid;
    best->tail = &best->head;
    return best;
}

static void tally_loaded(void *arg, const PGresult *res, const char *err);

static void
tally_load(struct anpi_engine *e, struct tally *t)
{
    char bid[24];
    snprintf(bid, sizeof(bid), "%lld", t->bid);
    const char *p[1] = { bid };
    t->loading = true;
    t->load_gen = t->gen;
    t->load_ms = now_ms();   /* the answer is at least as old as the question */
    anpi_db_query(e->db, "SELECT anpi_broadcast_groups_json(0, $1::bigint)::text", 1, p, tally_loaded, t);
}

static void
tally_wait(struct tally *t, struct waiter *w)
{
    w->gen = t->gen;
    w->next = NULL;
    *t->tail = w;
    t->tail = &w->next;
}

static void
tally_loaded(void *arg, const PGresult *res, const char *err)
{
    struct tally *t = arg;
    struct waiter *list = t->head;
    t->head = NULL;
    t->tail = &t->head;
    t->loading = false;
    struct tally_value v = { 0 };
    bool is_null = !err && (PQntuples(res) == 0 || PQgetisnull(res, 0, 0));
    if (!err && !is_null) {
        const char *text = PQgetvalue(res, 0, 0);
        v.text_len = strlen(text);
        v.text = anpi_xmalloc(v.text_len + 1);
        memcpy(v.text, text, v.text_len + 1);
        if (index_rows(&v) != ANPI_OK) {
            anpi_error(ANPI_LG_API, "tally of broadcast %lld: unexpected text from the database", t->bid);
            value_free(&v);
            err = "unexpected tally from the database";
        }
    }
    /* requests that came after an invalidation need a newer count */
    struct waiter *later = NULL, **later_tail = &later;
    while (list) {
        struct waiter *w = list;
        list = w->next;
        if (w->gen != t->load_gen && !err) {
            w->next = NULL;
            *later_tail = w;
            later_tail = &w->next;
            continue;
        }
        if (err)
            deliver_error(w, err);
        else if (is_null)
            deliver_not_found(w);
        else
            serve(w, &v, w->ids, w->nids);
        waiter_free(w);
    }
    /* kept unless an invalidation overtook it (during a burst it is kept
     * anyway, being newer than the count served, and counted again); an
     * unknown broadcast is not remembered (it may be composed a moment
     * later); after an error the previous count stays while it is young
     * enough */
    t->used_ms = now_ms();
    bool again = false;
    if (is_null) {
        tally_drop(t);
    } else if (!err && (t->gen == t->load_gen || t->dirty)) {
        value_free(&t->v);
        t->v = v;
        t->have = true;
        t->fetched_ms = t->load_ms;
        v = (struct tally_value){ 0 };
        again = t->dirty && t->gen != t->load_gen;
        t->dirty = again;
    }
    value_free(&v);
    if (later) {
        t->head = later;
        t->tail = later_tail;
        tally_load(t->e, t);
    } else if (again) {
        tally_load(t->e, t);
    } else if (!t->have) {
        t->used = false;
    }
}

/* The tally step of a request whose scope (if any) is known: ids is the
 * group admin's sorted set (not owned).  A count older than
 * TALLY_REFRESH_MS is counted again in the background while it is still
 * served, so that callers do not all stall for the whole-tree query each
 * time the count expires. */
static void
tally_want(struct waiter *w, const long long *ids, size_t nids)
{
    uint64_t now = now_ms();
    struct tally *t = tally_find(w->bid);
    if (t && t->have &&
        (now - t->fetched_ms < TALLY_CACHE_MS || (t->loading && now - t->fetched_ms < TALLY_STALE_MS))) {
        t->used_ms = now;
        serve(w, &t->v, ids, nids);
        if (!t->loading && now - t->fetched_ms >= TALLY_REFRESH_MS)
            tally_load(w->e, t);
        waiter_free(w);
        return;
    }
    if (w->scoped && w->ids != ids) {
        free(w->ids);
        w->ids = nids ? anpi_xmalloc(nids * sizeof(*ids)) : NULL;
        if (nids)
            memcpy(w->ids, ids, nids * sizeof(*ids));
        w->nids = nids;
    }
    if (t && t->loading) {
        tally_wait(t, w);
        return;
    }
    if (!t && !(t = tally_slot(w->e, w->bid))) {
        direct(w);
        return;
    }
    tally_drop(t);   /* expired */
    tally_wait(t, w);
    tally_load(w->e, t);
}

void
anpi_tally_invalidate(long long bid)
{
    struct tally *t = tally_find(bid);
    if (!t)
        return;
    uint64_t now = now_ms();
    bool burst = t->have && now - t->invalidated_ms < TALLY_REFRESH_MS;
    t->gen++;
    t->invalidated_ms = now;
    if (burst) {
        /* answers are streaming in: dropping the count at each would make
         * every reader wait for a whole-tree count that the next answer
         * drops again.  Count again now (again after the count under way,
         * if any) and serve the last count meanwhile. */
        t->dirty = true;
        if (!t->loading)
            tally_load(t->e, t);
        return;
    }
    t->dirty = false;
    tally_drop(t);
    if (!t->loading)
        t->used = false;
}

/* --- the scope entries ------------------------------------------------------- */

static struct scope *
scope_find(long long acc)
{
    for (size_t i = 0; i < SCOPE_CACHE_MAX; i++)
        if (scopes[i].used && scopes[i].acc == acc)
            return &scopes[i];
    return NULL;
}

static struct scope *
scope_slot(long long acc)
{
    struct scope *best = NULL;
    for (size_t i = 0; i < SCOPE_CACHE_MAX; i++) {
        struct scope *s = &scopes[i];
        if (!s->used) {
            best = s;
            break;
        }
        if (!s->loading && (!best || s->used_ms < best->used_ms))
            best = s;
    }
    if (!best)
        return NULL;
    free(best->ids);
    memset(best, 0, sizeof(*best));
    best->used = true;
    best->acc = acc;
    best->tail = &best->head;
    return best;
}

static void scope_load(struct anpi_engine *e, struct scope *s);

static void
scope_loaded(void *arg, const PGresult *res, const char *err)
{
    struct scope *s = arg;
    struct waiter *list = s->head;
    s->head = NULL;
    s->tail = &s->head;
    s->loading = false;
    long long *ids = NULL;
    size_t n = 0;
    if (!err) {
        int rows = PQntuples(res);
        ids = anpi_xmalloc((size_t)(rows > 0 ? rows : 1) * sizeof(*ids));
        for (int i = 0; i < rows; i++) {
            int64_t v;
            if (anpi_parse_int64(PQgetvalue(res, i, 0), INT64_MIN, INT64_MAX, &v) != ANPI_OK) {
                err = "unexpected group id from the database";
                break;
            }
            ids[n++] = (long long)v;
        }
        qsort(ids, n, sizeof(*ids), cmp_ll);
    }
    /* kept unless the account was forgotten while its query was under way;
     * after an error the previous set stays while it is young enough */
    bool keep = !err && s->gen == s->load_gen;
    if (keep) {
        free(s->ids);
        s->ids = ids;
        s->n = n;
        s->have = true;
        s->fetched_ms = s->load_ms;
    }
    s->used_ms = now_ms();
    /* the requests that came before a forget get the answer to their
     * question; those after it need a newer one */
    struct waiter *later = NULL, **later_tail = &later;
    while (list) {
        struct waiter *w = list;
        list = w->next;
        if (err) {
            deliver_error(w, err);
            waiter_free(w);
        } else if (w->sgen != s->load_gen) {
            w->next = NULL;
            *later_tail = w;
            later_tail = &w->next;
        } else {
            /* ids stays valid while this runs: nothing is evicted in between */
            tally_want(w, ids, n);
        }
    }
    if (!keep)
        free(ids);
    if (later) {
        s->head = later;
        s->tail = later_tail;
        scope_load(later->e, s);
    } else if (!s->have) {
        s->used = false;
    }
}

static void
scope_load(struct anpi_engine *e, struct scope *s)
{
    s->loading = true;
    s->load_gen = s->gen;
    s->load_ms = now_ms();
    char acc[24];
    snprintf(acc, sizeof(acc), "%lld", s->acc);
    const char *p[1] = { acc };
    anpi_db_query(e->db, "SELECT group_id FROM anpi_scope_groups($1::bigint)", 1, p, scope_loaded, s);
}

/* The scope step of a group admin's request.  A set older than
 * SCOPE_REFRESH_MS is asked for again; while the database notifies every
 * change of an account's groups and of the tree (gate.c), the old set is
 * served meanwhile (it cannot be wrong, only older), up to SCOPE_STALE_MS;
 * otherwise the request waits for the new one. */
static void
scope_want(struct waiter *w)
{
    /* first: it reads pending notifications, which may forget entries */
    bool notified = api_changes_notified(w->e);
    uint64_t now = now_ms();
    struct scope *s = scope_find(w->acc);
    if (s && s->have) {
        uint64_t age = now - s->fetched_ms;
        if (age < SCOPE_REFRESH_MS || (age < SCOPE_STALE_MS && notified)) {
            s->used_ms = now;
            if (age >= SCOPE_REFRESH_MS && !s->loading)
                scope_load(w->e, s);
            tally_want(w, s->ids, s->n);
            return;
        }
    }
    if (!s && !(s = scope_slot(w->acc))) {
        direct(w);
        return;
    }
    w->sgen = s->gen;
    w->next = NULL;
    *s->tail = w;
    s->tail = &w->next;
    if (!s->loading)
        scope_load(w->e, s);
}

void
anpi_tally_forget_account(long long acc)
{
    for (size_t i = 0; i < SCOPE_CACHE_MAX; i++) {
        struct scope *s = &scopes[i];
        if (!s->used || (acc >= 0 && s->acc != acc))
            continue;
        s->gen++;
        free(s->ids);
        s->ids = NULL;
        s->n = 0;
        s->have = false;
        if (!s->loading) {   /* else its answer goes to the requests before this, then it asks again */
            memset(s, 0, sizeof(*s));
        }
    }
}

/* --- the entry point ---------------------------------------------------------- */

/* Start one caller's tally; false (nothing done) for a caller the cache
 * does not serve. */
static bool
start(struct anpi_engine *e, const struct api_who *who, struct anpi_http_req *req, long long bid,
      anpi_tally_cb cb, void *arg)
{
    if (!who)
        return false;
    bool scoped;
    switch (who->role) {
    case API_ROLE_SYSTEM_ADMIN:
    case API_ROLE_DUTY_OFFICER:
    case API_ROLE_VIEWER:
        scoped = false;
        break;
    case API_ROLE_GROUP_ADMIN:
        scoped = true;
        break;
    default:
        return false;
    }
    struct waiter *w = anpi_xcalloc(1, sizeof(*w));
    w->e = e;
    w->req = req;
    w->cb = cb;
    w->arg = arg;
    w->bid = bid;
    w->acc = who->id;
    w->scoped = scoped;
    if (scoped)
        scope_want(w);
    else
        tally_want(w, NULL, 0);
    return true;
}

bool
anpi_tally_serve(struct anpi_engine *e, struct anpi_http_req *req, long long bid)
{
    return start(e, api_who(req), req, bid, NULL, NULL);
}

bool
anpi_tally_fetch(struct anpi_engine *e, const struct api_who *who, long long bid, anpi_tally_cb cb, void *arg)
{
    return start(e, who, NULL, bid, cb, arg);
}
