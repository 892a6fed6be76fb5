/* buf.h - growable byte buffer with a hard maximum (curl dynbuf idea).
 *
 * Every buffer that holds outside input is created with a cap; appending past
 * it fails with ANPI_ETOOBIG instead of growing without bound. */
#ifndef ANPI_BUF_H
#define ANPI_BUF_H

#include <stdarg.h>
#include "engine/anpi.h"

struct anpi_buf {
    char *data;     /* always NUL-terminated when len > 0 or after any append */
    size_t len;
    size_t cap;
    size_t max;     /* hard limit on len */
};

void anpi_buf_init(struct anpi_buf *b, size_t max);
void anpi_buf_free(struct anpi_buf *b);
void anpi_buf_reset(struct anpi_buf *b);
int  anpi_buf_append(struct anpi_buf *b, const void *p, size_t n);
int  anpi_buf_puts(struct anpi_buf *b, const char *s);
int  anpi_buf_putc(struct anpi_buf *b, char c);
int  anpi_buf_printf(struct anpi_buf *b, const char *fmt, ...) ANPI_PRINTF(2, 3);
int  anpi_buf_vprintf(struct anpi_buf *b, const char *fmt, va_list ap);
/* Drop the first n bytes. */
void anpi_buf_consume(struct anpi_buf *b, size_t n);
/* Hand over ownership of the data (NUL-terminated; never NULL). */
char *anpi_buf_steal(struct anpi_buf *b);
/* Append s with &<>"' escaped for HTML text and attribute values. */
int  anpi_buf_put_html(struct anpi_buf *b, const char *s);

#endif
