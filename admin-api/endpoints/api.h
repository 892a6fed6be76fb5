/* api.h - shared helpers of the endpoint handlers (admin JSON API and the
 * public pages).  Internal to admin-api/endpoints/. */
#ifndef ANPI_ENDPOINTS_API_H
#define ANPI_ENDPOINTS_API_H

#include <stdbool.h>
#include <string.h>

#include <openssl/crypto.h>

#include "engine/db.h"

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

/* Relay the JSON text of row 0, column 0 (200); NULL -> 404 with c->notice;
 * a people read (c->decision names it, column 1 counts its rows) is noted
 * for the unusual-access warnings.  Frees c. */
void api_json_cb(void *arg, const PGresult *res, const char *err);

/* Parse a positive decimal id from a route capture; 0 if malformed. */
long long api_id(const char *s);

/* --- who is calling (gate.c) ------------------------------------------------ */

enum api_role {
    API_ROLE_SYSTEM_ADMIN,
    API_ROLE_DUTY_OFFICER,
    API_ROLE_GROUP_ADMIN,
    API_ROLE_HR,
    API_ROLE_VIEWER,
    API_ROLE_COUNT
};

/* What a route needs.  The roles holding each are one table in gate.c. */
enum api_perm {
    API_OPEN,              /* no sign-in (health, metrics, token issue) */
    API_SELF,              /* any signed-in account, about itself */
    API_INCIDENTS_READ,
    API_APPROVE,
    API_BROADCASTS_READ,   /* scoped: group admins see their people, hr HR mail */
    API_BROADCAST_SEND,
    API_DIRECTORY_READ,    /* scoped */
    API_DIRECTORY_EXPORT,  /* scoped */
    API_DIRECTORY_WRITE,
    API_FEEDS_READ,
    API_FEEDS_PUSH,
    API_TRAVELLERS,
    API_AUDIT,
    API_ACCOUNTS,
    API_PERM_COUNT
};

#define API_SESSION_COOKIE "anpi_session"

struct api_who {
    long long id;              /* accounts.id; 0 = the configuration's bootstrap token */
    char login[72];
    enum api_role role;
    unsigned scopes;           /* enum anpi_scope mask */
    bool must_change;
    char via;                  /* 'c' config token, 't' API token, 's' console session */
    long long credential;      /* api_tokens.id or sessions.id */
    char csrf[72];             /* the session's CSRF token ('s' only) */
};

/* Register a route behind the gate: the caller is resolved and checked
 * against perm before h runs; h then finds the caller with api_who(). */
int api_route(struct anpi_engine *e, struct anpi_http_server *s, const char *method, const char *pattern,
              enum api_perm perm, anpi_http_handler h);
const struct api_who *api_who(const struct anpi_http_req *req);
/* The caller's login for created_by / audit columns ("api" for the bootstrap token). */
const char *api_actor(const struct anpi_http_req *req);
const char *api_role_name(enum api_role r);
int api_role_parse(const char *s, enum api_role *out);
bool api_role_may(enum api_role r, enum api_perm p);
/* True while this process hears the database's notifications of credential
 * and group changes (gate.c): caches may then rely on being told.  It first
 * handles the notifications already received, which may forget cached
 * entries: call it before looking an entry up, not while holding one. */
bool api_changes_notified(struct anpi_engine *e);

/* Every scoped data query goes through here: the caller's account id is
 * passed as $1 (the SQL function filters through anpi_scope_*), params
 * follow as $2.. */
#define API_QUERY_MAX_PARAMS 15
void api_query(struct api_call *c, const char *sql, int n, const char *const *params, anpi_db_cb cb);

/* GET /api/v1/routes (gate.c) */
int anpi_api_gate_routes(struct anpi_engine *e, struct anpi_http_server *s);
int anpi_api_admin_routes(struct anpi_engine *e, struct anpi_http_server *s);
int anpi_api_public_routes(struct anpi_engine *e, struct anpi_http_server *s);
/* GET /api/v1/audit/verify and /api/v1/audit/export (endpoints/audit.c) */
int anpi_api_audit_routes(struct anpi_engine *e, struct anpi_http_server *s);
/* groups, people lists, one person, export, registration status (endpoints/directory.c) */
int anpi_api_directory_routes(struct anpi_engine *e, struct anpi_http_server *s);
/* manual broadcasts, resend, history, per-group tally, write-back (endpoints/broadcasts.c) */
int anpi_api_broadcasts_routes(struct anpi_engine *e, struct anpi_http_server *s);
/* accounts, tokens, one's own password and TOTP (endpoints/accounts.c) */
int anpi_api_accounts_routes(struct anpi_engine *e, struct anpi_http_server *s);
/* the console's HTML pages: sign-in, password change, tallies (endpoints/console.c) */
int anpi_api_console_routes(struct anpi_engine *e, struct anpi_http_server *s);
/* escalation settings and records of a broadcast (endpoints/escalation.c) */
int anpi_api_escalation_routes(struct anpi_engine *e, struct anpi_http_server *s);
/* POST /api/v1/directory/sync: run the directory sync now (endpoints/dirsync.c) */
int anpi_api_dirsync_routes(struct anpi_engine *e, struct anpi_http_server *s);

#endif
