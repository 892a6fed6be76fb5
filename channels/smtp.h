/* smtp.h - SMTP delivery channel: one personal message per recipient.
 *
 * A pool per set of relays.  Messages are queued per destination group (the
 * recipient domain's smtp.limits entry or built-in carrier profile, see
 * channels/smtp_limits.h) and per relay; each group has a token bucket and a
 * connection cap, each relay up to max_connections connections, reused for
 * the next message (RSET).  With PIPELINING the envelope goes out in one
 * write and the next envelope right behind the final dot (RFC 2920).
 * A relay with 3 connection failures in a row is down for 60 s; its
 * messages go to the next relay.  Everything runs on the caller's libuv
 * loop; nothing blocks it. */
#ifndef ANPI_SMTP_H
#define ANPI_SMTP_H

#include <stdbool.h>
#include <stddef.h>
#include <uv.h>
#include "engine/config.h"

struct anpi_smtp_opts {
    const char *helo_name;     /* EHLO argument */
    int timeout_s;             /* per command/reply; default 60; also connect timeout */
    int max_connections;       /* per relay, default 4 */
    int max_msgs_per_conn;     /* 0 = unlimited; else QUIT and reconnect after N */
    const struct anpi_smtp_limit *limits;  /* smtp.limits (copied), first match wins */
    size_t nlimits;
    bool no_pipelining;        /* never pipeline, even when offered (tests, broken peers) */
};

enum anpi_smtp_result { ANPI_SMTP_SENT = 0, ANPI_SMTP_TEMPFAIL, ANPI_SMTP_PERMFAIL };

struct anpi_smtp_outcome {
    enum anpi_smtp_result result;
    int code;                  /* last SMTP reply code, 0 for local/connection errors */
    char enhanced[16];         /* "5.1.1" or "" */
    char text[512];            /* reply text or local error ("connect: connection refused",
                                  "timeout waiting for reply to RCPT", "TLS: certificate verify failed") */
    bool user_unknown;         /* synchronous 550 5.1.1-style "no such user" */
    const char *relay;         /* host:port that produced it */
};

typedef void (*anpi_smtp_cb)(void *arg, const struct anpi_smtp_outcome *o);

struct anpi_smtp_pool;

struct anpi_smtp_pool *anpi_smtp_pool_create(uv_loop_t *loop, const struct anpi_relay_conf *relays,
                                             size_t nrelays, const struct anpi_smtp_opts *opts);

/* Queue one message for one recipient. The message (a complete RFC 5322 message with CRLF or LF
 * line ends) is copied; the client normalises to CRLF and dot-stuffs. cb is called exactly once
 * (also on pool close: TEMPFAIL "shutting down"). Returns 0 or an error (then cb is never called).
 * An envelope address containing CR, LF, NUL, '<' or '>' is not an error here: cb reports
 * PERMFAIL "invalid address" (from the loop, never from inside this call). */
int anpi_smtp_send(struct anpi_smtp_pool *p, const char *mail_from, const char *rcpt,
                   const char *msg, size_t len, anpi_smtp_cb cb, void *arg);

size_t anpi_smtp_queued(const struct anpi_smtp_pool *p);   /* waiting + in flight */

/* Messages not yet finished get TEMPFAIL "shutting down"; idle connections
 * say QUIT.  closed(arg) runs once every handle is closed; the pool is freed
 * before that. */
void anpi_smtp_pool_close(struct anpi_smtp_pool *p, void (*closed)(void *arg), void *arg);

/* Counters, for tests and metrics. */
struct anpi_smtp_stats {
    size_t connections_opened;   /* TCP connections that reached connect() success */
    size_t messages_sent;
    size_t messages_failed;      /* not sent: deferred + permanent */
    size_t messages_deferred;    /* TEMPFAIL among messages_failed */
    size_t txn_pipelined;        /* transactions whose envelope went out in one write */
    size_t relays_marked_down;   /* times a relay was marked down */
    size_t slowdowns;            /* 421/450 slow-downs applied to a group */
};
void anpi_smtp_pool_stats(const struct anpi_smtp_pool *p, struct anpi_smtp_stats *out);

/* Per relay, for metrics.  Strings belong to the pool. */
struct anpi_smtp_relay_stats {
    const char *relay;           /* host:port */
    bool down;                   /* marked down now */
    size_t connections;          /* open now */
    size_t sent, deferred, failed;
};

/* Per destination group ("default", "carrier:docomo", "limit:example.jp",
 * "domain:example.jp" for a "*" entry). */
struct anpi_smtp_group_stats {
    const char *group;
    size_t queued;               /* waiting for a token or a connection */
    size_t connections;          /* open now */
    size_t sent, deferred, failed;
    double rate_limit;           /* messages/s in force now (after slow-down and share), 0 = none */
    double current_rate;         /* messages/s accepted over the last second or so */
};

/* Fill up to max entries; return how many there are (may exceed max). */
size_t anpi_smtp_pool_relay_stats(const struct anpi_smtp_pool *p, struct anpi_smtp_relay_stats *out,
                                  size_t max);
size_t anpi_smtp_pool_group_stats(const struct anpi_smtp_pool *p, struct anpi_smtp_group_stats *out,
                                  size_t max);

/* Scale every limited group's rate and connections by numerator/denominator
 * (this node's share when several anpid processes send; the engine calls it
 * when the number of live nodes changes).  Connections never go below 1. */
void anpi_smtp_set_share(struct anpi_smtp_pool *p, unsigned numerator, unsigned denominator);

#endif
