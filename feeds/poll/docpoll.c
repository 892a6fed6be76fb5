/* docpoll.c - single-document poller: conditional GET, URL fail-over,
 * change detection on the body's SHA-256, exponential back-off.
 *
 * Validators are kept per URL (two mirrors have different ETags), the hash
 * of the last delivered body per poller (two mirrors serve the same
 * document: the second must not re-deliver it). */
#include "feeds/poll/docpoll.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "engine/anpi.h"
#include "feeds/poll/http_fetch.h"
#include "feeds/poll/pollround.h"

#define DEFAULT_INTERVAL_S   300

/* URL fail-over, validators, back-off and scheduling live in pollround.c;
 * this file adds the body hash. */
struct anpi_docpoll {
    struct anpi_pollround *round;
    anpi_docpoll_cb cb;
    void *arg;
    struct anpi_docpoll_stats st;

    unsigned char last_sha[32];
    int have_sha;
};

static void on_body(void *owner, const struct anpi_fetch_result *r);

static void
on_free(void *owner)
{
    free(owner);
}

static const struct anpi_pollround_hooks docpoll_hooks = {
    .on_body = on_body, .on_free = on_free,
};

struct anpi_docpoll *
anpi_docpoll_create(uv_loop_t *loop, const struct anpi_docpoll_opts *o, anpi_docpoll_cb cb,
                    void *arg)
{
    if (!o || !cb)
        return NULL;
    struct anpi_docpoll *p = anpi_xcalloc(1, sizeof(*p));
    struct anpi_pollround_opts ro = {
        .kind = "docpoll", .url_label = "", .source = o->source,
        .urls = o->urls, .nurls = o->nurls,
        .interval_s = o->interval_s, .default_interval_s = DEFAULT_INTERVAL_S,
        .max_backoff_s = o->max_backoff_s,
        .max_bytes = o->max_bytes ? o->max_bytes : ANPI_FETCH_DEFAULT_MAX_BYTES,
        .timeout_s = o->timeout_s,
    };
    p->round = anpi_pollround_create(loop, &ro, &docpoll_hooks, p, ANPI_POLLROUND_STATS(p->st));
    if (!p->round) {
        free(p);
        return NULL;
    }
    p->cb = cb;
    p->arg = arg;
    return p;
}

static int
hexval(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

int
anpi_docpoll_set_last_sha256(struct anpi_docpoll *p, const char *hex)
{
    unsigned char sha[32];
    if (!hex || strlen(hex) != 64)
        return ANPI_EPARSE;
    for (size_t i = 0; i < 32; i++) {
        int hi = hexval(hex[2 * i]), lo = hexval(hex[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return ANPI_EPARSE;
        sha[i] = (unsigned char)(hi << 4 | lo);
    }
    memcpy(p->last_sha, sha, sizeof(sha));
    p->have_sha = 1;
    return ANPI_OK;
}

const struct anpi_docpoll_stats *
anpi_docpoll_stats(const struct anpi_docpoll *p)
{
    return &p->st;
}

static void
on_body(void *owner, const struct anpi_fetch_result *r)
{
    struct anpi_docpoll *p = owner;
    const char *url = anpi_pollround_url(p->round);
    if (r->len == 0) {
        /* an empty 200 is a broken server or proxy, not a document */
        anpi_pollround_error(p->round, "%s: empty body", url);
        anpi_pollround_next_url(p->round);
        return;
    }
    unsigned char sha[32];
    unsigned int shalen = 0;
    if (EVP_Digest(r->body, r->len, sha, &shalen, EVP_sha256(), NULL) != 1 || shalen != 32) {
        anpi_pollround_error(p->round, "%s: cannot hash the body", url);
        anpi_pollround_end(p->round, 0);
        return;
    }
    /* kept only once the body is hashed: a 304 must never hide a body that
     * was not looked at */
    anpi_pollround_set_validators(p->round, r->etag, r->last_modified);
    if (p->have_sha && memcmp(sha, p->last_sha, sizeof(sha)) == 0) {
        p->st.unchanged++;
        anpi_pollround_end(p->round, 1);
        return;
    }
    memcpy(p->last_sha, sha, sizeof(sha));
    p->have_sha = 1;
    p->st.documents++;
    p->st.last_document = anpi_now_ms();
    p->cb(p->arg, anpi_pollround_source(p->round), url, r->body, r->len);
    if (anpi_pollround_closing(p->round))
        return;     /* closed from the callback: the round end would touch the timer */
    anpi_pollround_end(p->round, 1);
}

int
anpi_docpoll_start(struct anpi_docpoll *p)
{
    return anpi_pollround_start(p->round);
}

void
anpi_docpoll_poll_now(struct anpi_docpoll *p)
{
    anpi_pollround_poll_now(p->round);
}

void
anpi_docpoll_close(struct anpi_docpoll *p, void (*closed)(void *), void *arg)
{
    if (!p)
        return;
    anpi_pollround_close(p->round, closed, arg);
}
