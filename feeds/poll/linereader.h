/* linereader.h - newline-terminated lines from a TCP endpoint or a serial
 * device, on the libuv loop (the QZSS receiver's NMEA output).
 *
 * TCP: "host:port" (or "[v6]:port"), resolved and connected asynchronously,
 * TCP keep-alive on, reconnected with back-off when the peer closes or an
 * error occurs.  Serial: the device is opened O_RDONLY|O_NOCTTY|O_NONBLOCK,
 * set to raw mode at the configured speed and read through uv_poll; reopened
 * with back-off on error or hang-up.
 *
 * Lines are delivered without the line end (LF, CRLF; trailing CRs are
 * stripped); empty lines are skipped.  A line longer than max_line is
 * dropped whole and counted as an error; a partial line left by a
 * disconnect is dropped. */
#ifndef ANPI_FEEDS_POLL_LINEREADER_H
#define ANPI_FEEDS_POLL_LINEREADER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#define ANPI_LINEREADER_MAX_LINE 4096u

struct anpi_linereader;

/* One line, NUL-terminated (len excludes the NUL), valid only during the
 * call.  The callback may close the reader. */
typedef void (*anpi_linereader_cb)(void *arg, const char *line, size_t len);

struct anpi_linereader_stats {
    bool connected;           /* connected / device open right now */
    uint64_t lines;           /* lines delivered */
    uint64_t errors;          /* failed connects/opens, lost connections, read errors,
                                 over-long lines */
    uint64_t connects;        /* successful connects / opens */
    uint64_t disconnects;     /* connections lost / devices closed after an error */
    uint64_t bytes;           /* bytes read */
    int64_t last_line;        /* ms since epoch, 0 = never */
    int64_t last_connect;     /* ms since epoch, 0 = never */
    char last_error[256];
};

struct anpi_linereader_opts {
    const char *source;       /* for log lines; default "qzss" */
    const char *tcp;          /* "host:port", or NULL */
    const char *device;       /* "/dev/ttyUSB0", or NULL (exactly one of tcp, device) */
    int baud;                 /* device: 1200..230400; default 9600 */
    size_t max_line;          /* default ANPI_LINEREADER_MAX_LINE (bytes, without line end) */
    int min_backoff_ms;       /* first retry delay; doubles per failure; default 1000 */
    int max_backoff_s;        /* default 60 */
    int connect_timeout_s;    /* tcp; default 10 */
};

/* NULL when opts are unusable: neither or both of tcp/device, a tcp value
 * that is not host:port, an unsupported baud, no cb. */
struct anpi_linereader *anpi_linereader_create(uv_loop_t *loop,
                                               const struct anpi_linereader_opts *o,
                                               anpi_linereader_cb cb, void *arg);
/* Connect / open now (failures are retried with back-off, never returned). */
int anpi_linereader_start(struct anpi_linereader *r);
const struct anpi_linereader_stats *anpi_linereader_stats(const struct anpi_linereader *r);
/* Close everything; closed(arg) runs from the loop once every handle is
 * closed (closed may be NULL).  No line callback after this. */
void anpi_linereader_close(struct anpi_linereader *r, void (*closed)(void *), void *arg);

#endif
