/* lmtp.h - inbound LMTP server (RFC 2033) on the libuv loop.
 *
 * A local MTA delivers bounces and mail replies here (config
 * `inbound.lmtp: "host:port"`).  The server speaks the protocol only: each
 * complete message goes to one callback, and the consumer (the engine)
 * stores it and then answers with one status per recipient through `done`,
 * possibly much later.  Until then the session reads no more input, so a
 * pipelining client cannot run ahead of the store.
 *
 * Limits: command lines 4 KiB (longer: "500 5.5.2", the connection goes
 * on); messages max_msg bytes (larger: the rest of DATA is read and thrown
 * away, then "552 5.3.4" per recipient); recipients per transaction;
 * connections; a command timeout (the wait for `done` is not timed); errors
 * per session (then "421" and close).  The callback never sees a partial or
 * oversized message. */
#ifndef ANPI_LMTP_H
#define ANPI_LMTP_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>
#include "engine/anpi.h"

#define ANPI_LMTP_LINE_MAX          4096
#define ANPI_LMTP_MSG_MAX_DEFAULT   (10u * 1024 * 1024)
#define ANPI_LMTP_RCPTS_DEFAULT     100
#define ANPI_LMTP_CONNS_DEFAULT     64
#define ANPI_LMTP_TIMEOUT_DEFAULT   300000   /* ms, RFC 5321 4.5.3.2 */
#define ANPI_LMTP_ERRORS_MAX        10

/* The consumer's answer for one message: codes[i] is the reply code for
 * rcpts[i] -- 250 stored, 4xx (use 451) temporary failure, 5xx (use 550)
 * permanent.  ncodes must equal nrcpts; otherwise every recipient gets 451.
 * Call exactly once per message, on the loop thread, from inside the
 * callback or any time later, even after the client went away. */
typedef void (*anpi_lmtp_done)(void *done_arg, const int *codes, size_t ncodes);

/* One message.  mail_from is "" for the null sender (bounces).  All pointers
 * stay valid until done() is called.  data is the message with dot-stuffing
 * removed and its line ends as received, NUL-terminated at data[len]. */
typedef void (*anpi_lmtp_msg_cb)(void *arg, const char *mail_from, const char *const *rcpts,
                                 size_t nrcpts, const char *data, size_t len,
                                 anpi_lmtp_done done, void *done_arg);

struct anpi_lmtp_opts {
    const char *listen;        /* "127.0.0.1:2424", "[::1]:2424", "localhost:0" */
    const char *hostname;      /* in the greeting and LHLO reply; NULL = "anpi" */
    size_t max_msg;            /* 0 = ANPI_LMTP_MSG_MAX_DEFAULT */
    size_t max_rcpts;          /* 0 = ANPI_LMTP_RCPTS_DEFAULT */
    unsigned max_conns;        /* 0 = ANPI_LMTP_CONNS_DEFAULT */
    uint64_t timeout_ms;       /* 0 = ANPI_LMTP_TIMEOUT_DEFAULT */
    anpi_lmtp_msg_cb cb;
    void *cb_arg;
};

struct anpi_lmtp;

/* Bind and listen.  Returns 0 and *out, or a negative code with err saying
 * what (bad address, bind failure) -- nothing to close then. */
int anpi_lmtp_create(uv_loop_t *loop, const struct anpi_lmtp_opts *opts,
                     struct anpi_lmtp **out, char *err, size_t errlen);

/* The bound port (useful with port 0), or a negative error. */
int anpi_lmtp_port(const struct anpi_lmtp *s);

/* Connections open now. */
size_t anpi_lmtp_sessions(const struct anpi_lmtp *s);

/* Stop listening and drop every connection.  The server is freed once all
 * handles are closed and every pending done() has been called; closed_cb
 * (may be NULL) runs then. */
void anpi_lmtp_close(struct anpi_lmtp *s, void (*closed_cb)(void *arg), void *arg);

#endif
