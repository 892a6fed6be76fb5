/* log.h - structured logging: one JSON object per line on stderr.
 *
 * No personal data goes into logs: use anpi_log_mask_addr() for mail
 * addresses ("****@example.jp"). */
#ifndef ANPI_LOG_H
#define ANPI_LOG_H

#include "engine/anpi.h"

enum anpi_log_level { ANPI_LOG_DEBUG, ANPI_LOG_INFO, ANPI_LOG_WARN, ANPI_LOG_ERROR };

/* Groups name the subsystem; each can be raised to DEBUG separately. */
enum anpi_log_group {
    ANPI_LG_MAIN, ANPI_LG_DB, ANPI_LG_FEED, ANPI_LG_RULES, ANPI_LG_INCIDENT,
    ANPI_LG_SMTP, ANPI_LG_API, ANPI_LG_DIR, ANPI_LG_COUNT
};

void anpi_log_set_level(enum anpi_log_level lvl);
int  anpi_log_set_level_name(const char *name);     /* "debug", "info", ... */
void anpi_log_set_group_debug(enum anpi_log_group g, int on);

/* Message plus optional key/value pairs as a NULL-terminated list of
 * const char * (key, value, key, value, ..., NULL). */
void anpi_log_kv(enum anpi_log_level lvl, enum anpi_log_group g, const char *msg, ...);

void anpi_logf(enum anpi_log_level lvl, enum anpi_log_group g, const char *fmt, ...)
    ANPI_PRINTF(3, 4);

#define anpi_debug(g, ...) anpi_logf(ANPI_LOG_DEBUG, g, __VA_ARGS__)
#define anpi_info(g, ...)  anpi_logf(ANPI_LOG_INFO,  g, __VA_ARGS__)
#define anpi_warn(g, ...)  anpi_logf(ANPI_LOG_WARN,  g, __VA_ARGS__)
#define anpi_error(g, ...) anpi_logf(ANPI_LOG_ERROR, g, __VA_ARGS__)

/* "taro@example.jp" -> "****@example.jp" into buf (always NUL-terminated). */
const char *anpi_log_mask_addr(const char *addr, char *buf, size_t len);

#endif
