/* tallycache.h - the per-group tally of a broadcast (GET
 * /api/v1/broadcasts/{id}/groups), computed once per broadcast per second
 * and shared by every caller of this process.  Used by the endpoints and by
 * engine/inbound.c (mail replies); see tallycache.c for the design. */
#ifndef ANPI_ENDPOINTS_TALLYCACHE_H
#define ANPI_ENDPOINTS_TALLYCACHE_H

#include <stdbool.h>

#include "admin-api/http.h"
#include "engine/engine.h"

#define TALLY_CACHE_MS  1000   /* a whole-tree tally is served for at most this long */
#define TALLY_REFRESH_MS 500   /* a tally served older than this is counted again meanwhile */
#define TALLY_CACHE_MAX 64     /* broadcasts kept; the least recently used goes first */
#define SCOPE_CACHE_MS  5000   /* a group admin's set of groups is reused for this long */
#define SCOPE_CACHE_MAX 4096   /* accounts kept */

/* Answer the tally of broadcast bid for the caller of req (already through
 * the gate) from the cache: the whole tree for the roles that see
 * everything, the rows of its groups for a group admin.  Returns false,
 * having answered nothing, for a caller it does not serve (hr, or a cache
 * full of tallies still loading): the handler then asks SQL itself. */
bool anpi_tally_serve(struct anpi_engine *e, struct anpi_http_req *req, long long bid);

/* This process stored an answer to (or resent) broadcast bid: drop its
 * cached tally so the next request counts again.  A load under way when
 * this is called is not kept for later requests either. */
void anpi_tally_invalidate(long long bid);

#endif
