/* http.h - HTTP/1.1 server on the libuv loop (libmicrohttpd in external-epoll
 * mode), with a small route table and request/response helpers.
 *
 * Everything runs on the loop thread: handlers, responses and the close
 * callback.  A handler may answer at once or later (after a database round
 * trip); in the second case the connection is suspended and other requests
 * are served meanwhile. */
#ifndef ANPI_ADMIN_API_HTTP_H
#define ANPI_ADMIN_API_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>
#include <uv.h>

#include "engine/anpi.h"

struct anpi_http_server;
struct anpi_http_req;
typedef void (*anpi_http_handler)(struct anpi_http_req *req, void *ctx);

struct anpi_http_opts {
    const char *listen;        /* "host:port" (IPv4 or [IPv6]); port 0 = pick a free one */
    size_t max_body;           /* bodies over this -> 413 before the handler runs; default 1 MiB */
    unsigned max_connections;  /* default 512 */
    unsigned timeout_s;        /* idle connection timeout, default 30 */
    bool cookies;              /* allow anpi_http_set_cookie (the admin console); default off */
    /* When set, a request from a peer for which allow() is false gets 403
     * and the connection is closed, before any route runs. */
    bool (*allow)(const char *peer, void *arg);
    void *allow_arg;
};

/* Request line plus header block cap (MHD's per-connection memory pool). */
#define ANPI_HTTP_HEADER_MAX (32 * 1024)

/* NULL on failure with the reason in err ("listen 127.0.0.1:80: Permission denied"). */
struct anpi_http_server *anpi_http_server_create(uv_loop_t *loop, const struct anpi_http_opts *o,
                                                 char *err, size_t errlen);
int anpi_http_server_port(const struct anpi_http_server *s);     /* the bound port */

/* Routes: pattern segments "{name}" capture one (non-empty) path segment.
 * First match wins.  A path that matches no route -> 404 JSON; a path
 * matching with another method -> 405 (with Allow).  HEAD is served by GET
 * routes.  ANPI_EPARSE for a malformed pattern. */
int anpi_http_route(struct anpi_http_server *s, const char *method, const char *pattern,
                    anpi_http_handler h, void *ctx);

/* Stops listening, answers suspended requests with 503, closes every
 * connection and calls closed(arg) once all loop handles are closed.
 * Requests still held by handlers become "gone". */
void anpi_http_server_close(struct anpi_http_server *s, void (*closed)(void *), void *arg);

/* Request accessors (valid until the response is sent).  The handler is
 * called once, after the whole body arrived.  If it returns without
 * responding, the connection is suspended until one of the respond calls is
 * made (from any later loop callback).  Query and header lookups return NULL
 * once the client has gone away. */
const char *anpi_http_method(const struct anpi_http_req *r);
const char *anpi_http_path(const struct anpi_http_req *r);
const char *anpi_http_param(const struct anpi_http_req *r, const char *name);   /* route capture */
const char *anpi_http_query(const struct anpi_http_req *r, const char *name);   /* ?a=b, decoded */
const char *anpi_http_header(const struct anpi_http_req *r, const char *name);
const char *anpi_http_body(const struct anpi_http_req *r, size_t *len);         /* NUL-terminated */
const char *anpi_http_peer(const struct anpi_http_req *r);                      /* "127.0.0.1" */
/* Adds (or replaces a default) response header.  Set-Cookie and values with
 * CR/LF are refused (logged, ignored). */
void anpi_http_set_header(struct anpi_http_req *r, const char *name, const char *value);
/* Set-Cookie name=value; Path=/; Max-Age; HttpOnly; Secure; SameSite=Strict.
 * Only on a server created with opts.cookies; name and value must be
 * base64url/token characters (refused and logged otherwise). */
void anpi_http_set_cookie(struct anpi_http_req *r, const char *name, const char *value, long long max_age_s);
/* One pointer the application attaches to a request (the signed-in
 * account); user_free runs when the request is freed. */
void anpi_http_req_set_user(struct anpi_http_req *r, void *user, void (*user_free)(void *));
void *anpi_http_req_user(const struct anpi_http_req *r);
void anpi_http_respond(struct anpi_http_req *r, unsigned status, const char *content_type,
                       const char *body, size_t len);                           /* copies body */
void anpi_http_respond_json(struct anpi_http_req *r, unsigned status, json_t *j);  /* steals j */
/* {"error": "<message>"} with the status */
void anpi_http_respond_error(struct anpi_http_req *r, unsigned status, const char *fmt, ...)
    ANPI_PRINTF(3, 4);
/* true once the client has gone away (respond is then a no-op that just frees) */
bool anpi_http_req_gone(const struct anpi_http_req *r);

#endif
