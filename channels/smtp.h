/* smtp.h - SMTP delivery channel: one personal message per recipient.
 *
 * A pool per set of relays, a queue per relay, up to max_connections
 * connections per relay, each reused for the next queued message (RSET).
 * Everything runs on the caller's libuv loop; nothing blocks it. */
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
    size_t messages_failed;
};
void anpi_smtp_pool_stats(const struct anpi_smtp_pool *p, struct anpi_smtp_stats *out);

#endif
