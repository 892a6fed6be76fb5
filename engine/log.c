/* log.c - JSON-lines logging to stderr.
 *
 * One line per record so that a crash never leaves half a record and tools
 * (jq, journald) can read it.  Strings are JSON-escaped here; callers pass
 * plain text. */
#include "engine/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "engine/buf.h"

static enum anpi_log_level min_level = ANPI_LOG_INFO;
static int group_debug[ANPI_LG_COUNT];

static const char *const group_names[ANPI_LG_COUNT] = {
    "main", "db", "feed", "rules", "incident", "smtp", "api", "directory",
};
static const char *const level_names[] = { "debug", "info", "warn", "error" };

void
anpi_log_set_level(enum anpi_log_level lvl)
{
    min_level = lvl;
}

int
anpi_log_set_level_name(const char *name)
{
    for (size_t i = 0; i < ANPI_ARRAY_LEN(level_names); i++) {
        if (strcmp(name, level_names[i]) == 0) {
            min_level = (enum anpi_log_level)i;
            return ANPI_OK;
        }
    }
    return ANPI_EPARSE;
}

void
anpi_log_set_group_debug(enum anpi_log_group g, int on)
{
    if ((unsigned)g < ANPI_LG_COUNT)
        group_debug[g] = on;
}

static void
put_json_str(struct anpi_buf *b, const char *s)
{
    anpi_buf_putc(b, '"');
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        switch (*p) {
        case '"':  anpi_buf_puts(b, "\\\""); break;
        case '\\': anpi_buf_puts(b, "\\\\"); break;
        case '\n': anpi_buf_puts(b, "\\n"); break;
        case '\r': anpi_buf_puts(b, "\\r"); break;
        case '\t': anpi_buf_puts(b, "\\t"); break;
        default:
            if (*p < 0x20)
                anpi_buf_printf(b, "\\u%04x", *p);
            else
                anpi_buf_putc(b, (char)*p);
        }
    }
    anpi_buf_putc(b, '"');
}

static int
enabled(enum anpi_log_level lvl, enum anpi_log_group g)
{
    if (lvl >= min_level)
        return 1;
    return lvl == ANPI_LOG_DEBUG && (unsigned)g < ANPI_LG_COUNT && group_debug[g];
}

static void
begin(struct anpi_buf *b, enum anpi_log_level lvl, enum anpi_log_group g)
{
    struct timespec ts;
    struct tm tm;
    char when[40];
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
    anpi_buf_printf(b, "{\"ts\":\"%s.%03ldZ\",\"level\":\"%s\",\"group\":\"%s\",\"msg\":",
                    when, ts.tv_nsec / 1000000, level_names[lvl],
                    (unsigned)g < ANPI_LG_COUNT ? group_names[g] : "?");
}

static void
finish(struct anpi_buf *b)
{
    anpi_buf_puts(b, "}\n");
    fwrite(b->data, 1, b->len, stderr);
    fflush(stderr);
    anpi_buf_free(b);
}

void
anpi_log_kv(enum anpi_log_level lvl, enum anpi_log_group g, const char *msg, ...)
{
    if (!enabled(lvl, g))
        return;
    struct anpi_buf b;
    anpi_buf_init(&b, 64 * 1024);
    begin(&b, lvl, g);
    put_json_str(&b, msg);
    va_list ap;
    va_start(ap, msg);
    for (;;) {
        const char *k = va_arg(ap, const char *);
        if (!k)
            break;
        const char *v = va_arg(ap, const char *);
        anpi_buf_putc(&b, ',');
        put_json_str(&b, k);
        anpi_buf_putc(&b, ':');
        put_json_str(&b, v ? v : "");
    }
    va_end(ap);
    finish(&b);
}

void
anpi_logf(enum anpi_log_level lvl, enum anpi_log_group g, const char *fmt, ...)
{
    if (!enabled(lvl, g))
        return;
    struct anpi_buf msg, b;
    anpi_buf_init(&msg, 64 * 1024);
    va_list ap;
    va_start(ap, fmt);
    anpi_buf_vprintf(&msg, fmt, ap);
    va_end(ap);
    anpi_buf_init(&b, 128 * 1024);
    begin(&b, lvl, g);
    put_json_str(&b, msg.data ? msg.data : "");
    anpi_buf_free(&msg);
    finish(&b);
}

const char *
anpi_log_mask_addr(const char *addr, char *buf, size_t len)
{
    if (!len)
        return buf;
    const char *at = addr ? strrchr(addr, '@') : NULL;
    snprintf(buf, len, "****%s", at ? at : "");
    return buf;
}
