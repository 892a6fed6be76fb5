/* passchange.h - setting a new password: the one chain shared by the JSON
 * API (own change, admin reset, account create; endpoints/accounts.c) and
 * the console's password form (endpoints/console.c).
 *
 * The steps, each asynchronous:
 *   1. (own change) the current password re-confirmed through the
 *      throttled, audited sign-in check (api_signin_password, signin.h);
 *   2. (history) the account's previous hashes read (anpi_account_hashes,
 *      schema 0020); no such login is a 404;
 *   3. the policy of the configuration checked against the login and those
 *      hashes, on the thread pool (anpi_password_policy_async);
 *   4. argon2id on the thread pool (anpi_password_hash_async);
 *   5. the one write, through api_query (caller as $1), with the new hash
 *      in the parameter the caller named.
 * Every copy of a password (and of the write's parameters, which may hold a
 * TOTP secret) is wiped before it is freed.  Internal to
 * admin-api/endpoints/. */
#ifndef ANPI_ENDPOINTS_PASSCHANGE_H
#define ANPI_ENDPOINTS_PASSCHANGE_H

#include <stdbool.h>

#include <libpq-fe.h>

#include "admin-api/http.h"
#include "engine/engine.h"

struct api_passchange {
    const char *login;           /* whose password: the policy refuses one containing it */
    const char *password;        /* the new password */
    const char *current;         /* non-NULL: re-confirm this password of login first... */
    const char *via;             /* ...audited under this door name ("password", "console-password")... */
    long long account;           /* ...and it must belong to this accounts.id */
    bool history;                /* compare with login's previous hashes (and 404 an unknown login) */
    const char *sql;             /* the write: one 0020 function answering {"status", "body"|"error"} as text */
    int nparams;                 /* params of sql after the caller's $1 (at most API_QUERY_MAX_PARAMS) */
    const char *const *params;   /* copied; params[hash_param] is replaced by the new hash */
    int hash_param;
};

struct api_passchange_result {
    unsigned status;             /* HTTP status: the write's own "status" when it ran, else the
                                  * refusal's: 400 (too long, the policy), 403 (wrong current
                                  * password), 404 (no such login), 429 (throttled: Retry-After is
                                  * already set on the request), 500, 503 */
    const char *msg;             /* the reason when status is not 2xx (Japanese then English where
                                  * the text is ours); NULL otherwise */
    const PGresult *res;         /* the write's result when it ran, else NULL */
};

/* Valid only during the call; r->msg and r->res too. */
typedef void (*api_passchange_cb)(const struct api_passchange_result *r, void *arg);

/* Run the chain for req (the gate's caller is $1 of the write).  The
 * strings of *pc are copied.  cb runs exactly once, on the loop thread,
 * possibly before this returns (a refusal found at once). */
void api_passchange(struct anpi_engine *e, struct anpi_http_req *req, const struct api_passchange *pc,
                    api_passchange_cb cb, void *arg);

/* The caller's own change (both doors): current re-confirmed under via,
 * history checked, anpi_account_change_password written keeping the
 * console session in use (other sessions end).  The caller must be an
 * account (api_who(req)->id > 0), else cb gets a 400. */
void api_passchange_own(struct anpi_engine *e, struct anpi_http_req *req, const char *current,
                        const char *password, const char *via, api_passchange_cb cb, void *arg);

#endif
