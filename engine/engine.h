/* engine.h - the daemon's state and the pipeline steps it runs.
 *
 * One libuv loop runs everything.  Each pipeline step is a row in
 * PostgreSQL before the next starts (see engine/schema/); this file ties
 * feeds, rules, channels and the HTTP API to those steps. */
#ifndef ANPI_ENGINE_H
#define ANPI_ENGINE_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "engine/config.h"
#include "engine/db.h"

struct anpi_ruleset;
struct anpi_smtp_pool;
struct anpi_http_server;
struct anpi_poller;
struct anpi_docpoll;
struct anpi_linereader;
struct anpi_dkim_key;
struct anpi_lmtp;

struct anpi_metrics {
    uint64_t documents_received, documents_duplicate, documents_rejected;
    uint64_t events, incidents_opened, decisions;
    uint64_t deliveries_sent, deliveries_deferred, deliveries_failed;
    uint64_t answers;
    uint64_t http_requests;
    double last_doc_to_first_accept_s;   /* end-to-end latency of the last broadcast */
};

/* Health of one feed source: fed by its poller (if any) and by every
 * document that reaches the engine (polled or pushed). */
struct anpi_feed_health {
    char source[16];
    bool polled;
    int64_t last_success_ms;       /* last poll that worked, or last good document */
    int64_t last_document_ms;      /* last document accepted */
    int64_t last_error_ms;
    uint64_t documents, errors;
    char last_error[256];
    int64_t stale_after_s;         /* 0 = no staleness alarm */
    bool alarmed;                  /* the stale alarm went out and the feed has not recovered */
};
#define ANPI_MAX_FEEDS 8

struct anpi_engine {
    uv_loop_t *loop;
    struct anpi_config *cfg;
    struct anpi_ruleset *rules;
    struct anpi_db *db;
    struct anpi_smtp_pool *smtp;
    struct anpi_http_server *pub, *admin;

    char node_id[96];              /* lease owner name: host:pid:start */
    unsigned char link_key[32];    /* HMAC key for reply/approval links (shared via the database) */
    char mail_domain[256];         /* right-hand side of Message-IDs */
    struct anpi_lmtp *lmtp;        /* inbound.lmtp listener, or NULL */
    struct anpi_dkim_key **dkim;   /* signing keys (dkim: in the config), or NULL */
    size_t ndkim;

    uv_timer_t tick_timer;         /* housekeeping: expiry, approval timeouts, resends */
    uv_timer_t dispatch_timer;     /* claims due deliveries */
    bool claiming;
    unsigned inflight;
    unsigned max_inflight;
    unsigned live_nodes;           /* nodes with a recent heartbeat (rate shares) */
    bool stopping;

    struct ingest_job *ingest_head, *ingest_tail;   /* documents are processed one at a time */
    bool ingest_busy;

    struct anpi_feed_health feeds[ANPI_MAX_FEEDS];
    size_t nfeeds;
    struct anpi_poller *pollers[ANPI_MAX_FEEDS];     /* Atom pollers by feed index, or NULL */
    struct anpi_docpoll *docpolls[ANPI_MAX_FEEDS];   /* single-document pollers (cap, mofa, gdacs) */
    struct anpi_linereader *readers[ANPI_MAX_FEEDS]; /* QZSS receiver lines */
    uv_timer_t health_timer;       /* staleness alarms, scheduled drills */
    uv_timer_t escalation_timer;   /* escalation by group answer rate (escalation.check_every) */

    struct anpi_metrics m;
};

/* --- health.c: feed health and staleness alarms; scheduled drills ------- */
struct anpi_feed_health *anpi_feed_health_get(struct anpi_engine *e, const char *source);
void anpi_feed_health_document(struct anpi_engine *e, const char *source);
void anpi_feed_health_error(struct anpi_engine *e, const char *source, const char *msg);
void anpi_feed_health_start(struct anpi_engine *e);
void anpi_feed_health_stop(struct anpi_engine *e);
/* {"feeds": [...]} for GET /api/v1/feeds (caller frees with json_decref). */
struct json_t *anpi_feed_health_json(struct anpi_engine *e);

/* --- ingest.c: documents -> events -> rules -> incidents ------------------ */
struct anpi_ingest_result {
    unsigned status;               /* HTTP-like: 202 stored, 200 duplicate, 400 malformed, 503 db */
    const char *error;             /* message when status >= 400 */
    long long document_id;
    const char *events_json;       /* JSON array text of the stored events (may be NULL) */
};
typedef void (*anpi_ingest_cb)(void *arg, const struct anpi_ingest_result *r);
/* The incident message (templates, questions, audience) of a safety check
 * to the travellers in `country` started by hand, from the loaded rule
 * overseas-safety-check; NULL when no such rule is loaded (malloc'd JSON). */
char *anpi_manual_check_message(const struct anpi_engine *e, const char *country, const char *title);

/* body is copied.  url may be NULL (pushed documents). */
void anpi_ingest(struct anpi_engine *e, const char *source, const char *url, const char *body,
                 size_t len, bool replay, const char *actor, anpi_ingest_cb cb, void *arg);

/* --- dispatch.c: claimed deliveries -> channel ------------------------------ */
void anpi_dispatch_start(struct anpi_engine *e);
void anpi_dispatch_kick(struct anpi_engine *e);
void anpi_dispatch_stop(struct anpi_engine *e);

/* --- links.c: login-free link tokens (HMAC, nothing to store) -------------- */
enum anpi_link_kind {
    ANPI_LINK_REPLY = 's',      /* id = recipient of a safety broadcast */
    ANPI_LINK_APPROVE = 'a',    /* id = recipient of an approval request */
    ANPI_LINK_REJECT = 'r',
    ANPI_LINK_CONFIRM = 'c',    /* id = delivery of an address check: the address is alive */
    ANPI_LINK_UNSUBSCRIBE = 'u',/* id = delivery of HR mail: one-click unsubscribe (RFC 8058) */
};
#define ANPI_LINK_TOKEN_LEN 34
void anpi_link_make(const unsigned char key[32], enum anpi_link_kind kind, int64_t id,
                    char out[ANPI_LINK_TOKEN_LEN + 1]);
/* Returns 0 and kind/id for a genuine token; ANPI_EPARSE for anything else. */
int anpi_link_parse(const unsigned char key[32], const char *token, enum anpi_link_kind *kind,
                    int64_t *id);

/* --- render.c: a claimed delivery's message -------------------------------- */
struct anpi_render_in {
    const char *kind;              /* safety, approval, notice, info, check */
    const char *subject_tmpl, *body_tmpl;
    const char *vars_json;         /* broadcast variables */
    const char *person_name;
    int64_t recipient_id, incident_id, delivery_id;
    int round;
    bool drill;
};
/* Renders subject and body (text).  Returns 0 or ANPI_EPARSE (bad vars). */
int anpi_render(const struct anpi_engine *e, const struct anpi_render_in *in, char **subject,
                char **body);

/* --- inbound.c: bounces and mail replies (inbound.lmtp) ------------------- */
int anpi_inbound_start(struct anpi_engine *e, char *err, size_t errlen);
void anpi_inbound_stop(struct anpi_engine *e);

/* --- api.c: HTTP endpoints ----------------------------------------------- */
int anpi_api_start(struct anpi_engine *e, char *err, size_t errlen);

/* Format seconds since the epoch as JST text "2030年4月1日 10時15分". */
void anpi_format_jst(int64_t t, char *buf, size_t len);

#endif
