/* body.h - request-body and Cookie header parsers (outside input; fuzzed by
 * tests/fuzz/http_body). */
#ifndef ANPI_ADMIN_API_BODY_H
#define ANPI_ADMIN_API_BODY_H

#include <stddef.h>

#include <jansson.h>

#define ANPI_JSON_MAX_DEPTH   32
/* Fields per form: the console's compose form ticks one box per group, and a
 * ministry has 1,200 groups (still well inside the 64 KiB cap). */
#define ANPI_FORM_MAX_FIELDS  2000
#define ANPI_FORM_MAX_BYTES   (64 * 1024)

/* JSON body -> object (new reference).  Depth cap 32, size cap enforced by
 * the server; errors name line:col ("invalid JSON at 1:17: ...").  Top level
 * must be an object; duplicate keys and NUL characters are rejected. */
json_t *anpi_json_body(const char *body, size_t len, char *err, size_t errlen);

/* application/x-www-form-urlencoded: decodes + and %XX, requires valid UTF-8
 * (and no NUL) in names and values, caps ANPI_FORM_MAX_FIELDS fields and 64 KiB; duplicate
 * names keep all values in order.  Returns 0, ANPI_EPARSE or ANPI_ETOOBIG;
 * on error *out is left empty. */
struct anpi_form_field { char *name; char *value; };
struct anpi_form { size_t n; struct anpi_form_field *f; };
int anpi_form_parse(const char *body, size_t len, struct anpi_form *out, char *err, size_t errlen);
/* First value for name, or NULL. */
const char *anpi_form_get(const struct anpi_form *f, const char *name);
void anpi_form_free(struct anpi_form *f);

/* The value of cookie name in a Cookie request header ("a=1; anpi_session=x"),
 * copied into out.  0 when found; ANPI_ENOTFOUND when absent; ANPI_ETOOBIG when
 * the value does not fit outlen (the caller then treats it as foreign).
 * Names match exactly; the first occurrence wins. */
int anpi_cookie_find(const char *header, const char *name, char *out, size_t outlen);

#endif
