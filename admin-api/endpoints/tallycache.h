/* tallycache.h - the per-group tally of a broadcast (GET
 * /api/v1/broadcasts/{id}/groups), computed once per broadcast per second
 * and shared by every caller of this process: the API, the console's tally
 * page, and engine/inbound.c (mail replies invalidate it); see tallycache.c
 * for the design. */
#ifndef ANPI_ENDPOINTS_TALLYCACHE_H
#define ANPI_ENDPOINTS_TALLYCACHE_H

#include <stdbool.h>

#include "admin-api/http.h"
#include "engine/engine.h"

struct api_who;

#define TALLY_CACHE_MS   1000  /* a whole-tree tally is served for at most this long... */
#define TALLY_STALE_MS   3000  /* ...or this long while its next count is under way */
#define TALLY_REFRESH_MS  500  /* a tally served older than this is counted again meanwhile */
#define TALLY_CACHE_MAX    64  /* broadcasts kept; the least recently used goes first */
#define SCOPE_REFRESH_MS 5000  /* a group admin's set of groups is asked for again after this... */
#define SCOPE_STALE_MS  60000  /* ...and served meanwhile up to this age while changes are notified */
#define SCOPE_CACHE_MAX  4096  /* accounts kept */

/* Answer the tally of broadcast bid for the caller of req (already through
 * the gate) from the cache: the whole tree for the roles that see
 * everything, the rows of its groups for a group admin.  Returns false,
 * having answered nothing, for a caller it does not serve (hr, or a cache
 * full of tallies still loading): the handler then asks SQL itself. */
bool anpi_tally_serve(struct anpi_engine *e, struct anpi_http_req *req, long long bid);

/* The same for code that renders the tally itself (the console's page):
 * cb gets 200 and the JSON text (valid during the call), or 404 (no such
 * broadcast, or none of it in the caller's scope) or 503 with a message.
 * It may be called before this returns.  Returns false, having done
 * nothing, for a caller the cache does not serve (hr): ask SQL. */
typedef void (*anpi_tally_cb)(void *arg, unsigned status, const char *text, size_t len);
bool anpi_tally_fetch(struct anpi_engine *e, const struct api_who *who, long long bid, anpi_tally_cb cb,
                      void *arg);

/* This process stored an answer to broadcast bid: drop its
 * cached tally so the next request counts again (a load under way when
 * this is called is not kept for later requests either).  During a burst
 * of answers (another one within TALLY_REFRESH_MS) the count is not
 * dropped but counted again at once, and served meanwhile: see
 * tallycache.c. */
void anpi_tally_invalidate(long long bid);

/* Account acc's credentials or groups changed (gate.c, on a notification
 * from the database): forget its cached set of groups so the next request
 * asks again.  acc < 0 forgets every account's. */
void anpi_tally_forget_account(long long acc);

#endif
