/* api.h - shared helpers of the endpoint handlers (admin JSON API and the
 * public pages).  Internal to admin-api/endpoints/. */
#ifndef ANPI_ENDPOINTS_API_H
#define ANPI_ENDPOINTS_API_H

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

int anpi_api_admin_routes(struct anpi_engine *e, struct anpi_http_server *s);
int anpi_api_public_routes(struct anpi_engine *e, struct anpi_http_server *s);

#endif
