/* outbox.h - the file channel: each message becomes one RFC 5322 file.
 *
 * Maildir delivery: written to DIR/tmp/, fsync'ed, then renamed into
 * DIR/new/ so a reader never sees half a file.  The file starts with
 * "X-Anpi-Envelope-To: <addr>\r\n", then the message with CRLF line ends
 * as it would be sent (not dot-stuffed).  The I/O runs on libuv's thread
 * pool; the loop thread never blocks. */
#ifndef ANPI_OUTBOX_H
#define ANPI_OUTBOX_H

#include <stddef.h>
#include <uv.h>
#include "engine/anpi.h"

/* status 0 or -errno; path is the file in DIR/new/ (NULL on failure),
 * valid during the callback. */
typedef void (*anpi_outbox_cb)(void *arg, int status /* 0 or -errno */, const char *path);

/* Copies msg.  Returns 0 (cb runs later, exactly once) or an error, then cb
 * is never called: ANPI_EPARSE for an envelope address with CR, LF, NUL,
 * '<' or '>', or a uv error code. */
int anpi_outbox_write(uv_loop_t *loop, const char *dir, const char *envelope_to,
                      const char *msg, size_t len, anpi_outbox_cb cb, void *arg);

#endif
