/* anpi.h - return codes and small helpers shared by every module.
 *
 * Every function that can fail returns int: 0 on success, a negative value on
 * error.  System errors are -errno; anpi's own codes start below -4095 so they
 * never collide with an errno value (libuv does the same). */
#ifndef ANPI_H
#define ANPI_H

#include <stddef.h>
#include <stdint.h>

#define ANPI_OK          0
#define ANPI_ERROR       (-4096)  /* generic failure, details logged or in errbuf */
#define ANPI_AGAIN       (-4097)  /* would block: call again later */
#define ANPI_DECLINED    (-4098)  /* not handled, not an error */
#define ANPI_EPARSE      (-4099)  /* malformed input */
#define ANPI_ETOOBIG     (-4100)  /* input over a configured limit */
#define ANPI_ENOTFOUND   (-4101)
#define ANPI_EDUPLICATE  (-4102)
#define ANPI_EPERM       (-4103)
#define ANPI_ETIMEDOUT   (-4104)
#define ANPI_ENOMEM      (-4105)

const char *anpi_strerror(int code);

#define ANPI_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

#if defined(__GNUC__)
#define ANPI_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define ANPI_PRINTF(f, a)
#endif

/* A list of human-readable error messages ("file:line:col: what").  Used by
 * every loader/validator so that all problems are reported, not just the
 * first one. */
struct anpi_errors {
    size_t n;
    size_t cap;
    char **msg;
};

void anpi_errors_add(struct anpi_errors *e, const char *fmt, ...) ANPI_PRINTF(2, 3);
void anpi_errors_free(struct anpi_errors *e);

/* xmalloc-style allocation: anpi treats out-of-memory as fatal (as Redis and
 * h2o do); a half-applied broadcast is worse than a restart that resumes from
 * the database. */
void *anpi_xmalloc(size_t n);
void *anpi_xcalloc(size_t n, size_t size);
void *anpi_xrealloc(void *p, size_t n);
char *anpi_xstrdup(const char *s);
char *anpi_xstrndup(const char *s, size_t n);
char *anpi_xasprintf(const char *fmt, ...) ANPI_PRINTF(1, 2);

/* Parse a decimal integer in [min, max]; the whole string must be used.
 * Replaces atoi/strtol at every edge (OpenBSD strtonum idea). */
int anpi_parse_int64(const char *s, int64_t min, int64_t max, int64_t *out);

/* Parse a duration such as "90s", "15m", "6h", "2d" or a bare number of
 * seconds.  Returns 0 and seconds in *out, or ANPI_EPARSE. */
int anpi_parse_duration(const char *s, int64_t *out);

/* Wall clock in milliseconds since the epoch. */
int64_t anpi_now_ms(void);

#endif
