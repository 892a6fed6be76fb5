/* api.h - shared helpers of the endpoint handlers (admin JSON API and the
 * public pages).  Internal to admin-api/endpoints/. */
#ifndef ANPI_ENDPOINTS_API_H
#define ANPI_ENDPOINTS_API_H

#include <stdbool.h>
#include <string.h>

#include <openssl/crypto.h>

#include "admin-api/http.h"
#include "engine/engine.h"

/* A request waiting on the database. */
struct api_call {
    struct anpi_engine *e;
    struct anpi_http_req *req;
    long long id;
    char decision[16];
    char *notice;
};

struct api_call *api_call_new(struct anpi_engine *e, struct anpi_http_req *req);
void api_call_free(struct api_call *c);

/* Parse a positive decimal id from a route capture; 0 if malformed. */
long long api_id(const char *s);

/* The admin bearer-token check (constant-time compare); answers 401 itself
 * and returns false when the token is missing or wrong. */
static inline bool
api_authorized(struct anpi_engine *e, struct anpi_http_req *req)
{
    const char *h = anpi_http_header(req, "Authorization");
    const char *tok = e->cfg->api_token;
    size_t tl = strlen(tok);
    if (h && strncmp(h, "Bearer ", 7) == 0 && strlen(h + 7) == tl && CRYPTO_memcmp(h + 7, tok, tl) == 0)
        return true;
    anpi_http_set_header(req, "WWW-Authenticate", "Bearer realm=\"anpi\"");
    anpi_http_respond_error(req, 401, "missing or wrong bearer token");
    return false;
}

int anpi_api_admin_routes(struct anpi_engine *e, struct anpi_http_server *s);
int anpi_api_public_routes(struct anpi_engine *e, struct anpi_http_server *s);
/* GET /api/v1/audit/verify and /api/v1/audit/export (endpoints/audit.c) */
int anpi_api_audit_routes(struct anpi_engine *e, struct anpi_http_server *s);
/* groups, people lists, one person, export, registration status (endpoints/directory.c) */
int anpi_api_directory_routes(struct anpi_engine *e, struct anpi_http_server *s);
/* manual broadcasts, resend, history, per-group tally, write-back (endpoints/broadcasts.c) */
int anpi_api_broadcasts_routes(struct anpi_engine *e, struct anpi_http_server *s);
/* POST /api/v1/directory/sync: run the directory sync now (endpoints/dirsync.c) */
int anpi_api_dirsync_routes(struct anpi_engine *e, struct anpi_http_server *s);

#endif
