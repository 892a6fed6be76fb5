/* signin.h - checking a login, password and TOTP code: the one sign-in path
 * shared by POST /api/v1/tokens and the console's login form.
 *
 * The check is asynchronous: the throttle state of the account and of the
 * source address is read, the password verified on the libuv thread pool
 * (argon2id; an unknown login is verified against a dummy hash so it takes
 * as long), the TOTP code checked for accounts that have a secret (every
 * system admin has one), and the outcome recorded: the throttle updated and
 * an audit entry written (auth.success / auth.failure with the reason and
 * the peer).  Internal to admin-api/endpoints/. */
#ifndef ANPI_ENDPOINTS_SIGNIN_H
#define ANPI_ENDPOINTS_SIGNIN_H

#include <stdbool.h>

#include "engine/engine.h"

struct api_signin_result {
    unsigned status;          /* 0 = signed in; else the HTTP status to answer: 400 (malformed,
                               * e.g. a 10 KB password), 401 (wrong login, password or code; the
                               * message never says which), 403 (right password, but a system
                               * admin without a TOTP secret), 429 (locked out), 503 (database) */
    char msg[256];            /* the reason to show (Japanese then English) */
    long long retry_after;    /* seconds, for 429 */
    long long account;        /* accounts.id when signed in */
    char login[72];
    char role[32];
    bool must_change;         /* an initial password: change it before anything else */
    bool remind;              /* older than accounts.password_remind_after */
};

typedef void (*api_signin_cb)(const struct api_signin_result *r, void *arg);

/* via names the door in the audit entry: "token" or "console".  The
 * strings are copied; cb runs exactly once, on the loop thread. */
void api_signin(struct anpi_engine *e, const char *login, const char *password, const char *totp,
                const char *peer, const char *via, api_signin_cb cb, void *arg);

/* The same check without the TOTP step, for re-confirming the password of
 * an account already signed in (own password change, TOTP enrolment):
 * throttled, audited (auth.success / auth.failure) and timed the same way. */
void api_signin_password(struct anpi_engine *e, const char *login, const char *password,
                         const char *peer, const char *via, api_signin_cb cb, void *arg);

#endif
