/* gate.c - who is calling and what they may do: the one door every admin
 * API route goes through.
 *
 * Routes are registered with api_route(), which records the permission the
 * route needs in a table (listed by GET /api/v1/routes, which the role
 * tests walk so no route escapes them) and installs gate() in front of the
 * handler.  gate() finds the caller:
 *
 *   Authorization: Bearer <api.token>    the configuration's bootstrap
 *                                        token: account 0, system-admin
 *   Authorization: Bearer anpi_...       an API token (api_tokens, hashed)
 *   Cookie: anpi_session=anpi_...        a console session (sessions, hashed);
 *                                        a state-changing request must also
 *                                        carry X-CSRF-Token, or the field
 *                                        csrf in an urlencoded form body
 *
 * resolves it with one query (anpi_principal), checks the role against the
 * route's permission and the token's scopes, and only then runs the
 * handler, with the caller attached to the request (api_who()).  Data scope
 * (what a group admin sees) is not decided here: every data query runs
 * through api_query(), which passes the caller's account as $1 to a SQL
 * function that filters through anpi_scope_* (engine/schema/0014).
 *
 * Resolved credentials are cached (CRED_CACHE_MS, CRED_CACHE_MAX): with
 * hundreds of callers polling, one principal query per request was most of
 * the tally page's latency (docs/benchmarks.md).  The cache stays exact:
 *
 *   - only found credentials are kept (an unknown one always asks the
 *     database), each with the deadlines the database computed for it (a
 *     token's expiry, a session's idle and absolute limits), checked on
 *     every hit: past one, the request asks the database again;
 *   - an entry older than CRED_REFRESH_MS is asked for again in the
 *     background while it is still served (the answer replaces or drops
 *     it), so a busy caller never waits for the database once known: with
 *     a hard expiry, every caller's credential ran out at the same moment
 *     and each of those requests queued behind the other database work
 *     (docs/benchmarks.md, the closed-loop tally);
 *   - the database notifies the channel anpi_credentials (engine/schema/
 *     0030) whenever an account is disabled, changes role, login or
 *     password, a token or a session is revoked, or its groups change;
 *     every node listens (engine/db.c anpi_db_listen) and drops that
 *     account's entries (and its group set in tallycache.c) at once;
 *   - while that LISTEN connection is not up, nothing is cached or served
 *     from the cache (a lost or new connection drops everything), and an
 *     answer to a query sent before a notification is not kept;
 *   - the CSRF check and the role and scope checks run on every request.
 *
 * The console's pages (/console/...) get their refusals as HTML pages
 * instead of JSON, and a visitor with no credential at all is sent to the
 * sign-in form (303) instead of getting a 401. */
#include "admin-api/endpoints/api.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "admin-api/body.h"
#include "admin-api/console_html.h"
#include "admin-api/endpoints/tallycache.h"
#include "engine/auth/apitoken.h"
#include "engine/log.h"

static const char *const ROLE_NAMES[API_ROLE_COUNT] = {
    [API_ROLE_SYSTEM_ADMIN] = "system-admin",
    [API_ROLE_DUTY_OFFICER] = "duty-officer",
    [API_ROLE_GROUP_ADMIN] = "group-admin",
    [API_ROLE_HR] = "hr",
    [API_ROLE_VIEWER] = "viewer",
};

#define R(x) (1u << API_ROLE_##x)
#define ALL_ROLES (R(SYSTEM_ADMIN) | R(DUTY_OFFICER) | R(GROUP_ADMIN) | R(HR) | R(VIEWER))

/* What each permission needs: the roles that hold it and the token scope
 * (engine/auth/apitoken.h) a token must carry.  This table is the whole
 * role model; docs/admin.md shows it as a matrix. */
static const struct perm_def {
    const char *name;
    unsigned roles;
    unsigned scope;
} PERMS[API_PERM_COUNT] = {
    [API_OPEN]             = { "open", 0, 0 },
    [API_SELF]             = { "self", ALL_ROLES, 0 },
    [API_INCIDENTS_READ]   = { "incidents.read", R(SYSTEM_ADMIN) | R(DUTY_OFFICER) | R(VIEWER), ANPI_SCOPE_READ },
    [API_APPROVE]          = { "incidents.approve", R(SYSTEM_ADMIN) | R(DUTY_OFFICER), ANPI_SCOPE_APPROVE },
    [API_BROADCASTS_READ]  = { "broadcasts.read", ALL_ROLES, ANPI_SCOPE_READ },
    [API_BROADCAST_SEND]   = { "broadcasts.send", R(SYSTEM_ADMIN) | R(DUTY_OFFICER) | R(GROUP_ADMIN),
                               ANPI_SCOPE_BROADCAST },
    [API_DIRECTORY_READ]   = { "directory.read", R(SYSTEM_ADMIN) | R(DUTY_OFFICER) | R(GROUP_ADMIN) | R(VIEWER),
                               ANPI_SCOPE_READ },
    [API_DIRECTORY_EXPORT] = { "directory.export", R(SYSTEM_ADMIN) | R(GROUP_ADMIN), ANPI_SCOPE_DIRECTORY },
    [API_DIRECTORY_WRITE]  = { "directory.write", R(SYSTEM_ADMIN), ANPI_SCOPE_DIRECTORY },
    [API_FEEDS_READ]       = { "feeds.read", R(SYSTEM_ADMIN) | R(DUTY_OFFICER) | R(VIEWER), ANPI_SCOPE_READ },
    [API_FEEDS_PUSH]       = { "feeds.push", R(SYSTEM_ADMIN), ANPI_SCOPE_ADMIN },
    [API_TRAVELLERS]       = { "travellers.check", R(SYSTEM_ADMIN) | R(DUTY_OFFICER), ANPI_SCOPE_BROADCAST },
    [API_AUDIT]            = { "audit", R(SYSTEM_ADMIN), ANPI_SCOPE_ADMIN },
    [API_ACCOUNTS]         = { "accounts", R(SYSTEM_ADMIN), ANPI_SCOPE_ADMIN },
};

/* The route table, for GET /api/v1/routes (one admin listener per process). */
struct gate_route {
    struct anpi_engine *e;
    enum api_perm perm;
    anpi_http_handler h;
    char *method, *pattern;
    struct gate_route *next;
};
/* Lives as long as the process: the admin listener is made once. */
static struct gate_route *routes, **routes_tail = &routes;

const char *
api_role_name(enum api_role r)
{
    return (unsigned)r < API_ROLE_COUNT ? ROLE_NAMES[r] : "?";
}

int
api_role_parse(const char *s, enum api_role *out)
{
    for (unsigned i = 0; s && i < API_ROLE_COUNT; i++)
        if (strcmp(s, ROLE_NAMES[i]) == 0) {
            *out = (enum api_role)i;
            return ANPI_OK;
        }
    return ANPI_EPARSE;
}

bool
api_role_may(enum api_role r, enum api_perm p)
{
    return (unsigned)p < API_PERM_COUNT && (unsigned)r < API_ROLE_COUNT && (PERMS[p].roles & (1u << r));
}

const struct api_who *
api_who(const struct anpi_http_req *req)
{
    return anpi_http_req_user(req);
}

const char *
api_actor(const struct anpi_http_req *req)
{
    const struct api_who *w = api_who(req);
    return w ? w->login : "api";
}

/* --- credentials ----------------------------------------------------------- */

static bool
is_console(const struct gate_route *rt)
{
    return strncmp(rt->pattern, "/console/", 9) == 0;
}

/* Refuse: JSON {"error"} for the API, an HTML page for the console (with a
 * way back to the sign-in form when the caller is not signed in). */
static void ANPI_PRINTF(4, 5)
refuse(const struct gate_route *rt, struct anpi_http_req *req, unsigned status, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (!is_console(rt)) {
        anpi_http_respond_error(req, status, "%s", msg);
        return;
    }
    const char *title = status == 401 ? "サインインしてください" : status == 403 ? "この操作はできません"
                                                                : "一時的に利用できません";
    anpi_console_respond(req, status,
                         anpi_console_message_page(NULL, title, msg, status == 401 ? "/console/login" : "/console/",
                                                   status == 401 ? "サインイン画面へ" : "ホームへ"));
}

struct gate_call {
    struct gate_route *rt;
    struct anpi_http_req *req;   /* NULL: a background refresh of a cached entry */
    bool session;
    bool cacheable;          /* the LISTEN was up when the query was sent */
    unsigned long gen;       /* cred_gen then */
    uint64_t sent_ms;
    char hash[ANPI_APITOKEN_HASH_HEX + 1];
};

/* --- the credential cache -------------------------------------------------- */

#define CRED_CHANNEL   "anpi_credentials"
#define CRED_CACHE_MS   60000  /* a resolved credential is reused for at most this long */
#define CRED_REFRESH_MS  5000  /* one older than this is asked for again in the background */
#define CRED_CACHE_MAX 4096   /* credentials kept; the oldest goes first */

struct cred {
    bool used, session;
    uint64_t key;            /* the hash's first 16 hex digits, to skip most entries fast */
    char hash[ANPI_APITOKEN_HASH_HEX + 1];
    struct api_who who;
    uint64_t fetched_ms;     /* when its query was sent */
    uint64_t until_ms;       /* the earliest of CRED_CACHE_MS and the database's deadlines */
    bool refreshing;         /* a background query for it is under way */
};

/* One admin listener per process, like the route table. */
static struct cred creds[CRED_CACHE_MAX];
/* Bumped by every notification: an answer to a query sent before one may
 * predate the change, so it is used for its request but not kept. */
static unsigned long cred_gen;

static uint64_t
now_ms(void)
{
    return uv_hrtime() / 1000000u;
}

static uint64_t
hash_key(const char *hash)
{
    uint64_t k = 0;
    for (int i = 0; i < 16 && hash[i]; i++)
        k = k << 4 | (uint64_t)(hash[i] <= '9' ? hash[i] - '0' : (hash[i] | 0x20) - 'a' + 10);
    return k;
}

static struct cred *
cred_find(const char *hash, bool session)
{
    uint64_t k = hash_key(hash);
    for (size_t i = 0; i < CRED_CACHE_MAX; i++) {
        struct cred *c = &creds[i];
        if (c->used && c->key == k && c->session == session && strcmp(c->hash, hash) == 0)
            return c;
    }
    return NULL;
}

/* Keep w for hash: a free slot, or the oldest entry. */
static void
cred_store(const char *hash, bool session, const struct api_who *w, uint64_t fetched_ms, uint64_t until_ms)
{
    struct cred *c = cred_find(hash, session);
    for (size_t i = 0; !c && i < CRED_CACHE_MAX; i++)
        if (!creds[i].used)
            c = &creds[i];
    for (size_t i = 0; !c && i < CRED_CACHE_MAX; i++)
        if (i == 0 || creds[i].fetched_ms < c->fetched_ms)
            c = &creds[i];
    memset(c, 0, sizeof(*c));
    c->used = true;
    c->session = session;
    c->key = hash_key(hash);
    snprintf(c->hash, sizeof(c->hash), "%s", hash);
    c->who = *w;
    c->fetched_ms = fetched_ms;
    c->until_ms = until_ms;
}

/* A notification on anpi_credentials: payload = an account id, "groups"
 * = the group tree changed, NULL = the connection (re)started or broke, so
 * anything may have changed. */
static void
cred_notified(const char *payload, void *arg)
{
    (void)arg;
    if (payload && strcmp(payload, "groups") == 0) {
        /* the group tree changed: every group admin's set of groups may
         * have (a subtree moved, a group added or removed) */
        anpi_tally_forget_account(-1);
        return;
    }
    cred_gen++;
    int64_t acc = -1;
    if (payload && anpi_parse_int64(payload, 0, INT64_MAX, &acc) != ANPI_OK) {
        anpi_warn(ANPI_LG_API, "unexpected payload on %s: forgetting every cached credential", CRED_CHANNEL);
        acc = -1;
    }
    for (size_t i = 0; i < CRED_CACHE_MAX; i++)
        if (creds[i].used && (acc < 0 || creds[i].who.id == (long long)acc))
            memset(&creds[i], 0, sizeof(creds[i]));
    anpi_tally_forget_account((long long)acc);
}

bool
api_changes_notified(struct anpi_engine *e)
{
    return anpi_db_listening(e->db, CRED_CHANNEL);
}

static bool
is_safe_method(const char *m)
{
    return strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0;
}

/* The caller is known: check the permission, attach, run the handler. */
static void
admit(struct gate_route *rt, struct anpi_http_req *req, struct api_who *w)
{
    const struct perm_def *pd = &PERMS[rt->perm];
    if (rt->perm != API_SELF && !(pd->roles & (1u << w->role))) {
        refuse(rt, req, 403, "the %s role may not do this (%s %s needs %s)", api_role_name(w->role), rt->method,
               rt->pattern, pd->name);
        free(w);
        return;
    }
    if (!anpi_scopes_allow(w->scopes, pd->scope)) {
        char sc[64] = "";
        anpi_scopes_format(pd->scope, sc, sizeof(sc));
        refuse(rt, req, 403, "this token lacks the \"%s\" scope", sc);
        free(w);
        return;
    }
    /* An account still on the initial password an admin set may only
     * change it (and read or revoke its own credentials), by session or by
     * token alike: a token taken with that password must not outlive the
     * forced change.  Accounts made for automation are created with
     * "must_change": false (docs/admin.md). */
    if (w->must_change && rt->perm != API_SELF) {
        if (is_console(rt) && is_safe_method(anpi_http_method(req))) {
            anpi_console_redirect(req, "/console/password");
            free(w);
            return;
        }
        refuse(rt, req, 403,
               "change the initial password first (POST /api/v1/account/password or /console/password)");
        free(w);
        return;
    }
    anpi_http_req_set_user(req, w, free);
    rt->h(req, rt->e);
}

/* A state-changing session request must prove it comes from our own page:
 * the session's CSRF token in X-CSRF-Token (scripts) or in the field csrf
 * of an urlencoded form (the console's forms). */
/* NULL when a state-changing session request carries the session's CSRF
 * token (X-CSRF-Token, or the urlencoded form field csrf), else why not. */
static const char *
csrf_problem(const struct anpi_http_req *req, const char *csrf, char *why, size_t whylen)
{
    static const char wrong[] = "missing or wrong CSRF token for this session (X-CSRF-Token or the form "
                                "field csrf): reload the page and try again";
    size_t cl = strlen(csrf);
    const char *h = anpi_http_header(req, "X-CSRF-Token");
    if (h)
        return cl > 0 && strlen(h) == cl && CRYPTO_memcmp(h, csrf, cl) == 0 ? NULL : wrong;
    const char *ct = anpi_http_header(req, "Content-Type");
    if (!ct || strncasecmp(ct, "application/x-www-form-urlencoded", 33) != 0)
        return wrong;
    size_t len = 0;
    const char *body = anpi_http_body(req, &len);
    struct anpi_form f = { 0 };
    char err[128];
    if (anpi_form_parse(body ? body : "", len, &f, err, sizeof(err)) != ANPI_OK) {
        snprintf(why, whylen, "the form could not be read (%s), so its CSRF token could not be checked", err);
        return why;
    }
    const char *v = anpi_form_get(&f, "csrf");
    bool ok = cl > 0 && v && strlen(v) == cl && CRYPTO_memcmp(v, csrf, cl) == 0;
    anpi_form_free(&f);
    return ok ? NULL : wrong;
}

/* The credential is valid: the CSRF check for a state-changing session
 * request, then the permission. */
static void
pass(struct gate_route *rt, struct anpi_http_req *req, struct api_who *w, bool session)
{
    if (session && !is_safe_method(anpi_http_method(req))) {
        char why[256];
        const char *problem = csrf_problem(req, w->csrf, why, sizeof(why));
        if (problem) {
            refuse(rt, req, 403, "%s", problem);
            free(w);
            return;
        }
    }
    admit(rt, req, w);
}

/* The caller in the one row of anpi_principal(); NULL (why set) when the
 * row does not parse.  Account 0 is the bootstrap token: a row that does
 * not parse must never fall back to it. */
static struct api_who *
who_from_row(const PGresult *res, bool session, char *why, size_t whylen)
{
    struct api_who *w = anpi_xcalloc(1, sizeof(*w));
    int64_t id = 0, scopes = 0, cred = 0;
    if (anpi_parse_int64(PQgetvalue(res, 0, 0), 1, INT64_MAX, &id) != ANPI_OK ||
        anpi_parse_int64(PQgetvalue(res, 0, 3), 0, ANPI_SCOPE_ALL, &scopes) != ANPI_OK ||
        anpi_parse_int64(PQgetvalue(res, 0, 7), 1, INT64_MAX, &cred) != ANPI_OK) {
        snprintf(why, whylen, "unexpected principal row from the database");
        free(w);
        return NULL;
    }
    w->id = (long long)id;
    snprintf(w->login, sizeof(w->login), "%s", PQgetvalue(res, 0, 1));
    if (api_role_parse(PQgetvalue(res, 0, 2), &w->role) != ANPI_OK) {
        snprintf(why, whylen, "account %s has an unknown role", w->login);
        free(w);
        return NULL;
    }
    w->scopes = (unsigned)scopes;
    w->must_change = PQgetvalue(res, 0, 4)[0] == 't';
    w->via = session ? 's' : 't';
    w->credential = (long long)cred;
    if (session)
        snprintf(w->csrf, sizeof(w->csrf), "%s", PQgetvalue(res, 0, 6));
    return w;
}

/* Keep the answer to g's query for later requests, if nothing changed since
 * it was sent and the credential stays valid a while (deadlines counted
 * from the query); else forget what was kept.  True when kept. */
static bool
remember(const struct gate_call *g, const PGresult *res, const struct api_who *w)
{
    uint64_t until = g->sent_ms + CRED_CACHE_MS;
    /* listening() first: it may read a notification that bumps cred_gen */
    bool keep = g->cacheable && anpi_db_listening(g->rt->e->db, CRED_CHANNEL) && g->gen == cred_gen;
    for (int col = 8; keep && col <= 9; col++) {
        int64_t left;
        if (PQnfields(res) <= col || PQgetisnull(res, 0, col))
            continue;
        if (anpi_parse_int64(PQgetvalue(res, 0, col), INT64_MIN, INT64_MAX, &left) != ANPI_OK || left <= 0)
            keep = false;
        else if ((uint64_t)left < CRED_CACHE_MS)
            until = g->sent_ms + (uint64_t)left;
    }
    if (keep) {
        cred_store(g->hash, g->session, w, g->sent_ms, until);
    } else {
        struct cred *c = cred_find(g->hash, g->session);
        if (c)
            memset(c, 0, sizeof(*c));
    }
    return keep;
}

/* The answer to a background refresh: the entry is replaced, or dropped
 * when the credential is gone or the answer is not one to keep; after a
 * database error it stays until its own expiry (a later hit tries again). */
static void
refreshed(struct gate_call *g, const PGresult *res, const char *err)
{
    struct cred *c = cred_find(g->hash, g->session);
    if (c)
        c->refreshing = false;
    if (err) {
        anpi_warn(ANPI_LG_API, "refreshing a cached credential: %s", err);
    } else if (PQntuples(res) != 1) {
        if (c)
            memset(c, 0, sizeof(*c));
    } else if (g->gen == cred_gen) {
        /* (after a notification the entry, if it survived it, stays as it
         * is: the next hit asks again) */
        char why[128];
        struct api_who *w = who_from_row(res, g->session, why, sizeof(why));
        if (w)
            remember(g, res, w);
        else if (c)
            memset(c, 0, sizeof(*c));
        free(w);
    }
    free(g);
}

static void
principal_cb(void *arg, const PGresult *res, const char *err)
{
    struct gate_call *g = arg;
    struct anpi_http_req *req = g->req;
    if (!req) {
        refreshed(g, res, err);
        return;
    }
    if (anpi_http_req_gone(req)) {
        anpi_http_respond_error(req, 503, "gone");
        free(g);
        return;
    }
    if (err) {
        refuse(g->rt, req, 503, "database error: %s", err);
        free(g);
        return;
    }
    if (PQntuples(res) != 1) {
        if (g->session) {
            anpi_http_set_cookie(req, API_SESSION_COOKIE, "gone", 0);
            refuse(g->rt, req, 401, "this session is unknown here or has ended (signed out, timed out, or the "
                                    "account disabled): sign in again");
        } else {
            anpi_http_set_header(req, "WWW-Authenticate", "Bearer realm=\"anpi\", error=\"invalid_token\"");
            anpi_http_respond_error(req, 401, "unknown, revoked or expired token, or a disabled account");
        }
        free(g);
        return;
    }
    char why[128];
    struct api_who *w = who_from_row(res, g->session, why, sizeof(why));
    if (!w) {
        refuse(g->rt, req, 503, "%s", why);
        free(g);
        return;
    }
    remember(g, res, w);
    struct gate_route *rt = g->rt;
    bool session = g->session;
    free(g);
    pass(rt, req, w, session);
}

static void ask(struct gate_route *rt, struct anpi_http_req *req, const char *hash, bool session, bool cacheable);

static void
gate(struct anpi_http_req *req, void *ctx)
{
    struct gate_route *rt = ctx;
    struct anpi_engine *e = rt->e;
    if (rt->perm == API_OPEN) {
        rt->h(req, e);
        return;
    }
    const char *h = anpi_http_header(req, "Authorization");
    const char *cookie = anpi_http_header(req, "Cookie");
    char sess[ANPI_APITOKEN_LEN + 8];
    char hash[ANPI_APITOKEN_HASH_HEX + 1];
    bool session = false;
    int crc = ANPI_ENOTFOUND;
    if (h && strncmp(h, "Bearer ", 7) == 0) {
        const char *tok = h + 7, *boot = e->cfg->api_token;
        size_t bl = strlen(boot);
        if (strlen(tok) == bl && CRYPTO_memcmp(tok, boot, bl) == 0) {
            struct api_who *w = anpi_xcalloc(1, sizeof(*w));
            w->id = 0;
            snprintf(w->login, sizeof(w->login), "api");
            w->role = API_ROLE_SYSTEM_ADMIN;
            w->scopes = ANPI_SCOPE_ALL;
            w->via = 'c';
            admit(rt, req, w);
            return;
        }
        if (anpi_apitoken_hash(tok, hash) != ANPI_OK) {
            anpi_http_set_header(req, "WWW-Authenticate", "Bearer realm=\"anpi\", error=\"invalid_token\"");
            anpi_http_respond_error(req, 401, "malformed bearer token");
            return;
        }
    } else if (!h && cookie && (crc = anpi_cookie_find(cookie, API_SESSION_COOKIE, sess, sizeof(sess))) !=
                                   ANPI_ENOTFOUND) {
        if (crc != ANPI_OK || anpi_apitoken_hash(sess, hash) != ANPI_OK) {
            /* A cookie this server never issued (another server's, or forged). */
            anpi_http_set_cookie(req, API_SESSION_COOKIE, "gone", 0);
            refuse(rt, req, 401, "this session cookie was not issued here: sign in again");
            return;
        }
        session = true;
    } else if (!h && is_console(rt)) {
        anpi_console_redirect(req, "/console/login");
        return;
    } else {
        anpi_http_set_header(req, "WWW-Authenticate", "Bearer realm=\"anpi\"");
        anpi_http_respond_error(req, 401, "sign in: a bearer token (POST /api/v1/tokens) or a console session");
        return;
    }
    bool listening = anpi_db_listening(e->db, CRED_CHANNEL);
    uint64_t now = now_ms();
    struct cred *c = listening ? cred_find(hash, session) : NULL;
    if (c && now < c->until_ms) {
        struct api_who *w = anpi_xmalloc(sizeof(*w));
        *w = c->who;
        if (!c->refreshing && now - c->fetched_ms >= CRED_REFRESH_MS) {
            c->refreshing = true;
            ask(rt, NULL, hash, session, true);
        }
        pass(rt, req, w, session);
        return;
    }
    if (c)   /* past a deadline: the database decides (and may say 401) */
        memset(c, 0, sizeof(*c));
    ask(rt, req, hash, session, listening);
}

/* Resolve the credential whose hash is given with anpi_principal(), for req
 * (NULL: to refresh the cached entry). */
static void
ask(struct gate_route *rt, struct anpi_http_req *req, const char *hash, bool session, bool cacheable)
{
    struct anpi_engine *e = rt->e;
    struct gate_call *g = anpi_xcalloc(1, sizeof(*g));
    g->rt = rt;
    g->req = req;
    g->session = session;
    g->cacheable = cacheable;
    g->gen = cred_gen;
    g->sent_ms = now_ms();
    snprintf(g->hash, sizeof(g->hash), "%s", hash);
    char idle[24], abs_s[24];
    snprintf(idle, sizeof(idle), "%lld", (long long)e->cfg->session_idle_s);
    snprintf(abs_s, sizeof(abs_s), "%lld", (long long)e->cfg->session_max_s);
    const char *p[4] = { session ? "session" : "token", hash, idle, abs_s };
    anpi_db_query(e->db,
                  "SELECT account_id, login, role, scopes, must_change, password_changed_at, csrf, credential_id,"
                  " idle_ms, abs_ms"
                  " FROM anpi_principal($1, $2, $3::int, $4::int)",
                  4, p, principal_cb, g);
}

int
api_route(struct anpi_engine *e, struct anpi_http_server *s, const char *method, const char *pattern,
          enum api_perm perm, anpi_http_handler h)
{
    if ((unsigned)perm >= API_PERM_COUNT)
        return ANPI_EPARSE;
    struct gate_route *rt = anpi_xcalloc(1, sizeof(*rt));
    rt->e = e;
    rt->perm = perm;
    rt->h = h;
    rt->method = anpi_xstrdup(method);
    rt->pattern = anpi_xstrdup(pattern);
    int rc = anpi_http_route(s, method, pattern, gate, rt);
    if (rc != ANPI_OK) {
        free(rt->method);
        free(rt->pattern);
        free(rt);
        return rc;
    }
    *routes_tail = rt;
    routes_tail = &rt->next;
    return ANPI_OK;
}

/* GET /api/v1/routes: every admin route with its permission and the roles
 * that hold it. */
static void
h_routes(struct anpi_http_req *req, void *ctx)
{
    (void)ctx;
    json_t *arr = json_array();
    for (const struct gate_route *rt = routes; rt; rt = rt->next) {
        json_t *roles = json_array();
        for (unsigned r = 0; r < API_ROLE_COUNT; r++)
            if (rt->perm == API_OPEN || rt->perm == API_SELF || (PERMS[rt->perm].roles & (1u << r)))
                json_array_append_new(roles, json_string(ROLE_NAMES[r]));
        char sc[64] = "";
        anpi_scopes_format(PERMS[rt->perm].scope, sc, sizeof(sc));
        json_array_append_new(arr, json_pack("{s:s, s:s, s:s, s:o, s:s}", "method", rt->method, "pattern",
                                             rt->pattern, "permission", PERMS[rt->perm].name, "roles", roles,
                                             "scope", sc));
    }
    anpi_http_respond_json(req, 200, json_pack("{s:o}", "routes", arr));
}

int
anpi_api_gate_routes(struct anpi_engine *e, struct anpi_http_server *s)
{
    /* the credential cache works only while this listens (see the top) */
    int rc = anpi_db_listen(e->db, CRED_CHANNEL, cred_notified, NULL);
    if (rc != ANPI_OK) {
        anpi_error(ANPI_LG_API, "cannot listen on %s", CRED_CHANNEL);
        return rc;
    }
    return api_route(e, s, "GET", "/api/v1/routes", API_ACCOUNTS, h_routes);
}

/* --- data queries ---------------------------------------------------------- */

void
api_query(struct api_call *c, const char *sql, int n, const char *const *params, anpi_db_cb cb)
{
    const struct api_who *w = api_who(c->req);
    char id[24];
    /* No caller attached means a route registered without the gate: refuse
     * rather than query unscoped (account -1 sees nothing). */
    snprintf(id, sizeof(id), "%lld", w ? w->id : -1LL);
    const char *p[API_QUERY_MAX_PARAMS + 1];
    if (n > API_QUERY_MAX_PARAMS) {
        cb(c, NULL, "too many query parameters");
        return;
    }
    p[0] = id;
    for (int i = 0; i < n; i++)
        p[i + 1] = params[i];
    anpi_db_query(c->e->db, sql, n + 1, p, cb, c);
}
