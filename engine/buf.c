/* buf.c - growable byte buffer with a hard maximum. */
#include "engine/buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void
anpi_buf_init(struct anpi_buf *b, size_t max)
{
    b->data = NULL;
    b->len = b->cap = 0;
    b->max = max ? max : SIZE_MAX / 2;
}

void
anpi_buf_free(struct anpi_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

void
anpi_buf_reset(struct anpi_buf *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

static int
reserve(struct anpi_buf *b, size_t n)
{
    if (n > b->max - b->len)
        return ANPI_ETOOBIG;
    size_t need = b->len + n + 1;
    if (need <= b->cap)
        return ANPI_OK;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap *= 2;
    b->data = anpi_xrealloc(b->data, cap);
    b->cap = cap;
    return ANPI_OK;
}

int
anpi_buf_append(struct anpi_buf *b, const void *p, size_t n)
{
    int rc = reserve(b, n);
    if (rc)
        return rc;
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return ANPI_OK;
}

int
anpi_buf_puts(struct anpi_buf *b, const char *s)
{
    return anpi_buf_append(b, s, strlen(s));
}

int
anpi_buf_putc(struct anpi_buf *b, char c)
{
    return anpi_buf_append(b, &c, 1);
}

int
anpi_buf_vprintf(struct anpi_buf *b, const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0)
        return ANPI_ERROR;
    int rc = reserve(b, (size_t)n);
    if (rc)
        return rc;
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
    return ANPI_OK;
}

int
anpi_buf_printf(struct anpi_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = anpi_buf_vprintf(b, fmt, ap);
    va_end(ap);
    return rc;
}

void
anpi_buf_consume(struct anpi_buf *b, size_t n)
{
    if (n >= b->len) {
        anpi_buf_reset(b);
        return;
    }
    memmove(b->data, b->data + n, b->len - n);
    b->len -= n;
    b->data[b->len] = '\0';
}

char *
anpi_buf_steal(struct anpi_buf *b)
{
    char *p = b->data;
    if (!p)
        p = anpi_xstrdup("");
    b->data = NULL;
    b->len = b->cap = 0;
    return p;
}

int
anpi_buf_put_html(struct anpi_buf *b, const char *s)
{
    int rc = ANPI_OK;
    for (; *s && !rc; s++) {
        switch (*s) {
        case '&':  rc = anpi_buf_puts(b, "&amp;"); break;
        case '<':  rc = anpi_buf_puts(b, "&lt;"); break;
        case '>':  rc = anpi_buf_puts(b, "&gt;"); break;
        case '"':  rc = anpi_buf_puts(b, "&quot;"); break;
        case '\'': rc = anpi_buf_puts(b, "&#39;"); break;
        default:   rc = anpi_buf_putc(b, *s);
        }
    }
    return rc;
}
