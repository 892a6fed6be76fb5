/* poller.c - JMA Atom feed poller: conditional GET, de-duplication on the
 * entry URL, bounded parallel document fetches, exponential back-off.
 *
 * Feed validators (ETag / Last-Modified) are committed only at the end of a
 * round in which every new document was fetched: after a document failure
 * the next round re-reads the feed in full instead of getting a 304 and
 * silently forgetting the document. */
#include "feeds/poll/poller.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/anpi.h"
#include "engine/log.h"
#include "feeds/poll/atom.h"
#include "feeds/poll/http_fetch.h"
#include "feeds/poll/seenset.h"

#define DEFAULT_INTERVAL_S   60
#define DEFAULT_BACKOFF_S    600
#define DEFAULT_PARALLEL     3
#define DEFAULT_TIMEOUT_S    30

struct feed_url {
    char *url;
    char *etag, *last_modified;   /* validators of the last complete round */
};

enum doc_state { DOC_QUEUED, DOC_IN_FLIGHT, DOC_FETCHED, DOC_DONE };

struct doc {
    struct anpi_poller *p;
    char *url;
    char *title;
    enum doc_state state;
    char *body;         /* DOC_FETCHED: held until the older ones are handed over */
    size_t len;
};

struct anpi_poller {
    uv_loop_t *loop;
    struct anpi_fetcher *fetcher;
    uv_timer_t timer;
    char *source;
    struct feed_url *feeds;
    size_t nfeeds;
    int64_t interval_ms;
    int64_t max_backoff_ms;
    size_t max_doc_bytes;
    long timeout_s;
    int parallel;
    anpi_poller_doc_cb cb;
    void *arg;
    struct anpi_seenset *seen;
    struct anpi_poller_stats st;

    /* the current round */
    int started, busy, again;
    int64_t round_start;
    size_t feed_idx;
    struct doc *docs;
    size_t ndocs, next_doc, deliver;
    int in_flight;
    int doc_failed;
    char *new_etag, *new_last_modified;

    int closing;
    int pending_closes;
    void (*closed)(void *);
    void *closed_arg;
};

static void start_round(struct anpi_poller *p);
static void on_doc(void *arg, const struct anpi_fetch_result *r);
static void deliver(struct anpi_poller *p);
static void fetch_feed(struct anpi_poller *p);

static void record_error(struct anpi_poller *p, const char *fmt, ...) ANPI_PRINTF(2, 3);

static void
record_error(struct anpi_poller *p, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->st.last_error, sizeof(p->st.last_error), fmt, ap);
    va_end(ap);
    p->st.errors++;
    anpi_warn(ANPI_LG_FEED, "poller %s: %s", p->source, p->st.last_error);
}

static void
set_str(char **dst, const char *src)
{
    free(*dst);
    *dst = src ? anpi_xstrdup(src) : NULL;
}

struct anpi_poller *
anpi_poller_create(uv_loop_t *loop, const struct anpi_poller_opts *o,
                   anpi_poller_doc_cb cb, void *arg)
{
    if (!o || !o->source || !*o->source || !o->urls || o->nurls == 0 || !cb)
        return NULL;
    for (size_t i = 0; i < o->nurls; i++)
        if (!o->urls[i] || !*o->urls[i])
            return NULL;
    struct anpi_fetcher *f = anpi_fetcher_create(loop);
    if (!f)
        return NULL;
    struct anpi_poller *p = anpi_xcalloc(1, sizeof(*p));
    p->loop = loop;
    p->fetcher = f;
    p->source = anpi_xstrdup(o->source);
    p->nfeeds = o->nurls;
    p->feeds = anpi_xcalloc(o->nurls, sizeof(*p->feeds));
    for (size_t i = 0; i < o->nurls; i++)
        p->feeds[i].url = anpi_xstrdup(o->urls[i]);
    p->interval_ms = (int64_t)(o->interval_s > 0 ? o->interval_s : DEFAULT_INTERVAL_S) * 1000;
    p->max_backoff_ms = (int64_t)(o->max_backoff_s > 0 ? o->max_backoff_s : DEFAULT_BACKOFF_S) * 1000;
    p->max_doc_bytes = o->max_doc_bytes ? o->max_doc_bytes : ANPI_FETCH_DEFAULT_MAX_BYTES;
    p->timeout_s = o->timeout_s > 0 ? o->timeout_s : DEFAULT_TIMEOUT_S;
    p->parallel = o->parallel > 0 ? o->parallel : DEFAULT_PARALLEL;
    p->cb = cb;
    p->arg = arg;
    p->seen = anpi_seenset_create(o->max_seen);
    uv_timer_init(loop, &p->timer);
    p->timer.data = p;
    return p;
}

void
anpi_poller_mark_seen(struct anpi_poller *p, const char *url)
{
    if (url && *url)
        anpi_seenset_add(p->seen, url);
}

const struct anpi_poller_stats *
anpi_poller_stats(const struct anpi_poller *p)
{
    return &p->st;
}

static void
free_round(struct anpi_poller *p)
{
    for (size_t i = 0; i < p->ndocs; i++) {
        free(p->docs[i].url);
        free(p->docs[i].title);
        free(p->docs[i].body);
    }
    free(p->docs);
    p->docs = NULL;
    p->ndocs = p->next_doc = p->deliver = 0;
    free(p->new_etag);
    free(p->new_last_modified);
    p->new_etag = p->new_last_modified = NULL;
    p->doc_failed = 0;
}

static void
on_timer(uv_timer_t *t)
{
    start_round(t->data);
}

static void
round_end(struct anpi_poller *p, int ok)
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
            delay = p->max_backoff_ms > p->interval_ms ? p->max_backoff_ms : p->interval_ms;
    }
    free_round(p);
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

/* Start document fetches up to the parallel limit; end the round when the
 * queue is drained and nothing is in flight. */
static void
pump(struct anpi_poller *p)
{
    while (p->in_flight < p->parallel && p->next_doc < p->ndocs) {
        struct doc *n = &p->docs[p->next_doc++];
        if (anpi_seenset_has(p->seen, n->url)) {
            n->state = DOC_DONE;
            continue;
        }
        struct anpi_fetch_opts fo = { .max_bytes = p->max_doc_bytes, .timeout_s = p->timeout_s };
        int rc = anpi_fetch(p->fetcher, n->url, &fo, on_doc, n);
        if (rc != 0) {
            record_error(p, "document %s: cannot start request: %s", n->url, anpi_strerror(rc));
            p->doc_failed = 1;
            n->state = DOC_DONE;
            continue;
        }
        n->state = DOC_IN_FLIGHT;
        p->in_flight++;
    }
    if (p->in_flight == 0 && p->next_doc >= p->ndocs) {
        deliver(p);     /* nothing is held back once nothing is in flight */
        if (p->closing)
            return;
        struct feed_url *fu = &p->feeds[p->feed_idx];
        if (p->doc_failed) {
            set_str(&fu->etag, NULL);
            set_str(&fu->last_modified, NULL);
        } else {
            set_str(&fu->etag, p->new_etag);
            set_str(&fu->last_modified, p->new_last_modified);
        }
        round_end(p, 1);
    }
}


static void
hand_over(struct anpi_poller *p, const struct doc *d, const char *body, size_t len)
{
    p->st.documents++;
    p->st.last_document = anpi_now_ms();
    p->cb(p->arg, p->source, d->url, d->title ? d->title : "", body, len);
}

/* Hand fetched documents to the callback in queue order (oldest first),
 * whatever order the parallel fetches finish in. */
static void
deliver(struct anpi_poller *p)
{
    while (!p->closing && p->deliver < p->next_doc) {
        struct doc *d = &p->docs[p->deliver];
        if (d->state == DOC_IN_FLIGHT || d->state == DOC_QUEUED)
            break;
        p->deliver++;
        if (d->state == DOC_FETCHED) {
            d->state = DOC_DONE;
            hand_over(p, d, d->body, d->len);
            free(d->body);
            d->body = NULL;
        }
    }
}

static void
on_doc(void *arg, const struct anpi_fetch_result *r)
{
    struct doc *d = arg;
    struct anpi_poller *p = d->p;
    p->in_flight--;
    d->state = DOC_DONE;
    if (p->closing)
        return;
    if (!r->error && r->status == 200) {
        /* Seen before the callback: whatever the consumer does with it, the
         * URL answered 200 and must never be downloaded again. */
        anpi_seenset_add(p->seen, d->url);
        if (d == &p->docs[p->deliver]) {
            p->deliver++;
            hand_over(p, d, r->body, r->len);
        } else {
            d->body = anpi_xmalloc(r->len + 1);
            memcpy(d->body, r->body, r->len);
            d->body[r->len] = '\0';
            d->len = r->len;
            d->state = DOC_FETCHED;
        }
    } else {
        if (r->error)
            record_error(p, "document %s: %s", d->url, r->error);
        else
            record_error(p, "document %s: HTTP %d", d->url, r->status);
        if (r->code == ANPI_ETOOBIG) {
            /* It will not shrink; fetching it again every round is exactly
             * the re-downloading JMA blocks clients for. */
            anpi_seenset_add(p->seen, d->url);
        } else {
            p->doc_failed = 1;
        }
    }
    deliver(p);
    if (p->closing)
        return;
    pump(p);
}

struct order {
    int64_t at;
    size_t idx;
};

static int
cmp_order(const void *a, const void *b)
{
    const struct order *x = a, *y = b;
    if (x->at != y->at)
        return x->at < y->at ? -1 : 1;
    /* Same time: feeds list newest first, so the later entry is older. */
    return x->idx < y->idx ? 1 : x->idx > y->idx ? -1 : 0;
}

/* Queue the entries not fetched yet, oldest first, each URL once. */
static void
queue_docs(struct anpi_poller *p, const struct anpi_atom_feed *feed)
{
    struct order *ord = anpi_xcalloc(feed->n ? feed->n : 1, sizeof(*ord));
    for (size_t i = 0; i < feed->n; i++) {
        ord[i].at = feed->entries[i].updated_at;
        ord[i].idx = i;
    }
    qsort(ord, feed->n, sizeof(*ord), cmp_order);
    struct anpi_seenset *queued = anpi_seenset_create(feed->n + 1);
    p->docs = anpi_xcalloc(feed->n ? feed->n : 1, sizeof(*p->docs));
    for (size_t i = 0; i < feed->n; i++) {
        const struct anpi_atom_entry *e = &feed->entries[ord[i].idx];
        if (anpi_seenset_has(p->seen, e->href) || !anpi_seenset_add(queued, e->href))
            continue;
        struct doc *d = &p->docs[p->ndocs++];
        d->p = p;
        d->url = anpi_xstrdup(e->href);
        d->title = e->title ? anpi_xstrdup(e->title) : NULL;
    }
    anpi_seenset_destroy(queued);
    free(ord);
}

static void
on_feed(void *arg, const struct anpi_fetch_result *r)
{
    struct anpi_poller *p = arg;
    if (p->closing)
        return;
    struct feed_url *fu = &p->feeds[p->feed_idx];
    if (r->error || (r->status != 200 && r->status != 304)) {
        if (r->error)
            record_error(p, "feed %s: %s", fu->url, r->error);
        else
            record_error(p, "feed %s: HTTP %d", fu->url, r->status);
        p->feed_idx++;
        fetch_feed(p);
        return;
    }
    if (r->status == 304) {
        p->st.not_modified++;
        round_end(p, 1);
        return;
    }
    struct anpi_atom_feed feed;
    char err[256];
    int rc = anpi_atom_parse(r->body, r->len, &feed, err, sizeof(err));
    if (rc != 0) {
        record_error(p, "feed %s: %s", fu->url, err);
        /* Forget its validators: a broken feed must not be 304'd forever. */
        set_str(&fu->etag, NULL);
        set_str(&fu->last_modified, NULL);
        p->feed_idx++;
        fetch_feed(p);
        return;
    }
    p->st.feeds_parsed++;
    p->new_etag = r->etag ? anpi_xstrdup(r->etag) : NULL;
    p->new_last_modified = r->last_modified ? anpi_xstrdup(r->last_modified) : NULL;
    queue_docs(p, &feed);
    anpi_atom_free(&feed);
    pump(p);
}

static void
fetch_feed(struct anpi_poller *p)
{
    while (p->feed_idx < p->nfeeds) {
        struct feed_url *fu = &p->feeds[p->feed_idx];
        struct anpi_fetch_opts fo = {
            .etag = fu->etag, .last_modified = fu->last_modified,
            .max_bytes = ANPI_ATOM_MAX_BYTES, .timeout_s = p->timeout_s,
        };
        int rc = anpi_fetch(p->fetcher, fu->url, &fo, on_feed, p);
        if (rc == 0)
            return;
        record_error(p, "feed %s: cannot start request: %s", fu->url, anpi_strerror(rc));
        p->feed_idx++;
    }
    round_end(p, 0);
}

static void
start_round(struct anpi_poller *p)
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
    p->feed_idx = 0;
    fetch_feed(p);
}

int
anpi_poller_start(struct anpi_poller *p)
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
anpi_poller_poll_now(struct anpi_poller *p)
{
    start_round(p);
}

static void
release(struct anpi_poller *p)
{
    if (--p->pending_closes > 0)
        return;
    void (*closed)(void *) = p->closed;
    void *arg = p->closed_arg;
    free_round(p);
    for (size_t i = 0; i < p->nfeeds; i++) {
        free(p->feeds[i].url);
        free(p->feeds[i].etag);
        free(p->feeds[i].last_modified);
    }
    free(p->feeds);
    anpi_seenset_destroy(p->seen);
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
anpi_poller_close(struct anpi_poller *p, void (*closed)(void *), void *arg)
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
