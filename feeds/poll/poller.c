/* poller.c - JMA Atom feed poller: conditional GET, de-duplication on the
 * entry URL, bounded parallel document fetches, exponential back-off.
 *
 * Feed validators (ETag / Last-Modified) are committed only at the end of a
 * round in which every new document was fetched: after a document failure
 * the next round re-reads the feed in full instead of getting a 304 and
 * silently forgetting the document. */
#include "feeds/poll/poller.h"

#include <stdlib.h>
#include <string.h>

#include "engine/anpi.h"
#include "feeds/poll/atom.h"
#include "feeds/poll/http_fetch.h"
#include "feeds/poll/pollround.h"
#include "feeds/poll/seenset.h"

#define DEFAULT_INTERVAL_S   60
#define DEFAULT_PARALLEL     3

enum doc_state { DOC_QUEUED, DOC_IN_FLIGHT, DOC_FETCHED, DOC_DONE };

struct doc {
    struct anpi_poller *p;
    char *url;
    char *title;
    enum doc_state state;
    char *body;         /* DOC_FETCHED: held until the older ones are handed over */
    size_t len;
};

/* Feed URL fail-over, validators, back-off and scheduling live in
 * pollround.c; this file adds the Atom parse and the document fetches. */
struct anpi_poller {
    struct anpi_pollround *round;
    size_t max_doc_bytes;
    int parallel;
    anpi_poller_doc_cb cb;
    void *arg;
    struct anpi_seenset *seen;
    struct anpi_poller_stats st;

    /* the current round */
    struct doc *docs;
    size_t ndocs, next_doc, deliver;
    int in_flight;
    int doc_failed;
    char *new_etag, *new_last_modified;
};

static void on_doc(void *arg, const struct anpi_fetch_result *r);
static void deliver(struct anpi_poller *p);
static void on_feed(void *owner, const struct anpi_fetch_result *r);
static void free_round(void *owner);
static void on_free(void *owner);

static const struct anpi_pollround_hooks poller_hooks = {
    .on_body = on_feed, .on_round_end = free_round, .on_free = on_free,
};

struct anpi_poller *
anpi_poller_create(uv_loop_t *loop, const struct anpi_poller_opts *o,
                   anpi_poller_doc_cb cb, void *arg)
{
    if (!o || !cb)
        return NULL;
    struct anpi_poller *p = anpi_xcalloc(1, sizeof(*p));
    struct anpi_pollround_opts ro = {
        .kind = "poller", .url_label = "feed ", .source = o->source,
        .urls = o->urls, .nurls = o->nurls,
        .interval_s = o->interval_s, .default_interval_s = DEFAULT_INTERVAL_S,
        .max_backoff_s = o->max_backoff_s,
        .max_bytes = ANPI_ATOM_MAX_BYTES, .timeout_s = o->timeout_s,
    };
    p->round = anpi_pollround_create(loop, &ro, &poller_hooks, p, ANPI_POLLROUND_STATS(p->st));
    if (!p->round) {
        free(p);
        return NULL;
    }
    p->max_doc_bytes = o->max_doc_bytes ? o->max_doc_bytes : ANPI_FETCH_DEFAULT_MAX_BYTES;
    p->parallel = o->parallel > 0 ? o->parallel : DEFAULT_PARALLEL;
    p->cb = cb;
    p->arg = arg;
    p->seen = anpi_seenset_create(o->max_seen);
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

/* Every round end: drop the round's documents and pending validators. */
static void
free_round(void *owner)
{
    struct anpi_poller *p = owner;
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
        struct anpi_fetch_opts fo = {
            .max_bytes = p->max_doc_bytes, .timeout_s = anpi_pollround_timeout_s(p->round),
        };
        int rc = anpi_fetch(anpi_pollround_fetcher(p->round), n->url, &fo, on_doc, n);
        if (rc != 0) {
            anpi_pollround_error(p->round, "document %s: cannot start request: %s", n->url,
                                 anpi_strerror(rc));
            p->doc_failed = 1;
            n->state = DOC_DONE;
            continue;
        }
        n->state = DOC_IN_FLIGHT;
        p->in_flight++;
    }
    if (p->in_flight == 0 && p->next_doc >= p->ndocs) {
        deliver(p);     /* nothing is held back once nothing is in flight */
        if (anpi_pollround_closing(p->round))
            return;
        if (p->doc_failed)
            anpi_pollround_set_validators(p->round, NULL, NULL);
        else
            anpi_pollround_set_validators(p->round, p->new_etag, p->new_last_modified);
        anpi_pollround_end(p->round, 1);
    }
}


static void
hand_over(struct anpi_poller *p, const struct doc *d, const char *body, size_t len)
{
    p->st.documents++;
    p->st.last_document = anpi_now_ms();
    p->cb(p->arg, anpi_pollround_source(p->round), d->url, d->title ? d->title : "", body, len);
}

/* Hand fetched documents to the callback in queue order (oldest first),
 * whatever order the parallel fetches finish in. */
static void
deliver(struct anpi_poller *p)
{
    while (!anpi_pollround_closing(p->round) && p->deliver < p->next_doc) {
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
    if (anpi_pollround_closing(p->round))
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
            anpi_pollround_error(p->round, "document %s: %s", d->url, r->error);
        else
            anpi_pollround_error(p->round, "document %s: HTTP %d", d->url, r->status);
        if (r->code == ANPI_ETOOBIG) {
            /* It will not shrink; fetching it again every round is exactly
             * the re-downloading JMA blocks clients for. */
            anpi_seenset_add(p->seen, d->url);
        } else {
            p->doc_failed = 1;
        }
    }
    deliver(p);
    if (anpi_pollround_closing(p->round))
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

/* A 200 from the current feed URL: parse it and queue the new entries. */
static void
on_feed(void *owner, const struct anpi_fetch_result *r)
{
    struct anpi_poller *p = owner;
    struct anpi_atom_feed feed;
    char err[256];
    int rc = anpi_atom_parse(r->body, r->len, &feed, err, sizeof(err));
    if (rc != 0) {
        anpi_pollround_error(p->round, "feed %s: %s", anpi_pollround_url(p->round), err);
        /* Forget its validators: a broken feed must not be 304'd forever. */
        anpi_pollround_set_validators(p->round, NULL, NULL);
        anpi_pollround_next_url(p->round);
        return;
    }
    p->st.feeds_parsed++;
    p->new_etag = r->etag ? anpi_xstrdup(r->etag) : NULL;
    p->new_last_modified = r->last_modified ? anpi_xstrdup(r->last_modified) : NULL;
    queue_docs(p, &feed);
    anpi_atom_free(&feed);
    pump(p);
}

int
anpi_poller_start(struct anpi_poller *p)
{
    return anpi_pollround_start(p->round);
}

void
anpi_poller_poll_now(struct anpi_poller *p)
{
    anpi_pollround_poll_now(p->round);
}

static void
on_free(void *owner)
{
    struct anpi_poller *p = owner;
    free_round(p);
    anpi_seenset_destroy(p->seen);
    free(p);
}

void
anpi_poller_close(struct anpi_poller *p, void (*closed)(void *), void *arg)
{
    if (!p)
        return;
    anpi_pollround_close(p->round, closed, arg);
}
